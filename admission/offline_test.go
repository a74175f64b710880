package admission_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/proto"
)

// verifier reads tokens "<subject>.<jti>.<device>" ("forged.x.x" fails) and
// records the instant it was asked to judge them at.
type verifier struct {
	now func() time.Time
	mu  sync.Mutex
	at  []time.Time // VerifyAt's instants
}

func (v *verifier) Verify(ctx context.Context, token, device string) (identity.Assertion, error) {
	return v.VerifyAt(ctx, token, device, v.now())
}

func (v *verifier) VerifyAt(_ context.Context, token, device string, at time.Time) (identity.Assertion, error) {
	v.mu.Lock()
	v.at = append(v.at, at)
	v.mu.Unlock()
	p := strings.Split(token, ".")
	switch {
	case p[0] == "forged":
		return identity.Assertion{}, identity.ErrAssertionInvalid
	case p[2] != device:
		return identity.Assertion{}, identity.ErrAssertionWrongDevice
	}
	return identity.Assertion{Subject: p[0], JTI: p[1], Audience: device, ExpiresAt: at.Add(time.Minute), Level: 2, Age: 30}, nil
}

// memStore is admission.Store in memory: enough to watch what settling a tap
// does to a rider's journeys and balance.
type memStore struct {
	mu      sync.Mutex
	taps    map[string][]byte
	recs    map[string]admission.Record
	jtis    map[string]string
	riders  map[string]*admission.Rider
	charges []ledger.Transaction
	nextJ   int64
	hist    map[int64]*admission.Journey // every journey, as last written
}

func newMemStore() *memStore {
	return &memStore{taps: map[string][]byte{}, recs: map[string]admission.Record{}, jtis: map[string]string{}, riders: map[string]*admission.Rider{},
		hist: map[int64]*admission.Journey{}}
}

func (s *memStore) fund(subject string, dong int64) {
	s.riders[subject] = &admission.Rider{Subject: subject, Exists: true, Status: admission.AccountActive, Balance: decimal.NewFromInt(dong)}
}

func (s *memStore) Admit(_ context.Context, rec admission.Record, decide func(*admission.Rider) (admission.Effect, error)) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.taps[rec.Tap.EventID]; ok {
		return p, true, nil
	}
	r := s.riders[rec.Subject]
	if r == nil {
		r = &admission.Rider{Subject: rec.Subject}
	}
	view := *r
	view.JourneyAt = func(at time.Time) (*admission.Journey, error) {
		var best *admission.Journey
		for _, j := range s.hist {
			if j.Subject != rec.Subject || j.Status == admission.JourneyOpen || j.EntryAt.IsZero() || j.EntryAt.After(at) {
				continue
			}
			if best == nil || j.EntryAt.After(best.EntryAt) || j.EntryAt.Equal(best.EntryAt) && j.ID > best.ID {
				best = j
			}
		}
		if best == nil {
			return nil, nil
		}
		cp := *best
		return &cp, nil
	}
	if owner, used := s.jtis[rec.JTI]; rec.JTI != "" && used && owner != rec.Tap.EventID {
		view.Replayed = true
	} else if rec.JTI != "" {
		s.jtis[rec.JTI] = rec.Tap.EventID
	}
	eff, err := decide(&view)
	if err != nil {
		return nil, false, err
	}
	for _, j := range eff.Close {
		cp := *j
		if r.Last == nil || j.ID >= r.Last.ID { // Last is the newest finished, as the store reads it
			r.Last = &cp
		}
		if r.Open != nil && r.Open.ID == j.ID {
			r.Open = nil
		}
		h := *j
		s.hist[j.ID] = &h
	}
	if j := eff.Open; j != nil {
		s.nextJ++
		j.ID = s.nextJ
		cp := *j
		if j.Status == admission.JourneyOpen || j.Status == "" {
			r.Open = &cp
		} else {
			r.Last = &cp
		}
		h := *j
		s.hist[j.ID] = &h
	}
	for _, c := range eff.Charges {
		s.charges = append(s.charges, c)
		for _, e := range c.Entries {
			if e.Account == ledger.Rider(r.Subject) {
				r.Balance = r.Balance.Add(e.Amount)
			}
		}
	}
	p, err := eff.Decision.Encode()
	if err != nil {
		return nil, false, err
	}
	s.taps[rec.Tap.EventID], s.recs[rec.Tap.EventID] = p, rec
	return p, false, nil
}

