package proto

// Reason is the code that says why a gate opened or stayed closed. Codes are
// stable: gates, dashboards and the rider's history key on them.
type Reason string

const (
	ReasonOK                   Reason = "ok"
	ReasonAssertionInvalid     Reason = "assertion_invalid"       // forged, malformed, unknown key
	ReasonAssertionExpired     Reason = "assertion_expired"       // past its expiry
	ReasonAssertionNotYetValid Reason = "assertion_not_yet_valid" // issued in the future: clock skew
	ReasonAssertionWrongDevice Reason = "assertion_wrong_device"  // issued to another device
	ReasonAssertionReplayed    Reason = "assertion_replayed"      // its jti was used before
	ReasonUnknownSite          Reason = "unknown_site"            // device's site is not in the fare data
	ReasonWrongKind            Reason = "wrong_kind"              // this service does not handle that kind of device
	ReasonPassBack             Reason = "pass_back"               // entering while a journey is open
	ReasonNoEntry              Reason = "no_entry"                // exit with no open journey
	ReasonInsufficientFunds    Reason = "insufficient_funds"      // balance below the minimum fare at entry
	ReasonAccountSuspended     Reason = "account_suspended"
	ReasonNoAccount            Reason = "no_account"   // VNeID account not linked to vnpass
	ReasonTimeout              Reason = "timeout"      // gate-side: no decision in time
	ReasonTapTooOld            Reason = "tap_too_old"  // reached the cloud after the gate stopped waiting
	ReasonDeviceClock          Reason = "device_clock" // capture time in the future: the gate's clock is wrong
	ReasonTooSoon              Reason = "too_soon"     // seconds after the rider's previous tap the other way
	ReasonInDebt               Reason = "in_debt"      // post-paid rider whose unpaid debt is over the limit
	// Rail gates (Hanoi Station): the rider's tickets, bound by the partner
	// that sold them, decide; no fare is charged.
	ReasonNoTicket      Reason = "no_ticket"      // no valid ticket from this station bound to the rider
	ReasonTicketUsed    Reason = "ticket_used"    // the ticket for this departure was already used at a gate
	ReasonOutsideWindow Reason = "outside_window" // a valid ticket, but its departure is not within the gate's window
	// Offline decisions (proto.OfflineDecision) only: the device decided by
	// itself and its risk policy refused.
	ReasonOfflineLimit       Reason = "offline_limit"       // the rider's offline entries for the day are used up
	ReasonOfflineUnavailable Reason = "offline_unavailable" // the device cannot decide offline: no keys, deny list too old
	ReasonInternal           Reason = "internal_error"
	// Parking barriers.
	ReasonPlateMismatch Reason = "plate_mismatch" // the plate read is not the rider's vehicle (or is already inside)
	ReasonLotFull       Reason = "lot_full"       // no space left for the vehicle's class
	ReasonLotClosed     Reason = "lot_closed"     // outside the lot's opening hours
	ReasonNoPlate       Reason = "no_plate"       // the plate reader read no plate
)

var reasonText = map[Reason]Display{
	ReasonOK:                   {VI: "Mời qua", EN: "Please pass"},
	ReasonAssertionInvalid:     {VI: "Xác thực không hợp lệ", EN: "Identity check failed"},
	ReasonAssertionExpired:     {VI: "Xác thực đã hết hạn, vui lòng thử lại", EN: "Identity check expired, please try again"},
	ReasonAssertionNotYetValid: {VI: "Xác thực chưa có hiệu lực, vui lòng thử lại", EN: "Identity check not yet valid, please try again"},
	ReasonAssertionWrongDevice: {VI: "Xác thực không dành cho cửa này", EN: "Identity check was for another gate"},
	ReasonAssertionReplayed:    {VI: "Xác thực đã được sử dụng", EN: "Identity check already used"},
	ReasonUnknownSite:          {VI: "Cửa chưa được cấu hình, vui lòng liên hệ nhân viên", EN: "Gate not configured, please ask staff"},
	ReasonWrongKind:            {VI: "Cửa chưa được cấu hình, vui lòng liên hệ nhân viên", EN: "Gate not configured, please ask staff"},
	ReasonPassBack:             {VI: "Bạn đã vào ga, chưa ra khỏi ga", EN: "You have already entered"},
	ReasonNoEntry:              {VI: "Không tìm thấy lượt vào, vui lòng liên hệ nhân viên", EN: "No entry found, please ask staff"},
	ReasonInsufficientFunds:    {VI: "Số dư không đủ, vui lòng nạp tiền", EN: "Insufficient balance, please top up"},
	ReasonAccountSuspended:     {VI: "Tài khoản bị tạm khóa, vui lòng liên hệ nhân viên", EN: "Account suspended, please ask staff"},
	ReasonNoAccount:            {VI: "Chưa liên kết tài khoản vnpass trên VNeID", EN: "No vnpass account linked on VNeID"},
	ReasonTimeout:              {VI: "Hệ thống bận, vui lòng thử lại", EN: "System busy, please try again"},
	ReasonTapTooOld:            {VI: "Hết thời gian chờ, vui lòng thử lại", EN: "Timed out, please try again"},
	ReasonDeviceClock:          {VI: "Lỗi đồng hồ của cửa, vui lòng liên hệ nhân viên", EN: "Gate clock error, please ask staff"},
	ReasonTooSoon:              {VI: "Vui lòng chờ giây lát rồi thử lại", EN: "Please wait a moment and try again"},
	ReasonInDebt:               {VI: "Tài khoản còn nợ chưa thanh toán, vui lòng thanh toán trên ứng dụng", EN: "Unpaid balance, please pay in the app"},
	ReasonNoTicket:             {VI: "Không tìm thấy vé tàu hợp lệ, vui lòng liên hệ nhân viên", EN: "No valid train ticket found, please ask staff"},
	ReasonTicketUsed:           {VI: "Vé tàu đã được sử dụng", EN: "Train ticket already used"},
	ReasonOutsideWindow:        {VI: "Chưa đến giờ hoặc đã quá giờ lên tàu", EN: "Not boarding time for your train"},
	ReasonOfflineLimit:         {VI: "Mất kết nối: đã hết lượt vào ngoại tuyến hôm nay, vui lòng liên hệ nhân viên", EN: "Offline: no more offline entries today, please ask staff"},
	ReasonOfflineUnavailable:   {VI: "Mất kết nối: cửa không thể xác nhận, vui lòng liên hệ nhân viên", EN: "Offline: gate cannot check you in, please ask staff"},
	ReasonPlateMismatch:        {VI: "Biển số không khớp, vui lòng liên hệ nhân viên", EN: "Plate does not match, please ask the attendant"},
	ReasonLotFull:              {VI: "Bãi đã hết chỗ", EN: "Lot full"},
	ReasonLotClosed:            {VI: "Bãi đã đóng cửa", EN: "Lot closed"},
	ReasonNoPlate:              {VI: "Không đọc được biển số, vui lòng liên hệ nhân viên", EN: "Plate not read, please ask the attendant"},
	ReasonInternal:             {VI: "Lỗi hệ thống, vui lòng liên hệ nhân viên", EN: "System error, please ask staff"},
}

// Valid reports whether r is a reason code of version 1.
func (r Reason) Valid() bool { _, ok := reasonText[r]; return ok }

// Display is the standard gate text for r.
func (r Reason) Display() Display { return reasonText[r] }
