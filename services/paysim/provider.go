package paysim

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/payment"
)

var _ payment.Provider = (*Server)(nil)

// Link links a funding source to a rider. The source is created with the
// default balance and the behaviour its account number gives (Behaviour) if
// the simulator has not seen it. The same key returns the same link; the same
// key for another subject, method, account or consent version is
// payment.ErrKeyConflict.
func (s *Server) Link(ctx context.Context, req payment.LinkRequest) (payment.Link, error) {
	l, _, err := s.link(ctx, req)
	return l, err
}

func (s *Server) link(ctx context.Context, req payment.LinkRequest) (payment.Link, bool, error) {
	if err := req.Validate(); err != nil {
		return payment.Link{}, false, err
	}
	account, err := normalise(req.Method, req.Account)
	if err != nil {
		return payment.Link{}, false, err
	}
	id := sourceID{req.Method, account}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.st.linkByKey[req.Key]; l != nil {
		if l.subject != req.Subject || l.source != id || l.consent != req.ConsentVersion {
			return payment.Link{}, false, fmt.Errorf("%w: link key %q", payment.ErrKeyConflict, req.Key)
		}
		return s.linkOf(l), true, nil
	}
	now := s.cfg.Now()
	if s.st.sources[id] == nil {
		if err := s.commit(event{Op: opSource, At: now, Method: id.Method, Account: id.Account,
			Balance: s.cfg.DefaultBalance.IntPart(), Behaviour: behaviourFor(account)}); err != nil {
			return payment.Link{}, false, err
		}
	}
	token, err := s.newToken()
	if err != nil {
		return payment.Link{}, false, err
	}
	if err := s.commit(event{Op: opLink, At: now, Method: id.Method, Account: id.Account,
		Key: req.Key, Token: token, Subject: req.Subject, Consent: req.ConsentVersion}); err != nil {
		return payment.Link{}, false, err
	}
	s.metrics.add(`paysim_links_total`, 1)
	s.log.InfoContext(ctx, "linked", "method", id.Method, "masked", mask(account))
	return s.linkOf(s.st.links[token]), false, nil
}

func (s *Server) linkOf(l *link) payment.Link {
	return payment.Link{Token: l.token, Masked: mask(l.source.Account), Method: l.source.Method, Provider: s.cfg.Name}
}

// newToken is opaque and unguessable; called with s.mu held.
func (s *Server) newToken() (string, error) {
	b := make([]byte, 18)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("paysim: read random: %w", err)
	}
	return "pt_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Unlink ends a link; later debits on its token decline with account_unlinked.
func (s *Server) Unlink(ctx context.Context, token string) error {
	if err := payment.ValidToken(token); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.st.links[token]
	if l == nil {
		return ErrUnknownToken
	}
	if l.unlinked {
		return nil
	}
	if err := s.commit(event{Op: opUnlink, At: s.cfg.Now(), Token: token}); err != nil {
		return err
	}
	s.metrics.add(`paysim_unlinks_total`, 1)
	s.log.InfoContext(ctx, "unlinked", "method", l.source.Method, "masked", mask(l.source.Account))
	return nil
}

// Debit takes req.Amount from the source behind req.Token, once per key. On a
// Hang source a new debit is decided, then its answer held until ctx ends
// (payment.ErrUnknownOutcome), the server shuts down or HangFor passes.
func (s *Server) Debit(ctx context.Context, req payment.DebitRequest) (payment.Result, error) {
	res, fresh, hang, err := s.debit(ctx, req)
	if err != nil {
		return payment.Result{}, err
	}
	if fresh && hang {
		if err := s.hang(ctx); err != nil {
			return payment.Result{}, fmt.Errorf("%w: %w", payment.ErrUnknownOutcome, err)
		}
	}
	return res, nil
}

