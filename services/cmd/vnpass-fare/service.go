package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/payment"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/collect"
	"github.com/vnpass/vnpass/services/dashhttp"
	"github.com/vnpass/vnpass/services/disputepg"
	"github.com/vnpass/vnpass/services/exportch"
	"github.com/vnpass/vnpass/services/farehttp"
	"github.com/vnpass/vnpass/services/payhttp"
	"github.com/vnpass/vnpass/services/riderhttp"
	"github.com/vnpass/vnpass/services/ridershipch"
	"github.com/vnpass/vnpass/services/settlehttp"
	"github.com/vnpass/vnpass/services/settlepg"
	"github.com/vnpass/vnpass/services/tapmqtt"
	"github.com/vnpass/vnpass/services/vneid"
)

// Main is the running fare service. End-to-end tests start it in-process
// exactly as the binary does, with an API address of port 0.
type Main struct {
	Config Config
	Log    *slog.Logger

	Store    *settlepg.Store
	Sink     *ridershipch.Sink
	Proc     *admission.Processor
	Dispatch *admission.Dispatch
	// TapHandlers decide taps of other device kinds than the metro's
	// (parking barriers, rail gates); set before Open.
	TapHandlers map[proto.Kind]admission.TapHandler
	Ingest      *tapmqtt.Ingestor
	Exporter    *ridership.Exporter
	Auth        *authjwt.Issuer
	// Payments is the payment provider of post-paid riders; nil when none
	// is configured (every rider is prepaid).
	Payments  payment.Provider
	Collector *collect.Collector
	// Parking is the parking barriers' service (parking.go).
	Parking *Parking
	// Partners is the rail gates and the partner API (partner.go).
	Partners *Partners
	// Disputes are riders' disputes of charges (the operators' queue).
	Disputes *disputepg.Store

	obs serviceMetrics // what /metrics shows beyond the counters (metrics.go)

	cancel context.CancelFunc
	wg     sync.WaitGroup
	app    *fiber.App
	ln     net.Listener
}

