package service_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/service"
)

// TestVerifiedRequests: once a request's token, appSecret and userSecret
// are proven, the next one with the same three is let through from the
// cache with the same principal, while any other combination is checked
// in full: a wrong appSecret or userSecret is still refused, as is a
// rotated-away secret, a disabled app, a revoked or delinked token, on
// the instance that made the change at once.
func TestVerifiedRequests(t *testing.T) {
	ctx := context.Background()
	a, _, clk := twoInstances(t)
	app, err := a.CreateApp(ctx, "verified", "")
	if err != nil {
		t.Fatal(err)
	}
	one, two := connect(t, a, app, "user_good"), connect(t, a, app, "user_good_2")
	tok, us := one.token, one.userSecret
	tok2, us2 := two.token, two.userSecret
	appSecret := app.Secret
	auth := func(token, appSecret, userSecret string) (*bankgate.Principal, error) {
		return a.Authenticate(ctx, token, appSecret, userSecret)
	}
	mustAuth := func(token, appSecret, userSecret string) *bankgate.Principal {
		t.Helper()
		p, err := auth(token, appSecret, userSecret)
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return p
	}
	refused := func(what string, code bankgate.Code, token, appSecret, userSecret string) {
		t.Helper()
		if _, err := auth(token, appSecret, userSecret); !bankgate.IsCode(err, code) {
			t.Fatalf("%s: got %v, want %s", what, err, code)
		}
	}

	first := mustAuth(tok, appSecret, us)  // proven in full
	second := mustAuth(tok, appSecret, us) // from the cache
	clk.Advance(time.Second)               // past the cache bound: the change feed vouches
	third := mustAuth(tok, appSecret, us)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("cached principal %+v, want %+v", second, first)
	}
	if third.Now.Sub(first.Now) != time.Second || third.ConnectionID != first.ConnectionID || string(third.Session) != string(first.Session) {
		t.Fatalf("principal a second later %+v, first %+v", third, first)
	}
	// Every other combination is checked in full, and does not disturb
	// the proven one.
	refused("wrong appSecret", bankgate.InvalidAppCredentials, tok, appSecret+"x", us)
	refused("wrong userSecret", bankgate.InvalidUserSecret, tok, appSecret, us+"x")
	refused("another connection's userSecret", bankgate.InvalidUserSecret, tok, appSecret, us2)
	refused("the secrets swapped", bankgate.InvalidAppCredentials, tok, us, appSecret)
	mustAuth(tok, appSecret, us)
	if p := mustAuth(tok2, appSecret, us2); p.ConnectionID == first.ConnectionID {
		t.Fatal("two connections, one principal")
	}

	// A rotation on this instance refuses the old secret at once (there
	// is no overlap window in this rotation).
	newSecret, err := a.RotateAppSecret(ctx, app.App.Key)
	if err != nil {
		t.Fatal(err)
	}
	refused("rotated-away secret", bankgate.InvalidAppCredentials, tok, appSecret, us)
	mustAuth(tok, newSecret, us)
	mustAuth(tok, newSecret, us)

	// Disabled, then enabled again.
	if _, err := a.SetAppDisabled(ctx, service.Actor{TokenID: "cli"}, app.App.Key, true); err != nil {
		t.Fatal(err)
	}
	refused("disabled app", bankgate.InvalidAppCredentials, tok, newSecret, us)
	if _, err := a.SetAppDisabled(ctx, service.Actor{TokenID: "cli"}, app.App.Key, false); err != nil {
		t.Fatal(err)
	}
	mustAuth(tok, newSecret, us)
	p := mustAuth(tok, newSecret, us)

	// Delinked: refused at once, though the three were proven.
	mustAuth(tok2, newSecret, us2)
	if err := a.Delink(ctx, p); err != nil {
		t.Fatal(err)
	}
	refused("delinked token", bankgate.UserDelinked, tok, newSecret, us)
	// Revoked by the operator: refused at once.
	mustAuth(tok2, newSecret, us2)
	if _, err := a.RevokeTokens(ctx, service.Actor{TokenID: "cli"}, app.App.Key, clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	refused("revoked token", bankgate.InvalidToken, tok2, newSecret, us2)
}
