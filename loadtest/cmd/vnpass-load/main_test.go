package main

import (
	"bytes"
	"context"
	"fmt"
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
	for _, want := range []string{"lost 0", "SIGKILL the fare service", "fare service answering again", "every tap the gates made recorded: true",
		"ClickHouse = PostgreSQL"} {
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

// The realistic mix at CI size, under a rush curve, with the gate-offline
// drill (one gate of each kind per station, so that the drill's gates are
// busy): parking stays (entry and exit with a plate), Hanoi Station passes
// on tickets bound through the partner API, free-fare riders, Line 2A <->
// Line 3 transfers at Cát Linh, assertions minted ahead (some by the
// background minter), and the two busiest gates real agents cut off from
// the broker for 3 s: they decide offline, queue on disk and drain. The
// run fails unless every tap is recorded once, nothing is charged twice,
// the ledger balances and ClickHouse equals PostgreSQL and the ledger.
func TestMixWithGateOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-rate", "150", "-for", "12s", "-gap", "2s", "-gates", "1", "-curve", "peak", "-mint-lead", "5s",
		"-park", "0.1", "-rail", "0.05", "-transfer", "0.15", "-concession", "0.2",
		"-ceiling", "0", "-drill", "gate-offline", "-outage", "3s", "-fare-bin", fareBin}, loadEnv(t), &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{"lost 0", "every tap the gates made recorded: true", "ledger", ": true", "peak window",
		"parking_exit: ok", "rail_gate:", "by a background minter", "cutting the network of", "queues drained"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Each part of the mix happened and was priced as it should be.
	var free, charged, transfers, sessions, offline, during int
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "priced:") {
			fmt.Sscanf(l, "priced: %d journeys of riders in a free category (%d charged), %d second legs priced by the Cát Linh transfer rule; %d parking sessions closed",
				&free, &charged, &transfers, &sessions)
		}
		if strings.HasPrefix(l, "gate-offline:") && strings.Contains(l, "offline by the gate") {
			var taps, online, opened int
			fmt.Sscanf(l, "gate-offline: %d taps at the real gates: %d decided by the cloud, %d offline by the gate (%d opened), %d of them",
				&taps, &online, &offline, &opened, &during)
		}
	}
	if free == 0 || charged != 0 || transfers == 0 || sessions == 0 {
		t.Errorf("mix: %d free-category journeys (%d charged), %d transfers, %d parking sessions; want some of each, none charged", free, charged, transfers, sessions)
	}
	if during == 0 {
		t.Errorf("the gates cut off decided nothing offline during the outage (%d offline in all)", offline)
	}
}
