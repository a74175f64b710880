package settlepg

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/proto"
)

// Settlement is batched: taps that arrive together (from the service's
// concurrent MQTT workers) are admitted in one PostgreSQL transaction with a
// dozen set-based statements, instead of one transaction of a dozen
// statements each. What a tap sees is unchanged: a rider's taps are decided
// in order, each against the state its predecessors left (a rider with two
// taps in one batch has the second decided in a later round, after the
// first's writes), and a batch that fails is run again one tap per
// transaction, so one bad tap fails alone.

// item is one unit of settlement: a tap to admit, or a rider to settle
// without a tap (rec nil).
type item struct {
	rec         *admission.Record
	subject     string
	passesSince time.Time
	decide      func(*admission.Rider) (admission.Effect, error)

	payload []byte
	dup     bool
	err     error
	done    chan struct{}

	eff     admission.Effect
	rider   *admission.Rider
	decided bool
}

func (it *item) reset() {
	it.payload, it.dup, it.err, it.eff, it.rider, it.decided = nil, false, nil, admission.Effect{}, nil, false
}

// Batching tunes group commit.
type Batching struct {
	// MaxBatch is the most taps admitted in one transaction. Default 256.
	MaxBatch int
	// Committers is how many batches may be in flight at once. Default 2.
	Committers int
}

func (s *Store) startBatcher(b Batching) {
	if b.MaxBatch <= 0 {
		b.MaxBatch = 256
	}
	if b.Committers <= 0 {
		b.Committers = 2
	}
	s.batching = b
	s.in = make(chan *item, 4*b.MaxBatch)
	s.quit = make(chan struct{})
	for i := 0; i < b.Committers; i++ {
		s.committers.Add(1)
		go s.commitLoop(s.committerShard(i))
	}
}

