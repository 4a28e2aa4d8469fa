package service_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/service"
)

// TestAbandonedLoginsAreSwept: logins whose access code is never
// exchanged (an abandoned Connect session, or a script logging in random
// sandbox usernames with only the public appKey) leave nothing behind
// once their code has expired; exchanged connections stay. Before, 2,000
// such logins left 2,013 connections and 4,059 audit rows for good.
func TestAbandonedLoginsAreSwept(t *testing.T) {
	ctx := context.Background()
	a, _, clk, st := twoInstancesOn(t)
	app, err := a.CreateApp(ctx, "growth", "")
	if err != nil {
		t.Fatal(err)
	}
	login := func(user string) *bankgate.Connected {
		res, err := a.Login(ctx, bankgate.LoginRequest{AppKey: app.App.Key, BankID: "SANDBOX_AE_ENBD", Username: user, Password: "pass_good"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Connected
	}
	var abandoned []*bankgate.Connected
	for i := range 50 {
		abandoned = append(abandoned, login("random_"+strconv.Itoa(i)))
	}
	kept := login("user_good")
	if _, err := a.ExchangeToken(ctx, app.Secret, kept.AccessCode, kept.ConnectionID, false); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30*time.Minute + time.Hour + time.Second)
	n, err := a.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 100 { // 50 codes and their 50 connections
		t.Fatalf("swept %d rows, want 100", n)
	}
	for _, c := range abandoned {
		if _, err := st.Connection(ctx, c.ConnectionID); !bankgate.IsCode(err, bankgate.NotFound) {
			t.Fatalf("abandoned connection %s still stored: %v", c.ConnectionID, err)
		}
	}
	if _, err := st.Connection(ctx, kept.ConnectionID); err != nil {
		t.Fatalf("exchanged connection swept: %v", err)
	}
	// Audit events go after the retention.
	clk.Advance(service.AuditRetention)
	if _, err := a.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if ev, _ := st.Audit(ctx, app.App.ID, 10000); len(ev) != 0 {
		t.Fatalf("%d audit events kept past the retention", len(ev))
	}
}
