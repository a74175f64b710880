// Package payhttp is the HTTP adapter of payment.Provider: a client of a
// provider's payment API (today the simulated provider, services/paysim,
// whose README documents the API). Every call has its own timeout; a call
// that gets no answer (timeout, lost connection, 5xx) is
// payment.ErrUnknownOutcome and is never retried here, least of all under
// another key: the caller retries with the same key when it chooses to.
package payhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/payment"
)

// Defaults for Config.
const (
	DefaultName    = "paysim"
	DefaultTimeout = 10 * time.Second
)

// maxResponse bounds a response body; a day's settlement report is the largest.
const maxResponse = 64 << 20

// ErrInvalidConfig is returned by New.
var ErrInvalidConfig = errors.New("payhttp: invalid config")

// Config of a Client.
type Config struct {
	BaseURL   string // e.g. http://127.0.0.1:58092. Required.
	ClientKey string // bearer key the provider issued to vnpass. Required.
	// Name is the provider's name in links and the ledger. Default "paysim".
	Name string
	// Timeout bounds each call, from sending to the last byte of the answer.
	// Default DefaultTimeout.
	Timeout time.Duration
	// HTTP is the client calls go through. Default: a client of its own,
	// with keep-alive connections to the provider.
	HTTP *http.Client
}

// Client calls a provider's payment API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
}

var _ payment.Provider = (*Client)(nil)

// New checks cfg and builds a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q is not an absolute http(s) URL", ErrInvalidConfig, cfg.BaseURL)
	}
	if cfg.ClientKey == "" {
		return nil, fmt.Errorf("%w: client key is required", ErrInvalidConfig)
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: timeout %s is negative", ErrInvalidConfig, cfg.Timeout)
	}
	if cfg.HTTP == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		cfg.HTTP = &http.Client{Transport: t}
	}
	return &Client{cfg: cfg, base: u}, nil
}

// Name is the provider's name.
func (c *Client) Name() string { return c.cfg.Name }

type linkBody struct {
	Subject        string `json:"subject"`
	Method         string `json:"method"`
	Account        string `json:"account"`
	ConsentVersion string `json:"consent_version"`
}

type linkJSON struct {
	Token    string `json:"token"`
	Masked   string `json:"masked"`
	Method   string `json:"method"`
	Provider string `json:"provider"`
}

type debitBody struct {
	Token     string `json:"token"`
	AmountVND int64  `json:"amount_vnd"`
	Memo      string `json:"memo,omitempty"`
}

type debitJSON struct {
	Key         string `json:"key"`
	Status      string `json:"status"`
	Ref         string `json:"ref"`
	DeclineCode string `json:"decline_code"`
	AmountVND   int64  `json:"amount_vnd"`
	At          string `json:"at"`
}

type settlementsJSON struct {
	Date        string `json:"date"`
	Settlements []struct {
		Key       string `json:"key"`
		Ref       string `json:"ref"`
		AmountVND int64  `json:"amount_vnd"`
		At        string `json:"at"`
	} `json:"settlements"`
}

type problemJSON struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
}

// Link links a funding source (POST /v1/links).
func (c *Client) Link(ctx context.Context, req payment.LinkRequest) (payment.Link, error) {
	if err := req.Validate(); err != nil {
		return payment.Link{}, fmt.Errorf("payhttp: link: %w", err)
	}
	var out linkJSON
	body := linkBody{Subject: req.Subject, Method: string(req.Method), Account: req.Account, ConsentVersion: req.ConsentVersion}
	if err := c.call(ctx, "link", http.MethodPost, "/v1/links", nil, req.Key, body, &out); err != nil {
		return payment.Link{}, err
	}
	if out.Token == "" || !payment.Method(out.Method).Valid() {
		return payment.Link{}, fmt.Errorf("payhttp: link: %w: the provider's answer has no token or method", payment.ErrUnknownOutcome)
	}
	return payment.Link{Token: out.Token, Masked: out.Masked, Method: payment.Method(out.Method), Provider: c.cfg.Name}, nil
}

// Unlink ends a link (DELETE /v1/links/{token}).
func (c *Client) Unlink(ctx context.Context, token string) error {
	if err := payment.ValidToken(token); err != nil {
		return fmt.Errorf("payhttp: unlink: %w", err)
	}
	return c.call(ctx, "unlink", http.MethodDelete, "/v1/links/"+url.PathEscape(token), nil, "", nil, nil)
}

