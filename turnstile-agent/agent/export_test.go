package agent

import (
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// SetOpenConn makes a open its network connections with f. Call before Connect.
func SetOpenConn(a *Agent, f mqtt.OpenConnectionFunc) { a.openConn = f }

// SlowAfterDelivery makes onDecision pause after it hands a decision to
// the waiting tap, until the test ends.
func SlowAfterDelivery(t interface{ Cleanup(func()) }, d time.Duration) {
	f := func() { time.Sleep(d) }
	afterDelivery.Store(&f)
	t.Cleanup(func() { afterDelivery.Store(nil) })
}

// Undecided says whether the tap with this event id is still counted as
// waiting for its decision (a backlog that sends the gate offline).
func Undecided(a *Agent, eventID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.st.undecided[eventID]
	return ok
}
