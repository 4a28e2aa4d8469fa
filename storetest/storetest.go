// Package storetest is the conformance suite every bankgate.Store passes:
// call RunTests from the store's own tests with a function that returns a
// fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/bankgate/bankgate"
)

// RunTests runs the conformance suite. newStore must return a new empty
// store; the suite closes it.
func RunTests(t *testing.T, newStore func(t *testing.T) bankgate.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s bankgate.Store)
	}{
		{"Apps", testApps},
		{"RotateAppSecret", testRotateAppSecret},
		{"UpdateApp", testUpdateApp},
		{"AdvanceAppClock", testAdvanceAppClock},
		{"ConcurrentAdvanceAppClock", testConcurrentAdvanceAppClock},
		{"ConnectionAndCode", testConnectionAndCode},
		{"ExchangeRejects", testExchangeRejects},
		{"ExchangeReuseRevokes", testExchangeReuseRevokes},
		{"ExchangeForwardedAndClientUserID", testExchangeForwarded},
		{"ConcurrentExchange", testConcurrentExchange},
		{"Delink", testDelink},
		{"Operations", testOperations},
		{"ConcurrentOperationResume", testConcurrentOperationResume},
		{"DeleteExpired", testDeleteExpired},
		{"Events", testEvents},
		{"ConcurrentEvents", testConcurrentEvents},
		{"Changes", testChanges},
		{"ChangeMarkers", testChangeMarkers},
		{"ServerKeys", testServerKeys},
		{"KeyUsageAndRetire", testKeyUsageAndRetire},
		{"Redigest", testRedigest},
		{"ConcurrentRedigest", testConcurrentRedigest},
	}
	tests = append(tests, adminTests...)
	tests = append(tests, webhookTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() {
				// Each case has its own store (a PostgreSQL schema
				// migrated afresh, mostly round trips): the fast inner
				// loop runs them side by side.
				t.Parallel()
			}
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// MustCreateApp creates an app with random key and secret digest.
func MustCreateApp(tb testing.TB, s bankgate.Store, name string) *bankgate.App {
	tb.Helper()
	a := &bankgate.App{ID: newID(), Name: name, Key: fmt.Sprintf("%x", randBytes(32)), SecretDigest: randBytes(32), CreatedAt: t0,
		Environment: bankgate.EnvSandbox}
	if err := s.CreateApp(context.Background(), a); err != nil {
		tb.Fatalf("CreateApp: %v", err)
	}
	return a
}

type fixture struct {
	app  *bankgate.App
	conn *bankgate.Connection
	code *bankgate.AccessCode
}

func mustConnect(tb testing.TB, s bankgate.Store, app *bankgate.App, ttl time.Duration) fixture {
	tb.Helper()
	c := &bankgate.Connection{ID: fmt.Sprintf("%x", randBytes(20)), AppID: app.ID, BankID: "SANDBOX_AE_TEST", UserID: "user-" + newID(),
		ClientUserID: "client-1", UserSecretDigest: randBytes(32), Sealed: randBytes(40), CreatedAt: t0}
	code := &bankgate.AccessCode{Digest: randBytes(32), AppID: app.ID, ConnectionID: c.ID, TokenID: newID(), CreatedAt: t0, ExpiresAt: t0.Add(ttl)}
	if err := s.CreateConnection(context.Background(), c, code); err != nil {
		tb.Fatalf("CreateConnection: %v", err)
	}
	return fixture{app, c, code}
}

func exchange(s bankgate.Store, f fixture, now time.Time) (*bankgate.Exchange, error) {
	ex := &bankgate.Exchange{CodeDigest: f.code.Digest, AppID: f.app.ID, ConnectionID: f.conn.ID, Now: now,
		Token: bankgate.Token{Digest: randBytes(32)}}
	return ex, s.ExchangeAccessCode(context.Background(), ex)
}

func wantCode(t *testing.T, err error, code bankgate.Code) {
	t.Helper()
	if got := bankgate.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

var cmpTime = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func testApps(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "first")
	b := MustCreateApp(t, s, "second")
	for _, get := range []func() (*bankgate.App, error){
		func() (*bankgate.App, error) { return s.App(ctx, a.ID) },
		func() (*bankgate.App, error) { return s.AppByKey(ctx, a.Key) },
		func() (*bankgate.App, error) { return s.AppBySecret(ctx, a.SecretDigest) },
	} {
		got, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got, cmpTime, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("app mismatch (-want +got):\n%s", diff)
		}
	}
	prod := &bankgate.App{ID: newID(), Name: "live", Key: fmt.Sprintf("%x", randBytes(32)), SecretDigest: randBytes(32), CreatedAt: t0,
		Environment: bankgate.EnvProduction}
	if err := s.CreateApp(ctx, prod); err != nil {
		t.Fatal(err)
	}
	if got, err := s.App(ctx, prod.ID); err != nil || got.Environment != bankgate.EnvProduction {
		t.Fatalf("production app read back as %+v, %v", got, err)
	}
	_, err := s.AppByKey(ctx, "nope")
	wantCode(t, err, bankgate.NotFound)
	_, err = s.App(ctx, "nope")
	wantCode(t, err, bankgate.NotFound)
	_, err = s.AppBySecret(ctx, randBytes(32))
	wantCode(t, err, bankgate.NotFound)

	dup := *b
	dup.ID = newID()
	wantCode(t, s.CreateApp(ctx, &dup), bankgate.Conflict)

	apps, err := s.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 3 {
		t.Fatalf("ListApps returned %d apps, want 3", len(apps))
	}
	ev, err := s.Audit(ctx, a.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].Kind != bankgate.AuditAppCreated || ev[0].AppID != a.ID {
		t.Fatalf("audit = %+v, want one app_created", ev)
	}
}