func (s *memStore) StaleJourneys(context.Context, time.Time, int) ([]string, error) { return nil, nil }
func (s *memStore) Settle(context.Context, string, func(*admission.Rider) (admission.Effect, error)) error {
	return nil
}

type rig struct {
	t     *testing.T
	now   time.Time
	v     *verifier
	store *memStore
	proc  *admission.Processor
	fares *fare.Table
	n     int
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, now: time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC), store: newMemStore()}
	clock := func() time.Time { return r.now }
	r.v = &verifier{now: clock}
	var err error
	if r.fares, err = fare.LoadGTFS(fare.HanoiData()); err != nil {
		t.Fatal(err)
	}
	if r.proc, err = admission.New(admission.Config{Verifier: r.v, Fares: r.fares, Store: r.store, Now: clock}); err != nil {
		t.Fatal(err)
	}
	return r
}

// tap makes a tap of subject at site captured ago before now, decided
// offline by the gate when off is set.
func (r *rig) tap(kind proto.Kind, site, subject string, ago time.Duration, off *proto.OfflineDecision) (proto.Tap, []byte) {
	r.t.Helper()
	r.n++
	device := site + "-g01"
	t := proto.Tap{EventID: proto.NewEventID(r.now), Device: device, Site: site, Kind: kind,
		Assertion: subject + ".jti" + decimal.NewFromInt(int64(r.n)).String() + "." + device, CapturedAt: proto.At(r.now.Add(-ago)), Offline: off}
	b, err := t.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	return t, b
}

func (r *rig) handle(t proto.Tap, b []byte) (proto.Decision, admission.Reply) {
	r.t.Helper()
	rep, err := r.proc.Handle(context.Background(), proto.Topics{}.Taps(t.Site, t.Device), b)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := proto.DecodeDecision(rep.Payload)
	if err != nil {
		r.t.Fatal(err)
	}
	return d, rep
}

func (r *rig) do(kind proto.Kind, site, subject string, ago time.Duration, off *proto.OfflineDecision) proto.Decision {
	r.t.Helper()
	d, _ := r.handle(r.tap(kind, site, subject, ago, off))
	return d
}

func (r *rig) balance(subject string) int64 { return r.store.riders[subject].Balance.IntPart() }

// ride funds subject with 100.000 ₫ and makes one journey online, Cát Linh
// to Hà Đông in 20 minutes; it returns the balance after it.
func (r *rig) ride(subject string) int64 {
	r.t.Helper()
	r.store.fund(subject, 100000)
	want(r.t, "entry", r.do(proto.KindMetroEntry, catLinh, subject, 0, nil), proto.ReasonOK)
	r.now = r.now.Add(20 * time.Minute)
	want(r.t, "exit", r.do(proto.KindMetroExit, haDong, subject, 0, nil), proto.ReasonOK)
	return r.balance(subject)
}

func opened(at time.Time) *proto.OfflineDecision {
	return &proto.OfflineDecision{Open: true, Reason: proto.ReasonOK, Rule: "verified", DenyListVersion: 3, DecidedAt: proto.At(at)}
}

func want(t *testing.T, what string, d proto.Decision, r proto.Reason) {
	t.Helper()
	if d.Reason != r || d.Open != (r == proto.ReasonOK) {
		t.Fatalf("%s: decision %s (open=%v, %q), want %s", what, d.Reason, d.Open, d.Display.EN, r)
	}
}

const (
	catLinh = "hn2a-cat-linh"
	haDong  = "hn2a-ha-dong"
	yen     = "hn2a-yen-nghia"
)

// An offline tap hours old is settled, not refused as too old, its
// assertion judged at its capture time; the offline decision is recorded.
// An online tap a few seconds old is still too old.
func TestOfflineTapIsSettledWhenItArrives(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_an", 100000)
	const late = 3 * time.Hour
	entry, b := r.tap(proto.KindMetroEntry, catLinh, "vn_an", late, opened(r.now.Add(-late)))
	first, firstRep := r.handle(entry, b)
	want(t, "offline entry", first, proto.ReasonOK)
	if rec := r.store.recs[entry.EventID]; rec.Offline == nil || *rec.Offline != *entry.Offline || rec.Subject != "vn_an" {
		t.Errorf("record %+v, want the offline decision kept", rec)
	}
	if got := r.v.at[len(r.v.at)-1]; !got.Equal(entry.CapturedAt.Time) {
		t.Errorf("assertion judged at %v, want the capture time %v", got, entry.CapturedAt.Time)
	}
	want(t, "offline exit", r.do(proto.KindMetroExit, haDong, "vn_an", late-30*time.Minute, opened(r.now)), proto.ReasonOK)
	q, _ := r.fares.Price(catLinh, haDong)
	if got := r.balance("vn_an"); got != 100000-q.Amount.IntPart() {
		t.Errorf("balance %d after one journey, want %d", got, 100000-q.Amount.IntPart())
	}
	// Redelivered: the same decision, nothing charged again.
	_, rep := r.handle(entry, b)
	if !rep.Dup || string(rep.Payload) != string(firstRep.Payload) {
		t.Errorf("redelivery: dup %v, %s", rep.Dup, rep.Payload)
	}
	want(t, "online tap 3 s old", r.do(proto.KindMetroEntry, catLinh, "vn_an", 3*time.Second, nil), proto.ReasonTapTooOld)
}

