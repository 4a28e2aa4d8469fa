package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	bghttp "github.com/bankgate/bankgate/http"
	"github.com/bankgate/bankgate/sandbox"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
	"github.com/bankgate/bankgate/sqlite"
)

// The http package's own tests run against a fake Service; the fuzz
// target and the benchmark here drive the handler over the real service,
// store and sandbox (no network), which only this package links anyway.

// newHandler returns the API handler (configured as cfg, if given, for
// its logger and tracer) over a real SQLite store and the sandbox, and one app with one connected user whose
// AccessCode field holds the exchanged access token.
func newHandler(tb testing.TB, cfg ...bghttp.Config) (*bghttp.Server, string, string, *bankgate.Connected) {
	tb.Helper()
	now := func() time.Time { return time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC) }
	srv, svc, appKey, appSecret := newHandlerAt(tb, now, cfg...)
	return srv, appKey, appSecret, connectUser(tb, svc, appKey, appSecret, "user_good")
}

// newHandlerAt returns the API handler over a real SQLite store and the
// sandbox, on the clock now, with its service and one app.
func newHandlerAt(tb testing.TB, now func() time.Time, cfg ...bghttp.Config) (*bghttp.Server, *service.Service, string, string) {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	keys, _ := secret.NewKeyring(bytes.Repeat([]byte{1}, secret.KeySize))
	// The sandbox as serve makes it, with its default --sandbox-cache-mb.
	cacheMB, err := strconv.Atoi(defaults["sandbox-cache-mb"])
	if err != nil {
		tb.Fatal(err)
	}
	sb := sandbox.New(sandboxOptions(cacheMB, 0, now, st))
	svc := service.New(service.Config{Store: st, Keyring: keys, Connectors: []bank.Connector{sb}, Now: now})
	c := bghttp.Config{}
	if len(cfg) > 0 {
		c = cfg[0] // the logger and tracer of a benchmark
	}
	c.Service, c.Limits = svc, &bghttp.Limits{}
	srv := bghttp.New(c)
	app, err := svc.CreateApp(context.Background(), "fuzz", "")
	if err != nil {
		tb.Fatal(err)
	}
	return srv, svc, app.App.Key, app.Secret
}

// connectUser logs the sandbox user in (pass_good) for the app and
// exchanges the code: the Connected's AccessCode field holds the access
// token.
func connectUser(tb testing.TB, svc *service.Service, appKey, appSecret, user string) *bankgate.Connected {
	tb.Helper()
	res, err := svc.Login(context.Background(), bankgate.LoginRequest{AppKey: appKey, BankID: "SANDBOX_AE_ENBD", Username: user, Password: "pass_good"})
	if err != nil {
		tb.Fatal(err)
	}
	ex, err := svc.ExchangeToken(context.Background(), appSecret, res.Connected.AccessCode, res.Connected.ConnectionID, false)
	if err != nil {
		tb.Fatal(err)
	}
	res.Connected.AccessCode = ex.AccessToken // reused as the bearer token
	return res.Connected
}

// FuzzServeHTTP sends arbitrary bodies to every route of a real server:
// every answer is a JSON envelope and none is a 5xx.
func FuzzServeHTTP(f *testing.F) {
	srv, appKey, appSecret, conn := newHandler(f)
	routes := srv.Routes()
	seed := func(route int, body string) { f.Add(uint8(route), []byte(body)) }
	seed(0, `{}`)
	seed(1, `{"appKey":"`+appKey+`","bankID":"SANDBOX_AE_ENBD","username":"user_good","password":"pass_good"}`)
	seed(2, `{"appSecret":"`+appSecret+`","userSecret":"`+conn.UserSecret+`","accountID":"x","fromDate":"2026-01-01","toDate":"Invalid date"}`)
	seed(3, `{"appSecret":"`+appSecret+`","userSecret":"`+conn.UserSecret+`","senderID":"a","amount":-1e308,"beneficiary":{"name":"<script>"}}`)
	seed(4, `{"action":"/data/accounts/get","tokenID":"`+conn.TokenID+`","appSecret":"`+appSecret+`","userSecret":"`+conn.UserSecret+`"}`)
	token := conn.AccessCode
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := "/v2" + routes[int(route)%len(routes)]
		if strings.Contains(path, "delink") {
			return // keep the connection usable for the other inputs
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 && !(w.Code == http.StatusNotImplemented && strings.Contains(w.Body.String(), `"NOT_IMPLEMENTED"`)) {
			t.Fatalf("%s %q: status %d %s", path, body, w.Code, w.Body.String())
		}
		var env map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s: not JSON: %q", path, w.Body.String())
		}
		if _, ok := env["success"].(bool); !ok {
			t.Fatalf("%s: no success boolean: %s", path, w.Body.String())
		}
	})
}

