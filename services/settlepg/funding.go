package settlepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
)

// FundingLink is a bank account or e-wallet a rider linked, with the consent
// given. Only the provider's opaque token and a masked number are kept.
type FundingLink struct {
	ID             int64
	Subject        string
	Provider       string
	Method         string
	Token          string
	Masked         string
	ConsentVersion string
	ConsentedAt    time.Time
	UnlinkedAt     time.Time
	UnlinkReason   string
	Key            string // idempotency key of the link request
}

// Errors of funding.
var (
	ErrAlreadyLinked = errors.New("settlepg: the rider already has a linked funding source")
	ErrNotLinked     = errors.New("settlepg: the rider has no linked funding source")
	ErrOwes          = errors.New("settlepg: the rider owes money")
)

// LinkFunding records a funding source the rider linked with consent, and
// makes the account post-paid when postpaid is set. The same key again
// returns the link made then with ledger.ErrDuplicate.
func (s *Store) LinkFunding(ctx context.Context, l FundingLink, postpaid bool) (FundingLink, error) {
	if l.ConsentVersion == "" || l.Token == "" || l.Provider == "" || l.Key == "" {
		return FundingLink{}, fmt.Errorf("%w: a link needs a provider, a token, the consent given and a key", ledger.ErrInvalid)
	}
	var out FundingLink
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM funding_links WHERE idempotency_key = $1`, l.Key).Scan(&out.ID); err == nil {
			return ledger.ErrDuplicate
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var one int
		if err := tx.QueryRow(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", string(ledger.Rider(l.Subject))).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", ledger.ErrNoAccount, l.Subject)
		} else if err != nil {
			return err
		}
		var live int64
		if err := tx.QueryRow(ctx, "SELECT id FROM funding_links WHERE subject = $1 AND unlinked_at IS NULL", l.Subject).Scan(&live); err == nil {
			return ErrAlreadyLinked
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		l.ConsentedAt = s.now()
		if err := tx.QueryRow(ctx, `INSERT INTO funding_links (subject, provider, method, token, masked, consent_version,
			consented_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			l.Subject, l.Provider, l.Method, l.Token, l.Masked, l.ConsentVersion, l.ConsentedAt, l.Key).Scan(&l.ID); err != nil {
			return err
		}
		if postpaid {
			if _, err := tx.Exec(ctx, "UPDATE accounts SET funding = 'postpaid' WHERE id = $1", string(ledger.Rider(l.Subject))); err != nil {
				return err
			}
		}
		out = l
		return nil
	})
	if errors.Is(err, ledger.ErrDuplicate) {
		got, lerr := s.linkByID(ctx, out.ID)
		if lerr != nil {
			return FundingLink{}, lerr
		}
		return got, err
	}
	if err != nil {
		return FundingLink{}, fmt.Errorf("settlepg: link funding: %w", err)
	}
	return out, nil
}

func (s *Store) linkByID(ctx context.Context, id int64) (FundingLink, error) {
	var l FundingLink
	var unlinked *time.Time
	var reason *string
	err := s.pool.QueryRow(ctx, `SELECT id, subject, provider, method, token, masked, consent_version, consented_at,
		unlinked_at, unlink_reason, idempotency_key FROM funding_links WHERE id = $1`, id).
		Scan(&l.ID, &l.Subject, &l.Provider, &l.Method, &l.Token, &l.Masked, &l.ConsentVersion, &l.ConsentedAt, &unlinked, &reason, &l.Key)
	if err != nil {
		return FundingLink{}, fmt.Errorf("settlepg: funding link %d: %w", id, err)
	}
	if unlinked != nil {
		l.UnlinkedAt = *unlinked
	}
	l.UnlinkReason = deref(reason)
	return l, nil
}

// LiveLink returns the rider's linked funding source, or ErrNotLinked.
func (s *Store) LiveLink(ctx context.Context, subject string) (FundingLink, error) {
	var id int64
	err := s.pool.QueryRow(ctx, "SELECT id FROM funding_links WHERE subject = $1 AND unlinked_at IS NULL", subject).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return FundingLink{}, ErrNotLinked
	}
	if err != nil {
		return FundingLink{}, fmt.Errorf("settlepg: funding link: %w", err)
	}
	return s.linkByID(ctx, id)
}

