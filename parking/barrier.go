package parking

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/money"
)

// Session is a vehicle's stay in a lot, from the entry barrier to the exit.
type Session struct {
	ID         int64
	Lot        string
	Subject    string
	Plate      string // normalised
	Class      Class
	EntryEvent string
	EntryAt    time.Time
	ExitEvent  string
	ExitAt     time.Time
	Fee        decimal.Decimal
	Tariff     string
	// Rule says what decided the fee: the first data row of the quote,
	// "subscription", or an override.
	Rule         string
	Subscription int64
	Open         bool
}

// Code is why a barrier opened or stayed shut: the gate reason codes of the
// wire contract (proto.Reason) that parking decisions use.
type Code string

const (
	OK                Code = "ok"
	NoAccount         Code = "no_account"
	AccountSuspended  Code = "account_suspended"
	InDebt            Code = "in_debt"
	SessionOpen       Code = "pass_back"
	PlateMismatch     Code = "plate_mismatch"
	LotFull           Code = "lot_full"
	LotClosed         Code = "lot_closed"
	NoPlate           Code = "no_plate"
	InsufficientFunds Code = "insufficient_funds"
	NoEntry           Code = "no_entry"
)

// Text is what a barrier shows, in Vietnamese and English.
type Text struct{ VI, EN string }

// Rider is what the barrier rules need of a rider, read and locked by the
// store in the transaction that records the tap.
type Rider struct {
	Exists    bool
	Status    string // active, suspended, closed
	Postpaid  bool
	Balance   decimal.Decimal
	DebtSince time.Time
	// Open is the rider's open session at this lot, LastClosed the latest
	// one closed there.
	Open, LastClosed *Session
}

// Rules are the barrier rules' settings.
type Rules struct {
	// RetapWindow: a rider who taps again at the same barrier this soon
	// (the first answer came late) passes again, on the same session.
	RetapWindow time.Duration
	// DebtLimit: a post-paid rider whose collection was declined may owe
	// this much and still enter.
	DebtLimit decimal.Decimal
}

// Entry is what an entry barrier decides.
type Entry struct {
	Code Code
	Text Text
	// New is the session to open (nil when refused or on a retap).
	New *Session
	// Session is the session the tap belongs to.
	Session *Session
}

// Gate is what the store reads of the lot for an entry.
type Gate struct {
	Lot       *Lot
	Occupancy Occupancy
	// PlateInside is an open session of the plate in this lot, if any.
	PlateInside *Session
	// Subs are the plate's subscriptions.
	Subs []Subscription
}

// DecideEntry applies the entry rules in order: a plate read, a class the lot
// takes, an account in order, a retap, a session already open, the plate
// already inside, opening hours, a free space, the balance.
func (r Rules) DecideEntry(at time.Time, plate string, rider Rider, g Gate) Entry {
	plate = NormalizePlate(plate)
	if plate == "" {
		return Entry{Code: NoPlate, Text: Text{"Không đọc được biển số, vui lòng liên hệ nhân viên", "Plate not read, please ask the attendant"}}
	}
	class, err := ClassOf(plate)
	if err != nil {
		return Entry{Code: NoPlate, Text: Text{"Biển số " + plate + " không hợp lệ, vui lòng liên hệ nhân viên", "Plate " + plate + " not recognised, please ask the attendant"}}
	}
	if !g.Lot.Takes(class) {
		return Entry{Code: LotFull, Text: Text{"Bãi không nhận " + classVI[class], "This lot takes no " + string(class) + "s"}}
	}
	switch {
	case !rider.Exists || rider.Status == "closed":
		return Entry{Code: NoAccount, Text: Text{"Chưa liên kết tài khoản vnpass trên VNeID", "No vnpass account linked on VNeID"}}
	case rider.Status == "suspended":
		return Entry{Code: AccountSuspended, Text: Text{"Tài khoản bị tạm khóa, vui lòng liên hệ nhân viên", "Account suspended, please ask the attendant"}}
	case rider.Postpaid && !rider.DebtSince.IsZero() && rider.Balance.Neg().GreaterThan(r.DebtLimit):
		owed := money.Format(rider.Balance.Neg())
		return Entry{Code: InDebt, Text: Text{"Tài khoản còn nợ " + owed + ", vui lòng thanh toán trên ứng dụng", "Unpaid " + owed + ", please pay in the app"}}
	}
	if o := rider.Open; o != nil {
		if o.Plate == plate && at.Sub(o.EntryAt) < r.RetapWindow {
			return Entry{Code: OK, Session: o, Text: Text{"Mời vào · Xe " + plate, "Please enter · Vehicle " + plate}}
		}
		return Entry{Code: SessionOpen, Text: Text{"Bạn đang gửi xe " + o.Plate + " tại bãi này", "You already have " + o.Plate + " parked here"}}
	}
	if g.PlateInside != nil {
		return Entry{Code: PlateMismatch, Text: Text{"Xe " + plate + " đang ở trong bãi, vui lòng liên hệ nhân viên", "Vehicle " + plate + " is already inside, please ask the attendant"}}
	}
	if !g.Lot.OpenAt(at) {
		return Entry{Code: LotClosed, Text: Text{fmt.Sprintf("Bãi mở cửa %s-%s", hhmm(g.Lot.Opens), hhmm(g.Lot.Closes)), fmt.Sprintf("Lot open %s-%s", hhmm(g.Lot.Opens), hhmm(g.Lot.Closes))}}
	}
	if g.Lot.Free(g.Occupancy, class) == 0 {
		return Entry{Code: LotFull, Text: Text{"Bãi đã hết chỗ cho " + classVI[class], "No " + string(class) + " spaces left"}}
	}
	t := g.Lot.Tariffs[class]
	if !rider.Postpaid && !covered(ForPlate(g.Subs, plate), t.ID, at) && rider.Balance.LessThan(t.MinCharge()) {
		return Entry{Code: InsufficientFunds, Text: Text{"Số dư không đủ (tối thiểu " + money.Format(t.MinCharge()) + "), vui lòng nạp tiền",
			"Insufficient balance (" + money.Format(t.MinCharge()) + " needed), please top up"}}
	}
	s := &Session{Lot: g.Lot.ID, Subject: "", Plate: plate, Class: class, EntryAt: at, Tariff: t.ID, Open: true}
	return Entry{Code: OK, New: s, Session: s, Text: Text{"Mời vào · Xe " + plate, "Please enter · Vehicle " + plate}}
}

