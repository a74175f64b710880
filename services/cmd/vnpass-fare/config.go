package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/tapmqtt"
)

// Config of the fare service. Every field comes from an environment
// variable (named beside it); ConfigFromEnv applies defaults and validates.
type Config struct {
	PostgresURL string // VNPASS_PG_URL
	// PostgresReadURL (VNPASS_PG_READ_URL) is a streaming replica (or a
	// Service over replicas) for stale-tolerant reads: reports, the deny
	// list, partners' reads (services/settlepg/SCALING.md). Empty: the primary.
	PostgresReadURL string
	// CHCluster (VNPASS_CH_CLUSTER) names the ClickHouse cluster the
	// analytics tables are spread on; empty for one server.
	CHCluster      string
	MQTTURL        string       // VNPASS_MQTT_URL
	MQTTUser       string       // VNPASS_MQTT_SERVICE_USER
	MQTTPassword   string       // VNPASS_MQTT_SERVICE_PASSWORD
	Topics         proto.Topics // VNPASS_MQTT_ROOT, default vnpass/v1
	Group          string       // VNPASS_SHARE_GROUP, default fare
	Instance       string       // VNPASS_INSTANCE, default 1: the MQTT client id is fare-<instance>
	Workers        int          // VNPASS_WORKERS, default 64
	CHAddr         string       // VNPASS_CH_ADDR
	CHUser         string       // VNPASS_CH_USER
	CHPassword     string       // VNPASS_CH_PASSWORD
	CHDatabase     string       // VNPASS_CH_DATABASE, default vnpass
	ExportInterval time.Duration
	VNeIDIssuer    string        // VNPASS_VNEID_ISSUER
	VNeIDJWKSURL   string        // VNPASS_VNEID_JWKS_URL
	APIAddr        string        // VNPASS_API_ADDR, default 127.0.0.1:58080
	APISecret      string        // VNPASS_API_SECRET, at least 32 bytes: the API token key k0
	PseudonymKey   string        // VNPASS_PSEUDONYM_KEY, at least 32 bytes
	FareData       string        // VNPASS_FARE_DATA: a GTFS folder; default the shipped data
	MaxJourney     time.Duration // VNPASS_MAX_JOURNEY, default 4h: longer is a missing exit
	// PassBackWindow (VNPASS_PASS_BACK_WINDOW, default 5m): an entry at
	// another station this soon after a journey's entry is refused as
	// pass-back; later, the open journey is closed for its missing exit
	// (admission.Config.PassBackWindow).
	PassBackWindow time.Duration
	// APISecrets (VNPASS_API_SECRETS, "kid1:secret1,kid0:secret0") is the
	// API token keyring when keys are rotated: the first key signs, all
	// verify (authjwt.NewKeyring). Set, it replaces APISecret; APIKeys is the
	// ring in force, from one or the other.
	APISecrets string
	APIKeys    []authjwt.Key
	// MetricsToken (VNPASS_METRICS_TOKEN) is the bearer token /metrics asks
	// for; unset, /metrics is open to whoever reaches the API port (the
	// service warns at start).
	MetricsToken string
	// TapRetentionDays (VNPASS_TAP_RETENTION_DAYS) is how long raw taps are
	// kept in ClickHouse; older months are dropped daily (journeys and
	// aggregates stay). 0, the default, keeps everything.
	TapRetentionDays int
	// MinTapInterval (VNPASS_MIN_TAP_INTERVAL, default 3s): an exit this soon
	// after an entry, or an entry after an exit, is a second capture.
	MinTapInterval time.Duration
	// DecisionTimeout is how long gates wait for a decision
	// (VNPASS_DECISION_TIMEOUT, default 2s); older taps are refused.
	DecisionTimeout time.Duration
	// ParkingData (VNPASS_PARKING_DATA) is a folder with the parking
	// lots.csv and tariffs.csv; default the shipped data (parking/data).
	ParkingData string
	// RailData (VNPASS_RAIL_DATA) is a folder with the rail gates'
	// stations.csv and gates.csv; default the shipped data (Hanoi Station).
	RailData string
	// FleetURL (VNPASS_FLEET_URL) is vnpass-fleet's API: the dashboard's
	// gate and device panel reads it; "" leaves the panel out.
	FleetURL string
	// Post-paid travel, enabled when a payment provider is configured:
	// VNPASS_PAY_URL and VNPASS_PAY_CLIENT_KEY reach it, VNPASS_PAY_PROVIDER
	// names it in the ledger (default paysim).
	PayURL, PayClientKey, PayProvider string
	// PayTimeout (VNPASS_PAY_TIMEOUT, default 10s) bounds each call to the
	// provider; a debit with no answer by then is asked again later.
	PayTimeout time.Duration
	// DebtLimit (VNPASS_DEBT_LIMIT, whole dong, default 30000): a post-paid
	// rider whose collection was declined may owe this much and still enter.
	DebtLimit int64
	// CollectAt (VNPASS_COLLECT_AT, default 02:00) is the local time the
	// previous day's post-paid fares are collected; debits with no answer
	// are asked again every CollectRetry (default 5m).
	CollectAt    time.Duration
	CollectRetry time.Duration
	// TapRate (VNPASS_TAP_RATE, taps per second, default 20; "off": none)
	// and TapBurst (VNPASS_TAP_BURST, default twice the rate) bound each
	// device's taps: over the rate they are paced, then dropped
	// (tapmqtt.Limit).
	TapRate  float64
	TapBurst int
	Now      func() time.Time
}