// UnlinkFunding withdraws the rider's consent: the link is closed (kept,
// with when and why, as the record of consent) and the account returns to
// prepaid. A rider who owes money (a negative balance or a collection
// still pending) must pay first: ErrOwes.
func (s *Store) UnlinkFunding(ctx context.Context, subject, reason string) (FundingLink, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var balance decimal.Decimal
		if err := tx.QueryRow(ctx, "SELECT balance FROM accounts WHERE id = $1 FOR UPDATE", string(ledger.Rider(subject))).Scan(&balance); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", ledger.ErrNoAccount, subject)
		} else if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT id FROM funding_links WHERE subject = $1 AND unlinked_at IS NULL", subject).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
			return ErrNotLinked
		} else if err != nil {
			return err
		}
		var pending int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM collections WHERE subject = $1 AND status = 'pending'", subject).Scan(&pending); err != nil {
			return err
		}
		if balance.IsNegative() || pending > 0 {
			return fmt.Errorf("%w: balance %s, %d collections pending", ErrOwes, balance, pending)
		}
		if _, err := tx.Exec(ctx, "UPDATE funding_links SET unlinked_at = $2, unlink_reason = $3 WHERE id = $1", id, s.now(), reason); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE accounts SET funding = 'prepaid' WHERE id = $1", string(ledger.Rider(subject)))
		return err
	})
	if err != nil {
		return FundingLink{}, fmt.Errorf("settlepg: unlink funding: %w", err)
	}
	return s.linkByID(ctx, id)
}

// Funding is how an account pays and what it owes.
type Funding struct {
	Funding   string // prepaid, postpaid
	DebtSince time.Time
	Owed      decimal.Decimal // -balance when negative
	Pending   decimal.Decimal // in collections whose outcome is not known yet
}

// AccountFunding reads the funding state of a rider.
func (s *Store) AccountFunding(ctx context.Context, subject string) (Funding, error) {
	var f Funding
	var balance decimal.Decimal
	var since *time.Time
	err := s.pool.QueryRow(ctx, `SELECT funding, debt_since, balance,
		(SELECT coalesce(sum(amount), 0) FROM collections WHERE subject = $2 AND status = 'pending')
		FROM accounts WHERE id = $1`, string(ledger.Rider(subject)), subject).Scan(&f.Funding, &since, &balance, &f.Pending)
	if errors.Is(err, pgx.ErrNoRows) {
		return Funding{}, fmt.Errorf("%w: %s", ledger.ErrNoAccount, subject)
	}
	if err != nil {
		return Funding{}, fmt.Errorf("settlepg: funding: %w", err)
	}
	if since != nil {
		f.DebtSince = *since
	}
	if balance.IsNegative() {
		f.Owed = balance.Neg()
	}
	return f, nil
}

// Collection is one debit of a rider's linked funding source.
type Collection struct {
	Key      string // idempotency key at the provider and in the ledger
	Subject  string
	Kind     string // daily, recovery
	Day      time.Time
	Provider string
	Token    string
	Amount   decimal.Decimal
	Status   string // pending, approved, declined
	Attempts int
}

