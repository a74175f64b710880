package authjwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	secret0 = []byte(strings.Repeat("0", 32))
	secret1 = []byte(strings.Repeat("1", 32))
	secret2 = []byte(strings.Repeat("2", 32))
)

func ring(t *testing.T, keys ...Key) *Issuer {
	t.Helper()
	is, err := NewKeyring(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func headerOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestKeyRotation walks the rotation procedure: k1 added verify-only, then
// signing, then k0 dropped. A token signed by k0 is good while k0 is in the
// ring and refused once it is gone.
func TestKeyRotation(t *testing.T) {
	before := ring(t, Key{"k0", secret0})
	old, err := before.Issue("console", RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if h := headerOf(t, old); h["kid"] != "k0" || h["alg"] != "HS256" {
		t.Fatalf("header %v", h)
	}

	// Step 1: k1 verify-only. k0 still signs.
	step1 := ring(t, Key{"k0", secret0}, Key{"k1", secret1})
	if _, err := step1.Parse(old); err != nil {
		t.Errorf("step 1 refused a k0 token: %v", err)
	}
	// Step 2: k1 signs, k0 verifies. Replicas still at step 1 accept the
	// new tokens: that is why step 1 comes first.
	step2 := ring(t, Key{"k1", secret1}, Key{"k0", secret0})
	fresh, _ := step2.Issue("console", RoleAdmin, time.Hour)
	if h := headerOf(t, fresh); h["kid"] != "k1" {
		t.Errorf("step 2 signs with %v, want k1", h["kid"])
	}
	for name, is := range map[string]*Issuer{"step 1": step1, "step 2": step2} {
		if _, err := is.Parse(fresh); err != nil {
			t.Errorf("%s refused a k1 token: %v", name, err)
		}
	}
	if _, err := step2.Parse(old); err != nil {
		t.Errorf("step 2 refused a k0 token while k0 is listed: %v", err)
	}
	// Step 3: k0 dropped.
	step3 := ring(t, Key{"k1", secret1})
	if _, err := step3.Parse(old); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("a k0 token after k0 was dropped: %v, want ErrUnknownKey", err)
	}
	if _, err := step3.Parse(fresh); err != nil {
		t.Errorf("step 3 refused a k1 token: %v", err)
	}
	if got := step2.KeyIDs(); len(got) != 2 || got[0] != "k1" || got[1] != "k0" {
		t.Errorf("KeyIDs %v", got)
	}
}

// sign makes an HS256 token with the given header fields (nil: no kid).
func sign(t *testing.T, secret []byte, header map[string]any, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": "vnpass", "sub": "x", "role": "admin", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if edit != nil {
		edit(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKeyIDChecked: each of these tokens carries a valid HS256 signature
// by a key of the ring; only the kid is wrong. Without the kid check (any
// key of the ring tried, or the signing key used whatever the kid) they
// would be accepted.
func TestKeyIDChecked(t *testing.T) {
	is := ring(t, Key{"k1", secret1}, Key{"k0", secret0})
	if _, err := is.Parse(sign(t, secret1, map[string]any{"kid": "k1"}, nil)); err != nil {
		t.Fatalf("control: %v", err)
	}
	bad := map[string]string{
		"no kid":         sign(t, secret1, nil, nil),
		"empty kid":      sign(t, secret1, map[string]any{"kid": ""}, nil),
		"unknown kid":    sign(t, secret1, map[string]any{"kid": "k9"}, nil),
		"numeric kid":    sign(t, secret1, map[string]any{"kid": 1}, nil),
		"kid of another": sign(t, secret0, map[string]any{"kid": "k1"}, nil), // k0's signature, says k1
		"kid swapped":    sign(t, secret1, map[string]any{"kid": "k0"}, nil), // k1's signature, says k0
	}
	for name, tok := range bad {
		if _, err := is.Parse(tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Tampering: rewrite the kid of a good token, keeping its signature.
	good, _ := is.Issue("console", RoleAdmin, time.Hour)
	parts := strings.Split(good, ".")
	h := headerOf(t, good)
	h["kid"] = "k0"
	b, _ := json.Marshal(h)
	parts[0] = base64.RawURLEncoding.EncodeToString(b)
	if _, err := is.Parse(strings.Join(parts, ".")); err == nil {
		t.Error("tampered kid: accepted")
	}
	// A token by a key dropped from the ring, with its right kid.
	if _, err := is.Parse(sign(t, secret2, map[string]any{"kid": "k2"}, nil)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("dropped key: %v, want ErrUnknownKey", err)
	}
}

// TestAlgorithmPinned: HS256 only, whatever the kid.
func TestAlgorithmPinned(t *testing.T) {
	is := ring(t, Key{"k0", secret0})
	claims := jwt.MapClaims{"iss": "vnpass", "sub": "x", "role": "admin", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for name, method := range map[string]jwt.SigningMethod{"HS384": jwt.SigningMethodHS384, "HS512": jwt.SigningMethodHS512} {
		tok := jwt.NewWithClaims(method, claims)
		tok.Header["kid"] = "k0"
		s, _ := tok.SignedString(secret0)
		if _, err := is.Parse(s); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	none.Header["kid"] = "k0"
	s, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if _, err := is.Parse(s); err == nil {
		t.Error("alg none accepted")
	}
}

func TestTokenLifeBounded(t *testing.T) {
	is := ring(t, Key{"k0", secret0})
	if _, err := is.Issue("x", RoleAdmin, MaxTokenLife+time.Second); err == nil {
		t.Error("issued a token living over MaxTokenLife")
	}
	if _, err := is.Issue("x", RoleAdmin, MaxTokenLife); err != nil {
		t.Errorf("MaxTokenLife itself: %v", err)
	}
	long := sign(t, secret0, map[string]any{"kid": "k0"}, func(c jwt.MapClaims) {
		c["exp"] = time.Now().Add(MaxTokenLife + time.Hour).Unix()
	})
	if _, err := is.Parse(long); err == nil {
		t.Error("accepted a token claiming a life over MaxTokenLife")
	}
	noIat := sign(t, secret0, map[string]any{"kid": "k0"}, func(c jwt.MapClaims) { delete(c, "iat") })
	if _, err := is.Parse(noIat); err == nil {
		t.Error("accepted a token without iat")
	}
}

func TestParseKeys(t *testing.T) {
	s1, s0 := string(secret1), string(secret0)
	keys, err := ParseKeys("k1:" + s1 + ", k0:" + s0)
	if err != nil || len(keys) != 2 || keys[0].ID != "k1" || string(keys[0].Secret) != s1 || keys[1].ID != "k0" {
		t.Fatalf("%+v %v", keys, err)
	}
	if k, err := ParseKeys("a:b:" + s0[4:]); err != nil || k[0].ID != "a" || string(k[0].Secret) != "b:"+s0[4:] {
		t.Errorf("a secret with ':': %+v %v", k, err)
	}
	for _, spec := range []string{"", "k1", "k1:", ":" + s1, "k1:" + s1 + ","} {
		if _, err := ParseKeys(spec); err == nil {
			t.Errorf("ParseKeys(%q) accepted", spec)
		} else if strings.Contains(err.Error(), s1) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	for name, keys := range map[string][]Key{
		"none":         nil,
		"short secret": {{"k1", []byte("short")}},
		"bad kid":      {{"k 1", secret1}},
		"long kid":     {{strings.Repeat("k", 33), secret1}},
		"kid twice":    {{"k1", secret1}, {"k1", secret0}},
		"secret twice": {{"k1", secret1}, {"k0", secret1}},
	} {
		if _, err := NewKeyring(keys, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestNewIsDefaultKey: New(s) and the ring k0:s accept each other's
// tokens, so services configured with VNPASS_API_SECRET and with
// VNPASS_API_SECRETS=k0:... work together.
func TestNewIsDefaultKey(t *testing.T) {
	single, err := New(secret0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ringed := ring(t, Key{"k1", secret1}, Key{DefaultKeyID, secret0})
	tok, _ := single.Issue("fleet", RoleOperator, time.Minute)
	if _, err := ringed.Parse(tok); err != nil {
		t.Errorf("ring refused New's token: %v", err)
	}
	if _, err := New([]byte("short"), nil); err == nil {
		t.Error("New accepted a short secret")
	}
}
