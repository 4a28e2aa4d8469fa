// Package modelbank is a local ASPSP that follows the UK Open Banking
// Read/Write API v3.1 (the base of the UAE and Saudi open-finance
// standards): an OpenID Connect authorisation server with the FAPI 2.0
// baseline (pushed authorisation requests, PKCE S256, private_key_jwt,
// mutual TLS with a CA of its own, iss on the authorisation response),
// PSU login and consent pages that are plain HTML forms, account-access
// consents with their status transitions and expiry, and the Account and
// Transaction API (accounts, balances, transactions with paging and
// booking-date filters, parties) over data from bankgate's deterministic
// sandbox generator.
//
// The authorisation server is github.com/zitadel/oidc's op; the model
// bank adds what that library leaves to its user: PAR in front of its
// authorize endpoint, the client-credentials grant authenticated with
// private_key_jwt, the mTLS checks, and the pages.
//
// Everything lives in memory and dies with the process; every start makes
// new keys and certificates (Write puts them, with banks.yaml, into a
// directory).
package modelbank

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/bankgate/bankgate/sandbox"
)

// Paths.
const (
	pathDiscovery = "/.well-known/openid-configuration"
	pathPAR       = "/as/par"
	pathAuthorize = "/authorize"
	pathToken     = "/oauth/token"
	pathLogin     = "/psu/login"
	pathConsent   = "/psu/consent"
	// APIPrefix is where the Account and Transaction API is served.
	APIPrefix = "/open-banking/v3.1/aisp"
)

// parTTL is how long a request_uri is good for.
const parTTL = 90 * time.Second

// Options configures a model bank.
type Options struct {
	// Issuer is the bank's base URL, https://HOST:PORT, as clients reach it.
	Issuer string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PageSize is how many transactions a page holds; 0 means 50.
	PageSize int
	// ConsentTTL is the longest life of a consent (its
	// ExpirationDateTime, when the TPP asks for none or a later one); 0
	// means 90 days.
	ConsentTTL time.Duration
	// AccessTokenTTL is the life of an access token; 0 means 5 minutes.
	AccessTokenTTL time.Duration
	Log            *slog.Logger
}

// PSU is a payment services user the model bank knows.
type PSU struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// PSUs are the model bank's users. Their accounts and transactions are the
// sandbox generator's for the same username at DataBank.
var PSUs = []PSU{
	{Username: "psu-alice", Password: "alice-pass-1"},
	{Username: "psu-bob", Password: "bob-pass-2"},
}

// DataBank is the sandbox bank whose generated data the PSUs hold.
const DataBank = "SANDBOX_AE_ENBD"

// Bank is a running model bank's state and handler.
type Bank struct {
	opts     Options
	issuer   string
	now      func() time.Time
	log      *slog.Logger
	pki      *pki
	store    *storage
	consents *consentStore
	provider *op.Provider
	data     *sandbox.Connector
	pageSize int

	mu  sync.Mutex
	par map[string]*parRequest // by request_uri

	clientThumb string
	handler     http.Handler
}

type parRequest struct {
	params    url.Values
	consentID string
	expires   time.Time
}

// New makes a model bank: its keys and certificates, its authorisation
// server and its API.
func New(opts Options) (*Bank, error) {
	u, err := url.Parse(opts.Issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("modelbank: the issuer must be an https URL, not %q", opts.Issuer)
	}
	b := &Bank{opts: opts, issuer: strings.TrimSuffix(opts.Issuer, "/"), now: opts.Now, log: opts.Log,
		pageSize: opts.PageSize, par: map[string]*parRequest{}}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.pageSize <= 0 {
		b.pageSize = 50
	}
	if b.opts.AccessTokenTTL <= 0 {
		b.opts.AccessTokenTTL = 5 * time.Minute
	}
	if b.opts.ConsentTTL <= 0 {
		b.opts.ConsentTTL = 90 * 24 * time.Hour
	}
	if b.pki, err = newPKI(u.Hostname(), b.now()); err != nil {
		return nil, fmt.Errorf("modelbank: %w", err)
	}
	b.clientThumb = certThumbprint(b.pki.clientCert)
	b.store = newStorage(b)
	b.consents = newConsentStore()
	b.data = sandbox.New(sandbox.Options{Now: b.now})
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	cfg := &op.Config{
		CryptoKey:               key,
		CodeMethodS256:          true,
		AuthMethodPrivateKeyJWT: true,
		GrantTypeRefreshToken:   true,
		SupportedUILocales:      []language.Tag{language.English},
		SupportedScopes:         []string{oidc.ScopeOpenID, "accounts"},
	}
	b.provider, err = op.NewProvider(cfg, b.store, op.StaticIssuer(b.issuer),
		op.WithCustomTokenEndpoint(op.NewEndpoint(strings.TrimPrefix(pathToken, "/"))),
		op.WithCustomAuthEndpoint(op.NewEndpoint(strings.TrimPrefix(pathAuthorize, "/"))),
		op.WithLogger(b.log))
	if err != nil {
		return nil, fmt.Errorf("modelbank: %w", err)
	}
	b.handler = b.routes()
	return b, nil
}

