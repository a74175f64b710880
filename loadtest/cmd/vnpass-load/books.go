package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/loadtest/sustain"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/ridershipch"
	"github.com/vnpass/vnpass/services/settlepg"
)

// pgBooks is what PostgreSQL holds after a run.
type pgBooks struct {
	metroTaps, metroDistinct, parkingTaps, railTaps int64
	agentTaps                                       int64 // at the real gates of gate-offline
	missing, doubledFares, doubledParking, doubled  int64 // doubled: an event id in two tables
	railTwice                                       int64
	journeys                                        int64 // no longer open: what the exporter sends
	journeyFares, ledgerFares                       decimal.Decimal
	sessions                                        int64 // closed parking sessions
	sessionFees, ledgerParking                      decimal.Decimal
	// The mix as the platform priced it: journeys of riders in a free
	// category (and how many of them were charged), and journeys priced
	// by a transfer rule.
	freeJourneys, freeCharged, transfers int64
}

func readPG(ctx context.Context, store *settlepg.Store, ids []string, agentDevices []string) (pgBooks, error) {
	var b pgBooks
	q := func(sql string, args []any, dst ...any) error {
		if err := store.Pool().QueryRow(ctx, sql, args...).Scan(dst...); err != nil {
			return fmt.Errorf("books: %w\n%s", err, sql)
		}
		return nil
	}
	if err := q(`SELECT count(*), count(DISTINCT event_id) FROM taps`, nil, &b.metroTaps, &b.metroDistinct); err != nil {
		return b, err
	}
	if err := q(`SELECT (SELECT count(*) FROM parking_taps), (SELECT count(*) FROM rail_taps)`, nil, &b.parkingTaps, &b.railTaps); err != nil {
		return b, err
	}
	if err := q(`SELECT (SELECT count(*) FROM taps WHERE device = ANY($1)) + (SELECT count(*) FROM parking_taps WHERE device = ANY($1))`,
		[]any{agentDevices}, &b.agentTaps); err != nil {
		return b, err
	}
	// Every tap a gate made is recorded under its event id, in the table
	// of its kind, and in one table only.
	if err := q(`SELECT count(*) FILTER (WHERE n = 0), count(*) FILTER (WHERE n > 1) FROM (
			SELECT (SELECT count(*) FROM taps t WHERE t.event_id = u.id) + (SELECT count(*) FROM parking_taps p WHERE p.event_id = u.id)
				+ (SELECT count(*) FROM rail_taps r WHERE r.event_id = u.id) AS n
			FROM unnest($1::text[]::uuid[]) AS u(id)) x`, []any{ids}, &b.missing, &b.doubled); err != nil {
		return b, err
	}
	// No journey charged twice, no parking session charged twice, no
	// ticket used twice.
	if err := q(`SELECT count(*) FROM (SELECT journey_id FROM ledger_transactions
		WHERE kind = 'fare' AND journey_id IS NOT NULL GROUP BY journey_id HAVING count(*) > 1) x`, nil, &b.doubledFares); err != nil {
		return b, err
	}
	if err := q(`SELECT count(*) FROM (SELECT session_id FROM parking_taps
		WHERE fee > 0 AND session_id IS NOT NULL GROUP BY session_id HAVING count(*) > 1) x`, nil, &b.doubledParking); err != nil {
		return b, err
	}
	if err := q(`SELECT count(*) FROM (SELECT ticket_id FROM rail_taps
		WHERE ticket_id IS NOT NULL AND reason = 'ok' GROUP BY ticket_id HAVING count(*) > 1) x`, nil, &b.railTwice); err != nil {
		return b, err
	}
	// What ClickHouse must hold: journeys no longer open and their fares,
	// closed parking sessions and their fees; and what the ledger says the
	// riders paid for them (fares and fare corrections; parking fees).
	if err := q(`SELECT count(*), coalesce(sum(fare), 0) FROM journeys WHERE status <> 'open'`, nil, &b.journeys, &b.journeyFares); err != nil {
		return b, err
	}
	if err := q(`SELECT count(*) FILTER (WHERE category IN ('child_under_6', 'senior_60_plus', 'disabled', 'meritorious')),
			count(*) FILTER (WHERE category IN ('child_under_6', 'senior_60_plus', 'disabled', 'meritorious') AND fare > 0),
			count(*) FILTER (WHERE transfer_rule IS NOT NULL)
		FROM journeys WHERE status <> 'open'`, nil, &b.freeJourneys, &b.freeCharged, &b.transfers); err != nil {
		return b, err
	}
	if err := q(`SELECT coalesce(-sum(e.amount), 0) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE t.kind IN ('fare', 'fare_correction') AND e.account_id LIKE 'rider:%'`, nil, &b.ledgerFares); err != nil {
		return b, err
	}
	if err := q(`SELECT count(*), coalesce(sum(fee), 0) FROM parking_sessions WHERE status = 'closed'`, nil, &b.sessions, &b.sessionFees); err != nil {
		return b, err
	}
	if err := q(`SELECT coalesce(-sum(e.amount), 0) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE t.kind = 'parking' AND e.account_id LIKE 'rider:%'`, nil, &b.ledgerParking); err != nil {
		return b, err
	}
	return b, nil
}

