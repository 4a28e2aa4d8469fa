package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/clock"
	bghttp "github.com/bankgate/bankgate/http"
	"github.com/bankgate/bankgate/openbanking"
	"github.com/bankgate/bankgate/postgres"
	"github.com/bankgate/bankgate/requestid"
	"github.com/bankgate/bankgate/sandbox"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
	"github.com/bankgate/bankgate/sqlite"
	"github.com/bankgate/bankgate/tracing"
)

// sandboxBytesPerState is what --sandbox-cache-mb budgets per cached user
// state, so that the states (which hold on to their users' generated
// profiles) stay within about the same memory as the generated-data cache.
const sandboxBytesPerState = 2 << 10

// sandboxOptions is the sandbox as bankgate serves it: its caches sized by
// --sandbox-cache-mb (cacheMB; 0, for commands other than serve, keeps
// the package's default), a fresh user state vouched for by the store's
// change feed, on clock now.
func sandboxOptions(cacheMB int, staleness time.Duration, now func() time.Time, store bankgate.Store) sandbox.Options {
	cacheBytes := int64(cacheMB) << 20
	if cacheBytes == 0 {
		cacheBytes = sandbox.DefaultCacheBytes
	}
	// A zero staleness (commands other than serve) keeps the package's default.
	return sandbox.Options{Now: now, Store: store, ChangeFeed: true,
		CacheBytes: cacheBytes, CacheUsers: int(cacheBytes / sandboxBytesPerState), ReadStaleness: staleness}
}

// app is an opened store, keyring and service for one command.
type app struct {
	cfg     Config
	store   bankgate.Store
	svc     *service.Service
	clock   func() time.Time
	virtual *clock.Virtual // nil on real time
	sandbox *sandbox.Connector
	log     *slog.Logger
	keys    *secret.Keyring
	keyFile string // "" for an inline key
}

func (a *app) Close() error { return a.store.Close() }

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	return newFormatLogger(level, "json", w)
}

// newFormatLogger returns a logger writing to w at level in format (json
// or text).
func newFormatLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler
	switch format {
	case "json", "":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("--log-format: %q is not json or text", format)
	}
	return slog.New(requestHandler{h}), nil
}

// requestHandler adds to a log line about a request, one logged with the
// request's context, its request ID (reqID) and, when tracing is on, its
// trace ID (traceID).
type requestHandler struct{ slog.Handler }

