package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vnpass/vnpass/services/fleet/dynsec"
)

// Admin connects to the broker as the administrator of its
// dynamic-security plugin (VNPASS_MQTT_ADMIN_USER), which provisions and
// revokes device logins. The connection is closed when the test ends.
func Admin(t testing.TB) *dynsec.Admin {
	t.Helper()
	a := dialAdmin(t)
	t.Cleanup(a.Close)
	return a
}

func dialAdmin(t testing.TB) *dynsec.Admin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := dynsec.Dial(ctx, dynsec.Config{
		BrokerURL: Get(t, "VNPASS_MQTT_URL"),
		Username:  Get(t, "VNPASS_MQTT_ADMIN_USER"),
		Password:  Get(t, "VNPASS_MQTT_ADMIN_PASSWORD"),
		ClientID:  Name("admin-"),
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return a
}

// Devices gives each device (pairs of site, device) a broker login of its
// own, as deploy/local/devices.sh does for real gates: it may publish only
// that device's taps and status and read only its decisions and config, in
// every topic root, with client id dynsec.ClientID(device). Use device ids of
// the test's own (Name): two tests provisioning one id would replace each
// other's password. The logins are revoked when the test ends.
func Devices(t testing.TB, devices ...dynsec.Device) []dynsec.Credentials {
	t.Helper()
	a := dialAdmin(t)
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	creds, err := a.Provision(ctx, devices, false)
	if err != nil {
		t.Fatalf("testenv: provision devices: %v", err)
	}
	t.Cleanup(func() {
		a := dialAdmin(t)
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, d := range devices {
			// A test of revocation has revoked it already.
			if err := a.Revoke(ctx, d.Device); err != nil && !errors.Is(err, dynsec.ErrNotFound) {
				t.Errorf("testenv: revoke device %s: %v", d.Device, err)
			}
		}
	})
	return creds
}

// Device is Devices for one device.
func Device(t testing.TB, site, device string) dynsec.Credentials {
	t.Helper()
	return Devices(t, dynsec.Device{Site: site, Device: device})[0]
}
