package service_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/sandbox"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
	"github.com/bankgate/bankgate/sqlite"
)

var (
	k1 = secret.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, secret.KeySize)}
	k2 = secret.Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, secret.KeySize)}
)

func keyring(tb testing.TB, keys ...secret.Key) *secret.Keyring {
	tb.Helper()
	k, err := secret.NewKeyringOf(keys)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func openStore(tb testing.TB) bankgate.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func newService(st bankgate.Store, keys *secret.Keyring) *service.Service {
	now := func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }
	return service.New(service.Config{Store: st, Keyring: keys, Now: now,
		Connectors: []bank.Connector{sandbox.New(sandbox.Options{Now: now, Store: st})}})
}

type session struct {
	app                       *service.NewApp
	token, userSecret, userID string
}

func connect(tb testing.TB, s *service.Service, app *service.NewApp, username string) session {
	tb.Helper()
	ctx := context.Background()
	if app == nil {
		var err error
		if app, err = s.CreateApp(ctx, "k", ""); err != nil {
			tb.Fatal(err)
		}
	}
	res, err := s.Login(ctx, bankgate.LoginRequest{AppKey: app.App.Key, BankID: "SANDBOX_AE_ENBD", Username: username, Password: "pass_good"})
	if err != nil {
		tb.Fatal(err)
	}
	ex, err := s.ExchangeToken(ctx, app.Secret, res.Connected.AccessCode, res.Connected.ConnectionID, false)
	if err != nil {
		tb.Fatal(err)
	}
	return session{app, ex.AccessToken, res.Connected.UserSecret, res.Connected.UserID}
}

func usage(t *testing.T, st bankgate.Store, keys *secret.Keyring) map[string]bankgate.KeyUsage {
	t.Helper()
	sts, err := service.KeysStatus(context.Background(), st, keys, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bankgate.KeyUsage{}
	for _, s := range sts {
		out[s.ID] = s.Usage
	}
	return out
}

// TestRotationRedigests: after a rotation, two instances serving the same
// old credentials at once all accept them, and between them move the
// token, the appSecret and the userSecret (with the sealed session) to the
// new primary key exactly once; then the old key can go.
func TestRotationRedigests(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	before := connect(t, newService(st, keyring(t, k1)), nil, "user_good")

	rotated := keyring(t, k2, k1)
	if err := service.CheckKeys(ctx, st, rotated, time.Now()); err != nil {
		t.Fatal(err)
	}
	if u := usage(t, st, rotated)["k1"]; u != (bankgate.KeyUsage{Apps: 1, Connections: 1, Tokens: 1}) {
		t.Fatalf("k1 usage before use = %+v", u)
	}
	a, b := newService(st, rotated), newService(st, rotated)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(s *service.Service) {
			defer wg.Done()
			if _, err := s.Authenticate(ctx, before.token, before.app.Secret, before.userSecret); err != nil {
				t.Errorf("old credentials after rotation: %v", err)
			}
		}([]*service.Service{a, b}[i%2])
	}
	wg.Wait()
	if u := usage(t, st, rotated); u["k1"].Total() != 0 || u["k2"] != (bankgate.KeyUsage{Apps: 1, Connections: 1, Tokens: 1}) {
		t.Fatalf("usage after use = %+v", u)
	}
	// Only the new key verifies now, and the userID stays.
	retired := keyring(t, k2, secret.Key{ID: k1.ID, Secret: k1.Secret, Retired: true})
	s := newService(st, retired)
	p, err := s.Authenticate(ctx, before.token, before.app.Secret, before.userSecret)
	if err != nil {
		t.Fatalf("migrated credentials with k1 retired: %v", err)
	}
	if after := connect(t, s, before.app, "user_good"); after.userID != before.userID || p.UserID != before.userID {
		t.Fatalf("userID changed: %s / %s, was %s", after.userID, p.UserID, before.userID)
	}
}

// BenchmarkTokenCheck measures the cached bearer check: token digest,
// cache lookup, appSecret and userSecret comparison.
func BenchmarkTokenCheck(b *testing.B) { benchTokenCheck(b, keyring(b, k1)) }

// BenchmarkTokenCheckRotated is BenchmarkTokenCheck on a rotated keyring:
// a token, appSecret and userSecret under the primary key k2, with k1
// still verifying.
func BenchmarkTokenCheckRotated(b *testing.B) { benchTokenCheck(b, keyring(b, k2, k1)) }

func benchTokenCheck(b *testing.B, keys *secret.Keyring) {
	ctx := context.Background()
	s := newService(openStore(b), keys)
	c := connect(b, s, nil, "user_good")
	if _, err := s.Authenticate(ctx, c.token, c.app.Secret, c.userSecret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, c.token, c.app.Secret, c.userSecret); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRetireKeyKeepsWebhookKeys: retiring the key that sealed an app's
// webhook keys first seals them again under the primary, so the app keeps
// its signing secret and encryption key.
func TestRetireKeyKeepsWebhookKeys(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if err := service.CheckKeys(ctx, st, keyring(t, k1), time.Now()); err != nil {
		t.Fatal(err)
	}
	s1 := newService(st, keyring(t, k1))
	app, err := s1.CreateApp(ctx, "hooks", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.SetWebhookURL(ctx, app.App.Key, "https://hooks.example.com/x"); err != nil {
		t.Fatal(err)
	}
	before, err := s1.WebhookKeys(ctx, app.App.Key, false)
	if err != nil {
		t.Fatal(err)
	}
	both := keyring(t, k2, k1)
	if err := service.CheckKeys(ctx, st, both, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := service.RetireKey(ctx, st, both, "k1", true, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	retired := k1
	retired.Retired = true
	after, err := newService(st, keyring(t, k2, retired)).WebhookKeys(ctx, app.App.Key, false)
	if err != nil {
		t.Fatalf("webhook keys after k1 was retired: %v", err)
	}
	if *after != *before {
		t.Fatalf("keys changed: %+v, then %+v", before, after)
	}
}
