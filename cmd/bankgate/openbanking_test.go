package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bankgate/bankgate/modelbank"
)

// startModelBank runs `bankgate modelbank` in-process and returns the bank
// and the directory it wrote banks.yaml into.
func startModelBank(t *testing.T, args ...string) (*modelbank.Bank, string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *modelbank.Bank, 1)
	done := make(chan error, 1)
	var out, errb syncBuffer
	go func() {
		done <- cmdModelbank(ctx, append([]string{"--addr", "127.0.0.1:0", "--out", dir, "--log-level", "error"}, args...), &out, &errb,
			&modelbankHooks{Ready: func(b *modelbank.Bank) { ready <- b }})
	}()
	var b *modelbank.Bank
	select {
	case b = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("modelbank exited: %v\n%s", err, errb.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("modelbank not ready after 10s")
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return b, dir
}

// psu is the bank customer's browser, headless: it trusts the model
// bank's CA and follows no redirect by itself.
type psu struct {
	t  *testing.T
	hc *http.Client
}

func newPSU(t *testing.T, b *modelbank.Bank) *psu {
	return &psu{t: t, hc: &http.Client{Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.CAPool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

func (p *psu) send(req *http.Request) (*http.Response, string) {
	p.t.Helper()
	res, err := p.hc.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (p *psu) get(u string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return p.send(req)
}

// form submits a form of page to action, as a browser would.
func (p *psu) form(action string, v url.Values) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, _ := p.send(req)
	return res
}

// authorise signs in at the bank and decides on the consent; it returns
// the URL the bank sends the browser back to (bankgate's callback).
func (p *psu) authorise(b *modelbank.Bank, redirectURL, username, password, decision string) string {
	p.t.Helper()
	res, _ := p.get(redirectURL)
	if res.StatusCode != http.StatusFound {
		p.t.Fatalf("authorize: %s", res.Status)
	}
	res, page := p.get(b.Issuer() + res.Header.Get("Location"))
	m := formID.FindStringSubmatch(page)
	if res.StatusCode != 200 || m == nil || !strings.Contains(page, `name="username"`) || !strings.Contains(page, `name="password"`) {
		p.t.Fatalf("login page %s:\n%s", res.Status, page)
	}
	res = p.form(b.Issuer()+"/psu/login", url.Values{"id": {m[1]}, "username": {username}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		p.t.Fatalf("sign-in: %s", res.Status)
	}
	res, page = p.get(b.Issuer() + res.Header.Get("Location"))
	if !strings.Contains(page, `name="decision" value="approve"`) || !strings.Contains(page, `name="decision" value="deny"`) {
		p.t.Fatalf("consent page %s:\n%s", res.Status, page)
	}
	res = p.form(b.Issuer()+"/psu/consent", url.Values{"id": {m[1]}, "decision": {decision}})
	if res.StatusCode != http.StatusSeeOther {
		p.t.Fatalf("consent: %s", res.Status)
	}
	return res.Header.Get("Location")
}

// callback is the browser arriving at bankgate's callback.
func (p *psu) callback(u string) (int, string) {
	p.t.Helper()
	res, page := p.get(u)
	return res.StatusCode, page
}

// redirectLogin starts a Connect login at the model bank.
func redirectLogin(t *testing.T, ts *testServer, appKey string) (opID, redirectURL string) {
	t.Helper()
	r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": modelbank.BankID, "clientUserID": "cu-1"})
	if r.Status != 200 || r.Body["success"] != true || r.str("status") != "redirect_required" || r.str("operationID") == "" || r.str("redirectURL") == "" {
		t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	if _, ok := r.Body["accessCode"]; ok {
		t.Fatalf("an access code before the user authorised: %s", r.Raw)
	}
	return r.str("operationID"), r.str("redirectURL")
}

func resume(t *testing.T, ts *testServer, appKey, opID string) *resp {
	t.Helper()
	return ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": modelbank.BankID, "operationID": opID})
}

// connectAtModelBank runs a whole redirect login and the exchange.
func connectAtModelBank(t *testing.T, ts *testServer, b *modelbank.Bank, appKey, appSecret string, who modelbank.PSU) *user {
	t.Helper()
	opID, redirectURL := redirectLogin(t, ts, appKey)
	p := newPSU(t, b)
	back := p.authorise(b, redirectURL, who.Username, who.Password, "approve")
	if status, page := p.callback(back); status != 200 {
		t.Fatalf("callback %d:\n%s", status, page)
	}
	r := resume(t, ts, appKey, opID)
	wantOK(t, r)
	u := connected(t, r)
	ts.exchange(appSecret, u)
	return u
}

func TestOpenBankingModelBank(t *testing.T) {
	b, dir := startModelBank(t, "--page-size", "10")
	ts := startServer(t, serverOpts{realClock: true, args: []string{"--banks-file", filepath.Join(dir, modelbank.FileBanks)}})
	appKey, appSecret := ts.newAppIn("fintech", "production")
	sbKey, _ := ts.newAppIn("tests", "sandbox")
	who := modelbank.PSUs[0]

	// The bank is a production bank.
	banks := ts.post("/v2/connect/banks/get", "", map[string]any{"appKey": appKey})
	wantOK(t, banks)
	if !strings.Contains(banks.Raw, modelbank.BankID) {
		t.Fatalf("banks/get of a production app lacks the model bank: %s", banks.Raw)
	}
	wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": sbKey, "bankID": modelbank.BankID}), 400, "INVALID_BANK_ID")

	opID, redirectURL := redirectLogin(t, ts, appKey)
	if !strings.HasPrefix(redirectURL, b.Issuer()+"/authorize?") || !strings.Contains(redirectURL, "request_uri=") {
		t.Fatalf("redirectURL %s", redirectURL)
	}
	// Before the user is back: redirect_required again.
	if r := resume(t, ts, appKey, opID); r.str("status") != "redirect_required" || r.str("redirectURL") != redirectURL {
		t.Fatalf("resume before the callback: %s", r.Raw)
	}
	p := newPSU(t, b)
	back := p.authorise(b, redirectURL, who.Username, who.Password, "approve")
	if !strings.HasPrefix(back, ts.URL+"/connect/callback?") {
		t.Fatalf("the bank sent the user to %s", back)
	}
	cb, _ := url.Parse(back)
	q := cb.Query()
	if q.Get("iss") != b.Issuer() || q.Get("code") == "" || !strings.HasPrefix(q.Get("state"), opID+".") {
		t.Fatalf("callback query %v", q)
	}
	tamper := func(k, v string) string {
		q2 := url.Values{}
		for kk, vv := range q {
			q2[kk] = vv
		}
		q2.Set(k, v)
		return ts.URL + "/connect/callback?" + q2.Encode()
	}
	for name, u := range map[string]string{
		"another state":     tamper("state", opID+".0000"),
		"an unknown state":  tamper("state", "nope"),
		"another issuer":    tamper("iss", "https://evil.example"),
		"another bank code": tamper("code", "forged"),
	} {
		if status, _ := p.callback(u); status != 400 {
			t.Errorf("callback with %s: %d, want 400", name, status)
		}
	}
	if r := resume(t, ts, appKey, opID); r.str("status") != "redirect_required" {
		t.Fatalf("resume after refused callbacks: %s", r.Raw)
	}
	if status, page := p.callback(back); status != 200 || !strings.Contains(page, "Your bank approved the connection") {
		t.Fatalf("callback %d:\n%s", status, page)
	}
	if status, _ := p.callback(back); status != 400 {
		t.Errorf("the callback again (code reuse): %d, want 400", status)
	}
	r := resume(t, ts, appKey, opID)
	wantOK(t, r)
	u := connected(t, r)
	if r.str("bankID") != modelbank.BankID {
		t.Errorf("bankID %s", r.Raw)
	}
	// The connection is handed over once.
	wantFail(t, resume(t, ts, appKey, opID), 400, "INVALID_OPERATION_ID")
	ts.exchange(appSecret, u)

	id := ts.data("/v2/data/identity/get", appSecret, u, nil)
	wantOK(t, id)
	if name, _ := id.Body["identity"].(map[string]any)["name"].(string); name == "" {
		t.Fatalf("identity %s", id.Raw)
	}
	accts := ts.data("/v2/data/accounts/get", appSecret, u, nil)
	wantOK(t, accts)
	list, _ := accts.Body["accounts"].([]any)
	if len(list) == 0 {
		t.Fatalf("accounts %s", accts.Raw)
	}
	acc := list[0].(map[string]any)
	accID, _ := acc["id"].(string)
	bal := ts.data("/v2/data/balance/get", appSecret, u, map[string]any{"accountID": accID})
	wantOK(t, bal)
	if _, ok := bal.Body["balance"].(map[string]any)["amount"].(float64); !ok {
		t.Fatalf("balance %s", bal.Raw)
	}
	now := time.Now().UTC()
	txs := ts.data("/v2/data/transactions/get", appSecret, u, map[string]any{"accountID": accID,
		"fromDate": now.AddDate(0, 0, -60).Format("2006-01-02"), "toDate": now.Format("2006-01-02")})
	wantOK(t, txs)
	if n := len(txs.Body["transactions"].([]any)); n <= 20 {
		t.Fatalf("%d transactions over 60 days: want more than two pages of 10", n)
	}

	// Payments, cards and metadata are not offered for these banks yet.
	for _, path := range []string{"/v2/payment/beneficiaries/get", "/v2/data/cards/get", "/v2/metadata/accounts/get"} {
		wantFail(t, ts.data(path, appSecret, u, nil), 501, "NOT_IMPLEMENTED")
	}
	wantFail(t, ts.data("/v2/payment/transfer/create", appSecret, u, map[string]any{"senderID": accID, "amount": 10,
		"receiverID": "b1"}), 501, "NOT_IMPLEMENTED")

	// Delink revokes the consent at the bank.
	consent := b.Consents()[len(b.Consents())-1]
	if got := b.ConsentStatus(consent); got != modelbank.StatusAuthorised {
		t.Fatalf("consent %s", got)
	}
	wantOK(t, ts.data("/v2/users/DelinkUser", appSecret, u, nil))
	if got := b.ConsentStatus(consent); got != modelbank.StatusRevoked {
		t.Fatalf("consent %s after delink, want Revoked", got)
	}
	wantFail(t, ts.data("/v2/data/accounts/get", appSecret, u, nil), 401, "USER_DELINKED")

	// An expired consent.
	u2 := connectAtModelBank(t, ts, b, appKey, appSecret, modelbank.PSUs[1])
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u2, nil))
	b.ExpireConsent(b.Consents()[len(b.Consents())-1])
	wantFail(t, ts.data("/v2/data/accounts/get", appSecret, u2, nil), 401, "SESSION_EXPIRED")

	// A login the Connect page started (returnQuery): the callback sends
	// the user back to the page, which resumes it.
	bad := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": modelbank.BankID, "returnQuery": "?appKey=someone-else"})
	wantFail(t, bad, 400, "PARAMETER_ERROR")
	r = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": modelbank.BankID, "returnQuery": "?appKey=" + url.QueryEscape(appKey) + "&state=s1"})
	if r.str("status") != "redirect_required" {
		t.Fatalf("login from the Connect page: %s", r.Raw)
	}
	back = newPSU(t, b).authorise(b, r.str("redirectURL"), who.Username, who.Password, "approve")
	res, _ := p.get(back)
	wantLoc := "/connect?appKey=" + url.QueryEscape(appKey) + "&state=s1#bg-resume=" + url.QueryEscape(r.str("operationID")) + "&bank=" + modelbank.BankID
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != wantLoc {
		t.Fatalf("callback of a Connect page login: %s to %q, want 303 to %q", res.Status, res.Header.Get("Location"), wantLoc)
	}
	wantOK(t, resume(t, ts, appKey, r.str("operationID")))

	// The user refuses at the bank.
	opID, redirectURL = redirectLogin(t, ts, appKey)
	back = newPSU(t, b).authorise(b, redirectURL, who.Username, who.Password, "deny")
	if status, page := p.callback(back); status != 400 || !strings.Contains(page, "You did not approve access") {
		t.Fatalf("callback after deny %d:\n%s", status, page)
	}
	wantFail(t, resume(t, ts, appKey, opID), 401, "INVALID_CREDENTIALS")
}

func TestOpenBankingRevokedRefreshToken(t *testing.T) {
	// Access tokens live 30 s: every call refreshes first.
	b, dir := startModelBank(t, "--access-token-ttl", "30s")
	ts := startServer(t, serverOpts{realClock: true, args: []string{"--banks-file", filepath.Join(dir, modelbank.FileBanks)}})
	appKey, appSecret := ts.newAppIn("fintech", "production")
	u := connectAtModelBank(t, ts, b, appKey, appSecret, modelbank.PSUs[0])
	for range 2 {
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
	}
	b.RevokeRefreshTokens(b.Consents()[len(b.Consents())-1])
	wantFail(t, ts.data("/v2/data/accounts/get", appSecret, u, nil), 401, "SESSION_INVALIDATED")
}
