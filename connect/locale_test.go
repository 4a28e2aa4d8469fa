package connect

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestConnectNegotiateLocale(t *testing.T) {
	for _, tc := range []struct {
		param, accept, want string
	}{
		{"", "", "en"},
		{"ar", "", "ar"},
		{"AR-ae", "en", "ar"},
		{"ar_SA", "", "ar"},
		{"en", "ar-AE,ar;q=0.9", "en"},
		{"", "ar-AE,ar;q=0.9,en;q=0.8", "ar"},
		{"", "fr-FR,fr;q=0.9,ar;q=0.8,en;q=0.7", "ar"},
		{"", "en;q=0.5, ar;q=0.8", "ar"},
		{"", "en, ar", "en"},
		{"", "ar;q=0, en;q=0.1", "en"},
		{"", "*", "en"},
		{"", "ar;q=abc", "en"},
		{"", "ar;q=2", "en"},
		{"fr", "ar", "ar"}, // an unsupported choice falls back to the browser's
		{"fr", "", "en"},
		{"<script>", "", "en"},
		{"", strings.Repeat("x-yz,", 200) + "ar", "en"}, // read up to a bound
	} {
		if got := negotiateLocale(tc.param, tc.accept).Tag; got != tc.want {
			t.Errorf("negotiateLocale(%q, %q) = %q, want %q", tc.param, tc.accept, got, tc.want)
		}
	}
	for _, tc := range []struct{ param, want string }{{"", "auto"}, {"dark", "dark"}, {"LIGHT", "light"}, {"auto", "auto"}, {"sepia", "auto"}} {
		if got := parseTheme(tc.param); got != tc.want {
			t.Errorf("parseTheme(%q) = %q, want %q", tc.param, got, tc.want)
		}
	}
}

var placeholderRE = regexp.MustCompile(`\{[a-zA-Z]+\}`)

// pageErrorTypes are the error types the page can show: each has its own
// end-user words in every locale.
var pageErrorTypes = []string{"INVALID_CREDENTIALS", "INVALID_MFA", "ACCOUNT_LOCKED", "INACTIVE_ACCOUNT", "TEMPORARILY_UNAVAILABLE",
	"UNABLE_TO_CONNECT_TO_BANK", "RATE_LIMIT_EXCEEDED", "SESSION_EXPIRED", "USER_ALREADY_LOGGED_IN", "INVALID_BANK_ID",
	"INVALID_APP_CREDENTIALS", "NETWORK_ERROR", "UNKNOWN_ERROR"}

// TestConnectCatalogue checks the catalogues against each other and
// against the page: the same keys in every locale, the same placeholders
// (a translation may leave one out, never add one), plural forms with an
// "other", words for every error type, and every key the page and its
// templates use.
func TestConnectCatalogue(t *testing.T) {
	cats := map[string]map[string]any{}
	for _, tag := range supportedLocales {
		var m map[string]any
		if err := json.Unmarshal(locales[tag].JSON, &m); err != nil {
			t.Fatal(err)
		}
		cats[tag] = m
	}
	en := cats["en"]
	for tag, m := range cats {
		for k := range en {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q", tag, k)
			}
		}
		for k, v := range m {
			ev, ok := en[k]
			if !ok {
				t.Errorf("%s has %q, which en lacks", tag, k)
				continue
			}
			switch v := v.(type) {
			case string:
				es, _ := ev.(string)
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s %q is empty", tag, k)
				}
				for _, p := range placeholderRE.FindAllString(v, -1) {
					if !strings.Contains(es, p) {
						t.Errorf("%s %q has placeholder %s, which en's %q lacks", tag, k, p, es)
					}
				}
				if tag == "ar" && regexp.MustCompile(`[٠-٩]`).MatchString(v) {
					t.Errorf("ar %q uses Arabic-Indic digits: %q", k, v)
				}
				if tag == "ar" && !strings.HasPrefix(k, "page.error.title") && !regexp.MustCompile(`\p{Arabic}`).MatchString(v) {
					t.Errorf("ar %q is not in Arabic: %q", k, v)
				}
			case map[string]any:
				if _, ok := v["other"]; !ok {
					t.Errorf("%s %q has no plural form other", tag, k)
				}
				for form := range v {
					if !slices.Contains([]string{"zero", "one", "two", "few", "many", "other"}, form) {
						t.Errorf("%s %q has plural form %q", tag, k, form)
					}
				}
			default:
				t.Errorf("%s %q is a %T", tag, k, v)
			}
		}
	}
	for _, typ := range pageErrorTypes {
		for _, part := range []string{".title", ".body"} {
			if _, ok := en["error."+typ+part]; !ok {
				t.Errorf("no words for error %s%s", typ, part)
			}
		}
	}
	// Every key the page script and the templates use is in the catalogue.
	used := map[string]bool{}
	walk := func(re *regexp.Regexp, files ...string) {
		for _, f := range files {
			b, err := fs.ReadFile(assetFS, "assets/"+f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
		}
	}
	walk(regexp.MustCompile(`\b(?:t|tn|msg|plural)\("([a-zA-Z.]+)"`), "page.js")
	walk(regexp.MustCompile(`\.L\.(?:T|HTML) "([a-zA-Z.]+)"`), "page.html", "error.html")
	if len(used) < 40 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k := range used {
		if strings.HasSuffix(k, ".") {
			continue // a prefix, completed at run time (bank.<ID>., error.<TYPE>.)
		}
		if _, ok := en[k]; !ok {
			t.Errorf("the page uses %q, which the catalogue lacks", k)
		}
	}
	// And the page shows no English words of its own: every text node
	// comes from the catalogue.
	js, _ := fs.ReadFile(assetFS, "assets/page.js")
	for _, m := range regexp.MustCompile(`text: "([^"]*[a-z]{3,}[^"]*)"`).FindAllStringSubmatch(string(js), -1) {
		if m[1] != "environment=sandbox" { // a query parameter, the same in every language
			t.Errorf("page.js has literal text %q", m[1])
		}
	}
}

