package connect

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/logos"
)

// fakeApps is an in-memory Apps.
type fakeApps struct {
	apps map[string]*bankgate.App
	err  error // returned for every lookup when set
}

func (f *fakeApps) AppByKey(ctx context.Context, key string) (*bankgate.App, error) {
	if f.err != nil {
		return nil, f.err
	}
	if a, ok := f.apps[key]; ok {
		return a, nil
	}
	return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appKey is invalid.")
}

// RedirectCallback answers by the state: "ok" completes, "denied" is the
// user's refusal, "broken" the bank's failure, anything else unknown.
func (f *fakeApps) RedirectCallback(ctx context.Context, q map[string][]string) (*bankgate.CallbackResult, error) {
	switch url.Values(q).Get("state") {
	case "ok":
		return &bankgate.CallbackResult{OperationID: "op-1", App: f.apps[keyWeb], BankID: "B"}, nil
	case "denied":
		return nil, bankgate.Errorf(bankgate.InvalidCredentials, "denied")
	case "broken":
		return nil, bankgate.Errorf(bankgate.UnableToConnectToBank, "down")
	}
	return nil, bankgate.Errorf(bankgate.ParameterError, "unknown")
}

func TestConnectCallback(t *testing.T) {
	h := New(Config{Apps: testApps()})
	for _, c := range []struct {
		state  string
		status int
		want   string
	}{
		{"ok", 200, "Your bank approved the connection"},
		{"denied", 400, "You did not approve access at your bank"},
		{"broken", 502, "The connection was not made"},
		{"forged", 400, "this link was already used"},
	} {
		w := get(t, h, "/connect/callback?code=c&iss=https%3A%2F%2Fbank.example&state="+c.state)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("state %s: %d, want %d with %q:\n%s", c.state, w.Code, c.status, c.want, w.Body.String())
		}
		if w.Header().Get("Content-Security-Policy") == "" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("state %s: headers %v", c.state, w.Header())
		}
	}
	w := get(t, h, "/connect/callback?state=ok&lang=ar")
	if w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
}

const (
	keyWeb      = "key-web"
	keyNone     = "key-none"
	keyEvil     = "key-evil"
	registeredR = "https://app.example.com/bank/callback"
)

func testApps() *fakeApps {
	return &fakeApps{apps: map[string]*bankgate.App{
		keyWeb: {Key: keyWeb, Name: "Acme Budget",
			AllowedOrigins: []string{"https://app.example.com", "http://localhost:3000", "https://other.example.com:443"},
			RedirectURIs:   []string{registeredR}},
		keyNone: {Key: keyNone, Name: "No Origins"},
		keyEvil: {Key: keyEvil, Name: `</script><script>alert(1)</script>"'&<b>`,
			// A corrupt registration must never reach the CSP header.
			AllowedOrigins: []string{"https://ok.example.com", "https://x.example.com; script-src *", "javascript:alert(1)"}},
	}}
}

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

func page(key string, params ...string) string {
	q := url.Values{}
	if key != "" {
		q.Set("appKey", key)
	}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return "/connect?" + q.Encode()
}

var (
	scriptTagRE = regexp.MustCompile(`<script[^>]*>`)
	nonceAttrRE = regexp.MustCompile(`nonce="([^"]+)"`)
	configRE    = regexp.MustCompile(`(?s)<script type="application/json" id="bg-config">(.*?)</script>`)
)

// pageConfigOf extracts and decodes the page's JSON config block.
func pageConfigOf(t *testing.T, body string) pageConfig {
	t.Helper()
	m := configRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no config block in page:\n%s", body)
	}
	var c pageConfig
	if err := json.Unmarshal([]byte(m[1]), &c); err != nil {
		t.Fatalf("config block %q: %v", m[1], err)
	}
	return c
}

// cspDirectives parses a CSP header into directive → value.
func cspDirectives(t *testing.T, csp string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		name, val, _ := strings.Cut(d, " ")
		if _, dup := out[name]; dup {
			t.Fatalf("directive %s twice in %q", name, csp)
		}
		out[name] = val
	}
	return out
}

