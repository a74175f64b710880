package payhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/payment"
	"github.com/vnpass/vnpass/services/payhttp"
	"github.com/vnpass/vnpass/services/paysim"
)

const clientKey = "payhttp-test-client-key-01234"

// clock advances a millisecond per reading so decisions are ordered.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type env struct {
	sim    *paysim.Server
	srv    *httptest.Server
	client *payhttp.Client
	clock  *clock
}

// start runs the simulator behind a real HTTP server on a loopback port and a
// client of it with a short per-call timeout.
func start(t *testing.T, state string) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 24, 7, 30, 0, 0, fare.Zone)}
	sim, err := paysim.New(paysim.Config{ClientKey: clientKey, StateFile: state, Now: c.Now, HangFor: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { sim.Close() }) // runs first: releases held answers
	return &env{sim: sim, srv: srv, client: newClient(t, srv.URL, clientKey), clock: c}
}

func newClient(t *testing.T, url, key string) *payhttp.Client {
	t.Helper()
	// Generous: a call that times out on a loaded machine would make a
	// test about answers fail for the machine's sake. The tests of the
	// timeout itself use a short one (hung).
	return newClientTimeout(t, url, key, 5*time.Second)
}

// hung is a client that gives up after 300 ms, for debits that never answer.
func hung(t *testing.T, e *env) *payhttp.Client {
	return newClientTimeout(t, e.srv.URL, clientKey, 300*time.Millisecond)
}

func newClientTimeout(t *testing.T, url, key string, d time.Duration) *payhttp.Client {
	t.Helper()
	cl, err := payhttp.New(payhttp.Config{BaseURL: url, ClientKey: key, Timeout: d})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func dong(v int64) decimal.Decimal { return decimal.NewFromInt(v) }

func (e *env) link(t *testing.T, key string, m payment.Method, account string) payment.Link {
	t.Helper()
	l, err := e.client.Link(context.Background(), payment.LinkRequest{Key: key, Subject: "vn_" + key, Method: m, Account: account, ConsentVersion: "2026-01"})
	if err != nil {
		t.Fatalf("link %s: %v", account, err)
	}
	return l
}

func (e *env) balance(t *testing.T, m payment.Method, account string) decimal.Decimal {
	t.Helper()
	src, err := e.sim.Source(context.Background(), m, account)
	if err != nil {
		t.Fatal(err)
	}
	return src.Balance
}

func same(a, b payment.Result) bool {
	return a.Status == b.Status && a.Ref == b.Ref && a.DeclineCode == b.DeclineCode && a.Amount.Equal(b.Amount) && a.At.Equal(b.At)
}

func TestApproveAndDecline(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	if e.client.Name() != "paysim" {
		t.Fatalf("name = %q", e.client.Name())
	}
	tests := []struct {
		method  payment.Method
		account string
		status  payment.Status
		decline string
	}{
		{payment.Bank, "0123 456 789", payment.Approved, ""},
		{payment.EWallet, "+84 912 340 001", payment.Approved, ""},
		{payment.Bank, "9704 0000 0000 0002", payment.Declined, payment.DeclineInsufficientFunds},
		{payment.EWallet, "0912340002", payment.Declined, payment.DeclineInsufficientFunds},
		{payment.Bank, "9704000000000004", payment.Declined, payment.DeclineAccountClosed},
	}
	for i, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			l := e.link(t, fmt.Sprintf("l%d", i), tt.method, tt.account)
			digits := strings.NewReplacer(" ", "").Replace(tt.account)
			if l.Masked != "•••• "+digits[len(digits)-4:] || l.Method != tt.method || l.Provider != "paysim" || l.Token == "" {
				t.Fatalf("link = %+v", l)
			}
			res, err := e.client.Debit(ctx, payment.DebitRequest{Key: fmt.Sprintf("d%d", i), Token: l.Token, Amount: dong(26_000), Memo: "vnpass 24/11 · 2 chuyến"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status || res.DeclineCode != tt.decline || res.Ref == "" || !res.Amount.Equal(dong(26_000)) || res.At.IsZero() {
				t.Fatalf("debit = %+v, want %s %s", res, tt.status, tt.decline)
			}
			want := dong(10_000_000)
			if tt.status == payment.Approved {
				want = want.Sub(dong(26_000))
			}
			if got := e.balance(t, tt.method, tt.account); !got.Equal(want) {
				t.Fatalf("balance = %s, want %s", got, want)
			}
		})
	}
}

