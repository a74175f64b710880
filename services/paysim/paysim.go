// Package paysim is the simulated payment provider: the development stand-in
// for the banks (NAPAS) and e-wallets (MoMo, ZaloPay) that fund post-paid
// riders. It keeps funding sources with a balance, links them to riders,
// debits them once per idempotency key, and reports each day's approved
// debits for reconciliation. How a source behaves depends on its account
// number, like payment test cards (see Behaviour and README.md), and can be
// changed at run time through the admin API.
//
// The Server answers over HTTP (http.go, the API services/payhttp calls) and
// in process: it implements payment.Provider itself, so settlement tests may
// use it without a network. State is kept in memory and, with a state file,
// appended to a JSON-lines log that is replayed at start (state.go).
package paysim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/payment"
)

// Defaults for Config.
const (
	DefaultName = "paysim"
	// DefaultHangFor is how long a Hang source holds its answer: far longer
	// than any client waits.
	DefaultHangFor = 2 * time.Minute
	// MinKeyLen keeps the shared keys from being guessable.
	MinKeyLen = 16
)

// DefaultBalance is a new funding source's balance: 10.000.000 ₫.
var DefaultBalance = decimal.NewFromInt(10_000_000)

// Errors of the simulator beyond those of package payment. The HTTP handlers
// map every error to a status in one place (http.go).
var (
	ErrInvalidConfig = errors.New("paysim: invalid config")
	ErrUnknownToken  = fmt.Errorf("%w: unknown token", payment.ErrInvalid)
	ErrUnknownSource = errors.New("paysim: no such funding source")
	ErrClosed        = errors.New("paysim: closed")
)

// Config configures a Server. Every field but ClientKey has a default.
type Config struct {
	Name      string // the provider's name in links and the ledger. Default "paysim".
	ClientKey string // bearer key of the platform; guards /v1. Required.
	AdminKey  string // bearer key of /v1/admin. Default ClientKey.
	// StateFile is the JSON-lines log of state changes (created 0600); ""
	// keeps state in memory only.
	StateFile      string
	DefaultBalance decimal.Decimal // balance of a new source. Default DefaultBalance.
	HangFor        time.Duration   // how long a Hang source holds a debit's answer. Default DefaultHangFor.
	Now            func() time.Time
	Rand           io.Reader // randomness of tokens. Default crypto/rand.
	Logger         *slog.Logger
}

func (c *Config) ensureDefaults() error {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.ClientKey) < MinKeyLen {
		return fmt.Errorf("%w: client key must be at least %d characters", ErrInvalidConfig, MinKeyLen)
	}
	if c.AdminKey == "" {
		c.AdminKey = c.ClientKey
	}
	if len(c.AdminKey) < MinKeyLen {
		return fmt.Errorf("%w: admin key must be at least %d characters", ErrInvalidConfig, MinKeyLen)
	}
	if c.DefaultBalance.IsZero() {
		c.DefaultBalance = DefaultBalance
	}
	if c.DefaultBalance.IsNegative() || !c.DefaultBalance.IsInteger() {
		return fmt.Errorf("%w: default balance %s is not a whole, non-negative number of dong", ErrInvalidConfig, c.DefaultBalance)
	}
	if c.HangFor == 0 {
		c.HangFor = DefaultHangFor
	}
	if c.HangFor < 0 {
		return fmt.Errorf("%w: hang-for %s is negative", ErrInvalidConfig, c.HangFor)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Server is the simulated provider. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	metrics counters

	quit     chan struct{} // closed by Shutdown and Close: held answers are released
	quitOnce sync.Once

	srvMu    sync.Mutex
	srvs     []*http.Server
	stopping bool

	mu     sync.Mutex // guards st and the state file; held while a change is logged and applied
	st     state
	file   *os.File // append-only log; nil in memory mode or once closed
	size   int64    // bytes of complete lines in file
	closed bool     // Close was called: changes fail with ErrClosed
}

// New replays the state file, if any, and builds the HTTP API.
func New(cfg Config) (*Server, error) {
	if err := cfg.ensureDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:  cfg,
		log:  cfg.Logger,
		quit: make(chan struct{}),
		st:   newState(),
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Name is the provider's name.
func (s *Server) Name() string { return s.cfg.Name }

// Handler is the HTTP API, for httptest and custom servers.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves HTTP on ln until Shutdown, then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.srvMu.Lock()
	if s.stopping {
		s.srvMu.Unlock()
		return ln.Close()
	}
	s.srvs = append(s.srvs, srv)
	s.srvMu.Unlock()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown releases held answers, stops accepting connections and waits for
// in-flight requests.
func (s *Server) Shutdown(ctx context.Context) error {
	s.release()
	s.srvMu.Lock()
	s.stopping = true
	srvs := s.srvs
	s.srvMu.Unlock()
	var errs []error
	for _, srv := range srvs {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Close releases held answers, stops serving at once (call Shutdown first to
// drain) and closes the state file. Requests after Close fail. Closing twice
// is harmless.
func (s *Server) Close() error {
	s.release()
	s.srvMu.Lock()
	s.stopping = true
	srvs := s.srvs
	s.srvMu.Unlock()
	for _, srv := range srvs {
		_ = srv.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

func (s *Server) release() { s.quitOnce.Do(func() { close(s.quit) }) }

// Counter returns the current value of one metric series, e.g.
// `paysim_problems_total{type="bad-json"}`; 0 if it was never counted.
func (s *Server) Counter(series string) int64 { return s.metrics.get(series) }
