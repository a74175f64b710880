package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerhttp"
)

// ticketing is a train ticket seller, as a partner of the platform: it
// registers (an admin does it), each rail rider consents in the app, and it
// binds the ticket it sold to the rider, all through the partner API
// (/partner/v1), as TestRailGateWithPartnerTicket does. Its webhook
// endpoint accepts the rail.ticket.used events.
type ticketing struct {
	api    string
	issuer *authjwt.Issuer
	id     string
	key    ed25519.PrivateKey
	hook   *http.Server
	httpc  *http.Client
}

func newTicketing(ctx context.Context, apiURL, apiSecret string) (*ticketing, error) {
	is, err := authjwt.New([]byte(apiSecret), nil)
	if err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	t := &ticketing{api: apiURL, issuer: is, id: "load-tickets", key: priv, httpc: &http.Client{Timeout: 10 * time.Second}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t.hook = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})}
	go t.hook.Serve(ln)
	admin, err := is.Issue("load-admin", authjwt.RoleAdmin, time.Hour)
	if err != nil {
		return nil, err
	}
	if err := t.call(ctx, "POST", "/partner/v1/admin/partners", admin, partnerhttp.RegisterRequest{
		ID: t.id, Name: "Đường sắt (tải thử) / Railway (load test)", Kind: "ticketing", PublicKey: base64.RawURLEncoding.EncodeToString(pub),
		Scopes: []string{"tickets"}, WebhookURL: "http://" + ln.Addr().String() + "/hooks", RatePerMin: 100_000,
	}, nil); err != nil {
		t.Close()
		return nil, fmt.Errorf("register the ticketing partner: %w", err)
	}
	return t, nil
}

func (t *ticketing) Close() { t.hook.Close() }

// bind: rider subject consents and gets a ticket for a train departing
// at dep from Hanoi Station (HNO), bound under ticket id.
func (t *ticketing) bind(ctx context.Context, subject, ticketID string, dep time.Time, i int) error {
	riderTok, err := t.issuer.Issue(subject, authjwt.RoleRider, time.Hour)
	if err != nil {
		return err
	}
	var cons struct {
		RiderRef string `json:"rider_ref"`
	}
	if err := t.call(ctx, "PUT", "/partner/v1/me/consents/"+t.id, riderTok, partnerhttp.GrantRequest{
		Scopes: []string{"tickets"}, ExpiresAt: time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
	}, &cons); err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	tok, err := partnerhttp.SignPartnerToken(t.key, t.id, []partner.Scope{partner.ScopeTickets}, time.Now(), 5*time.Minute)
	if err != nil {
		return err
	}
	if err := t.call(ctx, "PUT", "/partner/v1/tickets/"+ticketID, tok, partnerhttp.TicketRequest{
		RiderRef: cons.RiderRef, Train: fmt.Sprintf("SE%d", 1+i%8), Departure: dep.UTC().Format(time.RFC3339),
		Coach: fmt.Sprint(1 + i%12), Seat: fmt.Sprint(1 + i%40), Origin: "HNO", Destination: "SGO",
	}, nil); err != nil {
		return fmt.Errorf("bind ticket: %w", err)
	}
	return nil
}

func (t *ticketing) call(ctx context.Context, method, path, token string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, t.api+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := t.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(rb))
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

// parallel runs f(0..n-1) on width goroutines and returns the first error.
func parallel(n, width int, f func(int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for w := 0; w < width; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