// Debit takes money from a linked source (POST /v1/debits), once per key.
func (c *Client) Debit(ctx context.Context, req payment.DebitRequest) (payment.Result, error) {
	if err := req.Validate(); err != nil {
		return payment.Result{}, fmt.Errorf("payhttp: debit: %w", err)
	}
	amount, err := money.ToDong(req.Amount)
	if err != nil {
		return payment.Result{}, fmt.Errorf("payhttp: debit: %w: %w", payment.ErrInvalid, err)
	}
	var out debitJSON
	if err := c.call(ctx, "debit", http.MethodPost, "/v1/debits", nil, req.Key,
		debitBody{Token: req.Token, AmountVND: amount, Memo: req.Memo}, &out); err != nil {
		return payment.Result{}, err
	}
	res := payment.Result{Status: payment.Status(out.Status), Ref: out.Ref, DeclineCode: out.DeclineCode, Amount: money.Dong(out.AmountVND)}
	res.At, err = time.Parse(time.RFC3339Nano, out.At)
	// An answer we cannot read is no answer: the debit may have happened.
	switch {
	case err != nil:
		return payment.Result{}, fmt.Errorf("payhttp: debit %s: %w: bad time in the answer", req.Key, payment.ErrUnknownOutcome)
	case out.Key != req.Key || !res.Amount.Equal(req.Amount):
		return payment.Result{}, fmt.Errorf("payhttp: debit %s: %w: the answer is for another key or amount", req.Key, payment.ErrUnknownOutcome)
	case res.Status == payment.Approved && out.Ref != "":
	case res.Status == payment.Declined && out.DeclineCode != "":
	default:
		return payment.Result{}, fmt.Errorf("payhttp: debit %s: %w: status %q without a ref or decline code", req.Key, payment.ErrUnknownOutcome, out.Status)
	}
	return res, nil
}

// Settlements reads the settlement report of the local day containing day
// (GET /v1/settlements?date=YYYY-MM-DD).
func (c *Client) Settlements(ctx context.Context, day time.Time) ([]payment.Settlement, error) {
	date := day.In(fare.Zone).Format(time.DateOnly)
	var out settlementsJSON
	if err := c.call(ctx, "settlements", http.MethodGet, "/v1/settlements", url.Values{"date": {date}}, "", nil, &out); err != nil {
		return nil, err
	}
	if out.Date != date {
		return nil, fmt.Errorf("payhttp: settlements %s: %w: the report is for %q", date, payment.ErrUnknownOutcome, out.Date)
	}
	list := make([]payment.Settlement, 0, len(out.Settlements))
	for i, s := range out.Settlements {
		at, err := time.Parse(time.RFC3339Nano, s.At)
		if err != nil || s.Key == "" || s.AmountVND <= 0 {
			return nil, fmt.Errorf("payhttp: settlements %s: %w: line %d is malformed", date, payment.ErrUnknownOutcome, i+1)
		}
		list = append(list, payment.Settlement{Key: s.Key, Ref: s.Ref, Amount: decimal.NewFromInt(s.AmountVND), At: at})
	}
	return list, nil
}

// call makes one request within the per-call timeout and decodes a 2xx
// answer into out; path is URL-escaped. It is the one place answers become errors.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, key string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("payhttp: %s: encode: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base.String() + path // path is escaped already
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("payhttp: %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.ClientKey)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("payhttp: %s: %w: %w", op, payment.ErrUnknownOutcome, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("payhttp: %s: %w: reading the answer: %w", op, payment.ErrUnknownOutcome, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("payhttp: %s: %w: undecodable answer: %w", op, payment.ErrUnknownOutcome, err)
		}
		return nil
	}
	var p problemJSON
	_ = json.Unmarshal(data, &p)
	detail := p.Detail
	if detail == "" {
		detail = http.StatusText(resp.StatusCode)
	}
	if p.Field != "" {
		detail = p.Field + ": " + detail
	}
	switch {
	case resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("payhttp: %s: %w: %s", op, payment.ErrKeyConflict, detail)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// Nothing happened; retrying will not help until the key is fixed.
		return fmt.Errorf("payhttp: %s: the provider refused the client key (%d)", op, resp.StatusCode)
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("payhttp: %s: %w: provider answered %d: %s", op, payment.ErrUnknownOutcome, resp.StatusCode, detail)
	default:
		return fmt.Errorf("payhttp: %s: %w: %s", op, payment.ErrInvalid, detail)
	}
}
