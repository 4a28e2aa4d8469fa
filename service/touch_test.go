package service_test

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/sandbox"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
)

type touchCounting struct {
	bankgate.Store
	calls, ids atomic.Int64
}

func (c *touchCounting) TouchConnections(ctx context.Context, ids []string, at time.Time) error {
	// Counted once written: a waiter that sees the count may read the
	// rows (a background flush can still be writing when FlushTouches
	// returns).
	err := c.Store.TouchConnections(ctx, ids, at)
	c.calls.Add(1)
	c.ids.Add(int64(len(ids)))
	return err
}

// TestTouchesAreBatched: the last use of many connections is recorded by
// a few store calls, not one per connection (which at 100,000 active
// users was a transaction per request on the hot path), at most once per
// TouchInterval each, and none is lost at FlushTouches.
func TestTouchesAreBatched(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	counting := &touchCounting{Store: st}
	keys, _ := secret.NewKeyring(bytes.Repeat([]byte{3}, secret.KeySize))
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	s := service.New(service.Config{Store: counting, Keyring: keys, Now: clk.Now, CacheTTL: time.Hour,
		Connectors: []bank.Connector{sandbox.New(sandbox.Options{Now: clk.Now, Store: st})}})
	app, err := s.CreateApp(ctx, "touch", "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	type conn struct{ id, token, userSecret string }
	conns := make([]conn, n)
	for i := range conns {
		res, err := s.Login(ctx, bankgate.LoginRequest{AppKey: app.App.Key, BankID: "SANDBOX_AE_ENBD", Username: "touch" + strconv.Itoa(i), Password: "pass_good"})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := s.ExchangeToken(ctx, app.Secret, res.Connected.AccessCode, res.Connected.ConnectionID, false)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = conn{res.Connected.ConnectionID, ex.AccessToken, res.Connected.UserSecret}
	}
	use := func() {
		for _, c := range conns {
			if _, err := s.Authenticate(ctx, c.token, app.Secret, c.userSecret); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 3 { // three rounds within a minute: each connection noted once
		use()
		clk.Advance(time.Second)
	}
	if err := s.FlushTouches(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d store calls for %d IDs", what, counting.calls.Load(), counting.ids.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("every connection recorded once", func() bool { return counting.ids.Load() == n })
	if c := counting.calls.Load(); c > 3 {
		t.Errorf("%d connections used 3 times each took %d store calls", n, c)
	}
	for _, c := range conns {
		ci, err := st.ConnectionInfo(ctx, c.id)
		if err != nil || ci.LastUsedAt.IsZero() {
			t.Fatalf("connection %s: last use %v, %v", c.id, ci, err)
		}
	}
	// A minute later every connection is noted again, and flushed once.
	clk.Advance(service.TouchInterval)
	use()
	if err := s.FlushTouches(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor("every connection recorded again", func() bool { return counting.ids.Load() == 2*n })
}