// Issuer is the bank's issuer URL.
func (b *Bank) Issuer() string { return b.issuer }

// CAPool is a pool holding the bank's CA, for clients.
func (b *Bank) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(b.pki.caCert)
	return p
}

// TLSConfig is the server's TLS configuration: its certificate, and
// client certificates from its CA verified when given (the PSU's browser
// presents none; the endpoints a TPP calls demand one).
func (b *Bank) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{b.pki.serverCert},
			PrivateKey:  b.pki.serverKey,
		}},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  b.CAPool(),
	}
}

// Handler serves the bank (behind TLS: see TLSConfig).
func (b *Bank) Handler() http.Handler { return b.handler }

func randomID() string {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(r[:])
}

func (b *Bank) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathDiscovery, b.discovery)
	mux.HandleFunc("POST "+pathPAR, b.pushAuthorization)
	mux.HandleFunc(pathAuthorize, b.authorize)
	mux.HandleFunc("POST "+pathToken, b.token)
	mux.HandleFunc("GET "+pathLogin, b.loginPage)
	mux.HandleFunc("POST "+pathLogin, b.loginSubmit)
	mux.HandleFunc("GET "+pathConsent, b.consentPage)
	mux.HandleFunc("POST "+pathConsent, b.consentSubmit)
	b.apiRoutes(mux)
	// The rest (JWKS, revocation, introspection, userinfo) is the
	// library's.
	mux.Handle("/", b.provider)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(op.ContextWithIssuer(r.Context(), b.issuer))
		mux.ServeHTTP(w, r)
	})
}

// discovery is the library's discovery document plus what the model bank
// adds: PAR, required; iss on the authorisation response; mTLS-bound
// tokens; and the Open Banking endpoints.
func (b *Bank) discovery(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	b.provider.ServeHTTP(rec, r)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		http.Error(w, "discovery unavailable", http.StatusInternalServerError)
		return
	}
	doc["pushed_authorization_request_endpoint"] = b.issuer + pathPAR
	doc["require_pushed_authorization_requests"] = true
	doc["request_uri_parameter_supported"] = true
	doc["introspection_endpoint_auth_methods_supported"] = []string{"private_key_jwt"}
	doc["introspection_endpoint_auth_signing_alg_values_supported"] = []string{"ES256", "PS256"}
	doc["revocation_endpoint_auth_methods_supported"] = []string{"private_key_jwt"}
	doc["revocation_endpoint_auth_signing_alg_values_supported"] = []string{"ES256", "PS256"}
	doc["authorization_response_iss_parameter_supported"] = true
	doc["tls_client_certificate_bound_access_tokens"] = true
	doc["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt"}
	doc["token_endpoint_auth_signing_alg_values_supported"] = []string{"ES256", "PS256"}
	doc["grant_types_supported"] = []string{"authorization_code", "refresh_token", "client_credentials"}
	doc["response_types_supported"] = []string{"code"}
	doc["scopes_supported"] = []string{"openid", "accounts"}
	doc["claims_supported"] = []string{"sub", "openbanking_intent_id", "acr", "auth_time"}
	doc["x-openbanking-aisp-base-url"] = b.issuer + APIPrefix
	for _, k := range []string{"end_session_endpoint", "device_authorization_endpoint"} {
		delete(doc, k)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// clientCert checks the request came over mTLS with the registered
// client's certificate and returns its thumbprint.
func (b *Bank) clientCert(r *http.Request) (string, bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", false
	}
	t := certThumbprint(r.TLS.PeerCertificates[0])
	return t, t == b.clientThumb
}

