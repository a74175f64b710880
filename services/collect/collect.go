// Package collect charges post-paid riders: once a day it debits each
// rider's linked bank account or e-wallet for what they owe (one debit per
// rider per day, to cut fees), and it recovers debts when a rider asks to
// pay. A debit whose outcome is unknown (the provider timed out) is asked
// again under the same key until the provider answers, so a rider is never
// charged twice; a declined debit puts the account in debt, and entry is
// refused once the debt is over the limit (admission.Config.DebtLimit).
package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vnpass/vnpass/payment"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Store is what collection needs of the settlement store (*settlepg.Store).
type Store interface {
	PlanCollections(ctx context.Context, day time.Time) (int, error)
	PendingCollections(ctx context.Context, limit int) ([]settlepg.Collection, error)
	CollectionAttempted(ctx context.Context, key string) error
	CompleteCollection(ctx context.Context, key string, approved bool, ref, declineCode string) error
	StartRecovery(ctx context.Context, subject, key string) (settlepg.Collection, error)
}

// Collector runs collections against the payment providers.
type Collector struct {
	Store     Store
	Providers map[string]payment.Provider // by Provider.Name()
	Log       *slog.Logger
}

// Summary counts what a run did.
type Summary struct {
	Planned  int // collections created for the day
	Approved int
	Declined int
	Unknown  int // no answer: still pending, asked again next run
	Failed   int // refused as invalid, or no such provider: see the log
}

// Run plans the collections of day (idempotent) and asks the providers for
// every debit still pending, older ones included.
func (c *Collector) Run(ctx context.Context, day time.Time) (Summary, error) {
	var s Summary
	n, err := c.Store.PlanCollections(ctx, day)
	if err != nil {
		return s, err
	}
	s.Planned = n
	err = c.Retry(ctx, &s)
	return s, err
}

// Retry asks the providers for every debit still pending.
func (c *Collector) Retry(ctx context.Context, s *Summary) error {
	pending, err := c.Store.PendingCollections(ctx, 10000)
	if err != nil {
		return err
	}
	for _, col := range pending {
		if err := c.debit(ctx, col, s); err != nil {
			return err
		}
	}
	return nil
}

// debit asks for one collection and records the answer. Only a store
// error is returned: a provider's failure is counted and logged.
func (c *Collector) debit(ctx context.Context, col settlepg.Collection, s *Summary) error {
	p := c.Providers[col.Provider]
	if p == nil {
		s.Failed++
		c.log().Error("collection for an unknown provider", "key", col.Key, "provider", col.Provider)
		return nil
	}
	res, err := p.Debit(ctx, payment.DebitRequest{Key: col.Key, Token: col.Token, Amount: col.Amount,
		Memo: "vnpass " + col.Day.Format(time.DateOnly)})
	switch {
	case errors.Is(err, payment.ErrUnknownOutcome):
		s.Unknown++
		c.log().Warn("debit outcome unknown; asked again next run with the same key", "key", col.Key, "err", err)
		return c.Store.CollectionAttempted(ctx, col.Key)
	case err != nil:
		s.Failed++
		c.log().Error("debit refused", "key", col.Key, "err", err)
		return c.Store.CollectionAttempted(ctx, col.Key)
	case res.Status == payment.Approved:
		s.Approved++
		return c.Store.CompleteCollection(ctx, col.Key, true, res.Ref, "")
	default:
		s.Declined++
		return c.Store.CompleteCollection(ctx, col.Key, false, res.Ref, res.DeclineCode)
	}
}

// Recover collects everything a rider owes now, at the rider's request
// (paying a debt to travel again). key makes the request idempotent. It
// returns the collection with its outcome.
func (c *Collector) Recover(ctx context.Context, subject, key string) (settlepg.Collection, Summary, error) {
	var s Summary
	col, err := c.Store.StartRecovery(ctx, subject, key)
	if err != nil {
		return col, s, err
	}
	if col.Status != "pending" {
		return col, s, nil
	}
	if err := c.debit(ctx, col, &s); err != nil {
		return col, s, err
	}
	switch {
	case s.Approved == 1:
		col.Status = "approved"
	case s.Declined == 1:
		col.Status = "declined"
	}
	return col, s, nil
}

// Every runs a collection for the previous local day once a day at the
// local time of day given (e.g. 2h), and retries pending debits every
// retry interval, until ctx ends.
func (c *Collector) Every(ctx context.Context, at time.Duration, retry time.Duration, now func() time.Time, zone *time.Location) {
	next := func() time.Time {
		t := now().In(zone)
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, zone).Add(at)
		if !d.After(t) {
			d = d.Add(24 * time.Hour)
		}
		return d
	}
	due := next()
	tick := time.NewTicker(retry)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var s Summary
		var err error
		if !now().Before(due) {
			s, err = c.Run(ctx, now().In(zone).Add(-24*time.Hour))
			due = next()
		} else {
			err = c.Retry(ctx, &s)
		}
		if err != nil {
			c.log().Error("collection run", "err", err)
		} else if s != (Summary{}) {
			c.log().Info("collection run", "summary", fmt.Sprintf("%+v", s))
		}
	}
}

func (c *Collector) log() *slog.Logger {
	if c.Log == nil {
		return slog.Default()
	}
	return c.Log
}