func testRotateAppSecret(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "rot")
	nd := randBytes(32)
	if err := s.RotateAppSecret(ctx, a.ID, nd, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err := s.AppBySecret(ctx, a.SecretDigest)
	wantCode(t, err, bankgate.NotFound)
	got, err := s.AppBySecret(ctx, nd)
	if err != nil || got.ID != a.ID || !got.SecretRotatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("AppBySecret(new) = %+v, %v", got, err)
	}
	wantCode(t, s.RotateAppSecret(ctx, "nope", randBytes(32), t0), bankgate.NotFound)
	ev, _ := s.Audit(ctx, a.ID, 100)
	if len(ev) != 2 || ev[1].Kind != bankgate.AuditSecretRotated {
		t.Fatalf("audit = %+v, want app_created, secret_rotated", ev)
	}
}

func testUpdateApp(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "upd")
	got, err := s.UpdateApp(ctx, a.ID, t0, func(a *bankgate.App) error {
		a.AllowedOrigins = append(a.AllowedOrigins, "https://example.com")
		a.RedirectURIs = []string{"https://example.com/cb"}
		a.BundleIDs = []string{"com.example.app"}
		a.ServerURL = "https://api.example.com/dapi"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.App(ctx, a.ID)
	if diff := cmp.Diff(got, again, cmpTime, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("UpdateApp result differs from stored (-ret +stored):\n%s", diff)
	}
	if len(again.AllowedOrigins) != 1 || again.RedirectURIs[0] != "https://example.com/cb" || again.BundleIDs[0] != "com.example.app" || again.ServerURL != "https://api.example.com/dapi" {
		t.Fatalf("update lost: %+v", again)
	}
	_, err = s.UpdateApp(ctx, a.ID, t0, func(*bankgate.App) error { return bankgate.Errorf(bankgate.ParameterError, "no") })
	wantCode(t, err, bankgate.ParameterError)
	_, err = s.UpdateApp(ctx, "nope", t0, func(*bankgate.App) error { return nil })
	wantCode(t, err, bankgate.NotFound)
}

// testAdvanceAppClock: an app's test clock moves forward within its
// bounds only, moves only that app's unused access codes closer to expiry,
// and never makes an expired code valid.
func testAdvanceAppClock(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "clock")
	b := MustCreateApp(t, s, "other")
	if a.ClockOffset != 0 {
		t.Fatalf("new app's offset = %v", a.ClockOffset)
	}
	codeA := mustConnect(t, s, a, 30*time.Minute)
	codeA2 := mustConnect(t, s, a, 30*time.Minute)
	codeB := mustConnect(t, s, b, 30*time.Minute)
	if _, err := exchange(s, codeA2, t0); err != nil {
		t.Fatal(err)
	}

	got, err := s.AdvanceAppClock(ctx, a.ID, 20*time.Minute, t0)
	if err != nil || got != 20*time.Minute {
		t.Fatalf("AdvanceAppClock = %v, %v; want 20m", got, err)
	}
	if app, _ := s.App(ctx, a.ID); app.ClockOffset != 20*time.Minute {
		t.Fatalf("stored offset = %v", app.ClockOffset)
	}
	if app, _ := s.App(ctx, b.ID); app.ClockOffset != 0 {
		t.Fatalf("other app's offset moved: %v", app.ClockOffset)
	}
	// A's code now expires 10 minutes after t0; B's still after 30.
	_, err = exchange(s, codeA, t0.Add(11*time.Minute))
	wantCode(t, err, bankgate.InvalidAccessCode)
	if _, err := exchange(s, codeB, t0.Add(29*time.Minute)); err != nil {
		t.Fatalf("other app's code was moved: %v", err)
	}

	for _, d := range []time.Duration{0, -time.Hour, bankgate.MaxClockAdvance + 1, 1 << 62} {
		if _, err := s.AdvanceAppClock(ctx, a.ID, d, t0); !bankgate.IsCode(err, bankgate.ParameterError) {
			t.Errorf("AdvanceAppClock(%v) = %v, want ParameterError", d, err)
		}
	}
	_, err = s.AdvanceAppClock(ctx, "nope", time.Hour, t0)
	wantCode(t, err, bankgate.NotFound)

	// Up to the total bound, and not a nanosecond past it.
	total := 20 * time.Minute
	for total+bankgate.MaxClockAdvance <= bankgate.MaxClockOffset {
		if total, err = s.AdvanceAppClock(ctx, a.ID, bankgate.MaxClockAdvance, t0); err != nil {
			t.Fatal(err)
		}
	}
	rest := bankgate.MaxClockOffset - total
	if _, err := s.AdvanceAppClock(ctx, a.ID, rest+1, t0); !bankgate.IsCode(err, bankgate.ParameterError) {
		t.Fatalf("advance past the total bound = %v, want ParameterError", err)
	}
	if got, err := s.AdvanceAppClock(ctx, a.ID, rest, t0); err != nil || got != bankgate.MaxClockOffset {
		t.Fatalf("advance to the bound = %v, %v", got, err)
	}
	if _, err := s.AdvanceAppClock(ctx, a.ID, time.Nanosecond, t0); !bankgate.IsCode(err, bankgate.ParameterError) {
		t.Fatalf("advance at the bound = %v, want ParameterError", err)
	}
	if app, _ := s.App(ctx, a.ID); app.ClockOffset != bankgate.MaxClockOffset {
		t.Fatalf("offset after refused advances = %v", app.ClockOffset)
	}
	ev, _ := s.Audit(ctx, a.ID, 1000)
	if last := ev[len(ev)-1]; last.Kind != bankgate.AuditClockAdvanced {
		t.Fatalf("last audit = %+v, want clock_advanced", last)
	}
}