func TestConnectPageHeaders(t *testing.T) {
	h := New(Config{Apps: testApps()})
	for _, tc := range []struct {
		name, key      string
		frameAncestors string
	}{
		{"registered origins", keyWeb, "https://app.example.com http://localhost:3000 https://other.example.com"},
		{"no origins", keyNone, "'none'"},
		{"corrupt origins dropped", keyEvil, "https://ok.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(t, h, page(tc.key))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			body := w.Body.String()
			nonces := nonceAttrRE.FindAllStringSubmatch(body, -1)
			if len(nonces) != 2 || nonces[0][1] != nonces[1][1] || len(nonces[0][1]) < 16 {
				t.Fatalf("want one nonce on the stylesheet and the script, got %v", nonces)
			}
			nonce := html.UnescapeString(nonces[0][1])
			got := cspDirectives(t, w.Header().Get("Content-Security-Policy"))
			want := map[string]string{
				"default-src":               "'none'",
				"script-src":                "'nonce-" + nonce + "'",
				"style-src":                 "'nonce-" + nonce + "'",
				"connect-src":               "'self'",
				"img-src":                   "'self' data:",
				"form-action":               "'self'",
				"base-uri":                  "'none'",
				"frame-ancestors":           tc.frameAncestors,
				"require-trusted-types-for": "'script'",
				"trusted-types":             "'none'",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("CSP (-want +got):\n%s", diff)
			}
			for k, v := range map[string]string{
				"Content-Type":           "text/html; charset=utf-8",
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "no-referrer",
				"Cache-Control":          "no-store",
			} {
				if g := w.Header().Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
			if c := w.Header().Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("page sets cookies: %v", c)
			}
			// Every script tag is either the nonced page script or one of
			// the inert JSON blocks.
			for _, tag := range scriptTagRE.FindAllString(body, -1) {
				if !strings.Contains(tag, `nonce="`+nonces[0][1]+`"`) && tag != `<script type="application/json" id="bg-config">` &&
					tag != `<script type="application/json" id="bg-messages">` {
					t.Errorf("script tag without the nonce: %s", tag)
				}
			}
			if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				for _, u := range regexp.MustCompile(`https?://[^\s"'<>]+`).FindAllString(body, -1) {
					if !strings.HasPrefix(u, "http://www.w3.org/2000/svg") && !strings.Contains(body, `"allowedOrigins":`) {
						t.Errorf("page references %s", u)
					}
				}
			}
			// A fresh nonce on every response.
			again := get(t, h, page(tc.key))
			if again.Header().Get("Content-Security-Policy") == w.Header().Get("Content-Security-Policy") {
				t.Error("two responses share a nonce")
			}
		})
	}
}

func TestConnectPageRefusals(t *testing.T) {
	h := New(Config{Apps: testApps()})
	for _, tc := range []struct {
		name   string
		target string
		status int
		says   string
	}{
		{"no appKey", page(""), 400, "incomplete"},
		{"unknown appKey", page("nope"), 404, "recognise"},
		{"long appKey", page(strings.Repeat("k", 300)), 400, "incomplete"},
		{"unregistered redirectUri", page(keyWeb, "redirectUri", "https://evil.example.com/cb"), 400, "redirect"},
		{"redirectUri prefix", page(keyWeb, "redirectUri", "https://app.example.com/bank/"), 400, "redirect"},
		{"redirectUri longer", page(keyWeb, "redirectUri", registeredR+"/../../evil"), 400, "redirect"},
		{"redirectUri with query", page(keyWeb, "redirectUri", registeredR+"?next=https://evil.example.com"), 400, "redirect"},
		{"redirectUri case", page(keyWeb, "redirectUri", strings.ToUpper(registeredR)), 400, "redirect"},
		{"redirectUri of an app without any", page(keyNone, "redirectUri", registeredR), 400, "redirect"},
		{"unregistered origin", page(keyWeb, "origin", "https://evil.example.com"), 400, "allowed origins"},
		{"origin with path", page(keyWeb, "origin", "https://app.example.com/x"), 400, "allowed origins"},
		{"origin null", page(keyWeb, "origin", "null"), 400, "allowed origins"},
		{"bad environment", page(keyWeb, "environment", "staging"), 400, "environment"},
		{"bad countries", page(keyWeb, "countries", "AE,<script>"), 400, "countries"},
		{"bad isWebview", page(keyWeb, "isWebview", "maybe"), 400, "isWebview"},
		{"long clientUserID", page(keyWeb, "clientUserID", strings.Repeat("u", 257)), 400, "clientUserID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(t, h, tc.target)
			body := w.Body.String()
			if w.Code != tc.status || !strings.Contains(body, tc.says) {
				t.Fatalf("status %d, want %d saying %q:\n%s", w.Code, tc.status, tc.says, body)
			}
			if strings.Contains(body, "<script") {
				t.Error("an error page carries a script")
			}
			if strings.Contains(w.Header().Get("Content-Security-Policy"), "script-src 'nonce") {
				t.Error("an error page allows scripts")
			}
			for _, leak := range []string{"goroutine", "panic", ".go:", "InvalidAppCredentials", "INVALID_APP_CREDENTIALS"} {
				if strings.Contains(body, leak) {
					t.Errorf("error page leaks %q", leak)
				}
			}
			if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("error page headers: %v", w.Header())
			}
		})
	}

	t.Run("store down", func(t *testing.T) {
		h := New(Config{Apps: &fakeApps{err: errors.New("dial tcp 10.0.0.7:5432: connection refused")}})
		w := get(t, h, page(keyWeb))
		if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "10.0.0.7") {
			t.Fatalf("status %d:\n%s", w.Code, w.Body)
		}
	})
}