// debit decides a debit or finds the one already decided under its key.
// fresh is false for a replay; hang tells the caller to hold the answer.
func (s *Server) debit(ctx context.Context, req payment.DebitRequest) (res payment.Result, fresh, hang bool, err error) {
	if err := req.Validate(); err != nil {
		return payment.Result{}, false, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.st.debits[req.Key]; d != nil {
		if d.token != req.Token || !d.amount.Equal(req.Amount) {
			return payment.Result{}, false, false, fmt.Errorf("%w: debit key %q was used for another token or amount", payment.ErrKeyConflict, req.Key)
		}
		s.metrics.add(`paysim_debit_replays_total`, 1)
		return d.result(), false, false, nil
	}
	l := s.st.links[req.Token]
	if l == nil {
		return payment.Result{}, false, false, ErrUnknownToken
	}
	src := s.st.sources[l.source]
	now := s.cfg.Now()
	e := event{Op: opDebit, At: now, Key: req.Key, Token: req.Token, Amount: req.Amount.IntPart(), Memo: req.Memo,
		Status: payment.Declined, Ref: fmt.Sprintf("SIM%s-%08d", now.In(fare.Zone).Format("060102"), s.st.debitSeq+1)}
	switch {
	case l.unlinked:
		e.Decline = payment.DeclineAccountUnlinked
	case src.behaviour == DeclineClosed:
		e.Decline = payment.DeclineAccountClosed
	case src.behaviour == DeclineFunds, src.balance.LessThan(req.Amount):
		e.Decline = payment.DeclineInsufficientFunds
	default:
		e.Status = payment.Approved
	}
	if err := s.commit(e); err != nil {
		return payment.Result{}, false, false, err
	}
	d := s.st.debits[req.Key]
	s.metrics.add(`paysim_debits_total{status="`+string(d.status)+`"}`, 1)
	if d.status == payment.Approved {
		s.metrics.add(`paysim_approved_vnd_total`, d.amount.IntPart())
	}
	hang = src.behaviour == Hang && !l.unlinked
	if hang {
		s.metrics.add(`paysim_debit_hangs_total`, 1)
	}
	s.log.DebugContext(ctx, "debit decided", "ref", d.ref, "status", d.status, "decline_code", d.declineCode, "amount_vnd", e.Amount, "hang", hang)
	return d.result(), true, hang, nil
}

// hang holds an answer until ctx ends (the client gave up), the server stops
// or HangFor passes.
func (s *Server) hang(ctx context.Context) error {
	t := time.NewTimer(s.cfg.HangFor)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return ErrClosed
	case <-t.C:
		return nil
	}
}

// Settlements reports the approved debits of the local day containing day.
func (s *Server) Settlements(ctx context.Context, day time.Time) ([]payment.Settlement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.settlements(dayOf(day)), nil
}

// Source shows a funding source; ErrUnknownSource if the simulator has not seen it.
func (s *Server) Source(ctx context.Context, m payment.Method, account string) (Source, error) {
	a, err := normalise(m, account)
	if err != nil {
		return Source{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.st.sources[sourceID{m, a}]
	if src == nil {
		return Source{}, ErrUnknownSource
	}
	return s.sourceOf(src), nil
}

// SetSource sets a source's balance and behaviour, creating it if new (so a
// test can prepare a source before the rider links it): "the rider's bank
// declines", then "the rider tops up the bank".
func (s *Server) SetSource(ctx context.Context, m payment.Method, account string, u SourceUpdate) (Source, error) {
	a, err := normalise(m, account)
	if err != nil {
		return Source{}, err
	}
	if u.Balance != nil {
		if err := validBalance(*u.Balance); err != nil {
			return Source{}, err
		}
	}
	if u.Behaviour != "" && !u.Behaviour.Valid() {
		return Source{}, fmt.Errorf("%w: behaviour %q must be one of %q, %q, %q, %q", payment.ErrInvalid, u.Behaviour, Approve, DeclineFunds, DeclineClosed, Hang)
	}
	id := sourceID{m, a}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := event{Op: opSource, At: s.cfg.Now(), Method: m, Account: a, Balance: s.cfg.DefaultBalance.IntPart(), Behaviour: behaviourFor(a)}
	if src := s.st.sources[id]; src != nil {
		e.Balance, e.Behaviour = src.balance.IntPart(), src.behaviour
	}
	if u.Balance != nil {
		e.Balance = u.Balance.IntPart()
	}
	if u.Behaviour != "" {
		e.Behaviour = u.Behaviour
	}
	if err := s.commit(e); err != nil {
		return Source{}, err
	}
	s.log.InfoContext(ctx, "source set", "method", m, "masked", mask(a), "balance_vnd", e.Balance, "behaviour", e.Behaviour)
	return s.sourceOf(s.st.sources[id]), nil
}

// MaxBalance bounds a source's balance (whole dong).
var MaxBalance = decimal.NewFromInt(1_000_000_000_000)

func validBalance(b decimal.Decimal) error {
	if !b.IsInteger() || b.IsNegative() || b.GreaterThan(MaxBalance) {
		return fmt.Errorf("%w: balance %s must be a whole number of dong from 0 to %s", payment.ErrInvalid, b, MaxBalance)
	}
	return nil
}

// sourceOf shows src; called with s.mu held.
func (s *Server) sourceOf(src *source) Source {
	n := 0
	for _, l := range s.st.links {
		if l.source == src.id && !l.unlinked {
			n++
		}
	}
	return Source{Method: src.id.Method, Masked: mask(src.id.Account), Balance: src.balance, Behaviour: src.behaviour, ActiveLinks: n}
}
