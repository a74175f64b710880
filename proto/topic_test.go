package proto

import (
	"errors"
	"testing"
)

func TestTopics(t *testing.T) {
	var tp Topics
	if got := tp.Taps("hn2a-cat-linh", "hn2a-cat-linh-g01"); got != "vnpass/v1/taps/hn2a-cat-linh/hn2a-cat-linh-g01" {
		t.Errorf("Taps = %q", got)
	}
	if got := tp.Decisions("s", "d"); got != "vnpass/v1/decisions/s/d" {
		t.Errorf("Decisions = %q", got)
	}
	if got := tp.Shared("fare", ChanTaps); got != "$share/fare/vnpass/v1/taps/+/+" {
		t.Errorf("Shared = %q", got)
	}
	test := Topics{Root: "vnpass/t/abc/v1"}
	c, site, dev, err := test.Parse(test.Status("hn2a-lang", "hn2a-lang-g03"))
	if err != nil || c != ChanStatus || site != "hn2a-lang" || dev != "hn2a-lang-g03" {
		t.Errorf("Parse = %q %q %q %v", c, site, dev, err)
	}
	for _, bad := range []string{
		"vnpass/v1/taps/s",         // too short
		"vnpass/v1/taps/s/d/x",     // too long
		"vnpass/v1/orders/s/d",     // unknown channel
		"vnpass/v2/taps/s/d",       // other root
		"vnpass/v1/taps/S/d",       // upper case
		"vnpass/v1/taps/s/",        // empty device
		"vnpass/t/abc/v1/taps/s/d", // other namespace
	} {
		if _, _, _, err := tp.Parse(bad); !errors.Is(err, ErrTopic) {
			t.Errorf("Parse(%q) err = %v, want ErrTopic", bad, err)
		}
	}
}
