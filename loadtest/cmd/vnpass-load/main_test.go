package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnpass/vnpass/internal/testenv"
)

var fareBin string

// TestMain builds the fare service binary the load test starts.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vnpass-load-test")
	if err != nil {
		panic(err)
	}
	fareBin = filepath.Join(dir, "vnpass-fare")
	root, err := testenv.RepoRoot()
	if err == nil {
		cmd := exec.Command("go", "build", "-o", fareBin, "./services/cmd/vnpass-fare")
		cmd.Dir = root
		if out, berr := cmd.CombinedOutput(); berr != nil {
			os.Stderr.Write(out)
			err = berr
		}
	}
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		os.Stderr.WriteString("vnpass-load test: " + err.Error() + "\n")
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func loadEnv(t *testing.T) func(string) string {
	env := map[string]string{}
	for _, k := range []string{"VNPASS_PG_URL", "VNPASS_MQTT_URL", "VNPASS_MQTT_GATE_USER", "VNPASS_MQTT_GATE_PASSWORD",
		"VNPASS_MQTT_SERVICE_USER", "VNPASS_MQTT_SERVICE_PASSWORD", "VNPASS_CH_ADDR", "VNPASS_CH_USER", "VNPASS_CH_PASSWORD"} {
		env[k] = testenv.Get(t, k)
	}
	return func(k string) string { return env[k] }
}

// A short load with the fare service killed halfway (the CI run of the
// load test and one fault drill): nothing lost, nothing recorded twice, the
// books balanced.
func TestShortLoadWithKilledFareService(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-rate", "300", "-for", "6s", "-ceiling", "1s", "-drill", "kill-fare", "-fare-bin", fareBin},
		loadEnv(t), &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lost 0", "SIGKILL the fare service", "fare service answering again", "true; ClickHouse held every tap"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// The drill's check fails when it should: gates that re-send unanswered
// taps under new event ids (breaking the idempotency contract) are caught.
func TestDrillCatchesBrokenIdempotency(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-rate", "300", "-for", "6s", "-ceiling", "0", "-drill", "kill-fare",
		"-break-idempotency", "-fare-bin", fareBin}, loadEnv(t), &out)
	t.Log(out.String())
	if err == nil || !strings.Contains(err.Error(), "taps recorded") {
		t.Fatalf("the books check passed with gates breaking idempotency: %v", err)
	}
}
