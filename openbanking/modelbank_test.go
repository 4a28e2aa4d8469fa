package openbanking_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/internal/memevents"
	"github.com/bankgate/bankgate/modelbank"
	"github.com/bankgate/bankgate/openbanking"
)

const redirectURI = "http://127.0.0.1:9/connect/callback"

// startModelBank runs a model bank on loopback for the test and returns it
// with a connector configured from the banks.yaml it wrote.
func startModelBank(t *testing.T, opts modelbank.Options) (*modelbank.Bank, *openbanking.Connector) {
	b, cfgs := startModelBankConfig(t, opts)
	return b, openbanking.New(cfgs, openbanking.Options{})
}

func startModelBankConfig(t *testing.T, opts modelbank.Options) (*modelbank.Bank, []openbanking.BankConfig) {
	t.Helper()
	dir := t.TempDir()
	b, srv, _, err := modelbank.Start("127.0.0.1:0", opts, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfgs, err := openbanking.LoadBanks(filepath.Join(dir, modelbank.FileBanks))
	if err != nil {
		t.Fatal(err)
	}
	return b, cfgs
}

// psuBrowser is the PSU's user agent: it trusts the bank's CA, presents no
// client certificate and follows no redirect on its own.
func psuBrowser(b *modelbank.Bank) *http.Client {
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.CAPool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

var hiddenID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// authorise walks the PSU through the bank's pages and returns where the
// bank sends the browser back to.
func authorise(t *testing.T, b *modelbank.Bank, authURL, user, pass, decision string) *url.URL {
	t.Helper()
	hc := psuBrowser(b)
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		t.Fatalf("authorize: %s", res.Status)
	}
	login, _ := res.Location()
	res, err = hc.Get(login.String())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`name="username"`, `name="password"`, `<form method="post"`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("login page lacks %s:\n%s", want, page)
		}
	}
	m := hiddenID.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no request id in the login page")
	}
	res, err = hc.PostForm(b.Issuer()+"/psu/login", url.Values{"id": {string(m[1])}, "username": {user}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", res.Status)
	}
	consent, _ := res.Location()
	res, err = hc.Get(consent.String())
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`name="decision" value="approve"`, `name="decision" value="deny"`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("consent page lacks %s:\n%s", want, page)
		}
	}
	res, err = hc.PostForm(b.Issuer()+"/psu/consent", url.Values{"id": {string(m[1])}, "decision": {decision}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %s", res.Status)
	}
	back, _ := res.Location()
	return back
}

// connect logs a PSU in through the model bank and returns the session.
func connect(t *testing.T, b *modelbank.Bank, c *openbanking.Connector, user, pass string) (*bank.LoginResult, string) {
	t.Helper()
	ctx := context.Background()
	start, err := c.StartRedirect(ctx, bank.RedirectRequest{AppID: "app", BankID: modelbank.BankID, RedirectURI: redirectURI, State: "st-" + user})
	if err != nil {
		t.Fatal(err)
	}
	back := authorise(t, b, start.URL, user, pass, "approve")
	if got := back.Scheme + "://" + back.Host + back.Path; got != redirectURI {
		t.Fatalf("redirected to %s", back)
	}
	res, err := c.FinishRedirect(ctx, bank.RedirectFinish{AppID: "app", BankID: modelbank.BankID, State: start.State, Query: back.Query()})
	if err != nil {
		t.Fatal(err)
	}
	return res, back.RawQuery
}

func call(res *bank.LoginResult, connID string) *bank.Call {
	return &bank.Call{Session: bank.Session{AppID: "app", BankID: modelbank.BankID, ConnectionID: connID, Data: res.Session}, Now: time.Now()}
}