// ConfigFromEnv reads the config through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		PostgresURL:     getenv("VNPASS_PG_URL"),
		PostgresReadURL: getenv("VNPASS_PG_READ_URL"),
		CHCluster:       getenv("VNPASS_CH_CLUSTER"),
		MQTTURL:         getenv("VNPASS_MQTT_URL"),
		MQTTUser:        getenv("VNPASS_MQTT_SERVICE_USER"),
		MQTTPassword:    getenv("VNPASS_MQTT_SERVICE_PASSWORD"),
		Topics:          proto.Topics{Root: getenv("VNPASS_MQTT_ROOT")},
		Group:           getenv("VNPASS_SHARE_GROUP"),
		Instance:        getenv("VNPASS_INSTANCE"),
		CHAddr:          getenv("VNPASS_CH_ADDR"),
		CHUser:          getenv("VNPASS_CH_USER"),
		CHPassword:      getenv("VNPASS_CH_PASSWORD"),
		CHDatabase:      getenv("VNPASS_CH_DATABASE"),
		VNeIDIssuer:     getenv("VNPASS_VNEID_ISSUER"),
		VNeIDJWKSURL:    getenv("VNPASS_VNEID_JWKS_URL"),
		APIAddr:         getenv("VNPASS_API_ADDR"),
		APISecret:       getenv("VNPASS_API_SECRET"),
		APISecrets:      getenv("VNPASS_API_SECRETS"),
		MetricsToken:    getenv("VNPASS_METRICS_TOKEN"),
		PseudonymKey:    getenv("VNPASS_PSEUDONYM_KEY"),
		FareData:        getenv("VNPASS_FARE_DATA"),
		ParkingData:     getenv("VNPASS_PARKING_DATA"),
		RailData:        getenv("VNPASS_RAIL_DATA"),
		FleetURL:        getenv("VNPASS_FLEET_URL"),
		PayURL:          getenv("VNPASS_PAY_URL"),
		PayClientKey:    getenv("VNPASS_PAY_CLIENT_KEY"),
		PayProvider:     getenv("VNPASS_PAY_PROVIDER"),
	}
	if v := getenv("VNPASS_DEBT_LIMIT"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 10_000_000 {
			return c, fmt.Errorf("config: VNPASS_DEBT_LIMIT %q: want whole dong from 1 to 10000000", v)
		}
		c.DebtLimit = n
	}
	if v := getenv("VNPASS_COLLECT_AT"); v != "" {
		t, err := time.Parse("15:04", v)
		if err != nil {
			return c, fmt.Errorf("config: VNPASS_COLLECT_AT %q: want a local time of day, HH:MM", v)
		}
		c.CollectAt = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	if v := getenv("VNPASS_PAY_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond || d > time.Minute {
			return c, fmt.Errorf("config: VNPASS_PAY_TIMEOUT %q: want a duration from 10ms to 1m", v)
		}
		c.PayTimeout = d
	}
	if v := getenv("VNPASS_COLLECT_RETRY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return c, fmt.Errorf("config: VNPASS_COLLECT_RETRY %q: want a duration from 1s to 24h", v)
		}
		c.CollectRetry = d
	}
	if d := getenv("VNPASS_DECISION_TIMEOUT"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil || v < 100*time.Millisecond || v > 30*time.Second {
			return c, fmt.Errorf("config: VNPASS_DECISION_TIMEOUT %q: want a duration from 100ms to 30s", d)
		}
		c.DecisionTimeout = v
	}
	if d := getenv("VNPASS_MAX_JOURNEY"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil || v < 10*time.Minute || v > 48*time.Hour {
			return c, fmt.Errorf("config: VNPASS_MAX_JOURNEY %q: want a duration from 10m to 48h", d)
		}
		c.MaxJourney = v
	}
	if d := getenv("VNPASS_PASS_BACK_WINDOW"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil || v < time.Minute || v > time.Hour {
			return c, fmt.Errorf("config: VNPASS_PASS_BACK_WINDOW %q: want a duration from 1m to 1h", d)
		}
		c.PassBackWindow = v
	}
	if v := getenv("VNPASS_TAP_RETENTION_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 31 || n > 36600 {
			return c, fmt.Errorf("config: VNPASS_TAP_RETENTION_DAYS %q: want whole days from 31 to 36600", v)
		}
		c.TapRetentionDays = n
	}
	if d := getenv("VNPASS_MIN_TAP_INTERVAL"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil || v <= 0 || v > time.Minute {
			return c, fmt.Errorf("config: VNPASS_MIN_TAP_INTERVAL %q: want a duration up to 1m", d)
		}
		c.MinTapInterval = v
	}
	switch v := getenv("VNPASS_TAP_RATE"); v {
	case "":
	case "off":
		c.TapRate = -1
	default:
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 1 || r > 10_000 {
			return c, fmt.Errorf("config: VNPASS_TAP_RATE %q: want taps per second per device from 1 to 10000, or off", v)
		}
		c.TapRate = r
	}
	if v := getenv("VNPASS_TAP_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100_000 {
			return c, fmt.Errorf("config: VNPASS_TAP_BURST %q: want taps from 1 to 100000", v)
		}
		c.TapBurst = n
	}
	if w := getenv("VNPASS_WORKERS"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 || n > 256 {
			return c, fmt.Errorf("config: VNPASS_WORKERS %q: want 1-256", w)
		}
		c.Workers = n
	}
	return c, c.Validate()
}

