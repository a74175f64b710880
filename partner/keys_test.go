package partner

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

func TestVerifyingKey(t *testing.T) {
	pub := func() ed25519.PublicKey { p, _, _ := ed25519.GenerateKey(rand.Reader); return p }
	k0 := Key{Partner: "a", KID: "k0", PublicKey: pub()}
	k1 := Key{Partner: "a", KID: "k1", PublicKey: pub()}
	retired := Key{Partner: "a", KID: "k2", PublicKey: pub(), RetiredAt: time.Now()}
	cases := []struct {
		name   string
		keys   []Key
		kid    string
		want   ed25519.PublicKey
		wantOK bool
	}{
		{"kid of the one key", []Key{k0}, "k0", k0.PublicKey, true},
		{"no kid, one key", []Key{k0}, "", k0.PublicKey, true},
		{"no kid, two keys", []Key{k0, k1}, "", nil, false},
		{"kid chooses", []Key{k0, k1}, "k1", k1.PublicKey, true},
		{"unknown kid", []Key{k0, k1}, "k9", nil, false},
		{"retired kid", []Key{k0, retired}, "k2", nil, false},
		{"no kid, the one key retired", []Key{retired}, "", nil, false},
		{"no keys", nil, "", nil, false},
	}
	for _, c := range cases {
		got, ok := VerifyingKey(c.keys, c.kid)
		if ok != c.wantOK || !got.Equal(c.want) && c.want != nil {
			t.Errorf("%s: %v %v, want %v", c.name, got, ok, c.wantOK)
		}
	}
}

func TestKeyCheck(t *testing.T) {
	p, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, k := range []Key{{KID: "", PublicKey: p}, {KID: "a b", PublicKey: p}, {KID: "k1", PublicKey: p[:31]},
		{KID: string(make([]byte, 65)), PublicKey: p}} {
		if err := k.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", k.KID, err)
		}
	}
	if err := (Key{KID: "2026-11.ed25519_a", PublicKey: p}).Check(); err != nil {
		t.Error(err)
	}
}