// The gate opened offline for a rider the cloud would have refused for
// money or account: the passage is honoured, the journey priced.
func TestOfflineOpenIsHonoured(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_poor", 2000) // below the cheapest fare
	want(t, "online entry", r.do(proto.KindMetroEntry, catLinh, "vn_poor", 0, nil), proto.ReasonInsufficientFunds)
	want(t, "offline entry", r.do(proto.KindMetroEntry, catLinh, "vn_poor", time.Hour, opened(r.now)), proto.ReasonOK)
	if r.store.riders["vn_poor"].Open == nil {
		t.Fatal("no journey opened for the honoured entry")
	}
	want(t, "exit", r.do(proto.KindMetroExit, yen, "vn_poor", 0, nil), proto.ReasonOK)
	q, _ := r.fares.Price(catLinh, yen)
	if got := r.balance("vn_poor"); got != 2000-q.Amount.IntPart() {
		t.Errorf("balance %d, want %d (a debt)", got, 2000-q.Amount.IntPart())
	}

	// Suspended: honoured too.
	r.store.fund("vn_sus", 50000)
	r.store.riders["vn_sus"].Status = admission.AccountSuspended
	want(t, "suspended offline", r.do(proto.KindMetroEntry, catLinh, "vn_sus", time.Minute, opened(r.now)), proto.ReasonOK)

	// Pass-back: the journey open elsewhere lost its exit; closed at the
	// maximum fare, and the new entry opens.
	r.store.fund("vn_pb", 100000)
	want(t, "entry", r.do(proto.KindMetroEntry, haDong, "vn_pb", 0, nil), proto.ReasonOK)
	r.now = r.now.Add(40 * time.Minute)
	want(t, "offline entry elsewhere", r.do(proto.KindMetroEntry, catLinh, "vn_pb", 10*time.Minute, opened(r.now)), proto.ReasonOK)
	rider := r.store.riders["vn_pb"]
	stop, _ := r.fares.Stop(haDong)
	if rider.Open == nil || rider.Open.EntrySite != catLinh || rider.Last == nil || rider.Last.FareRule != admission.RuleMissingExit ||
		r.balance("vn_pb") != 100000-r.fares.MaxFare(stop.NetworkID).IntPart() {
		t.Errorf("rider %+v, balance %d", rider, r.balance("vn_pb"))
	}
}

// The cloud's own verdict on who the rider is stands: recorded with its
// reason, nobody charged.
func TestOfflineOpenWithABadIdentityIsRecorded(t *testing.T) {
	r := newRig(t)
	want(t, "forged", r.do(proto.KindMetroEntry, catLinh, "forged", time.Minute, opened(r.now)), proto.ReasonAssertionInvalid)
	want(t, "no account", r.do(proto.KindMetroEntry, catLinh, "vn_nobody", time.Minute, opened(r.now)), proto.ReasonNoAccount)
	if len(r.store.charges) != 0 {
		t.Errorf("charges %+v", r.store.charges)
	}
}

// The gate refused offline: recorded with the gate's reason, nothing else.
func TestOfflineRefusalIsRecorded(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_den", 100000)
	off := &proto.OfflineDecision{Reason: proto.ReasonOfflineLimit, Rule: "offline_limit", DenyListVersion: 3, DecidedAt: proto.At(r.now)}
	d := r.do(proto.KindMetroEntry, catLinh, "vn_den", time.Hour, off)
	want(t, "offline refusal", d, proto.ReasonOfflineLimit)
	if r.store.riders["vn_den"].Open != nil || r.balance("vn_den") != 100000 {
		t.Errorf("a refused offline tap changed the rider: %+v", r.store.riders["vn_den"])
	}
	if got := r.proc.Stats().Decisions()[proto.ReasonOfflineLimit]; got != 1 {
		t.Errorf("offline_limit counted %d times", got)
	}
}