// PlanCollections creates the day's collections: for each post-paid rider
// who owes money, one debit of what they owe net of debits still pending
// (so that a debit whose outcome is unknown is never asked for twice).
// Idempotent per rider and day. It returns the number created.
func (s *Store) PlanCollections(ctx context.Context, day time.Time) (int, error) {
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, fare.Zone)
	tag, err := s.pool.Exec(ctx, `INSERT INTO collections (key, subject, kind, day, link_id, amount, status, created_at, updated_at)
		SELECT 'collect:daily:' || a.subject || ':' || $1::text, a.subject, 'daily', $1::date, l.id,
			-a.balance - coalesce((SELECT sum(c.amount) FROM collections c WHERE c.subject = a.subject AND c.status = 'pending'), 0),
			'pending', $2, $2
		FROM accounts a JOIN funding_links l ON l.subject = a.subject AND l.unlinked_at IS NULL
		WHERE a.kind = 'rider' AND a.funding = 'postpaid' AND a.balance < 0
		AND -a.balance - coalesce((SELECT sum(c.amount) FROM collections c WHERE c.subject = a.subject AND c.status = 'pending'), 0) > 0
		ON CONFLICT (key) DO NOTHING`, d.Format(time.DateOnly), s.now())
	if err != nil {
		return 0, fmt.Errorf("settlepg: plan collections: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// StartRecovery creates a debit of everything a rider owes, now (the rider
// asked to pay a debt). The same key again returns the same collection.
func (s *Store) StartRecovery(ctx context.Context, subject, key string) (Collection, error) {
	ck := "collect:recovery:" + subject + ":" + key
	_, err := s.pool.Exec(ctx, `INSERT INTO collections (key, subject, kind, day, link_id, amount, status, created_at, updated_at)
		SELECT $1, a.subject, 'recovery', ($3::timestamptz AT TIME ZONE 'UTC' + interval '7 hours')::date, l.id,
			-a.balance - coalesce((SELECT sum(c.amount) FROM collections c WHERE c.subject = a.subject AND c.status = 'pending'), 0),
			'pending', $3, $3
		FROM accounts a JOIN funding_links l ON l.subject = a.subject AND l.unlinked_at IS NULL
		WHERE a.id = $2 AND -a.balance - coalesce((SELECT sum(c.amount) FROM collections c WHERE c.subject = a.subject AND c.status = 'pending'), 0) > 0
		ON CONFLICT (key) DO NOTHING`, ck, string(ledger.Rider(subject)), s.now())
	if err != nil {
		return Collection{}, fmt.Errorf("settlepg: recovery: %w", err)
	}
	c, err := s.collection(ctx, ck)
	if errors.Is(err, pgx.ErrNoRows) {
		// Nothing owed beyond what is pending, or no link.
		if _, lerr := s.LiveLink(ctx, subject); lerr != nil {
			return Collection{}, lerr
		}
		return Collection{}, fmt.Errorf("settlepg: recovery: %w", ErrNothingOwed)
	}
	return c, err
}

// ErrNothingOwed: there is no debt to collect.
var ErrNothingOwed = errors.New("nothing owed")

func (s *Store) collection(ctx context.Context, key string) (Collection, error) {
	var c Collection
	err := s.pool.QueryRow(ctx, `SELECT c.key, c.subject, c.kind, c.day, l.provider, l.token, c.amount, c.status, c.attempts
		FROM collections c JOIN funding_links l ON l.id = c.link_id WHERE c.key = $1`, key).
		Scan(&c.Key, &c.Subject, &c.Kind, &c.Day, &c.Provider, &c.Token, &c.Amount, &c.Status, &c.Attempts)
	return c, err
}

// PendingCollections lists debits not yet answered, oldest first.
func (s *Store) PendingCollections(ctx context.Context, limit int) ([]Collection, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.key, c.subject, c.kind, c.day, l.provider, l.token, c.amount, c.status, c.attempts
		FROM collections c JOIN funding_links l ON l.id = c.link_id WHERE c.status = 'pending'
		ORDER BY c.created_at, c.key LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: pending collections: %w", err)
	}
	defer rows.Close()
	var out []Collection
	for rows.Next() {
		var c Collection
		if err := rows.Scan(&c.Key, &c.Subject, &c.Kind, &c.Day, &c.Provider, &c.Token, &c.Amount, &c.Status, &c.Attempts); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CollectionAttempted counts an attempt whose outcome is unknown (the
// provider timed out): the collection stays pending, to be asked again
// under the same key.
func (s *Store) CollectionAttempted(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, "UPDATE collections SET attempts = attempts + 1, updated_at = $2 WHERE key = $1 AND status = 'pending'", key, s.now())
	return err
}

// CompleteCollection records the provider's answer to a debit, once: an
// approved debit posts the money from the provider to the rider (the key
// of the ledger transaction is the collection's) and clears the debt; a declined one puts the account in debt.
// A collection already answered is left as it is.
func (s *Store) CompleteCollection(ctx context.Context, key string, approved bool, ref, declineCode string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var subject, provider, status string
		var amount decimal.Decimal
		err := tx.QueryRow(ctx, `SELECT c.subject, l.provider, c.amount, c.status FROM collections c
			JOIN funding_links l ON l.id = c.link_id WHERE c.key = $1 FOR UPDATE OF c`, key).Scan(&subject, &provider, &amount, &status)
		if err != nil {
			return err
		}
		if status != "pending" {
			return nil
		}
		rider := string(ledger.Rider(subject))
		if !approved {
			if _, err := tx.Exec(ctx, `UPDATE collections SET status = 'declined', decline_code = $2, attempts = attempts + 1,
				updated_at = $3 WHERE key = $1`, key, declineCode, s.now()); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "UPDATE accounts SET debt_since = coalesce(debt_since, $2) WHERE id = $1", rider, s.now())
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", rider); err != nil {
			return err
		}
		t, err := ledger.Transfer(key, "collection", "debit via "+provider+" ref "+ref, ledger.ProviderSettlement(provider), ledger.Rider(subject), amount)
		if err != nil {
			return err
		}
		if err := post(ctx, tx, t, s.now()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE collections SET status = 'approved', provider_ref = $2, attempts = attempts + 1,
			updated_at = $3 WHERE key = $1`, key, ref, s.now()); err != nil {
			return err
		}
		// The debit took everything owed when it was made, overdue debt
		// included: what the rider owes now is ordinary post-paid travel.
		_, err = tx.Exec(ctx, "UPDATE accounts SET debt_since = NULL WHERE id = $1", rider)
		return err
	})
	if err != nil {
		return fmt.Errorf("settlepg: complete collection %s: %w", key, err)
	}
	return nil
}

// ErrClosed: the account is closed; nothing more can change it.
var ErrClosed = errors.New("settlepg: the account is closed")

// SetAccountStatus suspends, reinstates or closes a rider's account, and
// records who did it and why. A closed account stays closed. Closing needs
// a zero balance (refund or collect first) and no linked funding source:
// ErrOwes otherwise.
func (s *Store) SetAccountStatus(ctx context.Context, subject, status, reason, by string) error {
	switch status {
	case "active", "suspended", "closed":
	default:
		return fmt.Errorf("%w: status %q", ledger.ErrInvalid, status)
	}
	if reason == "" || by == "" {
		return fmt.Errorf("%w: a status change needs a reason and who made it", ledger.ErrInvalid)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var cur string
		var balance decimal.Decimal
		err := tx.QueryRow(ctx, "SELECT status, balance FROM accounts WHERE id = $1 FOR UPDATE", string(ledger.Rider(subject))).Scan(&cur, &balance)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", ledger.ErrNoAccount, subject)
		}
		if err != nil {
			return err
		}
		if cur == "closed" {
			return ErrClosed
		}
		if status == "closed" {
			var links int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM funding_links WHERE subject = $1 AND unlinked_at IS NULL", subject).Scan(&links); err != nil {
				return err
			}
			if !balance.IsZero() || links > 0 {
				return fmt.Errorf("%w: balance %s, %d funding sources linked", ErrOwes, balance, links)
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE accounts SET status = $2 WHERE id = $1", string(ledger.Rider(subject)), status); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO account_events (subject, status, reason, changed_by, at) VALUES ($1, $2, $3, $4, $5)",
			subject, status, reason, by, s.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("settlepg: account status: %w", err)
	}
	return nil
}

// DenyList lists the riders a gate deciding offline must refuse at entry:
// accounts suspended or closed, prepaid accounts that owe money, and
// post-paid riders whose overdue debt is over debtLimit (those the cloud
// refuses online too). Sorted by subject.
func (s *Store) DenyList(ctx context.Context, debtLimit decimal.Decimal) ([]string, error) {
	rows, err := s.reader().Query(ctx, `SELECT subject FROM accounts WHERE kind = 'rider' AND (
			status <> 'active'
			OR (funding = 'prepaid' AND balance < 0)
			OR (funding = 'postpaid' AND debt_since IS NOT NULL AND -balance > $1))
		ORDER BY subject`, debtLimit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: deny list: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sub string
		if err := rows.Scan(&sub); err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}
