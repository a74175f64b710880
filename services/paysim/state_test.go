package paysim

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/payment"
)

// A restarted simulator is the one that stopped: links, balances, behaviours,
// recorded outcomes and reports come back from the state file.
func TestStateReplay(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pay-sim.jsonl")
	c := newClock()
	s1 := newSim(t, Config{StateFile: path, Now: c.Now})
	a := mustLink(t, s1, "a", payment.Bank, "9704000000001")
	b := mustLink(t, s1, "b", payment.EWallet, "0912000002")
	gone := mustLink(t, s1, "gone", payment.Bank, "9704000000009")
	bal := dong(40_000)
	if _, err := s1.SetSource(ctx, payment.Bank, "9704000000001", SourceUpdate{Balance: &bal, Behaviour: Approve}); err != nil {
		t.Fatal(err)
	}
	reqs := []payment.DebitRequest{
		{Key: "d1", Token: a.Token, Amount: dong(13_000), Memo: "24/11"},
		{Key: "d2", Token: b.Token, Amount: dong(8_000)},
		{Key: "d3", Token: a.Token, Amount: dong(20_000)},
		{Key: "d4", Token: a.Token, Amount: dong(20_000)}, // declined: 7.000 ₫ left
	}
	var first []payment.Result
	for _, r := range reqs {
		res, err := s1.Debit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, res)
	}
	if err := s1.Unlink(ctx, gone.Token); err != nil {
		t.Fatal(err)
	}
	report1, _ := s1.Settlements(ctx, c.Now())
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}

	s2 := newSim(t, Config{StateFile: path, Now: c.Now})
	for i, r := range reqs {
		res, err := s2.Debit(ctx, r)
		if err != nil || !sameResult(res, first[i]) {
			t.Fatalf("after restart %s = %+v, %v; want %+v", r.Key, res, err, first[i])
		}
	}
	if got := balance(t, s2, payment.Bank, "9704000000001"); !got.Equal(dong(7_000)) {
		t.Fatalf("balance after restart = %s", got)
	}
	if src, _ := s2.Source(ctx, payment.EWallet, "0912000002"); src.Behaviour != DeclineFunds || !src.Balance.Equal(DefaultBalance) {
		t.Fatalf("wallet after restart = %+v", src)
	}
	if l, err := s2.Link(ctx, payment.LinkRequest{Key: "a", Subject: "vn_rider_a", Method: payment.Bank, Account: "9704000000001", ConsentVersion: "2026-01"}); err != nil || l != a {
		t.Fatalf("link replay after restart = %+v, %v", l, err)
	}
	if res, _ := s2.Debit(ctx, payment.DebitRequest{Key: "d5", Token: gone.Token, Amount: dong(1)}); res.DeclineCode != payment.DeclineAccountUnlinked {
		t.Fatalf("unlinked token after restart: %+v", res)
	}
	report2, _ := s2.Settlements(ctx, c.Now())
	if len(report1) != 2 || len(report2) != 2 || !sameSettlement(report1[0], report2[0]) || !sameSettlement(report1[1], report2[1]) {
		t.Fatalf("report after restart = %v, want %v", report2, report1)
	}
	// Refs keep counting: no ref is given twice.
	res, err := s2.Debit(ctx, payment.DebitRequest{Key: "d6", Token: a.Token, Amount: dong(1_000)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range first {
		if f.Ref == res.Ref {
			t.Fatalf("ref %s given twice", res.Ref)
		}
	}
}

func TestStateDamage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.jsonl")
	s := newSim(t, Config{StateFile: path})
	l := mustLink(t, s, "a", payment.Bank, "9704000000001")
	if _, err := s.Debit(ctx, payment.DebitRequest{Key: "d1", Token: l.Token, Amount: dong(5_000)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	data, _ := os.ReadFile(path)

	// A last line cut short by a crash is dropped, and appends go on cleanly.
	cut := append(append([]byte{}, data...), []byte(`{"op":"debit","key":"d2","tok`)...)
	os.WriteFile(path, cut, 0o600)
	s = newSim(t, Config{StateFile: path})
	if res, err := s.Debit(ctx, payment.DebitRequest{Key: "d2", Token: l.Token, Amount: dong(5_000)}); err != nil || res.Status != payment.Approved {
		t.Fatalf("debit after a torn line: %+v, %v", res, err)
	}
	s.Close()
	s = newSim(t, Config{StateFile: path})
	if got := balance(t, s, payment.Bank, "9704000000001"); !got.Equal(dong(10_000_000 - 10_000)) {
		t.Fatalf("balance = %s", got)
	}
	s.Close()

	// Damage in the middle is an error naming the line, not a silent loss.
	lines := strings.SplitAfter(string(data), "\n")
	bad := lines[0] + "{not json}\n" + strings.Join(lines[1:], "")
	os.WriteFile(path, []byte(bad), 0o600)
	if _, err := New(Config{ClientKey: testClientKey, StateFile: path}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("damaged state: err = %v", err)
	}
	// A debit of a token the file never linked is refused too.
	os.WriteFile(path, []byte(`{"op":"debit","at":"2026-11-24T07:30:00+07:00","key":"x","token":"pt_none","amount_vnd":1,"status":"approved"}`+"\n"), 0o600)
	if _, err := New(Config{ClientKey: testClientKey, StateFile: path}); err == nil {
		t.Fatal("inconsistent state accepted")
	}
}

// Close releases a held answer and later requests fail cleanly.
func TestCloseReleasesHang(t *testing.T) {
	s := newSim(t, Config{HangFor: time.Hour})
	l := mustLink(t, s, "h", payment.Bank, "9704000000003")
	done := make(chan error, 1)
	go func() {
		_, err := s.Debit(context.Background(), payment.DebitRequest{Key: "d", Token: l.Token, Amount: dong(1)})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "outcome unknown") {
			t.Fatalf("held debit after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not release the held debit")
	}
	if _, err := s.Debit(context.Background(), payment.DebitRequest{Key: "d2", Token: l.Token, Amount: dong(1)}); err == nil {
		t.Fatal("debit after Close succeeded")
	}
}

// Serve on a real listener; Close alone stops it.
func TestServeThenClose(t *testing.T) {
	s := newSim(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}
