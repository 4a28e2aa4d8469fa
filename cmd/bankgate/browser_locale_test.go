package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// updateScreenshots rewrites the Connect page's screenshots, their contact
// sheet and the accessibility report in docs/screenshots (see
// scripts/screenshots.sh).
var updateScreenshots = flag.Bool("update-screenshots", false, "rewrite the Connect screenshots in docs/screenshots")

// screenshotDir is where -update-screenshots writes, from cmd/bankgate.
const screenshotDir = "../../docs/screenshots"

// axeScript is axe-core, installed from npm by `npm ci --prefix
// cmd/bankgate/testdata/axe` (.ci/run does it).
const axeScript = "testdata/axe/node_modules/axe-core/axe.min.js"

// axeSource returns axe-core's script. Without it the test fails when
// browser tests are required (CI), else it is skipped.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(axeScript)
	if err != nil {
		msg := fmt.Sprintf("axe-core is not installed (%v): run npm ci --prefix cmd/bankgate/testdata/axe", err)
		if os.Getenv("BANKGATE_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return string(b)
}

// axeViolation is one rule axe-core found broken, with the nodes that
// break it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// runAxe runs axe-core on the tab's page (injecting it on first use in a
// document) and returns its violations.
func runAxe(tb *tab, src string) []axeViolation {
	tb.t.Helper()
	if !eval[bool](tb, `typeof window.axe === "object"`) {
		if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			tb.t.Fatalf("inject axe-core: %v", err)
		}
	}
	raw, err := chromedp.Run(tb.ctx, chromedp.Evaluate[json.RawMessage](
		`axe.run(document, { resultTypes: ["violations"] }).then(function (r) { return r.violations; })`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("run axe-core: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal(raw, &vs); err != nil {
		tb.t.Fatalf("axe-core result %s: %v", raw, err)
	}
	return vs
}

// localeCombo is one way the page is asked for a locale and a theme.
type localeCombo struct {
	name   string // en-light, en-dark, ar-light, ar-dark
	lang   string
	dark   bool
	query  string            // added to the /connect URL
	header string            // Accept-Language, when set
	prefer string            // emulated prefers-color-scheme, when set
	want   map[string]string // texts the page must show, by state
}

// The four combinations, each reached another way: the defaults; the
// browser's dark preference; locale=ar; Accept-Language with theme=dark
// against a light preference.
var localeCombos = []localeCombo{
	{name: "en-light", lang: "en", want: map[string]string{
		"banks": "Select your bank", "bank": "Emirates NBD", "country": "United Arab Emirates", "error": "Incorrect username or password",
		"otpLabel": "One-time password", "otpHelp": "Enter the one-time password sent to your phone", "success": "Your account is connected",
		"refused": "This link is not valid"}},
	{name: "en-dark", lang: "en", dark: true, prefer: "dark", want: map[string]string{
		"banks": "Select your bank", "bank": "Emirates NBD", "country": "United Arab Emirates", "error": "Incorrect username or password",
		"otpLabel": "One-time password", "otpHelp": "Enter the one-time password sent to your phone", "success": "Your account is connected",
		"refused": "This link is not valid"}},
	{name: "ar-light", lang: "ar", query: "&locale=ar", want: map[string]string{
		"banks": "اختر البنك الذي تتعامل معه", "bank": "بنك الإمارات دبي الوطني", "country": "الإمارات العربية المتحدة",
		"error": "اسم المستخدم أو كلمة المرور غير صحيحة", "otpLabel": "رمز التحقق لمرة واحدة", "otpHelp": "أدخل رمز التحقق المرسل إلى هاتفك",
		"success": "تم ربط حسابك بنجاح", "refused": "هذا الرابط غير صالح"}},
	{name: "ar-dark", lang: "ar", dark: true, query: "&theme=dark", header: "ar-AE,ar;q=0.9,en;q=0.8", prefer: "light", want: map[string]string{
		"banks": "اختر البنك الذي تتعامل معه", "bank": "بنك الإمارات دبي الوطني", "country": "الإمارات العربية المتحدة",
		"error": "اسم المستخدم أو كلمة المرور غير صحيحة", "otpLabel": "رمز التحقق لمرة واحدة", "otpHelp": "أدخل رمز التحقق المرسل إلى هاتفك",
		"success": "تم ربط حسابك بنجاح", "refused": "هذا الرابط غير صالح"}},
}

// Viewport widths the page is checked and photographed at.
var connectWidths = []struct{ w, h int64 }{{360, 740}, {1280, 860}}

// layoutJS measures the page for the direction checks: where things are,
// which way icons point, which way inputs run.
const layoutJS = `(function () {
  function r(el) { if (!el) return null; var b = el.getBoundingClientRect(); return { l: b.left, r: b.right, t: b.top, w: b.width }; }
  function q(s) { return document.querySelector(s); }
  function tr(el) { return el ? getComputedStyle(el).transform : ""; }
  function textBox(el) { if (!el) return null; var g = document.createRange(); g.selectNodeContents(el); return r(g); }
  var bank = q('button[data-bank-id="SANDBOX_AE_ENBD"]');
  var h1 = q("#bg-main h1");
  return {
    lang: document.documentElement.lang, dir: document.documentElement.dir,
    scrollWidth: document.documentElement.scrollWidth,
    bodyBg: getComputedStyle(document.body).backgroundColor,
    cardBg: getComputedStyle(q(".card")).backgroundColor,
    ink: getComputedStyle(document.body).color,
    tile: r(bank && bank.querySelector(".tile")), name: r(bank && bank.querySelector(".bank-name")), chev: r(bank && bank.querySelector(".chev")),
    chevTransform: tr(bank && bank.querySelector(".chev svg")),
    searchIcon: r(q(".search svg")), search: r(q("#bg-search")),
    back: r(q("#bg-back:not([hidden])")), brand: r(q(".brand")), backTransform: tr(q("#bg-back svg")),
    h1: r(h1), h1Text: textBox(h1),
    otpDir: q("#bg-in-0") ? getComputedStyle(q("#bg-in-0")).direction : "",
    otpAlign: q("#bg-in-0") ? getComputedStyle(q("#bg-in-0")).textAlign : "",
    passwordDir: q("#bg-password") ? getComputedStyle(q("#bg-password")).direction : "",
    logos: Array.prototype.map.call(document.querySelectorAll("img.tile"), function (i) { return i.complete && i.naturalWidth > 0 ? i.getAttribute("src") : "broken:" + i.getAttribute("src"); }),
    arabicIndicDigits: /[\u0660-\u0669\u06F0-\u06F9]/.test(document.body.innerText)
  };
})()`

type box struct{ L, R, T, W float64 }

type pageLayout struct {
	Lang, Dir           string
	ScrollWidth         int
	BodyBg, CardBg, Ink string
	Tile, Name, Chev    *box
	ChevTransform       string
	SearchIcon, Search  *box
	Back, Brand         *box
	BackTransform       string
	H1, H1Text          *box
	OtpDir, OtpAlign    string
	PasswordDir         string
	Logos               []string
	ArabicIndicDigits   bool
}

// checkLayout checks that the page runs in its locale's direction: in
// right to left, the bank's logo is right of its name and the chevron
// left of it and mirrored, the back arrow is right of the brand and
// mirrored, headings start at the right; codes run left to right
// everywhere.
func checkLayout(t *testing.T, c localeCombo, state string, width int64, l pageLayout) {
	t.Helper()
	where := fmt.Sprintf("%s %s at %dpx", c.name, state, width)
	rtl := c.lang == "ar"
	wantDir := map[bool]string{true: "rtl", false: "ltr"}[rtl]
	if l.Lang != c.lang || l.Dir != wantDir {
		t.Errorf("%s: <html lang=%q dir=%q>, want %q %q", where, l.Lang, l.Dir, c.lang, wantDir)
	}
	if l.ScrollWidth > int(width) {
		t.Errorf("%s: page is %dpx wide", where, l.ScrollWidth)
	}
	wantBg, wantCard := "rgb(242, 244, 248)", "rgb(255, 255, 255)"
	if c.dark {
		wantBg, wantCard = "rgb(11, 15, 22)", "rgb(21, 26, 36)"
	}
	if l.BodyBg != wantBg || l.CardBg != wantCard {
		t.Errorf("%s: background %s, card %s; want %s, %s (dark=%v)", where, l.BodyBg, l.CardBg, wantBg, wantCard, c.dark)
	}
	if l.ArabicIndicDigits {
		t.Errorf("%s: the page shows Arabic-Indic digits; numbers stay in Latin digits", where)
	}
	for _, src := range l.Logos {
		if strings.HasPrefix(src, "broken:") {
			t.Errorf("%s: logo %s did not load", where, src)
		}
	}
	mirrored := func(tr string) bool { return strings.HasPrefix(tr, "matrix(-1, 0, 0, 1") }
	if l.Tile != nil && l.Name != nil && l.Chev != nil {
		if rtl && !(l.Tile.L >= l.Name.R && l.Chev.R <= l.Name.L) || !rtl && !(l.Tile.R <= l.Name.L && l.Chev.L >= l.Name.R) {
			t.Errorf("%s: bank row logo %+v, name %+v, chevron %+v not in %s order", where, *l.Tile, *l.Name, *l.Chev, wantDir)
		}
		if mirrored(l.ChevTransform) != rtl {
			t.Errorf("%s: chevron transform %q (mirrored only in rtl)", where, l.ChevTransform)
		}
	}
	if l.SearchIcon != nil && l.Search != nil {
		if rtl && l.SearchIcon.L < l.Search.R-48 || !rtl && l.SearchIcon.R > l.Search.L+48 {
			t.Errorf("%s: search icon %+v not at the start of the search box %+v", where, *l.SearchIcon, *l.Search)
		}
	}
	if l.Back != nil && l.Brand != nil {
		if rtl && l.Back.L < l.Brand.R || !rtl && l.Back.R > l.Brand.L {
			t.Errorf("%s: back button %+v on the wrong side of the brand %+v", where, *l.Back, *l.Brand)
		}
		if mirrored(l.BackTransform) != rtl {
			t.Errorf("%s: back arrow transform %q (mirrored only in rtl)", where, l.BackTransform)
		}
	}
	if l.H1 != nil && l.H1Text != nil && state != "5-success" && state != "6-refused" { // these are centred
		if rtl && l.H1.R-(l.H1Text.L+l.H1Text.W) > 2 || !rtl && l.H1Text.L-l.H1.L > 2 {
			t.Errorf("%s: heading text %+v does not start at the %s edge of %+v", where, *l.H1Text, map[bool]string{true: "right", false: "left"}[rtl], *l.H1)
		}
	}
	if l.OtpDir != "" && (l.OtpDir != "ltr" || l.OtpAlign != "left") {
		t.Errorf("%s: OTP input runs %s aligned %s, want ltr left", where, l.OtpDir, l.OtpAlign)
	}
	if l.PasswordDir != "" && l.PasswordDir != "ltr" {
		t.Errorf("%s: password input runs %s", where, l.PasswordDir)
	}
}

// TestBrowserConnectLocales logs in with an OTP through the Connect page
// in English and Arabic, light and dark, at phone and desktop widths,
// against the real server: it checks the page's words, its direction by
// where elements are, its colours, that it asks no other origin for
// anything, and runs axe-core in every state (and on the page the server
// shows for a refused link), failing on serious or critical violations. With -update-screenshots it saves every state to
// docs/screenshots/connect, a contact sheet of the bank list in the four
// combinations, and axe-core's results.
func TestBrowserConnectLocales(t *testing.T) {
	browser := newBrowser(t)
	axeJS := axeSource(t)
	ts := startServer(t, serverOpts{})
	appKey, _ := ts.newApp("Acme Budget")
	ts.Clock.Advance(2 * time.Second)

	shotDir := filepath.Join(screenshotDir, "connect")
	if *updateScreenshots {
		if err := os.MkdirAll(shotDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// report[combo][state] lists axe-core's violations.
	report := map[string]map[string][]axeViolation{}

	for _, c := range localeCombos {
		t.Run(c.name, func(t *testing.T) {
			tb := newTab(t, browser, 60*time.Second)
			if c.header != "" {
				tb.do("Accept-Language", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": c.header}})
					return err
				}))
			}
			if c.prefer != "" {
				tb.do("prefers-color-scheme", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
						Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: c.prefer}}})
					return err
				}))
			}
			report[c.name] = map[string][]axeViolation{}
			// visit checks the state at each width, photographs it when
			// asked, and runs axe-core on it.
			visit := func(state string) {
				t.Helper()
				for i, vp := range connectWidths {
					if i > 0 {
						tb.do("resize", chromedp.EmulateViewport(vp.w, vp.h))
					}
					l := eval[pageLayout](tb, layoutJS)
					checkLayout(t, c, state, vp.w, l)
					if *updateScreenshots {
						png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
						if err != nil {
							t.Fatalf("screenshot: %v", err)
						}
						name := fmt.Sprintf("%s-%d-%s.png", c.name, vp.w, state)
						if err := os.WriteFile(filepath.Join(shotDir, name), compactPNG(t, png), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
				tb.do("resize", chromedp.EmulateViewport(connectWidths[0].w, connectWidths[0].h))
				vs := runAxe(tb, axeJS)
				report[c.name][state] = vs
				for _, v := range vs {
					if v.Impact == "serious" || v.Impact == "critical" {
						t.Errorf("%s %s: axe-core %s violation %s: %s (%d nodes, first %v: %s)", c.name, state, v.Impact, v.ID, v.Help,
							len(v.Nodes), v.Nodes[0].Target, v.Nodes[0].Summary)
					}
				}
			}
			text := func(sel string) string {
				t.Helper()
				s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
				if err != nil {
					t.Fatalf("text of %s: %v", sel, err)
				}
				return s
			}
			wantText := func(state, sel, key string) {
				t.Helper()
				if s := text(sel); !strings.Contains(s, c.want[key]) {
					t.Errorf("%s %s: %s says %q, want %q", c.name, state, sel, s, c.want[key])
				}
			}

			u := ts.URL + "/connect?appKey=" + url.QueryEscape(appKey) + "&environment=sandbox&countries=AE,SA" + c.query
			tb.do("open Connect", chromedp.EmulateViewport(connectWidths[0].w, connectWidths[0].h),
				chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(sandboxENBDSel)))
			if c.prefer != "" {
				if got := eval[bool](tb, `matchMedia("(prefers-color-scheme: dark)").matches`); got != (c.prefer == "dark") {
					t.Fatalf("prefers-color-scheme emulation did not take: dark=%v", got)
				}
			}
			poll[bool](tb, "every bank logo", `document.querySelectorAll("img.tile").length === 6 && Array.prototype.every.call(document.querySelectorAll("img.tile"), function (i) { return i.complete && i.naturalWidth > 0; })`)
			wantText("1-banks", "#bg-main h1", "banks")
			wantText("1-banks", sandboxENBDSel+" .bank-name", "bank")
			wantText("1-banks", sandboxENBDSel+" .bank-meta", "country")
			visit("1-banks")

			tb.do("pick the bank", chromedp.Click(chromedp.CSS(sandboxENBDSel)), chromedp.WaitVisible(chromedp.CSS("#bg-username")))
			visit("2-login")

			tb.do("wrong password",
				chromedp.SendKeys(chromedp.CSS("#bg-username"), "user_mfa"),
				chromedp.SendKeys(chromedp.CSS("#bg-password"), "not-the-password"),
				chromedp.Click(chromedp.CSS("#bg-submit")),
				chromedp.WaitVisible(chromedp.CSS("#bg-error")))
			wantText("3-error", "#bg-error", "error")
			if s := text("#bg-error"); strings.Contains(s, "Your user") {
				t.Errorf("%s: the error shows the developer's message: %q", c.name, s)
			}
			visit("3-error")

			tb.do("log in with an OTP",
				chromedp.SendKeys(chromedp.CSS("#bg-password"), "pass_good"),
				chromedp.Click(chromedp.CSS("#bg-submit")),
				chromedp.WaitVisible(chromedp.CSS("#bg-in-0")))
			wantText("4-mfa", `label[for="bg-in-0"]`, "otpLabel")
			wantText("4-mfa", "#bg-in-0-help", "otpHelp")
			tb.do("type the OTP", chromedp.SendKeys(chromedp.CSS("#bg-in-0"), "123456"))
			visit("4-mfa")

			tb.do("submit the OTP",
				chromedp.Click(chromedp.CSS("#bg-submit")),
				chromedp.WaitVisible(chromedp.CSS("#bg-success")))
			wantText("5-success", "#bg-success h1", "success")
			visit("5-success")

			// A link the server refuses: its error page, without a script.
			tb.do("refused link", chromedp.Navigate(u+"&redirectUri="+url.QueryEscape("https://evil.example/callback")),
				chromedp.WaitVisible(chromedp.CSS("#bg-error-title")))
			wantText("6-refused", "#bg-error-title", "refused")
			visit("6-refused")

			// Nothing left this server's origin: no logo host, no fonts,
			// no scripts from elsewhere; and no CSP or Trusted Types
			// violation (axe-core included).
			tb.checkClean([]string{ts.URL}, allowLogin401, allowRefused)
		})
	}

	// connect.js hands its locale and theme options to the page.
	t.Run("connect.js options", func(t *testing.T) {
		app := startTestApp(t, ts.URL, appKey)
		appsSet(t, ts, appKey, "--allowed-origin", app.URL)
		ts.Clock.Advance(2 * time.Second)
		tb := newTab(t, browser, 30*time.Second)
		tb.do("open the app page", chromedp.Navigate(app.URL+"/?mode=modal&locale=ar&theme=dark"), chromedp.Click(chromedp.CSS("#connect")))
		poll[bool](tb, "onReady", `__result.events.indexOf("ready") >= 0`)
		src := eval[string](tb, `document.querySelector('iframe[data-bankgate="frame"]').src`)
		if u, err := url.Parse(src); err != nil || u.Query().Get("locale") != "ar" || u.Query().Get("theme") != "dark" {
			t.Errorf("Connect iframe src %s lacks locale=ar&theme=dark", src)
		}
		if label := eval[string](tb, `document.querySelector('[data-bankgate="overlay"]').getAttribute("aria-label")`); label != "ربط حسابك البنكي" {
			t.Errorf("dialog label %q, want the Arabic one", label)
		}
		nodes, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS(`iframe[data-bankgate="frame"]`)))
		if err != nil || len(nodes) != 1 {
			t.Fatalf("Connect iframe: %v", err)
		}
		in := chromedp.FromNode(nodes[0])
		tb.do("bank list", chromedp.WaitVisible(chromedp.CSS(sandboxENBDSel), in))
		attrs := poll[string](tb, "the page's lang, dir and theme",
			`document.documentElement.lang + " " + document.documentElement.dir + " " + document.documentElement.dataset.theme`,
			chromedp.WithPollingInFrame(nodes[0]))
		if attrs != "ar rtl dark" {
			t.Errorf("framed page is %q, want ar rtl dark", attrs)
		}
		tb.checkClean([]string{ts.URL, app.URL})
	})

	if t.Failed() || !*updateScreenshots {
		return
	}
	var sheet []string
	for _, c := range localeCombos {
		sheet = append(sheet, filepath.Join(shotDir, c.name+"-360-1-banks.png"))
	}
	writeContactSheet(t, filepath.Join(screenshotDir, "connect-contact-sheet.png"), sheet)
	writeAxeReport(t, filepath.Join(shotDir, "axe.md"), report)
}

