package settlepg

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/ledger"
)

// JourneyFilter selects a rider's journeys: those that began (or, without
// an entry, ended) in [From, To), newest first, Limit at a time, with ids
// below Before for the next page. Zero times leave that side open.
type JourneyFilter struct {
	Subject  string
	From, To time.Time
	Before   int64
	Limit    int
}

// RiderJourneys lists a rider's journeys as admission recorded them.
func (s *Store) RiderJourneys(ctx context.Context, f JourneyFilter) ([]admission.Journey, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT `+journeyColumns+` FROM journeys
		WHERE subject = $1 AND ($2::bigint = 0 OR id < $2)
		AND ($3::timestamptz IS NULL OR coalesce(entry_at, exit_at) >= $3)
		AND ($4::timestamptz IS NULL OR coalesce(entry_at, exit_at) < $4)
		ORDER BY id DESC LIMIT $5`, f.Subject, f.Before, nullTime(f.From), nullTime(f.To), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: rider journeys: %w", err)
	}
	defer rows.Close()
	var out []admission.Journey
	for rows.Next() {
		j, err := scanJourney(rows)
		if err != nil {
			return nil, fmt.Errorf("settlepg: rider journeys: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// RiderFarePostings is FarePostings for many journeys of one rider at
// once: the ledger transactions that moved each journey's fare on the
// rider's account, oldest first. Journeys of other riders find nothing.
func (s *Store) RiderFarePostings(ctx context.Context, subject string, ids []int64) (map[int64][]explain.Posting, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.journey_id, t.id, t.kind, t.idempotency_key, -e.amount, t.created_at, t.memo
		FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
		WHERE t.journey_id = ANY($1) AND e.account_id = $2
		ORDER BY t.id`, ids, string(ledger.Rider(subject)))
	if err != nil {
		return nil, fmt.Errorf("settlepg: rider fare postings: %w", err)
	}
	defer rows.Close()
	out := make(map[int64][]explain.Posting, len(ids))
	for rows.Next() {
		var journey, txID int64
		var kind, key, memo string
		var amount decimal.Decimal
		var at time.Time
		if err := rows.Scan(&journey, &txID, &kind, &key, &amount, &at, &memo); err != nil {
			return nil, fmt.Errorf("settlepg: rider fare postings: %w", err)
		}
		p := explain.NewPosting(txID, kind, key, amount, at)
		if kind == explain.KindRefund {
			p.Reason = memo
		}
		out[journey] = append(out[journey], p)
	}
	return out, rows.Err()
}

// Pass is a pass a rider holds.
type Pass struct {
	ID         int64
	ProductID  string
	NetworkID  string
	Category   string
	Amount     decimal.Decimal
	PriceRule  string
	ValidFrom  time.Time
	ValidUntil time.Time // exclusive
	BoughtAt   time.Time
}