func TestConnectPageConfig(t *testing.T) {
	h := New(Config{Apps: testApps()})
	for _, tc := range []struct {
		name   string
		target string
		want   pageConfig
	}{
		{"defaults", page(keyWeb), pageConfig{AppKey: keyWeb, AppName: "Acme Budget", Environment: "production",
			Countries: []string{}, AllowedOrigins: []string{"https://app.example.com", "http://localhost:3000", "https://other.example.com"}, Locale: "en"}},
		{"everything", page(keyWeb, "environment", "Sandbox", "countries", "ae, SA,ae", "clientUserID", "user-42",
			"redirectUri", registeredR, "isWebview", "true", "origin", "https://APP.example.com"),
			pageConfig{AppKey: keyWeb, AppName: "Acme Budget", Environment: "sandbox", Countries: []string{"AE", "SA"},
				ClientUserID: "user-42", RedirectURI: registeredR, IsWebview: true, Origin: "https://app.example.com",
				AllowedOrigins: []string{"https://app.example.com", "http://localhost:3000", "https://other.example.com"}, Locale: "en"}},
		{"2019 countries and default port", page(keyWeb, "countries", `["AE"]`, "origin", "https://other.example.com:443"),
			pageConfig{AppKey: keyWeb, AppName: "Acme Budget", Environment: "production", Countries: []string{"AE"},
				Origin: "https://other.example.com", AllowedOrigins: []string{"https://app.example.com", "http://localhost:3000", "https://other.example.com"}, Locale: "en"}},
		{"no origins", page(keyNone, "isWebview", "false"), pageConfig{AppKey: keyNone, AppName: "No Origins",
			Environment: "production", Countries: []string{}, AllowedOrigins: []string{}, Locale: "en"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(t, h, tc.target)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d:\n%s", w.Code, w.Body)
			}
			if diff := cmp.Diff(tc.want, pageConfigOf(t, w.Body.String())); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConnectPageEscaping: an app name or parameter that looks like markup
// stays text, in the HTML and in the JSON block.
func TestConnectPageEscaping(t *testing.T) {
	h := New(Config{Apps: testApps()})
	cuid := `</script><script>alert(2)</script><!--`
	w := get(t, h, page(keyEvil, "clientUserID", cuid))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, bad := range []string{"<script>alert", "</script><script>", "<b>", "<!--"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	if n := strings.Count(body, "<script"); n != 3 {
		t.Errorf("%d script tags, want 3", n)
	}
	if n := strings.Count(body, "</script>"); n != 3 {
		t.Errorf("%d </script>, want 3", n)
	}
	c := pageConfigOf(t, body)
	if c.AppName != `</script><script>alert(1)</script>"'&<b>` || c.ClientUserID != cuid {
		t.Errorf("config round trip: name %q clientUserID %q", c.AppName, c.ClientUserID)
	}
	if !strings.Contains(body, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("app name not HTML-escaped in the page text")
	}
}

func TestConnectStatic(t *testing.T) {
	h := New(Config{Apps: testApps()})
	hd := h.(*handler)

	t.Run("connect.js", func(t *testing.T) {
		w := get(t, h, "/connect.js")
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") ||
			w.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(w.Body.String(), "Bankgate") {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		if w.Header().Get("Cross-Origin-Resource-Policy") != "cross-origin" {
			t.Error("connect.js must be loadable by apps' pages")
		}
	})
	t.Run("versioned asset is immutable", func(t *testing.T) {
		w := get(t, h, "/connect/assets/page.js?v="+hd.assets["page.js"].version)
		if w.Code != 200 || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		w = get(t, h, "/connect/assets/page.css?v=old")
		if w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
	})
	t.Run("etag", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/connect.js", nil)
		req.Header.Set("If-None-Match", `"`+hd.sdk.version+`"`)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNotModified {
			t.Fatalf("status %d", w.Code)
		}
	})
	for _, p := range []string{"/connect/", "/connect/assets/", "/connect/assets/page.html", "/connect/assets/../connect.go", "/connect/x"} {
		if w := get(t, h, p); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, w.Code)
		}
	}
	t.Run("methods", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, page(keyWeb), strings.NewReader("password=x")))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST = %d", w.Code)
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, page(keyWeb), nil))
		if w.Code != 200 || w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("HEAD = %d %v", w.Code, w.Header())
		}
	})
}