// writeAxeReport writes axe-core's results as a Markdown table: the
// number of violations by impact for each combination, and each
// violation found.
func writeAxeReport(t *testing.T, path string, report map[string]map[string][]axeViolation) {
	t.Helper()
	impacts := []string{"critical", "serious", "moderate", "minor"}
	var b strings.Builder
	b.WriteString("# axe-core results for the Connect page\n\n")
	b.WriteString("Written by `bash scripts/screenshots.sh` (TestBrowserConnectLocales with -update-screenshots): axe-core " +
		axeVersion(t) + " run on every state (bank list, login form, error, MFA prompt, success, and the page for a refused link) at 360 px, " +
		"counting each rule broken once per state.\n\n")
	b.WriteString("| combination | " + strings.Join(impacts, " | ") + " |\n|---|---|---|---|---|\n")
	var details []string
	for _, c := range localeCombos {
		counts := map[string]int{}
		states := report[c.name]
		keys := make([]string, 0, len(states))
		for s := range states {
			keys = append(keys, s)
		}
		sort.Strings(keys)
		for _, s := range keys {
			for _, v := range states[s] {
				counts[v.Impact]++
				details = append(details, fmt.Sprintf("- %s, %s: %s `%s` — %s (%d nodes)", c.name, s, v.Impact, v.ID, v.Help, len(v.Nodes)))
			}
		}
		row := []string{c.name}
		for _, im := range impacts {
			row = append(row, fmt.Sprint(counts[im]))
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	if len(details) == 0 {
		b.WriteString("\nNo violations.\n")
	} else {
		slices.Sort(details)
		b.WriteString("\nViolations:\n\n" + strings.Join(details, "\n") + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func axeVersion(t *testing.T) string {
	b, err := os.ReadFile("testdata/axe/node_modules/axe-core/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Version string }
	json.Unmarshal(b, &p)
	return p.Version
}
