package settlepg

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
)

// ProviderSettlement is one approved debit in a payment provider's daily
// settlement report: the key we sent, the amount it moved.
type ProviderSettlement struct {
	Key    string
	Ref    string
	Amount decimal.Decimal
}

// Difference is one thing reconciliation could not match.
type Difference struct {
	Check  string // which check: tap_without_journey, journey_ledger, orphan_posting, day_unbalanced, provider_missing, ledger_missing, provider_amount, books
	Ref    string // the tap, journey, transaction or key concerned
	Detail string
}

func (d Difference) String() string { return d.Check + " " + d.Ref + ": " + d.Detail }

// Reconciliation proves one local day: taps accepted = journeys priced =
// ledger postings, the ledger balances, and every provider's settlement
// report matches the ledger. Differences lists every mismatch found.
type Reconciliation struct {
	Day            string
	TapsRecorded   int64 // every tap that decoded, whatever the decision
	EntriesOpened  int64 // entry taps accepted
	ExitsOpened    int64 // exit taps accepted
	JourneysClosed int64 // journeys closed by an exit tap that day
	JourneysPriced int64 // journeys priced that day (by an exit, or at the maximum fare)
	JourneysPaid   int64 // of those, with a fare above zero
	FarePostings   int64 // ledger transactions moving fares for those journeys
	Fares          decimal.Decimal
	// Providers lists, per provider whose report was given, how many of its
	// debits matched the ledger.
	Providers   map[string]int
	Unreported  map[string]int // ledger movements of providers with no report given
	Books       Books
	Differences []Difference
}

// OK reports whether the day reconciled.
func (r Reconciliation) OK() bool { return len(r.Differences) == 0 }

