package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/fleet/dynsec"
)

var errUsage = errors.New("bad usage")

const deviceUsage = `usage:
  vnpass-fleet device add [-replace] [-json] SITE DEVICE [DEVICE...]
      give each device (at SITE) a broker login of its own and print it
      (-replace: a device that has one gets a new password)
  vnpass-fleet device revoke DEVICE [DEVICE...]
      delete the devices' logins: the broker disconnects them at once and
      refuses them from then on; their retained status and config are cleared
  vnpass-fleet device list [-json]

Reads VNPASS_MQTT_URL and the broker's administrator VNPASS_MQTT_ADMIN_USER /
VNPASS_MQTT_ADMIN_PASSWORD; revoke also VNPASS_MQTT_SERVICE_USER / _PASSWORD
and VNPASS_MQTT_ROOT (default vnpass/v1) to clear what the device left.
`

// deviceCmd provisions, revokes and lists device logins.
func deviceCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, deviceUsage)
		return errUsage
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("device "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, deviceUsage) }
	replace := fs.Bool("replace", false, "add: give a device that has a login a new password")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	args = fs.Args()
	switch {
	case verb == "add" && len(args) >= 2, verb == "revoke" && len(args) >= 1, verb == "list" && len(args) == 0:
	default:
		fs.Usage()
		return errUsage
	}

	url, user, password, err := adminFromEnv(getenv)
	if err != nil {
		return err
	}
	admin, err := dynsec.Dial(ctx, dynsec.Config{BrokerURL: url, Username: user, Password: password})
	if err != nil {
		return err
	}
	defer admin.Close()

	switch verb {
	case "add":
		devices := make([]dynsec.Device, 0, len(args)-1)
		for _, d := range args[1:] {
			devices = append(devices, dynsec.Device{Site: args[0], Device: d})
		}
		creds, err := admin.Provision(ctx, devices, *replace)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(creds)
		}
		for _, c := range creds {
			// Sourceable, and what turnstile-agent reads: -user/-password default to these.
			fmt.Fprintf(stdout, "# device %s at %s: its own broker login, for client id %s only\nVNPASS_MQTT_GATE_USER=%s\nVNPASS_MQTT_GATE_PASSWORD=%s\n",
				c.Device.Device, c.Site, c.ClientID, c.Username, c.Password)
		}
		return nil

	case "revoke":
		list, err := admin.List(ctx)
		if err != nil {
			return err
		}
		sites := make(map[string]string, len(list))
		for _, e := range list {
			sites[e.Device.Device] = e.Site
		}
		for _, d := range args {
			if err := admin.Revoke(ctx, d); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked %s: disconnected, and refused from now on\n", d)
			if err := clearRetained(ctx, getenv, sites[d], d); err != nil {
				fmt.Fprintf(stderr, "vnpass-fleet device: %s: its retained status and config were not cleared: %v\n", d, err)
			}
		}
		return nil

	default: // list
		list, err := admin.List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			if list == nil {
				list = []dynsec.Entry{}
			}
			return json.NewEncoder(stdout).Encode(list)
		}
		for _, e := range list {
			state := ""
			if e.Disabled {
				state = "  (disabled)"
			}
			fmt.Fprintf(stdout, "%-32s %-24s client id %s%s\n", e.Device.Device, e.Site, e.ClientID, state)
		}
		fmt.Fprintf(stdout, "%d devices\n", len(list))
		return nil
	}
}

// clearRetained clears a revoked device's retained status and config in the
// real topic root (VNPASS_MQTT_ROOT), as the service user. The broker does
// not publish the last will of a client it disconnects on revocation, so its
// retained status would show it online for ever; cleared, the fleet view
// drops it.
func clearRetained(ctx context.Context, getenv func(string) string, site, device string) error {
	if site == "" {
		return errors.New("its site is not known")
	}
	user, password := getenv("VNPASS_MQTT_SERVICE_USER"), getenv("VNPASS_MQTT_SERVICE_PASSWORD")
	if user == "" {
		return errors.New("VNPASS_MQTT_SERVICE_USER is not set")
	}
	topics := proto.Topics{Root: getenv("VNPASS_MQTT_ROOT")}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(getenv("VNPASS_MQTT_URL")).
		SetClientID(fmt.Sprintf("fleet-revoke-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(password).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	for _, topic := range []string{topics.Status(site, device), topics.Config(site, device)} {
		tok := c.Publish(topic, 1, true, []byte{})
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				return err
			}
		case <-time.After(10 * time.Second):
			return fmt.Errorf("clear %s: no PUBACK", topic)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