// Open starts everything; on error, what was started is closed again.
func (m *Main) Open(ctx context.Context) (err error) {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	if m.Log == nil {
		m.Log = slog.Default()
	}
	cfg := m.Config
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	defer func() {
		if err != nil {
			m.Close()
		}
	}()

	fares, err := loadFares(cfg.FareData)
	if err != nil {
		return fmt.Errorf("fare data: %w", err)
	}
	if m.Store, err = settlepg.Open(ctx, cfg.PostgresURL, cfg.Now); err != nil {
		return err
	}
	if cfg.PostgresReadURL != "" {
		if err := m.Store.UseReplica(ctx, cfg.PostgresReadURL, 0); err != nil {
			return err
		}
	}
	verifier, err := vneid.NewVerifier(vneid.VerifierConfig{Issuer: cfg.VNeIDIssuer, JWKSURL: cfg.VNeIDJWKSURL, Now: cfg.Now})
	if err != nil {
		return err
	}
	if err := refreshWithRetry(ctx, verifier, m.Log); err != nil {
		return err
	}
	m.goRun(func() {
		verifier.Run(runCtx, func(err error) { m.Log.Warn("JWKS refresh failed", "err", err) })
	})
	m.Proc, err = admission.New(admission.Config{
		Verifier: verifier, Fares: fares, Store: m.Store, Topics: cfg.Topics, Now: cfg.Now, MaxJourney: cfg.MaxJourney,
		PassBackWindow: cfg.PassBackWindow,
		MaxTapAge:      cfg.DecisionTimeout, MinTapInterval: cfg.MinTapInterval, DebtLimit: decimal.NewFromInt(cfg.DebtLimit),
	})
	if err != nil {
		return err
	}

	m.Sink, err = ridershipch.Open(ctx, ridershipch.Config{Addr: cfg.CHAddr, User: cfg.CHUser, Password: cfg.CHPassword, Database: cfg.CHDatabase, Cluster: cfg.CHCluster})
	if err != nil {
		return err
	}
	pseudo, err := ridership.NewPseudonymizer([]byte(cfg.PseudonymKey))
	if err != nil {
		return err
	}
	m.Exporter = &ridership.Exporter{Source: m.Store, Sink: m.Sink, Pseudo: pseudo, Interval: cfg.ExportInterval, Log: m.Log}
	m.goRun(func() { m.Exporter.Run(runCtx) })
	m.goRun(func() { m.retainTaps(runCtx) }) // VNPASS_TAP_RETENTION_DAYS (export.go)
	// Assertion ids are kept as long as a tap decided offline may arrive
	// with one (MaxOfflineAge) and an hour more (beyond the verifier's
	// leeway: a replay is then refused as expired or too old).
	m.goRun(func() {
		m.every(runCtx, 10*time.Minute, "purged expired assertion ids", func(ctx context.Context) (int, error) {
			n, err := m.Store.PurgeAssertionUses(ctx, cfg.Now().Add(-m.Proc.MaxOfflineAge()-time.Hour))
			return int(n), err
		})
	})
	// The previous local day reconciled every hour: vnpass_reconcile_differences (metrics.go).
	m.goRun(func() { m.reconcileYesterday(runCtx) })
	// Journeys left open past the maximum journey time: the maximum fare.
	m.goRun(func() {
		m.every(runCtx, time.Minute, "closed journeys with a missing exit at the maximum fare", m.Proc.Sweep)
	})

	// One tap stream for every kind of device: metro gates go to the
	// fare processor; parking barriers and rail gates to their own
	// handlers, registered here (TapHandlers).
	m.Dispatch = &admission.Dispatch{Default: m.Proc, ByKind: map[proto.Kind]admission.TapHandler{}}
	// Parking barriers (parking.go).
	if err := m.openParking(ctx, runCtx, verifier); err != nil {
		return err
	}
	for kind, h := range m.TapHandlers {
		m.Dispatch.ByKind[kind] = h
	}
	// Rail gates (Hanoi Station) and the partner store (partner.go).
	if err := m.openPartners(ctx, runCtx, verifier); err != nil {
		return err
	}
	m.Ingest, err = tapmqtt.New(tapmqtt.Config{
		BrokerURL: cfg.MQTTURL, Username: cfg.MQTTUser, Password: cfg.MQTTPassword,
		ClientID: "fare-" + cfg.Instance, Group: cfg.Group, Topics: cfg.Topics, Workers: cfg.Workers,
		Handler: m.timed(m.Dispatch), Log: m.Log, // timed: vnpass_decision_seconds (metrics.go)
		Limit: tapmqtt.Limit{Rate: cfg.TapRate, Burst: cfg.TapBurst},
	})
	if err != nil {
		return err
	}
	connectCtx, cancelConnect := context.WithTimeout(ctx, 30*time.Second)
	err = m.Ingest.Start(connectCtx)
	cancelConnect()
	if err != nil {
		return err
	}

	if m.Auth, err = authjwt.NewKeyring(cfg.APIKeys, cfg.Now); err != nil {
		return err
	}
	var funding *settlehttp.Funding
	if cfg.PayURL != "" {
		if m.Payments, err = payhttp.New(payhttp.Config{BaseURL: cfg.PayURL, ClientKey: cfg.PayClientKey, Name: cfg.PayProvider, Timeout: cfg.PayTimeout}); err != nil {
			return err
		}
		m.Collector = &collect.Collector{Store: m.Store, Providers: map[string]payment.Provider{cfg.PayProvider: m.Payments}, Log: m.Log}
		m.goRun(func() { m.Collector.Every(runCtx, cfg.CollectAt, cfg.CollectRetry, cfg.Now, fare.Zone) })
		funding = &settlehttp.Funding{Store: m.Store, Provider: m.Payments, Collector: m.Collector, ConsentVersion: ConsentVersion}
	}
	if m.Disputes, err = disputepg.Open(ctx, cfg.PostgresURL); err != nil {
		return err
	}
	if cfg.MetricsToken == "" && !authjwt.Loopback(cfg.APIAddr) {
		m.Log.Warn("VNPASS_METRICS_TOKEN unset: /metrics is open to whoever reaches the API port", "addr", cfg.APIAddr)
	}
	m.app = accounthttp.New(accounthttp.Config{
		Accounts: m.Store, Auth: m.Auth, Log: m.Log, Metrics: m.metrics, MetricsToken: cfg.MetricsToken,
		Ready:  func(ctx context.Context) error { return m.Store.Pool().Ping(ctx) },
		Passes: fares, PassStore: m.Store, Now: cfg.Now,
		Audit: m.Store, AuditLog: m.Store, // staff access to personal data (issue 10)
		Erasure: accounthttp.Erasure{Store: m.Store, Analytics: func(ctx context.Context, subject string) error {
			return m.Sink.EraseRider(ctx, pseudo.Key(subject), 30*time.Second)
		}},
		Routes: []func(fiber.Router){
			farehttp.Routes(farehttp.Config{Fares: fares, Journeys: m.Store, Refunds: m.Store, Now: cfg.Now}),
			m.parkingRoutes(),
			m.railRoutes(),
			settlehttp.Routes(settlehttp.Config{Store: m.Store, Fares: fares, Now: cfg.Now, Funding: funding, Reports: m.providerReports,
				DebtLimit: m.Proc.DebtLimit()}),
			riderhttp.Routes(riderhttp.Config{Store: m.Store, Disputes: m.Disputes, Fares: fares, Now: cfg.Now,
				Consents: m.riderConsents(), Parking: m.riderParking()}),
			m.dashboardRoutes(fares), // the operators' dashboard (dashboard.go)
			// People's Committees' exports (services/exportch): recipient keys
			// derived from the pseudonym key, per recipient.
			exportch.Routes(exportch.HTTPConfig{Exporter: m.exporter(), MasterKey: []byte(cfg.PseudonymKey), Log: m.Log}),
		},
		Public: []func(fiber.Router){riderhttp.Page(), dashhttp.Page()},
	})
	if err := m.mountPartners(fares); err != nil {
		return err
	}
	if m.ln, err = net.Listen("tcp", cfg.APIAddr); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	m.goRun(func() {
		if err := m.app.Listener(m.ln); err != nil {
			m.Log.Error("api stopped", "err", err)
		}
	})
	return nil
}

