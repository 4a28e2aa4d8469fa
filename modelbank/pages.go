package modelbank

import (
	"crypto/subtle"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// The PSU's pages: plain HTML forms that work without JavaScript.
var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · bankgate Model Bank</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{padding:.6rem 1.2rem;font-size:1rem;margin:1rem .5rem 0 0}.err{color:#b00020}li{margin:.2rem 0}</style></head><body>
<p><strong>bankgate Model Bank</strong> · a local Open Banking v3.1 ASPSP</p>{{end}}
{{define "login"}}{{template "head" .}}
<h1>Sign in to approve access</h1>
<p>{{.Client}} asks to read your account information.</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="id" value="{{.ID}}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>{{end}}
{{define "consent"}}{{template "head" .}}
<h1>Share your account information?</h1>
<p>Signed in as {{.User}}. {{.Client}} asks for:</p>
<ul>{{range .Permissions}}<li>{{.}}</li>{{end}}</ul>
{{if .Expires}}<p>Until {{.Expires}}.</p>{{end}}
<p>Accounts:</p><ul>{{range .Accounts}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="{{.Action}}">
<input type="hidden" name="id" value="{{.ID}}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>{{end}}
`))

type pageData struct {
	Title, Client, Error, Action, ID, User, Expires string
	Permissions, Accounts                           []string
}

// render writes a page. The consent form's answer redirects to the
// client's redirect URI, which form-action must allow (browsers apply it
// to the redirects of a submission too): formTo is its origin.
func render(w http.ResponseWriter, name string, status int, d pageData, formTo ...string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"+strings.Join(append([]string{""}, formTo...), " "))
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, name, d)
}

func (b *Bank) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if _, ok := b.store.request(id); !ok {
		http.Error(w, "This sign-in has expired or is unknown. Start again from the app.", http.StatusBadRequest)
		return
	}
	render(w, "login", http.StatusOK, pageData{Title: "Sign in", Client: ClientID, Action: pathLogin, ID: id})
}

// checkPSU checks a PSU's credentials in constant time per PSU.
func checkPSU(username, password string) bool {
	ok := false
	for _, p := range PSUs {
		u := subtle.ConstantTimeCompare([]byte(p.Username), []byte(username))
		pw := subtle.ConstantTimeCompare([]byte(p.Password), []byte(password))
		if u&pw == 1 {
			ok = true
		}
	}
	return ok
}

func (b *Bank) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("id")
	a, ok := b.store.request(id)
	if !ok || a.done {
		http.Error(w, "This sign-in has expired or is unknown. Start again from the app.", http.StatusBadRequest)
		return
	}
	user := r.PostForm.Get("username")
	if !checkPSU(user, r.PostForm.Get("password")) {
		render(w, "login", http.StatusUnauthorized, pageData{Title: "Sign in", Client: ClientID, Action: pathLogin, ID: id,
			Error: "The username or password is wrong."})
		return
	}
	b.store.mu.Lock()
	a.userID = user
	a.authTime = b.now()
	b.store.mu.Unlock()
	http.Redirect(w, r, pathConsent+"?id="+url.QueryEscape(id), http.StatusSeeOther)
}

// signedIn returns the request a PSU signed in for.
func (b *Bank) signedIn(id string) (*authRequest, string, bool) {
	a, ok := b.store.request(id)
	if !ok {
		return nil, "", false
	}
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	if a.userID == "" || a.done {
		return nil, "", false
	}
	return a, a.userID, true
}

func (b *Bank) consentPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	a, user, ok := b.signedIn(id)
	if !ok {
		http.Error(w, "This sign-in has expired or is unknown. Start again from the app.", http.StatusBadRequest)
		return
	}
	c, ok := b.consents.get(a.consentID)
	if !ok {
		http.Error(w, "The consent is unknown.", http.StatusBadRequest)
		return
	}
	d := pageData{Title: "Consent", Client: ClientID, Action: pathConsent, ID: id, User: user, Permissions: c.Permissions}
	if c.Expiration != nil {
		d.Expires = c.Expiration.Format("2 January 2006")
	}
	if accts, err := b.accounts(r.Context(), user); err == nil {
		for _, acc := range accts {
			d.Accounts = append(d.Accounts, acc.Name+" ("+maskIBAN(acc.IBAN)+")")
		}
	}
	render(w, "consent", http.StatusOK, d, origin(a.redirectURI))
}

// origin is a URL's scheme and host, as CSP names it.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") || strings.ContainsAny(p.Host, " ;'") {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

func maskIBAN(s string) string {
	if len(s) <= 4 {
		return s
	}
	return strings.Repeat("•", 4) + s[len(s)-4:]
}

func (b *Bank) consentSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("id")
	a, user, ok := b.signedIn(id)
	if !ok {
		http.Error(w, "This sign-in has expired or is unknown. Start again from the app.", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	switch r.PostForm.Get("decision") {
	case "approve":
		if !b.consents.authorise(a.consentID, user, b.now()) {
			http.Error(w, "The consent can no longer be authorised.", http.StatusBadRequest)
			return
		}
		b.store.mu.Lock()
		a.done = true
		b.store.mu.Unlock()
		u, err := op.BuildAuthResponseCallbackURL(ctx, a, b.provider)
		if err != nil {
			http.Error(w, "The authorisation could not be completed.", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, withIss(u, b.issuer), http.StatusSeeOther)
	case "deny":
		b.consents.reject(a.consentID, b.now())
		_ = b.store.DeleteAuthRequest(ctx, a.id)
		q := url.Values{"error": {"access_denied"}, "error_description": {"The PSU denied the consent."},
			"state": {a.state}, "iss": {b.issuer}}
		http.Redirect(w, r, addQuery(a.redirectURI, q), http.StatusSeeOther)
	default:
		http.Error(w, "decision must be approve or deny", http.StatusBadRequest)
	}
}

// withIss adds the issuer to an authorisation response (RFC 9207).
func withIss(u, issuer string) string { return addQuery(u, url.Values{"iss": {issuer}}) }

func addQuery(u string, q url.Values) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	v := p.Query()
	for k, vs := range q {
		v[k] = vs
	}
	p.RawQuery = v.Encode()
	return p.String()
}
