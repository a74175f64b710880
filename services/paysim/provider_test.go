package paysim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/payment"
)

// The magic account numbers, in process.
func TestBehaviourByAccount(t *testing.T) {
	s := newSim(t, Config{HangFor: time.Minute})
	ctx := context.Background()
	tests := []struct {
		account     string
		status      payment.Status
		decline     string
		hang        bool
		wantBalance int64
	}{
		{"9704000000001", payment.Approved, "", false, 10_000_000 - 15_000},
		{"0123456789", payment.Approved, "", false, 10_000_000 - 15_000},
		{"9704000000002", payment.Declined, payment.DeclineInsufficientFunds, false, 10_000_000},
		{"9704000000003", payment.Approved, "", true, 10_000_000 - 15_000},
		{"9704000000004", payment.Declined, payment.DeclineAccountClosed, false, 10_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			l := mustLink(t, s, "link-"+tt.account, payment.Bank, tt.account)
			if l.Masked != "•••• "+tt.account[len(tt.account)-4:] || l.Provider != "paysim" || l.Method != payment.Bank {
				t.Fatalf("link = %+v", l)
			}
			req := payment.DebitRequest{Key: "debit-" + tt.account, Token: l.Token, Amount: dong(15_000), Memo: "vnpass 24/11"}
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			res, err := s.Debit(cctx, req)
			cancel()
			if tt.hang {
				if !errors.Is(err, payment.ErrUnknownOutcome) {
					t.Fatalf("debit on a hanging source = %+v, %v; want ErrUnknownOutcome", res, err)
				}
				// The retry with the same key answers at once with what happened.
				if res, err = s.Debit(ctx, req); err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status || res.DeclineCode != tt.decline || res.Ref == "" || !res.Amount.Equal(dong(15_000)) {
				t.Fatalf("result = %+v, want %s %q", res, tt.status, tt.decline)
			}
			if got := balance(t, s, payment.Bank, tt.account); !got.Equal(dong(tt.wantBalance)) {
				t.Fatalf("balance = %s, want %d", got, tt.wantBalance)
			}
		})
	}
}