// Reconcile checks the local day. reports holds the settlement report of
// each payment provider that could be asked, by provider name.
func (s *Store) Reconcile(ctx context.Context, day time.Time, reports map[string][]ProviderSettlement) (Reconciliation, error) {
	from, to := dayBounds(day)
	r := Reconciliation{Day: from.In(fare.Zone).Format(time.DateOnly), Providers: map[string]int{}, Unreported: map[string]int{}}
	diff := func(check, ref, format string, args ...any) {
		r.Differences = append(r.Differences, Difference{check, ref, fmt.Sprintf(format, args...)})
	}
	db := s.reader() // a replica within its lag bound will do: a past day's report
	q := func(sql string, dst ...any) error {
		if err := db.QueryRow(ctx, sql, from, to).Scan(dst...); err != nil {
			return fmt.Errorf("settlepg: reconcile: %w", err)
		}
		return nil
	}
	if err := q(`SELECT count(*),
			count(*) FILTER (WHERE open AND kind = 'metro_entry'),
			count(*) FILTER (WHERE open AND kind = 'metro_exit')
		FROM taps WHERE received_at >= $1 AND received_at < $2`, &r.TapsRecorded, &r.EntriesOpened, &r.ExitsOpened); err != nil {
		return r, err
	}
	if err := q(`SELECT count(*) FILTER (WHERE exit_event IS NOT NULL AND status = 'closed'), count(*),
			count(*) FILTER (WHERE fare > 0), coalesce(sum(fare), 0)
		FROM journeys WHERE status <> 'open' AND exit_at >= $1 AND exit_at < $2`,
		&r.JourneysClosed, &r.JourneysPriced, &r.JourneysPaid, &r.Fares); err != nil {
		return r, err
	}
	if err := q(`SELECT count(DISTINCT t.id) FROM ledger_transactions t JOIN journeys j ON j.id = t.journey_id
		WHERE t.kind = 'fare' AND j.status <> 'open' AND j.exit_at >= $1 AND j.exit_at < $2`, &r.FarePostings); err != nil {
		return r, err
	}

	// Every accepted tap belongs to a journey.
	rows, err := db.Query(ctx, `SELECT event_id::text, kind FROM taps
		WHERE open AND journey_id IS NULL AND received_at >= $1 AND received_at < $2 ORDER BY received_at LIMIT 1000`, from, to)
	if err != nil {
		return r, fmt.Errorf("settlepg: reconcile: %w", err)
	}
	for rows.Next() {
		var id, kind string
		if err := rows.Scan(&id, &kind); err != nil {
			rows.Close()
			return r, err
		}
		diff("tap_without_journey", id, "%s tap opened the gate but belongs to no journey", kind)
	}
	rows.Close()

	// Every exit tap that closed a journey is that journey's exit.
	rows, err = s.pool.Query(ctx, `SELECT t.event_id::text FROM taps t JOIN journeys j ON j.id = t.journey_id
		WHERE t.open AND t.kind = 'metro_exit' AND t.received_at >= $1 AND t.received_at < $2
		AND j.exit_event IS DISTINCT FROM t.event_id AND t.fare > 0 LIMIT 1000`, from, to)
	if err != nil {
		return r, fmt.Errorf("settlepg: reconcile: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return r, err
		}
		diff("tap_without_journey", id, "charged exit tap is not the exit of its journey")
	}
	rows.Close()

	// What the rider paid for each journey priced that day, in the ledger
	// (fares and fare corrections; refunds are goodwill on top), equals
	// the journey's fare.
	rows, err = s.pool.Query(ctx, `SELECT j.id, j.fare, coalesce(-sum(e.amount), 0)
		FROM journeys j
		LEFT JOIN ledger_transactions t ON t.journey_id = j.id AND t.kind IN ('fare', 'fare_correction')
		LEFT JOIN ledger_entries e ON e.transaction_id = t.id AND e.account_id = 'rider:' || j.subject
		WHERE j.status <> 'open' AND j.exit_at >= $1 AND j.exit_at < $2
		GROUP BY j.id, j.fare HAVING j.fare IS DISTINCT FROM coalesce(-sum(e.amount), 0)
		ORDER BY j.id LIMIT 1000`, from, to)
	if err != nil {
		return r, fmt.Errorf("settlepg: reconcile: %w", err)
	}
	for rows.Next() {
		var id int64
		var fareAmt *decimal.Decimal
		var paid decimal.Decimal
		if err := rows.Scan(&id, &fareAmt, &paid); err != nil {
			rows.Close()
			return r, err
		}
		f := "none"
		if fareAmt != nil {
			f = money.Format(*fareAmt)
		}
		diff("journey_ledger", fmt.Sprint(id), "journey fare %s, ledger charged the rider %s", f, money.Format(paid))
	}
	rows.Close()

	// Fare movements name their journey.
	rows, err = s.pool.Query(ctx, `SELECT idempotency_key FROM ledger_transactions
		WHERE kind IN ('fare', 'fare_correction', 'refund') AND journey_id IS NULL
		AND created_at >= $1 AND created_at < $2 LIMIT 1000`, from, to)
	if err != nil {
		return r, fmt.Errorf("settlepg: reconcile: %w", err)
	}
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			rows.Close()
			return r, err
		}
		diff("orphan_posting", key, "fare movement names no journey")
	}
	rows.Close()

	// The day's transactions balance one by one.
	rows, err = s.pool.Query(ctx, `SELECT t.idempotency_key, sum(e.amount) FROM ledger_transactions t
		JOIN ledger_entries e ON e.transaction_id = t.id
		WHERE t.created_at >= $1 AND t.created_at < $2 GROUP BY t.id HAVING sum(e.amount) <> 0 LIMIT 1000`, from, to)
	if err != nil {
		return r, fmt.Errorf("settlepg: reconcile: %w", err)
	}
	for rows.Next() {
		var key string
		var sum decimal.Decimal
		if err := rows.Scan(&key, &sum); err != nil {
			rows.Close()
			return r, err
		}
		diff("day_unbalanced", key, "entries sum to %s", sum)
	}
	rows.Close()

	// Provider settlements against the ledger's movements on each
	// provider's settlement account.
	type mv struct {
		provider string
		amount   decimal.Decimal
	}
	moves := make(map[string]mv)
	rows, err = s.pool.Query(ctx, `SELECT e.account_id, t.idempotency_key, -e.amount FROM ledger_entries e
		JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE e.account_id LIKE 'provider:%:settlement' AND t.created_at >= $1 AND t.created_at < $2`, from, to)
	if err != nil {
		return r, fmt.Errorf("settlepg: reconcile: %w", err)
	}
	for rows.Next() {
		var acct, key string
		var amount decimal.Decimal
		if err := rows.Scan(&acct, &key, &amount); err != nil {
			rows.Close()
			return r, err
		}
		moves[key] = mv{providerOf(acct), amount}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("settlepg: reconcile: %w", err)
	}
	reported := make(map[string]bool)
	var names []string
	for name := range reports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, st := range reports[name] {
			reported[st.Key] = true
			m, ok := moves[st.Key]
			switch {
			case !ok || m.provider != name:
				diff("ledger_missing", st.Key, "%s settled %s (ref %s) that the ledger does not hold", name, money.Format(st.Amount), st.Ref)
			case !m.amount.Equal(st.Amount):
				diff("provider_amount", st.Key, "%s settled %s, the ledger moved %s", name, money.Format(st.Amount), money.Format(m.amount))
			default:
				r.Providers[name]++
			}
		}
	}
	keys := make([]string, 0, len(moves))
	for k := range moves {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m := moves[k]
		if _, asked := reports[m.provider]; !asked {
			r.Unreported[m.provider]++
			continue
		}
		if !reported[k] {
			diff("provider_missing", k, "the ledger moved %s from %s, which did not settle it", money.Format(m.amount), m.provider)
		}
	}

	if r.Books, err = s.Books(ctx); err != nil {
		return r, err
	}
	if !r.Books.Balanced() {
		diff("books", "ledger", "debits %s, credits %s, %d unbalanced transactions, %d accounts drifted",
			r.Books.Debits, r.Books.Credits, r.Books.UnbalancedTx, r.Books.BalanceDrift)
	}
	return r, nil
}

func providerOf(account string) string {
	const pre, suf = "provider:", ":settlement"
	if len(account) > len(pre)+len(suf) {
		return account[len(pre) : len(account)-len(suf)]
	}
	return account
}
