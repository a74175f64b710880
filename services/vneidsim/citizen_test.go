package vneidsim

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEnrollValidation(t *testing.T) {
	ok := an
	with := func(f func(*Enrollment)) Enrollment { e := ok; f(&e); return e }
	tests := []struct {
		name  string
		e     Enrollment
		field string // "" = valid
	}{
		{"valid", ok, ""},
		{"valid last province", with(func(e *Enrollment) { e.CCCD = "096090012345" }), ""},
		{"valid born today", with(func(e *Enrollment) { e.DateOfBirth = "2026-03-10" }), ""},
		{"valid leap day", with(func(e *Enrollment) { e.DateOfBirth = "2000-02-29" }), ""},
		{"cccd 11 digits", with(func(e *Enrollment) { e.CCCD = "00109001234" }), "cccd"},
		{"cccd 13 digits", with(func(e *Enrollment) { e.CCCD = "0010900123456" }), "cccd"},
		{"cccd letter", with(func(e *Enrollment) { e.CCCD = "00109001234A" }), "cccd"},
		{"cccd unicode digit", with(func(e *Enrollment) { e.CCCD = "00109001234٣" }), "cccd"},
		{"cccd empty", with(func(e *Enrollment) { e.CCCD = "" }), "cccd"},
		{"cccd province 000", with(func(e *Enrollment) { e.CCCD = "000090012345" }), "cccd"},
		{"cccd province 097", with(func(e *Enrollment) { e.CCCD = "097090012345" }), "cccd"},
		{"name empty", with(func(e *Enrollment) { e.FullName = "" }), "full_name"},
		{"name blank", with(func(e *Enrollment) { e.FullName = "   " }), "full_name"},
		{"name control char", with(func(e *Enrollment) { e.FullName = "An\x00" }), "full_name"},
		{"name invalid utf8", with(func(e *Enrollment) { e.FullName = "An\xff" }), "full_name"},
		{"name replacement char", with(func(e *Enrollment) { e.FullName = "An\uFFFD" }), "full_name"},
		{"name too long", with(func(e *Enrollment) { e.FullName = strings.Repeat("ă", 101) }), "full_name"},
		{"dob empty", with(func(e *Enrollment) { e.DateOfBirth = "" }), "date_of_birth"},
		{"dob wrong format", with(func(e *Enrollment) { e.DateOfBirth = "17/05/1990" }), "date_of_birth"},
		{"dob impossible day", with(func(e *Enrollment) { e.DateOfBirth = "1990-02-30" }), "date_of_birth"},
		{"dob not leap", with(func(e *Enrollment) { e.DateOfBirth = "2001-02-29" }), "date_of_birth"},
		{"dob tomorrow", with(func(e *Enrollment) { e.DateOfBirth = "2026-03-11" }), "date_of_birth"},
		{"dob before 1900", with(func(e *Enrollment) { e.DateOfBirth = "1899-12-31" }), "date_of_birth"},
		{"dob with time", with(func(e *Enrollment) { e.DateOfBirth = "1990-05-17T00:00:00Z" }), "date_of_birth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, "", newClock(t0))
			_, created, err := s.Enroll(context.Background(), tt.e)
			var ve *ValidationError
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Enroll: %v", err)
			case tt.field == "" && !created:
				t.Fatal("created = false for a new citizen")
			case tt.field != "" && (!errors.As(err, &ve) || ve.Field != tt.field || !errors.Is(err, ErrInvalidEnrollment)):
				t.Fatalf("Enroll err = %v, want ValidationError on %s", err, tt.field)
			}

			// Same verdict over HTTP, with the field named in the body.
			s2 := newTestServer(t, "", newClock(t0))
			status, body := do(t, s2, http.MethodPost, "/v1/citizens", "", tt.e)
			if tt.field == "" {
				if status != http.StatusCreated {
					t.Fatalf("HTTP status %d %v, want 201", status, body)
				}
				return
			}
			if status != http.StatusBadRequest || body["error"] != "invalid_request" || body["field"] != tt.field || body["message"] == "" {
				t.Fatalf("HTTP = %d %v, want 400 invalid_request on %s", status, body, tt.field)
			}
		})
	}
}

func TestEnrollBadJSON(t *testing.T) {
	s := newTestServer(t, "", newClock(t0))
	for _, body := range []string{``, `{`, `[]`, `{"cccd":"001090012345","full_name":"A","date_of_birth":"1990-05-17","extra":1}`, `{"cccd":1}`, `{"cccd":"001090012345","full_name":"A","date_of_birth":"1990-05-17"} {}`} {
		status, out := do(t, s, http.MethodPost, "/v1/citizens", "", body)
		if status != http.StatusBadRequest || out["error"] != "invalid_request" {
			t.Errorf("body %q: %d %v, want 400 invalid_request", body, status, out)
		}
	}
}

