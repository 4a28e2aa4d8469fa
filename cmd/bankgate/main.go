// Command bankgate is a self-hostable open-banking API server,
// wire-compatible with Dapi's v2 API.
//
//	bankgate serve                 start the server (SQLite in ./bankgate-data)
//	bankgate apps create --name N  register an app, print its key and secret
//	bankgate apps list             list apps
//	bankgate apps rotate-secret    give an app a new secret
//	bankgate audit --app-key K     print an app's audit trail
//	bankgate keys status|rotate|promote|retire  manage the server keys
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/clock"
	"github.com/bankgate/bankgate/connect"
	bghttp "github.com/bankgate/bankgate/http"
	"github.com/bankgate/bankgate/postgres"
	"github.com/bankgate/bankgate/sandbox"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
	"github.com/bankgate/bankgate/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bankgate:", err)
		os.Exit(1)
	}
}

const usage = `bankgate: a self-hostable open-banking API server, wire-compatible with Dapi's v2 API.

Usage:
  bankgate serve [flags]                         start the server
  bankgate apps create --name NAME [--json]      register an app; prints its appKey and appSecret (shown once)
  bankgate apps list [--json]                    list registered apps
  bankgate apps rotate-secret --app-key KEY      give an app a new appSecret; the old one stops working
  bankgate apps set --app-key KEY [--allowed-origin O] [--redirect-uri U] [--bundle-id B] [--server-url S]
                                                 register where the Connect page may hand results and SDK settings
  bankgate audit --app-key KEY [--limit N]       print an app's audit trail
  bankgate keys status                           show the server keys and how many stored values each protects
  bankgate keys rotate [--staged]                make a new primary server key; older keys keep verifying
  bankgate keys promote ID                       make a staged key the primary
  bankgate keys retire ID [--force]              stop trusting an older key (--force revokes what still depends on it)
  bankgate migrate --database-url URL            apply the PostgreSQL schema migrations without serving
  bankgate sandbox users add --bank B --file F   add (or replace) a sandbox user from a JSON fixture

Run "bankgate COMMAND --help" for a command's flags.
`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], env, stdout, stderr, nil)
	case "apps":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errors.New("apps: missing subcommand (create, list, rotate-secret)")
		}
		switch args[1] {
		case "create":
			return cmdAppsCreate(ctx, args[2:], env, stdout, stderr)
		case "list":
			return cmdAppsList(ctx, args[2:], env, stdout, stderr)
		case "rotate-secret":
			return cmdAppsRotate(ctx, args[2:], env, stdout, stderr)
		case "set":
			return cmdAppsSet(ctx, args[2:], env, stdout, stderr)
		}
		return fmt.Errorf("apps: unknown subcommand %q", args[1])
	case "audit":
		return cmdAudit(ctx, args[1:], env, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, args[1:], env, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, args[1:], env, stdout, stderr)
	case "sandbox":
		if len(args) < 3 || args[1] != "users" || args[2] != "add" {
			fmt.Fprint(stderr, usage)
			return errors.New("sandbox: the command is: bankgate sandbox users add --bank BANK --file FILE")
		}
		return cmdSandboxUsersAdd(ctx, args[3:], env, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// sandboxBytesPerState is what --sandbox-cache-mb budgets per cached user
// state, so that the states (which hold on to their users' generated
// profiles) stay within about the same memory as the generated-data cache.
const sandboxBytesPerState = 2 << 10

// app is an opened store, keyring and service for one command.
type app struct {
	cfg     Config
	store   bankgate.Store
	svc     *service.Service
	clock   func() time.Time
	virtual *clock.Virtual // nil on real time
	sandbox *sandbox.Bank
	log     *slog.Logger
	keys    *secret.Keyring
	keyFile string // "" for an inline key
}

func (a *app) Close() error { return a.store.Close() }

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// open opens the store and builds the service for cfg.
func open(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time) (*app, error) {
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
	clk := base
	if virtual != nil {
		clk = virtual.Now
	}
	cacheBytes := int64(cfg.SandboxCacheMB) << 20
	if cacheBytes == 0 { // commands other than serve
		cacheBytes = sandbox.DefaultCacheBytes
	}
	sb := sandbox.New(sandbox.Options{Now: clk, Store: store, ChangeFeed: true,
		CacheBytes: cacheBytes, CacheUsers: int(cacheBytes / sandboxBytesPerState)})
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
	svc := service.New(service.Config{
		Store:         store,
		Keyring:       keys,
		Connectors:    connectors,
		Now:           base,
		SandboxNow:    clk,
		AccessCodeTTL: cfg.AccessCodeTTL,
		Logger:        log,
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

// storeUnavailable reports whether err means the store cannot be reached.
func storeUnavailable(err error) bool { return postgres.IsUnavailable(err) }

// newMetrics returns the server's metrics, with pool statistics when the
// store has a pool.
func newMetrics(store bankgate.Store) *bghttp.Metrics {
	m := bghttp.NewMetrics()
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

// serveHooks lets tests observe the server: Ready is called with the
// listening address once it accepts connections.
type serveHooks struct {
	Ready func(addr string)
	Now   func() time.Time
	// AdminReady is called with the admin listener's address.
	AdminReady func(addr string)
}

func cmdServe(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer, hooks *serveHooks) error {
	var cfg Config
	fs, err := newFlagSet("serve [flags]", "Start the bankgate server. On a store with no apps it creates an app named demo\nand prints its appKey and appSecret once, with a curl walkthrough.", &cfg, env, stderr,
		"addr", "data-dir", "database-url", "access-code-ttl", "secret-key-file", "sandbox-clock", "sandbox-fixtures", "sandbox-cache-mb", "memory-limit", "no-sandbox", "trusted-proxies", "rate-limits", "admin-addr", "admin-token-file", "log-level")
	if err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	memLimit, err := applyMemoryLimit(cfg.MemoryLimit)
	if err != nil {
		return err
	}
	limits, err := cfg.limits()
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	proxies, err := cfg.proxies()
	if err != nil {
		return err
	}
	var now func() time.Time
	if hooks != nil {
		now = hooks.Now
	}
	// Rate limits run on real time: the base clock, never the sandbox's
	// virtual one.
	realNow := now
	if realNow == nil {
		realNow = time.Now
	}
	a, err := open(ctx, cfg, log, now)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()

	apps, err := a.store.ListApps(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	// The demo app is for the embedded store's first start. On PostgreSQL,
	// several instances may start at once, so apps are made with
	// `bankgate apps create` instead.
	if len(apps) == 0 && cfg.DatabaseURL == "" && !cfg.NoSandbox {
		demo, err := a.svc.CreateApp(ctx, "demo", bankgate.EnvSandbox)
		if err != nil {
			ln.Close()
			return err
		}
		printWalkthrough(stdout, addr, demo, a.svc)
	} else if len(apps) == 0 {
		fmt.Fprintln(stdout, "No apps yet: create one with `bankgate apps create --name NAME` (with the same --data-dir or --database-url).")
	}

	metrics := newMetrics(a.store)
	adm, err := startAdmin(ctx, a, cfg, env, metrics, log, stdout)
	if err != nil {
		ln.Close()
		return err
	}
	if hooks != nil && hooks.AdminReady != nil && adm != nil {
		hooks.AdminReady(adm.addr)
	}
	handler := bghttp.New(bghttp.Config{Service: a.svc, Logger: log, Unavailable: storeUnavailable, Metrics: metrics,
		Pages: connect.New(connect.Config{Apps: a.svc, Logger: log}), TrustedProxies: proxies,
		Limits: &limits, RealNow: realNow})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	go sweep(ctx, a.svc, log)
	storeKind := "sqlite"
	if cfg.DatabaseURL != "" {
		storeKind = "postgres"
	}
	log.Info("bankgate listening", "addr", addr, "dataDir", cfg.DataDir, "store", storeKind, "memoryLimit", memLimit)
	fmt.Fprintf(stdout, "bankgate listening on http://%s\n", addr)
	if hooks != nil && hooks.Ready != nil {
		hooks.Ready(addr)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down; finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	defer adm.shutdown(sctx)
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := a.svc.FlushTouches(sctx); err != nil {
		log.Warn("record connections' last use", "err", err)
	}
	return nil
}

// sweep deletes expired operations and access codes every minute.
func sweep(ctx context.Context, svc *service.Service, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := svc.Sweep(ctx); err != nil {
				log.Warn("sweep expired rows", "err", err)
			} else if n > 0 {
				log.Debug("swept expired rows", "rows", n)
			}
		}
	}
}

func printWalkthrough(w io.Writer, addr string, demo *service.NewApp, svc *service.Service) {
	bankID := "SANDBOX_AE_ENBD"
	if banks, err := svc.Banks(context.Background(), demo.App.Key, nil); err == nil && len(banks) > 0 {
		bankID = banks[0].ID
	}
	fmt.Fprintf(w, `
Created the first app, "demo". Its appSecret is shown only this once; keep it safe.

  appKey:    %s
  appSecret: %s

Try the whole flow with curl (paste into a POSIX shell):

BG=http://%s
JSON='Content-Type: application/json'
APP_KEY=%s
APP_SECRET=%s
field() { printf '%%s' "$1" | grep -o "\"$2\":\"[^\"]*\"" | cut -d'"' -f4; }
# 1. list the sandbox banks
curl -s -H "$JSON" $BG/v2/connect/banks/get -d '{"appKey":"'$APP_KEY'"}'; echo
# 2. log a sandbox user in (user_good / pass_good; user_mfa asks for OTP 123456)
LOGIN=$(curl -s -H "$JSON" $BG/v2/connect/login -d '{"appKey":"'$APP_KEY'","bankID":"%s","username":"user_good","password":"pass_good"}'); echo "$LOGIN"
CODE=$(field "$LOGIN" accessCode); CONN=$(field "$LOGIN" connectionID); USER_SECRET=$(field "$LOGIN" userSecret)
# 3. exchange the access code for an access token
EX=$(curl -s -H "$JSON" $BG/v2/auth/ExchangeToken -d '{"appSecret":"'$APP_SECRET'","accessCode":"'$CODE'","connectionID":"'$CONN'"}'); echo "$EX"
TOKEN=$(field "$EX" accessToken)
# 4. read the user's identity and accounts
curl -s -H "$JSON" $BG/v2/data/identity/get -H "Authorization: Bearer $TOKEN" -d '{"appSecret":"'$APP_SECRET'","userSecret":"'$USER_SECRET'"}'; echo
curl -s -H "$JSON" $BG/v2/data/accounts/get -H "Authorization: Bearer $TOKEN" -d '{"appSecret":"'$APP_SECRET'","userSecret":"'$USER_SECRET'"}'; echo
# 5. delink the user; the token stops working
curl -s -H "$JSON" $BG/v2/users/DelinkUser -H "Authorization: Bearer $TOKEN" -d '{"appSecret":"'$APP_SECRET'","userSecret":"'$USER_SECRET'"}'; echo
curl -s -H "$JSON" $BG/v2/data/accounts/get -H "Authorization: Bearer $TOKEN" -d '{"appSecret":"'$APP_SECRET'","userSecret":"'$USER_SECRET'"}'; echo

`, demo.App.Key, demo.Secret, addr, demo.App.Key, demo.Secret, bankID)
}

// openForCommand parses the common store flags of an admin command and
// opens the app.
func openForCommand(ctx context.Context, fs *flag.FlagSet, cfg *Config, args []string, stderr io.Writer) (*app, error) {
	if err := fs.Parse(args); err != nil {
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

func cmdAppsCreate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps create --name NAME [--json]", "Register an app and print its appKey and appSecret. The secret is shown only once.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	name := fs.String("name", "", "the app's name (required)")
	envName := fs.String("environment", bankgate.EnvSandbox, "sandbox (reaches only sandbox banks, has a test clock) or production (only real banks); fixed for the app's life")
	asJSON := fs.Bool("json", false, `print exactly one JSON object {"name","appKey","appSecret","environment"}`)
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if strings.TrimSpace(*name) == "" {
		return errors.New("apps create: --name is required")
	}
	if *envName != bankgate.EnvSandbox && *envName != bankgate.EnvProduction {
		return fmt.Errorf("apps create: --environment is sandbox or production, not %q", *envName)
	}
	na, err := a.svc.CreateApp(ctx, *name, *envName)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"name": na.App.Name, "appKey": na.App.Key, "appSecret": na.Secret, "environment": na.App.Environment})
	}
	fmt.Fprintf(stdout, "Created %s app %q. The appSecret is shown only this once.\n  appKey:    %s\n  appSecret: %s\n", na.App.Environment, na.App.Name, na.App.Key, na.Secret)
	return nil
}

func cmdAppsList(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps list [--json]", "List registered apps (never their secrets).", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	asJSON := fs.Bool("json", false, "print a JSON array")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	apps, err := a.store.ListApps(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			Name        string    `json:"name"`
			AppKey      string    `json:"appKey"`
			Environment string    `json:"environment"`
			CreatedAt   time.Time `json:"createdAt"`
		}
		rows := []row{}
		for _, ap := range apps {
			rows = append(rows, row{ap.Name, ap.Key, ap.Environment, ap.CreatedAt})
		}
		return json.NewEncoder(stdout).Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAPP KEY\tENVIRONMENT\tCREATED")
	for _, ap := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ap.Name, ap.Key, ap.Environment, ap.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func cmdAppsRotate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps rotate-secret --app-key KEY", "Give an app a new appSecret and print it; the old secret stops working.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	key := fs.String("app-key", "", "the app's appKey (required)")
	asJSON := fs.Bool("json", false, `print {"appKey","appSecret"} as JSON`)
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *key == "" {
		return errors.New("apps rotate-secret: --app-key is required")
	}
	sec, err := a.svc.RotateAppSecret(ctx, *key)
	if err != nil {
		return fmt.Errorf("apps rotate-secret: %s", bankgate.ErrorMessage(err))
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"appKey": *key, "appSecret": sec})
	}
	fmt.Fprintf(stdout, "New appSecret (shown only this once): %s\n", sec)
	return nil
}