func (h requestHandler) Handle(ctx context.Context, r slog.Record) error {
	id, sc := requestid.FromContext(ctx), trace.SpanContextFromContext(ctx)
	if id != "" || sc.HasTraceID() {
		r = r.Clone() // a record shares its attributes with its copies
		if id != "" {
			r.AddAttrs(slog.String("reqID", id))
		}
		if sc.HasTraceID() {
			r.AddAttrs(slog.String("traceID", sc.TraceID().String()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestHandler{h.Handler.WithAttrs(as)}
}

func (h requestHandler) WithGroup(name string) slog.Handler {
	return requestHandler{h.Handler.WithGroup(name)}
}

// open opens the store and builds the service for cfg.
func open(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time) (*app, error) {
	return openTraced(ctx, cfg, log, now, nil)
}

// openTraced is open with tracing: when tr is not nil, the service traces
// its connector calls and every store call made in a traced request is a
// span (a.store itself stays undecorated).
func openTraced(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time, tr trace.Tracer) (*app, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := cfg.ensureDataDir(); err != nil {
		return nil, err
	}
	keyList, keyFile, err := cfg.loadKeys()
	if err != nil {
		return nil, err
	}
	keys, err := secret.NewKeyringOf(keyList)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.wrapStore != nil {
		store = cfg.wrapStore(store)
	}
	base := now
	if base == nil {
		base = time.Now
	}
	if err := service.CheckKeys(ctx, store, keys, base().UTC()); err != nil {
		store.Close()
		if keyFile == "" {
			keyFile = "the inline key"
		}
		return nil, fmt.Errorf("%w (key file: %s)", err, keyFile)
	}
	virtual, err := clock.Parse(cfg.SandboxClock, base)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("--sandbox-clock: %w", err)
	}
	clk, sbNow := base, (func() time.Time)(nil) // nil: the service's clock, one reading a request
	if virtual != nil {
		clk, sbNow = virtual.Now, virtual.Now
	}
	traced := store
	if tr != nil {
		system := "sqlite"
		if cfg.DatabaseURL != "" {
			system = "postgresql"
		}
		traced = tracing.Store(store, tr, system)
	}
	sb := sandbox.New(sandboxOptions(cfg.SandboxCacheMB, cfg.CacheStaleness, clk, traced))
	if cfg.SandboxFixtures != "" {
		if err := sb.LoadFixtureDir(ctx, cfg.SandboxFixtures); err != nil {
			store.Close()
			return nil, fmt.Errorf("--sandbox-fixtures: %w", err)
		}
	}
	connectors := []bank.Connector{sb}
	if cfg.NoSandbox {
		connectors = nil
	}
	if cfg.BanksFile != "" {
		banks, err := openbanking.LoadBanks(cfg.BanksFile)
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("--banks-file: %w", err)
		}
		connectors = append(connectors, openbanking.New(banks, openbanking.Options{Store: store}))
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			store.Close()
			return nil, fmt.Errorf("--public-url: %q is not a base URL such as https://bankgate.example.com", cfg.PublicURL)
		}
	}
	svc := service.New(service.Config{
		Store:         traced,
		Keyring:       keys,
		Connectors:    connectors,
		Now:           base,
		SandboxNow:    sbNow,
		AccessCodeTTL: cfg.AccessCodeTTL,
		CacheTTL:      cfg.CacheStaleness,
		Logger:        log,
		Tracer:        tr,
		PublicURL:     cfg.PublicURL,
	})
	return &app{cfg: cfg, store: store, svc: svc, clock: clk, virtual: virtual, sandbox: sb, log: log, keys: keys, keyFile: keyFile}, nil
}

// openStore opens the configured store: PostgreSQL when a database URL
// is set, else SQLite in the data directory.
func openStore(ctx context.Context, cfg Config) (bankgate.Store, error) {
	if cfg.DatabaseURL != "" {
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		return s, nil
	}
	dbPath := filepath.Join(cfg.DataDir, "bankgate.db")
	s, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		os.Chmod(p, 0o600)
	}
	return s, nil
}

// storeUnavailable reports whether err means the store cannot be reached
// or refuses writes (a full disk, a read-only database): both are
// answered 503 TEMPORARILY_UNAVAILABLE.
func storeUnavailable(err error) bool {
	return postgres.IsUnavailable(err) || errors.Is(err, bankgate.ErrWriteRefused)
}

// newMetrics returns the server's metrics, with pool statistics when the
// store has a pool.
func newMetrics(store bankgate.Store) *bghttp.Metrics {
	m := bghttp.NewMetrics()
	registerBuildInfo(m.Registry)
	if pg, ok := store.(*postgres.Store); ok {
		pool := pg.Pool()
		gauge := func(name, help string, f func() float64) {
			m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
		}
		gauge("bankgate_pool_total_conns", "PostgreSQL pool: open connections.", func() float64 { return float64(pool.Stat().TotalConns()) })
		gauge("bankgate_pool_acquired_conns", "PostgreSQL pool: connections in use.", func() float64 { return float64(pool.Stat().AcquiredConns()) })
		gauge("bankgate_pool_idle_conns", "PostgreSQL pool: idle connections.", func() float64 { return float64(pool.Stat().IdleConns()) })
		gauge("bankgate_pool_max_conns", "PostgreSQL pool: maximum connections.", func() float64 { return float64(pool.Stat().MaxConns()) })
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "bankgate_pool_acquire_wait_seconds_total", Help: "PostgreSQL pool: total time spent waiting for a connection."},
			func() float64 { return pool.Stat().AcquireDuration().Seconds() }))
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "bankgate_pool_empty_acquires_total", Help: "PostgreSQL pool: acquires that had to wait."},
			func() float64 { return float64(pool.Stat().EmptyAcquireCount()) }))
	}
	return m
}

// openForCommand parses the common store flags of an admin command and
// opens the app.
func openForCommand(ctx context.Context, fs *flag.FlagSet, cfg *Config, args []string, stderr io.Writer) (*app, error) {
	checkStore := createFlag(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := checkStore(*cfg); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.AccessCodeTTL == 0 {
		cfg.AccessCodeTTL = 30 * time.Minute
	}
	log, err := newLogger("warn", stderr)
	if err != nil {
		return nil, err
	}
	return open(ctx, *cfg, log, nil)
}