// RiderPasses lists a rider's passes valid at or after since, soonest
// ending first (a zero since lists them all).
func (s *Store) RiderPasses(ctx context.Context, subject string, since time.Time) ([]Pass, error) {
	// A pass its seller revoked ends at the revocation.
	rows, err := s.pool.Query(ctx, `SELECT id, product_id, network_id, category, amount, price_rule, valid_from,
		least(valid_until, coalesce(revoked_at, valid_until)), created_at
		FROM passes WHERE subject = $1 AND ($2::timestamptz IS NULL OR least(valid_until, coalesce(revoked_at, valid_until)) > $2)
		ORDER BY 8, id`,
		subject, nullTime(since))
	if err != nil {
		return nil, fmt.Errorf("settlepg: rider passes: %w", err)
	}
	defer rows.Close()
	var out []Pass
	for rows.Next() {
		var p Pass
		if err := rows.Scan(&p.ID, &p.ProductID, &p.NetworkID, &p.Category, &p.Amount, &p.PriceRule,
			&p.ValidFrom, &p.ValidUntil, &p.BoughtAt); err != nil {
			return nil, fmt.Errorf("settlepg: rider passes: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// HistoryBefore is History a page at a time: movements with transaction
// ids below before (0: the newest), newest first.
func (s *Store) HistoryBefore(ctx context.Context, subject string, before int64, limit int) ([]Posting, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT t.id, t.created_at, t.kind, t.memo, e.amount, coalesce(t.journey_id, 0)
		FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE e.account_id = $1 AND ($2::bigint = 0 OR t.id < $2) ORDER BY t.id DESC LIMIT $3`,
		string(ledger.Rider(subject)), before, limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: history: %w", err)
	}
	defer rows.Close()
	var out []Posting
	for rows.Next() {
		var p Posting
		if err := rows.Scan(&p.TransactionID, &p.At, &p.Kind, &p.Memo, &p.Amount, &p.JourneyID); err != nil {
			return nil, fmt.Errorf("settlepg: history: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Statement is a rider's account over a period [From, To): the balance at
// each end and every movement between, oldest first, read from the ledger
// entries of the rider's account in one snapshot.
type Statement struct {
	Subject  string
	From, To time.Time
	Opening  decimal.Decimal // the sum of the entries before From
	Closing  decimal.Decimal // the sum of the entries before To
	Lines    []Posting
	// ByKind totals the lines by transaction kind (fare, refund, topup, ...).
	ByKind map[string]decimal.Decimal
	In     decimal.Decimal // the sum of the positive lines
	Out    decimal.Decimal // the sum of the negative lines, as a positive number
}

// Statement reads a rider's statement of [from, to). Its figures come from
// the ledger entries alone: Opening + In - Out = Closing holds by
// construction and is checked against the database's own sums.
func (s *Store) Statement(ctx context.Context, subject string, from, to time.Time) (Statement, error) {
	st := Statement{Subject: subject, From: from, To: to, ByKind: map[string]decimal.Decimal{}}
	acct := string(ledger.Rider(subject))
	tx, err := s.pool.BeginTx(ctx, pgxRepeatableRead)
	if err != nil {
		return Statement{}, fmt.Errorf("settlepg: statement: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, `SELECT
		coalesce(sum(e.amount) FILTER (WHERE t.created_at < $2), 0),
		coalesce(sum(e.amount) FILTER (WHERE t.created_at < $3), 0)
		FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id WHERE e.account_id = $1`,
		acct, from, to).Scan(&st.Opening, &st.Closing); err != nil {
		return Statement{}, fmt.Errorf("settlepg: statement: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT t.id, t.created_at, t.kind, t.memo, e.amount, coalesce(t.journey_id, 0)
		FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE e.account_id = $1 AND t.created_at >= $2 AND t.created_at < $3 ORDER BY t.created_at, t.id`, acct, from, to)
	if err != nil {
		return Statement{}, fmt.Errorf("settlepg: statement: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Posting
		if err := rows.Scan(&p.TransactionID, &p.At, &p.Kind, &p.Memo, &p.Amount, &p.JourneyID); err != nil {
			return Statement{}, fmt.Errorf("settlepg: statement: %w", err)
		}
		st.Lines = append(st.Lines, p)
		st.ByKind[p.Kind] = st.ByKind[p.Kind].Add(p.Amount)
		if p.Amount.IsPositive() {
			st.In = st.In.Add(p.Amount)
		} else {
			st.Out = st.Out.Sub(p.Amount)
		}
	}
	if err := rows.Err(); err != nil {
		return Statement{}, fmt.Errorf("settlepg: statement: %w", err)
	}
	if !st.Opening.Add(st.In).Sub(st.Out).Equal(st.Closing) {
		return Statement{}, fmt.Errorf("settlepg: statement of %s does not add up: %s + %s - %s != %s",
			subject, st.Opening, st.In, st.Out, st.Closing)
	}
	return st, nil
}

var pgxRepeatableRead = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