// Validate applies defaults and checks the config.
func (c *Config) Validate() error {
	if c.Group == "" {
		c.Group = "fare"
	}
	if c.Instance == "" {
		host, _ := os.Hostname()
		b := make([]byte, 3)
		rand.Read(b)
		c.Instance = fmt.Sprintf("%s-%x", host, b)
	}
	if c.Workers == 0 {
		// Each worker waits for its tap's batch to commit: the workers
		// in flight are what the store groups into one transaction.
		c.Workers = 64
	}
	if c.CHDatabase == "" {
		c.CHDatabase = "vnpass"
	}
	if c.APIAddr == "" {
		c.APIAddr = "127.0.0.1:58080"
	}
	if c.DecisionTimeout == 0 {
		c.DecisionTimeout = 2 * time.Second
	}
	if c.PayProvider == "" {
		c.PayProvider = "paysim"
	}
	if c.CollectAt == 0 {
		c.CollectAt = 2 * time.Hour
	}
	if c.CollectRetry == 0 {
		c.CollectRetry = 5 * time.Minute
	}
	if (c.PayURL == "") != (c.PayClientKey == "") {
		return errors.New("config: VNPASS_PAY_URL and VNPASS_PAY_CLIENT_KEY go together")
	}
	if c.ExportInterval == 0 {
		c.ExportInterval = 500 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var missing []string
	for name, v := range map[string]string{
		"VNPASS_PG_URL": c.PostgresURL, "VNPASS_MQTT_URL": c.MQTTURL, "VNPASS_CH_ADDR": c.CHAddr,
		"VNPASS_VNEID_ISSUER": c.VNeIDIssuer, "VNPASS_VNEID_JWKS_URL": c.VNeIDJWKSURL,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("config: missing %s (deploy/local/stack.sh env prints the servers' settings)", strings.Join(missing, ", "))
	}
	if err := c.apiKeys(); err != nil {
		return err
	}
	if c.TapRate == 0 {
		c.TapRate = tapmqtt.DefaultTapRate
	}
	if len(c.PseudonymKey) < 32 {
		return errors.New("config: VNPASS_PSEUDONYM_KEY must be at least 32 bytes")
	}
	return nil
}

// apiKeys sets APIKeys from APISecrets, or from APISecret alone.
func (c *Config) apiKeys() error {
	if c.APISecrets == "" {
		if len(c.APISecret) < 32 {
			return errors.New("config: VNPASS_API_SECRET must be at least 32 bytes")
		}
		c.APIKeys = []authjwt.Key{{ID: authjwt.DefaultKeyID, Secret: []byte(c.APISecret)}}
		return nil
	}
	keys, err := authjwt.ParseKeys(c.APISecrets)
	if err == nil {
		_, err = authjwt.NewKeyring(keys, nil)
	}
	if err != nil {
		return fmt.Errorf("config: VNPASS_API_SECRETS: %w", err)
	}
	if c.APISecret != "" {
		// vnpass-fleet and `vnpass-fare token` sign with VNPASS_API_SECRET
		// as key k0: with both set, the ring must hold that key.
		ok := false
		for _, k := range keys {
			ok = ok || k.ID == authjwt.DefaultKeyID && string(k.Secret) == c.APISecret
		}
		if !ok {
			return fmt.Errorf("config: VNPASS_API_SECRET is not key %s of VNPASS_API_SECRETS: set the ring alone, or list it as %s:<secret>",
				authjwt.DefaultKeyID, authjwt.DefaultKeyID)
		}
	}
	c.APIKeys = keys
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
	pg := maskPostgres(c.PostgresURL)
	kids := make([]string, len(c.APIKeys))
	for i, k := range c.APIKeys {
		kids[i] = k.ID
	}
	return fmt.Sprintf("pg=%s mqtt=%s user=%s password=%s root=%s group=%s instance=%s workers=%d ch=%s/%s vneid=%s api=%s api_secret=%s api_keys=%s pseudonym_key=%s fare_data=%q tap_rate=%g tap_burst=%d",
		pg, c.MQTTURL, c.MQTTUser, mask(c.MQTTPassword), c.Topics.Filter(proto.ChanTaps), c.Group, c.Instance, c.Workers,
		c.CHAddr, c.CHDatabase, c.VNeIDJWKSURL, c.APIAddr, mask(c.APISecret), strings.Join(kids, ","), mask(c.PseudonymKey), c.FareData,
		c.TapRate, c.TapBurst)
}

// maskPostgres hides the password of a PostgreSQL URL or key=value string.
func maskPostgres(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "***")
			return strings.Replace(u.String(), "%2A%2A%2A", "***", 1)
		}
		return s
	}
	f := strings.Fields(s)
	for i, kv := range f {
		if strings.HasPrefix(kv, "password=") {
			f[i] = "password=***"
		}
	}
	return strings.Join(f, " ")
}
