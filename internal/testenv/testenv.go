// Package testenv connects tests to the real local servers started by
// deploy/local/stack.sh. It reads the stack's env file (.run/env at the
// repository root, or $VNPASS_STATE/env) unless the variables are already set,
// and gives each test its own PostgreSQL database, ClickHouse database and
// MQTT topic root, removed when the test ends.
//
// A test that needs a server and cannot reach it fails; it does not skip. The
// README's test command starts the servers first.
package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/proto"
)

var loadOnce sync.Once
var loadErr error

// Get returns the named variable from the environment or the stack's env file.
func Get(t testing.TB, name string) string {
	t.Helper()
	loadOnce.Do(func() { loadErr = load() })
	if v := os.Getenv(name); v != "" {
		return v
	}
	if loadErr != nil {
		t.Fatalf("testenv: %v (start the servers with deploy/local/stack.sh up, or run deploy/local/test.sh)", loadErr)
	}
	t.Fatalf("testenv: %s is not set (start the servers with deploy/local/stack.sh up)", name)
	return ""
}

func load() error {
	path := ""
	if s := os.Getenv("VNPASS_STATE"); s != "" {
		path = filepath.Join(s, "env")
	} else {
		root, err := RepoRoot()
		if err != nil {
			return err
		}
		path = filepath.Join(root, ".run", "env")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	return sc.Err()
}

// RepoRoot walks up from the working directory to the folder with go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Name returns a fresh lower-case name with the given prefix, for databases
// and topic roots.
func Name(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	// The first hex digit is always a letter (a-f): twelve random hex
	// digits are all decimal once in ~280 draws, and a topic or name that
	// looks like a twelve-digit CCCD number trips the personal-data scans
	// of the logs (TestLogsCarryNoPersonalData failed in CI on one).
	b[0] = 0xa0 + b[0]%0x60
	return prefix + hex.EncodeToString(b)
}

// PostgresURL creates an empty database for this test and returns its URL.
// The database is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := Get(t, "VNPASS_PG_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("testenv: connect PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	db := Name("t_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", db, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", db, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: VNPASS_PG_URL: %v", err)
	}
	u.Path = "/" + db
	return u.String()
}

// MQTT is how a test reaches the broker: its own topic root and both users.
// GateUser is the shared gate login, which the broker admits in test roots
// only; a test that needs a device's own login (as real gates have, and the
// real root requires) gets one from Device or Devices.
type MQTT struct {
	URL             string
	Topics          proto.Topics
	ServiceUser     string
	ServicePassword string
	GateUser        string
	GatePassword    string
}

// Broker returns the broker's address and credentials, with a topic root of
// this test's own ("vnpass/t/<id>/v1"), which the broker's ACLs open to the
// shared gate login and to every device's own.
func Broker(t testing.TB) MQTT {
	t.Helper()
	return MQTT{
		URL:             Get(t, "VNPASS_MQTT_URL"),
		Topics:          proto.Topics{Root: "vnpass/t/" + Name("") + "/v1"},
		ServiceUser:     Get(t, "VNPASS_MQTT_SERVICE_USER"),
		ServicePassword: Get(t, "VNPASS_MQTT_SERVICE_PASSWORD"),
		GateUser:        Get(t, "VNPASS_MQTT_GATE_USER"),
		GatePassword:    Get(t, "VNPASS_MQTT_GATE_PASSWORD"),
	}
}

// ClickHouse is how a test reaches ClickHouse: native address, credentials
// and a database of its own.
type ClickHouse struct {
	Addr, User, Password, Database string
}