// oauthError writes an RFC 6749 error response.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// authenticateClient checks the mTLS certificate and the private_key_jwt
// client assertion of a form request.
func (b *Bank) authenticateClient(r *http.Request) (thumb string, err error) {
	thumb, ok := b.clientCert(r)
	if !ok {
		return "", errors.New("a client certificate registered to the client is required (mTLS)")
	}
	if r.PostForm.Get("client_assertion_type") != oidc.ClientAssertionTypeJWTAssertion {
		return "", errors.New("private_key_jwt client authentication is required")
	}
	clientID, err := op.ClientJWTAuth(r.Context(), oidc.ClientAssertionParams{
		ClientAssertion: r.PostForm.Get("client_assertion"), ClientAssertionType: oidc.ClientAssertionTypeJWTAssertion}, b.provider)
	if err != nil || clientID != ClientID || (r.PostForm.Get("client_id") != "" && r.PostForm.Get("client_id") != clientID) {
		return "", errors.New("the client assertion is invalid")
	}
	return thumb, nil
}

// pushAuthorization is the PAR endpoint (RFC 9126).
func (b *Bank) pushAuthorization(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if _, err := b.authenticateClient(r); err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	f := r.PostForm
	if f.Get("request_uri") != "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "request_uri may not be pushed")
		return
	}
	if f.Get("response_type") != "code" {
		oauthError(w, http.StatusBadRequest, "unsupported_response_type", "response_type must be code")
		return
	}
	if f.Get("code_challenge_method") != "S256" || f.Get("code_challenge") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "PKCE with S256 is required")
		return
	}
	if f.Get("redirect_uri") == "" || f.Get("state") == "" || f.Get("nonce") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "redirect_uri, state and nonce are required")
		return
	}
	consentID, err := intentID(f.Get("claims"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if !b.consents.awaiting(consentID, ClientID, b.now()) {
		oauthError(w, http.StatusBadRequest, "invalid_request", "openbanking_intent_id is not a consent awaiting authorisation")
		return
	}
	params := url.Values{}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if v := f.Get(k); v != "" {
			params.Set(k, v)
		}
	}
	params.Set("client_id", ClientID)
	uri := "urn:ietf:params:oauth:request_uri:" + randomID()
	b.mu.Lock()
	now := b.now()
	for k, p := range b.par {
		if now.After(p.expires) {
			delete(b.par, k)
		}
	}
	b.par[uri] = &parRequest{params: params, consentID: consentID, expires: now.Add(parTTL)}
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"request_uri": uri, "expires_in": int(parTTL / time.Second)})
}

// intentID reads openbanking_intent_id from an OIDC claims parameter.
func intentID(claims string) (string, error) {
	var c struct {
		IDToken map[string]struct {
			Value string `json:"value"`
		} `json:"id_token"`
		Userinfo map[string]struct {
			Value string `json:"value"`
		} `json:"userinfo"`
	}
	if claims == "" || json.Unmarshal([]byte(claims), &c) != nil {
		return "", errors.New("the claims parameter must ask for openbanking_intent_id")
	}
	if v := c.IDToken["openbanking_intent_id"].Value; v != "" {
		return v, nil
	}
	if v := c.Userinfo["openbanking_intent_id"].Value; v != "" {
		return v, nil
	}
	return "", errors.New("the claims parameter must ask for openbanking_intent_id")
}