// testConcurrentAdvanceAppClock: concurrent advances add up exactly, and
// the total bound holds under concurrency.
func testConcurrentAdvanceAppClock(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "clocks")
	const n = 20
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AdvanceAppClock(ctx, a.ID, 300*24*time.Hour, t0); err == nil {
				ok.Add(1)
			} else if !bankgate.IsCode(err, bankgate.ParameterError) {
				t.Errorf("AdvanceAppClock: %v", err)
			}
		}()
	}
	wg.Wait()
	want := int64(bankgate.MaxClockOffset / (300 * 24 * time.Hour)) // 12
	if ok.Load() != want {
		t.Fatalf("%d advances of 300 days succeeded, want %d", ok.Load(), want)
	}
	if app, _ := s.App(ctx, a.ID); app.ClockOffset != time.Duration(want)*300*24*time.Hour {
		t.Fatalf("offset = %v", app.ClockOffset)
	}
}

func testConnectionAndCode(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "c")
	f := mustConnect(t, s, a, 30*time.Minute)
	got, err := s.Connection(ctx, f.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.conn, got, cmpTime); diff != "" {
		t.Errorf("connection mismatch (-want +got):\n%s", diff)
	}
	_, err = s.Connection(ctx, "nope")
	wantCode(t, err, bankgate.NotFound)
	wantCode(t, s.CreateConnection(ctx, f.conn, &bankgate.AccessCode{Digest: randBytes(32), AppID: a.ID, ConnectionID: f.conn.ID, TokenID: newID(), CreatedAt: t0, ExpiresAt: t0}), bankgate.Conflict)

	ex, err := exchange(s, f, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if ex.Token.ID != f.code.TokenID || ex.Token.UserID != f.conn.UserID || ex.Token.AppID != a.ID {
		t.Fatalf("token = %+v, want ID %s and user %s", ex.Token, f.code.TokenID, f.conn.UserID)
	}
	for _, get := range []func() (*bankgate.Grant, error){
		func() (*bankgate.Grant, error) { return s.Grant(ctx, ex.Token.Digest) },
		func() (*bankgate.Grant, error) { return s.GrantByTokenID(ctx, f.code.TokenID) },
	} {
		g, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ex.Token, g.Token, cmpTime); diff != "" {
			t.Errorf("token mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(*f.conn, g.Connection, cmpTime); diff != "" {
			t.Errorf("grant connection mismatch (-want +got):\n%s", diff)
		}
	}
	_, err = s.Grant(ctx, randBytes(32))
	wantCode(t, err, bankgate.NotFound)
	_, err = s.GrantByTokenID(ctx, "nope")
	wantCode(t, err, bankgate.NotFound)

	ev, _ := s.Audit(ctx, a.ID, 100)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	want := []string{bankgate.AuditAppCreated, bankgate.AuditConnectionCreated, bankgate.AuditCodeIssued, bankgate.AuditCodeExchanged}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("audit kinds (-want +got):\n%s", diff)
	}
}

