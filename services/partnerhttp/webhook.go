package partnerhttp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vnpass/vnpass/services/partnerpg"
)

// Webhooks are signed as Standard Webhooks (standardwebhooks.com) do:
// headers webhook-id (the event id, the same on every retry: receivers
// keep each once), webhook-timestamp (Unix seconds) and webhook-signature
// "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>", with the secret
// the partner got at registration.

// Sign returns the webhook-signature header value.
func Sign(secret []byte, id string, at time.Time, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s.%d.", id, at.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify.
var ErrBadSignature = errors.New("partnerhttp: webhook signature not valid")

// Verify checks a received webhook as a partner would: the signature over
// its id, timestamp and body, and a timestamp within tolerance of now.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(tsText, 10, 64)
	if id == "" || err != nil {
		return ErrBadSignature
	}
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > tolerance || d < -tolerance {
		return ErrBadSignature
	}
	want := Sign(secret, id, at, body)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}

// Deliveries is what the dispatcher needs from partnerpg.
type Deliveries interface {
	ClaimDue(ctx context.Context, limit int, lease time.Duration) ([]partnerpg.Delivery, error)
	Attempted(ctx context.Context, id string, ok bool, status int, errText string, next time.Time) error
}

// Dispatcher sends due webhooks, retrying with exponential backoff (and
// jitter) until the partner answers 2xx or MaxAttempts is reached; the
// state of each delivery is in the database, so a restart loses none.
type Dispatcher struct {
	Store  Deliveries
	Client *http.Client
	Log    *slog.Logger
	Now    func() time.Time
	// Interval between polls for due deliveries. Default 500 ms.
	Interval time.Duration
	// BaseBackoff doubles per failed attempt up to MaxBackoff. Defaults
	// 2 s and 1 hour; MaxAttempts default 15 (about 5 hours in all).
	BaseBackoff, MaxBackoff time.Duration
	MaxAttempts             int
}

func (d *Dispatcher) defaults() {
	if d.Client == nil {
		d.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Interval <= 0 {
		d.Interval = 500 * time.Millisecond
	}
	if d.BaseBackoff <= 0 {
		d.BaseBackoff = 2 * time.Second
	}
	if d.MaxBackoff <= 0 {
		d.MaxBackoff = time.Hour
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 15
	}
}

// Run sends webhooks until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	d.defaults()
	t := time.NewTicker(d.Interval)
	defer t.Stop()
	for {
		for {
			n, err := d.Once(ctx)
			if err != nil && ctx.Err() == nil {
				d.Log.Warn("webhook dispatch failed", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once sends one batch of due webhooks and returns how many it tried.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	d.defaults()
	lease := d.Client.Timeout + 5*time.Second
	due, err := d.Store.ClaimDue(ctx, 32, lease)
	if err != nil {
		return 0, err
	}
	for _, dl := range due {
		status, sendErr := d.send(ctx, dl)
		ok := sendErr == nil
		var next time.Time
		errText := ""
		if !ok {
			errText = sendErr.Error()
			if dl.Attempts+1 < d.MaxAttempts {
				next = d.Now().Add(d.backoff(dl.Attempts + 1))
			}
			d.Log.Info("webhook not delivered", "delivery_id", dl.ID, "partner_id", dl.Partner, "attempt", dl.Attempts+1, "status", status, "err", errText)
		}
		if err := d.Store.Attempted(ctx, dl.ID, ok, status, errText, next); err != nil {
			return len(due), err
		}
	}
	return len(due), nil
}

// backoff is the wait after the n-th failed attempt: base·2^(n-1), capped,
// less up to a fifth at random so that retries to one partner spread out.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.BaseBackoff
	for i := 1; i < n && b < d.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.MaxBackoff)
	return b - time.Duration(rand.Int64N(int64(b)/5+1))
}

func (d *Dispatcher) send(ctx context.Context, dl partnerpg.Delivery) (int, error) {
	if dl.URL == "" {
		return 0, errors.New("no webhook URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.URL, bytes.NewReader(dl.Body))
	if err != nil {
		return 0, err
	}
	now := d.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", dl.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(dl.Secret, dl.ID, now, dl.Body))
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
