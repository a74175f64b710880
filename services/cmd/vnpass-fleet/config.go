package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
)

// Config of the fleet service. Every field comes from an environment
// variable (named beside it); ConfigFromEnv applies defaults and validates.
type Config struct {
	MQTTURL      string       // VNPASS_MQTT_URL
	MQTTUser     string       // VNPASS_MQTT_SERVICE_USER
	MQTTPassword string       // VNPASS_MQTT_SERVICE_PASSWORD
	Topics       proto.Topics // VNPASS_MQTT_ROOT, default vnpass/v1
	Instance     string       // VNPASS_INSTANCE: the MQTT client id is fleet-<instance>
	APIAddr      string       // VNPASS_FLEET_ADDR, default 127.0.0.1:58070
	APISecret    string       // VNPASS_API_SECRET, at least 32 bytes (the platform's token secret)
	// APISecrets (VNPASS_API_SECRETS, "k1:secret1,k0:secret0", the first
	// signs) is the platform's key ring during a rotation, as the fare
	// service reads it (SECURITY.md); when set it replaces APISecret.
	APISecrets string
	// MetricsToken (VNPASS_METRICS_TOKEN): the bearer token /metrics asks
	// for; unset, /metrics is open (a warning at start).
	MetricsToken string
	// OverdueCheck is how often devices are checked for missed heartbeats,
	// to log each one that falls silent or comes back
	// (VNPASS_FLEET_OVERDUE_CHECK, default 10s).
	OverdueCheck time.Duration
	// DenyListURL is the fare service's deny list (VNPASS_DENY_LIST_URL,
	// e.g. http://127.0.0.1:58080/v1/deny-list): fetched every
	// DenyListEvery (VNPASS_DENY_LIST_EVERY, default 1m) and pushed to
	// every gate when it changed, and at least every DenyListRefresh
	// (default 1h) so that gates deciding offline know it is current.
	// Empty: no deny list is pushed.
	DenyListURL     string
	DenyListEvery   time.Duration
	DenyListRefresh time.Duration
	// RailTicketsURL is the fare service's tickets of a rail station
	// (VNPASS_RAIL_TICKETS_URL, e.g.
	// http://127.0.0.1:58080/v1/rail/tickets): for each site with rail
	// gates, the tickets departing in the next RailTicketsHours
	// (VNPASS_RAIL_TICKETS_HOURS, 1-24, default 6) are fetched every
	// RailTicketsEvery (VNPASS_RAIL_TICKETS_EVERY, default 1m) and pushed
	// to the site's rail gates when they changed, and at least every
	// RailTicketsRefresh (default 1h) so that a gate's list keeps covering
	// the trains about to board. Empty: no ticket list is pushed.
	RailTicketsURL     string
	RailTicketsHours   int
	RailTicketsEvery   time.Duration
	RailTicketsRefresh time.Duration
	Now                func() time.Time
}

// ConfigFromEnv reads the config through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		MQTTURL:      getenv("VNPASS_MQTT_URL"),
		MQTTUser:     getenv("VNPASS_MQTT_SERVICE_USER"),
		MQTTPassword: getenv("VNPASS_MQTT_SERVICE_PASSWORD"),
		Topics:       proto.Topics{Root: getenv("VNPASS_MQTT_ROOT")},
		Instance:     getenv("VNPASS_INSTANCE"),
		APIAddr:      getenv("VNPASS_FLEET_ADDR"),
		APISecret:    getenv("VNPASS_API_SECRET"),
		APISecrets:   getenv("VNPASS_API_SECRETS"),
		MetricsToken: getenv("VNPASS_METRICS_TOKEN"),
		DenyListURL:  getenv("VNPASS_DENY_LIST_URL"),

		RailTicketsURL: getenv("VNPASS_RAIL_TICKETS_URL"),
	}
	if d := getenv("VNPASS_RAIL_TICKETS_EVERY"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil || v < 100*time.Millisecond || v > time.Hour {
			return c, fmt.Errorf("config: VNPASS_RAIL_TICKETS_EVERY %q: want a duration from 100ms to 1h", d)
		}
		c.RailTicketsEvery = v
	}
	if h := getenv("VNPASS_RAIL_TICKETS_HOURS"); h != "" {
		v, err := strconv.Atoi(h)
		if err != nil || v < 1 || v > 24 {
			return c, fmt.Errorf("config: VNPASS_RAIL_TICKETS_HOURS %q: want whole hours from 1 to 24", h)
		}
		c.RailTicketsHours = v
	}
	if d := getenv("VNPASS_DENY_LIST_EVERY"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil || v < 100*time.Millisecond || v > time.Hour {
			return c, fmt.Errorf("config: VNPASS_DENY_LIST_EVERY %q: want a duration from 100ms to 1h", d)
		}
		c.DenyListEvery = v
	}
	if d := getenv("VNPASS_FLEET_OVERDUE_CHECK"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil || v < 100*time.Millisecond || v > time.Hour {
			return c, fmt.Errorf("config: VNPASS_FLEET_OVERDUE_CHECK %q: want a duration from 100ms to 1h", d)
		}
		c.OverdueCheck = v
	}
	return c, c.Validate()
}

