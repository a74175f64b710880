package vneidsim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Enrollment is a citizen as the police enrollment desk knows them.
type Enrollment struct {
	CCCD        string `json:"cccd"` // 12-digit citizen identity card number
	FullName    string `json:"full_name"`
	DateOfBirth string `json:"date_of_birth"` // YYYY-MM-DD
	Disabled    bool   `json:"disabled"`
	Meritorious bool   `json:"meritorious"`
}

// Enrolled is what the enrollment returns: the pairwise subject and the face
// reference that stands for the biometric template.
type Enrolled struct {
	Subject string `json:"subject"`
	FaceRef string `json:"face_ref"`
}

// ValidationError says which enrollment field is wrong; it matches ErrInvalidEnrollment.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidEnrollment, e.Field, e.Message)
}

func (e *ValidationError) Is(target error) bool { return target == ErrInvalidEnrollment }

const (
	maxNameRunes = 100
	dateLayout   = "2006-01-02"
)

// citizen is one enrolled person: one line of citizens.jsonl.
type citizen struct {
	CCCD        string    `json:"cccd"`
	FullName    string    `json:"full_name"`
	DateOfBirth string    `json:"date_of_birth"`
	Disabled    bool      `json:"disabled"`
	Meritorious bool      `json:"meritorious"`
	Subject     string    `json:"subject"`
	FaceRef     string    `json:"face_ref"`
	EnrolledAt  time.Time `json:"enrolled_at"`

	dob time.Time // parsed DateOfBirth, midnight in vnZone
}

// validate checks e and returns the parsed birth date.
func validateEnrollment(e Enrollment, now time.Time) (time.Time, error) {
	if !validCCCD(e.CCCD) {
		return time.Time{}, &ValidationError{"cccd", "must be exactly 12 digits starting with a province code 001-096"}
	}
	name := strings.TrimSpace(e.FullName)
	switch {
	case name == "":
		return time.Time{}, &ValidationError{"full_name", "is required"}
	// JSON decoding turns invalid bytes into U+FFFD: garbled either way.
	case !utf8.ValidString(name) || strings.ContainsRune(name, utf8.RuneError):
		return time.Time{}, &ValidationError{"full_name", "is not valid UTF-8"}
	case utf8.RuneCountInString(name) > maxNameRunes:
		return time.Time{}, &ValidationError{"full_name", fmt.Sprintf("is longer than %d characters", maxNameRunes)}
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return time.Time{}, &ValidationError{"full_name", "contains control characters"}
	}
	dob, err := time.ParseInLocation(dateLayout, e.DateOfBirth, vnZone)
	if err != nil {
		return time.Time{}, &ValidationError{"date_of_birth", "must be a valid date YYYY-MM-DD"}
	}
	if dob.Year() < 1900 {
		return time.Time{}, &ValidationError{"date_of_birth", "is before 1900"}
	}
	if dob.After(now.In(vnZone)) {
		return time.Time{}, &ValidationError{"date_of_birth", "is in the future"}
	}
	return dob, nil
}

// validCCCD: 12 ASCII digits, the first three a province code (001-096).
func validCCCD(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	p := int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	return p >= 1 && p <= 96
}

// subjectFor is the pairwise subject: stable for (relying party, CCCD), and
// useless to anyone without the secret. Never the CCCD itself.
func subjectFor(secret []byte, relyingParty, cccd string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(relyingParty + "|" + cccd))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil))
	return "vn_" + strings.ToLower(enc[:26])
}

// ageOn is the age in whole years on the civil date (Vietnam time) of now.
// Someone born on 29 February turns a year older on 1 March in common years.
func ageOn(dob, now time.Time) int {
	y1, m1, d1 := dob.Date()
	y2, m2, d2 := now.In(vnZone).Date()
	age := y2 - y1
	if m2 < m1 || (m2 == m1 && d2 < d1) {
		age--
	}
	return age
}

// Enroll registers a citizen. Enrolling a CCCD again returns the existing
// subject and face reference unchanged, with created false.
func (s *Server) Enroll(ctx context.Context, e Enrollment) (Enrolled, bool, error) {
	if err := ctx.Err(); err != nil {
		return Enrolled{}, false, err
	}
	now := s.cfg.Now()
	dob, err := validateEnrollment(e, now)
	if err != nil {
		return Enrolled{}, false, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.byCCCD[e.CCCD]; ok {
		return Enrolled{Subject: c.Subject, FaceRef: c.FaceRef}, false, nil
	}
	ref, err := s.newFaceRef()
	if err != nil {
		return Enrolled{}, false, err
	}
	c := &citizen{
		CCCD:        e.CCCD,
		FullName:    strings.TrimSpace(e.FullName),
		DateOfBirth: e.DateOfBirth,
		Disabled:    e.Disabled,
		Meritorious: e.Meritorious,
		Subject:     subjectFor(s.secret, s.cfg.RelyingParty, e.CCCD),
		FaceRef:     ref,
		EnrolledAt:  now.UTC(),
		dob:         dob,
	}
	if err := s.appendCitizen(c); err != nil {
		return Enrolled{}, false, err
	}
	s.byCCCD[c.CCCD] = c
	s.byFace[c.FaceRef] = c
	s.log.InfoContext(ctx, "citizen enrolled", "subject", c.Subject)
	return Enrolled{Subject: c.Subject, FaceRef: c.FaceRef}, true, nil
}

// newFaceRef stands for a biometric template: 32 random bytes, nothing biometric.
// Called with s.mu held; collisions are astronomically unlikely but cheap to rule out.
func (s *Server) newFaceRef() (string, error) {
	var b [32]byte
	for range 3 {
		if err := s.readRand(b[:]); err != nil {
			return "", err
		}
		ref := base64.RawURLEncoding.EncodeToString(b[:])
		if _, dup := s.byFace[ref]; !dup {
			return ref, nil
		}
	}
	return "", fmt.Errorf("vneidsim: random source repeats itself")
}
