// Package connect serves bankgate's Connect layer pages: GET /connect (the
// page an end user picks a bank and logs in on) and GET /connect.js (the
// script apps embed to open it). The page talks to the Connect JSON API
// (/v2/connect/banks/get, /v2/connect/login).
//
// The page is rendered server-side for one app: the app's name and Connect
// settings are injected as an HTML-escaped JSON block, and every response
// carries a strict Content-Security-Policy with a per-response nonce, whose
// frame-ancestors are the origins the app registered. The page hands the
// result of a login to the app with window.postMessage, only ever to a
// registered origin, or by redirecting to a registered redirect URI with
// the result in the fragment.
package connect

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/internal/negotiate"
	"github.com/bankgate/bankgate/logos"
	"github.com/bankgate/bankgate/requestid"
)

// Apps looks apps up by their public key.
type Apps interface {
	AppByKey(ctx context.Context, appKey string) (*bankgate.App, error)
	// RedirectCallback completes a login at a bank that sent the user
	// back to /connect/callback with the query of its authorisation
	// response.
	RedirectCallback(ctx context.Context, query map[string][]string) (*bankgate.CallbackResult, error)
}

// Config configures the Connect pages.
type Config struct {
	Apps   Apps
	Logger *slog.Logger
}

//go:embed assets
var assetFS embed.FS

// Query parameter limits.
const (
	maxAppKey       = 256
	maxClientUserID = 256
	maxState        = 512
	maxCountries    = 32
)

// Environments the page accepts. Production lists only banks that are not
// sandbox banks.
const (
	EnvSandbox    = "sandbox"
	EnvProduction = "production"
)

// asset is one embedded static file.
type asset struct {
	body    []byte
	ctype   string
	version string // first 16 hex digits of the SHA-256 of body
	// gz is body gzipped once, at start, when that makes it smaller;
	// served to clients that accept gzip.
	gz []byte
}

func newAsset(name, ctype string) *asset {
	b, err := assetFS.ReadFile("assets/" + name)
	if err != nil {
		panic("connect: missing embedded asset " + name)
	}
	sum := sha256.Sum256(b)
	a := &asset{body: b, ctype: ctype, version: hex.EncodeToString(sum[:8])}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if gz.Len() < len(b) {
		a.gz = gz.Bytes()
	}
	return a
}

type handler struct {
	apps    Apps
	log     *slog.Logger
	page    *template.Template
	errPage *template.Template
	assets  map[string]*asset // served under /connect/assets/
	sdk     *asset            // served at /connect.js
}

var templates = template.Must(template.ParseFS(assetFS, "assets/*.html"))

// New returns the handler for GET /connect, /connect.js, the page's
// assets under /connect/ and the bank logos under /connect/logos/. Other methods are refused with 405; other paths
// under /connect/ are 404.
func New(cfg Config) http.Handler {
	h := &handler{
		apps:    cfg.Apps,
		log:     cfg.Logger,
		page:    templates.Lookup("page.html"),
		errPage: templates.Lookup("error.html"),
		assets: map[string]*asset{
			"page.js":  newAsset("page.js", "text/javascript; charset=utf-8"),
			"page.css": newAsset("page.css", "text/css; charset=utf-8"),
		},
		sdk: newAsset("sdk.js", "text/javascript; charset=utf-8"),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	switch p := r.URL.Path; {
	case p == "/connect":
		h.servePage(w, r)
	case p == "/connect/callback":
		h.serveCallback(w, r)
	case p == "/connect.js":
		h.serveAsset(w, r, h.sdk, true)
	case strings.HasPrefix(p, "/connect/assets/"):
		a := h.assets[strings.TrimPrefix(p, "/connect/assets/")]
		if a == nil {
			plain(w, http.StatusNotFound, "not found")
			return
		}
		h.serveAsset(w, r, a, false)
	case strings.HasPrefix(p, logos.Prefix):
		serveLogo(w, r)
	default:
		plain(w, http.StatusNotFound, "not found")
	}
}

func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}

