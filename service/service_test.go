package service_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/sandbox"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// twoInstances returns two services on one store, as two bankgate
// instances on one database, sharing a clock.
func twoInstances(t *testing.T) (*service.Service, *service.Service, *clock) {
	t.Helper()
	a, b, clk, _ := twoInstancesOn(t)
	return a, b, clk
}

// twoInstancesOn is twoInstances that also returns the store they share.
func twoInstancesOn(t *testing.T) (*service.Service, *service.Service, *clock, bankgate.Store) {
	t.Helper()
	st := openStore(t)
	keys, _ := secret.NewKeyring(bytes.Repeat([]byte{3}, secret.KeySize))
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	mk := func() *service.Service {
		return service.New(service.Config{Store: st, Keyring: keys, Now: clk.Now,
			Connectors: []bank.Connector{sandbox.New(sandbox.Options{Now: clk.Now, Store: st})}})
	}
	return mk(), mk(), clk, st
}

// TestCacheBound: a delink or secret rotation made through one instance is
// enforced by another within the 500 ms cache bound, and at once by the
// instance that made it.
func TestCacheBound(t *testing.T) {
	ctx := context.Background()
	a, b, clk := twoInstances(t)
	app, err := a.CreateApp(ctx, "bound", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Login(ctx, bankgate.LoginRequest{AppKey: app.App.Key, BankID: "SANDBOX_AE_ENBD", Username: "user_good", Password: "pass_good"})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Connected
	ex, err := a.ExchangeToken(ctx, app.Secret, c.AccessCode, c.ConnectionID, false)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(s *service.Service, appSecret string) error {
		_, err := s.Authenticate(ctx, ex.AccessToken, appSecret, c.UserSecret)
		return err
	}
	for _, s := range []*service.Service{a, b} {
		if err := auth(s, app.Secret); err != nil {
			t.Fatalf("fresh token refused: %v", err)
		}
	}
	bySecret := func(s *service.Service, appSecret string) error {
		_, err := s.AppBySecret(ctx, appSecret)
		return err
	}
	for _, s := range []*service.Service{a, b} {
		if err := bySecret(s, app.Secret); err != nil { // now cached
			t.Fatalf("AppBySecret: %v", err)
		}
	}
	// Rotate through b: b refuses the old secret at once; a within 500 ms.
	keyApp, _ := b.AppByKey(ctx, app.App.Key)
	newSecret, err := b.RotateAppSecret(ctx, keyApp.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !bankgate.IsCode(auth(b, app.Secret), bankgate.InvalidAppCredentials) || !bankgate.IsCode(bySecret(b, app.Secret), bankgate.InvalidAppCredentials) {
		t.Fatal("the rotating instance still accepts the old secret")
	}
	if err := auth(a, app.Secret); err != nil {
		t.Fatalf("within the bound the other instance may still accept it: %v", err)
	}
	if err := bySecret(a, app.Secret); err != nil {
		t.Fatalf("within the bound the other instance may still accept it: %v", err)
	}
	clk.Advance(500 * time.Millisecond)
	if !bankgate.IsCode(auth(a, app.Secret), bankgate.InvalidAppCredentials) || !bankgate.IsCode(bySecret(a, app.Secret), bankgate.InvalidAppCredentials) {
		t.Fatal("old secret accepted past the 500 ms bound")
	}
	if err := bySecret(a, newSecret); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	// Delink through a: a refuses at once; b within 500 ms.
	if err := auth(b, newSecret); err != nil {
		t.Fatal(err)
	}
	p, err := a.Authenticate(ctx, ex.AccessToken, newSecret, c.UserSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Delink(ctx, p); err != nil {
		t.Fatal(err)
	}
	if !bankgate.IsCode(auth(a, newSecret), bankgate.UserDelinked) {
		t.Fatal("the delinking instance still accepts the token")
	}
	clk.Advance(500 * time.Millisecond)
	if !bankgate.IsCode(auth(b, newSecret), bankgate.UserDelinked) {
		t.Fatal("delinked token accepted past the 500 ms bound")
	}
}