// chBooks is what ClickHouse holds.
type chBooks struct {
	counts      ridershipch.Counts
	fares       decimal.Decimal
	sessions    uint64
	sessionFees int64
}

func readCH(ctx context.Context, sink *ridershipch.Sink, db string) (chBooks, error) {
	var c chBooks
	var err error
	if c.counts, err = sink.Count(ctx); err != nil {
		return c, err
	}
	var f float64
	if err := sink.Conn().QueryRow(ctx, "SELECT toFloat64(sum(fare)) FROM (SELECT argMax(fare, version) AS fare FROM "+db+".journeys GROUP BY journey_id)").Scan(&f); err != nil {
		return c, fmt.Errorf("ClickHouse fares: %w", err)
	}
	c.fares = decimal.NewFromFloat(f).Round(0)
	if c.sessions, c.sessionFees, err = sink.ParkingCount(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// checkBooks proves the run: every tap the gates made recorded once, no
// journey or parking session charged twice, no ticket used twice, the
// ledger balanced, and ClickHouse equal to PostgreSQL and the ledger
// (taps, journeys and their fares, parking sessions and their fees). It
// prints the figures and returns what failed.
func checkBooks(ctx context.Context, store *settlepg.Store, rep *sustain.Report, og *offlineGates, end time.Time,
	getenv func(string) string, db string, keep bool, out io.Writer) ([]string, error) {
	var agentDevices []string
	if og != nil {
		agentDevices = og.devices()
	}
	ids := append(append([]string(nil), rep.SentIDs...), rep.AgentIDs...)
	pg, err := readPG(ctx, store, ids, agentDevices)
	if err != nil {
		return nil, err
	}
	books, err := store.Books(ctx)
	if err != nil {
		return nil, err
	}
	sink, err := ridershipch.Open(ctx, ridershipch.Config{Addr: getenv("VNPASS_CH_ADDR"), User: getenv("VNPASS_CH_USER"),
		Password: getenv("VNPASS_CH_PASSWORD"), Database: db})
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	if !keep {
		defer sink.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	}
	// ClickHouse lag: from the last decision until ClickHouse holds every
	// tap, journey and parking session PostgreSQL holds.
	// ClickHouse holding less than PostgreSQL for 20 s without a change
	// (the exporter runs every second and retries) is a loss, not lag.
	var ch, seen chBooks
	var lag time.Duration
	changed := time.Now()
	for {
		ch, err = readCH(ctx, sink, db)
		if err == nil && int64(ch.counts.Taps) >= pg.metroTaps && int64(ch.counts.Journeys) >= pg.journeys && int64(ch.sessions) >= pg.sessions {
			lag = time.Since(end)
			break
		}
		if err == nil && (ch.counts != seen.counts || ch.sessions != seen.sessions) {
			seen, changed = ch, time.Now()
		}
		if stalled := time.Since(changed) > 20*time.Second; stalled || time.Since(end) > 2*time.Minute {
			why := "after 2 minutes"
			if stalled {
				why = "and nothing more for 20 s"
			}
			return nil, fmt.Errorf("ClickHouse holds %d of %d taps, %d of %d journeys, %d of %d parking sessions %s (%v)",
				ch.counts.Taps, pg.metroTaps, ch.counts.Journeys, pg.journeys, ch.sessions, pg.sessions, why, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The journeys' fares may still change after ClickHouse holds them (a
	// late entry corrects an exit priced without one): read PostgreSQL
	// again now that the exporter has caught up.
	if pg, err = readPG(ctx, store, ids, agentDevices); err != nil {
		return nil, err
	}
	if ch, err = readCH(ctx, sink, db); err != nil {
		return nil, err
	}

	fmt.Fprintf(out, "every tap the gates made recorded: %v (%d missing, %d in two tables); charged twice: %d journeys, %d parking sessions; tickets used twice: %d\n",
		pg.missing == 0 && pg.doubled == 0, pg.missing, pg.doubled, pg.doubledFares, pg.doubledParking, pg.railTwice)
	fmt.Fprintf(out, "books: %d metro taps (%d distinct), %d parking taps, %d rail taps recorded; ledger %d transactions, debits %s = credits %s: %v\n",
		pg.metroTaps, pg.metroDistinct, pg.parkingTaps, pg.railTaps, books.Transactions, money.Format(books.Debits), money.Format(books.Credits), books.Balanced())
	fmt.Fprintf(out, "ClickHouse = PostgreSQL: taps %d = %d, journeys %d = %d, fares %s = ledger %s (journeys %s), parking sessions %d = %d, fees %s = ledger %s; held everything %s after the last decision\n",
		ch.counts.Taps, pg.metroTaps, ch.counts.Journeys, pg.journeys, money.Format(ch.fares), money.Format(pg.ledgerFares), money.Format(pg.journeyFares),
		ch.sessions, pg.sessions, money.Format(decimal.NewFromInt(ch.sessionFees)), money.Format(pg.ledgerParking), lag.Round(10*time.Millisecond))

	fmt.Fprintf(out, "priced: %d journeys of riders in a free category (%d charged), %d second legs priced by the Cát Linh transfer rule; %d parking sessions closed\n",
		pg.freeJourneys, pg.freeCharged, pg.transfers, pg.sessions)
	var errs []string
	if pg.freeCharged > 0 {
		errs = append(errs, fmt.Sprintf("%d journeys of riders in a free category charged", pg.freeCharged))
	}
	if rep.Lost > 0 {
		errs = append(errs, fmt.Sprintf("%d taps got no decision", rep.Lost))
	}
	recorded := pg.metroTaps + pg.parkingTaps + pg.railTaps - pg.agentTaps
	if recorded != int64(len(rep.SentIDs)) || pg.metroDistinct != pg.metroTaps || pg.missing > 0 || pg.doubled > 0 {
		errs = append(errs, fmt.Sprintf("%d taps recorded for %d sent by the simulated gates, %d of the gates' event ids not recorded, %d recorded twice",
			recorded, len(rep.SentIDs), pg.missing, pg.doubled))
	}
	if og != nil {
		// A real gate may record more taps than it acted on: a tap given
		// up after the decision timeout can still reach the cloud, and the
		// gate then decided a new tap offline (turnstile-agent README).
		fmt.Fprintf(out, "gate-offline: %d taps recorded from the real gates for the %d they acted on (%d given up and decided again offline)\n",
			pg.agentTaps, len(rep.AgentIDs), pg.agentTaps-int64(len(rep.AgentIDs)))
		if pg.agentTaps < int64(len(rep.AgentIDs)) {
			errs = append(errs, fmt.Sprintf("the real gates acted on %d taps, %d recorded", len(rep.AgentIDs), pg.agentTaps))
		}
		if rep.AgentErrors > 0 {
			errs = append(errs, fmt.Sprintf("%d taps at the real gates failed", rep.AgentErrors))
		}
	}
	if pg.doubledFares > 0 || pg.doubledParking > 0 {
		errs = append(errs, fmt.Sprintf("%d journeys and %d parking sessions charged twice", pg.doubledFares, pg.doubledParking))
	}
	if pg.railTwice > 0 {
		errs = append(errs, fmt.Sprintf("%d tickets used twice", pg.railTwice))
	}
	if !books.Balanced() {
		errs = append(errs, "ledger out of balance")
	}
	if int64(ch.counts.Taps) != pg.metroTaps || ch.counts.DistinctTaps != ch.counts.Taps || int64(ch.counts.Journeys) != pg.journeys || int64(ch.sessions) != pg.sessions {
		errs = append(errs, fmt.Sprintf("ClickHouse differs from PostgreSQL: taps %d (%d distinct) vs %d, journeys %d vs %d, parking sessions %d vs %d",
			ch.counts.Taps, ch.counts.DistinctTaps, pg.metroTaps, ch.counts.Journeys, pg.journeys, ch.sessions, pg.sessions))
	}
	if !ch.fares.Equal(pg.ledgerFares) || !pg.journeyFares.Equal(pg.ledgerFares) {
		errs = append(errs, fmt.Sprintf("fares differ: ClickHouse %s, journeys %s, ledger %s", ch.fares, pg.journeyFares, pg.ledgerFares))
	}
	if !decimal.NewFromInt(ch.sessionFees).Equal(pg.ledgerParking) || !pg.sessionFees.Equal(pg.ledgerParking) {
		errs = append(errs, fmt.Sprintf("parking fees differ: ClickHouse %d, sessions %s, ledger %s", ch.sessionFees, pg.sessionFees, pg.ledgerParking))
	}
	return errs, nil
}