// The rider's bank declines, the rider tops it up, the retry (a new key) is
// approved; the declined key keeps its outcome.
func TestDeclineThenTopUp(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	l := e.link(t, "l", payment.Bank, "9704000000000002")
	first, err := e.client.Debit(ctx, payment.DebitRequest{Key: "day-24:1", Token: l.Token, Amount: dong(26_000)})
	if err != nil || first.DeclineCode != payment.DeclineInsufficientFunds {
		t.Fatalf("debit = %+v, %v", first, err)
	}
	bal := dong(100_000)
	if _, err := e.sim.SetSource(ctx, payment.Bank, "9704000000000002", paysim.SourceUpdate{Balance: &bal, Behaviour: paysim.Approve}); err != nil {
		t.Fatal(err)
	}
	again, err := e.client.Debit(ctx, payment.DebitRequest{Key: "day-24:1", Token: l.Token, Amount: dong(26_000)})
	if err != nil || !same(again, first) {
		t.Fatalf("same key after top-up = %+v, %v; want the first outcome %+v", again, err, first)
	}
	retry, err := e.client.Debit(ctx, payment.DebitRequest{Key: "day-24:2", Token: l.Token, Amount: dong(26_000)})
	if err != nil || retry.Status != payment.Approved {
		t.Fatalf("retry = %+v, %v", retry, err)
	}
	if got := e.balance(t, payment.Bank, "9704000000000002"); !got.Equal(dong(74_000)) {
		t.Fatalf("balance = %s", got)
	}
}