// ConsentVersion is the version of the post-paid terms a rider accepts when
// linking a bank account or e-wallet.
const ConsentVersion = "postpaid-2026-11"

// providerReports fetches the configured payment provider's settlement
// report of a day, for reconciliation.
func (m *Main) providerReports(ctx context.Context, day time.Time) (map[string][]settlepg.ProviderSettlement, error) {
	if m.Payments == nil {
		return nil, nil
	}
	return fetchReports(ctx, m.Payments, day)
}

func fetchReports(ctx context.Context, p payment.Provider, day time.Time) (map[string][]settlepg.ProviderSettlement, error) {
	sts, err := p.Settlements(ctx, day)
	if err != nil {
		return nil, err
	}
	out := make([]settlepg.ProviderSettlement, len(sts))
	for i, s := range sts {
		out[i] = settlepg.ProviderSettlement{Key: s.Key, Ref: s.Ref, Amount: s.Amount}
	}
	return map[string][]settlepg.ProviderSettlement{p.Name(): out}, nil
}

func (m *Main) goRun(f func()) {
	m.wg.Add(1)
	go func() { defer m.wg.Done(); f() }()
}

// loadFares loads the shipped feeds (Hanoi, Ho Chi Minh City), or the
// operator's GTFS folders listed in dirs (separated by ':'), as one set.
func loadFares(dirs string) (*fare.Set, error) {
	if dirs == "" {
		return fare.Shipped()
	}
	var tables []*fare.Table
	for _, d := range strings.Split(dirs, ":") {
		t, err := fare.LoadGTFS(os.DirFS(d))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		tables = append(tables, t)
	}
	return fare.NewSet(tables...)
}

// refreshWithRetry waits up to 30 s for the identity provider's keys: the
// service starts with its dependencies, not strictly after them.
func refreshWithRetry(ctx context.Context, v *vneid.Verifier, log *slog.Logger) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := v.Refresh(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("VNeID keys: %w", err)
		}
		log.Warn("VNeID keys not reachable yet, retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// every runs job every interval until ctx ends, logging what it did.
func (m *Main) every(ctx context.Context, interval time.Duration, what string, job func(context.Context) (int, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := job(ctx)
			if err != nil && ctx.Err() == nil {
				m.Log.Warn(what+" failed", "err", err)
			} else if n > 0 {
				m.Log.Info(what, "count", n)
			}
		}
	}
}

// APIAddr is the address the API listens on.
func (m *Main) APIAddr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// Close stops taking taps, lets the workers finish the taps they hold,
// exports what is pending and closes the stores.
func (m *Main) Close() error {
	if m.Ingest != nil {
		m.Ingest.Close(5 * time.Second)
	}
	if m.cancel != nil {
		m.cancel()
	}
	if m.app != nil {
		m.app.ShutdownWithTimeout(5 * time.Second)
	}
	m.wg.Wait()
	if m.Exporter != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for {
			n, err := m.Exporter.Once(ctx)
			if err != nil {
				m.Log.Error("final export failed; the outbox keeps it for the next start", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		cancel()
	}
	m.closeParking()
	if m.Sink != nil {
		m.Sink.Close()
	}
	if m.Partners != nil && m.Partners.Store != nil {
		m.Partners.Store.Close()
	}
	if m.Disputes != nil {
		m.Disputes.Close()
	}
	if m.Store != nil {
		m.Store.Close()
	}
	return nil
}
