package rush

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// API is a client of the platform's accounts API.
type API struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// Account as the API returns it.
type Account struct {
	Subject     string `json:"subject"`
	Status      string `json:"status"`
	BalanceVND  int64  `json:"balance_vnd"`
	BalanceText string `json:"balance_text"`
}

func (a *API) url(path string) string { return strings.TrimRight(a.BaseURL, "/") + path }

// Link opens the vnpass account of a VNeID subject.
func (a *API) Link(ctx context.Context, subject string) (Account, error) {
	var out Account
	body, _ := json.Marshal(map[string]string{"subject": subject})
	err := postJSON(ctx, a.HTTP, a.url("/v1/accounts"), a.Token, body, &out)
	return out, err
}

// TopUp credits amount dong; the same key twice credits once.
func (a *API) TopUp(ctx context.Context, subject string, amount int64, key string) (Account, error) {
	var out Account
	body, _ := json.Marshal(map[string]any{"amount_vnd": amount, "idempotency_key": key})
	err := postJSON(ctx, a.HTTP, a.url("/v1/accounts/"+url.PathEscape(subject)+"/topups"), a.Token, body, &out)
	return out, err
}

// Account reads an account.
func (a *API) Account(ctx context.Context, subject string) (Account, error) {
	var out Account
	err := doJSON(ctx, a.HTTP, http.MethodGet, a.url("/v1/accounts/"+url.PathEscape(subject)), a.Token, nil, &out)
	return out, err
}

// ConsentVersion is the version of the post-paid terms the simulated riders
// accept (the fare service's ConsentVersion).
const ConsentVersion = "postpaid-2026-11"

// LinkBank links a bank account to the rider's account, post-paid, as the
// rider does in the app (the API token must be the rider's).
func (a *API) LinkBank(ctx context.Context, subject, account, key string) error {
	body, _ := json.Marshal(map[string]any{"method": "bank", "account": account, "consent_version": ConsentVersion,
		"postpaid": true, "idempotency_key": key})
	var out map[string]any
	return postJSON(ctx, a.HTTP, a.url("/v1/accounts/"+url.PathEscape(subject)+"/funding"), a.Token, body, &out)
}

// RunCollections runs a day's post-paid collections (admin).
func (a *API) RunCollections(ctx context.Context, day string) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"day": day})
	var out map[string]any
	err := postJSON(ctx, a.HTTP, a.url("/v1/collections/runs"), a.Token, body, &out)
	return out, err
}