// Offline taps out of order: the exit arrived first (charged the maximum
// fare for a missing entry), then its entry; or the rider entered again
// online before an old offline entry arrived. Nothing is charged twice.
func TestOfflineEntryOutOfOrder(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_ooo", 100000)
	want(t, "online exit", r.do(proto.KindMetroExit, haDong, "vn_ooo", 0, nil), proto.ReasonOK)
	stop, _ := r.fares.Stop(haDong)
	if got := r.balance("vn_ooo"); got != 100000-r.fares.MaxFare(stop.NetworkID).IntPart() {
		t.Fatalf("balance %d after an exit with no entry", got)
	}
	r.now = r.now.Add(20 * time.Minute)
	d := r.do(proto.KindMetroEntry, catLinh, "vn_ooo", 50*time.Minute, opened(r.now))
	want(t, "its entry, late", d, proto.ReasonOK)
	q, _ := r.fares.Price(catLinh, haDong)
	if r.store.riders["vn_ooo"].Open != nil || r.balance("vn_ooo") != 100000-q.Amount.IntPart() {
		t.Errorf("late entry: %+v, balance %d; want no journey opened and the fare %d paid in all", r.store.riders["vn_ooo"], r.balance("vn_ooo"), q.Amount.IntPart())
	}
	if c := r.store.charges[len(r.store.charges)-1]; c.Kind != "fare_correction" || c.JourneyID == 0 {
		t.Errorf("refund %+v, want a fare correction linked to the journey", c)
	}
	paid := r.balance("vn_ooo")
	// The same journey's entry again (another gate, also offline): nothing
	// more to correct.
	want(t, "a second late entry", r.do(proto.KindMetroEntry, catLinh, "vn_ooo", 49*time.Minute, opened(r.now)), proto.ReasonOK)
	if got := r.balance("vn_ooo"); got != paid {
		t.Errorf("balance %d after a second late entry, want %d", got, paid)
	}

	want(t, "online entry", r.do(proto.KindMetroEntry, yen, "vn_ooo", 0, nil), proto.ReasonOK)
	d = r.do(proto.KindMetroEntry, catLinh, "vn_ooo", 10*time.Minute, opened(r.now))
	want(t, "older offline entry", d, proto.ReasonOK)
	if o := r.store.riders["vn_ooo"].Open; o == nil || o.EntrySite != yen || r.balance("vn_ooo") != paid {
		t.Errorf("older offline entry disturbed the open journey: %+v, balance %d", o, r.balance("vn_ooo"))
	}
}

// An offline exit seconds after the entry (too soon online) closes the
// journey: the barrier opened.
func TestOfflineExitIsNeverRefused(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_ex", 100000)
	want(t, "entry", r.do(proto.KindMetroEntry, catLinh, "vn_ex", 0, nil), proto.ReasonOK)
	r.now = r.now.Add(time.Second)
	d := r.do(proto.KindMetroExit, haDong, "vn_ex", 0, opened(r.now))
	want(t, "offline exit", d, proto.ReasonOK)
	if r.store.riders["vn_ex"].Open != nil {
		t.Error("journey still open")
	}
}

// Entry and exit captured in the same millisecond (two gates' clocks, or a
// test's riders): the exit settled first still takes the entry.
func TestOfflineEntrySameInstantAsExit(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_same", 100000)
	want(t, "exit", r.do(proto.KindMetroExit, haDong, "vn_same", 0, opened(r.now)), proto.ReasonOK)
	want(t, "entry", r.do(proto.KindMetroEntry, catLinh, "vn_same", 0, opened(r.now)), proto.ReasonOK)
	q, _ := r.fares.Price(catLinh, haDong)
	if r.store.riders["vn_same"].Open != nil || r.balance("vn_same") != 100000-q.Amount.IntPart() {
		t.Errorf("rider %+v, balance %d", r.store.riders["vn_same"], r.balance("vn_same"))
	}
}

