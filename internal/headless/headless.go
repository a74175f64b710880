// Package headless drives a headless Chromium over the DevTools protocol
// for the project's browser tests: start it, load a page at a phone's
// viewport, evaluate script, click and type as a user would, take
// screenshots. It speaks the protocol over its own small WebSocket client
// (no dependency); Chromium comes from Debian's package, which
// deploy/local/test.sh installs.
package headless

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Find returns the Chromium binary: $VNPASS_CHROMIUM, or chromium,
// chromium-browser or google-chrome on PATH.
func Find() (string, error) {
	if p := os.Getenv("VNPASS_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("headless: no Chromium found: run deploy/local/test.sh (it installs Debian's chromium) or set VNPASS_CHROMIUM")
}

// Browser is a running headless Chromium with one page.
type Browser struct {
	cmd     *exec.Cmd
	dataDir string
	ws      *wsConn

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan reply
	logs    []string // console messages and uncaught exceptions of the page
	done    chan struct{}
}

type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Start launches Chromium headless with a fresh profile in dataDir (which
// the caller removes) and attaches to its first page.
func Start(ctx context.Context, dataDir string) (*Browser, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	// The flags keep Chromium off the network (the machine's is closed)
	// and work as root, as CI runs.
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-default-apps", "--mute-audio", "--no-default-browser-check", "--disable-dev-shm-usage",
		"--user-data-dir="+dataDir, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("headless: start %s: %w", bin, err)
	}
	b := &Browser{cmd: cmd, dataDir: dataDir, pending: map[int64]chan reply{}, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	var browserURL string
	select {
	case browserURL = <-found:
	case <-time.After(30 * time.Second):
		b.kill()
		return nil, errors.New("headless: Chromium did not open its DevTools port within 30 s")
	case <-ctx.Done():
		b.kill()
		return nil, ctx.Err()
	}
	host := strings.TrimPrefix(browserURL, "ws://")
	host = host[:strings.Index(host, "/")]
	pageURL, err := firstPage(ctx, host)
	if err != nil {
		b.kill()
		return nil, err
	}
	if b.ws, err = dialWS(pageURL); err != nil {
		b.kill()
		return nil, err
	}
	go b.read()
	for _, m := range []string{"Page.enable", "Runtime.enable"} {
		if _, err := b.Call(ctx, m, nil); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func firstPage(ctx context.Context, host string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+host+"/json/list", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var targets []struct {
				Type, WebSocketDebuggerURL string
			}
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, t := range targets {
				if t.Type == "page" && t.WebSocketDebuggerURL != "" {
					return t.WebSocketDebuggerURL, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("headless: no page target: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *Browser) read() {
	defer close(b.done)
	for {
		msg, err := b.ws.ReadText()
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				ch <- reply{Error: &struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				}{-1, "connection closed: " + err.Error()}}
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m struct {
			ID     int64           `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			reply
		}
		if json.Unmarshal(msg, &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m.reply
			}
			continue
		}
		switch m.Method {
		case "Runtime.consoleAPICalled", "Runtime.exceptionThrown":
			b.mu.Lock()
			b.logs = append(b.logs, m.Method+": "+string(m.Params))
			b.mu.Unlock()
		}
	}
}

// Call sends a DevTools command and returns its result.
func (b *Browser) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := b.ws.WriteText(msg); err != nil {
		return nil, fmt.Errorf("headless: %s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return nil, fmt.Errorf("headless: %s: %s", method, r.Error.Message)
		}
		return r.Result, nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return nil, fmt.Errorf("headless: %s: %w", method, ctx.Err())
	}
}

// Viewport makes the page a phone's screen: width x height CSS pixels,
// mobile, at scale (1 for small screenshots).
func (b *Browser) Viewport(ctx context.Context, width, height int, scale float64) error {
	_, err := b.Call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": scale, "mobile": true})
	if err == nil {
		_, err = b.Call(ctx, "Emulation.setTouchEmulationEnabled", map[string]any{"enabled": true, "maxTouchPoints": 1})
	}
	return err
}

// Navigate loads url (a new document, not a fragment change) and waits
// until it has loaded.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	// The old document is marked, so that waiting cannot end on it.
	if err := b.Eval(ctx, "window.__headlessOld = true", nil); err != nil {
		return err
	}
	res, err := b.Call(ctx, "Page.navigate", map[string]any{"url": url})
	if err != nil {
		return err
	}
	var r struct {
		ErrorText string `json:"errorText"`
	}
	json.Unmarshal(res, &r)
	if r.ErrorText != "" {
		return fmt.Errorf("headless: navigate %s: %s", url, r.ErrorText)
	}
	return b.WaitFor(ctx, `!window.__headlessOld && document.readyState === "complete"`)
}

// Eval evaluates a script expression in the page (awaiting a promise) and
// decodes its value into out (when not nil).
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	res, err := b.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("headless: %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// WaitFor polls a script condition until it is true or ctx ends.
func (b *Browser) WaitFor(ctx context.Context, cond string) error {
	for {
		var ok bool
		err := b.Eval(ctx, "!!("+cond+")", &ok)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("headless: waiting for %s: %w (last error %v)", cond, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Click taps the centre of the first element matching selector, through
// the input pipeline as a finger would (after scrolling it into view).
func (b *Browser) Click(ctx context.Context, selector string) error {
	var box struct{ X, Y float64 }
	q, _ := json.Marshal(selector)
	err := b.Eval(ctx, `(() => { const e = document.querySelector(`+string(q)+`); if (!e) throw new Error("no element "+`+string(q)+`);
		e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return {X: r.x + r.width/2, Y: r.y + r.height/2}; })()`, &box)
	if err != nil {
		return err
	}
	for _, typ := range []string{"mousePressed", "mouseReleased"} {
		if _, err := b.Call(ctx, "Input.dispatchMouseEvent", map[string]any{
			"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1}); err != nil {
			return err
		}
	}
	return nil
}

// Type focuses the element matching selector and types text into it.
func (b *Browser) Type(ctx context.Context, selector, text string) error {
	q, _ := json.Marshal(selector)
	if err := b.Eval(ctx, `document.querySelector(`+string(q)+`).focus()`, nil); err != nil {
		return err
	}
	_, err := b.Call(ctx, "Input.insertText", map[string]any{"text": text})
	return err
}

// Screenshot writes a PNG of the viewport (full: the whole page) to path.
func (b *Browser) Screenshot(ctx context.Context, path string, full bool) error {
	res, err := b.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": full})
	if err != nil {
		return err
	}
	var r struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// Logs returns the page's console messages and uncaught exceptions so far.
func (b *Browser) Logs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.logs...)
}

// Close ends Chromium.
func (b *Browser) Close() {
	if b.ws != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		b.Call(ctx, "Browser.close", nil)
		cancel()
		b.ws.Close()
	}
	b.kill()
}

func (b *Browser) kill() {
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
}