func testExchangeRejects(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "a")
	b := MustCreateApp(t, s, "b")
	f := mustConnect(t, s, a, 30*time.Minute)
	other := mustConnect(t, s, a, 30*time.Minute)
	cases := []struct {
		name string
		ex   bankgate.Exchange
	}{
		{"unknown code", bankgate.Exchange{CodeDigest: randBytes(32), AppID: a.ID, ConnectionID: f.conn.ID, Now: t0}},
		{"other app", bankgate.Exchange{CodeDigest: f.code.Digest, AppID: b.ID, ConnectionID: f.conn.ID, Now: t0}},
		{"other connection", bankgate.Exchange{CodeDigest: f.code.Digest, AppID: a.ID, ConnectionID: other.conn.ID, Now: t0}},
		{"expired", bankgate.Exchange{CodeDigest: f.code.Digest, AppID: a.ID, ConnectionID: f.conn.ID, Now: t0.Add(30 * time.Minute)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := tc.ex
			ex.Token = bankgate.Token{Digest: randBytes(32)}
			wantCode(t, s.ExchangeAccessCode(ctx, &ex), bankgate.InvalidAccessCode)
			if _, err := s.Grant(ctx, ex.Token.Digest); !bankgate.IsCode(err, bankgate.NotFound) {
				t.Fatalf("rejected exchange stored a token: %v", err)
			}
		})
	}
	// None of the rejections used the code up.
	if _, err := exchange(s, f, t0.Add(30*time.Minute-time.Nanosecond)); err != nil {
		t.Fatalf("exchange just before expiry: %v", err)
	}
}

func testExchangeReuseRevokes(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "a")
	b := MustCreateApp(t, s, "b")
	f := mustConnect(t, s, a, 30*time.Minute)
	first, err := exchange(s, f, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Another app presenting the code does not revoke anything.
	wantCode(t, s.ExchangeAccessCode(ctx, &bankgate.Exchange{CodeDigest: f.code.Digest, AppID: b.ID, ConnectionID: f.conn.ID, Now: t0, Token: bankgate.Token{Digest: randBytes(32)}}), bankgate.InvalidAccessCode)
	if g, err := s.Grant(ctx, first.Token.Digest); err != nil || g.Token.Revoked() {
		t.Fatalf("token revoked by another app's attempt: %+v %v", g, err)
	}
	_, err = exchange(s, f, t0.Add(time.Second))
	wantCode(t, err, bankgate.InvalidAccessCode)
	g, err := s.Grant(ctx, first.Token.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Token.Revoked() || g.Token.RevokeReason != bankgate.RevokedCodeReuse {
		t.Fatalf("token after reuse = %+v, want revoked for code reuse", g.Token)
	}
	ev, _ := s.Audit(ctx, a.ID, 100)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	want := []string{bankgate.AuditAppCreated, bankgate.AuditConnectionCreated, bankgate.AuditCodeIssued, bankgate.AuditCodeExchanged, bankgate.AuditCodeReused, bankgate.AuditTokenRevoked}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("audit kinds (-want +got):\n%s", diff)
	}
}

// ConcurrentExchanges is how many goroutines race to exchange one code.
const ConcurrentExchanges = 100

