package admission

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestRecentAnswersCopiesOnce(t *testing.T) {
	var r recent
	e, first := r.begin("a")
	if !first {
		t.Fatal("first begin not first")
	}
	var wg sync.WaitGroup
	got := make([]Reply, 3)
	for i := range got {
		c, first := r.begin("a")
		if first {
			t.Fatal("a copy was told to decide")
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-c.done
			got[i] = c.reply
		}(i)
	}
	r.finish("a", e, Reply{EventID: "a", Payload: []byte("ok")}, nil)
	wg.Wait()
	for i, g := range got {
		if string(g.Payload) != "ok" {
			t.Errorf("copy %d got %q", i, g.Payload)
		}
	}
	// A failed attempt is forgotten: the next copy decides.
	f, _ := r.begin("b")
	r.finish("b", f, Reply{}, errors.New("database down"))
	if _, first := r.begin("b"); !first {
		t.Error("a tap whose first attempt failed is not decided again")
	}
	// Bounded: the oldest decided taps are forgotten.
	for i := 0; i < recentSize+10; i++ {
		id := fmt.Sprint("x", i)
		e, _ := r.begin(id)
		r.finish(id, e, Reply{EventID: id}, nil)
	}
	if _, first := r.begin("a"); !first {
		t.Error("the oldest tap still remembered past the bound")
	}
	if len(r.m) > recentSize+2 {
		t.Errorf("%d taps remembered, bound %d", len(r.m), recentSize)
	}
}
