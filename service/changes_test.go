package service_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/sandbox"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
)

// grantCounting counts the grant reads that reach the store.
type grantCounting struct {
	bankgate.Store
	grants atomic.Int64
}

func (g *grantCounting) Grant(ctx context.Context, digest []byte) (*bankgate.Grant, error) {
	g.grants.Add(1)
	return g.Store.Grant(ctx, digest)
}

// TestCacheFollowsChanges: past the 500 ms cache bound a grant read
// before stays in use without a store read while the change feed marks
// nothing for it, and a delink or secret rotation made on another
// instance is still enforced within 500 ms. Before, every request of a
// token last used more than 500 ms ago read the store, which at 10,000
// active users was 40% of a balance request's CPU.
func TestCacheFollowsChanges(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	keys, _ := secret.NewKeyring(bytes.Repeat([]byte{3}, secret.KeySize))
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	counting := &grantCounting{Store: st}
	mk := func(s bankgate.Store) *service.Service {
		return service.New(service.Config{Store: s, Keyring: keys, Now: clk.Now,
			Connectors: []bank.Connector{sandbox.New(sandbox.Options{Now: clk.Now, Store: st})}})
	}
	a, b := mk(counting), mk(st)
	app, err := b.CreateApp(ctx, "follow", "")
	if err != nil {
		t.Fatal(err)
	}
	type conn struct{ token, userSecret string }
	login := func(user string) conn {
		res, err := b.Login(ctx, bankgate.LoginRequest{AppKey: app.App.Key, BankID: "SANDBOX_AE_ENBD", Username: user, Password: "pass_good"})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := b.ExchangeToken(ctx, app.Secret, res.Connected.AccessCode, res.Connected.ConnectionID, false)
		if err != nil {
			t.Fatal(err)
		}
		return conn{ex.AccessToken, res.Connected.UserSecret}
	}
	one, two := login("user_good"), login("user_mfa_free")
	auth := func(c conn, appSecret string) error {
		_, err := a.Authenticate(ctx, c.token, appSecret, c.userSecret)
		return err
	}
	for _, c := range []conn{one, two} {
		if err := auth(c, app.Secret); err != nil {
			t.Fatal(err)
		}
	}
	reads := counting.grants.Load()
	for range 5 {
		clk.Advance(10 * time.Second) // far past the 500 ms bound
		for _, c := range []conn{one, two} {
			if err := auth(c, app.Secret); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := counting.grants.Load() - reads; n != 0 {
		t.Fatalf("%d grant reads for unchanged tokens past the cache bound", n)
	}

	// A delink on b reaches a within the bound; the other token stays
	// cached.
	p, err := b.Authenticate(ctx, one.token, app.Secret, one.userSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Delink(ctx, p); err != nil {
		t.Fatal(err)
	}
	clk.Advance(500 * time.Millisecond)
	if err := auth(one, app.Secret); !bankgate.IsCode(err, bankgate.UserDelinked) {
		t.Fatalf("delinked on another instance, then %v", err)
	}
	reads = counting.grants.Load()
	if err := auth(two, app.Secret); err != nil || counting.grants.Load() != reads {
		t.Fatalf("an unchanged token was read again (%d reads) or refused: %v", counting.grants.Load()-reads, err)
	}

	// A secret rotated on b is refused by a within the bound.
	newSecret, err := b.RotateAppSecret(ctx, app.App.Key)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(500 * time.Millisecond)
	if err := auth(two, app.Secret); !bankgate.IsCode(err, bankgate.InvalidAppCredentials) {
		t.Fatalf("rotated on another instance, then %v", err)
	}
	if err := auth(two, newSecret); err != nil {
		t.Fatal(err)
	}
}
