package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/internal/shorttest"
	"github.com/bankgate/bankgate/postgres"
	"github.com/bankgate/bankgate/postgres/pgtest"
	"github.com/bankgate/bankgate/storetest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Each conformance case migrates a schema of its own, mostly round
	// trips: four at a time take 3 s instead of 13 s under -short, and
	// their pools (8 connections each) stay well inside PostgreSQL's
	// default 100 beside cmd/bankgate's servers.
	shorttest.Parallel(4)
	os.Exit(m.Run())
}

func testURL(t *testing.T) string    { t.Helper(); return pgtest.BaseURL(t) }
func mustSchema(t *testing.T) string { t.Helper(); return pgtest.SchemaURL(t) }

// mustOpen opens a store in a fresh schema; the caller (or the suite)
// closes it.
func mustOpen(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), mustSchema(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.RunTests(t, func(t *testing.T) bankgate.Store { return mustOpen(t) })
}

// TestConcurrentOpen starts four instances on one empty schema at once; the
// migrations must apply exactly once and every instance must work.
func TestConcurrentOpen(t *testing.T) {
	u := mustSchema(t)
	ctx := context.Background()
	const n = 4
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = postgres.Open(ctx, u)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	for _, s := range stores {
		t.Cleanup(func() { s.Close() })
	}
	for i, s := range stores {
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping #%d: %v", i, err)
		}
		a := storetest.MustCreateApp(t, s, fmt.Sprint("app", i))
		for j, r := range stores {
			if got, err := r.AppByKey(ctx, a.Key); err != nil || got.ID != a.ID {
				t.Fatalf("store #%d AppByKey of app made by #%d = %+v, %v", j, i, got, err)
			}
		}
	}
	// Every migration is recorded once; opening again is a no-op.
	var versions, distinct int
	err := stores[0].Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&versions, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if versions == 0 || versions != distinct {
		t.Fatalf("schema_migrations holds %d rows for %d versions", versions, distinct)
	}
	if err := postgres.Migrate(ctx, u); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
}

// TestUnreachable checks that an outage fails fast and is reported as
// unavailable, at Open and, once the database goes away, at every call.
func TestUnreachable(t *testing.T) {
	testURL(t)
	ctx := context.Background()
	t.Run("Open", func(t *testing.T) {
		start := time.Now()
		s, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable")
		if err == nil {
			s.Close()
			t.Fatal("Open of a closed port succeeded")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Open took %v, want < 5s", d)
		}
		if !postgres.IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = false, want true", err)
		}
		if err := postgres.Migrate(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable"); !postgres.IsUnavailable(err) {
			t.Errorf("Migrate: IsUnavailable(%v) = false, want true", err)
		}
	})
	t.Run("DatabaseGone", func(t *testing.T) {
		// Reach the database through a proxy, then cut the proxy: pooled
		// connections die and new ones are refused, and every call must
		// fail fast and unavailable.
		u, err := url.Parse(mustSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		p := startProxy(t, u.Host)
		u.Host = p.addr()
		s, err := postgres.Open(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		a := storetest.MustCreateApp(t, s, "gone")
		p.stop()
		start := time.Now()
		if err := s.Ping(ctx); !postgres.IsUnavailable(err) {
			t.Errorf("Ping: IsUnavailable(%v) = false, want true", err)
		}
		if _, err := s.App(ctx, a.ID); !postgres.IsUnavailable(err) {
			t.Errorf("App: IsUnavailable(%v) = false, want true", err)
		}
		if _, err := s.Grant(ctx, []byte("x")); !postgres.IsUnavailable(err) {
			t.Errorf("Grant: IsUnavailable(%v) = false, want true", err)
		}
		if err := s.AppendEvent(ctx, "s", 1, time.Now(), []byte("x")); !postgres.IsUnavailable(err) {
			t.Errorf("AppendEvent: IsUnavailable(%v) = false, want true", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("calls took %v, want < 5s", d)
		}
	})
}

// proxy forwards TCP connections to a target until stopped.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(p.stop)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			go func() { io.Copy(d, c); d.Close() }()
			go func() { io.Copy(c, d); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestCancelledContext checks that a caller whose context is already done
// gets its error back, not an unavailable store, and that the pool keeps
// its connections.
func TestCancelledContext(t *testing.T) {
	s := mustOpen(t)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.App(ctx, "x")
	if err == nil || postgres.IsUnavailable(err) {
		t.Fatalf("App with cancelled context = %v, want context error", err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
