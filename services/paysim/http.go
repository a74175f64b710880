package paysim

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/payment"
)

// maxBody bounds a request body: every request is a small JSON object.
const maxBody = 16 << 10

// HeaderIdempotencyKey carries the key of POST /v1/links and /v1/debits.
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderReplayed is "true" on an answer that repeats the outcome recorded
// under the request's key.
const HeaderReplayed = "Idempotent-Replayed"

// ProblemBase prefixes the type of every problem the simulator answers.
const ProblemBase = "https://pay-sim.local/problems/"

// Wire types. Amounts are integer dong; times RFC 3339 in UTC+7.

type linkRequestJSON struct {
	Subject        string `json:"subject"`
	Method         string `json:"method"`
	Account        string `json:"account"`
	ConsentVersion string `json:"consent_version"`
}

// LinkJSON is a link as the API returns it.
type LinkJSON struct {
	Token    string `json:"token"`
	Masked   string `json:"masked"`
	Method   string `json:"method"`
	Provider string `json:"provider"`
}

type debitRequestJSON struct {
	Token     string          `json:"token"`
	AmountVND json.RawMessage `json:"amount_vnd"`
	Memo      string          `json:"memo,omitempty"`
}

// DebitJSON is a debit's outcome as the API returns it.
type DebitJSON struct {
	Key         string `json:"key"`
	Status      string `json:"status"`
	Ref         string `json:"ref"`
	DeclineCode string `json:"decline_code,omitempty"`
	AmountVND   int64  `json:"amount_vnd"`
	AmountText  string `json:"amount_text"`
	At          string `json:"at"`
}

// SettlementJSON is one line of the settlement report.
type SettlementJSON struct {
	Key       string `json:"key"`
	Ref       string `json:"ref"`
	AmountVND int64  `json:"amount_vnd"`
	At        string `json:"at"`
}

// SettlementsJSON is the settlement report of one local day.
type SettlementsJSON struct {
	Provider    string           `json:"provider"`
	Date        string           `json:"date"`
	Count       int              `json:"count"`
	TotalVND    int64            `json:"total_vnd"`
	TotalText   string           `json:"total_text"`
	Settlements []SettlementJSON `json:"settlements"`
}

type sourceUpdateJSON struct {
	BalanceVND json.RawMessage `json:"balance_vnd,omitempty"`
	Behaviour  string          `json:"behaviour,omitempty"`
}

// SourceJSON is a funding source as the admin API returns it.
type SourceJSON struct {
	Method      string `json:"method"`
	Masked      string `json:"masked"`
	BalanceVND  int64  `json:"balance_vnd"`
	BalanceText string `json:"balance_text"`
	Behaviour   string `json:"behaviour"`
	ActiveLinks int    `json:"active_links"`
}

// Problem is an RFC 7807 problem document; Field names the request field at
// fault, when there is one.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"`
}

// httpError is a refusal decided by the HTTP layer itself.
type httpError struct {
	status       int
	kind, detail string
}

func (e *httpError) Error() string { return e.kind + ": " + e.detail }

// fieldError is an invalid request field; it unwraps to payment.ErrInvalid.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func field(name string, err error) error {
	if err == nil {
		return nil
	}
	return &fieldError{field: name, err: err}
}

