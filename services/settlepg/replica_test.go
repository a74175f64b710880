package settlepg_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// startStandby makes a streaming replica of the local PostgreSQL server (a
// base backup, then a hot standby on a port of its own) and returns the
// URL of database db on it.
func startStandby(t *testing.T, db string) string {
	t.Helper()
	if _, err := os.Stat(pgBin + "/pg_basebackup"); err != nil {
		t.Fatalf("PostgreSQL 15 binaries: %v (deploy/local/stack.sh installs them)", err)
	}
	primary := testenv.Get(t, "VNPASS_PG_URL")
	dir, err := os.MkdirTemp("", "vnpass-standby-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	data := filepath.Join(dir, "data")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", pgBin + "/" + name}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	run("pg_basebackup", "-d", primary, "-D", data, "-R", "-X", "stream", "-c", "fast")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o",
		fmt.Sprintf("-c port=%d -c unix_socket_directories=%s -c listen_addresses=127.0.0.1", port, dir), "start")
	t.Cleanup(func() {
		exec.Command("runuser", "-u", "postgres", "--", pgBin+"/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
	})
	u, err := url.Parse(primary)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = fmt.Sprintf("127.0.0.1:%d", port)
	u.Path = "/" + db
	return u.String()
}

// Reports read a streaming replica while it keeps up, and the primary when
// it falls behind: shown by pausing the replica's replay.
func TestStaleReadsGoToAReplicaWithinItsLag(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := f.store.Pool().Config().ConnConfig.Database
	standby := startStandby(t, db)
	if err := f.store.UseReplica(ctx, standby, time.Second); err != nil {
		t.Fatal(err)
	}
	ro, err := pgx.Connect(ctx, standby)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close(ctx)

	transactions := func() int64 {
		t.Helper()
		b, err := f.store.Books(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return b.Transactions
	}
	f.topUp("vn_ro", 100_000)
	eventually(t, func() bool { _, serving, _ := f.store.ReplicaLag(); return serving && transactions() == 1 })
	if _, serving, ok := f.store.ReplicaLag(); !ok || !serving || transactions() != 1 {
		t.Fatalf("replica not serving or behind: serving=%v ok=%v transactions=%d", serving, ok, transactions())
	}

	// Replay paused: the replica stays where it is; within the lag bound
	// the reports read it (and so see the old books) ...
	if _, err := ro.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	defer ro.Exec(ctx, "SELECT pg_wal_replay_resume()")
	f.do(proto.KindMetroEntry, catLinh, "vn_ro")
	f.do(proto.KindMetroExit, haDong, "vn_ro")
	if n := transactions(); n != 1 {
		t.Fatalf("books read %d transactions right after the fare, want the replica's 1 (reads must go to the replica)", n)
	}
	// ... and once it is more than the bound behind, the primary.
	eventually(t, func() bool { _, serving, _ := f.store.ReplicaLag(); return !serving })
	if n := transactions(); n != 2 {
		t.Fatalf("books read %d transactions with the replica behind, want the primary's 2", n)
	}
	if _, err := ro.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { _, serving, _ := f.store.ReplicaLag(); return serving })
	if _, serving, _ := f.store.ReplicaLag(); !serving || transactions() != 2 {
		t.Fatalf("replica caught up but serving=%v, transactions %d", serving, transactions())
	}
	f.checkBooks()
}
