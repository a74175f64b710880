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
