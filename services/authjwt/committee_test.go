package authjwt

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestCommitteeTokens(t *testing.T) {
	is, err := New([]byte("0123456789abcdef0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := is.IssueCommittee("ubnd-hanoi", "hanoi", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := is.Parse(tok)
	if err != nil || c.Role != RoleCommittee || c.City != "hanoi" {
		t.Errorf("committee token: %+v %v", c, err)
	}
	// Tokens without a city parse as before; a committee needs one.
	old, _ := is.Issue("console", RoleAdmin, time.Hour)
	if c, err := is.Parse(old); err != nil || c.City != "" {
		t.Errorf("admin token: %+v %v", c, err)
	}
	bare, _ := is.Issue("ubnd", RoleCommittee, time.Hour)
	if _, err := is.Parse(bare); err == nil {
		t.Error("a committee token without a city was accepted")
	}
	if _, err := is.IssueCommittee("ubnd", "", time.Hour); err == nil {
		t.Error("issued a committee token without a city")
	}
	_ = jwt.RegisteredClaims{}
}