func cmdAudit(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("audit --app-key KEY [--limit N] [--json]", "Print an app's audit trail, oldest first.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	key := fs.String("app-key", "", "the app's appKey (required)")
	limit := fs.Int("limit", 1000, "at most this many events")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *key == "" {
		return errors.New("audit: --app-key is required")
	}
	events, err := a.svc.Audit(ctx, *key, *limit)
	if err != nil {
		return fmt.Errorf("audit: %s", bankgate.ErrorMessage(err))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range events {
			enc.Encode(map[string]any{"at": e.At, "kind": e.Kind, "appID": e.AppID, "connectionID": e.ConnectionID, "detail": e.Detail})
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tCONNECTION\tDETAIL")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339Nano), e.Kind, e.ConnectionID, e.Detail)
	}
	return tw.Flush()
}

func cmdMigrate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("migrate --database-url URL", "Apply the embedded PostgreSQL schema migrations and exit (serve also applies them on start).\nSafe to run while other instances start or serve.", &cfg, env, stderr, "database-url")
	if err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("migrate: --database-url (or BANKGATE_DATABASE_URL) is required; the SQLite store migrates itself on open")
	}
	if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func cmdAppsSet(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps set --app-key KEY [flags]", "Register an app's allowed web origins (for the Connect page's postMessage and frame-ancestors),\nredirect URIs, mobile bundle IDs and App Server URL. Repeat a flag to add several; values add to\nwhat is registered unless --clear is given.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	key := fs.String("app-key", "", "the app's appKey (required)")
	var origins, uris, bundles listFlag
	fs.Var(&origins, "allowed-origin", "a web origin such as https://app.example.com (repeatable)")
	fs.Var(&uris, "redirect-uri", "an absolute URL the Connect page may redirect to (repeatable)")
	fs.Var(&bundles, "bundle-id", "an iOS bundle ID, Android package or web identifier (repeatable)")
	serverURL := fs.String("server-url", "", "the app backend URL mobile SDKs forward calls to")
	clear := fs.Bool("clear", false, "remove the registered origins, redirect URIs and bundle IDs first")
	forwarding := fs.String("forwarding", "", "on or off: whether mobile SDKs may forward calls through the app backend by tokenID (POST /); new apps: on")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *key == "" {
		return errors.New("apps set: --app-key is required")
	}
	set := service.AppSettings{AllowedOrigins: origins, RedirectURIs: uris, BundleIDs: bundles, Clear: *clear}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "server-url" {
			set.ServerURL = serverURL
		}
	})
	switch *forwarding {
	case "":
	case "on", "off":
		on := *forwarding == "on"
		set.Forwarding = &on
	default:
		return fmt.Errorf("apps set: --forwarding is on or off, not %q", *forwarding)
	}
	app, err := a.svc.UpdateAppSettings(ctx, *key, set)
	if err != nil {
		return fmt.Errorf("apps set: %s", bankgate.ErrorMessage(err))
	}
	fwd := "off"
	if app.Forwarding {
		fwd = "on"
	}
	fmt.Fprintf(stdout, "App %q:\n  allowed origins: %s\n  redirect URIs:   %s\n  bundle IDs:      %s\n  server URL:      %s\n  forwarding:      %s\n",
		app.Name, strings.Join(app.AllowedOrigins, " "), strings.Join(app.RedirectURIs, " "), strings.Join(app.BundleIDs, " "), app.ServerURL, fwd)
	return nil
}

func cmdSandboxUsersAdd(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("sandbox users add --bank BANK --file FILE", "Add a sandbox user from a JSON fixture (format: see sandbox/doc.go and\nsandbox/testdata/fixture_example.json); a fixture for an existing username replaces it.\nRunning servers on the same store pick it up within a second.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	bankID := fs.String("bank", "", "the sandbox bank ID, e.g. SANDBOX_AE_ENBD (may be omitted when the fixture names its bank)")
	file := fs.String("file", "", "the fixture file (required)")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *file == "" {
		return errors.New("sandbox users add: --file is required")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("sandbox users add: %w", err)
	}
	if err := a.sandbox.AddFixture(ctx, *bankID, data); err != nil {
		return fmt.Errorf("sandbox users add: %w", err)
	}
	fmt.Fprintf(stdout, "sandbox user added from %s\n", *file)
	return nil
}