// serveAsset serves an embedded file. The page's own assets are
// same-origin resources cached for good when requested with their current
// version; connect.js is loaded by apps' pages on other origins and is
// cached briefly, since its URL carries no version.
func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, a *asset, crossOrigin bool) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	body, etag := a.body, a.version
	if a.gz != nil {
		hd.Set("Vary", "Accept-Encoding")
		if negotiate.Gzip(r.Header["Accept-Encoding"]) {
			body, etag = a.gz, a.version+"-gzip"
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", `"`+etag+`"`)
	if crossOrigin {
		hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
		hd.Set("Cache-Control", "public, max-age=300")
	} else {
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.URL.Query().Get("v") == a.version {
			hd.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			hd.Set("Cache-Control", "no-cache")
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// pageConfig is what the page script reads from the JSON block.
type pageConfig struct {
	AppKey       string   `json:"appKey"`
	AppName      string   `json:"appName"`
	Environment  string   `json:"environment"`
	Countries    []string `json:"countries"`
	ClientUserID string   `json:"clientUserID"`
	// State is the app's opaque value, handed back with the result (the
	// link message and the redirect fragment) so that the app can tell
	// that the result answers a Connect session it started (login CSRF).
	State string `json:"state"`
	// RedirectURI is set only when it exactly matches one the app
	// registered.
	RedirectURI string `json:"redirectUri"`
	IsWebview   bool   `json:"isWebview"`
	// Origin is the embedding page's origin from the origin parameter, set
	// only when the app registered it.
	Origin string `json:"origin"`
	// AllowedOrigins are the origins the page may post its result to.
	AllowedOrigins []string `json:"allowedOrigins"`
	// Locale is the page's locale (see negotiateLocale); its catalogue is
	// in the page's bg-messages block.
	Locale string `json:"locale"`
}

type pageData struct {
	Nonce   string
	CSS, JS string
	AppName string
	Sandbox bool
	Webview bool
	Config  pageConfig
	L       *locale // the page's locale: lang, dir, texts, catalogue
	Theme   string  // ThemeAuto, ThemeLight or ThemeDark
	Scheme  string  // the color-scheme meta tag's content
}

type errorData struct {
	Nonce  string
	CSS    string
	L      *locale
	Theme  string
	Scheme string
	Title  string
	Msg    string
	Detail string // for the developer who set up the link, in English
	// OK shows the page as a success instead of a refusal.
	OK bool
}

// pageError is a request the page refuses: what to tell the user, as the
// catalogue keys of a title and a message, and the developer's detail.
type pageError struct {
	status int
	title  string // catalogue key
	msg    string // catalogue key
	detail string
}

// view is what a page request asked for how the page looks.
type view struct {
	l     *locale
	theme string
}

func viewOf(r *http.Request) view {
	q := r.URL.Query()
	return view{l: negotiateLocale(q.Get("locale"), r.Header.Get("Accept-Language")), theme: parseTheme(q.Get("theme"))}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	nonce := newNonce()
	q := r.URL.Query()
	v := viewOf(r)
	appKey := q.Get("appKey")
	if appKey == "" || len(appKey) > maxAppKey {
		h.renderError(w, nonce, nil, v, &pageError{http.StatusBadRequest, "refused.incomplete.title", "refused.incomplete.body",
			"The appKey query parameter is missing or too long."})
		return
	}
	app, err := h.apps.AppByKey(r.Context(), appKey)
	if err != nil {
		if bankgate.IsCode(err, bankgate.InvalidAppCredentials) || bankgate.IsCode(err, bankgate.NotFound) {
			h.renderError(w, nonce, nil, v, &pageError{http.StatusNotFound, "refused.unknownApp.title", "refused.unknownApp.body",
				"No app has this appKey."})
			return
		}
		h.log.Error("connect page: look up app", "reqID", requestid.FromContext(r.Context()), "err", err)
		h.renderError(w, nonce, nil, v, &pageError{http.StatusServiceUnavailable, "refused.unavailable.title", "refused.unavailable.body", ""})
		return
	}
	origins := allowedOrigins(app.AllowedOrigins)
	cfg, perr := parseQuery(q, app, origins)
	if perr != nil {
		h.renderError(w, nonce, origins, v, perr)
		return
	}
	cfg.Locale = v.l.Tag
	data := pageData{
		Nonce:   nonce,
		CSS:     "connect/assets/page.css?v=" + h.assets["page.css"].version,
		JS:      "connect/assets/page.js?v=" + h.assets["page.js"].version,
		AppName: app.Name,
		Sandbox: cfg.Environment == EnvSandbox,
		Webview: cfg.IsWebview,
		Config:  *cfg,
		L:       v.l,
		Theme:   v.theme,
		Scheme:  colorScheme(v.theme),
	}
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, data); err != nil {
		h.log.Error("connect page: render", "reqID", requestid.FromContext(r.Context()), "err", err)
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	setPageHeaders(w, nonce, true, origins)
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

func (h *handler) renderError(w http.ResponseWriter, nonce string, origins []string, v view, e *pageError) {
	var buf bytes.Buffer
	err := h.errPage.Execute(&buf, errorData{Nonce: nonce, CSS: "connect/assets/page.css?v=" + h.assets["page.css"].version,
		L: v.l, Theme: v.theme, Scheme: colorScheme(v.theme), Title: v.l.T(e.title), Msg: v.l.T(e.msg), Detail: e.detail})
	if err != nil {
		h.log.Error("connect page: render error page", "err", err)
		plain(w, e.status, v.l.T(e.title))
		return
	}
	setPageHeaders(w, nonce, false, origins)
	w.WriteHeader(e.status)
	w.Write(buf.Bytes())
}

// serveCallback is where a bank that logs users in by redirect sends them
// back: the login completes here, and the app collects the connection by
// resuming the login (the Connect page does, while this page tells the
// user to go back).
func (h *handler) serveCallback(w http.ResponseWriter, r *http.Request) {
	nonce := newNonce()
	v := viewOf(r)
	if r.Method == http.MethodHead {
		setPageHeaders(w, nonce, false, nil)
		return
	}
	res, err := h.apps.RedirectCallback(r.Context(), r.URL.Query())
	if res != nil && res.Return != "" {
		// Back to the Connect page the user left, which resumes the login
		// and shows how it went (http.Redirect makes ../connect /connect).
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, "../connect"+res.Return, http.StatusSeeOther)
		return
	}
	// The page sits one level down: its stylesheet is relative to it.
	d := errorData{Nonce: nonce, CSS: "assets/page.css?v=" + h.assets["page.css"].version,
		L: v.l, Theme: v.theme, Scheme: colorScheme(v.theme), OK: true,
		Title: v.l.T("callback.done.title"), Msg: v.l.T("callback.done.body")}
	status := http.StatusOK
	if err != nil {
		d.OK, status = false, http.StatusBadRequest
		d.Title, d.Msg = v.l.T("callback.failed.title"), v.l.T("callback.failed.body")
		switch code := bankgate.ErrorCode(err); code {
		case bankgate.InvalidCredentials:
			d.Msg = v.l.T("callback.denied.body")
		case bankgate.ParameterError, bankgate.InvalidOperationID, bankgate.SessionExpired:
		default:
			status = http.StatusBadGateway
			h.log.Warn("connect callback", "type", code, "err", err)
		}
	}
	var buf bytes.Buffer
	if err := h.errPage.Execute(&buf, d); err != nil {
		h.log.Error("connect page: render callback page", "err", err)
		plain(w, status, d.Title)
		return
	}
	setPageHeaders(w, nonce, false, nil)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// parseQuery validates the page's query parameters against the app's
// registrations.
func parseQuery(q url.Values, app *bankgate.App, origins []string) (*pageConfig, *pageError) {
	bad := func(title, msg, detail string) *pageError {
		return &pageError{http.StatusBadRequest, title, msg, detail}
	}
	const invalid, invalidMsg = "refused.invalid.title", "refused.invalid.body"
	cfg := &pageConfig{AppKey: app.Key, AppName: app.Name, Countries: []string{}, AllowedOrigins: origins}
	if cfg.AllowedOrigins == nil {
		cfg.AllowedOrigins = []string{}
	}
	switch env := strings.ToLower(q.Get("environment")); env {
	case "":
		cfg.Environment = EnvProduction
	case EnvSandbox, EnvProduction:
		cfg.Environment = env
	default:
		return nil, bad(invalid, invalidMsg,
			`The environment parameter must be "sandbox" or "production".`)
	}
	if cs := q.Get("countries"); cs != "" {
		// Accept "AE,SA" and the 2019-era ["AE","SA"].
		cs = strings.Trim(cs, "[] ")
		for _, c := range strings.Split(cs, ",") {
			c = strings.ToUpper(strings.Trim(c, `" `))
			if c == "" {
				continue
			}
			if !countryRE.MatchString(c) || len(cfg.Countries) >= maxCountries {
				return nil, bad(invalid, invalidMsg,
					"The countries parameter must be a comma-separated list of ISO 3166-1 alpha-2 codes, like AE,SA.")
			}
			if !slices.Contains(cfg.Countries, c) {
				cfg.Countries = append(cfg.Countries, c)
			}
		}
	}
	cfg.ClientUserID = q.Get("clientUserID")
	if len(cfg.ClientUserID) > maxClientUserID {
		return nil, bad(invalid, invalidMsg,
			"The clientUserID parameter is longer than 256 characters.")
	}
	cfg.State = q.Get("state")
	if len(cfg.State) > maxState {
		return nil, bad(invalid, invalidMsg,
			"The state parameter is longer than 512 characters.")
	}
	switch strings.ToLower(q.Get("isWebview")) {
	case "true", "1":
		cfg.IsWebview = true
	case "", "false", "0":
	default:
		return nil, bad(invalid, invalidMsg,
			`The isWebview parameter must be "true" or "false".`)
	}
	if ru := q.Get("redirectUri"); ru != "" {
		// Exact match only: no prefix or pattern matching, so no open
		// redirect.
		if !slices.Contains(app.RedirectURIs, ru) {
			return nil, bad(invalid, "refused.redirect.body",
				"The redirectUri is not one of the app's registered redirect URIs (bankgate apps set --redirect-uri).")
		}
		cfg.RedirectURI = ru
	}
	if o := q.Get("origin"); o != "" {
		n, ok := normalizeOrigin(o)
		if !ok || !slices.Contains(origins, n) {
			return nil, bad("refused.origin.title", "refused.origin.body",
				"The origin is not one of the app's allowed origins (bankgate apps set --allowed-origin).")
		}
		cfg.Origin = n
	}
	return cfg, nil
}

var (
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	// originRE is what an origin may look like in a CSP header: no spaces,
	// semicolons, commas or quotes.
	originRE = regexp.MustCompile(`^https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?$`)
)

// normalizeOrigin returns an http(s) origin in the form browsers report it
// (lower case, default port dropped), and whether s is one.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if u.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	o := u.Scheme + "://" + host
	if !originRE.MatchString(o) {
		return "", false
	}
	return o, true
}

// allowedOrigins normalises an app's registered origins, dropping any that
// are not plain origins.
func allowedOrigins(in []string) []string {
	var out []string
	for _, o := range in {
		if n, ok := normalizeOrigin(o); ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// CSP returns the Content-Security-Policy of a Connect page rendered with
// the given nonce, framed only by the given origins ('none' when empty).
// Scripts run only when the page is the full Connect page.
func CSP(nonce string, scripts bool, frameAncestors []string) string {
	script := "'none'"
	if scripts {
		script = "'nonce-" + nonce + "'"
	}
	fa := "'none'"
	if len(frameAncestors) > 0 {
		fa = strings.Join(frameAncestors, " ")
	}
	return "default-src 'none'; script-src " + script + "; style-src 'nonce-" + nonce + "'; connect-src 'self'; " +
		"img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors " + fa + "; " +
		"require-trusted-types-for 'script'; trusted-types 'none'"
}

func setPageHeaders(w http.ResponseWriter, nonce string, scripts bool, frameAncestors []string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP(nonce, scripts, frameAncestors))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	if len(frameAncestors) == 0 {
		h.Set("X-Frame-Options", "DENY")
	}
}

func newNonce() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