var subjectRE = regexp.MustCompile(`^vn_[a-z2-7]{26}$`)

func TestEnrollTwiceSameSubjectAndFaceRef(t *testing.T) {
	s := newTestServer(t, "", newClock(t0))
	status, first := do(t, s, http.MethodPost, "/v1/citizens", "", an)
	if status != http.StatusCreated {
		t.Fatalf("first enroll: %d %v", status, first)
	}
	again := an
	again.Disabled = true // a second enrollment does not rewrite the record
	status, second := do(t, s, http.MethodPost, "/v1/citizens", "", again)
	if status != http.StatusOK {
		t.Fatalf("second enroll: %d %v, want 200", status, second)
	}
	if first["subject"] != second["subject"] || first["face_ref"] != second["face_ref"] {
		t.Fatalf("re-enrollment changed identity: %v vs %v", first, second)
	}
	sub, _ := first["subject"].(string)
	if !subjectRE.MatchString(sub) || strings.Contains(sub, an.CCCD) {
		t.Fatalf("subject %q: want vn_ + 26 base32 chars, no CCCD", sub)
	}
	if ref, _ := first["face_ref"].(string); len(ref) != 43 {
		t.Fatalf("face_ref %q: want 32 bytes base64url", ref)
	}

	other := an
	other.CCCD = "079185000001"
	o, _, err := s.Enroll(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if o.Subject == sub || o.FaceRef == first["face_ref"] {
		t.Fatal("different citizens share a subject or face_ref")
	}
}

func TestSubjectIsPairwise(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := subjectFor(secret, "vnpass", an.CCCD)
	if a != subjectFor(secret, "vnpass", an.CCCD) {
		t.Fatal("subject not stable")
	}
	if a == subjectFor(secret, "other-rp", an.CCCD) {
		t.Fatal("subject equal across relying parties")
	}
	if a == subjectFor([]byte("another secret, another provider"), "vnpass", an.CCCD) {
		t.Fatal("subject does not depend on the secret")
	}
	if !subjectRE.MatchString(a) {
		t.Fatalf("subject %q malformed", a)
	}
}

func TestAgeOn(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.ParseInLocation(dateLayout, s, vnZone); return v }
	tests := []struct {
		dob string
		now time.Time
		age int
	}{
		{"1990-05-17", time.Date(2026, 5, 16, 23, 59, 0, 0, vnZone), 35},
		{"1990-05-17", time.Date(2026, 5, 17, 0, 0, 0, 0, vnZone), 36},
		// 17:00 UTC on the 16th is already the 17th in Hà Nội.
		{"1990-05-17", time.Date(2026, 5, 16, 17, 0, 0, 0, time.UTC), 36},
		{"1990-05-17", time.Date(2026, 5, 16, 16, 59, 0, 0, time.UTC), 35},
		{"2000-02-29", time.Date(2025, 2, 28, 12, 0, 0, 0, vnZone), 24},
		{"2000-02-29", time.Date(2025, 3, 1, 0, 0, 0, 0, vnZone), 25},
		{"2000-02-29", time.Date(2028, 2, 29, 0, 0, 0, 0, vnZone), 28},
		{"2026-03-10", t0, 0},
		{"1959-12-31", time.Date(2026, 1, 1, 0, 0, 0, 0, vnZone), 66},
	}
	for _, tt := range tests {
		if got := ageOn(d(tt.dob), tt.now); got != tt.age {
			t.Errorf("ageOn(%s, %s) = %d, want %d", tt.dob, tt.now, got, tt.age)
		}
	}
}

func TestConcurrentEnrollAndMatch(t *testing.T) {
	s := newTestServer(t, t.TempDir(), newClock(t0))
	ctx := context.Background()
	var wg sync.WaitGroup
	refs := make([]string, 40)
	for i := range refs {
		wg.Go(func() {
			e := an
			e.CCCD = "001090" + strings.Repeat("0", 5) + string(rune('0'+i%10))
			if i >= 10 {
				e.CCCD = e.CCCD[:10] + string(rune('0'+i/10)) + e.CCCD[11:]
			}
			out, _, err := s.Enroll(ctx, e)
			if err != nil {
				t.Error(err)
				return
			}
			refs[i] = out.FaceRef
			if _, _, err := s.Match(ctx, out.FaceRef, "hn2a-cat-linh-g01"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() {
		if _, err := s.Rotate(ctx); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r] = true
	}
	if len(seen) != len(refs) || len(s.byCCCD) != len(refs) {
		t.Fatalf("got %d distinct face refs, %d citizens; want %d", len(seen), len(s.byCCCD), len(refs))
	}
}
