package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/services/authjwt"
)

// During an API key rotation the fleet signs its calls to the fare service
// with the ring's first key, which the fare service (same ring) accepts;
// a bad ring is refused at start.
func TestKeyRingDuringRotation(t *testing.T) {
	newKey, oldKey := strings.Repeat("n", 32), strings.Repeat("o", 32)
	env := map[string]string{"VNPASS_MQTT_URL": "tcp://127.0.0.1:1", "VNPASS_API_SECRETS": "k1:" + newKey + ",k0:" + oldKey}
	get := func(k string) string { return env[k] }
	c, err := ConfigFromEnv(get)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := authjwt.ParseKeys(c.APISecrets)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := authjwt.NewKeyring(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fleet.Issue("vnpass-fleet", authjwt.RoleOperator, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// A fare service that has dropped the old key still accepts it.
	fare, err := authjwt.NewKeyring([]authjwt.Key{{ID: "k1", Secret: []byte(newKey)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fare.Parse(tok); err != nil {
		t.Fatalf("the fleet's token under the new key refused: %v", err)
	}
	env["VNPASS_API_SECRETS"] = "k1:short"
	if _, err := ConfigFromEnv(get); err == nil {
		t.Error("a ring with a short secret accepted")
	}
}
