package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func testToken() *Token {
	sum := func(v string) []byte { m := hmac.New(sha256.New, []byte("k")); m.Write([]byte(v)); return m.Sum(nil) }
	return &Token{ID: "adm_1", Digest: sum("the-admin-token-0123456789abcdef"), Verify: func(v string, d []byte) bool { return hmac.Equal(sum(v), d) }}
}

func TestTokenCheck(t *testing.T) {
	tok := testToken()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"the-admin-token-0123456789abcdef", true},
		{"the-admin-token-0123456789abcdeF", false},
		{"", false},
		{strings.Repeat("x", MaxTokenLen+1), false},
	} {
		if id, ok := tok.Check(tc.in); ok != tc.ok || (ok && id != "adm_1") {
			t.Errorf("Check(%.20q) = %q, %v; want ok %v", tc.in, id, ok, tc.ok)
		}
	}
	var none *Token
	if _, ok := none.Check("x"); ok {
		t.Error("a nil token accepted something")
	}
}

// TestHandlerWithoutToken: the API refuses requests without the token
// before anything else (the service is never called: it is nil here),
// and the console is served with its CSP.
func TestHandlerWithoutToken(t *testing.T) {
	h := New(Config{Token: testToken()})
	for _, p := range []string{"/admin/v1/apps", "/admin/v1/apps/x/revoke-tokens", "/admin/v1/audit", "/admin/v1/nope"} {
		for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(m, p, nil)
			r.Header.Set("Authorization", "Bearer wrong")
			h.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"code":"unauthorized"`) {
				t.Errorf("%s %s = %d %s", m, p, w.Code, w.Body)
			}
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/admin/", nil))
	if w.Code != 200 || w.Header().Get("Content-Security-Policy") != ConsoleCSP || !strings.Contains(w.Body.String(), "console.js") {
		t.Fatalf("console: %d %q", w.Code, w.Header().Get("Content-Security-Policy"))
	}
	for _, p := range []string{"/admin/assets/console.js", "/admin/assets/console.css"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != 200 || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/admin/assets/nope.js", nil))
	if w.Code != 404 {
		t.Errorf("missing asset: %d", w.Code)
	}
	// The console script builds no HTML from strings.
	b, _ := assetFS.ReadFile("assets/console.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "localStorage", "sessionStorage", "document.cookie"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("console.js uses %s", bad)
		}
	}
}
