// Package vneidsim is the simulated VNeID identity provider: the development
// stand-in for Vietnam's national e-identity. It enrolls citizens (CCCD, name,
// birth date, concession flags) against a random face reference, answers face
// matches with short-lived EdDSA-signed assertions bound to a device, and
// publishes its signing keys as a JWKS. Assertions carry a pairwise subject and
// derived attributes only: never the CCCD, the name or the birth date.
package vneidsim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Defaults for Config.
const (
	DefaultIssuer       = "https://vneid-sim.local"
	DefaultRelyingParty = "vnpass"
	DefaultTTL          = 60 * time.Second
	// MaxTTL bounds assertion lifetime: a face match is for one tap, now.
	MaxTTL = 10 * time.Minute
	// MinClientKeyLen keeps the shared client key from being guessable.
	MinClientKeyLen = 16
)

// Errors of the simulator. HTTP handlers map them to status codes in one place (http.go).
var (
	ErrInvalidConfig     = errors.New("vneidsim: invalid config")
	ErrInvalidEnrollment = errors.New("vneidsim: invalid enrollment")
	ErrInvalidMatch      = errors.New("vneidsim: invalid match request")
	ErrNoMatch           = errors.New("vneidsim: no match")
	ErrUnauthorized      = errors.New("vneidsim: unauthorized")
	ErrKeyNotFound       = errors.New("vneidsim: signing key not found")
	ErrKeyInUse          = errors.New("vneidsim: signing key in use")
)

// vnZone is Vietnam's civil time (UTC+7, no daylight saving). Birthdays and
// "today" are counted in it, wherever the simulator runs.
var vnZone = time.FixedZone("ICT", 7*60*60)

// Config configures a Server. The zero value of every field but ClientKey has a default.
type Config struct {
	Issuer       string        // iss claim; an absolute URL. Default DefaultIssuer.
	RelyingParty string        // scope of the pairwise subject. Default DefaultRelyingParty.
	ClientKey    string        // bearer key shared with gates; guards /v1/match and admin. Required.
	Dir          string        // state directory (created 0700, files 0600); "" keeps state in memory.
	TTL          time.Duration // assertion lifetime. Default DefaultTTL, at most MaxTTL.
	Now          func() time.Time
	Rand         io.Reader // randomness for keys, face refs, jtis and the pairwise secret. Default crypto/rand.
	Logger       *slog.Logger
}

func (c *Config) ensureDefaults() error {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: issuer %q is not an absolute http(s) URL", ErrInvalidConfig, c.Issuer)
	}
	if c.RelyingParty == "" {
		c.RelyingParty = DefaultRelyingParty
	}
	if len(c.ClientKey) < MinClientKeyLen {
		return fmt.Errorf("%w: client key must be at least %d characters", ErrInvalidConfig, MinClientKeyLen)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.TTL < time.Second || c.TTL > MaxTTL {
		return fmt.Errorf("%w: ttl %s outside [1s, %s]", ErrInvalidConfig, c.TTL, MaxTTL)
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

// Server is the simulated provider. It is safe for concurrent use; its
// in-process methods (Enroll, Match, JWKS, Rotate, RemoveKey) are what the
// HTTP handlers call.
type Server struct {
	cfg Config
	log *slog.Logger
	app *fiber.App

	randMu sync.Mutex // injected readers need not be safe for concurrent use

	lnMu      sync.Mutex
	listeners []net.Listener
	stopping  bool

	mu           sync.RWMutex
	secret       []byte       // pairwise-subject HMAC key
	keys         []signingKey // oldest first; the last one signs
	byCCCD       map[string]*citizen
	byFace       map[string]*citizen
	citizens     *os.File // append-only log; nil in memory mode
	citizensSize int64    // bytes of complete lines in citizens
}

// New loads (or creates) the state in cfg.Dir and builds the HTTP app.
func New(cfg Config) (*Server, error) {
	if err := cfg.ensureDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		byCCCD: make(map[string]*citizen),
		byFace: make(map[string]*citizen),
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.app = s.newApp()
	return s, nil
}

// App is the HTTP API, for tests (app.Test) and custom listeners.
func (s *Server) App() *fiber.App { return s.app }

// Listen serves HTTP on addr until Shutdown.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("vneidsim: listen: %w", err)
	}
	return s.Serve(ln)
}

// Serve serves HTTP on ln until Shutdown, then returns nil. It may be
// called from a goroutine racing Shutdown: the listener is closed either way.
func (s *Server) Serve(ln net.Listener) error {
	s.lnMu.Lock()
	if s.stopping {
		s.lnMu.Unlock()
		return ln.Close()
	}
	s.listeners = append(s.listeners, ln)
	s.lnMu.Unlock()
	err := s.app.Listener(ln)
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.stopping {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for in-flight requests.
func (s *Server) Shutdown(ctx context.Context) error {
	s.lnMu.Lock()
	s.stopping = true
	lns := s.listeners
	s.listeners = nil
	s.lnMu.Unlock()
	err := s.app.ShutdownWithContext(ctx)
	// fiber only closes listeners it has started serving; close any it had
	// not reached yet so a racing Serve returns.
	for _, ln := range lns {
		_ = ln.Close()
	}
	return err
}

// Close releases the state files. Call it after Shutdown.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.citizens == nil {
		return nil
	}
	err := s.citizens.Close()
	s.citizens = nil
	return err
}

func (s *Server) readRand(b []byte) error {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return fmt.Errorf("vneidsim: read random: %w", err)
	}
	return nil
}