func wantCode(t *testing.T, err error, code bankgate.Code) {
	t.Helper()
	var e *bankgate.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

func TestModelBankReadsThroughRedirectLogin(t *testing.T) {
	b, c := startModelBank(t, modelbank.Options{PageSize: 10})
	ctx := context.Background()
	res, _ := connect(t, b, c, modelbank.PSUs[0].Username, modelbank.PSUs[0].Password)
	if res.UserKey != modelbank.PSUs[0].Username {
		t.Errorf("UserKey %q", res.UserKey)
	}
	cl := call(res, "conn1")
	id, _, err := c.Identity(ctx, cl)
	if err != nil || id.Name == "" {
		t.Fatalf("identity %+v %v", id, err)
	}
	accts, _, err := c.Accounts(ctx, cl)
	if err != nil || len(accts) == 0 {
		t.Fatalf("accounts %v %v", accts, err)
	}
	a := accts[0]
	if a.IBAN == "" || a.Currency.Code != "AED" || a.Type == "" {
		t.Errorf("account %+v", a)
	}
	bal, _, err := c.Balance(ctx, cl, a.ID)
	if err != nil || bal.Balance != a.Balance {
		t.Fatalf("balance %+v %v (accounts said %v)", bal, err, a.Balance)
	}
	now := time.Now().UTC()
	txs, _, err := c.Transactions(ctx, cl, a.ID, now.AddDate(0, 0, -90), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) <= 10 {
		t.Fatalf("%d transactions over 90 days: want more than a page of 10", len(txs))
	}
	for i := 1; i < len(txs); i++ {
		if txs[i].Date.Before(txs[i-1].Date) {
			t.Fatalf("transactions not oldest first at %d", i)
		}
	}
	if first := txs[0].Date; first.Before(now.AddDate(0, 0, -91)) {
		t.Errorf("a transaction of %v before the range", first)
	}
	if _, _, err := c.Balance(ctx, cl, "nope"); err == nil {
		t.Fatal("balance of an unknown account succeeded")
	} else {
		wantCode(t, err, bankgate.InvalidAccountID)
	}
}

func TestModelBankRotatesRefreshTokensAcrossInstances(t *testing.T) {
	// Access tokens live 30 s: the connector refreshes before every call
	// (it wants a minute left), and the bank rotates the refresh token.
	b, cfgs := startModelBankConfig(t, modelbank.Options{AccessTokenTTL: 30 * time.Second})
	store := memevents.New() // shared by the connectors of two instances
	c := openbanking.New(cfgs, openbanking.Options{Store: store})
	ctx := context.Background()
	res, _ := connect(t, b, c, modelbank.PSUs[1].Username, modelbank.PSUs[1].Password)
	cl := call(res, "conn-rot")
	for i := range 3 {
		if _, _, err := c.Accounts(ctx, cl); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Each read (accounts, then each balance) found less than a minute
	// left on its token and refreshed.
	evs, err := store.Events(ctx, "openbanking/conn-rot", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(evs); n < 3 {
		t.Fatalf("%d token events after 3 calls that each refreshed", n)
	}
	for _, e := range evs {
		if strings.Contains(string(e.Body), "refresh") {
			t.Fatal("a token event is not sealed")
		}
	}
	// The session's own refresh token is spent: another instance, with
	// nothing in memory, must find the rotated one in the store.
	other := openbanking.New(cfgs, openbanking.Options{Store: store})
	if _, _, err := other.Accounts(ctx, cl); err != nil {
		t.Fatalf("another instance: %v", err)
	}
	// Without the store's events, the session's refresh token alone is
	// refused: the bank did rotate it.
	lone := openbanking.New(cfgs, openbanking.Options{})
	_, _, err = lone.Accounts(ctx, cl)
	wantCode(t, err, bankgate.SessionInvalidated)
}

func TestModelBankConsentEnds(t *testing.T) {
	b, c := startModelBank(t, modelbank.Options{})
	ctx := context.Background()
	psu := modelbank.PSUs[0]

	t.Run("expired", func(t *testing.T) {
		res, _ := connect(t, b, c, psu.Username, psu.Password)
		cl := call(res, "conn-exp")
		if _, _, err := c.Accounts(ctx, cl); err != nil {
			t.Fatal(err)
		}
		ids := b.Consents()
		b.ExpireConsent(ids[len(ids)-1])
		_, _, err := c.Accounts(ctx, cl)
		wantCode(t, err, bankgate.SessionExpired)
	})
	t.Run("revoked refresh token", func(t *testing.T) {
		b2, c2 := startModelBank(t, modelbank.Options{AccessTokenTTL: 30 * time.Second})
		res, _ := connect(t, b2, c2, psu.Username, psu.Password)
		cl := call(res, "conn-rt")
		ids := b2.Consents()
		b2.RevokeRefreshTokens(ids[len(ids)-1])
		_, _, err := c2.Accounts(ctx, cl)
		wantCode(t, err, bankgate.SessionInvalidated)
	})
	t.Run("delink revokes the consent", func(t *testing.T) {
		res, _ := connect(t, b, c, psu.Username, psu.Password)
		cl := call(res, "conn-del")
		ids := b.Consents()
		id := ids[len(ids)-1]
		if got := b.ConsentStatus(id); got != modelbank.StatusAuthorised {
			t.Fatalf("consent %s before delink", got)
		}
		if err := c.Delink(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if got := b.ConsentStatus(id); got != modelbank.StatusRevoked {
			t.Fatalf("consent %s after delink, want Revoked", got)
		}
		_, _, err := c.Accounts(ctx, cl)
		wantCode(t, err, bankgate.SessionInvalidated)
	})
}

func TestModelBankCallbackTampering(t *testing.T) {
	b, c := startModelBank(t, modelbank.Options{})
	ctx := context.Background()
	psu := modelbank.PSUs[0]
	begin := func() (*bank.RedirectStart, url.Values) {
		start, err := c.StartRedirect(ctx, bank.RedirectRequest{AppID: "app", BankID: modelbank.BankID, RedirectURI: redirectURI, State: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		return start, authorise(t, b, start.URL, psu.Username, psu.Password, "approve").Query()
	}
	finish := func(start *bank.RedirectStart, q url.Values) error {
		_, err := c.FinishRedirect(ctx, bank.RedirectFinish{AppID: "app", BankID: modelbank.BankID, State: start.State, Query: q})
		return err
	}
	with := func(q url.Values, k, v string) url.Values {
		q2 := url.Values{}
		for kk, vv := range q {
			q2[kk] = vv
		}
		if v == "" {
			delete(q2, k)
		} else {
			q2.Set(k, v)
		}
		return q2
	}
	start, q := begin()
	wantCode(t, finish(start, with(q, "state", "s2")), bankgate.ParameterError)
	wantCode(t, finish(start, with(q, "iss", "https://evil.example")), bankgate.ParameterError)
	wantCode(t, finish(start, with(q, "iss", "")), bankgate.ParameterError)
	if err := finish(start, q); err != nil {
		t.Fatalf("the untampered callback after refused ones: %v", err)
	}
	wantCode(t, finish(start, q), bankgate.ParameterError) // the code again

	// Another login's code, with this login's state: PKCE refuses it.
	other, q2 := begin()
	_ = other
	wantCode(t, finish(start, q2), bankgate.ParameterError)

	// The PSU denies.
	start3, err := c.StartRedirect(ctx, bank.RedirectRequest{AppID: "app", BankID: modelbank.BankID, RedirectURI: redirectURI, State: "s3"})
	if err != nil {
		t.Fatal(err)
	}
	q3 := authorise(t, b, start3.URL, psu.Username, psu.Password, "deny").Query()
	if q3.Get("error") != "access_denied" {
		t.Fatalf("deny answered %v", q3)
	}
	wantCode(t, finish(start3, q3), bankgate.InvalidCredentials)
}