func testConcurrentExchange(t *testing.T, s bankgate.Store) {
	a := MustCreateApp(t, s, "race")
	f := mustConnect(t, s, a, 30*time.Minute)
	var wg sync.WaitGroup
	var ok atomic.Int32
	var winner atomic.Pointer[bankgate.Exchange]
	errs := make(chan error, ConcurrentExchanges)
	start := make(chan struct{})
	for i := 0; i < ConcurrentExchanges; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ex, err := exchange(s, f, t0)
			switch {
			case err == nil:
				ok.Add(1)
				winner.Store(ex)
			case !bankgate.IsCode(err, bankgate.InvalidAccessCode):
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	if ok.Load() != 1 {
		t.Fatalf("%d exchanges succeeded, want exactly 1", ok.Load())
	}
	g, err := s.Grant(context.Background(), winner.Load().Token.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Token.Revoked() {
		t.Fatal("the winning token is not revoked after the code was reused")
	}
}

func testDelink(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "d")
	f := mustConnect(t, s, a, 30*time.Minute)
	ex, err := exchange(s, f, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DelinkConnection(ctx, f.conn.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.DelinkConnection(ctx, f.conn.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("second delink: %v", err)
	}
	wantCode(t, s.DelinkConnection(ctx, "nope", t0), bankgate.NotFound)
	g, err := s.Grant(ctx, ex.Token.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Token.Revoked() || g.Token.RevokeReason != bankgate.RevokedDelinked || !g.Connection.DelinkedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("grant after delink = %+v", g)
	}
	ev, _ := s.Audit(ctx, a.ID, 100)
	if ev[len(ev)-1].Kind != bankgate.AuditUserDelinked {
		t.Fatalf("last audit = %+v, want user_delinked", ev[len(ev)-1])
	}
	n := 0
	for _, e := range ev {
		if e.Kind == bankgate.AuditUserDelinked {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d user_delinked events, want 1", n)
	}
}

func newOp(appID string) *bankgate.Operation {
	return &bankgate.Operation{ID: "SANDBOX:" + newID(), AppID: appID, BankID: "SANDBOX_AE_TEST", Endpoint: "/connect/login",
		Status: bankgate.StatusUserInputRequired, State: randBytes(50), CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
}

func testOperations(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "op")
	op := newOp(a.ID)
	if err := s.CreateOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateOperation(ctx, op), bankgate.Conflict)
	got, err := s.Operation(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(op, got, cmpTime); diff != "" {
		t.Errorf("operation (-want +got):\n%s", diff)
	}
	_, err = s.Operation(ctx, "nope")
	wantCode(t, err, bankgate.NotFound)
	upd := *got
	upd.Status, upd.ErrorType, upd.UpdatedAt = bankgate.StatusFailed, "INVALID_MFA", t0.Add(time.Second)
	if err := s.UpdateOperation(ctx, &upd, bankgate.StatusUserInputRequired); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.UpdateOperation(ctx, &upd, bankgate.StatusUserInputRequired), bankgate.Conflict)
	got, _ = s.Operation(ctx, op.ID)
	if got.Status != bankgate.StatusFailed || got.ErrorType != "INVALID_MFA" {
		t.Fatalf("after update: %+v", got)
	}
}

func testConcurrentOperationResume(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "op")
	op := newOp(a.ID)
	if err := s.CreateOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			upd := *op
			upd.Status = bankgate.StatusInitialized
			if err := s.UpdateOperation(ctx, &upd, bankgate.StatusUserInputRequired); err == nil {
				ok.Add(1)
			} else if !bankgate.IsCode(err, bankgate.Conflict) {
				t.Errorf("UpdateOperation: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d resumes won, want 1", ok.Load())
	}
}

func testDeleteExpired(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "exp")
	op := newOp(a.ID)
	s.CreateOperation(ctx, op)
	live := newOp(a.ID)
	live.ExpiresAt = t0.Add(time.Hour)
	s.CreateOperation(ctx, live)
	f := mustConnect(t, s, a, time.Minute)
	kept := mustConnect(t, s, a, time.Minute) // exchanged: stays
	if _, err := exchange(s, kept, t0); err != nil {
		t.Fatal(err)
	}
	live2 := mustConnect(t, s, a, time.Hour) // not expired: stays
	audit, _ := s.Audit(ctx, a.ID, 1000)
	n, err := s.DeleteExpired(ctx, t0.Add(10*time.Minute), t0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("DeleteExpired removed %d rows, want 3 (operation, code, abandoned connection)", n)
	}
	if _, err := s.Connection(ctx, f.conn.ID); !bankgate.IsCode(err, bankgate.NotFound) {
		t.Fatalf("connection whose code expired unused is still there: %v", err)
	}
	for _, c := range []fixture{kept, live2} {
		if _, err := s.Connection(ctx, c.conn.ID); err != nil {
			t.Fatalf("connection %s removed: %v", c.conn.ID, err)
		}
	}
	if again, _ := s.Audit(ctx, a.ID, 1000); len(again) != len(audit) {
		t.Fatalf("audit events at the cutoff removed: %d -> %d", len(audit), len(again))
	}
	// Audit events before the cutoff go.
	if _, err := s.DeleteExpired(ctx, t0.Add(10*time.Minute), t0.Add(time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Audit(ctx, a.ID, 1000); len(again) != 0 {
		t.Fatalf("%d audit events from before the cutoff kept", len(again))
	}
	if _, err := s.Operation(ctx, op.ID); !bankgate.IsCode(err, bankgate.NotFound) {
		t.Fatalf("expired operation still there: %v", err)
	}
	if _, err := s.Operation(ctx, live.ID); err != nil {
		t.Fatalf("live operation removed: %v", err)
	}
	_, err = exchange(s, f, t0)
	wantCode(t, err, bankgate.InvalidAccessCode)
}

func testEvents(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	for i := int64(1); i <= 3; i++ {
		if err := s.AppendEvent(ctx, "acct-1", i, t0.Add(time.Duration(i)), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, s.AppendEvent(ctx, "acct-1", 2, t0, []byte("dup")), bankgate.Conflict)
	if err := s.AppendEvent(ctx, "acct-2", 1, t0, []byte("other")); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Events(ctx, "acct-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 2 || ev[0].Seq != 2 || !bytes.Equal(ev[1].Body, []byte("3")) || !ev[1].At.Equal(t0.Add(3)) {
		t.Fatalf("Events = %+v", ev)
	}
	ev, _ = s.Events(ctx, "none", 0)
	if len(ev) != 0 {
		t.Fatalf("Events(none) = %+v", ev)
	}
}

func testConcurrentEvents(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.AppendEvent(ctx, "race", 1, t0, []byte("x")); err == nil {
				ok.Add(1)
			} else if !bankgate.IsCode(err, bankgate.Conflict) {
				t.Errorf("AppendEvent: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d appends of seq 1 won, want 1", ok.Load())
	}
}

// testChanges: the change feed names every appended event's stream, in
// append order, with growing positions, from any position on.
func testChanges(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	start, err := s.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var after int64
	if len(start) > 0 {
		after = start[len(start)-1].Pos
	}
	want := []string{"feed/a", "feed/b", "feed/a", "feed/c"}
	seqs := map[string]int64{}
	for _, st := range want {
		seqs[st]++
		if err := s.AppendEvent(ctx, st, seqs[st], t0, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	// A refused append (seq taken) is no change.
	wantCode(t, s.AppendEvent(ctx, "feed/a", 1, t0, []byte("{}")), bankgate.Conflict)
	got, err := s.Changes(ctx, after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var streams []string
	for i, c := range got {
		streams = append(streams, c.Stream)
		if c.Pos <= after || (i > 0 && c.Pos <= got[i-1].Pos) {
			t.Fatalf("positions do not grow: %+v", got)
		}
	}
	if diff := cmp.Diff(want, streams); diff != "" {
		t.Fatalf("Changes streams (-want +got):\n%s", diff)
	}
	rest, err := s.Changes(ctx, got[1].Pos, 1)
	if err != nil || len(rest) != 1 || rest[0] != got[2] {
		t.Fatalf("Changes(after 2nd, limit 1) = %+v, %v; want %+v", rest, err, got[2])
	}
	if none, err := s.Changes(ctx, got[3].Pos, 10); err != nil || len(none) != 0 {
		t.Fatalf("Changes after the last = %+v, %v", none, err)
	}
	if last, err := s.LastChange(ctx); err != nil || last != got[3].Pos {
		t.Fatalf("LastChange = %d, %v; want %d", last, err, got[3].Pos)
	}
}

func testServerKeys(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	if ks, err := s.ServerKeys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("ServerKeys on an empty store = %v, %v", ks, err)
	}
	k2 := &bankgate.ServerKey{ID: "k2", Check: randBytes(32), CreatedAt: t0.Add(time.Hour)}
	k1 := &bankgate.ServerKey{ID: "k1", Check: randBytes(32), CreatedAt: t0}
	for _, k := range []*bankgate.ServerKey{k2, k1} {
		if err := s.AddServerKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, s.AddServerKey(ctx, &bankgate.ServerKey{ID: "k1", Check: randBytes(32), CreatedAt: t0}), bankgate.Conflict)
	ks, err := s.ServerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bankgate.ServerKey{*k1, *k2}, ks, cmpTime); diff != "" {
		t.Fatalf("ServerKeys (-want +got):\n%s", diff)
	}
	wantCode(t, func() error { _, err := s.RetireServerKey(ctx, "k9", k1Sel, t0, false); return err }(), bankgate.NotFound)
}

var (
	k1Sel = bankgate.KeySelector{Size: 32}
	k2Sel = bankgate.KeySelector{Prefix: []byte("k2."), Size: 35}
)

func k2Digest() []byte { return append([]byte("k2."), randBytes(32)...) }

func testKeyUsageAndRetire(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	now := t0.Add(time.Minute)
	for _, k := range []string{"k1", "k2"} {
		if err := s.AddServerKey(ctx, &bankgate.ServerKey{ID: k, Check: randBytes(32), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// Under k1 (unprefixed): an app, its connection with an exchanged
	// token, and a second connection with an unused code.
	a1 := MustCreateApp(t, s, "old")
	f1 := mustConnect(t, s, a1, 30*time.Minute)
	ex1, err := exchange(s, f1, now)
	if err != nil {
		t.Fatal(err)
	}
	mustConnect(t, s, a1, 30*time.Minute)
	// Under k2: an app, its connection, a token.
	a2 := &bankgate.App{ID: newID(), Name: "new", Key: fmt.Sprintf("%x", randBytes(32)), SecretDigest: k2Digest(), CreatedAt: t0, Environment: bankgate.EnvSandbox}
	if err := s.CreateApp(ctx, a2); err != nil {
		t.Fatal(err)
	}
	c2 := &bankgate.Connection{ID: fmt.Sprintf("%x", randBytes(20)), AppID: a2.ID, BankID: "B", UserID: "u2", UserSecretDigest: k2Digest(), Sealed: randBytes(40), CreatedAt: t0}
	code2 := &bankgate.AccessCode{Digest: k2Digest(), AppID: a2.ID, ConnectionID: c2.ID, TokenID: newID(), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateConnection(ctx, c2, code2); err != nil {
		t.Fatal(err)
	}
	ex2 := &bankgate.Exchange{CodeDigest: code2.Digest, AppID: a2.ID, ConnectionID: c2.ID, Now: now, Token: bankgate.Token{Digest: k2Digest()}}
	if err := s.ExchangeAccessCode(ctx, ex2); err != nil {
		t.Fatal(err)
	}
	// A k1 token on the k2 connection (issued before the connection's
	// userSecret was re-digested, say).
	for sel, want := range map[*bankgate.KeySelector]bankgate.KeyUsage{
		&k1Sel: {Apps: 1, Connections: 2, Tokens: 1, Codes: 1},
		&k2Sel: {Apps: 1, Connections: 1, Tokens: 1},
	} {
		got, err := s.KeyUsage(ctx, *sel, now)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("KeyUsage(%q) = %+v, want %+v", sel.Prefix, got, want)
		}
	}

	u, err := s.RetireServerKey(ctx, "k1", k1Sel, now, false)
	wantCode(t, err, bankgate.Conflict)
	if u.Total() != 5 {
		t.Fatalf("refused retirement reported %+v", u)
	}
	if g, err := s.Grant(ctx, ex1.Token.Digest); err != nil || g.Token.Revoked() {
		t.Fatalf("refused retirement changed the token: %+v, %v", g, err)
	}
	if ks, _ := s.ServerKeys(ctx); !ks[0].RetiredAt.IsZero() {
		t.Fatal("refused retirement marked the key retired")
	}

	later := now.Add(time.Minute)
	if _, err := s.RetireServerKey(ctx, "k1", k1Sel, later, true); err != nil {
		t.Fatalf("forced retirement: %v", err)
	}
	if got, _ := s.KeyUsage(ctx, k1Sel, later); got.Total() != 0 {
		t.Fatalf("after forced retirement k1 still protects %+v", got)
	}
	if got, _ := s.KeyUsage(ctx, k2Sel, later); got != (bankgate.KeyUsage{Apps: 1, Connections: 1, Tokens: 1}) {
		t.Fatalf("forced retirement of k1 touched k2's values: %+v", got)
	}
	g, err := s.Grant(ctx, ex1.Token.Digest)
	if err != nil || !g.Token.Revoked() || !g.Connection.Delinked() {
		t.Fatalf("k1 grant after forced retirement = %+v, %v", g, err)
	}
	if _, err := s.AppBySecret(ctx, a1.SecretDigest); !bankgate.IsCode(err, bankgate.NotFound) {
		t.Fatalf("k1 app secret still found: %v", err)
	}
	if g, err := s.Grant(ctx, ex2.Token.Digest); err != nil || g.Token.Revoked() {
		t.Fatalf("k2 grant after retiring k1 = %+v, %v", g, err)
	}
	ks, _ := s.ServerKeys(ctx)
	if !ks[0].RetiredAt.Equal(later) || !ks[1].RetiredAt.IsZero() {
		t.Fatalf("server keys after retirement = %+v", ks)
	}
	ev, _ := s.Audit(ctx, a1.ID, 100)
	kinds := map[string]int{}
	for _, e := range ev {
		kinds[e.Kind]++
	}
	if kinds[bankgate.AuditKeyRetired] != 1 || kinds[bankgate.AuditUserDelinked] != 2 {
		t.Fatalf("audit after forced retirement: %v", kinds)
	}
	// Retiring again is not an error.
	if _, err := s.RetireServerKey(ctx, "k1", k1Sel, later, false); err != nil {
		t.Fatalf("second retirement: %v", err)
	}
}

func testRedigest(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "r")
	f := mustConnect(t, s, a, 30*time.Minute)
	ex, err := exchange(s, f, t0)
	if err != nil {
		t.Fatal(err)
	}
	newApp, newTok, newUS, sealed := k2Digest(), k2Digest(), k2Digest(), randBytes(44)
	if ok, err := s.RedigestApp(ctx, a.ID, randBytes(32), newApp); err != nil || ok {
		t.Fatalf("RedigestApp with a wrong old digest = %v, %v", ok, err)
	}
	if ok, err := s.RedigestApp(ctx, a.ID, a.SecretDigest, newApp); err != nil || !ok {
		t.Fatalf("RedigestApp = %v, %v", ok, err)
	}
	if got, err := s.AppBySecret(ctx, newApp); err != nil || got.ID != a.ID {
		t.Fatalf("AppBySecret(new) = %v, %v", got, err)
	}
	if _, err := s.AppBySecret(ctx, a.SecretDigest); !bankgate.IsCode(err, bankgate.NotFound) {
		t.Fatalf("AppBySecret(old) = %v", err)
	}
	if ok, err := s.RedigestToken(ctx, ex.Token.Digest, newTok); err != nil || !ok {
		t.Fatalf("RedigestToken = %v, %v", ok, err)
	}
	if ok, err := s.RedigestToken(ctx, ex.Token.Digest, k2Digest()); err != nil || ok {
		t.Fatalf("second RedigestToken = %v, %v", ok, err)
	}
	if ok, err := s.RedigestConnection(ctx, f.conn.ID, f.conn.UserSecretDigest, newUS, sealed); err != nil || !ok {
		t.Fatalf("RedigestConnection = %v, %v", ok, err)
	}
	if ok, err := s.RedigestConnection(ctx, f.conn.ID, f.conn.UserSecretDigest, k2Digest(), randBytes(44)); err != nil || ok {
		t.Fatalf("second RedigestConnection = %v, %v", ok, err)
	}
	g, err := s.Grant(ctx, newTok)
	if err != nil {
		t.Fatal(err)
	}
	if g.Token.ID != ex.Token.ID || !bytes.Equal(g.Connection.UserSecretDigest, newUS) || !bytes.Equal(g.Connection.Sealed, sealed) {
		t.Fatalf("grant after re-digest = %+v", g)
	}
	if _, err := s.Grant(ctx, ex.Token.Digest); !bankgate.IsCode(err, bankgate.NotFound) {
		t.Fatalf("Grant(old digest) = %v", err)
	}
	// A reused code still revokes the re-digested token: it is found by
	// its code, which keeps its digest.
	if _, err := exchange(s, f, t0.Add(time.Minute)); !bankgate.IsCode(err, bankgate.InvalidAccessCode) {
		t.Fatalf("reuse = %v", err)
	}
	if g, _ := s.Grant(ctx, newTok); !g.Token.Revoked() {
		t.Fatal("code reuse did not revoke the re-digested token")
	}
}

// testConcurrentRedigest: instances that see the same old token at once
// all try to re-digest it; exactly one wins and the token stays whole.
func testConcurrentRedigest(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "cr")
	f := mustConnect(t, s, a, 30*time.Minute)
	ex, err := exchange(s, f, t0)
	if err != nil {
		t.Fatal(err)
	}
	newTok, newUS := k2Digest(), k2Digest()
	var wins, connWins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.RedigestToken(ctx, ex.Token.Digest, newTok)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
			ok, err = s.RedigestConnection(ctx, f.conn.ID, f.conn.UserSecretDigest, newUS, randBytes(44))
			if err != nil {
				t.Error(err)
			}
			if ok {
				connWins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || connWins.Load() != 1 {
		t.Fatalf("%d token and %d connection re-digests won, want 1 each", wins.Load(), connWins.Load())
	}
	if g, err := s.Grant(ctx, newTok); err != nil || !bytes.Equal(g.Connection.UserSecretDigest, newUS) {
		t.Fatalf("Grant(new) = %+v, %v", g, err)
	}
}

// testExchangeForwarded: an exchange reports the connection's clientUserID
// and stores whether the token was exchanged through forwarding, which the
// grant lookups return; an app's forwarding setting round-trips.
func testExchangeForwarded(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "fwd")
	for _, fwd := range []bool{false, true} {
		f := mustConnect(t, s, a, time.Hour)
		ex := &bankgate.Exchange{CodeDigest: f.code.Digest, AppID: a.ID, ConnectionID: f.conn.ID, Now: t0,
			Token: bankgate.Token{Digest: randBytes(32), Forwarded: fwd}}
		if err := s.ExchangeAccessCode(ctx, ex); err != nil {
			t.Fatal(err)
		}
		if ex.ClientUserID != f.conn.ClientUserID || ex.ClientUserID == "" {
			t.Fatalf("exchange clientUserID = %q, want %q", ex.ClientUserID, f.conn.ClientUserID)
		}
		for _, get := range []func() (*bankgate.Grant, error){
			func() (*bankgate.Grant, error) { return s.Grant(ctx, ex.Token.Digest) },
			func() (*bankgate.Grant, error) { return s.GrantByTokenID(ctx, ex.Token.ID) },
		} {
			g, err := get()
			if err != nil || g.Token.Forwarded != fwd {
				t.Fatalf("grant forwarded = %v (%v), want %v", g, err, fwd)
			}
		}
	}
	got, err := s.UpdateApp(ctx, a.ID, t0, func(app *bankgate.App) error { app.Forwarding = true; return nil })
	if err != nil || !got.Forwarding {
		t.Fatalf("UpdateApp forwarding: %+v, %v", got, err)
	}
	if again, _ := s.App(ctx, a.ID); !again.Forwarding {
		t.Fatal("forwarding not stored")
	}
}

// testChangeMarkers: a delink and a secret rotation each put a change
// marker for their connection or app on the change feed (in the same
// transaction as their audit event); an exchange puts none.
func testChangeMarkers(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "markers")
	f := mustConnect(t, s, a, time.Hour)
	last, err := s.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exchange(s, f, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.DelinkConnection(ctx, f.conn.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateAppSecret(ctx, a.ID, randBytes(32), t0); err != nil {
		t.Fatal(err)
	}
	chs, err := s.Changes(ctx, last, 100)
	if err != nil {
		t.Fatal(err)
	}
	var conn, app int
	for _, c := range chs {
		switch {
		case strings.HasPrefix(c.Stream, bankgate.ChangedConnPrefix+f.conn.ID+"/"):
			conn++
		case strings.HasPrefix(c.Stream, bankgate.ChangedAppPrefix+a.ID+"/"):
			app++
		default:
			t.Errorf("unexpected change %q", c.Stream)
		}
	}
	if conn == 0 || app != 1 {
		t.Fatalf("markers: %d for the connection, %d for the app; changes %+v", conn, app, chs)
	}
}