// Validate applies defaults and checks the config.
func (c *Config) Validate() error {
	if c.Instance == "" {
		host, _ := os.Hostname()
		b := make([]byte, 3)
		rand.Read(b)
		c.Instance = fmt.Sprintf("%s-%x", host, b)
	}
	if c.APIAddr == "" {
		c.APIAddr = "127.0.0.1:58070"
	}
	if c.OverdueCheck == 0 {
		c.OverdueCheck = 10 * time.Second
	}
	if c.DenyListEvery == 0 {
		c.DenyListEvery = time.Minute
	}
	if c.DenyListRefresh == 0 {
		c.DenyListRefresh = time.Hour
	}
	if c.RailTicketsHours == 0 {
		c.RailTicketsHours = 6
	}
	if c.RailTicketsEvery == 0 {
		c.RailTicketsEvery = time.Minute
	}
	if c.RailTicketsRefresh == 0 {
		c.RailTicketsRefresh = time.Hour
	}
	if c.RailTicketsHours < 1 || c.RailTicketsHours > 24 {
		return fmt.Errorf("config: rail tickets hours %d: want 1-24", c.RailTicketsHours)
	}
	if c.RailTicketsURL != "" && c.RailTicketsRefresh >= time.Duration(c.RailTicketsHours)*time.Hour {
		return fmt.Errorf("config: rail tickets refreshed every %s but covering %d hours: gates' lists would go stale", c.RailTicketsRefresh, c.RailTicketsHours)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MQTTURL == "" {
		return errors.New("config: missing VNPASS_MQTT_URL (deploy/local/stack.sh env prints the servers' settings)")
	}
	if c.APISecrets != "" {
		keys, err := authjwt.ParseKeys(c.APISecrets)
		if err == nil {
			_, err = authjwt.NewKeyring(keys, nil)
		}
		if err != nil {
			return fmt.Errorf("config: VNPASS_API_SECRETS: %w", err)
		}
	} else if len(c.APISecret) < 32 {
		return errors.New("config: VNPASS_API_SECRET must be at least 32 bytes")
	}
	return nil
}

// String shows the config with secrets masked, for the start-up log.
func (c Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "***"
	}
	return fmt.Sprintf("mqtt=%s user=%s password=%s status=%s instance=%s api=%s api_secret=%s overdue_check=%s",
		c.MQTTURL, c.MQTTUser, mask(c.MQTTPassword), c.Topics.Filter(proto.ChanStatus), c.Instance,
		c.APIAddr, mask(c.APISecret), c.OverdueCheck)
}

// adminFromEnv is the broker's dynamic-security administrator, for the
// device subcommand.
func adminFromEnv(getenv func(string) string) (url, user, password string, err error) {
	url, user, password = getenv("VNPASS_MQTT_URL"), getenv("VNPASS_MQTT_ADMIN_USER"), getenv("VNPASS_MQTT_ADMIN_PASSWORD")
	var missing []string
	for name, v := range map[string]string{"VNPASS_MQTT_URL": url, "VNPASS_MQTT_ADMIN_USER": user, "VNPASS_MQTT_ADMIN_PASSWORD": password} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", "", "", fmt.Errorf("missing %s (deploy/local/stack.sh env prints them)", strings.Join(missing, ", "))
	}
	return url, user, password, nil
}
