package payment

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestDebitRequestValidate(t *testing.T) {
	ok := DebitRequest{Key: "debit:vn_abc:2026-11-24", Token: "pt_x", Amount: decimal.NewFromInt(15000), Memo: "vnpass 24/11 · 2 chuyến"}
	tests := []struct {
		name string
		edit func(*DebitRequest)
		want string // "" = valid
	}{
		{"ok", func(*DebitRequest) {}, ""},
		{"no memo", func(r *DebitRequest) { r.Memo = "" }, ""},
		{"max amount", func(r *DebitRequest) { r.Amount = MaxAmount }, ""},
		{"no key", func(r *DebitRequest) { r.Key = "" }, "key"},
		{"key with space", func(r *DebitRequest) { r.Key = "a b" }, "key"},
		{"key too long", func(r *DebitRequest) { r.Key = strings.Repeat("k", MaxKeyLen+1) }, "key"},
		{"non-ASCII key", func(r *DebitRequest) { r.Key = "khóa" }, "key"},
		{"no token", func(r *DebitRequest) { r.Token = "" }, "token"},
		{"zero", func(r *DebitRequest) { r.Amount = decimal.Zero }, "amount"},
		{"negative", func(r *DebitRequest) { r.Amount = decimal.NewFromInt(-1) }, "amount"},
		{"fraction", func(r *DebitRequest) { r.Amount = decimal.RequireFromString("15000.5") }, "whole number"},
		{"too large", func(r *DebitRequest) { r.Amount = MaxAmount.Add(decimal.NewFromInt(1)) }, "amount"},
		{"long memo", func(r *DebitRequest) { r.Memo = strings.Repeat("đ", MaxMemoLen+1) }, "memo"},
		{"control in memo", func(r *DebitRequest) { r.Memo = "a\nb" }, "control"},
		{"bad UTF-8 memo", func(r *DebitRequest) { r.Memo = "\xff" }, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			err := r.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestLinkRequestValidate(t *testing.T) {
	ok := LinkRequest{Key: "link:vn_abc:1", Subject: "vn_Q2x-9", Method: Bank, Account: "0123 456 789", ConsentVersion: "2026-01"}
	tests := []struct {
		name string
		edit func(*LinkRequest)
		want string
	}{
		{"ok", func(*LinkRequest) {}, ""},
		{"ewallet", func(r *LinkRequest) { r.Method = EWallet; r.Account = "+84 912 345 678" }, ""},
		{"digits subject of other length", func(r *LinkRequest) { r.Subject = "1234567890" }, ""},
		{"no key", func(r *LinkRequest) { r.Key = "" }, "key"},
		{"CCCD as subject", func(r *LinkRequest) { r.Subject = "001090012345" }, "CCCD"},
		{"CMND as subject", func(r *LinkRequest) { r.Subject = "012345678" }, "CMND"},
		{"subject with space", func(r *LinkRequest) { r.Subject = "vn abc" }, "subject"},
		{"no subject", func(r *LinkRequest) { r.Subject = "" }, "subject"},
		{"card method", func(r *LinkRequest) { r.Method = "card" }, "method"},
		{"no account", func(r *LinkRequest) { r.Account = "  " }, "account"},
		{"no consent", func(r *LinkRequest) { r.ConsentVersion = "" }, "consent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			err := r.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}