func TestConnectPageLocale(t *testing.T) {
	h := New(Config{Apps: testApps()})
	req := func(target, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		if accept != "" {
			r.Header.Set("Accept-Language", accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name, target, accept string
		status               int
		start                string
		has                  []string
	}{
		{"default", page(keyWeb), "", 200, `<html lang="en" dir="ltr" data-theme="auto">`,
			[]string{`<meta name="color-scheme" content="light dark">`, "<title>Connect your bank · Acme Budget</title>", "<bdi>Acme Budget</bdi> never sees"}},
		{"locale parameter", page(keyWeb, "locale", "ar", "environment", "sandbox"), "en-US", 200, `<html lang="ar" dir="rtl" data-theme="auto">`,
			[]string{"<title>ربط حسابك البنكي · Acme Budget</title>", "وضع التجربة", `aria-label="رجوع"`, "لن يطّلع <bdi>Acme Budget</bdi> على"}},
		{"Accept-Language", page(keyWeb, "theme", "dark"), "ar-AE,ar;q=0.9,en;q=0.8", 200, `<html lang="ar" dir="rtl" data-theme="dark">`,
			[]string{`<meta name="color-scheme" content="dark">`}},
		{"forced light", page(keyWeb, "theme", "light"), "", 200, `<html lang="en" dir="ltr" data-theme="light">`,
			[]string{`<meta name="color-scheme" content="light">`}},
		{"error page in Arabic", page(keyWeb, "environment", "staging", "locale", "ar", "theme", "dark"), "", 400, `<html lang="ar" dir="rtl" data-theme="dark">`,
			[]string{"<h1 id=\"bg-error-title\">هذا الرابط غير صالح</h1>", "للمطوّرين:", `<span lang="en" dir="ltr">The environment parameter`}},
		{"unknown app in Arabic", page("nope"), "ar", 404, `<html lang="ar" dir="rtl" data-theme="auto">`,
			[]string{"لم نتعرّف على هذا التطبيق"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := req(tc.target, tc.accept)
			body := w.Body.String()
			if w.Code != tc.status || !strings.Contains(body, tc.start) {
				t.Fatalf("status %d, want %d with %s:\n%.600s", w.Code, tc.status, tc.start, body)
			}
			for _, s := range tc.has {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %s", s)
				}
			}
			if w.Code != 200 {
				return
			}
			m := regexp.MustCompile(`(?s)<script type="application/json" id="bg-messages">(.*?)</script>`).FindStringSubmatch(body)
			if m == nil {
				t.Fatal("no catalogue in the page")
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			json.Unmarshal(locales[pageConfigOf(t, body).Locale].JSON, &want)
			if len(got) != len(want) || got["banks.title"] != want["banks.title"] {
				t.Errorf("the page's catalogue is not its locale's (%d keys, banks.title %q)", len(got), got["banks.title"])
			}
		})
	}
}