// An offline tap older than MaxOfflineAge is not settled: assertion ids are
// not kept that long, so a replay could not be told from a first use.
func TestOfflineTapTooOldToSettle(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_old", 100000)
	const late = 8 * 24 * time.Hour
	want(t, "8-day-old offline entry", r.do(proto.KindMetroEntry, catLinh, "vn_old", late, opened(r.now.Add(-late))), proto.ReasonTapTooOld)
	if got := r.balance("vn_old"); got != 100000 {
		t.Errorf("balance %d", got)
	}
	const recent = 6 * 24 * time.Hour
	want(t, "6-day-old offline entry", r.do(proto.KindMetroEntry, catLinh, "vn_old", recent, opened(r.now.Add(-recent))), proto.ReasonOK)
}

// A rider whose exit an offline gate still holds enters again at another
// station. Within PassBackWindow of the entry that is pass-back; after it
// the rider is plainly outside: the open journey is closed at the maximum
// fare for a missing exit (the gate says so) and the new one opens, instead
// of the rider being turned away until MaxJourney. When the held exit
// arrives it corrects the first journey (the fare difference refunded) and
// leaves the new journey open.
func TestEntryElsewhereWhileTheExitIsHeldOffline(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_held", 100000)
	stop, _ := r.fares.Stop(catLinh)
	max := r.fares.MaxFare(stop.NetworkID).IntPart()
	want(t, "entry", r.do(proto.KindMetroEntry, catLinh, "vn_held", 0, nil), proto.ReasonOK)
	r.now = r.now.Add(time.Minute)
	want(t, "another station a minute later", r.do(proto.KindMetroEntry, yen, "vn_held", 0, nil), proto.ReasonPassBack)

	// 20 minutes after the entry the rider left at Hà Đông through a gate
	// that was offline, and 10 minutes later enters at Yên Nghĩa.
	r.now = r.now.Add(29 * time.Minute)
	d := r.do(proto.KindMetroEntry, yen, "vn_held", 0, nil)
	want(t, "entry elsewhere half an hour later", d, proto.ReasonOK)
	if got := r.balance("vn_held"); got != 100000-max || !strings.Contains(d.Display.EN, "no exit tap: maximum fare") {
		t.Fatalf("balance %d (want %d), display %q", got, 100000-max, d.Display.EN)
	}
	if o := r.store.riders["vn_held"].Open; o == nil || o.EntrySite != yen {
		t.Fatalf("the new journey is not open: %+v", o)
	}
	if l := r.store.riders["vn_held"].Last; l == nil || l.FareRule != admission.RuleMissingExit || !l.ExitAt.Equal(r.now) {
		t.Fatalf("the first journey: %+v, want closed for its missing exit at the new entry", l)
	}

	// The held exit arrives: captured 10 minutes before the new entry.
	d = r.do(proto.KindMetroExit, haDong, "vn_held", 10*time.Minute, opened(r.now.Add(-10*time.Minute)))
	want(t, "the held exit", d, proto.ReasonOK)
	q, _ := r.fares.Price(catLinh, haDong)
	if got := r.balance("vn_held"); got != 100000-q.Amount.IntPart() {
		t.Errorf("balance %d after the held exit, want %d (the real fare only)", got, 100000-q.Amount.IntPart())
	}
	if o := r.store.riders["vn_held"].Open; o == nil || o.EntrySite != yen {
		t.Errorf("the held exit disturbed the open journey: %+v", o)
	}
	if l := r.store.riders["vn_held"].Last; l == nil || l.ExitSite != haDong || l.Fare.IntPart() != q.Amount.IntPart() {
		t.Errorf("the first journey after its exit: %+v", l)
	}
	// The new journey ends normally.
	r.now = r.now.Add(15 * time.Minute)
	want(t, "exit of the new journey", r.do(proto.KindMetroExit, haDong, "vn_held", 0, nil), proto.ReasonOK)
	q2, _ := r.fares.Price(yen, haDong)
	if got := r.balance("vn_held"); got != 100000-q.Amount.IntPart()-q2.Amount.IntPart() {
		t.Errorf("balance %d after both journeys, want %d", got, 100000-q.Amount.IntPart()-q2.Amount.IntPart())
	}
}

