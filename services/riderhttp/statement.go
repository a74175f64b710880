package riderhttp

import (
	"bytes"
	"embed"
	"html/template"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/settlepg"
)

//go:embed statement.html
var statementFS embed.FS

var statementTmpl = template.Must(template.ParseFS(statementFS, "statement.html"))

// kindNames are the ledger transaction kinds as a rider reads them.
var kindNames = map[string][2]string{
	"fare":            {"Tiền vé", "Fares"},
	"fare_correction": {"Điều chỉnh giá vé", "Fare corrections"},
	"refund":          {"Hoàn tiền", "Refunds"},
	"topup":           {"Nạp tiền", "Top-ups"},
	"pass":            {"Mua vé tháng/ngày", "Passes"},
	"collection":      {"Thu qua tài khoản liên kết", "Collected from your linked account"},
	"parking":         {"Phí gửi xe", "Parking"},
	"parking_refund":  {"Hoàn phí gửi xe", "Parking refunds"},
}

func kindName(k string) (vi, en string) {
	if n, ok := kindNames[k]; ok {
		return n[0], n[1]
	}
	return k, k
}

// StatementJSON is a month's statement; its totals are the ledger's.
type StatementJSON struct {
	Month       string           `json:"month"`
	From        string           `json:"from"`
	To          string           `json:"to"` // exclusive
	OpeningVND  int64            `json:"opening_vnd"`
	InVND       int64            `json:"in_vnd"`
	OutVND      int64            `json:"out_vnd"`
	ClosingVND  int64            `json:"closing_vnd"`
	ByKindVND   map[string]int64 `json:"by_kind_vnd"`
	Lines       []PostingJSON    `json:"lines"`
	OpeningText string           `json:"opening_text"`
	InText      string           `json:"in_text"`
	OutText     string           `json:"out_text"`
	ClosingText string           `json:"closing_text"`
	// The printable page's own fields.
	Kinds   []statementKind `json:"-"`
	Rows    []statementLine `json:"-"`
	Subject string          `json:"-"`
	Printed string          `json:"-"`
	MonthVI string          `json:"-"`
	MonthEN string          `json:"-"`
	Period  string          `json:"-"`
}

type statementKind struct{ VI, EN, Amount string }

type statementLine struct {
	Date, VI, EN, Memo, Amount string
	Journey                    int64
	In                         bool
}

func (h *handlers) statement(c *fiber.Ctx) error {
	month, err := time.ParseInLocation("2006-01", c.Params("month"), fare.Zone)
	now := h.cfg.Now()
	if err != nil || month.After(now) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-month", "month must be YYYY-MM, not in the future.")
	}
	subject := authjwt.Caller(c).Subject
	st, err := h.cfg.Store.Statement(c.UserContext(), subject, month, month.AddDate(0, 1, 0))
	if err != nil {
		return err
	}
	v := statementJSON(st)
	v.Month = month.Format("2006-01")
	if c.Query("format") == "json" {
		return c.JSON(v)
	}
	v.Subject, v.Printed = subject, now.In(fare.Zone).Format("15:04 02/01/2006")
	v.MonthVI, v.MonthEN = month.Format("01/2006"), month.Format("January 2006")
	v.Period = month.Format("02/01/2006") + " – " + month.AddDate(0, 1, -1).Format("02/01/2006")
	var b bytes.Buffer
	if err := statementTmpl.Execute(&b, v); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b.Bytes())
}

func statementJSON(st settlepg.Statement) StatementJSON {
	v := StatementJSON{From: local(st.From), To: local(st.To),
		OpeningVND: vnd(st.Opening), InVND: vnd(st.In), OutVND: vnd(st.Out), ClosingVND: vnd(st.Closing),
		OpeningText: money.Format(st.Opening), InText: money.Format(st.In), OutText: money.Format(st.Out), ClosingText: money.Format(st.Closing),
		ByKindVND: map[string]int64{}, Lines: make([]PostingJSON, len(st.Lines))}
	kinds := make([]string, 0, len(st.ByKind))
	for k, a := range st.ByKind {
		v.ByKindVND[k] = vnd(a)
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		vi, en := kindName(k)
		v.Kinds = append(v.Kinds, statementKind{VI: vi, EN: en, Amount: money.Format(st.ByKind[k])})
	}
	for i, p := range st.Lines {
		v.Lines[i] = postingJSON(p)
		vi, en := kindName(p.Kind)
		v.Rows = append(v.Rows, statementLine{Date: p.At.In(fare.Zone).Format("02/01 15:04"), VI: vi, EN: en, Memo: p.Memo,
			Amount: money.Format(p.Amount), Journey: p.JourneyID, In: p.Amount.IsPositive()})
	}
	return v
}
