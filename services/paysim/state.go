package paysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/payment"
)

// state is everything the simulator knows. It changes only through apply,
// the same code for a live change and for replaying the state file, so a
// restarted simulator is the one that stopped.
type state struct {
	sources   map[sourceID]*source
	links     map[string]*link // by token
	linkByKey map[string]*link
	debits    map[string]*debit   // by key
	approved  map[string][]*debit // by local date, "2006-01-02"
	debitSeq  int64               // debits decided so far; numbers refs
}

func newState() state {
	return state{
		sources:   make(map[sourceID]*source),
		links:     make(map[string]*link),
		linkByKey: make(map[string]*link),
		debits:    make(map[string]*debit),
		approved:  make(map[string][]*debit),
	}
}

type link struct {
	key, token, subject, consent string
	source                       sourceID
	at                           time.Time
	unlinked                     bool
}

type debit struct {
	key, token  string
	amount      decimal.Decimal
	memo        string
	status      payment.Status
	declineCode string
	ref         string
	at          time.Time
}

func (d *debit) result() payment.Result {
	return payment.Result{Status: d.status, Ref: d.ref, DeclineCode: d.declineCode, Amount: d.amount, At: d.at}
}

// event is one line of the state file: a change, with everything needed to
// apply it again.
type event struct {
	Op        string         `json:"op"` // opSource, opLink, opUnlink, opDebit
	At        time.Time      `json:"at"`
	Method    payment.Method `json:"method,omitempty"`
	Account   string         `json:"account,omitempty"` // normalised
	Balance   int64          `json:"balance_vnd,omitempty"`
	Behaviour Behaviour      `json:"behaviour,omitempty"`
	Key       string         `json:"key,omitempty"`
	Token     string         `json:"token,omitempty"`
	Subject   string         `json:"subject,omitempty"`
	Consent   string         `json:"consent_version,omitempty"`
	Amount    int64          `json:"amount_vnd,omitempty"`
	Memo      string         `json:"memo,omitempty"`
	Status    payment.Status `json:"status,omitempty"`
	Decline   string         `json:"decline_code,omitempty"`
	Ref       string         `json:"ref,omitempty"`
}

const (
	opSource = "source" // a source created or changed: its whole balance and behaviour
	opLink   = "link"
	opUnlink = "unlink"
	opDebit  = "debit" // a decided debit; an approved one takes its amount from the source
)

// apply makes one change. It checks what a damaged or edited state file
// could get wrong; live changes are checked before they get here.
func (st *state) apply(e event) error {
	switch e.Op {
	case opSource:
		id := sourceID{e.Method, e.Account}
		if !e.Method.Valid() || len(e.Account) < 4 || !e.Behaviour.Valid() || e.Balance < 0 {
			return fmt.Errorf("bad source %s", e.Account)
		}
		st.sources[id] = &source{id: id, balance: decimal.NewFromInt(e.Balance), behaviour: e.Behaviour}
	case opLink:
		id := sourceID{e.Method, e.Account}
		if st.sources[id] == nil || e.Token == "" || st.links[e.Token] != nil || st.linkByKey[e.Key] != nil {
			return fmt.Errorf("bad link %s", e.Key)
		}
		l := &link{key: e.Key, token: e.Token, subject: e.Subject, consent: e.Consent, source: id, at: e.At.In(fare.Zone)}
		st.links[e.Token], st.linkByKey[e.Key] = l, l
	case opUnlink:
		l := st.links[e.Token]
		if l == nil {
			return fmt.Errorf("unlink of unknown token")
		}
		l.unlinked = true
	case opDebit:
		l := st.links[e.Token]
		if l == nil || st.debits[e.Key] != nil || e.Amount <= 0 || (e.Status != payment.Approved && e.Status != payment.Declined) {
			return fmt.Errorf("bad debit %s", e.Key)
		}
		// Times are kept in local time without a monotonic reading, so a
		// replayed debit is the one first decided.
		d := &debit{key: e.Key, token: e.Token, amount: decimal.NewFromInt(e.Amount), memo: e.Memo,
			status: e.Status, declineCode: e.Decline, ref: e.Ref, at: e.At.In(fare.Zone)}
		st.debits[e.Key] = d
		st.debitSeq++
		if d.status == payment.Approved {
			src := st.sources[l.source]
			src.balance = src.balance.Sub(d.amount)
			day := dayOf(d.at)
			st.approved[day] = append(st.approved[day], d)
		}
	default:
		return fmt.Errorf("unknown op %q", e.Op)
	}
	return nil
}

// dayOf is the local date (Asia/Ho_Chi_Minh) a debit settles on.
func dayOf(t time.Time) string { return t.In(fare.Zone).Format(time.DateOnly) }

// settlements of one local date, oldest first.
func (st *state) settlements(day string) []payment.Settlement {
	ds := st.approved[day]
	out := make([]payment.Settlement, 0, len(ds))
	for _, d := range ds {
		out = append(out, payment.Settlement{Key: d.key, Ref: d.ref, Amount: d.amount, At: d.at})
	}
	slices.SortStableFunc(out, func(a, b payment.Settlement) int { return a.At.Compare(b.At) })
	return out
}

// load replays the state file and opens it for appending. A last line cut
// short by a crash is dropped (and truncated away); damage elsewhere is an error.
func (s *Server) load() error {
	if s.cfg.StateFile == "" {
		return nil
	}
	path := s.cfg.StateFile
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("paysim: open state: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return fmt.Errorf("paysim: read state: %w", err)
	}
	good := 0 // bytes of complete, valid lines
	for lineNo := 1; good < len(data); lineNo++ {
		end := bytes.IndexByte(data[good:], '\n')
		if end < 0 {
			s.log.Warn("dropping truncated last line of state file", "line", lineNo)
			break
		}
		if line := bytes.TrimSpace(data[good : good+end]); len(line) > 0 {
			var e event
			if err := json.Unmarshal(line, &e); err != nil {
				f.Close()
				return fmt.Errorf("paysim: %s line %d: %w", path, lineNo, err)
			}
			if err := s.st.apply(e); err != nil {
				f.Close()
				return fmt.Errorf("paysim: %s line %d: %w", path, lineNo, err)
			}
		}
		good += end + 1
	}
	if good < len(data) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return fmt.Errorf("paysim: truncate state: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		f.Close()
		return fmt.Errorf("paysim: seek state: %w", err)
	}
	s.file, s.size = f, int64(good)
	s.log.Info("state replayed", "path", path, "sources", len(s.st.sources), "links", len(s.st.links), "debits", len(s.st.debits))
	return nil
}

// commit logs e and then applies it; called with s.mu held. A change that
// cannot be logged is not made, so what the simulator answered is always
// what a restart replays. Lines are not fsynced: a simulator restart keeps
// them (page cache); a power cut may lose the last few.
func (s *Server) commit(e event) error {
	if s.closed {
		return ErrClosed
	}
	if s.file != nil {
		line, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("paysim: encode %s: %w", e.Op, err)
		}
		n, err := s.file.Write(append(line, '\n'))
		if err != nil {
			// Cut off a partial line so the next append starts clean.
			if n > 0 && s.file.Truncate(s.size) == nil {
				_, _ = s.file.Seek(s.size, 0)
			}
			return fmt.Errorf("paysim: append state: %w", err)
		}
		s.size += int64(n)
	}
	if err := s.st.apply(e); err != nil {
		return fmt.Errorf("paysim: apply %s: %w", e.Op, err) // a bug: live changes are checked first
	}
	return nil
}