// A debit whose answer never comes is ErrUnknownOutcome within the client's
// timeout; the retry with the same key returns what happened, without a
// second debit, and the report holds it once.
func TestTimeoutThenRetry(t *testing.T) {
	e := start(t, "")
	e.client = hung(t, e)
	ctx := context.Background()
	l := e.link(t, "l", payment.Bank, "9704000000000003")
	req := payment.DebitRequest{Key: "day-24", Token: l.Token, Amount: dong(26_000)}
	began := time.Now()
	res, err := e.client.Debit(ctx, req)
	if !errors.Is(err, payment.ErrUnknownOutcome) {
		t.Fatalf("debit = %+v, %v; want ErrUnknownOutcome", res, err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("timeout took %s", d)
	}
	res, err = e.client.Debit(ctx, req)
	if err != nil || res.Status != payment.Approved {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if got := e.balance(t, payment.Bank, "9704000000000003"); !got.Equal(dong(10_000_000 - 26_000)) {
		t.Fatalf("balance = %s: debited %s", got, dong(10_000_000).Sub(got))
	}
	report, err := e.client.Settlements(ctx, res.At)
	if err != nil || len(report) != 1 || report[0].Ref != res.Ref || !report[0].Amount.Equal(dong(26_000)) {
		t.Fatalf("report = %v, %v", report, err)
	}
	if got := e.sim.Counter(`paysim_debit_hangs_total`); got != 1 {
		t.Fatalf("hangs = %d", got)
	}
	// The simulator let go of the held answer when the client hung up.
	for deadline := time.Now().Add(time.Second); e.sim.Counter(`paysim_requests_total{route="/v1/debits",code="499"}`) != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the held request was not released when the client went away")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Many concurrent calls with one key move the money once and all see the
// same outcome; different keys each move theirs.
func TestConcurrentSameKey(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	l := e.link(t, "l", payment.EWallet, "0987654321")
	const workers, keys = 16, 10
	out := make([][]payment.Result, keys)
	var wg sync.WaitGroup
	for k := range keys {
		out[k] = make([]payment.Result, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.client.Debit(ctx, payment.DebitRequest{Key: fmt.Sprintf("k%d", k), Token: l.Token, Amount: dong(int64(1_000 * (k + 1)))})
				if err != nil {
					t.Error(err)
				}
				out[k][w] = res
			}()
		}
	}
	wg.Wait()
	total := int64(0)
	for k := range out {
		total += int64(1_000 * (k + 1))
		for w := range out[k] {
			if !same(out[k][w], out[k][0]) || out[k][w].Status != payment.Approved {
				t.Fatalf("key %d: %+v vs %+v", k, out[k][w], out[k][0])
			}
		}
	}
	if got := e.balance(t, payment.EWallet, "0987654321"); !got.Equal(dong(10_000_000 - total)) {
		t.Fatalf("balance = %s, want %d", got, 10_000_000-total)
	}
	if got := e.sim.Counter(`paysim_debits_total{status="approved"}`); got != keys {
		t.Fatalf("approved debits = %d, want %d", got, keys)
	}
}

// The report of a local day equals the approved debits of that day.
func TestSettlementsEqualApproved(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	ok := e.link(t, "ok", payment.Bank, "9704000000000001")
	no := e.link(t, "no", payment.Bank, "9704000000000004")
	e.clock.Set(time.Date(2026, 11, 24, 22, 0, 0, 0, fare.Zone))
	approved := map[string]payment.Result{}
	for i := range 12 {
		if i == 8 {
			e.clock.Set(time.Date(2026, 11, 24, 23, 59, 59, 0, fare.Zone)) // 8..11 land after local midnight
		}
		tok := ok.Token
		if i%4 == 3 {
			tok = no.Token
		}
		key := fmt.Sprintf("d%d", i)
		res, err := e.client.Debit(ctx, payment.DebitRequest{Key: key, Token: tok, Amount: dong(int64(8_000 + i*1_000))})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status == payment.Approved {
			approved[key] = res
		}
	}
	got := map[string]payment.Settlement{}
	for _, day := range []time.Time{
		time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),  // 19:00 on the 24th, local
		time.Date(2026, 11, 24, 17, 30, 0, 0, time.UTC), // 00:30 on the 25th, local
	} {
		list, err := e.client.Settlements(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.At.In(fare.Zone).Day() != day.In(fare.Zone).Day() {
				t.Errorf("%s reported on %s", s.At, day)
			}
			got[s.Key] = s
		}
	}
	if len(got) != len(approved) {
		t.Fatalf("report has %d debits, %d approved", len(got), len(approved))
	}
	for k, r := range approved {
		s, ok := got[k]
		if !ok || s.Ref != r.Ref || !s.Amount.Equal(r.Amount) || !s.At.Equal(r.At) {
			t.Errorf("%s: settled %+v, approved %+v", k, s, r)
		}
	}
}

// A restarted simulator keeps its idempotency and its reports.
func TestRestartKeepsIdempotency(t *testing.T) {
	state := filepath.Join(t.TempDir(), "pay-sim.jsonl")
	ctx := context.Background()
	e1 := start(t, state)
	e1.client = hung(t, e1)
	l := e1.link(t, "l", payment.Bank, "9704000000000001")
	hung := e1.link(t, "h", payment.Bank, "9704000000000003")
	reqs := []payment.DebitRequest{
		{Key: "a", Token: l.Token, Amount: dong(13_000)},
		{Key: "b", Token: l.Token, Amount: dong(9_000)},
	}
	var first []payment.Result
	for _, r := range reqs {
		res, err := e1.client.Debit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, res)
	}
	// The answer is lost, then the simulator restarts before the retry.
	lost := payment.DebitRequest{Key: "lost", Token: hung.Token, Amount: dong(7_000)}
	if _, err := e1.client.Debit(ctx, lost); !errors.Is(err, payment.ErrUnknownOutcome) {
		t.Fatalf("hung debit err = %v", err)
	}
	report1, _ := e1.client.Settlements(ctx, first[0].At)
	e1.sim.Close()
	e1.srv.Close()

	e2 := start(t, state)
	for i, r := range reqs {
		res, err := e2.client.Debit(ctx, r)
		if err != nil || !same(res, first[i]) {
			t.Fatalf("%s after restart = %+v, %v; want %+v", r.Key, res, err, first[i])
		}
	}
	res, err := e2.client.Debit(ctx, lost)
	if err != nil || res.Status != payment.Approved {
		t.Fatalf("lost debit after restart = %+v, %v", res, err)
	}
	if got := e2.balance(t, payment.Bank, "9704000000000001"); !got.Equal(dong(10_000_000 - 22_000)) {
		t.Fatalf("balance = %s", got)
	}
	if got := e2.balance(t, payment.Bank, "9704000000000003"); !got.Equal(dong(10_000_000 - 7_000)) {
		t.Fatalf("hung source balance = %s", got)
	}
	report2, err := e2.client.Settlements(ctx, first[0].At)
	if err != nil || len(report1) != 3 || fmt.Sprint(report1) != fmt.Sprint(report2) {
		t.Fatalf("report after restart = %v, %v; want %v", report2, err, report1)
	}
	if _, err := e2.client.Debit(ctx, payment.DebitRequest{Key: "a", Token: l.Token, Amount: dong(13_001)}); !errors.Is(err, payment.ErrKeyConflict) {
		t.Fatalf("conflict after restart: %v", err)
	}
}