// discardWriter is a minimal ResponseWriter for benchmarks.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkBalanceRequest measures a whole balance/get request through
// the handler (no network): routing, body read, decode, bearer check,
// connector read, encoding, logging.
func BenchmarkBalanceRequest(b *testing.B) {
	srv, _, appSecret, conn := newHandler(b)
	benchBalance(b, srv, appSecret, conn)
}

// BenchmarkBalanceRequestLogged is BenchmarkBalanceRequest with the
// access log written (JSON, to io.Discard), as a server logs at info.
func BenchmarkBalanceRequestLogged(b *testing.B) {
	srv, _, appSecret, conn := newHandler(b, bghttp.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	benchBalance(b, srv, appSecret, conn)
}

// BenchmarkBalanceRequestTraced is BenchmarkBalanceRequest with tracing
// on: every request a sampled server span, sent to a batching exporter
// that drops them.
func BenchmarkBalanceRequestTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	srv, _, appSecret, conn := newHandler(b, bghttp.Config{Tracer: tp.Tracer("bench")})
	benchBalance(b, srv, appSecret, conn)
}

// BenchmarkBalanceRequestSpread is BenchmarkBalanceRequest as the server
// meets it: on the real clock (so cached grants, apps and sandbox states
// are past their staleness bound and checked against the change feed) and
// spread over 1,000 and over 100,000 users, each request the next user's
// in one shuffled order (so that users made one after the other, whose
// objects lie side by side, are not read one after the other). The
// 100,000-user case makes its users first, about a minute; -short runs
// only the 1,000.
func BenchmarkBalanceRequestSpread(b *testing.B) {
	for _, users := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			if users > 1000 && testing.Short() {
				b.Skip("100,000 users take about a minute to make")
			}
			benchBalanceSpread(b, users)
		})
	}
}

func benchBalanceSpread(b *testing.B, users int) {
	srv, svc, appKey, appSecret := newHandlerAt(b, time.Now)
	type req struct {
		r    *http.Request
		body []byte
	}
	reqs := make([]req, users)
	for i := range reqs {
		conn := connectUser(b, svc, appKey, appSecret, fmt.Sprintf("bench_%d", i))
		reqs[i].r, reqs[i].body = balanceRequest(b, srv, appSecret, conn)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	time.Sleep(600 * time.Millisecond) // past the 500 ms cache bound
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := &reqs[i]
		rd.Reset(q.body)
		q.r.Body = readCloser{rd}
		clear(w.h)
		srv.ServeHTTP(w, q.r)
		if i++; i == users {
			i = 0
		}
	}
}

// balanceRequest returns a balance/get request for conn's first account,
// and its body.
func balanceRequest(b *testing.B, srv *bghttp.Server, appSecret string, conn *bankgate.Connected) (*http.Request, []byte) {
	token := conn.AccessCode
	acctReq := httptest.NewRequest("POST", "/v2/data/accounts/get", bytes.NewReader([]byte(`{"appSecret":"`+appSecret+`","userSecret":"`+conn.UserSecret+`"}`)))
	acctReq.Header.Set("Authorization", "Bearer "+token)
	acctReq.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, acctReq)
	var accts struct {
		Accounts []struct {
			ID string `json:"id"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &accts); err != nil || len(accts.Accounts) == 0 {
		b.Fatalf("accounts: %s", rec.Body.String())
	}
	body := []byte(`{"appSecret":"` + appSecret + `","userSecret":"` + conn.UserSecret + `","accountID":"` + accts.Accounts[0].ID + `"}`)
	req := httptest.NewRequest("POST", "/v2/data/balance/get", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return req, body
}

func benchBalance(b *testing.B, srv *bghttp.Server, appSecret string, conn *bankgate.Connected) {
	req, body := balanceRequest(b, srv, appSecret, conn)
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(body)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = readCloser{rd}
		clear(w.h)
		srv.ServeHTTP(w, req)
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
