package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestAdminConsole drives the admin console in headless Chromium against
// the real server: sign in with the admin token, find a connection by
// clientUserID and revoke it, pull the kill switch after a confirmation
// that names the app and the count, and see both in the audit; with the
// keyboard alone and at 360 px too. With BANKGATE_SCREENSHOTS=1 the
// screenshots go to testdata/screenshots/admin-*.png.
func TestAdminConsole(t *testing.T) {
	browser := newBrowser(t)
	ts := startAdminServer(t, serverOpts{})
	shots := newScreenshots(t)
	origins := []string{ts.AdminURL}

	r := ts.admin("POST", "/admin/v1/apps", map[string]any{"name": "Acme Budget", "allowedOrigins": []string{"https://budget.example.com"}})
	wantAdmin(t, r, 201)
	appKey, appSecret := r.Body["app"].(map[string]any)["appKey"].(string), r.str("appSecret")
	wantAdmin(t, ts.admin("POST", "/admin/v1/apps", map[string]any{"name": "Payroll Pilot"}), 201)
	users := map[string]*user{}
	for _, cu := range []string{"alice", "bob", "carol"} {
		r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_good", "password": "pass_good", "clientUserID": cu})
		wantOK(t, r)
		u := connected(t, r)
		ts.exchange(appSecret, u)
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
		users[cu] = u
		ts.Clock.Advance(time.Minute)
	}
	ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_good", "password": "wrong"})

	t.Run("sign in, revoke a connection, kill switch, audit", func(t *testing.T) {
		tb := newTab(t, browser, 40*time.Second)
		tb.do("open the console", chromedp.Navigate(ts.AdminURL+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#token")))
		shots.take(tb, "admin-01-sign-in")
		tb.do("a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "bgadm_not-the-token-0000000000000000000000"),
			chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#signin-error")))
		if msg := eval[string](tb, `document.getElementById("signin-error").textContent`); !strings.Contains(msg, "not the admin token") {
			t.Fatalf("wrong token says %q", msg)
		}
		tb.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken),
			chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#apps-table")))
		if eval[string](tb, `document.cookie`) != "" || eval[int](tb, `localStorage.length + sessionStorage.length`) != 0 {
			t.Fatal("the console stored something in a cookie or in storage")
		}
		shots.take(tb, "admin-02-apps")

		tb.do("open the app", chromedp.Click(chromedp.CSS(`a[data-app-key="`+appKey+`"]`)), chromedp.WaitVisible(chromedp.CSS("#kill")))
		shots.take(tb, "admin-03-app")
		tb.do("its connections", chromedp.Click(chromedp.CSS("#connections-link")), chromedp.WaitVisible(chromedp.CSS("#connections-table")))
		if n := eval[int](tb, `document.querySelectorAll("#connections-table tbody tr").length`); n != 3 {
			t.Fatalf("%d connections listed, want 3", n)
		}
		tb.do("search by clientUserID", chromedp.SendKeys(chromedp.CSS("#f-client"), "bob"), chromedp.Click(chromedp.CSS("#f-search")))
		poll[bool](tb, "only bob listed", `document.querySelectorAll("#connections-table tbody tr").length === 1 && !!document.querySelector('tr[data-client-user-id="bob"]')`)
		shots.take(tb, "admin-04-connections-search")
		tb.do("revoke bob", chromedp.Click(chromedp.CSS(`button[data-revoke="`+users["bob"].ConnectionID+`"]`)), chromedp.WaitVisible(chromedp.CSS("#d-reason")),
			chromedp.SendKeys(chromedp.CSS("#d-reason"), "lost phone"))
		shots.take(tb, "admin-05-revoke-confirm")
		tb.do("confirm", chromedp.Click(chromedp.CSS("#dialog-ok")))
		poll[bool](tb, "bob revoked", `!!document.querySelector('tr[data-client-user-id="bob"] .badge.revoked')`)
		wantFail(t, ts.data("/v2/data/accounts/get", appSecret, users["bob"], nil), 401, "INVALID_TOKEN")
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, users["alice"], nil))

		tb.do("back to the app", chromedp.Navigate(ts.AdminURL+"/admin/#/apps/"+appKey), chromedp.WaitVisible(chromedp.CSS("#kill")))
		tb.do("kill switch", chromedp.Click(chromedp.CSS("#kill")), chromedp.WaitVisible(chromedp.CSS("#kill-summary")))
		summary := eval[string](tb, `document.getElementById("kill-summary").textContent + " | " + document.getElementById("dialog-ok").textContent`)
		if !strings.Contains(summary, "Acme Budget") || !strings.Contains(summary, "all 2 unrevoked tokens") || !strings.Contains(summary, "Revoke 2 tokens") {
			t.Fatalf("kill switch confirmation says %q; want the app's name and the count", summary)
		}
		tb.do("give a reason", chromedp.SendKeys(chromedp.CSS("#d-reason"), "backend compromised"))
		shots.take(tb, "admin-06-kill-switch-confirm")
		tb.do("confirm", chromedp.Click(chromedp.CSS("#dialog-ok")))
		poll[bool](tb, "revoked message", `(document.getElementById("status").textContent || "").includes("Revoked 2 tokens of Acme Budget")`)
		shots.take(tb, "admin-07-kill-switch-done")
		for _, cu := range []string{"alice", "carol"} {
			wantFail(t, ts.data("/v2/data/accounts/get", appSecret, users[cu], nil), 401, "INVALID_TOKEN")
		}

		tb.do("the app's audit", chromedp.Click(chromedp.CSS("#audit-link")), chromedp.WaitVisible(chromedp.CSS("#audit-table")))
		types := eval[[]string](tb, `Array.from(document.querySelectorAll("#audit-table tbody tr")).map(r => r.dataset.eventType)`)
		if len(types) < 2 || types[0] != "tokens_revoked" || !contains(types, "connection_revoked") || !contains(types, "login_failed") {
			t.Fatalf("audit rows = %v; want tokens_revoked first, connection_revoked and login_failed", types)
		}
		text := eval[string](tb, `document.getElementById("audit-table").textContent`)
		if !strings.Contains(text, `reason="backend compromised"`) || !strings.Contains(text, "admin="+adminTokenID(testAdminToken)) {
			t.Fatalf("audit lacks the reason or the admin token ID: %s", text)
		}
		shots.take(tb, "admin-08-audit")
		tb.do("filter by type", chromedp.SetValue(chromedp.CSS("#a-type"), "connection_revoked"), chromedp.Click(chromedp.CSS("#a-search")))
		poll[bool](tb, "one connection_revoked row", `document.querySelectorAll("#audit-table tbody tr").length === 1 && document.querySelector("#audit-table tbody tr").dataset.eventType === "connection_revoked"`)

		tb.do("requests", chromedp.Click(chromedp.CSS(`a[data-nav="requests"]`)), chromedp.WaitVisible(chromedp.CSS("#requests-chart")))
		if n := eval[int](tb, `document.querySelectorAll("#requests-chart .bar-row").length`); n == 0 {
			t.Fatal("empty requests chart")
		}
		shots.take(tb, "admin-09-requests")
		tb.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#token")))
		if eval[bool](tb, `!!document.getElementById("apps-table")`) {
			t.Fatal("data left on the page after signing out")
		}
		tb.checkClean(origins, "status of 401")
	})

	t.Run("keyboard only", func(t *testing.T) {
		tb := newTab(t, browser, 30*time.Second)
		tb.do("open the console", chromedp.Navigate(ts.AdminURL+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#token")))
		focused := func() string {
			return eval[string](tb, `(function (e) { return e ? (e.id || e.getAttribute("data-app-key") && "app:" + e.textContent || e.tagName) : "" })(document.activeElement)`)
		}
		if f := focused(); f != "token" {
			t.Fatalf("focus on load: %s, want the token field", f)
		}
		tb.do("type the token and Enter", chromedp.KeyEvent(testAdminToken), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#apps-table")))
		// Tab from the heading to the first app.
		tabTo := func(want string, max int) {
			t.Helper()
			for range max {
				tb.do("Tab", chromedp.KeyEvent(kb.Tab))
				if f := focused(); f == want {
					if outline := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
						t.Errorf("%s has no visible focus outline", want)
					}
					return
				}
			}
			t.Fatalf("%d Tabs did not reach %s (at %s)", max, want, focused())
		}
		tabTo("app:Acme Budget", 10)
		tb.do("open with Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#kill")))
		tabTo("kill", 10)
		tb.do("open the kill switch", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#kill-summary")))
		if f := focused(); f != "d-reason" {
			t.Fatalf("focus in the dialog: %s, want the reason", f)
		}
		tb.do("Escape closes it", chromedp.KeyEvent(kb.Escape))
		poll[bool](tb, "dialog closed", `!document.getElementById("dialog").open`)
		if f := focused(); f != "kill" {
			t.Fatalf("focus after Escape: %s, want back on the kill switch button", f)
		}
		tabTo("rotate", 5)
		tb.do("rotate with overlap", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#d-overlap")),
			chromedp.KeyEvent("24h"), chromedp.KeyEvent(kb.Enter))
		poll[bool](tb, "new secret shown", `!!document.getElementById("new-secret")`)
		sec := eval[string](tb, `document.getElementById("new-secret").textContent`)
		if !strings.HasPrefix(sec, "bgas_") {
			t.Fatalf("new secret %q", sec)
		}
		// Both secrets work during the overlap.
		fresh := ts.login(appKey, "user_good")
		ts.exchange(appSecret, fresh)
		wantOK(t, ts.data("/v2/data/accounts/get", sec, fresh, nil))
		tb.checkClean(origins)
	})

	t.Run("phone width", func(t *testing.T) {
		tb := newTab(t, browser, 30*time.Second)
		tb.do("open at 360px",
			chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
			chromedp.Navigate(ts.AdminURL+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#token")),
			chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken), chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#apps-table")))
		wide := func(what string) {
			t.Helper()
			if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
				t.Errorf("%s is %dpx wide at a 360px viewport", what, w)
			}
		}
		wide("the apps page")
		shots.take(tb, "admin-10-phone-360-apps")
		tb.do("connections", chromedp.Navigate(ts.AdminURL+"/admin/#/apps/"+appKey+"/connections"), chromedp.WaitVisible(chromedp.CSS("#conn-filters")))
		wide("the connections page")
		shots.take(tb, "admin-11-phone-360-connections")
		tb.do("app", chromedp.Navigate(ts.AdminURL+"/admin/#/apps/"+appKey), chromedp.WaitVisible(chromedp.CSS("#kill")))
		wide("the app page")
		tb.do("kill switch", chromedp.Click(chromedp.CSS("#kill")), chromedp.WaitVisible(chromedp.CSS("#kill-summary")))
		wide("the kill switch dialog")
		shots.take(tb, "admin-12-phone-360-kill-switch")
		tb.checkClean(origins)
	})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
