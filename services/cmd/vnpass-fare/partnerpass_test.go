package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerhttp"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
	"github.com/vnpass/vnpass/turnstile-agent/vneidmatch"
)

// TestPartnerPassPaysJourneys: a ride app binds a Line 2A day pass it sold
// to a rider who consented; the rider rides twice through real gate agents
// and pays nothing (the exit gate says the pass paid); the app revokes the
// pass and the next journey is charged its fare; the pass moved no money
// and the books balance.
func TestPartnerPassPaysJourneys(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	call := p.call

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	if code, reg := call("POST", "/partner/v1/admin/partners", p.token, partnerhttp.RegisterRequest{
		ID: "ve-metro-hn", Name: "Vé metro Hà Nội", Kind: "ride", PublicKey: base64.RawURLEncoding.EncodeToString(pub),
		Scopes: []string{"passes"},
	}); code != 201 {
		t.Fatalf("register: %d %v", code, reg)
	}
	subject, face := p.rider("001090088888") // linked, 100.000 ₫
	riderTok, _ := p.main.Auth.Issue(subject, authjwt.RoleRider, time.Hour)
	code, cons := call("PUT", "/partner/v1/me/consents/ve-metro-hn", riderTok, partnerhttp.GrantRequest{
		Scopes: []string{"passes"}, ExpiresAt: time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	})
	if code != 200 {
		t.Fatalf("consent: %d %v", code, cons)
	}
	ref := cons["rider_ref"].(string)
	tok := func() string {
		s, _ := partnerhttp.SignPartnerToken(priv, "ve-metro-hn", []partner.Scope{partner.ScopePasses}, time.Now(), 5*time.Minute)
		return s
	}

	// The app binds the day pass it sold: the rider paid the app.
	code, ps := call("POST", "/partner/v1/riders/"+ref+"/passes", tok(), partnerhttp.PassRequest{
		ProductID: "hn2a-day", ExternalID: "HN-DAY-0001", IdempotencyKey: "order-0001",
	})
	if code != 201 || ps["charged_vnd"] != float64(0) || ps["list_price_vnd"] != float64(30000) || ps["status"] != "active" {
		t.Fatalf("bind pass: %d %v", code, ps)
	}
	passID := int64(ps["pass_id"].(float64))
	if b := p.balance(subject); b != 100_000 {
		t.Errorf("balance after binding %d, want 100000 (the rider paid the app)", b)
	}

	// Real gate agents at Cát Linh (entry) and Hà Đông (exit).
	gateAgent := func(site, dev string, kind proto.Kind) *agent.Agent {
		a, err := agent.New(agent.Config{
			Device: dev, Site: site, Kind: kind, Topics: p.broker.Topics,
			BrokerURL: p.broker.URL, Username: p.broker.GateUser, Password: p.broker.GatePassword, DecisionTimeout: 10 * time.Second,
			Matcher: vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: p.idpURL, ClientKey: clientKey}},
			Gate:    gatesim.New(dev, nil), Logger: quietLog(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return a
	}
	in := gateAgent("hn2a-cat-linh", "hn2a-cat-linh-in01", proto.KindMetroEntry)
	out := gateAgent("hn2a-ha-dong", "hn2a-ha-dong-out01", proto.KindMetroExit)
	ride := func(what string) proto.Decision {
		t.Helper()
		r, err := in.Tap(ctx, face, "")
		if err != nil || !r.Decision.Open || r.Local {
			t.Fatalf("%s: entry %+v %v", what, r, err)
		}
		r, err = out.Tap(ctx, face, "")
		if err != nil || !r.Decision.Open || r.Local || r.Decision.FareVND == nil {
			t.Fatalf("%s: exit %+v %v", what, r, err)
		}
		return r.Decision
	}
	for i := 1; i <= 2; i++ {
		d := ride(fmt.Sprintf("journey %d on the pass", i))
		if *d.FareVND != 0 || !strings.Contains(d.Display.EN, "Travelling on your pass") {
			t.Errorf("journey %d: fare %d, display %+v; want 0 on the pass", i, *d.FareVND, d.Display)
		}
	}
	if b := p.balance(subject); b != 100_000 {
		t.Errorf("balance after two journeys on the pass %d, want 100000", b)
	}

	// Revoked by the app: the next journey is charged.
	code, rv := call("DELETE", fmt.Sprintf("/partner/v1/riders/%s/passes/%d", ref, passID), tok(), nil)
	if code != 200 || rv["status"] != "revoked" {
		t.Fatalf("revoke: %d %v", code, rv)
	}
	q, err := p.fares.Price("hn2a-cat-linh", "hn2a-ha-dong")
	if err != nil {
		t.Fatal(err)
	}
	want := q.Amount.IntPart()
	d := ride("journey after the revocation")
	if *d.FareVND != want || strings.Contains(d.Display.EN, "pass") {
		t.Errorf("after revocation: fare %d, display %+v; want %d", *d.FareVND, d.Display, want)
	}
	if b := p.balance(subject); b != 100_000-want {
		t.Errorf("balance %d, want %d", b, 100_000-want)
	}

	// The journeys already priced keep their price: two on the pass, one
	// charged; the pass moved no money; the books balance.
	var onPass, charged int
	if err := p.main.Store.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE pass_id = $2 AND fare = 0),
			count(*) FILTER (WHERE pass_id IS NULL AND fare = $3)
		FROM journeys WHERE subject = $1 AND status = 'closed'`, subject, passID, want).Scan(&onPass, &charged); err != nil || onPass != 2 || charged != 1 {
		t.Errorf("journeys: %d on the pass, %d charged (%v); want 2, 1", onPass, charged, err)
	}
	var passTx int
	p.main.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM ledger_transactions WHERE kind = 'pass'`).Scan(&passTx)
	if passTx != 0 {
		t.Errorf("%d pass transactions in the ledger, want 0", passTx)
	}
	books, err := p.main.Store.Books(ctx)
	if err != nil || !books.Balanced() {
		t.Errorf("books: %+v %v", books, err)
	}
	code, list := call("GET", "/partner/v1/riders/"+ref+"/passes", tok(), nil)
	passes, _ := list["passes"].([]any)
	if code != 200 || len(passes) != 1 || passes[0].(map[string]any)["status"] != "revoked" || strings.Contains(fmt.Sprint(list), subject) {
		t.Errorf("list: %d %v", code, list)
	}
}
