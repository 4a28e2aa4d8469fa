package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bankgate/bankgate/modelbank"
)

// TestBrowserConnectRedirectBank drives the Connect page in headless
// Chromium through a login at the model bank: the user picks the bank,
// continues to it, signs in and approves on the bank's own pages, comes
// back through /connect/callback to the Connect page, which finishes the
// login and hands the app its result at its registered redirect URI.
func TestBrowserConnectRedirectBank(t *testing.T) {
	// The model bank's certificate is from its own CA.
	browser := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	b, dir := startModelBank(t)
	ts := startServer(t, serverOpts{realClock: true, args: []string{"--banks-file", filepath.Join(dir, modelbank.FileBanks)}})
	appKey, appSecret := ts.newAppIn("Acme Budget", "production")
	app := startTestApp(t, ts.URL, appKey)
	callback := app.URL + "/callback"
	appsSet(t, ts, appKey, "--allowed-origin", app.URL, "--redirect-uri", callback)
	shots := newScreenshots(t)
	connectURL := ts.URL + "/connect?appKey=" + url.QueryEscape(appKey) + "&state=st-ob&clientUserID=browser-ob&redirectUri=" + url.QueryEscape(callback)
	bankSel := `button[data-bank-id="` + modelbank.BankID + `"]`
	who := modelbank.PSUs[1]

	tb := newTab(t, browser, 30*time.Second)
	tb.do("open Connect and pick the model bank",
		chromedp.Navigate(connectURL),
		chromedp.WaitVisible(chromedp.CSS(bankSel)),
		chromedp.Click(chromedp.CSS(bankSel)),
		chromedp.WaitVisible(chromedp.CSS("#bg-continue")),
	)
	if n := eval[int](tb, `document.querySelectorAll("#bg-username, #bg-password").length`); n != 0 {
		t.Fatalf("the Connect page asks a redirect bank's user for a password (%d fields)", n)
	}
	shots.take(tb, "ob-01-continue")
	tb.do("continue to the bank",
		chromedp.Click(chromedp.CSS("#bg-continue")),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	)
	if loc := eval[string](tb, `location.origin`); loc != b.Issuer() {
		t.Fatalf("at %s, want the bank %s", loc, b.Issuer())
	}
	shots.take(tb, "ob-02-bank-login")
	tb.do("sign in at the bank",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), who.Username),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), who.Password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name="decision"][value="approve"]`)),
	)
	shots.take(tb, "ob-03-bank-consent")
	tb.do("approve, come back and finish",
		chromedp.Click(chromedp.CSS(`button[name="decision"][value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS("#cb")),
	)
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	if !strings.HasPrefix(loc, callback+"#") {
		t.Fatalf("ended at %s, want %s#…", loc, callback)
	}
	f, _ := url.ParseQuery(u.Fragment)
	link := linkResult{AccessCode: f.Get("accessCode"), UserSecret: f.Get("userSecret"), ConnectionID: f.Get("connectionID"),
		UserID: f.Get("userID"), TokenID: f.Get("tokenID"), BankID: f.Get("bankID")}
	if link.BankID != modelbank.BankID || f.Get("state") != "st-ob" || link.AccessCode == "" || link.UserSecret == "" {
		t.Fatalf("fragment %q", u.Fragment)
	}
	usr := link.user()
	ex := ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": usr.AccessCode, "connectionID": usr.ConnectionID})
	wantOK(t, ex)
	if ex.str("clientUserID") != "browser-ob" {
		t.Fatalf("clientUserID %q: %s", ex.str("clientUserID"), ex.Raw)
	}
	usr.Token = ex.str("accessToken")
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, usr, nil))
	tb.checkClean([]string{ts.URL, app.URL, b.Issuer()})
}
