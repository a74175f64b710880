package headless_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vnpass/vnpass/internal/headless"
)

// TestClickTypeAndScreenshot: a page at a phone's viewport, a field typed
// into and a button tapped through the input pipeline, a screenshot.
func TestClickTypeAndScreenshot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><meta name="viewport" content="width=device-width">
<input id="q"><button id="b" style="margin-top:900px" onclick="document.title = document.getElementById('q').value + ' ' + innerWidth">go</button>`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := headless.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Viewport(ctx, 360, 740, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Navigate(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := b.Type(ctx, "#q", "Xin chào"); err != nil {
		t.Fatal(err)
	}
	if err := b.Click(ctx, "#b"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.title === "Xin chào 360"`); err != nil {
		var title string
		b.Eval(ctx, "document.title", &title)
		t.Fatalf("%v: title %q", err, title)
	}
	png := filepath.Join(t.TempDir(), "page.png")
	if err := b.Screenshot(ctx, png, false); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 100 {
		t.Fatalf("screenshot: %v", err)
	}
	if err := b.Eval(ctx, `nosuchthing()`, nil); err == nil {
		t.Error("a script error was not reported")
	}
}
