package proto

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The catalogue: each valid case is checked both ways, message -> exact bytes
// and bytes -> message. A change here is a change of the wire contract.

const jws = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJ2bl9hYmMifQ.c2ln"

var t0 = time.Date(2026, 11, 24, 7, 30, 0, 120_000_000, time.UTC)

func i64(v int64) *int64 { return &v }

var tapCases = []struct {
	name string
	raw  string
	msg  Tap
}{
	{
		name: "metro entry",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607182","device":"hn2a-cat-linh-g01","site":"hn2a-cat-linh","kind":"metro_entry","assertion":"` + jws + `","captured_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Tap{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607182", Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: KindMetroEntry, Assertion: jws, CapturedAt: At(t0)},
	},
	{
		name: "metro exit",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607183","device":"hn2a-ha-dong-g02","site":"hn2a-ha-dong","kind":"metro_exit","assertion":"` + jws + `","captured_at":"2026-11-24T07:30:00.000Z"}`,
		msg:  Tap{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607183", Device: "hn2a-ha-dong-g02", Site: "hn2a-ha-dong", Kind: KindMetroExit, Assertion: jws, CapturedAt: At(t0.Truncate(time.Second))},
	},
	{
		name: "parking entry with plate",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607184","device":"hn-p-hoan-kiem-in1","site":"hn-p-hoan-kiem","kind":"parking_entry","assertion":"` + jws + `","captured_at":"2026-11-24T07:30:00.120Z","plate":"29A-123.45"}`,
		msg:  Tap{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607184", Device: "hn-p-hoan-kiem-in1", Site: "hn-p-hoan-kiem", Kind: KindParkingEntry, Assertion: jws, CapturedAt: At(t0), Plate: "29A-123.45"},
	},
	{
		name: "rail gate",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607185","device":"ga-ha-noi-g07","site":"ga-ha-noi","kind":"rail_gate","assertion":"` + jws + `","captured_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Tap{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607185", Device: "ga-ha-noi-g07", Site: "ga-ha-noi", Kind: KindRailGate, Assertion: jws, CapturedAt: At(t0)},
	},
	{
		name: "entry decided offline",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607186","device":"hn2a-cat-linh-g01","site":"hn2a-cat-linh","kind":"metro_entry","assertion":"` + jws + `","captured_at":"2026-11-24T07:30:00.120Z","offline":{"open":true,"reason":"ok","rule":"verified","deny_list_version":12,"decided_at":"2026-11-24T07:30:00.140Z"}}`,
		msg: Tap{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607186", Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: KindMetroEntry, Assertion: jws, CapturedAt: At(t0),
			Offline: &OfflineDecision{Open: true, Reason: ReasonOK, Rule: "verified", DenyListVersion: 12, DecidedAt: At(t0.Add(20 * time.Millisecond))}},
	},
	{
		name: "entry refused offline",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607187","device":"hn2a-cat-linh-g01","site":"hn2a-cat-linh","kind":"metro_entry","assertion":"` + jws + `","captured_at":"2026-11-24T07:30:00.120Z","offline":{"open":false,"reason":"offline_limit","rule":"offline_limit","deny_list_version":12,"decided_at":"2026-11-24T07:30:00.140Z"}}`,
		msg: Tap{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607187", Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: KindMetroEntry, Assertion: jws, CapturedAt: At(t0),
			Offline: &OfflineDecision{Reason: ReasonOfflineLimit, Rule: "offline_limit", DenyListVersion: 12, DecidedAt: At(t0.Add(20 * time.Millisecond))}},
	},
	{
		name: "rail gate opened offline on a ticket",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607188","device":"ga-ha-noi-g07","site":"ga-ha-noi","kind":"rail_gate","assertion":"` + jws + `","captured_at":"2026-11-24T07:30:00.120Z","offline":{"open":true,"reason":"ok","rule":"ticket","deny_list_version":0,"decided_at":"2026-11-24T07:30:00.140Z","tickets_version":31,"ticket_id":9001}}`,
		msg: Tap{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607188", Device: "ga-ha-noi-g07", Site: "ga-ha-noi", Kind: KindRailGate, Assertion: jws, CapturedAt: At(t0),
			Offline: &OfflineDecision{Open: true, Reason: ReasonOK, Rule: "ticket", DecidedAt: At(t0.Add(20 * time.Millisecond)), TicketsVersion: 31, TicketID: 9001}},
	},
	{
		name: "rail gate refused offline: ticket used here",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607189","device":"ga-ha-noi-g07","site":"ga-ha-noi","kind":"rail_gate","assertion":"` + jws + `","captured_at":"2026-11-24T07:30:00.120Z","offline":{"open":false,"reason":"ticket_used","rule":"ticket_used","deny_list_version":0,"decided_at":"2026-11-24T07:30:00.140Z","tickets_version":31}}`,
		msg: Tap{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607189", Device: "ga-ha-noi-g07", Site: "ga-ha-noi", Kind: KindRailGate, Assertion: jws, CapturedAt: At(t0),
			Offline: &OfflineDecision{Reason: ReasonTicketUsed, Rule: "ticket_used", DecidedAt: At(t0.Add(20 * time.Millisecond)), TicketsVersion: 31}},
	},
}

var decisionCases = []struct {
	name string
	raw  string
	msg  Decision
}{
	{
		name: "entry opens",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607182","open":true,"reason":"ok","display":{"vi":"Mời qua","en":"Please pass"},"balance_vnd":100000,"decided_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Decision{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607182", Open: true, Reason: ReasonOK, Display: Display{VI: "Mời qua", EN: "Please pass"}, BalanceVND: i64(100000), DecidedAt: At(t0)},
	},
	{
		name: "exit charges",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607183","open":true,"reason":"ok","display":{"vi":"Phí 15.000 ₫","en":"Fare 15.000 ₫"},"fare_vnd":15000,"balance_vnd":-5000,"decided_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Decision{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607183", Open: true, Reason: ReasonOK, Display: Display{VI: "Phí 15.000 ₫", EN: "Fare 15.000 ₫"}, FareVND: i64(15000), BalanceVND: i64(-5000), DecidedAt: At(t0)},
	},
	{
		name: "replay refused",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607184","open":false,"reason":"assertion_replayed","display":{"vi":"Xác thực đã được sử dụng","en":"Identity check already used"},"decided_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Decision{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607184", Reason: ReasonAssertionReplayed, Display: ReasonAssertionReplayed.Display(), DecidedAt: At(t0)},
	},
	{
		name: "parking exit: plate does not match",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607188","open":false,"reason":"plate_mismatch","display":{"vi":"Biển số không khớp, vui lòng liên hệ nhân viên","en":"Plate does not match, please ask the attendant"},"decided_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Decision{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607188", Reason: ReasonPlateMismatch, Display: ReasonPlateMismatch.Display(), DecidedAt: At(t0)},
	},
	{
		name: "parking entry: lot full",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607189","open":false,"reason":"lot_full","display":{"vi":"Bãi đã hết chỗ","en":"Lot full"},"decided_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Decision{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607189", Reason: ReasonLotFull, Display: ReasonLotFull.Display(), DecidedAt: At(t0)},
	},
	{
		name: "rail gate: ticket already used",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607185","open":false,"reason":"ticket_used","display":{"vi":"Vé tàu đã được sử dụng","en":"Train ticket already used"},"decided_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Decision{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607185", Reason: ReasonTicketUsed, Display: ReasonTicketUsed.Display(), DecidedAt: At(t0)},
	},
	{
		name: "rail gate: no ticket",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607186","open":false,"reason":"no_ticket","display":{"vi":"Không tìm thấy vé tàu hợp lệ, vui lòng liên hệ nhân viên","en":"No valid train ticket found, please ask staff"},"decided_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Decision{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607186", Reason: ReasonNoTicket, Display: ReasonNoTicket.Display(), DecidedAt: At(t0)},
	},
	{
		name: "rail gate: outside the window",
		raw:  `{"v":1,"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607187","open":false,"reason":"outside_window","display":{"vi":"Chưa đến giờ hoặc đã quá giờ lên tàu","en":"Not boarding time for your train"},"decided_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Decision{V: 1, EventID: "019ab5c3-0f2e-7a10-8b2c-3d4e5f607187", Reason: ReasonOutsideWindow, Display: ReasonOutsideWindow.Display(), DecidedAt: At(t0)},
	},
}

var statusCases = []struct {
	name string
	raw  string
	msg  Status
}{
	{
		name: "online",
		raw:  `{"v":1,"device":"hn2a-cat-linh-g01","site":"hn2a-cat-linh","kind":"metro_entry","state":"online","software":"vnpass-agent/0.1.0","queue_depth":0,"at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Status{V: 1, Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: KindMetroEntry, State: StateOnline, Software: "vnpass-agent/0.1.0", At: At(t0)},
	},
	{
		name: "last will",
		raw:  `{"v":1,"device":"hn2a-cat-linh-g01","site":"hn2a-cat-linh","kind":"metro_entry","state":"offline","queue_depth":0,"at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Status{V: 1, Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: KindMetroEntry, State: StateOffline, At: At(t0)},
	},
	{
		name: "heartbeat with fleet fields",
		raw:  `{"v":1,"device":"hn2a-cat-linh-g01","site":"hn2a-cat-linh","kind":"metro_entry","state":"online","software":"vnpass-agent/0.2.0","queue_depth":42,"at":"2026-11-24T07:30:00.120Z","config_version":7,"deny_list_version":12,"clock_offset_ms":-35,"offline_opened":40,"offline_refused":2,"heartbeat_s":30}`,
		msg: Status{V: 1, Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: KindMetroEntry, State: StateOnline, Software: "vnpass-agent/0.2.0",
			QueueDepth: 42, At: At(t0), ConfigVersion: 7, DenyListVersion: 12, ClockOffsetMS: i64(-35), OfflineOpened: 40, OfflineRefused: 2, HeartbeatS: 30},
	},
	{
		name: "rail gate heartbeat with its ticket list",
		raw:  `{"v":1,"device":"ga-ha-noi-g07","site":"ga-ha-noi","kind":"rail_gate","state":"online","queue_depth":0,"at":"2026-11-24T07:30:00.120Z","config_version":8,"deny_list_version":12,"tickets_version":31,"heartbeat_s":30}`,
		msg: Status{V: 1, Device: "ga-ha-noi-g07", Site: "ga-ha-noi", Kind: KindRailGate, State: StateOnline,
			At: At(t0), ConfigVersion: 8, DenyListVersion: 12, TicketsVersion: 31, HeartbeatS: 30},
	},
}

var configCases = []struct {
	name string
	raw  string
	msg  Config
}{
	{
		name: "timeout",
		raw:  `{"v":1,"version":3,"device":"hn2a-cat-linh-g01","site":"hn2a-cat-linh","kind":"metro_entry","decision_timeout_ms":1500,"issued_at":"2026-11-24T07:30:00.120Z"}`,
		msg:  Config{V: 1, Version: 3, Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: KindMetroEntry, DecisionTimeoutMS: 1500, IssuedAt: At(t0)},
	},
	{
		name: "offline policy and deny list",
		raw:  `{"v":1,"version":7,"device":"hn2a-cat-linh-g01","site":"hn2a-cat-linh","kind":"metro_entry","decision_timeout_ms":2000,"issued_at":"2026-11-24T07:30:00.120Z","offline":{"max_entries_per_day":2,"deny_list_max_age_h":24,"pass_back_s":1200},"deny_list":{"version":12,"issued_at":"2026-11-24T06:00:00.000Z","subjects":["vn_4f1c9a","vn_77b0e2"]},"heartbeat_s":30,"drain_per_s":200}`,
		msg: Config{V: 1, Version: 7, Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: KindMetroEntry, DecisionTimeoutMS: 2000, IssuedAt: At(t0),
			Offline:    &OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24, PassBackS: 1200},
			DenyList:   &DenyList{Version: 12, IssuedAt: At(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)), Subjects: []string{"vn_4f1c9a", "vn_77b0e2"}},
			HeartbeatS: 30, DrainPerS: 200},
	},
	{
		name: "rail gate tickets",
		raw:  `{"v":1,"version":8,"device":"ga-ha-noi-g07","site":"ga-ha-noi","kind":"rail_gate","decision_timeout_ms":2000,"issued_at":"2026-11-24T07:30:00.120Z","tickets":{"version":31,"issued_at":"2026-11-24T07:30:00.000Z","station":"HNO","from":"2026-11-24T07:25:00.000Z","until":"2026-11-24T13:30:00.000Z","admit_before_s":3600,"admit_after_s":300,"tickets":[{"id":9001,"subject":"vn_4f1c9a","train":"SE1","departure":"2026-11-24T08:00:00.000Z","coach":"5","seat":"21"},{"id":9002,"subject":"vn_77b0e2","train":"SE3","departure":"2026-11-24T12:45:00.000Z","coach":"2","seat":"7B"}]}}`,
		msg: Config{V: 1, Version: 8, Device: "ga-ha-noi-g07", Site: "ga-ha-noi", Kind: KindRailGate, DecisionTimeoutMS: 2000, IssuedAt: At(t0),
			Tickets: &TicketList{Version: 31, IssuedAt: At(t0.Truncate(time.Second)), Station: "HNO",
				From: At(t0.Truncate(time.Second).Add(-5 * time.Minute)), Until: At(t0.Truncate(time.Second).Add(6 * time.Hour)),
				AdmitBeforeS: 3600, AdmitAfterS: 300, Tickets: []GateTicket{
					{ID: 9001, Subject: "vn_4f1c9a", Train: "SE1", Departure: At(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)), Coach: "5", Seat: "21"},
					{ID: 9002, Subject: "vn_77b0e2", Train: "SE3", Departure: At(time.Date(2026, 11, 24, 12, 45, 0, 0, time.UTC)), Coach: "2", Seat: "7B"},
				}}},
	},
}

func TestTicketListRejects(t *testing.T) {
	raw := configCases[2].raw
	for name, bad := range map[string]string{
		"not a rail gate":       strings.Replace(raw, `"kind":"rail_gate"`, `"kind":"metro_entry"`, 1),
		"version 0":             strings.Replace(raw, `"version":31`, `"version":0`, 1),
		"no station":            strings.Replace(raw, `"station":"HNO",`, ``, 1),
		"lower-case station":    strings.Replace(raw, `"station":"HNO"`, `"station":"hno"`, 1),
		"until before from":     strings.Replace(raw, `"until":"2026-11-24T13:30:00.000Z"`, `"until":"2026-11-24T07:00:00.000Z"`, 1),
		"span over 48 hours":    strings.Replace(raw, `"until":"2026-11-24T13:30:00.000Z"`, `"until":"2026-11-27T13:30:00.000Z"`, 1),
		"departure after until": strings.Replace(raw, `"departure":"2026-11-24T12:45:00.000Z"`, `"departure":"2026-11-24T14:45:00.000Z"`, 1),
		"window over 2 hours":   strings.Replace(raw, `"admit_after_s":300`, `"admit_after_s":9000`, 1),
		"ticket id 0":           strings.Replace(raw, `"id":9001`, `"id":0`, 1),
		"subject with space":    strings.Replace(raw, `"vn_4f1c9a"`, `"vn 4f1c9a"`, 1),
		"train lower case":      strings.Replace(raw, `"SE1"`, `"se1"`, 1),
		"seat with a slash":     strings.Replace(raw, `"7B"`, `"7/B"`, 1),
	} {
		if _, err := DecodeConfig([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// A station's departures over the next hours fit in a config: the
	// most tickets a list may hold, with long subjects, beside a deny list.
	l := TicketList{Version: 1, IssuedAt: At(t0), Station: "HNO", From: At(t0), Until: At(t0.Add(6 * time.Hour)), AdmitBeforeS: 3600, AdmitAfterS: 300}
	for i := range MaxTickets {
		l.Tickets = append(l.Tickets, GateTicket{ID: int64(1_000_000 + i), Subject: "vn_" + strings.Repeat("x", 43), Train: "SE1234",
			Departure: At(t0.Add(time.Duration(i) * time.Second)), Coach: "12", Seat: "64B"})
	}
	deny := make([]string, 2000)
	for i := range deny {
		deny[i] = "vn_" + strings.Repeat("y", 43)
	}
	c := Config{Version: 1, Device: "ga-ha-noi-g07", Site: "ga-ha-noi", Kind: KindRailGate, DecisionTimeoutMS: 2000, IssuedAt: At(t0),
		Tickets: &l, DenyList: &DenyList{Version: 1, IssuedAt: At(t0), Subjects: deny}}
	b, err := c.Encode()
	if err != nil {
		t.Fatalf("%d tickets and %d deny-listed riders: %v", MaxTickets, len(deny), err)
	}
	t.Logf("%d tickets and %d deny-listed riders: %d bytes of %d", MaxTickets, len(deny), len(b), MaxConfigSize)
	l.Tickets = append(l.Tickets, l.Tickets[0])
	if _, err := c.Encode(); err == nil {
		t.Errorf("%d tickets encoded", len(l.Tickets))
	}
}

func TestConfigRejects(t *testing.T) {
	raw := configCases[1].raw
	for name, bad := range map[string]string{
		"negative offline limit": strings.Replace(raw, `"max_entries_per_day":2`, `"max_entries_per_day":-1`, 1),
		"deny list age too long": strings.Replace(raw, `"deny_list_max_age_h":24`, `"deny_list_max_age_h":100000`, 1),
		"deny list version 0":    strings.Replace(raw, `"version":12`, `"version":0`, 1),
		"deny list no time":      strings.Replace(raw, `"issued_at":"2026-11-24T06:00:00.000Z",`, ``, 1),
		"subject with space":     strings.Replace(raw, `"vn_4f1c9a"`, `"vn 4f1c9a"`, 1),
		"empty subject":          strings.Replace(raw, `"vn_4f1c9a"`, `""`, 1),
		"heartbeat too fast":     strings.Replace(raw, `"heartbeat_s":30`, `"heartbeat_s":1`, 1),
		"negative drain rate":    strings.Replace(raw, `"drain_per_s":200`, `"drain_per_s":-5`, 1),
	} {
		if _, err := DecodeConfig([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestStatusRejects(t *testing.T) {
	raw := statusCases[2].raw
	for name, bad := range map[string]string{
		"negative config version": strings.Replace(raw, `"config_version":7`, `"config_version":-7`, 1),
		"negative offline count":  strings.Replace(raw, `"offline_opened":40`, `"offline_opened":-1`, 1),
	} {
		if _, err := DecodeStatus([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func checkBothWays[M any](t *testing.T, name, raw string, msg M, enc func(M) ([]byte, error), dec func([]byte) (M, error)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		got, err := enc(msg)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if string(got) != raw {
			t.Errorf("encode:\n got %s\nwant %s", got, raw)
		}
		back, err := dec([]byte(raw))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(back, msg) {
			t.Errorf("decode:\n got %+v\nwant %+v", back, msg)
		}
	})
}

func TestCatalogue(t *testing.T) {
	for _, c := range tapCases {
		checkBothWays(t, "tap/"+c.name, c.raw, c.msg, Tap.Encode, DecodeTap)
	}
	for _, c := range decisionCases {
		checkBothWays(t, "decision/"+c.name, c.raw, c.msg, Decision.Encode, DecodeDecision)
	}
	for _, c := range statusCases {
		checkBothWays(t, "status/"+c.name, c.raw, c.msg, Status.Encode, DecodeStatus)
	}
	for _, c := range configCases {
		checkBothWays(t, "config/"+c.name, c.raw, c.msg, Config.Encode, DecodeConfig)
	}
}

// Bytes a gate (or an attacker on a gate's credentials) might send, and the
// part of the error that must name what is wrong.
var badTaps = []struct {
	name, raw, want string
}{
	{"empty", ``, "unexpected end"},
	{"not json", `hello`, "invalid character"},
	{"array", `[1,2]`, "cannot unmarshal array"},
	{"no version", `{"event_id":"019ab5c3-0f2e-7a10-8b2c-3d4e5f607182"}`, `missing "v"`},
	{"version 2", `{"v":2}`, "version 2"},
	{"trailing data", `{"v":1}{"v":1}`, "after top-level value"},
	{"bad event id", strings.Replace(tapCases[0].raw, "019ab5c3-0f2e", "019AB5C3-0f2e", 1), "lower-case UUID"},
	{"short event id", strings.Replace(tapCases[0].raw, "019ab5c3-", "019ab5c", 1), "36-character"},
	{"topic chars in device", strings.Replace(tapCases[0].raw, `"device":"hn2a-cat-linh-g01"`, `"device":"hn2a/#"`, 1), "device"},
	{"empty site", strings.Replace(tapCases[0].raw, `"site":"hn2a-cat-linh"`, `"site":""`, 1), "site"},
	{"unknown kind", strings.Replace(tapCases[0].raw, "metro_entry", "bus_entry", 1), `kind "bus_entry" unknown`},
	{"no assertion", strings.Replace(tapCases[0].raw, `"assertion":"`+jws+`",`, ``, 1), "assertion: missing"},
	{"assertion not jws", strings.Replace(tapCases[0].raw, jws, "not a token", 1), "compact JWS"},
	{"assertion too long", strings.Replace(tapCases[0].raw, jws, jws+strings.Repeat("A", MaxAssertionSize), 1), "assertion"},
	{"no capture time", strings.Replace(tapCases[0].raw, `,"captured_at":"2026-11-24T07:30:00.120Z"`, ``, 1), "captured_at: missing"},
	{"bad capture time", strings.Replace(tapCases[0].raw, `2026-11-24T07:30:00.120Z`, `24/11/2026`, 1), "time"},
	{"numeric capture time", strings.Replace(tapCases[0].raw, `"2026-11-24T07:30:00.120Z"`, `1795000000`, 1), "RFC 3339"},
	{"year out of range", strings.Replace(tapCases[0].raw, `2026-11-24`, `0001-11-24`, 1), "out of range"},
	{"bad plate", strings.Replace(tapCases[2].raw, `29A-123.45`, `29a 123`, 1), "plate"},
	{"offline open with a refusal", strings.Replace(tapCases[5].raw, `"open":false`, `"open":true`, 1), "offline: open=true"},
	{"offline unknown reason", strings.Replace(tapCases[5].raw, `"reason":"offline_limit"`, `"reason":"because"`, 1), "offline: open=false"},
	{"offline no rule", strings.Replace(tapCases[5].raw, `"rule":"offline_limit"`, `"rule":""`, 1), "offline.rule"},
	{"offline no time", strings.Replace(tapCases[5].raw, `,"decided_at":"2026-11-24T07:30:00.140Z"`, ``, 1), "offline.decided_at"},
	{"wrong type", strings.Replace(tapCases[0].raw, `"v":1,`, `"v":"1",`, 1), "cannot unmarshal"},
	{"too big", `{"v":1,"x":"` + strings.Repeat("x", MaxTapSize) + `"}`, "over the limit"},
}

func TestDecodeTapRejects(t *testing.T) {
	for _, c := range badTaps {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeTap([]byte(c.raw))
			if err == nil {
				t.Fatal("decoded without error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestUnknownFieldsIgnored(t *testing.T) {
	raw := strings.Replace(tapCases[0].raw, `"v":1,`, `"v":1,"firmware_hint":"x",`, 1)
	m, err := DecodeTap([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, tapCases[0].msg) {
		t.Errorf("got %+v", m)
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	m := tapCases[0].msg
	m.Kind = "teleport"
	if _, err := m.Encode(); err == nil {
		t.Error("encoded a tap with an unknown kind")
	}
	d := decisionCases[0].msg
	d.Reason = ReasonPassBack // open with a refusal reason
	if _, err := d.Encode(); err == nil {
		t.Error("encoded an open decision with a refusal reason")
	}
}

func TestDecisionRejects(t *testing.T) {
	for name, raw := range map[string]string{
		"negative fare":   strings.Replace(decisionCases[1].raw, `"fare_vnd":15000`, `"fare_vnd":-1`, 1),
		"unknown reason":  strings.Replace(decisionCases[2].raw, `assertion_replayed`, `because`, 1),
		"missing display": strings.Replace(decisionCases[0].raw, `"vi":"Mời qua"`, `"vi":""`, 1),
		"open but denied": strings.Replace(decisionCases[2].raw, `"open":false`, `"open":true`, 1),
	} {
		if _, err := DecodeDecision([]byte(raw)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestEveryReasonHasBothTexts(t *testing.T) {
	for r, d := range reasonText {
		if d.VI == "" || d.EN == "" {
			t.Errorf("%s: missing text", r)
		}
	}
}