func TestLinkIdempotent(t *testing.T) {
	s := newSim(t, Config{})
	ctx := context.Background()
	req := payment.LinkRequest{Key: "l1", Subject: "vn_a", Method: payment.EWallet, Account: "+84 912 345 678", ConsentVersion: "v1"}
	a, err := s.Link(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Masked != "•••• 5678" || a.Method != payment.EWallet {
		t.Fatalf("link = %+v", a)
	}
	req.Account = "0912-345-678" // the same wallet typed another way
	b, err := s.Link(ctx, req)
	if err != nil || b != a {
		t.Fatalf("same key again = %+v, %v; want %+v", b, err, a)
	}
	req.Subject = "vn_b"
	if _, err := s.Link(ctx, req); !errors.Is(err, payment.ErrKeyConflict) {
		t.Fatalf("same key, other subject: err = %v", err)
	}
	// A second link of the same wallet shares its balance.
	c, err := s.Link(ctx, payment.LinkRequest{Key: "l2", Subject: "vn_b", Method: payment.EWallet, Account: "0912345678", ConsentVersion: "v1"})
	if err != nil || c.Token == a.Token {
		t.Fatalf("second link = %+v, %v", c, err)
	}
	if src, _ := s.Source(ctx, payment.EWallet, "0912345678"); src.ActiveLinks != 2 {
		t.Fatalf("active links = %d", src.ActiveLinks)
	}
}

func TestDebitRules(t *testing.T) {
	s := newSim(t, Config{})
	ctx := context.Background()
	l := mustLink(t, s, "l", payment.Bank, "9704001234567")
	first, err := s.Debit(ctx, payment.DebitRequest{Key: "k1", Token: l.Token, Amount: dong(13_000)})
	if err != nil || first.Status != payment.Approved {
		t.Fatalf("debit = %+v, %v", first, err)
	}
	t.Run("replay", func(t *testing.T) {
		again, err := s.Debit(ctx, payment.DebitRequest{Key: "k1", Token: l.Token, Amount: dong(13_000), Memo: "memo differs"})
		if err != nil || !sameResult(again, first) {
			t.Fatalf("replay = %+v, %v; want %+v", again, err, first)
		}
		if got := balance(t, s, payment.Bank, "9704001234567"); !got.Equal(dong(10_000_000 - 13_000)) {
			t.Fatalf("balance = %s", got)
		}
	})
	t.Run("conflict", func(t *testing.T) {
		if _, err := s.Debit(ctx, payment.DebitRequest{Key: "k1", Token: l.Token, Amount: dong(13_001)}); !errors.Is(err, payment.ErrKeyConflict) {
			t.Fatalf("other amount: err = %v", err)
		}
		other := mustLink(t, s, "l2", payment.Bank, "9704007654321")
		if _, err := s.Debit(ctx, payment.DebitRequest{Key: "k1", Token: other.Token, Amount: dong(13_000)}); !errors.Is(err, payment.ErrKeyConflict) {
			t.Fatalf("other token: err = %v", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, req := range []payment.DebitRequest{
			{Key: "x", Token: "pt_nobody", Amount: dong(1)},
			{Key: "x", Token: l.Token, Amount: dong(0)},
			{Key: "", Token: l.Token, Amount: dong(1)},
		} {
			if _, err := s.Debit(ctx, req); !errors.Is(err, payment.ErrInvalid) {
				t.Errorf("Debit(%+v) err = %v, want ErrInvalid", req, err)
			}
		}
		if _, err := s.Debit(ctx, payment.DebitRequest{Key: "x", Token: "pt_nobody", Amount: dong(1)}); !errors.Is(err, ErrUnknownToken) {
			t.Errorf("unknown token err = %v", err)
		}
	})
	t.Run("balance", func(t *testing.T) {
		zero := dong(0)
		if _, err := s.SetSource(ctx, payment.Bank, "9704001234567", SourceUpdate{Balance: &zero}); err != nil {
			t.Fatal(err)
		}
		res, err := s.Debit(ctx, payment.DebitRequest{Key: "k2", Token: l.Token, Amount: dong(13_000)})
		if err != nil || res.Status != payment.Declined || res.DeclineCode != payment.DeclineInsufficientFunds {
			t.Fatalf("debit of an empty account = %+v, %v", res, err)
		}
		topped := dong(13_000)
		if _, err := s.SetSource(ctx, payment.Bank, "9704001234567", SourceUpdate{Balance: &topped}); err != nil {
			t.Fatal(err)
		}
		// The declined key stays declined; a new key is approved.
		if res, _ := s.Debit(ctx, payment.DebitRequest{Key: "k2", Token: l.Token, Amount: dong(13_000)}); res.Status != payment.Declined {
			t.Fatalf("declined key replayed as %+v", res)
		}
		if res, _ := s.Debit(ctx, payment.DebitRequest{Key: "k3", Token: l.Token, Amount: dong(13_000)}); res.Status != payment.Approved {
			t.Fatalf("after top-up: %+v", res)
		}
		if got := balance(t, s, payment.Bank, "9704001234567"); !got.IsZero() {
			t.Fatalf("balance = %s", got)
		}
	})
	t.Run("unlink", func(t *testing.T) {
		if err := s.Unlink(ctx, l.Token); err != nil {
			t.Fatal(err)
		}
		if err := s.Unlink(ctx, l.Token); err != nil {
			t.Fatalf("second unlink: %v", err)
		}
		res, err := s.Debit(ctx, payment.DebitRequest{Key: "k4", Token: l.Token, Amount: dong(1)})
		if err != nil || res.Status != payment.Declined || res.DeclineCode != payment.DeclineAccountUnlinked {
			t.Fatalf("debit after unlink = %+v, %v", res, err)
		}
		if err := s.Unlink(ctx, "pt_nobody"); !errors.Is(err, payment.ErrInvalid) {
			t.Fatalf("unlink unknown: %v", err)
		}
	})
}

// Many workers debiting the same keys at once move each key's money once.
func TestConcurrentDebits(t *testing.T) {
	s := newSim(t, Config{})
	ctx := context.Background()
	l := mustLink(t, s, "l", payment.Bank, "9704001111111")
	const keys, workers = 20, 8
	results := make([][]payment.Result, keys)
	for i := range results {
		results[i] = make([]payment.Result, workers)
	}
	var wg sync.WaitGroup
	for k := 0; k < keys; k++ {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := s.Debit(ctx, payment.DebitRequest{Key: fmt.Sprintf("k%d", k), Token: l.Token, Amount: dong(1_000)})
				if err != nil {
					t.Error(err)
				}
				results[k][w] = res
			}()
		}
	}
	wg.Wait()
	for k := range results {
		for w := range results[k] {
			if !sameResult(results[k][w], results[k][0]) || results[k][w].Status != payment.Approved {
				t.Fatalf("key %d: results differ: %+v vs %+v", k, results[k][w], results[k][0])
			}
		}
	}
	if got := balance(t, s, payment.Bank, "9704001111111"); !got.Equal(dong(10_000_000 - keys*1_000)) {
		t.Fatalf("balance = %s", got)
	}
	if got := s.Counter(`paysim_debit_replays_total`); got != keys*(workers-1) {
		t.Fatalf("replays = %d", got)
	}
}

// The report of a local day holds that day's approved debits, cut at local
// midnight (17:00 UTC).
func TestSettlements(t *testing.T) {
	c := newClock()
	s := newSim(t, Config{Now: c.Now})
	ctx := context.Background()
	ok := mustLink(t, s, "ok", payment.Bank, "9704000000001")
	no := mustLink(t, s, "no", payment.Bank, "9704000000002")
	c.Set(time.Date(2026, 11, 24, 23, 59, 0, 0, fare.Zone))
	mustDebit := func(key string, tok string, amount int64) payment.Result {
		res, err := s.Debit(ctx, payment.DebitRequest{Key: key, Token: tok, Amount: dong(amount)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a := mustDebit("a", ok.Token, 13_000)
	mustDebit("declined", no.Token, 8_000)
	b := mustDebit("b", ok.Token, 20_000)
	c.Set(time.Date(2026, 11, 25, 0, 0, 0, 0, fare.Zone)) // the next reading is 00:00:00.001
	d := mustDebit("c", ok.Token, 9_000)

	day1, _ := s.Settlements(ctx, time.Date(2026, 11, 24, 16, 59, 0, 0, time.UTC))
	want1 := []payment.Settlement{{Key: "a", Ref: a.Ref, Amount: a.Amount, At: a.At}, {Key: "b", Ref: b.Ref, Amount: b.Amount, At: b.At}}
	if fmt.Sprint(day1) != fmt.Sprint(want1) {
		t.Fatalf("24/11 = %v, want %v", day1, want1)
	}
	day2, _ := s.Settlements(ctx, time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC))
	if len(day2) != 1 || day2[0].Key != "c" || day2[0].Ref != d.Ref {
		t.Fatalf("25/11 = %v", day2)
	}
	if none, _ := s.Settlements(ctx, time.Date(2026, 11, 23, 12, 0, 0, 0, fare.Zone)); len(none) != 0 {
		t.Fatalf("23/11 = %v", none)
	}
}

func TestNormalise(t *testing.T) {
	tests := []struct {
		m       payment.Method
		in, out string
	}{
		{payment.Bank, "0123 456 789", "0123456789"},
		{payment.Bank, "9704-0000-0000-0003", "9704000000000003"},
		{payment.Bank, "123456", "123456"},
		{payment.Bank, "12345", ""},
		{payment.Bank, "12345678901234567890", ""},
		{payment.Bank, "0123abc", ""},
		{payment.EWallet, "0912 345 678", "0912345678"},
		{payment.EWallet, "+84 912 345 678", "0912345678"},
		{payment.EWallet, "84912345678", "0912345678"},
		{payment.EWallet, "912345678", ""},
		{payment.EWallet, "09123456789", ""},
		{"card", "4111111111111111", ""},
	}
	for _, tt := range tests {
		got, err := normalise(tt.m, tt.in)
		if got != tt.out || (tt.out == "") != errors.Is(err, payment.ErrInvalid) {
			t.Errorf("normalise(%s, %q) = %q, %v; want %q", tt.m, tt.in, got, err, tt.out)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{ClientKey: "short"},
		{ClientKey: testClientKey, AdminKey: "short"},
		{ClientKey: testClientKey, DefaultBalance: dong(-1)},
		{ClientKey: testClientKey, HangFor: -time.Second},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) err = %v", cfg, err)
		}
	}
}