// Honour is an entry the barrier let through by itself (offline): the
// session is opened whatever the rules would say (the vehicle is inside),
// unless the rider's session here is already open.
func (r Rules) HonourEntry(at time.Time, plate string, rider Rider, lot *Lot) Entry {
	plate = NormalizePlate(plate)
	if rider.Open != nil {
		return Entry{Code: OK, Session: rider.Open, Text: Text{"Lượt vào ngoại tuyến: xe đã có trong bãi", "Offline entry: session already open"}}
	}
	class, err := ClassOf(plate)
	if err != nil || lot.Tariffs[class] == nil {
		class = Motorbike
		if lot.Tariffs[class] == nil {
			class = Car
		}
	}
	s := &Session{Lot: lot.ID, Plate: plate, Class: class, EntryAt: at, Tariff: lot.Tariffs[class].ID, Open: true}
	return Entry{Code: OK, New: s, Session: s, Text: Text{"Lượt vào ngoại tuyến đã ghi nhận", "Offline entry recorded"}}
}

// ForPlate keeps the subscriptions bound to plate.
func ForPlate(subs []Subscription, plate string) []Subscription {
	plate = NormalizePlate(plate)
	var out []Subscription
	for _, s := range subs {
		if NormalizePlate(s.Plate) == plate {
			out = append(out, s)
		}
	}
	return out
}

func covered(subs []Subscription, tariff string, at time.Time) bool {
	for _, s := range subs {
		if s.Tariff == tariff && !at.Before(s.From) && at.Before(s.Until) {
			return true
		}
	}
	return false
}

var classVI = map[Class]string{Motorbike: "xe máy", Car: "ô tô", Large: "xe lớn"}

// Exit is what an exit barrier decides.
type Exit struct {
	Code  Code
	Text  Text
	Close *Session // the session to close, fee and exit filled in
	Quote *Quote
	// Session is the session the tap belongs to (a retap's closed one).
	Session *Session
}

// DecideExit applies the exit rules: a retap passes again; a rider with no
// session here, an unread plate or another vehicle's plate is held for the
// attendant; otherwise the session closes at its tariff's fee. An exit is
// never refused for money: a prepaid balance may go negative (debt).
func (r Rules) DecideExit(at time.Time, plate string, rider Rider, lot *Lot, subs []Subscription, honour bool) (Exit, error) {
	plate = NormalizePlate(plate)
	if l := rider.LastClosed; rider.Open == nil && l != nil && at.Sub(l.ExitAt) < r.RetapWindow && (plate == "" || plate == l.Plate) {
		return Exit{Code: OK, Session: l, Text: Text{"Mời ra · Xe " + l.Plate, "Please exit · Vehicle " + l.Plate}}, nil
	}
	o := rider.Open
	switch {
	case o == nil:
		return Exit{Code: NoEntry, Text: Text{"Không tìm thấy lượt gửi xe, vui lòng liên hệ nhân viên", "No parking entry found, please ask the attendant"}}, nil
	case honour:
		// The barrier opened offline: the vehicle has left.
	case plate == "":
		return Exit{Code: NoPlate, Text: Text{"Không đọc được biển số, vui lòng liên hệ nhân viên", "Plate not read, please ask the attendant"}}, nil
	case plate != o.Plate:
		return Exit{Code: PlateMismatch, Text: Text{"Biển số " + plate + " không khớp xe đã gửi, vui lòng liên hệ nhân viên",
			"Plate " + plate + " does not match the vehicle parked, please ask the attendant"}}, nil
	}
	t := lot.Tariffs[o.Class]
	if t == nil {
		return Exit{}, fmt.Errorf("parking: lot %s has no tariff for %s", lot.ID, o.Class)
	}
	q, err := t.Quote(o.EntryAt, at, ForPlate(subs, o.Plate))
	if err != nil {
		return Exit{}, err
	}
	c := *o
	c.Open, c.ExitAt, c.Fee, c.Subscription = false, at, q.Amount, q.Subscription
	if len(q.Steps) > 0 {
		c.Rule = q.Steps[0].Rule
	}
	e := Exit{Code: OK, Close: &c, Session: &c, Quote: &q}
	stay := dur(at.Sub(o.EntryAt))
	if q.Amount.IsZero() {
		e.Text = Text{"Miễn phí (" + stay + ")", "Free (" + stay + ")"}
	} else {
		e.Text = Text{"Phí gửi xe " + money.Format(q.Amount) + " (" + stay + ")", "Parking " + money.Format(q.Amount) + " (" + stay + ")"}
	}
	return e, nil
}
