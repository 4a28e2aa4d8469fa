package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP connections to a target and can fail in two ways.
// Cut closes every connection it carries and stops listening, so new
// connections are refused, as when the database goes down; Resume
// listens again on the same address. Pause stops moving bytes while
// keeping every connection open and still accepting new ones, as in a
// network partition; Unpause delivers what was held back.
type cutProxy struct {
	t      *testing.T
	target string
	addr   string

	mu     sync.Mutex
	ln     net.Listener // nil while cut
	conns  map[net.Conn]bool
	paused bool
	cond   *sync.Cond
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.serve(ln)
	t.Cleanup(func() {
		p.Unpause()
		p.Cut()
	})
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			d, err := net.DialTimeout("tcp", p.target, 3*time.Second)
			if err != nil {
				c.Close()
				return
			}
			p.mu.Lock()
			if p.ln != ln { // cut meanwhile
				p.mu.Unlock()
				c.Close()
				d.Close()
				return
			}
			p.conns[c], p.conns[d] = true, true
			p.mu.Unlock()
			go p.pipe(d, c)
			go p.pipe(c, d)
		}()
	}
}

// pipe copies src to dst, holding bytes back while the proxy is paused.
func (p *cutProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.paused {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut drops every current connection and refuses new ones.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Resume accepts connections again on the same address.
func (p *cutProxy) Resume() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
}

// Pause stops forwarding bytes in both directions; connections stay open.
func (p *cutProxy) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

// Unpause forwards again, held bytes first.
func (p *cutProxy) Unpause() {
	p.mu.Lock()
	p.paused = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// sample is one request made under load.
type sample struct {
	kind   string // login, exchange, accounts, readyz
	worker int    // the worker that made it; -1 for the /readyz poller
	*result
}

func (s sample) end() time.Time { return s.Start.Add(s.Duration) }

// loadGen drives a server with workers that each loop login → exchange →
// accounts read, and one poller of /readyz every 20 ms, recording every
// request.
type loadGen struct {
	mu      sync.Mutex
	samples []sample
	workers int
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

func startLoad(t *testing.T, base, appKey, appSecret string, workers int) *loadGen {
	g := &loadGen{stop: make(chan struct{}), workers: workers}
	// The client's timeout is far above any bound asserted, so a hang is
	// seen as a slow answer rather than cut short.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	record := func(kind string, worker int, r *result) *result {
		g.mu.Lock()
		g.samples = append(g.samples, sample{kind, worker, r})
		g.mu.Unlock()
		return r
	}
	for w := range workers {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			var token, userSecret string
			for i := 0; ; i++ {
				select {
				case <-g.stop:
					return
				default:
				}
				lr := record("login", w, try(client, base, "/v2/connect/login", "", map[string]any{
					"appKey": appKey, "bankID": sandboxBank, "username": fmt.Sprintf("load_%d_%d", w, i), "password": "pass_good"}))
				code, conn := lr.str("accessCode"), lr.str("connectionID")
				if code == "" {
					// The login failed: exchange a code nobody issued, so
					// the call still needs the database, and no real code
					// is ever tried twice.
					b := make([]byte, 32)
					rand.Read(b)
					code, conn = "bgac_"+base64.RawURLEncoding.EncodeToString(b), strings.Repeat("0", 40)
				}
				er := record("exchange", w, try(client, base, "/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": code, "connectionID": conn}))
				if er.Status == 200 {
					token, userSecret = er.str("accessToken"), lr.str("userSecret")
				}
				if token != "" {
					record("accounts", w, try(client, base, "/v2/data/accounts/get", token, map[string]any{"appSecret": appSecret, "userSecret": userSecret}))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			select {
			case <-g.stop:
				return
			default:
			}
			r := &result{Start: time.Now()}
			res, err := client.Get(base + "/readyz")
			if err != nil {
				r.Err = err
			} else {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r.Status, r.Raw = res.StatusCode, string(b)
			}
			r.Duration = time.Since(r.Start)
			record("readyz", -1, r)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(g.Stop)
	return g
}

// Stop ends the load and waits for requests in flight.
func (g *loadGen) Stop() {
	g.once.Do(func() {
		close(g.stop)
		g.wg.Wait()
	})
}

// warmUp waits until the load has been served: a login, an exchange and
// an account read answered 200.
func (g *loadGen) warmUp(t *testing.T) {
	t.Helper()
	if !g.waitAnswered(time.Time{}, 10*time.Second, []string{"login", "exchange", "accounts"}, http.StatusOK) {
		t.Fatal("no successful login, exchange and account read within 10 s")
	}
}

// afterRecovery lets every kind of request that started after the
// recovery be answered (at most 5 s), so that a late 503 would be seen.
func (g *loadGen) afterRecovery(tReady, tFlow time.Time) {
	since := tReady
	if tFlow.After(since) {
		since = tFlow
	}
	if !since.IsZero() {
		g.waitAnswered(since, 5*time.Second, []string{"login", "exchange", "accounts", "readyz"})
	}
}

// waitAnswered waits at most limit until, for each kind, a request
// started at or after since has been answered with a status in statuses
// (any status when statuses is empty). It reports whether they all were.
func (g *loadGen) waitAnswered(since time.Time, limit time.Duration, kinds []string, statuses ...int) bool {
	deadline := time.Now().Add(limit)
	for {
		g.mu.Lock()
		seen := map[string]bool{}
		for _, s := range g.samples {
			if !s.Start.Before(since) && (len(statuses) == 0 || slices.Contains(statuses, s.Status)) {
				seen[s.kind] = true
			}
		}
		g.mu.Unlock()
		all := true
		for _, k := range kinds {
			all = all && seen[k]
		}
		if all {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failureSpan holds a database failure begun at tFail, at most limit,
// until each kind of request started after it has been refused with 503
// and every worker has been answered after it: so the requests in flight
// when it began have ended too, each by its store deadline at worst (a
// write waits out its 10 s), and the worst case is seen.
func (g *loadGen) failureSpan(t *testing.T, tFail time.Time, limit time.Duration) {
	t.Helper()
	start := time.Now()
	if !g.waitAnswered(tFail, limit, []string{"login", "exchange", "readyz"}, http.StatusServiceUnavailable) {
		t.Fatalf("not every kind of request answered 503 within %v of the failure", limit)
	}
	for {
		g.mu.Lock()
		done := map[int]bool{}
		for _, s := range g.samples {
			if !s.end().Before(tFail) && s.worker >= 0 {
				done[s.worker] = true
			}
		}
		g.mu.Unlock()
		if len(done) == g.workers {
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%d of %d workers answered within %v of the failure", len(done), g.workers, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRecovered waits at most limit for a 200 from /readyz and a
// successful exchange, both started at or after since, and returns when
// each was answered (zero if not within limit).
func (g *loadGen) waitRecovered(since time.Time, limit time.Duration) (ready, flow time.Time) {
	deadline := since.Add(limit)
	for time.Now().Before(deadline) && (ready.IsZero() || flow.IsZero()) {
		time.Sleep(20 * time.Millisecond)
		g.mu.Lock()
		for _, s := range g.samples {
			if s.Start.Before(since) || s.Status != 200 {
				continue
			}
			if s.kind == "readyz" && (ready.IsZero() || s.end().Before(ready)) {
				ready = s.end()
			}
			if s.kind == "exchange" && (flow.IsZero() || s.end().Before(flow)) {
				flow = s.end()
			}
		}
		g.mu.Unlock()
	}
	return ready, flow
}

// outageStats are the measured numbers of one outage.
type outageStats struct {
	firstAPI503, firstReady503 time.Duration // after the failure began
	maxLatency                 time.Duration // of requests overlapping the failure
	maxKind                    string
	over5s                     int // requests overlapping the failure slower than 5 s
	servedFromCache            int // account reads answered 200 during the failure
	late503                    int // 503s to requests started after recovery
}

// checkOutage asserts the rules every request made around a database
// failure from tFail to tHeal follows, and returns the measured numbers:
// no transport error, no 500, every answer within maxLatency; every 503 a
// clean TEMPORARILY_UNAVAILABLE envelope without internal detail; logins,
// exchanges and /readyz started and answered within the failure are 503;
// account reads within it are 200 (from the grant cache) or 503.
func checkOutage(t *testing.T, samples []sample, tFail, tHeal, tRecovered time.Time, maxLatency time.Duration) outageStats {
	t.Helper()
	sort.Slice(samples, func(i, j int) bool { return samples[i].Start.Before(samples[j].Start) })
	var st outageStats
	var firstAPI503, firstReady503 time.Time
	counts := map[string]map[string]int{}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, s := range samples {
		phase := "1-before"
		switch {
		case !s.end().Before(tFail) && s.Start.Before(tHeal):
			phase = "2-during"
		case !s.Start.Before(tHeal):
			phase = "3-after"
		}
		k := s.kind + " " + phase
		if counts[k] == nil {
			counts[k] = map[string]int{}
		}
		counts[k][fmt.Sprint(s.Status)]++
		if s.Err != nil {
			fail("%s (%s) started %v after the failure: %v", s.kind, phase, s.Start.Sub(tFail).Round(time.Millisecond), s.Err)
			continue
		}
		if s.Duration >= maxLatency {
			fail("%s (%s) took %v, want < %v", s.kind, phase, s.Duration.Round(time.Millisecond), maxLatency)
		}
		if s.Status == 500 {
			fail("%s (%s) answered 500: %s", s.kind, phase, s.Raw)
		}
		if phase == "2-during" {
			if s.Duration > st.maxLatency {
				st.maxLatency, st.maxKind = s.Duration, s.kind
			}
			if s.Duration >= 5*time.Second {
				st.over5s++
			}
		}
		within := !s.Start.Before(tFail) && !s.end().After(tHeal)
		if s.kind == "readyz" {
			if s.Status == 503 && !s.end().Before(tFail) && (firstReady503.IsZero() || s.end().Before(firstReady503)) {
				firstReady503 = s.end()
			}
			if within && s.Status != 503 {
				fail("/readyz during the failure = %d %s, want 503", s.Status, s.Raw)
			}
			continue
		}
		if s.Status == 503 {
			if p := envelopeProblem(s.result, 503, "TEMPORARILY_UNAVAILABLE"); p != "" {
				fail("%s (%s): %s", s.kind, phase, p)
			} else if msg := s.str("msg"); internalDetail.MatchString(msg) {
				fail("%s: 503 msg leaks internal detail: %q", s.kind, msg)
			}
			if !s.end().Before(tFail) && (firstAPI503.IsZero() || s.end().Before(firstAPI503)) {
				firstAPI503 = s.end()
			}
			if !tRecovered.IsZero() && s.Start.After(tRecovered) {
				st.late503++
			}
		}
		switch {
		case within && s.kind == "accounts" && s.Status == 200:
			st.servedFromCache++ // a grant cached < 500 ms before needs no database
		case within && s.Status != 503:
			fail("%s during the failure = %d %s, want 503 TEMPORARILY_UNAVAILABLE", s.kind, s.Status, s.Raw)
		case s.Status == 200 || s.Status == 503:
		case s.kind == "exchange" && s.Status == 401 && s.str("type") == "INVALID_ACCESS_CODE":
			// the made-up code of a failed login, once the database answers
		default:
			fail("%s (%s) = %d %s", s.kind, phase, s.Status, s.Raw)
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var summary strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&summary, "\n  %-18s %v", k, counts[k])
	}
	t.Logf("%d requests by kind, phase and status:%s", len(samples), summary.String())
	if counts["login 1-before"]["200"] == 0 || counts["exchange 1-before"]["200"] == 0 || counts["accounts 1-before"]["200"] == 0 {
		t.Fatalf("no successful traffic before the failure: %v", counts)
	}
	if firstAPI503.IsZero() || firstReady503.IsZero() {
		t.Fatalf("no 503 after the failure (API %v, readyz %v)", firstAPI503, firstReady503)
	}
	st.firstAPI503, st.firstReady503 = firstAPI503.Sub(tFail), firstReady503.Sub(tFail)
	return st
}

// startOutageServer starts an in-process server on the real clock whose
// database connections go through a cutProxy, with an app registered.
func startOutageServer(t *testing.T) (ts *testServer, px *cutProxy, appKey, appSecret string) {
	t.Helper()
	dbURL := pgSchemaURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	px = startCutProxy(t, u.Host)
	u.Host = px.addr
	key := newKeyArg()
	ts = startRealClockServer(t, "--database-url", u.String(), "--secret-key-file", key)
	appKey, appSecret = pgNewApp(t, "outage", dbURL, t.TempDir(), key)
	return ts, px, appKey, appSecret
}

// TestPostgresOutage puts a proxy between a bankgate server and
// PostgreSQL, drives logins, exchanges and account reads, and cuts the
// proxy (connections closed, new ones refused): calls that need the
// database must fail within 5 s with 503 TEMPORARILY_UNAVAILABLE in a
// clean envelope, /readyz must say 503, and nothing may be a 500. When the
// proxy resumes, the same server must recover within 5 s without a
// restart, and the outage must show in the metrics.
func TestPostgresOutage(t *testing.T) {
	skipSlow(t)
	ts, px, appKey, appSecret := startOutageServer(t)
	load := startLoad(t, ts.URL, appKey, appSecret, 4)

	load.warmUp(t)
	tCut := time.Now()
	px.Cut()
	load.failureSpan(t, tCut, 10*time.Second)
	tResume := time.Now()
	px.Resume()
	tReady, tFlow := load.waitRecovered(tResume, 5*time.Second)
	load.afterRecovery(tReady, tFlow)
	load.Stop()

	st := checkOutage(t, load.samples, tCut, tResume, tFlow, 5*time.Second)
	t.Logf("outage (connections cut, new ones refused, %v): first API 503 %v after the cut, first /readyz 503 %v after; slowest answer during the outage %v (%s); %d account reads served from the grant cache meanwhile",
		tResume.Sub(tCut).Round(time.Millisecond), st.firstAPI503.Round(time.Millisecond), st.firstReady503.Round(time.Millisecond), st.maxLatency.Round(time.Millisecond), st.maxKind, st.servedFromCache)
	if tReady.IsZero() || tFlow.IsZero() {
		t.Fatalf("not recovered within 5 s of the resume: /readyz 200 at %v, exchange success at %v", tReady, tFlow)
	}
	t.Logf("recovery: /readyz 200 %v after the resume, first login+exchange success %v after (same server, no restart)",
		tReady.Sub(tResume).Round(time.Millisecond), tFlow.Sub(tResume).Round(time.Millisecond))
	if st.late503 > 0 {
		t.Errorf("%d requests started after recovery answered 503", st.late503)
	}

	// The server is usable without a restart.
	usr := ts.login(appKey, "user_good")
	ts.exchange(appSecret, usr)
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, usr, nil))

	// The outage is visible in the metrics.
	m := getMetrics(t, ts.AdminURL)
	checkPostgresMetrics(t, m)
	storeErrs, _ := metricValue(m, "bankgate_store_errors_total")
	if storeErrs == 0 {
		t.Errorf("bankgate_store_errors_total is 0 after an outage")
	}
	unavailable := 0.0
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "bankgate_http_requests_total{") && strings.Contains(line, `result="TEMPORARILY_UNAVAILABLE"`) {
			v, _ := metricValue(line, "bankgate_http_requests_total")
			unavailable += v
		}
	}
	if unavailable == 0 {
		t.Errorf(`bankgate_http_requests_total{result="TEMPORARILY_UNAVAILABLE"} is 0 after an outage`)
	}
	t.Logf("metrics after the outage: bankgate_store_errors_total %v, bankgate_http_requests_total{result=\"TEMPORARILY_UNAVAILABLE\"} %v", storeErrs, unavailable)
	// An outage is a warning, never an internal error.
	if strings.Contains(ts.Stderr.String(), `"msg":"internal error"`) {
		t.Errorf("the server logged an internal error during the outage:\n%s", tail(ts.Stderr.String(), 4000))
	}
}

// TestPostgresPartition is TestPostgresOutage with a network partition
// instead: the proxy stops moving bytes but keeps every connection open
// and accepts new ones, so nothing is refused and only the store's own
// deadlines (3 s to connect, 5 s per read, 10 s per write, 2 s per ping)
// end the waits. Every answer must still be a clean 503 (or a cached 200)
// within 12 s, never a 500 or a hang, and the server must recover within
// 5 s of the partition healing.
func TestPostgresPartition(t *testing.T) {
	skipSlow(t)
	ts, px, appKey, appSecret := startOutageServer(t)
	load := startLoad(t, ts.URL, appKey, appSecret, 4)

	load.warmUp(t)
	tPause := time.Now()
	px.Pause()
	// Held until logins and exchanges that began within it are refused:
	// their writes wait out the 10 s write deadline, so the worst case is
	// seen. A worker whose request was in flight when the partition began
	// waits out one deadline before it starts the request that must be
	// refused, which waits out another: up to twice the 10 s (each answer
	// is still checked to take at most 12 s, below).
	load.failureSpan(t, tPause, 30*time.Second)
	tHeal := time.Now()
	px.Unpause()
	tReady, tFlow := load.waitRecovered(tHeal, 5*time.Second)
	load.afterRecovery(tReady, tFlow)
	load.Stop()

	st := checkOutage(t, load.samples, tPause, tHeal, tFlow, 12*time.Second)
	t.Logf("partition (bytes held, connections open, %v): first API 503 %v after it began, first /readyz 503 %v after; slowest answer %v (%s); %d answers took ≥ 5 s; %d account reads served from the grant cache",
		tHeal.Sub(tPause).Round(time.Millisecond), st.firstAPI503.Round(time.Millisecond), st.firstReady503.Round(time.Millisecond), st.maxLatency.Round(time.Millisecond), st.maxKind, st.over5s, st.servedFromCache)
	if tReady.IsZero() || tFlow.IsZero() {
		t.Fatalf("not recovered within 5 s of the partition healing: /readyz 200 at %v, exchange success at %v", tReady, tFlow)
	}
	t.Logf("recovery: /readyz 200 %v after healing, first login+exchange success %v after (same server, no restart)",
		tReady.Sub(tHeal).Round(time.Millisecond), tFlow.Sub(tHeal).Round(time.Millisecond))
	if st.late503 > 0 {
		t.Errorf("%d requests started after recovery answered 503", st.late503)
	}
	usr := ts.login(appKey, "user_good")
	ts.exchange(appSecret, usr)
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, usr, nil))
	if strings.Contains(ts.Stderr.String(), `"msg":"internal error"`) {
		t.Errorf("the server logged an internal error during the partition:\n%s", tail(ts.Stderr.String(), 4000))
	}
}