// authorize takes only pushed requests: it swaps request_uri for what was
// pushed and hands the request to the library's authorize endpoint.
func (b *Bank) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "The authorisation endpoint takes GET.", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	uri := q.Get("request_uri")
	b.mu.Lock()
	p, ok := b.par[uri]
	delete(b.par, uri) // a request_uri is good once
	b.mu.Unlock()
	if uri == "" || !ok || b.now().After(p.expires) || q.Get("client_id") != p.params.Get("client_id") {
		http.Error(w, "This authorisation request is unknown or expired: requests must be pushed (PAR) first.", http.StatusBadRequest)
		return
	}
	r2 := r.Clone(context.WithValue(r.Context(), consentKey{}, p.consentID))
	r2.URL.RawQuery = p.params.Encode()
	r2.RequestURI = r2.URL.RequestURI()
	b.provider.ServeHTTP(w, r2)
}

// token is the token endpoint: mTLS always; the client-credentials grant
// (authenticated with private_key_jwt) here, the rest in the library,
// whose tokens this request's certificate is bound to.
func (b *Bank) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	thumb, ok := b.clientCert(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "a client certificate registered to the client is required (mTLS)")
		return
	}
	if r.PostForm.Get("client_assertion_type") != oidc.ClientAssertionTypeJWTAssertion {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "private_key_jwt client authentication is required")
		return
	}
	ctx := withCert(r.Context(), thumb)
	if r.PostForm.Get("grant_type") != "client_credentials" {
		b.provider.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	if _, err := b.authenticateClient(r); err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	for _, s := range scopes {
		if s != "accounts" {
			oauthError(w, http.StatusBadRequest, "invalid_scope", "only the accounts scope is offered")
			return
		}
	}
	t := b.store.newAccessToken(ctx, ccRequest{scopes: scopes})
	tok, err := b.provider.Crypto().Encrypt(t.id + ":" + ClientID)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": int(b.opts.AccessTokenTTL / time.Second), "scope": strings.Join(scopes, " ")})
}

// ccRequest is a client-credentials token request.
type ccRequest struct{ scopes []string }

func (c ccRequest) GetSubject() string    { return ClientID }
func (c ccRequest) GetAudience() []string { return []string{ClientID} }
func (c ccRequest) GetScopes() []string   { return c.scopes }

// bearer returns the live access token of an API request made over the
// certificate the token is bound to.
func (b *Bank) bearer(r *http.Request) (*accessToken, bool) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || raw == "" {
		return nil, false
	}
	plain, err := b.provider.Crypto().Decrypt(raw)
	if err != nil {
		return nil, false
	}
	id, _, ok := strings.Cut(plain, ":")
	if !ok {
		return nil, false
	}
	t, ok := b.store.token(id)
	if !ok {
		return nil, false
	}
	thumb, ok := b.clientCert(r)
	if !ok || thumb != t.certThumbprint {
		return nil, false
	}
	return t, true
}

// ExpireConsent ends a consent's life now, as its ExpirationDateTime
// passing would (for tests and demonstrations).
func (b *Bank) ExpireConsent(id string) bool {
	return b.consents.expire(id, b.now())
}

// RevokeRefreshTokens revokes the refresh tokens issued under a consent
// while the consent stands (for tests and demonstrations).
func (b *Bank) RevokeRefreshTokens(consentID string) { b.store.revokeRefreshTokens(consentID) }

// ConsentStatus reads a consent's status ("" when there is none).
func (b *Bank) ConsentStatus(id string) string {
	c, ok := b.consents.get(id)
	if !ok {
		return ""
	}
	return c.Status
}

// Consents lists the IDs of the consents, oldest first.
func (b *Bank) Consents() []string { return b.consents.ids() }

// Start listens on addr (HOST:PORT; port 0 picks one), makes a model bank
// whose issuer is https://HOST:PORT as bound (an unspecified host is named
// 127.0.0.1; opts.Issuer is ignored), writes its files to dir (see Write)
// and serves it over TLS in the background. It returns the bank, its
// server (Shutdown or Close it to stop) and a channel that receives the
// error serving ended with.
func Start(addr string, opts Options, dir string) (*Bank, *http.Server, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("modelbank: %w", err)
	}
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	opts.Issuer = "https://" + net.JoinHostPort(host, port)
	b, err := New(opts)
	if err == nil {
		err = b.Write(dir)
	}
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	srv := &http.Server{Handler: b.Handler(), TLSConfig: b.TLSConfig(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(b.log.Handler(), slog.LevelDebug)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	return b, srv, done, nil
}