func (s *Store) commitLoop(shard int) {
	defer s.committers.Done()
	for {
		var first *item
		select {
		case first = <-s.in:
		case <-s.quit:
			return
		}
		batch := []*item{first}
	fill:
		for len(batch) < s.batching.MaxBatch {
			select {
			case it := <-s.in:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		s.runBatch(batch, shard)
		for _, it := range batch {
			close(it.done)
		}
	}
}

// runBatch settles a batch in one transaction; if that fails, each item in
// its own, so that an item that cannot be settled fails alone.
func (s *Store) runBatch(batch []*item, shard int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error { return s.runItems(ctx, tx, batch, shard) })
	s.stats.batches.Add(1)
	s.stats.items.Add(int64(len(batch)))
	if err == nil {
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		return
	}
	s.stats.fallbacks.Add(1)
	for _, it := range batch {
		one := []*item{it}
		it.err = s.inTx(ctx, func(tx pgx.Tx) error { return s.runItems(ctx, tx, one, shard) })
	}
}

// BatchStats says how taps were grouped, for metrics and benchmarks.
type BatchStats struct {
	Batches, Items, Fallbacks int64
}

// BatchStats returns counts since the store opened.
func (s *Store) BatchStats() BatchStats {
	return BatchStats{s.stats.batches.Load(), s.stats.items.Load(), s.stats.fallbacks.Load()}
}

// Admit records one tap exactly once; see admission.Store. Concurrent calls
// are grouped into one database transaction.
func (s *Store) Admit(ctx context.Context, rec admission.Record, decide func(*admission.Rider) (admission.Effect, error)) ([]byte, bool, error) {
	it := &item{rec: &rec, subject: rec.Subject, passesSince: rec.ReceivedAt.Add(-48 * time.Hour), decide: decide, done: make(chan struct{})}
	select {
	case s.in <- it:
	case <-s.quit:
		return nil, false, fmt.Errorf("settlepg: admit %s: store closed", rec.Tap.EventID)
	case <-ctx.Done():
		return nil, false, fmt.Errorf("settlepg: admit %s: %w", rec.Tap.EventID, ctx.Err())
	}
	select {
	case <-it.done:
	case <-ctx.Done():
		// The batch may still commit the tap: a redelivery then finds it.
		return nil, false, fmt.Errorf("settlepg: admit %s: %w", rec.Tap.EventID, ctx.Err())
	}
	if it.err != nil {
		return nil, false, fmt.Errorf("settlepg: admit %s: %w", rec.Tap.EventID, it.err)
	}
	return it.payload, it.dup, nil
}

// Settle applies a change to one rider outside any tap (the sweep of
// journeys left open): in one transaction it locks and reads the rider as
// Admit does, calls decide and applies the Effect; its Decision is ignored.
func (s *Store) Settle(ctx context.Context, subject string, decide func(*admission.Rider) (admission.Effect, error)) error {
	// The journey being settled may have entered days ago (a sweep that
	// could not run): passes valid in the last week.
	it := &item{subject: subject, passesSince: s.now().Add(-7 * 24 * time.Hour), decide: decide}
	err := s.inTx(ctx, func(tx pgx.Tx) error { return s.runItems(ctx, tx, []*item{it}, sharedShard) })
	if err != nil {
		return fmt.Errorf("settlepg: settle %s: %w", subject, err)
	}
	return nil
}

// runItems settles items inside tx. It is run again from the start when the
// transaction is retried, so it resets what it fills in. Operator and
// provider balances move in the given shard.
func (s *Store) runItems(ctx context.Context, tx pgx.Tx, items []*item, shard int) error {
	for _, it := range items {
		it.reset()
	}
	pending, copies, err := skipRecorded(ctx, tx, items)
	if err != nil {
		return err
	}
	if err := claimJTIs(ctx, tx, pending); err != nil {
		return err
	}
	var later balanceMoves
	for len(pending) > 0 {
		// One item per rider per round, in arrival order.
		var round, rest []*item
		seen := make(map[string]bool, len(pending))
		for _, it := range pending {
			if it.subject != "" && seen[it.subject] {
				rest = append(rest, it)
				continue
			}
			seen[it.subject] = true
			round = append(round, it)
		}
		if err := s.loadRiders(ctx, tx, round); err != nil {
			return err
		}
		for _, it := range round {
			eff, err := it.decide(it.rider)
			if err != nil {
				return err
			}
			it.eff, it.decided = eff, true
		}
		if err := s.applyRound(ctx, tx, round, &later); err != nil {
			return err
		}
		pending = rest
	}
	for _, c := range copies {
		c.copy.payload = c.of.payload
	}
	return moveShard(ctx, tx, later.d, shard)
}

// skipRecorded answers taps recorded before (redeliveries) with the
// decision stored then, and a second copy of a tap within the batch with
// the first copy's. It returns the items left to settle.
func skipRecorded(ctx context.Context, tx pgx.Tx, items []*item) ([]*item, []copyOf, error) {
	var ids []string
	first := make(map[string]*item)
	for _, it := range items {
		if it.rec == nil {
			continue
		}
		if _, ok := first[it.rec.Tap.EventID]; !ok {
			first[it.rec.Tap.EventID] = it
			ids = append(ids, it.rec.Tap.EventID)
		}
	}
	recorded := make(map[string][]byte)
	if len(ids) > 0 {
		// A join with the array (not "= ANY"): the cached generic plan
		// of "= ANY($1)" scanned the whole table.
		rows, err := tx.Query(ctx, `SELECT t.event_id::text, t.decision FROM unnest($1::text[]::uuid[]) AS u(id)
			JOIN taps t ON t.event_id = u.id`, ids)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var id string
			var payload []byte
			if err := rows.Scan(&id, &payload); err != nil {
				rows.Close()
				return nil, nil, err
			}
			recorded[id] = payload
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	var pending []*item
	for _, it := range items {
		if it.rec == nil {
			pending = append(pending, it)
			continue
		}
		id := it.rec.Tap.EventID
		if p, ok := recorded[id]; ok {
			it.payload, it.dup = p, true
			continue
		}
		if f := first[id]; f != it {
			it.dup = true // payload copied from f once f is settled, in applyRound
			continue
		}
		pending = append(pending, it)
	}
	var copies []copyOf
	for _, it := range items {
		if it.rec != nil && it.dup && it.payload == nil {
			copies = append(copies, copyOf{it, first[it.rec.Tap.EventID]})
		}
	}
	return pending, copies, nil
}

type copyOf struct{ copy, of *item }

// claimJTIs claims each verified tap's assertion id; a tap whose jti
// another tap holds (before, or earlier in this batch) is a replay.
func claimJTIs(ctx context.Context, tx pgx.Tx, items []*item) error {
	var jtis, events []string
	var expires []time.Time
	for _, it := range items {
		if it.rec != nil && it.rec.JTI != "" {
			jtis = append(jtis, it.rec.JTI)
			events = append(events, it.rec.Tap.EventID)
			expires = append(expires, it.rec.ExpiresAt)
		}
	}
	if len(jtis) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `INSERT INTO assertion_uses (jti, event_id, expires_at)
		SELECT * FROM unnest($1::text[], $2::text[]::uuid[], $3::timestamptz[])
		ON CONFLICT (jti) DO NOTHING RETURNING jti, event_id::text`, jtis, events, expires)
	if err != nil {
		return err
	}
	claimed := make(map[string]string, len(jtis))
	for rows.Next() {
		var jti, ev string
		if err := rows.Scan(&jti, &ev); err != nil {
			rows.Close()
			return err
		}
		claimed[jti] = ev
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, it := range items {
		if it.rec != nil && it.rec.JTI != "" && claimed[it.rec.JTI] != it.rec.Tap.EventID {
			it.rider = &admission.Rider{Subject: it.subject, Replayed: true}
		}
	}
	return nil
}

// loadRiders locks and reads the account, the two newest journeys, the
// passes and the recent spending of every rider in the round.
func (s *Store) loadRiders(ctx context.Context, tx pgx.Tx, round []*item) error {
	riders := make(map[string]*admission.Rider)
	var subjects []string
	for _, it := range round {
		if it.rider != nil && it.rider.Replayed {
			continue
		}
		it.rider = &admission.Rider{Subject: it.subject}
		if it.subject == "" {
			continue
		}
		riders[it.subject] = it.rider
		subjects = append(subjects, it.subject)
	}
	if len(subjects) == 0 {
		return nil
	}
	sort.Strings(subjects) // lock in one order: no deadlock between batches
	ids := make([]string, len(subjects))
	for i, sub := range subjects {
		ids[i] = string(ledger.Rider(sub))
	}
	rows, err := tx.Query(ctx, `SELECT subject, status, balance, funding, debt_since FROM accounts
		WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return err
	}
	var existing []string
	for rows.Next() {
		var sub, status, funding string
		var balance decimal.Decimal
		var debtSince *time.Time
		if err := rows.Scan(&sub, &status, &balance, &funding, &debtSince); err != nil {
			rows.Close()
			return err
		}
		r := riders[sub]
		r.Exists, r.Status, r.Balance = true, admission.AccountStatus(status), balance
		r.Funding = admission.Funding(funding)
		if debtSince != nil {
			r.DebtSince = *debtSince
		}
		existing = append(existing, sub)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(existing) == 0 {
		return nil
	}
	if err := loadJourneys(ctx, tx, riders, existing); err != nil {
		return err
	}
	for _, sub := range existing {
		subject := sub
		riders[sub].JourneyAt = func(at time.Time) (*admission.Journey, error) { return journeyAt(ctx, tx, subject, at) }
	}
	// Passes and spending matter only when a journey may be priced: an
	// exit, an entry that finds a journey still open, a settlement.
	var pricing []string
	since := s.now()
	for _, it := range round {
		r := it.rider
		if !r.Exists || r.Replayed {
			continue
		}
		if it.rec == nil || it.rec.Tap.Kind != proto.KindMetroEntry || r.Open != nil {
			pricing = append(pricing, it.subject)
			if it.passesSince.Before(since) {
				since = it.passesSince
			}
		}
	}
	if len(pricing) == 0 {
		return nil
	}
	if err := loadPasses(ctx, tx, riders, pricing, since); err != nil {
		return err
	}
	for _, it := range round {
		// loadPasses read from the earliest since of the round.
		r := it.rider
		kept := r.Passes[:0]
		for _, p := range r.Passes {
			if p.ValidUntil.After(it.passesSince) {
				kept = append(kept, p)
			}
		}
		r.Passes = kept
	}
	return loadSpent(ctx, tx, riders, pricing)
}

func loadJourneys(ctx context.Context, tx pgx.Tx, riders map[string]*admission.Rider, subjects []string) error {
	// Each rider's open journey, if any, and the last finished one (a
	// transfer continues it; a rider may be trying its exit again). Not
	// "the two newest": taps that gates decided offline arrive out of order,
	// and an exit drained before its entry makes a finished journey newer
	// than the one still open; read as "none open", the next entry opened a
	// second journey, which the database refused (journeys_one_open) on
	// every retry (seen in the five-minute gate outage drill).
	rows, err := tx.Query(ctx, `SELECT j.subject, j.id, j.network_id, j.operator_id, j.entry_event::text, j.entry_site,
		j.entry_at, j.exit_event::text, j.exit_site, j.exit_at, j.status, j.fare, j.fare_rule, j.category,
		coalesce(j.transfer_from, 0), j.full_fare
		FROM unnest($1::text[]) s(subject)
		CROSS JOIN LATERAL (
			(SELECT * FROM journeys WHERE journeys.subject = s.subject AND status = 'open')
			UNION ALL
			(SELECT * FROM journeys WHERE journeys.subject = s.subject AND status <> 'open' ORDER BY id DESC LIMIT 1)) j
		ORDER BY j.subject, (j.status = 'open') DESC, j.id DESC`, subjects)
	if err != nil {
		return err
	}
	defer rows.Close()
	done := make(map[string]bool)
	for rows.Next() {
		var j admission.Journey
		var entryEvent, exitEvent, entrySite, exitSite, rule *string
		var entryAt, exitAt *time.Time
		var fareAmt, full *decimal.Decimal
		var jstatus string
		if err := rows.Scan(&j.Subject, &j.ID, &j.NetworkID, &j.OperatorID, &entryEvent, &entrySite, &entryAt,
			&exitEvent, &exitSite, &exitAt, &jstatus, &fareAmt, &rule, &j.Category, &j.TransferFrom, &full); err != nil {
			return err
		}
		r := riders[j.Subject]
		if done[j.Subject] {
			continue // only older journeys follow
		}
		j.Status = admission.JourneyStatus(jstatus)
		j.EntryEvent, j.EntrySite, j.ExitEvent, j.ExitSite, j.FareRule = deref(entryEvent), deref(entrySite), deref(exitEvent), deref(exitSite), deref(rule)
		if entryAt != nil {
			j.EntryAt = *entryAt
		}
		if exitAt != nil {
			j.ExitAt = *exitAt
		}
		if fareAmt != nil {
			j.Fare = *fareAmt
		}
		if full != nil {
			j.FullFare = *full
		}
		switch {
		case j.Status == admission.JourneyOpen && r.Open == nil:
			jj := j
			r.Open = &jj
		case j.Status != admission.JourneyOpen && r.Last == nil:
			jj := j
			r.Last = &jj
			done[j.Subject] = true
		}
	}
	return rows.Err()
}

// journeyAt reads subject's finished journey with the latest entry at or
// before at (admission.Rider.JourneyAt): only for an exit an offline gate
// forwarded after the rider travelled on, so a scan of the rider's
// journeys is affordable.
func journeyAt(ctx context.Context, tx pgx.Tx, subject string, at time.Time) (*admission.Journey, error) {
	j, err := scanJourney(tx.QueryRow(ctx, `SELECT `+journeyColumns+` FROM journeys
		WHERE subject = $1 AND status <> 'open' AND entry_at <= $2 ORDER BY entry_at DESC, id DESC LIMIT 1`, subject, at))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journey at %s: %w", at.Format(time.RFC3339), err)
	}
	return &j, nil
}

// loadPasses reads the passes riders hold that were valid at or after since.
func loadPasses(ctx context.Context, tx pgx.Tx, riders map[string]*admission.Rider, subjects []string, since time.Time) error {
	rows, err := tx.Query(ctx, `SELECT subject, id, product_id, network_id, category, amount, price_rule, valid_from, least(valid_until, revoked_at)
		FROM passes WHERE subject = ANY($1) AND valid_until > $2 ORDER BY subject, valid_from, id`, subjects, since)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h admission.HeldPass
		var sub string
		if err := rows.Scan(&sub, &h.ID, &h.ProductID, &h.NetworkID, &h.Category, &h.Amount, &h.RuleID, &h.ValidFrom, &h.ValidUntil); err != nil {
			return err
		}
		r := riders[sub]
		r.Passes = append(r.Passes, h)
	}
	return rows.Err()
}

// loadSpent reads what each rider paid per network and local day for
// complete journeys since the start of the month before the journey that
// may be priced, and answers Rider.Spent from it (caps count by local day
// and month of entry). A window outside what was read is asked of the
// database.
func loadSpent(ctx context.Context, tx pgx.Tx, riders map[string]*admission.Rider, subjects []string) error {
	earliest := time.Now()
	for _, sub := range subjects {
		r := riders[sub]
		for _, j := range []*admission.Journey{r.Open, r.Last} {
			if j != nil && !j.EntryAt.IsZero() && j.EntryAt.Before(earliest) {
				earliest = j.EntryAt
			}
		}
	}
	from, _ := fare.Month(earliest)
	type key struct{ subject, network string }
	days := make(map[key]map[time.Time]decimal.Decimal)
	rows, err := tx.Query(ctx, `SELECT subject, network_id, ((entry_at AT TIME ZONE 'UTC') + interval '7 hours')::date, sum(fare)
		FROM journeys WHERE subject = ANY($1) AND status = 'closed' AND entry_at >= $2
		GROUP BY 1, 2, 3`, subjects, from)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k key
		var day time.Time
		var sum decimal.Decimal
		if err := rows.Scan(&k.subject, &k.network, &day, &sum); err != nil {
			rows.Close()
			return err
		}
		if days[k] == nil {
			days[k] = make(map[time.Time]decimal.Decimal)
		}
		days[k][time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, fare.Zone)] = sum
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, sub := range subjects {
		r := riders[sub]
		subject := sub
		r.Spent = func(network string, lo, hi time.Time) (decimal.Decimal, error) {
			if lo.Before(from) {
				var sum decimal.Decimal
				err := tx.QueryRow(ctx, `SELECT coalesce(sum(fare), 0) FROM journeys
					WHERE subject = $1 AND network_id = $2 AND status = 'closed' AND entry_at >= $3 AND entry_at < $4`,
					subject, network, lo, hi).Scan(&sum)
				return sum, err
			}
			sum := decimal.Zero
			for day, v := range days[key{subject, network}] {
				if !day.Before(lo) && day.Before(hi) {
					sum = sum.Add(v)
				}
			}
			return sum, nil
		}
	}
	return nil
}

// applyRound writes the effects of a round: closed journeys first (freeing
// each rider's one open slot), then new journeys, then the ledger, then the
// taps with their decisions.
func (s *Store) applyRound(ctx context.Context, tx pgx.Tx, round []*item, later *balanceMoves) error {
	if err := closeJourneys(ctx, tx, round); err != nil {
		return err
	}
	if err := openJourneys(ctx, tx, round); err != nil {
		return err
	}
	var charges []ledger.Transaction
	for _, it := range round {
		for _, t := range it.eff.Charges {
			// A charge built before its journey had an id (a journey
			// opened and closed by this tap) belongs to the tap's journey.
			if t.JourneyID == 0 && it.eff.Journey != nil {
				t.JourneyID = it.eff.Journey.ID
			}
			charges = append(charges, t)
		}
	}
	if err := postAll(ctx, tx, charges, s.now(), later); err != nil {
		return err
	}
	return insertTaps(ctx, tx, round)
}

func closeJourneys(ctx context.Context, tx pgx.Tx, round []*item) error {
	var c struct {
		id, transferFrom, passID                                                            []*int64
		exitEvent, exitSite, status, fare, rule, operator, full, cap, capRule, transferRule []*string
		exitAt                                                                              []*time.Time
	}
	n := 0
	for _, it := range round {
		for _, j := range it.eff.Close {
			n++
			id := j.ID
			c.id = append(c.id, &id)
			c.exitEvent = append(c.exitEvent, str(j.ExitEvent))
			c.exitSite = append(c.exitSite, str(j.ExitSite))
			c.exitAt = append(c.exitAt, tm(j.ExitAt))
			c.status = append(c.status, str(string(j.Status)))
			c.fare = append(c.fare, dec(j.Fare))
			c.rule = append(c.rule, str(j.FareRule))
			c.operator = append(c.operator, str(j.OperatorID))
			c.full = append(c.full, dec(j.FullFare))
			c.cap = append(c.cap, str(j.Cap))
			c.capRule = append(c.capRule, str(j.CapRule))
			c.transferRule = append(c.transferRule, str(j.TransferRule))
			c.transferFrom = append(c.transferFrom, id64(j.TransferFrom))
			c.passID = append(c.passID, id64(j.PassID))
		}
	}
	if n == 0 {
		return nil
	}
	tag, err := tx.Exec(ctx, `UPDATE journeys j SET exit_event = u.exit_event::uuid, exit_site = u.exit_site, exit_at = u.exit_at,
		status = u.status, fare = u.fare::numeric, fare_rule = u.fare_rule, operator_id = u.operator_id,
		full_fare = u.full_fare::numeric, cap = u.cap, cap_rule = u.cap_rule, transfer_rule = u.transfer_rule,
		transfer_from = u.transfer_from, pass_id = u.pass_id, export_txid = pg_current_xact_id()
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[])
			AS u(id, exit_event, exit_site, exit_at, status, fare, fare_rule, operator_id, full_fare, cap, cap_rule,
			transfer_rule, transfer_from, pass_id)
		WHERE j.id = u.id`,
		c.id, c.exitEvent, c.exitSite, c.exitAt, c.status, c.fare, c.rule, c.operator, c.full, c.cap, c.capRule,
		c.transferRule, c.transferFrom, c.passID)
	if err != nil {
		return fmt.Errorf("close journeys: %w", err)
	}
	if int(tag.RowsAffected()) != n {
		return fmt.Errorf("close journeys: %d of %d found", tag.RowsAffected(), n)
	}
	return nil
}

func openJourneys(ctx context.Context, tx pgx.Tx, round []*item) error {
	var c struct {
		subject, network, operator, entryEvent, entrySite, exitEvent, exitSite, status, fare, rule,
		category, full, cap, capRule []*string
		entryAt, exitAt []*time.Time
		passID          []*int64
	}
	byEvent := make(map[string]*admission.Journey)
	for _, it := range round {
		j := it.eff.Open
		if j == nil {
			continue
		}
		key := j.EntryEvent
		if key == "" {
			key = j.ExitEvent
		}
		if key == "" {
			return errors.New("open journey: neither entry nor exit event")
		}
		byEvent[key] = j
		var fareAmt, full *string
		var exitAt *time.Time
		if j.Status != admission.JourneyOpen {
			fareAmt, full, exitAt = dec(j.Fare), dec(j.FullFare), tm(j.ExitAt)
		}
		c.subject = append(c.subject, str(j.Subject))
		c.network = append(c.network, str(j.NetworkID))
		c.operator = append(c.operator, str(j.OperatorID))
		c.entryEvent = append(c.entryEvent, str(j.EntryEvent))
		c.entrySite = append(c.entrySite, str(j.EntrySite))
		c.entryAt = append(c.entryAt, tm(j.EntryAt))
		c.exitEvent = append(c.exitEvent, str(j.ExitEvent))
		c.exitSite = append(c.exitSite, str(j.ExitSite))
		c.exitAt = append(c.exitAt, exitAt)
		c.status = append(c.status, str(string(j.Status)))
		c.fare = append(c.fare, fareAmt)
		c.rule = append(c.rule, str(j.FareRule))
		s := j.Category
		c.category = append(c.category, &s)
		c.full = append(c.full, full)
		c.cap = append(c.cap, str(j.Cap))
		c.capRule = append(c.capRule, str(j.CapRule))
		c.passID = append(c.passID, id64(j.PassID))
	}
	if len(byEvent) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `INSERT INTO journeys (subject, network_id, operator_id, entry_event, entry_site,
		entry_at, exit_event, exit_site, exit_at, status, fare, fare_rule, category, full_fare, cap, cap_rule, pass_id,
		export_txid)
		SELECT subject, network_id, operator_id, entry_event::uuid, entry_site, entry_at, exit_event::uuid, exit_site,
			exit_at, status, fare::numeric, fare_rule, category, full_fare::numeric, cap, cap_rule, pass_id,
			CASE WHEN status <> 'open' THEN pg_current_xact_id() END
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
			$8::text[], $9::timestamptz[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
			$16::text[], $17::bigint[])
			AS u(subject, network_id, operator_id, entry_event, entry_site, entry_at, exit_event, exit_site, exit_at,
			status, fare, fare_rule, category, full_fare, cap, cap_rule, pass_id)
		RETURNING id, coalesce(entry_event, exit_event)::text`,
		c.subject, c.network, c.operator, c.entryEvent, c.entrySite, c.entryAt, c.exitEvent, c.exitSite, c.exitAt,
		c.status, c.fare, c.rule, c.category, c.full, c.cap, c.capRule, c.passID)
	if err != nil {
		return fmt.Errorf("open journeys: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var ev string
		if err := rows.Scan(&id, &ev); err != nil {
			return err
		}
		if j := byEvent[ev]; j != nil {
			j.ID = id
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("open journeys: %w", err)
	}
	if n != len(byEvent) {
		return fmt.Errorf("open journeys: %d of %d ids returned", n, len(byEvent))
	}
	return nil
}

func insertTaps(ctx context.Context, tx pgx.Tx, round []*item) error {
	var c struct {
		event, device, site, kind, subject, reason, fare, balance, offReason, offRule []*string
		captured, received, offAt                                                     []*time.Time
		open, offOpen                                                                 []*bool
		journey, offDeny                                                              []*int64
		decision                                                                      [][]byte
	}
	for _, it := range round {
		if it.rec == nil {
			continue
		}
		rec, d := it.rec, it.eff.Decision
		payload, err := d.Encode()
		if err != nil {
			return err
		}
		it.payload = payload
		var journey *int64
		if j := it.eff.Journey; j != nil && j.ID != 0 {
			journey = id64(j.ID)
		}
		open := d.Open
		c.event = append(c.event, str(rec.Tap.EventID))
		c.device = append(c.device, str(rec.Tap.Device))
		c.site = append(c.site, str(rec.Tap.Site))
		c.kind = append(c.kind, str(string(rec.Tap.Kind)))
		c.subject = append(c.subject, str(rec.Subject))
		c.captured = append(c.captured, tm(rec.Tap.CapturedAt.Time))
		c.received = append(c.received, tm(rec.ReceivedAt))
		c.open = append(c.open, &open)
		c.reason = append(c.reason, str(string(d.Reason)))
		c.fare = append(c.fare, vnd(d.FareVND))
		c.balance = append(c.balance, vnd(d.BalanceVND))
		c.journey = append(c.journey, journey)
		c.decision = append(c.decision, payload)
		if o := rec.Offline; o != nil {
			oo := o.Open
			c.offOpen = append(c.offOpen, &oo)
			c.offReason = append(c.offReason, str(string(o.Reason)))
			c.offRule = append(c.offRule, str(o.Rule))
			c.offAt = append(c.offAt, tm(o.DecidedAt.Time))
			v := o.DenyListVersion
			c.offDeny = append(c.offDeny, &v)
		} else {
			c.offOpen, c.offReason, c.offRule, c.offAt, c.offDeny = append(c.offOpen, nil), append(c.offReason, nil),
				append(c.offRule, nil), append(c.offAt, nil), append(c.offDeny, nil)
		}
	}
	if len(c.event) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO taps (event_id, device, site, kind, subject, captured_at, received_at,
		open, reason, fare, balance, journey_id, decision, offline_open, offline_reason, offline_rule,
		offline_decided_at, offline_deny_list)
		SELECT event_id::uuid, device, site, kind, subject, captured_at, received_at, open, reason, fare::numeric,
			balance::numeric, journey_id, decision, offline_open, offline_reason, offline_rule, offline_decided_at,
			offline_deny_list
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
			$8::boolean[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bytea[], $14::boolean[],
			$15::text[], $16::text[], $17::timestamptz[], $18::bigint[])
			AS u(event_id, device, site, kind, subject, captured_at, received_at, open, reason, fare, balance,
			journey_id, decision, offline_open, offline_reason, offline_rule, offline_decided_at, offline_deny_list)`,
		c.event, c.device, c.site, c.kind, c.subject, c.captured, c.received, c.open, c.reason, c.fare, c.balance,
		c.journey, c.decision, c.offOpen, c.offReason, c.offRule, c.offAt, c.offDeny)
	if err != nil {
		return fmt.Errorf("record taps: %w", err)
	}
	return nil
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func tm(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func dec(d decimal.Decimal) *string {
	s := d.String()
	return &s
}

func id64(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func vnd(v *int64) *string {
	if v == nil {
		return nil
	}
	s := fmt.Sprint(*v)
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
