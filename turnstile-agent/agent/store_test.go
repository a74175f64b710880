package agent

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func TestCopyStoreKeepsItsOwnPublish(t *testing.T) {
	s := newCopyStore()
	s.Open()
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.Qos, p.TopicName, p.Payload = 1, "t", []byte("x")
	s.Put("o.1", p)
	got := s.Get("o.1").(*packets.PublishPacket)
	got.Dup = true // what paho's resume does
	if p.Dup {
		t.Fatal("the store handed out the packet being sent")
	}
	if got.TopicName != "t" || string(got.Payload) != "x" {
		t.Errorf("copy %+v", got)
	}
}