// routes builds the API. Handlers return errors; toProblem turns them into
// statuses in one place.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", s.endpoint(nil, map[string]handlerFunc{http.MethodGet: s.handleHealth}))
	mux.Handle("/metrics", s.endpoint(nil, map[string]handlerFunc{http.MethodGet: s.handleMetrics}))
	client := []byte(s.cfg.ClientKey)
	admin := []byte(s.cfg.AdminKey)
	mux.Handle("/v1/links", s.endpoint(client, map[string]handlerFunc{http.MethodPost: s.handleLink}))
	mux.Handle("/v1/links/{token}", s.endpoint(client, map[string]handlerFunc{http.MethodDelete: s.handleUnlink}))
	mux.Handle("/v1/debits", s.endpoint(client, map[string]handlerFunc{http.MethodPost: s.handleDebit}))
	mux.Handle("/v1/settlements", s.endpoint(client, map[string]handlerFunc{http.MethodGet: s.handleSettlements}))
	mux.Handle("/v1/admin/sources/{method}/{account}", s.endpoint(admin, map[string]handlerFunc{
		http.MethodGet: s.handleGetSource, http.MethodPut: s.handleSetSource}))
	mux.Handle("/", s.endpoint(nil, nil))
	return s.observe(mux)
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// endpoint checks the bearer key (when key is set) and the method, then calls
// the handler; a nil methods map answers 404.
func (s *Server) endpoint(key []byte, methods map[string]handlerFunc) http.Handler {
	want := sha256.Sum256(key)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := func() error {
			if methods == nil {
				return &httpError{http.StatusNotFound, "not-found", "No such endpoint; see the pay-sim README for the API."}
			}
			if key != nil && !bearerMatches(r.Header.Get("Authorization"), want) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="pay-sim"`)
				return &httpError{http.StatusUnauthorized, "unauthorized", "Send the client key (or, for /v1/admin, the admin key) as 'Authorization: Bearer <key>'."}
			}
			h := methods[r.Method]
			if h == nil {
				allow := slices.Sorted(maps.Keys(methods))
				w.Header().Set("Allow", strings.Join(allow, ", "))
				return &httpError{http.StatusMethodNotAllowed, "method-not-allowed", "Use " + strings.Join(allow, " or ") + " on this endpoint."}
			}
			return h(w, r)
		}()
		if err != nil {
			s.writeProblem(w, r, err)
		}
	})
}

// bearerMatches compares hashes so the comparison takes the same time
// whatever the length or content of the presented key.
func bearerMatches(header string, want [32]byte) bool {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// statusWriter remembers the status for the request counter.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe counts every request by route and status and turns a panic into a
// 500 problem: a bad request never takes the simulator down.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.metrics.add(`paysim_panics_total`, 1)
				s.log.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "route", r.Pattern, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					s.writeProblem(sw, r, errors.New("panic"))
				}
			}
			if sw.status == 0 && r.Context().Err() != nil {
				sw.status = 499 // the client went away before the answer
			}
			route := r.Pattern
			if route == "" || route == "/" {
				route = "other"
			}
			s.metrics.add(fmt.Sprintf(`paysim_requests_total{route=%q,code="%d"}`, route, sw.status), 1)
		}()
		next.ServeHTTP(sw, r)
	})
}

// toProblem is the one table from errors to HTTP statuses.
func (s *Server) toProblem(r *http.Request, err error) Problem {
	var (
		he *httpError
		fe *fieldError
	)
	switch {
	case errors.As(err, &he):
		return Problem{Type: he.kind, Status: he.status, Detail: he.detail}
	case errors.Is(err, ErrUnknownToken):
		return Problem{Type: "unknown-token", Status: http.StatusNotFound, Detail: "No link has this token; link the funding source first.", Field: "token"}
	case errors.Is(err, ErrUnknownSource):
		return Problem{Type: "unknown-source", Status: http.StatusNotFound, Detail: "No funding source has this method and account; PUT it to create it."}
	case errors.Is(err, payment.ErrKeyConflict):
		return Problem{Type: "idempotency-key-reused", Status: http.StatusConflict,
			Detail: "This Idempotency-Key was used for a different request; the same key must carry the same request.", Field: HeaderIdempotencyKey}
	case errors.Is(err, payment.ErrInvalid):
		p := Problem{Type: "invalid-request", Status: http.StatusBadRequest, Detail: invalidDetail(err)}
		if errors.As(err, &fe) {
			p.Type, p.Field = "invalid-field", fe.field
		}
		return p
	case errors.Is(err, ErrClosed):
		return Problem{Type: "unavailable", Status: http.StatusServiceUnavailable, Detail: "The simulator is shutting down; retry with the same Idempotency-Key."}
	}
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "err", err)
	return Problem{Type: "internal", Status: http.StatusInternalServerError, Detail: "The simulator failed; retry with the same Idempotency-Key."}
}

// invalidDetail is the message of a validation error without package prefixes.
func invalidDetail(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, payment.ErrInvalid.Error()+": "); i >= 0 {
		msg = msg[i+len(payment.ErrInvalid.Error())+2:]
	}
	return msg
}

func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := s.toProblem(r, err)
	p.Title = p.Type
	p.Type = ProblemBase + p.Type
	s.metrics.add(fmt.Sprintf(`paysim_problems_total{type=%q}`, p.Title), 1)
	if p.Status < 500 {
		s.log.InfoContext(r.Context(), "request refused", "method", r.Method, "route", r.Pattern, "status", p.Status, "problem", p.Title, "field", p.Field)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// decodeJSON reads one JSON object with known fields only.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &httpError{http.StatusUnsupportedMediaType, "unsupported-media-type", "Send the body as JSON with 'Content-Type: application/json'."}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("The body must be at most %d bytes.", maxBody)}
		}
		return &httpError{http.StatusBadRequest, "bad-body", "The request body could not be read."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &httpError{http.StatusBadRequest, "bad-json", "The body must be one JSON object with the documented fields: " + jsonProblem(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &httpError{http.StatusBadRequest, "bad-json", "The body must be one JSON object, with nothing after it."}
	}
	return nil
}

// jsonProblem says what was wrong with a body, without echoing it.
func jsonProblem(err error) string {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be a JSON %s", te.Field, te.Type.Kind())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "not a JSON object"
}

var wholeRE = regexp.MustCompile(`^-?[0-9]+$`)

// parseDong reads an integer JSON number of dong.
func parseDong(name string, raw json.RawMessage) (decimal.Decimal, error) {
	if len(raw) == 0 {
		return decimal.Decimal{}, field(name, fmt.Errorf("%w: %s is required, a whole number of dong, e.g. 15000", payment.ErrInvalid, name))
	}
	if !wholeRE.Match(raw) {
		return decimal.Decimal{}, field(name, fmt.Errorf("%w: %s must be a whole number of dong written as a JSON integer, e.g. 15000", payment.ErrInvalid, name))
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return decimal.Decimal{}, field(name, fmt.Errorf("%w: %s is out of range", payment.ErrInvalid, name))
	}
	return money.Dong(v), nil
}

func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get(HeaderIdempotencyKey)
	return k, field(HeaderIdempotencyKey, payment.ValidKey(k))
}

func timeText(t time.Time) string { return t.In(fare.Zone).Format(time.RFC3339Nano) }

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "provider": s.cfg.Name})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.metrics.write(w)
	return nil
}

func (s *Server) handleLink(w http.ResponseWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var in linkRequestJSON
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	req := payment.LinkRequest{Key: key, Subject: in.Subject, Method: payment.Method(in.Method), Account: in.Account, ConsentVersion: in.ConsentVersion}
	if err := field("subject", payment.ValidSubject(req.Subject)); err != nil {
		return err
	}
	if !req.Method.Valid() {
		return field("method", fmt.Errorf("%w: method must be %q or %q", payment.ErrInvalid, payment.Bank, payment.EWallet))
	}
	if _, err := normalise(req.Method, req.Account); err != nil {
		return field("account", err)
	}
	if err := field("consent_version", payment.ValidConsentVersion(req.ConsentVersion)); err != nil {
		return err
	}
	l, replay, err := s.link(r.Context(), req)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replay {
		status = http.StatusOK
		w.Header().Set(HeaderReplayed, "true")
	}
	return writeJSON(w, status, LinkJSON{Token: l.Token, Masked: l.Masked, Method: string(l.Method), Provider: l.Provider})
}

func (s *Server) handleUnlink(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	if err := field("token", payment.ValidToken(token)); err != nil {
		return err
	}
	if err := s.Unlink(r.Context(), token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleDebit(w http.ResponseWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var in debitRequestJSON
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := field("token", payment.ValidToken(in.Token)); err != nil {
		return err
	}
	amount, err := parseDong("amount_vnd", in.AmountVND)
	if err != nil {
		return err
	}
	if err := field("amount_vnd", payment.ValidAmount(amount)); err != nil {
		return err
	}
	if err := field("memo", payment.ValidMemo(in.Memo)); err != nil {
		return err
	}
	res, fresh, hang, err := s.debit(r.Context(), payment.DebitRequest{Key: key, Token: in.Token, Amount: amount, Memo: in.Memo})
	if err != nil {
		return err
	}
	if fresh && hang {
		if err := s.hang(r.Context()); err != nil {
			if errors.Is(err, ErrClosed) {
				return err
			}
			return nil // the client is gone; nobody reads the answer
		}
	}
	status := http.StatusCreated
	if !fresh {
		status = http.StatusOK
		w.Header().Set(HeaderReplayed, "true")
	}
	return writeJSON(w, status, DebitJSON{Key: key, Status: string(res.Status), Ref: res.Ref, DeclineCode: res.DeclineCode,
		AmountVND: res.Amount.IntPart(), AmountText: money.Format(res.Amount), At: timeText(res.At)})
}

func (s *Server) handleSettlements(w http.ResponseWriter, r *http.Request) error {
	date := r.URL.Query().Get("date")
	day, err := time.ParseInLocation(time.DateOnly, date, fare.Zone)
	if err != nil {
		return field("date", fmt.Errorf("%w: date must be a local day as YYYY-MM-DD, e.g. ?date=2026-11-24", payment.ErrInvalid))
	}
	list, err := s.Settlements(r.Context(), day)
	if err != nil {
		return err
	}
	out := SettlementsJSON{Provider: s.cfg.Name, Date: date, Count: len(list), Settlements: make([]SettlementJSON, 0, len(list))}
	total := decimal.Zero
	for _, st := range list {
		total = total.Add(st.Amount)
		out.Settlements = append(out.Settlements, SettlementJSON{Key: st.Key, Ref: st.Ref, AmountVND: st.Amount.IntPart(), At: timeText(st.At)})
	}
	out.TotalVND, out.TotalText = total.IntPart(), money.Format(total)
	return writeJSON(w, http.StatusOK, out)
}

func sourceJSON(src Source) SourceJSON {
	return SourceJSON{Method: string(src.Method), Masked: src.Masked, BalanceVND: src.Balance.IntPart(),
		BalanceText: money.Format(src.Balance), Behaviour: string(src.Behaviour), ActiveLinks: src.ActiveLinks}
}

func sourcePath(r *http.Request) (payment.Method, string, error) {
	m := payment.Method(r.PathValue("method"))
	if !m.Valid() {
		return "", "", field("method", fmt.Errorf("%w: method must be %q or %q", payment.ErrInvalid, payment.Bank, payment.EWallet))
	}
	a := r.PathValue("account")
	if _, err := normalise(m, a); err != nil {
		return "", "", field("account", err)
	}
	return m, a, nil
}

func (s *Server) handleGetSource(w http.ResponseWriter, r *http.Request) error {
	m, a, err := sourcePath(r)
	if err != nil {
		return err
	}
	src, err := s.Source(r.Context(), m, a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sourceJSON(src))
}

func (s *Server) handleSetSource(w http.ResponseWriter, r *http.Request) error {
	m, a, err := sourcePath(r)
	if err != nil {
		return err
	}
	var in sourceUpdateJSON
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	var u SourceUpdate
	if in.BalanceVND != nil {
		b, err := parseDong("balance_vnd", in.BalanceVND)
		if err != nil {
			return err
		}
		if err := field("balance_vnd", validBalance(b)); err != nil {
			return err
		}
		u.Balance = &b
	}
	if u.Behaviour = Behaviour(in.Behaviour); u.Behaviour != "" && !u.Behaviour.Valid() {
		return field("behaviour", fmt.Errorf("%w: behaviour must be one of %q, %q, %q, %q", payment.ErrInvalid, Approve, DeclineFunds, DeclineClosed, Hang))
	}
	src, err := s.SetSource(r.Context(), m, a, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sourceJSON(src))
}
