package paysim

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/payment"
)

// Behaviour is how a funding source answers debits.
type Behaviour string

const (
	// Approve approves a debit the balance covers and declines the rest with
	// insufficient_funds. The default.
	Approve Behaviour = "approve"
	// DeclineFunds declines every debit with insufficient_funds, whatever the balance.
	DeclineFunds Behaviour = "insufficient_funds"
	// DeclineClosed declines every debit with account_closed.
	DeclineClosed Behaviour = "account_closed"
	// Hang decides a new debit as Approve does (the money moves) but holds
	// the answer for Config.HangFor, longer than any client waits: the
	// answer is lost, the client sees a timeout. The same key asked again is
	// answered at once with the recorded outcome.
	Hang Behaviour = "timeout"
)

// Valid reports whether b is a known behaviour.
func (b Behaviour) Valid() bool {
	switch b {
	case Approve, DeclineFunds, DeclineClosed, Hang:
		return true
	}
	return false
}

// behaviourFor is the behaviour a new source gets from the last four digits
// of its account number, like payment test cards.
func behaviourFor(account string) Behaviour {
	switch account[len(account)-4:] {
	case "0002":
		return DeclineFunds
	case "0003":
		return Hang
	case "0004":
		return DeclineClosed
	}
	return Approve
}

// sourceID names a funding source: its method and normalised account number.
type sourceID struct {
	Method  payment.Method
	Account string
}

type source struct {
	id        sourceID
	balance   decimal.Decimal
	behaviour Behaviour
}

// Source is a funding source as the admin API shows it.
type Source struct {
	Method      payment.Method
	Masked      string
	Balance     decimal.Decimal
	Behaviour   Behaviour
	ActiveLinks int
}

// SourceUpdate changes a source; nil and "" fields are kept.
type SourceUpdate struct {
	Balance   *decimal.Decimal // whole dong, >= 0
	Behaviour Behaviour
}

// normalise turns an account number as a rider typed it into the digits the
// provider keys it by: spaces, dots and dashes are dropped; a bank account is
// 6-19 digits; an e-wallet is a Vietnamese mobile number, 0 and 9 digits
// (+84 or 84 in front is read as 0).
func normalise(m payment.Method, typed string) (string, error) {
	if len(typed) > payment.MaxAccountLen {
		return "", fmt.Errorf("%w: an account number is at most %d characters", payment.ErrInvalid, payment.MaxAccountLen)
	}
	a := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '\t':
			return -1
		}
		return r
	}, typed)
	switch m {
	case payment.Bank:
		if !allDigits(a) || len(a) < 6 || len(a) > 19 {
			return "", fmt.Errorf("%w: a bank account number is 6-19 digits", payment.ErrInvalid)
		}
	case payment.EWallet:
		switch {
		case strings.HasPrefix(a, "+84"):
			a = "0" + a[3:]
		case strings.HasPrefix(a, "84") && len(a) == 11:
			a = "0" + a[2:]
		}
		if !allDigits(a) || len(a) != 10 || a[0] != '0' {
			return "", fmt.Errorf("%w: an e-wallet is a mobile number of 10 digits starting with 0 (or +84)", payment.ErrInvalid)
		}
	default:
		return "", fmt.Errorf("%w: method %q must be %q or %q", payment.ErrInvalid, m, payment.Bank, payment.EWallet)
	}
	return a, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// mask shows the last four digits only: "•••• 6789".
func mask(account string) string { return "•••• " + account[len(account)-4:] }