// TestConnectAssetsSelfContained checks the embedded assets for what the
// page must never do: load from elsewhere, write HTML from strings, store
// anything, or post to any origin.
func TestConnectAssetsSelfContained(t *testing.T) {
	err := fs.WalkDir(assetFS, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := assetFS.ReadFile(path)
		s := string(b)
		for _, u := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s"')]*`).FindAllString(s, -1) {
			if !strings.HasPrefix(u, "http://www.w3.org/2000/svg") && !strings.Contains(u, "YOUR-BANKGATE") {
				t.Errorf("%s references %s", path, u)
			}
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
			"localStorage", "sessionStorage", "indexedDB", "document.cookie", `"*")`, `'*')`, "@import", "url(http"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
		if strings.HasSuffix(path, ".js") && strings.Contains(s, "console.log") {
			t.Errorf("%s logs to the console", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := assetFS.ReadFile("assets/page.js")
	if !strings.Contains(string(js), `credentials: "omit"`) {
		t.Error("page.js must send API requests without credentials")
	}
	sdk, _ := assetFS.ReadFile("assets/sdk.js")
	if !strings.Contains(string(sdk), "ev.origin !== origin") || !strings.Contains(string(sdk), "ev.source !== state.win") {
		t.Error("connect.js must check the origin and source of every message")
	}
}

func TestConnectNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com":     "https://app.example.com",
		"https://app.example.com/":    "https://app.example.com",
		"https://app.example.com:443": "https://app.example.com",
		"http://app.example.com:80":   "http://app.example.com",
		"http://127.0.0.1:8080":       "http://127.0.0.1:8080",
		"http://[::1]:3000":           "http://[::1]:3000",
		"https://app.example.com/x":   "",
		"https://a.example.com?x=1":   "",
		"https://u@app.example.com":   "",
		"ftp://app.example.com":       "",
		"javascript:alert(1)":         "",
		"null":                        "",
		"https://a.example.com;b":     "",
		"https://a b.example.com":     "",
		"":                            "",
	} {
		got, ok := normalizeOrigin(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeOrigin(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzConnectPage: whatever the query, the handler answers without
// panicking, and a rendered page has exactly its three script tags (the
// config, the catalogue and page.js), a config block that decodes and a
// supported lang.
func FuzzConnectPage(f *testing.F) {
	f.Add(keyWeb, "sandbox", "AE,SA", "u1", registeredR, "true", "https://app.example.com", "ar", "dark")
	f.Add(keyEvil, "", `["AE"]`, "</script>", "", "", "", `"><script>`, "</style>")
	f.Add("nope", "production", "", "", "https://evil.example.com", "1", "null", "en-GB", "auto")
	h := New(Config{Apps: testApps()})
	f.Fuzz(func(t *testing.T, key, env, countries, cuid, redirect, webview, origin, locale, theme string) {
		target := page(key, "environment", env, "countries", countries, "clientUserID", cuid, "redirectUri", redirect, "isWebview", webview,
			"origin", origin, "locale", locale, "theme", theme)
		w := get(t, h, target)
		body := w.Body.String()
		if !regexp.MustCompile(`^<!doctype html>\n<html lang="(en|ar)" dir="(ltr|rtl)" data-theme="(auto|light|dark)"`).MatchString(body) &&
			w.Code != http.StatusServiceUnavailable {
			t.Fatalf("page starts %.80q for %s", body, target)
		}
		switch w.Code {
		case http.StatusOK:
			if n := strings.Count(body, "<script"); n != 3 {
				t.Fatalf("%d script tags for %s", n, target)
			}
			pageConfigOf(t, body)
		case http.StatusBadRequest, http.StatusNotFound:
			if strings.Contains(body, "<script") {
				t.Fatalf("error page with a script for %s", target)
			}
		default:
			t.Fatalf("status %d for %s", w.Code, target)
		}
	})
}

func TestConnectLogos(t *testing.T) {
	h := New(Config{Apps: testApps()})
	for _, slug := range logos.Slugs() {
		u := logos.URL(slug)
		w := get(t, h, u)
		hd := w.Header()
		if w.Code != 200 || hd.Get("Content-Type") != "image/svg+xml" || hd.Get("X-Content-Type-Options") != "nosniff" ||
			hd.Get("Cache-Control") != "public, max-age=31536000, immutable" || hd.Get("Cross-Origin-Resource-Policy") != "cross-origin" ||
			!strings.Contains(hd.Get("Content-Security-Policy"), "sandbox") || !strings.HasPrefix(w.Body.String(), "<svg") {
			t.Errorf("GET %s = %d %v", u, w.Code, hd)
		}
		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("If-None-Match", hd.Get("ETag"))
		w = httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag = %d, want 304", u, w.Code)
		}
	}
	for _, p := range []string{"/connect/logos/", "/connect/logos/enbd.svg", "/connect/logos/enbd-000000000000.svg", "/connect/logos/../assets/page.js"} {
		if w := get(t, h, p); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, w.Code)
		}
	}
}
