package vneid

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Errors of MatchClient.
var (
	ErrNoMatch      = errors.New("vneid: face not matched")
	ErrUnauthorized = errors.New("vneid: client key rejected")
)

const maxMatchResponse = 16 << 10

// defaultMatchHTTP bounds a match: a gate cannot hold a rider for long.
var defaultMatchHTTP = &http.Client{Timeout: 3 * time.Second}

// MatchClient asks the provider to match a face at a gate and returns the
// signed assertion. HTTP nil uses a client with a 3 s timeout.
type MatchClient struct {
	BaseURL   string // e.g. "http://127.0.0.1:58090"
	ClientKey string
	HTTP      *http.Client
}

// Match returns the assertion for faceRef bound to device, or ErrNoMatch.
func (c *MatchClient) Match(ctx context.Context, faceRef, device string) (string, time.Time, error) {
	body, err := json.Marshal(struct {
		FaceRef string `json:"face_ref"`
		Device  string `json:"device"`
	}{faceRef, device})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("vneid: match: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/v1/match", bytes.NewReader(body))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("vneid: match: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.ClientKey)
	// A match only issues a fresh assertion, so it is safe to resend when a
	// kept-alive connection turns out dead (provider restarted). The empty
	// value marks the request idempotent for net/http without sending a header.
	req.Header["Idempotency-Key"] = []string{}
	hc := c.HTTP
	if hc == nil {
		hc = defaultMatchHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("vneid: match: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxMatchResponse))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("vneid: match: read response: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		// Only the provider's own verdict is a no-match; a 404 for a wrong
		// BaseURL must not look like an unknown face.
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error == "no_match" {
			return "", time.Time{}, ErrNoMatch
		}
		return "", time.Time{}, fmt.Errorf("vneid: match: status 404: %.200s", data)
	case http.StatusUnauthorized:
		return "", time.Time{}, ErrUnauthorized
	default:
		return "", time.Time{}, fmt.Errorf("vneid: match: status %d: %.200s", resp.StatusCode, data)
	}
	var out struct {
		Assertion string `json:"assertion"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Assertion == "" {
		return "", time.Time{}, fmt.Errorf("vneid: match: malformed response")
	}
	exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("vneid: match: bad expires_at: %w", err)
	}
	return out.Assertion, exp, nil
}
