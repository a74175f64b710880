package settlepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/ledger"
)

var _ explain.Journeys = (*Store)(nil)

// ErrNoJourney: no journey with that id. It is explain.ErrNoJourney, so
// that the API tells it from a failure without knowing this package.
var ErrNoJourney = explain.ErrNoJourney

// Journey reads one journey as admission recorded it: the fare charged,
// the fare before caps, the rules that priced and capped it, the rider's
// category, the transfer that joined it to the previous journey and the
// pass that paid for it. NULL columns (an exit not yet made, a fare not yet
// set) read as zero values.
func (s *Store) Journey(ctx context.Context, id int64) (admission.Journey, error) {
	j, err := scanJourney(s.pool.QueryRow(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return admission.Journey{}, fmt.Errorf("%w: %d", ErrNoJourney, id)
	}
	if err != nil {
		return admission.Journey{}, fmt.Errorf("settlepg: journey %d: %w", id, err)
	}
	return j, nil
}

// journeyColumns are the columns scanJourney reads.
const journeyColumns = `id, subject, network_id, operator_id, entry_event::text, entry_site, entry_at,
	exit_event::text, exit_site, exit_at, status, fare, full_fare, fare_rule, cap, cap_rule, category,
	transfer_rule, transfer_from, pass_id`

func scanJourney(row pgx.Row) (admission.Journey, error) {
	var j admission.Journey
	var entryEvent, exitEvent, entrySite, exitSite, rule, capKind, capRule, transferRule *string
	var entryAt, exitAt *time.Time
	var fare, full *decimal.Decimal
	var transferFrom, passID *int64
	var status string
	err := row.Scan(&j.ID, &j.Subject, &j.NetworkID, &j.OperatorID, &entryEvent, &entrySite, &entryAt,
		&exitEvent, &exitSite, &exitAt, &status, &fare, &full, &rule, &capKind, &capRule, &j.Category,
		&transferRule, &transferFrom, &passID)
	if err != nil {
		return admission.Journey{}, err
	}
	j.Status = admission.JourneyStatus(status)
	j.EntryEvent, j.EntrySite, j.ExitEvent, j.ExitSite = deref(entryEvent), deref(entrySite), deref(exitEvent), deref(exitSite)
	j.FareRule, j.Cap, j.CapRule, j.TransferRule = deref(rule), deref(capKind), deref(capRule), deref(transferRule)
	if entryAt != nil {
		j.EntryAt = *entryAt
	}
	if exitAt != nil {
		j.ExitAt = *exitAt
	}
	if fare != nil {
		j.Fare = *fare
	}
	if full != nil {
		j.FullFare = *full
	}
	if transferFrom != nil {
		j.TransferFrom = *transferFrom
	}
	if passID != nil {
		j.PassID = *passID
	}
	return j, nil
}

// fareKeys are the idempotency keys admission gives the ledger
// transactions that move a journey's fare: the charge at the exit
// ("fare:<exit event>"), the maximum fare for a missing exit
// ("fare:missing-exit:<entry event>", which a late exit keeps) and the
// refund of a late exit ("fare-correction:<exit event>").
// FarePostings returns the ledger transactions that moved journey id's
// fare, oldest first, as the rider saw them (a charge positive, a refund
// negative); see explain.Journeys.
func (s *Store) FarePostings(ctx context.Context, id int64) ([]explain.Posting, error) {
	j, err := s.Journey(ctx, id)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT t.id, t.kind, t.idempotency_key, -e.amount, t.created_at, t.memo
		FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
		WHERE t.journey_id = $1 AND e.account_id = $2
		ORDER BY t.id`, id, string(ledger.Rider(j.Subject)))
	if err != nil {
		return nil, fmt.Errorf("settlepg: ledger of journey %d: %w", id, err)
	}
	defer rows.Close()
	var out []explain.Posting
	for rows.Next() {
		var txID int64
		var kind, key, memo string
		var amount decimal.Decimal
		var at time.Time
		if err := rows.Scan(&txID, &kind, &key, &amount, &at, &memo); err != nil {
			return nil, fmt.Errorf("settlepg: ledger of journey %d: %w", id, err)
		}
		p := explain.NewPosting(txID, kind, key, amount, at)
		if kind == explain.KindRefund {
			p.Reason = memo
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("settlepg: ledger of journey %d: %w", id, err)
	}
	return out, nil
}
