package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
)

// The conformance cases of the operator plane (bankgate.OperatorStore).
var adminTests = []struct {
	name string
	fn   func(t *testing.T, s bankgate.Store)
}{
	{"RotateAppSecretUntil", testRotateUntil},
	{"SetAppDisabled", testSetAppDisabled},
	{"SetAppEnvironment", testSetAppEnvironment},
	{"ResetAppSandbox", testResetAppSandbox},
	{"RevokeAppTokens", testRevokeAppTokens},
	{"ConcurrentRevokeAppTokens", testConcurrentRevokeAppTokens},
	{"RevokeConnection", testRevokeConnection},
	{"ConnectionInfos", testConnectionInfos},
	{"AppStats", testAppStats},
	{"SearchAudit", testSearchAudit},
}

// connectAt stores a connection (and its access code) made at at.
func connectAt(tb testing.TB, s bankgate.Store, app *bankgate.App, at time.Time, bankID, clientUserID string) fixture {
	tb.Helper()
	c := &bankgate.Connection{ID: fmt.Sprintf("%x", randBytes(20)), AppID: app.ID, BankID: bankID, UserID: "user-" + newID(),
		ClientUserID: clientUserID, UserSecretDigest: randBytes(32), Sealed: randBytes(40), CreatedAt: at}
	code := &bankgate.AccessCode{Digest: randBytes(32), AppID: app.ID, ConnectionID: c.ID, TokenID: newID(), CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
	if err := s.CreateConnection(context.Background(), c, code); err != nil {
		tb.Fatalf("CreateConnection: %v", err)
	}
	return fixture{app, c, code}
}

// kinds returns the kinds of the app's audit events, oldest first.
func kinds(t *testing.T, s bankgate.Store, appID string) []string {
	t.Helper()
	ev, err := s.Audit(context.Background(), appID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ev {
		out = append(out, e.Kind)
	}
	return out
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

func testRotateUntil(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "overlap")
	old, nd := a.SecretDigest, randBytes(32)
	until := t0.Add(24 * time.Hour)
	last, _ := s.LastChange(ctx)
	if err := s.RotateAppSecretUntil(ctx, a.ID, nd, t0, until, "admin=adm_1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.AppBySecret(ctx, nd)
	if err != nil || got.ID != a.ID || !bytesEqual(got.PrevSecretDigest, old) || !got.PrevSecretUntil.Equal(until) {
		t.Fatalf("AppBySecret(new) = %+v, %v", got, err)
	}
	if _, err := s.AppBySecret(ctx, old); !bankgate.IsCode(err, bankgate.NotFound) {
		t.Fatalf("AppBySecret(old) = %v, want NotFound (the previous secret is found by AppByPrevSecret)", err)
	}
	if got, err := s.AppByPrevSecret(ctx, old, until.Add(-time.Nanosecond)); err != nil || got.ID != a.ID {
		t.Fatalf("AppByPrevSecret within the window = %+v, %v", got, err)
	}
	_, err = s.AppByPrevSecret(ctx, old, until)
	wantCode(t, err, bankgate.NotFound)
	_, err = s.AppByPrevSecret(ctx, nd, t0)
	wantCode(t, err, bankgate.NotFound)
	chs, _ := s.Changes(ctx, last, 100)
	if len(chs) != 1 || !strings.HasPrefix(chs[0].Stream, bankgate.ChangedAppPrefix+a.ID+"/") {
		t.Fatalf("changes after rotation = %+v, want one app marker", chs)
	}
	ev, _ := s.Audit(ctx, a.ID, 100)
	if e := ev[len(ev)-1]; e.Kind != bankgate.AuditSecretRotated || e.Detail != "admin=adm_1" {
		t.Fatalf("last audit = %+v", e)
	}

	// A rotation without overlap drops the previous secret, and so does
	// the plain RotateAppSecret.
	n2 := randBytes(32)
	if err := s.RotateAppSecretUntil(ctx, a.ID, n2, t0.Add(time.Hour), time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	got, _ = s.App(ctx, a.ID)
	if got.PrevSecretDigest != nil || !got.PrevSecretUntil.IsZero() {
		t.Fatalf("after a rotation without overlap: prev %x until %v", got.PrevSecretDigest, got.PrevSecretUntil)
	}
	_, err = s.AppByPrevSecret(ctx, nd, t0.Add(time.Hour))
	wantCode(t, err, bankgate.NotFound)
	if err := s.RotateAppSecretUntil(ctx, a.ID, randBytes(32), t0, until, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateAppSecret(ctx, a.ID, randBytes(32), t0); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.App(ctx, a.ID); got.PrevSecretDigest != nil {
		t.Fatalf("RotateAppSecret kept the previous secret %x", got.PrevSecretDigest)
	}
	wantCode(t, s.RotateAppSecretUntil(ctx, "nope", randBytes(32), t0, until, ""), bankgate.NotFound)
	b := MustCreateApp(t, s, "other")
	wantCode(t, s.RotateAppSecretUntil(ctx, a.ID, b.SecretDigest, t0, until, ""), bankgate.Conflict)
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func testSetAppDisabled(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "off")
	got, err := s.SetAppDisabled(ctx, a.ID, true, t0, "why")
	if err != nil || !got.Disabled() || !got.DisabledAt.Equal(t0) {
		t.Fatalf("SetAppDisabled(true) = %+v, %v", got, err)
	}
	if got, _ := s.AppBySecret(ctx, a.SecretDigest); got == nil || !got.Disabled() {
		t.Fatalf("a disabled app reads back enabled: %+v", got)
	}
	if _, err := s.SetAppDisabled(ctx, a.ID, true, t0.Add(time.Hour), "again"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.App(ctx, a.ID); !got.DisabledAt.Equal(t0) {
		t.Fatalf("disabling twice moved DisabledAt to %v", got.DisabledAt)
	}
	got, err = s.SetAppDisabled(ctx, a.ID, false, t0.Add(2*time.Hour), "")
	if err != nil || got.Disabled() {
		t.Fatalf("SetAppDisabled(false) = %+v, %v", got, err)
	}
	k := kinds(t, s, a.ID)
	if count(k, bankgate.AuditAppDisabled) != 1 || count(k, bankgate.AuditAppEnabled) != 1 {
		t.Fatalf("audit kinds = %v, want one app_disabled and one app_enabled", k)
	}
	_, err = s.SetAppDisabled(ctx, "nope", true, t0, "")
	wantCode(t, err, bankgate.NotFound)

	// Concurrent disables audit once.
	b := MustCreateApp(t, s, "race")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.SetAppDisabled(ctx, b.ID, true, t0, ""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := count(kinds(t, s, b.ID), bankgate.AuditAppDisabled); n != 1 {
		t.Fatalf("8 concurrent disables audited %d times, want 1", n)
	}
}

func testSetAppEnvironment(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "env")
	got, err := s.SetAppEnvironment(ctx, a.ID, bankgate.EnvProduction, t0, "")
	if err != nil || got.Environment != bankgate.EnvProduction {
		t.Fatalf("SetAppEnvironment = %+v, %v", got, err)
	}
	f := mustConnect(t, s, a, time.Hour)
	_, err = s.SetAppEnvironment(ctx, a.ID, bankgate.EnvSandbox, t0, "")
	wantCode(t, err, bankgate.Conflict)
	if err := s.RevokeConnection(ctx, f.conn.ID, t0, ""); err != nil {
		t.Fatal(err)
	}
	if got, err = s.SetAppEnvironment(ctx, a.ID, bankgate.EnvSandbox, t0, ""); err != nil || got.Environment != bankgate.EnvSandbox {
		t.Fatalf("SetAppEnvironment after revoking = %+v, %v", got, err)
	}
	_, err = s.SetAppEnvironment(ctx, "nope", bankgate.EnvSandbox, t0, "")
	wantCode(t, err, bankgate.NotFound)
}

func testResetAppSandbox(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "reset")
	if _, err := s.AdvanceAppClock(ctx, a.ID, 48*time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.ResetAppSandbox(ctx, a.ID, t0, "admin=x")
	if err != nil || got.ClockOffset != 0 || got.SandboxEpoch != 1 {
		t.Fatalf("ResetAppSandbox = %+v, %v", got, err)
	}
	if got, err = s.ResetAppSandbox(ctx, a.ID, t0, ""); err != nil || got.SandboxEpoch != 2 {
		t.Fatalf("second reset = %+v, %v", got, err)
	}
	if again, _ := s.App(ctx, a.ID); again.SandboxEpoch != 2 || again.ClockOffset != 0 {
		t.Fatalf("stored after resets: %+v", again)
	}
	if n := count(kinds(t, s, a.ID), bankgate.AuditSandboxReset); n != 2 {
		t.Fatalf("%d sandbox_reset events, want 2", n)
	}
	_, err = s.ResetAppSandbox(ctx, "nope", t0, "")
	wantCode(t, err, bankgate.NotFound)
}

func testRevokeAppTokens(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "kill")
	b := MustCreateApp(t, s, "bystander")
	early := connectAt(t, s, a, t0, "BANK", "u1")
	exEarly, err := exchange(s, early, t0)
	if err != nil {
		t.Fatal(err)
	}
	late := connectAt(t, s, a, t0.Add(2*time.Hour), "BANK", "u2")
	exLate, err := exchange(s, late, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pending := connectAt(t, s, a, t0, "BANK", "u3") // code never exchanged
	other := connectAt(t, s, b, t0, "BANK", "u1")
	exOther, err := exchange(s, other, t0)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(3 * time.Hour)
	last, _ := s.LastChange(ctx)
	n, err := s.RevokeAppTokens(ctx, a.ID, t0.Add(time.Hour), now, "admin=adm_1 reason=\"leak\"")
	if err != nil || n != 1 {
		t.Fatalf("RevokeAppTokens(before) = %d, %v; want 1", n, err)
	}
	g, _ := s.Grant(ctx, exEarly.Token.Digest)
	if !g.Token.Revoked() || g.Token.RevokeReason != bankgate.RevokedByAdmin || g.Connection.Delinked() {
		t.Fatalf("early grant = %+v", g.Token)
	}
	if g, _ := s.Grant(ctx, exLate.Token.Digest); g.Token.Revoked() {
		t.Fatal("a token issued after the cut was revoked")
	}
	if _, err := exchange(s, pending, now); !bankgate.IsCode(err, bankgate.InvalidAccessCode) {
		t.Fatalf("exchanging a code issued before the kill switch: %v, want InvalidAccessCode", err)
	}
	for id, want := range map[string]string{early.conn.ID: bankgate.ConnRevoked, pending.conn.ID: bankgate.ConnRevoked, late.conn.ID: bankgate.ConnActive} {
		ci, err := s.ConnectionInfo(ctx, id)
		if err != nil || ci.State() != want {
			t.Fatalf("connection state = %v, %v; want %s", ci, err, want)
		}
	}
	chs, _ := s.Changes(ctx, last, 100)
	if len(chs) != 1 || !strings.HasPrefix(chs[0].Stream, bankgate.ChangedAppPrefix+a.ID+"/") {
		t.Fatalf("changes = %+v, want one app-wide marker", chs)
	}
	ev, _ := s.Audit(ctx, a.ID, 100)
	if e := ev[len(ev)-1]; e.Kind != bankgate.AuditTokensRevoked || !strings.Contains(e.Detail, "count=1") || !strings.Contains(e.Detail, "admin=adm_1") {
		t.Fatalf("last audit = %+v", e)
	}
	if n, err = s.RevokeAppTokens(ctx, a.ID, time.Time{}, now, ""); err != nil || n != 1 {
		t.Fatalf("RevokeAppTokens(all) = %d, %v; want 1", n, err)
	}
	if g, _ := s.Grant(ctx, exLate.Token.Digest); !g.Token.Revoked() {
		t.Fatal("late token survived the kill switch")
	}
	if g, _ := s.Grant(ctx, exOther.Token.Digest); g.Token.Revoked() {
		t.Fatal("another app's token was revoked")
	}
	if n, err = s.RevokeAppTokens(ctx, a.ID, time.Time{}, now, ""); err != nil || n != 0 {
		t.Fatalf("RevokeAppTokens again = %d, %v; want 0", n, err)
	}
	_, err = s.RevokeAppTokens(ctx, "nope", time.Time{}, now, "")
	wantCode(t, err, bankgate.NotFound)
}

func testConcurrentRevokeAppTokens(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "kill-race")
	const conns = 20
	for i := range conns {
		f := connectAt(t, s, a, t0.Add(time.Duration(i)*time.Second), "BANK", "u")
		if _, err := exchange(s, f, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.RevokeAppTokens(ctx, a.ID, time.Time{}, t0.Add(time.Hour), "")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != conns {
		t.Fatalf("8 concurrent kill switches revoked %d tokens in all, want %d", total, conns)
	}
	st, err := s.AppStats(ctx)
	if err != nil || st[a.ID].Tokens != 0 || st[a.ID].Connections != 0 {
		t.Fatalf("stats after the kill switch = %+v, %v", st[a.ID], err)
	}
}

func testRevokeConnection(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "rc")
	f := mustConnect(t, s, a, time.Hour)
	ex, err := exchange(s, f, t0)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := s.LastChange(ctx)
	if err := s.RevokeConnection(ctx, f.conn.ID, t0.Add(time.Minute), "admin=x"); err != nil {
		t.Fatal(err)
	}
	g, _ := s.Grant(ctx, ex.Token.Digest)
	if !g.Token.Revoked() || g.Token.RevokeReason != bankgate.RevokedByAdmin || g.Connection.Delinked() {
		t.Fatalf("grant after revoke = %+v", g)
	}
	chs, _ := s.Changes(ctx, last, 100)
	if len(chs) != 1 || !strings.HasPrefix(chs[0].Stream, bankgate.ChangedConnPrefix+f.conn.ID+"/") {
		t.Fatalf("changes = %+v, want one connection marker", chs)
	}
	ci, err := s.ConnectionInfo(ctx, f.conn.ID)
	if err != nil || ci.State() != bankgate.ConnRevoked || !ci.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ConnectionInfo = %+v, %v", ci, err)
	}
	if err := s.RevokeConnection(ctx, f.conn.ID, t0.Add(time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	if n := count(kinds(t, s, a.ID), bankgate.AuditConnectionRevoked); n != 1 {
		t.Fatalf("%d connection_revoked events, want 1", n)
	}
	// A delinked connection stays delinked.
	d := mustConnect(t, s, a, time.Hour)
	if err := s.DelinkConnection(ctx, d.conn.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeConnection(ctx, d.conn.ID, t0, ""); err != nil {
		t.Fatal(err)
	}
	if ci, _ := s.ConnectionInfo(ctx, d.conn.ID); ci.State() != bankgate.ConnDelinked || !ci.RevokedAt.IsZero() {
		t.Fatalf("revoking a delinked connection changed it: %+v", ci)
	}
	// An unexchanged code dies with its connection.
	p := mustConnect(t, s, a, time.Hour)
	if err := s.RevokeConnection(ctx, p.conn.ID, t0, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := exchange(s, p, t0.Add(time.Second)); !bankgate.IsCode(err, bankgate.InvalidAccessCode) {
		t.Fatalf("exchange after revoke: %v", err)
	}
	wantCode(t, s.RevokeConnection(ctx, "nope", t0, ""), bankgate.NotFound)
	_, err = s.ConnectionInfo(ctx, "nope")
	wantCode(t, err, bankgate.NotFound)
}

func testConnectionInfos(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "list")
	b := MustCreateApp(t, s, "other")
	var fs []fixture
	for i := range 7 {
		bank, cu := "BANK_A", fmt.Sprintf("client-%d", i%3)
		if i%2 == 1 {
			bank = "BANK_B"
		}
		fs = append(fs, connectAt(t, s, a, t0.Add(time.Duration(i)*time.Minute), bank, cu))
	}
	connectAt(t, s, b, t0, "BANK_A", "client-0")
	ex, err := exchange(s, fs[0], t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DelinkConnection(ctx, fs[1].conn.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeConnection(ctx, fs[2].conn.ID, t0.Add(time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	ids := func(q bankgate.ConnectionQuery) []string {
		t.Helper()
		q.AppID = a.ID
		if q.Limit == 0 {
			q.Limit = 100
		}
		cs, err := s.ConnectionInfos(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			if c.AppID != a.ID {
				t.Fatalf("connection of another app: %+v", c)
			}
			out = append(out, c.ID)
		}
		return out
	}
	id := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, fs[i].conn.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    bankgate.ConnectionQuery
		want []string
	}{
		{"all newest first", bankgate.ConnectionQuery{}, id(6, 5, 4, 3, 2, 1, 0)},
		{"bank", bankgate.ConnectionQuery{BankID: "BANK_B"}, id(5, 3, 1)},
		{"clientUserID", bankgate.ConnectionQuery{ClientUserID: "client-0"}, id(6, 3, 0)},
		{"created after", bankgate.ConnectionQuery{CreatedAfter: t0.Add(4 * time.Minute)}, id(6, 5)},
		{"created before", bankgate.ConnectionQuery{CreatedBefore: t0.Add(2 * time.Minute)}, id(1, 0)},
		{"active", bankgate.ConnectionQuery{State: bankgate.ConnActive}, id(6, 5, 4, 3, 0)},
		{"delinked", bankgate.ConnectionQuery{State: bankgate.ConnDelinked}, id(1)},
		{"revoked", bankgate.ConnectionQuery{State: bankgate.ConnRevoked}, id(2)},
		{"limit", bankgate.ConnectionQuery{Limit: 2}, id(6, 5)},
		{"cursor", bankgate.ConnectionQuery{AfterCreated: fs[5].conn.CreatedAt, AfterID: fs[5].conn.ID, Limit: 2}, id(4, 3)},
	} {
		if got := ids(tc.q); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// Paging through ties in CreatedAt by ID.
	var tied []fixture
	for range 3 {
		tied = append(tied, connectAt(t, s, b, t0.Add(time.Hour), "BANK_T", "tie"))
	}
	seen := map[string]bool{}
	q := bankgate.ConnectionQuery{AppID: b.ID, BankID: "BANK_T", Limit: 1}
	for range 4 {
		cs, err := s.ConnectionInfos(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		seen[cs[0].ID] = true
		q.AfterCreated, q.AfterID = cs[0].CreatedAt, cs[0].ID
	}
	if len(seen) != 3 {
		t.Fatalf("paging one by one through 3 connections made at one instant saw %d", len(seen))
	}

	// Tokens and last use.
	toks, err := s.ConnectionTokens(ctx, fs[0].conn.ID)
	if err != nil || len(toks) != 1 || toks[0].ID != ex.Token.ID || toks[0].Revoked() || toks[0].Digest != nil {
		t.Fatalf("ConnectionTokens = %+v, %v", toks, err)
	}
	if err := s.TouchConnections(ctx, []string{fs[0].conn.ID, "no-such-connection", fs[1].conn.ID}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchConnections(ctx, []string{fs[0].conn.ID}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchConnections(ctx, nil, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ci, _ := s.ConnectionInfo(ctx, fs[0].conn.ID); !ci.LastUsedAt.Equal(t0.Add(time.Hour)) || ci.ClientUserID != "client-0" || ci.BankID != "BANK_A" {
		t.Fatalf("ConnectionInfo after touches = %+v", ci)
	}
	if ci, _ := s.ConnectionInfo(ctx, fs[1].conn.ID); !ci.LastUsedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("second connection after a batch touch = %+v", ci)
	}
}

func testAppStats(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "stats")
	b := MustCreateApp(t, s, "empty")
	for i := range 3 {
		f := mustConnect(t, s, a, time.Hour)
		if i < 2 {
			if _, err := exchange(s, f, t0); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			if err := s.DelinkConnection(ctx, f.conn.ID, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := s.AppStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st[a.ID]; got != (bankgate.AppStats{Connections: 2, Tokens: 1}) {
		t.Fatalf("stats = %+v, want 2 connections, 1 token", got)
	}
	if got := st[b.ID]; got != (bankgate.AppStats{}) {
		t.Fatalf("empty app's stats = %+v", got)
	}
}

func testSearchAudit(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	a := MustCreateApp(t, s, "search")
	b := MustCreateApp(t, s, "other")
	f := mustConnect(t, s, a, time.Hour) // connection_created, code_issued at t0
	for i := range 5 {
		e := &bankgate.AuditEvent{At: t0.Add(time.Duration(i+1) * time.Minute), Kind: bankgate.AuditPayment, AppID: a.ID, ConnectionID: f.conn.ID, Detail: fmt.Sprint("n=", i)}
		if err := s.RecordAudit(ctx, e); err != nil || e.ID == "" {
			t.Fatalf("RecordAudit = %v (ID %q)", err, e.ID)
		}
	}
	if err := s.RecordAudit(ctx, &bankgate.AuditEvent{At: t0, Kind: bankgate.AuditLoginFailed, AppID: b.ID, Detail: "bank=X username=u"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAudit(ctx, &bankgate.AuditEvent{At: t0, Kind: bankgate.AuditTokenRevoked, AppID: a.ID}); err == nil {
		t.Fatal("RecordAudit accepted a kind that needs a change marker")
	}
	search := func(q bankgate.AuditQuery) []bankgate.AuditEvent {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 100
		}
		ev, err := s.SearchAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(ev); i++ {
			if ev[i].At.After(ev[i-1].At) {
				t.Fatalf("not newest first: %+v", ev)
			}
		}
		return ev
	}
	if ev := search(bankgate.AuditQuery{AppID: a.ID}); len(ev) != 8 || ev[0].Detail != "n=4" {
		t.Fatalf("app's events = %d (first %+v), want 8 starting with the last payment", len(ev), ev[0])
	}
	if ev := search(bankgate.AuditQuery{}); len(ev) != 10 {
		t.Fatalf("all events = %d, want 10", len(ev))
	}
	if ev := search(bankgate.AuditQuery{Kind: bankgate.AuditLoginFailed}); len(ev) != 1 || ev[0].AppID != b.ID {
		t.Fatalf("login_failed events = %+v", ev)
	}
	if ev := search(bankgate.AuditQuery{ConnectionID: f.conn.ID, Kind: bankgate.AuditPayment, Before: t0.Add(3 * time.Minute)}); len(ev) != 2 || ev[0].Detail != "n=1" {
		t.Fatalf("payments before 3m = %+v", ev)
	}
	// Paging with the cursor visits every event once, ties included.
	var got []string
	q := bankgate.AuditQuery{AppID: a.ID, Limit: 3}
	for range 10 {
		ev := search(q)
		if len(ev) == 0 {
			break
		}
		for _, e := range ev {
			got = append(got, e.ID)
		}
		last := ev[len(ev)-1]
		q.BeforeAt, q.BeforeID = last.At, last.ID
	}
	seen := map[string]bool{}
	for _, id := range got {
		seen[id] = true
	}
	if len(got) != 8 || len(seen) != 8 {
		t.Fatalf("paging saw %d events (%d distinct), want 8", len(got), len(seen))
	}
}
