package main

import (
	"strings"
	"testing"
)

func TestConfigMasksSecrets(t *testing.T) {
	env := map[string]string{
		"VNPASS_PG_URL": "postgres://vnpass:s3cretpw@127.0.0.1:55432/vnpass?sslmode=disable", "VNPASS_MQTT_URL": "tcp://127.0.0.1:1",
		"VNPASS_MQTT_SERVICE_PASSWORD": "mqttpw", "VNPASS_CH_ADDR": "127.0.0.1:2", "VNPASS_VNEID_ISSUER": "http://x",
		"VNPASS_VNEID_JWKS_URL": "http://x/jwks", "VNPASS_API_SECRET": strings.Repeat("a", 32), "VNPASS_PSEUDONYM_KEY": strings.Repeat("b", 32),
	}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	out := c.String()
	for _, secret := range []string{"s3cretpw", "mqttpw", strings.Repeat("a", 32), strings.Repeat("b", 32)} {
		if strings.Contains(out, secret) {
			t.Errorf("config log shows a secret: %s", out)
		}
	}
	if !strings.Contains(out, "vnpass:***@127.0.0.1:55432") {
		t.Errorf("config log: %s", out)
	}
	if got := maskPostgres("host=x user=vnpass password=hunter2 dbname=vnpass"); strings.Contains(got, "hunter2") {
		t.Errorf("key=value password shown: %s", got)
	}
	if !strings.HasPrefix(c.Instance, "") || c.Instance == "" {
		t.Error("no instance id")
	}
	c2, _ := ConfigFromEnv(func(k string) string { return env[k] })
	if c2.Instance == c.Instance {
		t.Errorf("two replicas got the same MQTT instance id %q", c.Instance)
	}
	delete(env, "VNPASS_PG_URL")
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "VNPASS_PG_URL") {
		t.Errorf("missing PG URL: %v", err)
	}
}

// The API keyring: VNPASS_API_SECRET alone is key k0; VNPASS_API_SECRETS
// replaces it, and must hold it as k0 when both are set (vnpass-fleet and
// `vnpass-fare token` sign with it). The config log names the keys, never
// their secrets.
func TestConfigAPIKeysAndTapLimit(t *testing.T) {
	s0, s1 := strings.Repeat("a", 32), strings.Repeat("c", 32)
	base := map[string]string{
		"VNPASS_PG_URL": "postgres://x@127.0.0.1/x", "VNPASS_MQTT_URL": "tcp://127.0.0.1:1", "VNPASS_CH_ADDR": "127.0.0.1:2",
		"VNPASS_VNEID_ISSUER": "http://x", "VNPASS_VNEID_JWKS_URL": "http://x/jwks", "VNPASS_PSEUDONYM_KEY": strings.Repeat("b", 32),
	}
	load := func(extra map[string]string) (Config, error) {
		return ConfigFromEnv(func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		})
	}
	c, err := load(map[string]string{"VNPASS_API_SECRET": s0})
	if err != nil || len(c.APIKeys) != 1 || c.APIKeys[0].ID != "k0" || string(c.APIKeys[0].Secret) != s0 {
		t.Fatalf("single secret: %+v %v", c.APIKeys, err)
	}
	if c.TapRate != 20 || c.TapBurst != 0 {
		t.Errorf("default tap limit: rate %v burst %d", c.TapRate, c.TapBurst)
	}
	c, err = load(map[string]string{"VNPASS_API_SECRETS": "k1:" + s1 + ",k0:" + s0, "VNPASS_API_SECRET": s0,
		"VNPASS_TAP_RATE": "5", "VNPASS_TAP_BURST": "8"})
	if err != nil || len(c.APIKeys) != 2 || c.APIKeys[0].ID != "k1" {
		t.Fatalf("ring: %+v %v", c.APIKeys, err)
	}
	if c.TapRate != 5 || c.TapBurst != 8 {
		t.Errorf("tap limit: rate %v burst %d", c.TapRate, c.TapBurst)
	}
	out := c.String()
	if strings.Contains(out, s0) || strings.Contains(out, s1) || !strings.Contains(out, "api_keys=k1,k0") {
		t.Errorf("config log: %s", out)
	}
	if c, err = load(map[string]string{"VNPASS_TAP_RATE": "off", "VNPASS_API_SECRET": s0}); err != nil || c.TapRate != -1 {
		t.Errorf("tap rate off: %v %v", c.TapRate, err)
	}
	for name, env := range map[string]map[string]string{
		"no secret":          {},
		"short secret":       {"VNPASS_API_SECRET": "short"},
		"ring short secret":  {"VNPASS_API_SECRETS": "k1:short"},
		"ring not kid:key":   {"VNPASS_API_SECRETS": s1},
		"ring kid twice":     {"VNPASS_API_SECRETS": "k1:" + s1 + ",k1:" + s0},
		"secret not in ring": {"VNPASS_API_SECRETS": "k1:" + s1, "VNPASS_API_SECRET": s0},
		"secret not k0":      {"VNPASS_API_SECRETS": "k1:" + s1 + ",k9:" + s0, "VNPASS_API_SECRET": s0},
		"tap rate zero":      {"VNPASS_API_SECRET": s0, "VNPASS_TAP_RATE": "0"},
		"tap rate word":      {"VNPASS_API_SECRET": s0, "VNPASS_TAP_RATE": "fast"},
		"tap burst zero":     {"VNPASS_API_SECRET": s0, "VNPASS_TAP_BURST": "0"},
	} {
		_, err := load(env)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), s0) || strings.Contains(err.Error(), s1) {
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
	}
}