// A second exit tap of a finished journey, made at another gate that was
// offline and forwarded after the rider's next entry, does not end the
// journey open now (it would be priced from an exit before its entry).
func TestOfflineExitOfThePastLeavesTheOpenJourney(t *testing.T) {
	r := newRig(t)
	paid := r.ride("vn_twice")
	r.now = r.now.Add(30 * time.Minute)
	want(t, "next entry", r.do(proto.KindMetroEntry, haDong, "vn_twice", 0, nil), proto.ReasonOK)
	// The same exit tapped again at a neighbouring offline gate, 10 s after the first.
	d := r.do(proto.KindMetroExit, haDong, "vn_twice", 30*time.Minute-10*time.Second, opened(r.now.Add(-30*time.Minute)))
	want(t, "the offline exit of the past", d, proto.ReasonOK)
	if o := r.store.riders["vn_twice"].Open; o == nil || o.EntrySite != haDong || r.balance("vn_twice") != paid {
		t.Errorf("the open journey %+v, balance %d (want %d): the exit of the past touched them", o, r.balance("vn_twice"), paid)
	}
	if *d.FareVND != 0 {
		t.Errorf("charged %d for an exit of the past", *d.FareVND)
	}
}

// The held exit arrives only after the rider's next journey has ended too
// (found in review): it still corrects the journey it belongs to, however
// many the rider made since, and is not charged as an exit with no entry.
func TestHeldExitAfterTheNextJourneyEnded(t *testing.T) {
	r := newRig(t)
	r.store.fund("vn_late", 100000)
	start := r.now
	want(t, "entry at Cát Linh", r.do(proto.KindMetroEntry, catLinh, "vn_late", 0, nil), proto.ReasonOK)
	// 08:20 exit at Hà Đông through a gate that is offline (held); 08:30
	// entry at Yên Nghĩa closes the first journey for its missing exit.
	r.now = start.Add(30 * time.Minute)
	want(t, "entry at Yên Nghĩa", r.do(proto.KindMetroEntry, yen, "vn_late", 0, nil), proto.ReasonOK)
	r.now = start.Add(45 * time.Minute)
	want(t, "exit at Hà Đông, online", r.do(proto.KindMetroExit, haDong, "vn_late", 0, nil), proto.ReasonOK)
	// 09:00: the held exit arrives, captured at 08:20.
	r.now = start.Add(60 * time.Minute)
	d := r.do(proto.KindMetroExit, haDong, "vn_late", 40*time.Minute, opened(start.Add(20*time.Minute)))
	want(t, "the held exit", d, proto.ReasonOK)
	q1, _ := r.fares.Price(catLinh, haDong)
	q2, _ := r.fares.Price(yen, haDong)
	if got, wantBal := r.balance("vn_late"), 100000-q1.Amount.IntPart()-q2.Amount.IntPart(); got != wantBal {
		t.Errorf("balance %d, want %d: the two real fares and nothing else", got, wantBal)
	}
	for _, c := range r.store.charges {
		if c.Memo == admission.RuleMissingEntry {
			t.Errorf("charged as an exit with no entry: %+v", c)
		}
	}
	// A second exit tap of the first journey, at another offline gate 10 s
	// after the held one: nothing more.
	before := r.balance("vn_late")
	d = r.do(proto.KindMetroExit, haDong, "vn_late", 40*time.Minute-10*time.Second, opened(start.Add(20*time.Minute+10*time.Second)))
	want(t, "a second exit tap of the first journey", d, proto.ReasonOK)
	if r.balance("vn_late") != before {
		t.Errorf("a second exit tap charged %d", before-r.balance("vn_late"))
	}
	// An exit between the journeys with no entry at all is still an exit
	// without an entry: the maximum fare.
	stop, _ := r.fares.Stop(haDong)
	d = r.do(proto.KindMetroExit, "hn2a-la-thanh", "vn_late", 35*time.Minute, opened(start.Add(25*time.Minute)))
	want(t, "an exit between the journeys", d, proto.ReasonOK)
	if got := before - r.balance("vn_late"); got != r.fares.MaxFare(stop.NetworkID).IntPart() {
		t.Errorf("an exit with no entry between the journeys charged %d, want the maximum fare", got)
	}
}

// The station's two exit gates take the same passage at once; the copy
// captured a moment before the first one decided is decided second: a
// retap, nothing charged, not an exit with no entry.
func TestTwinExitCapturedJustBefore(t *testing.T) {
	r := newRig(t)
	paid := r.ride("vn_twin")
	d := r.do(proto.KindMetroExit, haDong, "vn_twin", 50*time.Millisecond, nil)
	want(t, "the twin exit", d, proto.ReasonOK)
	if r.balance("vn_twin") != paid || *d.FareVND != 0 {
		t.Errorf("the twin exit charged %d (balance %d, want %d)", *d.FareVND, r.balance("vn_twin"), paid)
	}
}
