package rush

import (
	"context"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/fleet/dynsec"
)

// In a test root the gates share the test login; in the real root, which
// admits only devices' own logins, each gate is provisioned one.
func TestLogins(t *testing.T) {
	mq := testenv.Broker(t)
	testenv.Get(t, "VNPASS_MQTT_ADMIN_USER") // the environment the real root's provisioning reads
	ctx := context.Background()
	site := testenv.Name("s")
	devices := []dynsec.Device{{Site: site, Device: testenv.Name("in")}, {Site: site, Device: testenv.Name("out")}}

	cfg := Config{Topics: mq.Topics, BrokerURL: mq.URL, GateUser: mq.GateUser, GatePass: mq.GatePassword}
	l, done, err := cfg.logins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := l.Logins(ctx, devices)
	done()
	if err != nil || creds[1].Username != mq.GateUser || creds[1].ClientID != "gate-"+devices[1].Device {
		t.Fatalf("test root: %+v %v", creds, err)
	}

	cfg.Topics = proto.Topics{Root: proto.DefaultRoot}
	l, done, err = cfg.logins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin := testenv.Admin(t)
		for _, d := range devices {
			admin.Revoke(context.Background(), d.Device)
		}
	})
	for round := 0; round < 2; round++ { // a second run gives the gates new passwords
		creds, err = l.Logins(ctx, devices)
		if err != nil {
			t.Fatalf("real root, run %d: %v", round+1, err)
		}
		for i, c := range creds {
			if c.Username != devices[i].Device || c.Username == mq.GateUser {
				t.Fatalf("real root: %+v", c)
			}
			cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID(c.ClientID).SetUsername(c.Username).SetPassword(c.Password))
			if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("provisioned login of %s: %v", c.Username, tok.Error())
			}
			cl.Disconnect(50)
		}
	}
	done()
}
