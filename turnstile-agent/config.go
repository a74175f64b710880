package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
)

// config is everything the binary is told, from flags with defaults from the
// environment.
type config struct {
	device, site string
	kind         proto.Kind
	root         string // MQTT topic root

	broker, user, password string

	vneidURL, vneidKey string
	// The VNeID keys, for offline decisions: the issuer to trust and the
	// JWKS to fetch them from.
	vneidIssuer, jwksURL string

	// state is the state directory (queue, config, keys, entries); empty
	// with onlineOnly.
	state      string
	onlineOnly bool
	drainRate  int           // queued taps per second until the cloud pushes a rate
	heartbeat  time.Duration // status heartbeat until the cloud pushes one

	timeout  time.Duration // decision timeout until the cloud pushes one
	logLevel slog.Level
}

// parseConfig reads flags from args; getenv supplies the defaults that come
// from the environment (secrets belong there rather than on the command line).
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("turnstile-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: turnstile-agent -device ID -site ID -kind KIND [flags] < captures\n\n"+
			"Runs one gate: reads face captures from stdin (one per line: face-ref [plate]; # comments),\n"+
			"matches each with VNeID, taps in over MQTT and prints what the gate does.\n\n")
		fs.PrintDefaults()
	}
	kind := string(proto.KindMetroEntry)
	fs.StringVar(&c.device, "device", "", "device id, e.g. hn2a-cat-linh-g01 (required)")
	fs.StringVar(&c.site, "site", "", "site id, e.g. hn2a-cat-linh (required)")
	fs.StringVar(&kind, "kind", kind, "device kind: metro_entry, metro_exit, rail_gate, parking_entry, parking_exit")
	fs.StringVar(&c.root, "root", envOr(getenv, "VNPASS_MQTT_ROOT", proto.DefaultRoot), "MQTT topic root (env VNPASS_MQTT_ROOT)")
	fs.StringVar(&c.broker, "broker", getenv("VNPASS_MQTT_URL"), "MQTT broker URL, e.g. tcp://127.0.0.1:1883 (env VNPASS_MQTT_URL)")
	fs.StringVar(&c.user, "user", getenv("VNPASS_MQTT_GATE_USER"), "MQTT user (env VNPASS_MQTT_GATE_USER)")
	fs.StringVar(&c.password, "password", getenv("VNPASS_MQTT_GATE_PASSWORD"), "MQTT password (env VNPASS_MQTT_GATE_PASSWORD; prefer it to the flag)")
	fs.StringVar(&c.vneidURL, "vneid", getenv("VNPASS_VNEID_URL"), "base URL of the VNeID face-match service (env VNPASS_VNEID_URL)")
	fs.StringVar(&c.vneidKey, "vneid-key", getenv("VNPASS_VNEID_CLIENT_KEY"), "VNeID client key (env VNPASS_VNEID_CLIENT_KEY; prefer it to the flag)")
	fs.StringVar(&c.vneidIssuer, "vneid-issuer", getenv("VNPASS_VNEID_ISSUER"), "issuer of VNeID assertions, for offline checks (env VNPASS_VNEID_ISSUER; default the -vneid URL)")
	fs.StringVar(&c.jwksURL, "jwks", getenv("VNPASS_VNEID_JWKS_URL"), "VNeID JWKS URL, for offline checks (env VNPASS_VNEID_JWKS_URL; default <vneid>/.well-known/jwks.json)")
	fs.StringVar(&c.state, "state", getenv("VNPASS_AGENT_STATE"), "state directory: queue of taps, config, keys (env VNPASS_AGENT_STATE; default $XDG_STATE_HOME or ~/.local/state, /vnpass-agent/<device>)")
	fs.BoolVar(&c.onlineOnly, "online-only", false, "no state directory: no queue, no offline decisions (simulators only)")
	fs.IntVar(&c.drainRate, "drain-rate", agent.DefaultDrainRate, "queued taps per second sent after a reconnect, until the cloud pushes a rate")
	fs.DurationVar(&c.heartbeat, "heartbeat", agent.DefaultHeartbeat, "status heartbeat, until the cloud pushes one")
	fs.DurationVar(&c.timeout, "timeout", agent.DefaultDecisionTimeout, "decision timeout until the cloud pushes a config")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log level: DEBUG, INFO, WARN, ERROR")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q: captures come on stdin", fs.Args())
	}
	c.kind = proto.Kind(kind)

	var errs []error
	for _, id := range []struct{ name, v string }{{"-device", c.device}, {"-site", c.site}} {
		if err := proto.CheckID(id.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id.name, err))
		}
	}
	if !c.kind.Valid() {
		errs = append(errs, fmt.Errorf("-kind %q unknown", kind))
	}
	if c.broker == "" {
		errs = append(errs, errors.New("-broker (or VNPASS_MQTT_URL) is required"))
	}
	if c.vneidURL == "" {
		errs = append(errs, errors.New("-vneid (or VNPASS_VNEID_URL) is required"))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout %v must be positive", c.timeout))
	}
	if c.drainRate <= 0 || c.heartbeat <= 0 {
		errs = append(errs, errors.New("-drain-rate and -heartbeat must be positive"))
	}
	if c.vneidURL != "" {
		base := strings.TrimRight(c.vneidURL, "/")
		if c.vneidIssuer == "" {
			c.vneidIssuer = base
		}
		if c.jwksURL == "" {
			c.jwksURL = base + "/.well-known/jwks.json"
		}
	}
	switch {
	case c.onlineOnly:
		c.state = ""
	case c.state == "":
		home := getenv("XDG_STATE_HOME")
		if home == "" && getenv("HOME") != "" {
			home = filepath.Join(getenv("HOME"), ".local", "state")
		}
		if home == "" {
			errs = append(errs, errors.New("-state (or VNPASS_AGENT_STATE) is required"))
		} else {
			c.state = filepath.Join(home, "vnpass-agent", c.device)
		}
	}
	return c, errors.Join(errs...)
}

// attrs is the config for the start-up log line, secrets masked.
func (c config) attrs() []any {
	return []any{
		"device", c.device, "site", c.site, "kind", c.kind, "root", c.root,
		"broker", c.broker, "user", c.user, "password", mask(c.password),
		"vneid_url", c.vneidURL, "vneid_key", mask(c.vneidKey), "vneid_issuer", c.vneidIssuer, "jwks_url", c.jwksURL,
		"state", c.state, "online_only", c.onlineOnly, "drain_rate", c.drainRate, "heartbeat_ms", c.heartbeat.Milliseconds(),
		"decision_timeout_ms", c.timeout.Milliseconds(), "log_level", c.logLevel.String(),
	}
}

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return "***"
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
