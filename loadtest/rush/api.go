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
