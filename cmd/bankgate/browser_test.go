package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// testAppPage is an app's web page that embeds Connect with connect.js and
// records the callbacks in window.__result.
const testAppPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Budget</title><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1d2939; background: #fbfaf7; }
header { padding: 18px 40px; background: #14532d; color: #fff; font-weight: 700; font-size: 20px; }
main { padding: 40px; max-width: 720px; }
button { font: inherit; padding: 12px 20px; border-radius: 8px; border: 0; background: #15803d; color: #fff; cursor: pointer; }
</style></head>
<body><header>Acme Budget</header><main>
<h1>See all your spending in one place</h1>
<p>Link your bank account to import your balances and transactions.</p>
<button id="connect" type="button">Connect your bank</button>
</main>
<script src="%s/connect.js"></script>
<script>
window.__result = { events: [], link: null, errors: [] };
var q = new URLSearchParams(location.search);
var handler = Bankgate.create({
  appKey: %s, environment: "sandbox", countries: ["AE", "SA"], clientUserID: "browser-test-user", state: "st-modal-42", mode: %s,
  locale: q.get("locale") || undefined, theme: q.get("theme") || undefined,
  onReady: function () { __result.events.push("ready"); },
  onSuccessfulLogin: function (link) { __result.events.push("link"); __result.link = link; },
  onFailedLogin: function (err) { __result.events.push("error"); __result.errors.push(err); },
  onExit: function () { __result.events.push("exit"); }
});
document.getElementById("connect").addEventListener("click", function () { handler.open(); });
</script></body></html>`

// startTestApp serves the app's page (/?mode=modal|popup, with optional
// locale and theme for connect.js) and its redirect
// target (/callback) from another origin on 127.0.0.1.
func startTestApp(t *testing.T, bankgateURL, appKey string) *httptest.Server {
	t.Helper()
	key, _ := json.Marshal(appKey)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			mode, _ := json.Marshal(r.URL.Query().Get("mode"))
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, testAppPage, bankgateURL, key, mode)
		case "/callback":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!doctype html><html><head><meta charset="utf-8"><title>Callback</title><link rel="icon" href="data:,"></head><body><p id="cb">Back at Acme Budget</p></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// appsSet runs `bankgate apps set` against the server's data directory.
func appsSet(t *testing.T, ts *testServer, appKey string, args ...string) {
	t.Helper()
	var out, errb syncBuffer
	all := append([]string{"apps", "set", "--app-key", appKey, "--data-dir", ts.DataDir}, args...)
	if err := run(context.Background(), all, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("apps set: %v\n%s", err, errb.String())
	}
}

// linkResult is what onSuccessfulLogin received.
type linkResult struct {
	AccessCode   string `json:"accessCode"`
	UserSecret   string `json:"userSecret"`
	ConnectionID string `json:"connectionID"`
	UserID       string `json:"userID"`
	TokenID      string `json:"tokenID"`
	BankID       string `json:"bankID"`
	State        string `json:"state"`
}

func (l linkResult) user() *user {
	return &user{AccessCode: l.AccessCode, UserSecret: l.UserSecret, ConnectionID: l.ConnectionID, UserID: l.UserID, TokenID: l.TokenID}
}

// Expected failed requests: the API answers a wrong password 401 and a
// refused page 400, and Chromium logs both.
const (
	allowLogin401  = "/v2/connect/login"
	allowRefused   = "status of 400"
	sandboxENBDSel = `button[data-bank-id="SANDBOX_AE_ENBD"]`
)

// TestBrowserConnect drives the Connect page and connect.js in headless
// Chromium against the real server: an app's page opens the modal, the user
// picks the sandbox bank, logs in with an OTP, and the app receives the link
// message and exchanges its access code; a wrong password shows the bank's
// message; redirect URIs must be registered; the page works with the
// keyboard alone and at phone width.
func TestBrowserConnect(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("Acme Budget")
	app := startTestApp(t, ts.URL, appKey)
	callback := app.URL + "/callback"
	appsSet(t, ts, appKey, "--allowed-origin", app.URL, "--redirect-uri", callback)
	ts.Clock.Advance(2 * time.Second)
	origins := []string{ts.URL, app.URL}
	shots := newScreenshots(t)
	connectURL := func(extra string) string {
		return ts.URL + "/connect?appKey=" + url.QueryEscape(appKey) + "&environment=sandbox&countries=AE,SA" + extra
	}

	// openModal loads the app's page, opens Connect and returns the
	// query option that reaches into the iframe.
	openModal := func(tb *tab) (chromedp.QueryOption, *chromedp.Node) {
		tb.t.Helper()
		tb.do("open the app page", chromedp.Navigate(app.URL+"/?mode=modal"), chromedp.Click(chromedp.CSS("#connect")))
		poll[bool](tb, "onReady", `__result.events.indexOf("ready") >= 0`)
		nodes, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS(`iframe[data-bankgate="frame"]`)))
		if err != nil || len(nodes) != 1 {
			tb.t.Fatalf("Connect iframe: %v (%d nodes)", err, len(nodes))
		}
		in := chromedp.FromNode(nodes[0])
		tb.do("bank list", chromedp.WaitVisible(chromedp.CSS(sandboxENBDSel), in))
		return in, nodes[0]
	}

	t.Run("modal MFA login hands the link to the app", func(t *testing.T) {
		tb := newTab(t, browser, 20*time.Second)
		in, frame := openModal(tb)
		shots.take(tb, "01-bank-list")

		tb.do("pick the bank", chromedp.Click(chromedp.CSS(sandboxENBDSel), in), chromedp.WaitVisible(chromedp.CSS("#bg-username"), in))
		shots.take(tb, "02-login-form")
		tb.do("log in",
			chromedp.SendKeys(chromedp.CSS("#bg-username"), "user_mfa", in),
			chromedp.SendKeys(chromedp.CSS("#bg-password"), "pass_good", in),
			chromedp.Click(chromedp.CSS("#bg-submit"), in),
			chromedp.WaitVisible(chromedp.CSS("#bg-in-0"), in),
		)
		label, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(`label[for="bg-in-0"]`), in))
		if err != nil || strings.TrimSpace(label) == "" {
			t.Fatalf("OTP field has no label: %q %v", label, err)
		}
		focused := poll[string](tb, "focus on the OTP step heading", `document.activeElement && document.activeElement.tagName === "H1" && document.activeElement.textContent`, chromedp.WithPollingInFrame(frame))
		if !strings.Contains(focused, "Verify") {
			t.Errorf("focus after login is on %q, want the step heading", focused)
		}
		shots.take(tb, "03-otp-prompt")
		tb.do("answer the OTP",
			chromedp.SendKeys(chromedp.CSS("#bg-in-0"), "123456", in),
			chromedp.Click(chromedp.CSS("#bg-submit"), in),
			chromedp.WaitVisible(chromedp.CSS("#bg-success"), in),
		)
		shots.take(tb, "04-success-modal")

		raw := poll[json.RawMessage](tb, "the link message", `__result.link`)
		var link linkResult
		if err := json.Unmarshal(raw, &link); err != nil {
			t.Fatal(err)
		}
		if link.BankID != sandboxBank || link.AccessCode == "" || link.UserSecret == "" || link.ConnectionID == "" || link.UserID == "" || link.TokenID == "" || link.State != "st-modal-42" {
			t.Fatalf("link = %+v", link)
		}
		poll[bool](tb, "the modal to close", `!document.querySelector("[data-bankgate]")`)
		if events := eval[[]string](tb, `__result.events`); strings.Join(events, ",") != "ready,link" {
			t.Errorf("callbacks = %v, want ready,link", events)
		}
		if overflow := eval[string](tb, `document.documentElement.style.overflow`); overflow != "" {
			t.Errorf("page scroll not restored: overflow=%q", overflow)
		}

		// The app backend exchanges the access code, checks the end user
		// it gets back is the one it opened Connect for, and reads
		// accounts.
		u := link.user()
		ex := ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
		wantOK(t, ex)
		if ex.str("clientUserID") != "browser-test-user" {
			t.Fatalf("ExchangeToken clientUserID = %q, want the one given to Connect: %s", ex.str("clientUserID"), ex.Raw)
		}
		u.Token = ex.str("accessToken")
		r := ts.data("/v2/data/accounts/get", appSecret, u, nil)
		wantOK(t, r)
		if accts, _ := r.Body["accounts"].([]any); len(accts) == 0 {
			t.Fatalf("no accounts: %s", r.Raw)
		}
		tb.checkClean(origins)
	})

	t.Run("popup with two user inputs", func(t *testing.T) {
		tb := newTab(t, browser, 20*time.Second)
		tb.do("open the app page", chromedp.Navigate(app.URL+"/?mode=popup"))
		opened := chromedp.WaitNewTarget(tb.ctx, func(i *target.Info) bool { return strings.HasPrefix(i.URL, ts.URL+"/connect") })
		tb.do("open Connect in a popup", chromedp.Click(chromedp.CSS("#connect")))
		var id target.ID
		select {
		case id = <-opened:
		case <-tb.ctx.Done():
			t.Fatal("no popup opened")
		}
		popCtx, cancel := chromedp.NewContext(tb.ctx, chromedp.WithTargetID(id))
		defer cancel()
		pop := &tab{t: t, ctx: popCtx}
		pop.do("log in",
			chromedp.WaitVisible(chromedp.CSS(sandboxENBDSel)),
			chromedp.Click(chromedp.CSS(sandboxENBDSel)),
			chromedp.WaitVisible(chromedp.CSS("#bg-username")),
			chromedp.SendKeys(chromedp.CSS("#bg-username"), "user_multi_mfa"),
			chromedp.SendKeys(chromedp.CSS("#bg-password"), "pass_good"),
			chromedp.Click(chromedp.CSS("#bg-submit")),
			chromedp.WaitVisible(chromedp.CSS("#bg-in-1")),
			chromedp.SendKeys(chromedp.CSS("#bg-in-0"), "sandbox"),
			chromedp.SendKeys(chromedp.CSS("#bg-in-1"), "1234"),
			chromedp.Click(chromedp.CSS("#bg-submit")),
		)
		raw := poll[json.RawMessage](tb, "the link message from the popup", `__result.link`)
		var link linkResult
		if err := json.Unmarshal(raw, &link); err != nil || link.AccessCode == "" {
			t.Fatalf("link = %s (%v)", raw, err)
		}
		poll[bool](tb, "the popup to close", `__result.events.join() === "ready,link"`)
		u := link.user()
		ts.exchange(appSecret, u)
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
		tb.checkClean(origins)
	})

	t.Run("wrong password shows the error and reports it", func(t *testing.T) {
		tb := newTab(t, browser, 20*time.Second)
		in, frame := openModal(tb)
		tb.do("log in with a wrong password",
			chromedp.Click(chromedp.CSS(sandboxENBDSel), in),
			chromedp.WaitVisible(chromedp.CSS("#bg-username"), in),
			chromedp.SendKeys(chromedp.CSS("#bg-username"), "user_good", in),
			chromedp.SendKeys(chromedp.CSS("#bg-password"), "not-the-password", in),
			chromedp.Click(chromedp.CSS("#bg-submit"), in),
			chromedp.WaitVisible(chromedp.CSS("#bg-error"), in),
		)
		shots.take(tb, "05-error-wrong-password")
		raw := poll[json.RawMessage](tb, "onFailedLogin", `__result.errors.length && __result.errors[0]`)
		var failed struct{ Type, Msg string }
		json.Unmarshal(raw, &failed)
		if failed.Type != "INVALID_CREDENTIALS" || failed.Msg == "" {
			t.Fatalf("onFailedLogin got %s", raw)
		}
		// The user reads what to do; the developer's message went to the
		// app in onFailedLogin.
		shown, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS("#bg-error"), in))
		if err != nil || !strings.Contains(shown, "Incorrect username or password") || !strings.Contains(shown, "Check them and try again.") ||
			strings.Contains(shown, failed.Msg) {
			t.Errorf("page shows %q (%v), want the end-user words, not the developer's message %q", shown, err, failed.Msg)
		}
		role, _ := chromedp.Run(tb.ctx, chromedp.AttributeValue(chromedp.CSS("#bg-error"), "role", in))
		if role.Value != "alert" {
			t.Errorf("error box role = %q, want alert", role.Value)
		}
		poll[bool](tb, "focus on the error", `document.activeElement && document.activeElement.id === "bg-error"`, chromedp.WithPollingInFrame(frame))

		// Closing the page tells the app and removes the modal.
		tb.do("close", chromedp.Click(chromedp.CSS("#bg-close"), in))
		poll[bool](tb, "onExit", `__result.events.indexOf("exit") >= 0 && !document.querySelector("[data-bankgate]")`)
		if link := eval[bool](tb, `__result.link !== null`); link {
			t.Error("a failed login produced a link")
		}
		tb.checkClean(origins, allowLogin401)
	})

	t.Run("redirect URIs must be registered", func(t *testing.T) {
		// Refused over plain HTTP: no page, no script, a clear message.
		for _, bad := range []string{"https://evil.example/callback", callback + "/x", callback + "?a=1", strings.ToUpper(callback)} {
			res, err := http.Get(connectURL("&redirectUri=" + url.QueryEscape(bad)))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "<script") || !strings.Contains(string(body), "redirect") {
				t.Errorf("redirectUri %q: status %d, body %s", bad, res.StatusCode, body)
			}
		}

		tb := newTab(t, browser, 20*time.Second)
		resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(connectURL("&redirectUri="+url.QueryEscape("https://evil.example/callback"))))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusBadRequest {
			t.Errorf("refused page status %d", resp.Status)
		}
		title, _ := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS("h1")))
		if !strings.Contains(title, "not valid") {
			t.Errorf("refused page says %q", title)
		}
		shots.take(tb, "08-redirect-refused")

		// A registered redirect URI gets the result in the fragment.
		tb.do("log in with a registered redirect",
			chromedp.Navigate(connectURL("&state=st%2Fredirect%3D1&redirectUri="+url.QueryEscape(callback))),
			chromedp.Click(chromedp.CSS(sandboxENBDSel)),
			chromedp.WaitVisible(chromedp.CSS("#bg-username")),
			chromedp.SendKeys(chromedp.CSS("#bg-username"), "user_good"),
			chromedp.SendKeys(chromedp.CSS("#bg-password"), "pass_good"),
			chromedp.Click(chromedp.CSS("#bg-submit")),
			chromedp.WaitVisible(chromedp.CSS("#cb")),
		)
		loc, err := chromedp.Run(tb.ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(loc)
		if !strings.HasPrefix(loc, callback+"#") || u.RawQuery != "" {
			t.Fatalf("redirected to %s, want %s#…", loc, callback)
		}
		f, _ := url.ParseQuery(u.Fragment)
		link := linkResult{AccessCode: f.Get("accessCode"), UserSecret: f.Get("userSecret"), ConnectionID: f.Get("connectionID"),
			UserID: f.Get("userID"), TokenID: f.Get("tokenID"), BankID: f.Get("bankID")}
		if link.BankID != sandboxBank || f.Get("state") != "st/redirect=1" {
			t.Fatalf("fragment %q", u.Fragment)
		}
		usr := link.user()
		ts.exchange(appSecret, usr)
		wantOK(t, ts.data("/v2/data/identity/get", appSecret, usr, nil))
		tb.checkClean(origins, allowRefused)
	})

	t.Run("keyboard only", func(t *testing.T) {
		tb := newTab(t, browser, 20*time.Second)
		tb.do("open Connect", chromedp.Navigate(connectURL("")), chromedp.WaitVisible(chromedp.CSS(sandboxENBDSel)))
		focused := func() string {
			return eval[string](tb, `document.activeElement ? document.activeElement.id || document.activeElement.tagName : ""`)
		}
		if f := focused(); f != "H1" {
			t.Errorf("focus on load: %s, want the heading", f)
		}
		tb.do("search", chromedp.KeyEvent(kb.Tab))
		if f := focused(); f != "bg-search" {
			t.Fatalf("Tab from the heading went to %s, want the search box", f)
		}
		tb.do("filter", chromedp.KeyEvent("Emirates NBD"), chromedp.KeyEvent(kb.Tab))
		if id := eval[string](tb, `document.activeElement.getAttribute("data-bank-id") || ""`); id != sandboxBank {
			t.Fatalf("Tab after searching went to %q, want the bank", id)
		}
		if outline := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
			t.Error("the focused bank has no visible focus outline")
		}
		tb.do("choose the bank", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#bg-username")))
		tb.do("to username", chromedp.KeyEvent(kb.Tab))
		if f := focused(); f != "bg-username" {
			t.Fatalf("Tab on the login step went to %s, want the username", f)
		}
		tb.do("type credentials", chromedp.KeyEvent("user_good"), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent("pass_good"))
		if f := focused(); f != "bg-password" {
			t.Fatalf("focus on %s, want the password", f)
		}
		tb.do("submit with Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#bg-success")))
		shots.take(tb, "04-success")
		tb.checkClean(origins)
	})

	t.Run("phone width", func(t *testing.T) {
		tb := newTab(t, browser, 20*time.Second)
		tb.do("open Connect at 360px",
			chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
			chromedp.Navigate(connectURL("")),
			chromedp.WaitVisible(chromedp.CSS(sandboxENBDSel)),
		)
		if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("bank list is %dpx wide at a 360px viewport", w)
		}
		shots.take(tb, "06-phone-360-bank-list")
		tb.do("login form", chromedp.Click(chromedp.CSS(sandboxENBDSel)), chromedp.WaitVisible(chromedp.CSS("#bg-username")))
		if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("login form is %dpx wide at a 360px viewport", w)
		}
		shots.take(tb, "07-phone-360-login")
		tb.checkClean(origins)
	})
}
