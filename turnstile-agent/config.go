package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	return c, errors.Join(errs...)
}

// attrs is the config for the start-up log line, secrets masked.
func (c config) attrs() []any {
	return []any{
		"device", c.device, "site", c.site, "kind", c.kind, "root", c.root,
		"broker", c.broker, "user", c.user, "password", mask(c.password),
		"vneid_url", c.vneidURL, "vneid_key", mask(c.vneidKey),
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
