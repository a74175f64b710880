package rush

import (
	"context"
	"fmt"
	"os"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/fleet/dynsec"
)

// Logins gives the simulated gates their broker logins, as the operator's
// provisioning gives real gates theirs (deploy/local/devices.sh).
type Logins interface {
	// Logins returns one login per device, in order. Each is bound to the
	// gate agent's client id (dynsec.ClientID).
	Logins(ctx context.Context, devices []dynsec.Device) ([]dynsec.Credentials, error)
}

// Provisioned provisions every gate on the broker's dynamic-security plugin
// with Admin, giving a gate that has a login already a new password. The
// logins stay after the run: the gates are the stations' gates.
type Provisioned struct {
	Admin *dynsec.Admin
}

// Logins provisions the devices in one request.
func (p Provisioned) Logins(ctx context.Context, devices []dynsec.Device) ([]dynsec.Credentials, error) {
	return p.Admin.Provision(ctx, devices, true)
}

// shared is the one login for every gate (GateUser, GatePass).
type shared struct{ user, password string }

func (s shared) Logins(_ context.Context, devices []dynsec.Device) ([]dynsec.Credentials, error) {
	out := make([]dynsec.Credentials, len(devices))
	for i, d := range devices {
		out[i] = dynsec.Credentials{Device: d, Username: s.user, Password: s.password, ClientID: dynsec.ClientID(d.Device)}
	}
	return out, nil
}

// logins chooses how the gates log in: Config.Logins if set; else, in the
// real topic root, which the broker opens only to devices' own logins,
// provisioning with the broker's administrator from the environment
// (VNPASS_MQTT_ADMIN_USER, VNPASS_MQTT_ADMIN_PASSWORD; cmd/vnpass-rush gets
// them from deploy/local/run.sh, and should pass Config.Logins itself once
// it can); else the shared GateUser login, which test roots admit. The
// returned close ends what it opened.
func (c *Config) logins(ctx context.Context) (Logins, func(), error) {
	if c.Logins != nil {
		return c.Logins, func() {}, nil
	}
	real := c.Topics.Root == "" || c.Topics.Root == proto.DefaultRoot
	user, password := os.Getenv("VNPASS_MQTT_ADMIN_USER"), os.Getenv("VNPASS_MQTT_ADMIN_PASSWORD")
	if !real || user == "" {
		return shared{c.GateUser, c.GatePass}, func() {}, nil
	}
	admin, err := dynsec.Dial(ctx, dynsec.Config{BrokerURL: c.BrokerURL, Username: user, Password: password})
	if err != nil {
		return nil, nil, fmt.Errorf("rush: provisioning the gates' logins: %w", err)
	}
	return Provisioned{Admin: admin}, admin.Close, nil
}
