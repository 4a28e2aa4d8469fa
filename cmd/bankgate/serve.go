package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bankgate/bankgate"

	"github.com/bankgate/bankgate/connect"
	bghttp "github.com/bankgate/bankgate/http"
	"github.com/bankgate/bankgate/service"
)

// serveHooks lets tests observe the server: Ready is called with the
// listening address once it accepts connections.
type serveHooks struct {
	Ready func(addr string)
	Now   func() time.Time
	// AdminReady is called with the admin listener's address.
	AdminReady func(addr string)
	// Spans, when set, turns tracing on and receives every span as it
	// ends, whatever the OTEL_* environment says.
	Spans sdktrace.SpanExporter
	// TLSPoll, when set, is how often the TLS files are checked for
	// changes (default 10 s).
	TLSPoll time.Duration
	// WrapStore, when set, wraps the store the server uses (to inject
	// failures).
	WrapStore func(bankgate.Store) bankgate.Store
	// ProbeEvery, when set, is how often a store that refused a write is
	// probed (default 2 s).
	ProbeEvery time.Duration
}

// serveUsage is serve's help text.
const serveUsage = "Start the bankgate server. On a store with no apps it creates an app named demo\nand prints its appKey and appSecret once, with a curl walkthrough."

// serveSettings are the settings serve takes (and a config file may set).
var serveSettings = []string{"config", "addr", "data-dir", "database-url", "access-code-ttl", "secret-key-file", "sandbox-clock", "sandbox-fixtures", "sandbox-cache-mb", "memory-limit", "no-sandbox", "banks-file", "public-url", "trusted-proxies", "rate-limits", "admin-addr", "admin-token-file", "webhook-workers", "webhook-timeout", "log-level", "access-log", "log-format",
	"tls-cert-file", "tls-key-file", "admin-tls-cert-file", "admin-tls-key-file", "read-header-timeout", "read-timeout", "write-timeout", "idle-timeout", "shutdown-drain", "shutdown-grace", "cache-staleness"}

// parseServe parses serve's flags and applies the --config file; it
// returns the settings the file set.
func parseServe(name string, args []string, env func(string) string, stderr io.Writer) (Config, *flag.FlagSet, map[string]bool, error) {
	return parseServeWith(name, serveUsage, args, env, stderr, nil)
}

// parseServeWith is parseServe for a command that takes serve's settings
// and flags of its own, which extra adds (they are keys of its config file
// too).
func parseServeWith(name, usage string, args []string, env func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (Config, *flag.FlagSet, map[string]bool, error) {
	var cfg Config
	fs, err := newFlagSet(name, usage, &cfg, env, stderr, serveSettings...)
	if err != nil {
		return cfg, nil, nil, err
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, nil, err
	}
	var fromFile map[string]bool
	if cfg.ConfigFile != "" {
		if fromFile, err = applyConfigFile(fs, cfg.ConfigFile, env); err != nil {
			return cfg, nil, nil, err
		}
	}
	return cfg, fs, fromFile, cfg.validateServe()
}

// validateServe checks the settings only serve uses.
func (c *Config) validateServe() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-header-timeout", c.ReadHeaderTimeout}, {"read-timeout", c.ReadTimeout}, {"write-timeout", c.WriteTimeout}, {"idle-timeout", c.IdleTimeout}, {"shutdown-drain", c.ShutdownDrain}, {"shutdown-grace", c.ShutdownGrace}} {
		if d.v < 0 {
			return fmt.Errorf("--%s must not be negative", d.name)
		}
	}
	if c.CacheStaleness <= 0 {
		return errors.New("--cache-staleness must be positive")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("--tls-cert-file and --tls-key-file go together: set both or neither")
	}
	if (c.AdminTLSCertFile == "") != (c.AdminTLSKeyFile == "") {
		return errors.New("--admin-tls-cert-file and --admin-tls-key-file go together: set both or neither")
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return fmt.Errorf("--log-format: %q is not json or text", c.LogFormat)
	}
	return nil
}

