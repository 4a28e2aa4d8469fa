package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
}

func cmdServe(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer, hooks *serveHooks) error {
	var cfg Config
	fs, err := newFlagSet("serve [flags]", "Start the bankgate server. On a store with no apps it creates an app named demo\nand prints its appKey and appSecret once, with a curl walkthrough.", &cfg, env, stderr,
		"addr", "data-dir", "database-url", "access-code-ttl", "secret-key-file", "sandbox-clock", "sandbox-fixtures", "sandbox-cache-mb", "memory-limit", "no-sandbox", "trusted-proxies", "rate-limits", "admin-addr", "admin-token-file", "webhook-workers", "webhook-timeout", "log-level", "access-log")
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
		Limits: &limits, RealNow: realNow, NoAccessLog: !cfg.AccessLog, Tracer: tracing.tracer()})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The dispatcher starts before the first request can enqueue an
	// event; it stops before the store closes, its attempts in flight
	// finished (each within the webhook timeout).
	wctx, wcancel := context.WithCancel(ctx)
	webhooksDone := startWebhooks(wctx, a, cfg, realNow, metrics.Registry, log)
	defer func() { wcancel(); <-webhooksDone }()
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
