package agent

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyStore is paho's memory store keeping its own copy of each publish.
//
// paho (v1.5.1) runs the OnConnect handler while it resumes the persistent
// session: resume sets the DUP flag on every stored publish and sends it
// again, while the writer may still be sending the same packet object that
// OnConnect just published (our online status). With a copy in the store,
// resume changes the copy, not the packet on its way out: the data race the
// race detector found is gone, and the broker at worst sees the status twice.
type copyStore struct{ *mqtt.MemoryStore }

func newCopyStore() *copyStore { return &copyStore{mqtt.NewMemoryStore()} }

func (s *copyStore) Put(key string, m packets.ControlPacket) {
	if p, ok := m.(*packets.PublishPacket); ok {
		c := *p
		m = &c
	}
	s.MemoryStore.Put(key, m)
}