func TestErrors(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	l := e.link(t, "l", payment.Bank, "9704000000000001")
	t.Run("invalid before sending", func(t *testing.T) {
		for _, req := range []payment.DebitRequest{
			{Key: "x", Token: l.Token, Amount: decimal.RequireFromString("1500.5")},
			{Key: "x", Token: l.Token, Amount: dong(0)},
			{Key: "", Token: l.Token, Amount: dong(1)},
		} {
			if _, err := e.client.Debit(ctx, req); !errors.Is(err, payment.ErrInvalid) {
				t.Errorf("Debit(%+v) err = %v", req, err)
			}
		}
		if _, err := e.client.Link(ctx, payment.LinkRequest{Key: "x", Subject: "001090012345", Method: payment.Bank, Account: "0123456789", ConsentVersion: "v1"}); !errors.Is(err, payment.ErrInvalid) {
			t.Errorf("link with a CCCD: %v", err)
		}
	})
	t.Run("invalid at the provider", func(t *testing.T) {
		_, err := e.client.Debit(ctx, payment.DebitRequest{Key: "x", Token: "pt_nobody", Amount: dong(1)})
		if !errors.Is(err, payment.ErrInvalid) || !strings.Contains(err.Error(), "token") {
			t.Errorf("unknown token: %v", err)
		}
		_, err = e.client.Link(ctx, payment.LinkRequest{Key: "x", Subject: "vn_a", Method: payment.EWallet, Account: "12345", ConsentVersion: "v1"})
		if !errors.Is(err, payment.ErrInvalid) || !strings.Contains(err.Error(), "account: ") {
			t.Errorf("bad wallet: %v", err)
		}
		if err := e.client.Unlink(ctx, "pt_nobody"); !errors.Is(err, payment.ErrInvalid) {
			t.Errorf("unlink unknown: %v", err)
		}
	})
	t.Run("key conflict", func(t *testing.T) {
		if _, err := e.client.Debit(ctx, payment.DebitRequest{Key: "c", Token: l.Token, Amount: dong(1_000)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.Debit(ctx, payment.DebitRequest{Key: "c", Token: l.Token, Amount: dong(2_000)}); !errors.Is(err, payment.ErrKeyConflict) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unlink", func(t *testing.T) {
		if err := e.client.Unlink(ctx, l.Token); err != nil {
			t.Fatal(err)
		}
		if err := e.client.Unlink(ctx, l.Token); err != nil {
			t.Fatalf("unlink twice: %v", err)
		}
		res, err := e.client.Debit(ctx, payment.DebitRequest{Key: "u", Token: l.Token, Amount: dong(1_000)})
		if err != nil || res.DeclineCode != payment.DeclineAccountUnlinked {
			t.Errorf("debit after unlink = %+v, %v", res, err)
		}
	})
	t.Run("wrong client key", func(t *testing.T) {
		bad := newClient(t, e.srv.URL, "not-the-client-key-0000")
		_, err := bad.Debit(ctx, payment.DebitRequest{Key: "w", Token: l.Token, Amount: dong(1)})
		if err == nil || errors.Is(err, payment.ErrInvalid) || errors.Is(err, payment.ErrUnknownOutcome) || !strings.Contains(err.Error(), "client key") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("provider down", func(t *testing.T) {
		down := httptest.NewServer(e.sim.Handler())
		down.Close()
		_, err := newClient(t, down.URL, clientKey).Debit(ctx, payment.DebitRequest{Key: "z", Token: l.Token, Amount: dong(1)})
		if !errors.Is(err, payment.ErrUnknownOutcome) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("caller gives up", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := e.client.Debit(cctx, payment.DebitRequest{Key: "y", Token: l.Token, Amount: dong(1)})
		if !errors.Is(err, payment.ErrUnknownOutcome) || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("provider failing", func(t *testing.T) {
		e.sim.Close() // later changes fail: 503
		_, err := e.client.Debit(ctx, payment.DebitRequest{Key: "f", Token: l.Token, Amount: dong(1)})
		if !errors.Is(err, payment.ErrUnknownOutcome) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestConfig(t *testing.T) {
	for _, cfg := range []payhttp.Config{
		{BaseURL: "", ClientKey: "k"},
		{BaseURL: "localhost:58092", ClientKey: "k"},
		{BaseURL: "ftp://x", ClientKey: "k"},
		{BaseURL: "http://127.0.0.1:58092"},
		{BaseURL: "http://127.0.0.1:58092", ClientKey: "k", Timeout: -1},
	} {
		if _, err := payhttp.New(cfg); !errors.Is(err, payhttp.ErrInvalidConfig) {
			t.Errorf("New(%+v) err = %v", cfg, err)
		}
	}
}