func cmdServe(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer, hooks *serveHooks) error {
	cfg, fs, _, err := parseServe("serve [flags]", args, env, stderr)
	if err != nil {
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
	log, err := newFormatLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	if err != nil {
		return err
	}
	proxies, err := cfg.proxies()
	if err != nil {
		return err
	}
	var certs, adminCerts *certReloader
	if cfg.TLSCertFile != "" {
		if certs, err = newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log); err != nil {
			return err
		}
	}
	if cfg.AdminTLSCertFile != "" {
		if adminCerts, err = newCertReloader(cfg.AdminTLSCertFile, cfg.AdminTLSKeyFile, log.With("listener", "admin")); err != nil {
			return err
		}
	}
	tlsPoll := 10 * time.Second
	if hooks != nil && hooks.TLSPoll > 0 {
		tlsPoll = hooks.TLSPoll
	}
	// Each reloader hears SIGHUP on its own channel.
	for _, r := range []*certReloader{certs, adminCerts} {
		if r != nil {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go r.watch(ctx, hup, tlsPoll)
		}
	}
	var now func() time.Time
	var spans sdktrace.SpanExporter
	if hooks != nil {
		now, spans = hooks.Now, hooks.Spans
	}
	tracing, err := startTracing(ctx, env, spans, log)
	if err != nil {
		return err
	}
	// Spans still buffered are flushed last, after the listeners stopped.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		tracing.shutdown(sctx, log)
	}()
	// Rate limits run on real time: the base clock, never the sandbox's
	// virtual one.
	realNow := now
	if realNow == nil {
		realNow = time.Now
	}
	if hooks != nil {
		cfg.wrapStore = hooks.WrapStore
	}
	a, err := openTraced(ctx, cfg, log, now, tracing.tracer())
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
		base := "http://" + addr
		if certs != nil {
			base = "https://" + addr
		}
		printWalkthrough(stdout, base, demo, a.svc)
	} else if len(apps) == 0 {
		fmt.Fprintln(stdout, "No apps yet: create one with `bankgate apps create --name NAME` (with the same --data-dir or --database-url).")
	}

	metrics := newMetrics(a.store)
	adm, err := startAdmin(ctx, a, cfg, env, metrics, log, stdout, adminCerts)
	if err != nil {
		ln.Close()
		return err
	}
	if hooks != nil && hooks.AdminReady != nil && adm != nil {
		hooks.AdminReady(adm.addr)
	}
	// draining is set at shutdown: /readyz answers 503 from then on.
	var draining atomic.Bool
	probeEvery := 2 * time.Second
	if hooks != nil && hooks.ProbeEvery > 0 {
		probeEvery = hooks.ProbeEvery
	}
	health := newStoreHealth(a.store, log, probeEvery)
	go health.run(ctx)
	ready := func(ctx context.Context) error {
		if draining.Load() {
			return errDraining
		}
		return health.ready(ctx)
	}
	handler := bghttp.New(bghttp.Config{Service: a.svc, Logger: log, Unavailable: health.unavailable, Metrics: metrics,
		Pages: connect.New(connect.Config{Apps: a.svc, Logger: log}), TrustedProxies: proxies,
		Limits: &limits, RealNow: realNow, NoAccessLog: !cfg.AccessLog, Tracer: tracing.tracer(), Ready: ready})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The dispatcher starts before the first request can enqueue an
	// event; it stops before the store closes, its attempts in flight
	// finished (each within the webhook timeout).
	wctx, wcancel := context.WithCancel(ctx)
	webhooksDone := startWebhooks(wctx, a, cfg, realNow, metrics.Registry, log)
	defer func() { wcancel(); <-webhooksDone }()
	scheme := "http"
	errc := make(chan error, 1)
	if certs != nil {
		scheme = "https"
		srv.TLSConfig = certs.tlsConfig()
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	go sweep(ctx, a.svc, log)
	storeKind := "sqlite"
	if cfg.DatabaseURL != "" {
		storeKind = "postgres"
	}
	log.Info("bankgate listening", "addr", addr, "scheme", scheme, "dataDir", cfg.DataDir, "store", storeKind, "memoryLimit", memLimit)
	fmt.Fprintf(stdout, "bankgate listening on %s://%s\n", scheme, addr)
	if hooks != nil && hooks.Ready != nil {
		hooks.Ready(addr)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// The drain: /readyz fails so that a load balancer takes this instance
	// out, while requests (new ones too) are still served; connections
	// are not kept alive, so clients move on.
	draining.Store(true)
	if cfg.ShutdownDrain > 0 {
		log.Info("draining: /readyz answers 503 while requests are still served", "drain", cfg.ShutdownDrain)
		srv.SetKeepAlivesEnabled(false)
		t := time.NewTimer(cfg.ShutdownDrain)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return err
		}
	}
	log.Info("shutting down; finishing in-flight requests", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
	defer cancel()
	defer adm.shutdown(sctx)
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: requests still in flight after the %s grace period were cut off: %w", cfg.ShutdownGrace, err)
	}
	if err := a.svc.FlushTouches(sctx); err != nil {
		log.Warn("record connections' last use", "err", err)
	}
	return nil
}

// errDraining is /readyz's reason during the shutdown drain.
var errDraining = errors.New("shutting down")

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

func printWalkthrough(w io.Writer, base string, demo *service.NewApp, svc *service.Service) {
	bankID := "SANDBOX_AE_ENBD"
	if banks, err := svc.Banks(context.Background(), demo.App.Key, nil); err == nil && len(banks) > 0 {
		bankID = banks[0].ID
	}
	fmt.Fprintf(w, `
Created the first app, "demo". Its appSecret is shown only this once; keep it safe.

  appKey:    %s
  appSecret: %s

Try the whole flow with curl (paste into a POSIX shell):

BG=%s
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

`, demo.App.Key, demo.Secret, base, demo.App.Key, demo.Secret, bankID)
}
