package openbanking

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/bankgate/bankgate"
)

// discoveryTTL is how long a bank's discovery document and keys are used
// before they are read again.
const discoveryTTL = time.Hour

// maxBody bounds what is read of a bank's answer.
const maxBody = 4 << 20

// discovery is the part of an OpenID Provider's metadata the connector
// uses.
type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	PAREndpoint           string `json:"pushed_authorization_request_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	IssParameterSupported bool   `json:"authorization_response_iss_parameter_supported"`
}

// client talks to one bank: its authorisation server (over mutual TLS,
// authenticated with private_key_jwt) and its Account and Transaction API.
type client struct {
	cfg *BankConfig
	hc  *http.Client
	now func() time.Time

	mu     sync.Mutex
	meta   *discovery
	metaAt time.Time
	keys   *jose.JSONWebKeySet
	cc     *oauth2.Token // the client-credentials token
}

func newClient(cfg *BankConfig, now func() time.Time, base http.RoundTripper) *client {
	c := &client{cfg: cfg, now: now}
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cfg.tlsCert},
			RootCAs:      cfg.caPool,
		}
		base = t
	}
	c.hc = &http.Client{Timeout: 30 * time.Second, Transport: &assertingTransport{base: base, c: c},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c
}

// assertingTransport authenticates the client at the token endpoint with
// a fresh private_key_jwt assertion on every request there, so that
// golang.org/x/oauth2's exchanges and refreshes carry one.
type assertingTransport struct {
	base http.RoundTripper
	c    *client
}

func (t *assertingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	meta := t.c.cachedMeta()
	if r.Method != http.MethodPost || meta == nil || r.URL.String() != meta.TokenEndpoint || r.Body == nil {
		return t.base.RoundTrip(r)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	if err := t.c.authenticate(form); err != nil {
		return nil, err
	}
	enc := form.Encode()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(enc))
	r2.ContentLength = int64(len(enc))
	r2.GetBody = nil
	return t.base.RoundTrip(r2)
}

// authenticate adds the client authentication to a form bound for the
// authorisation server.
func (c *client) authenticate(form url.Values) error {
	a, err := c.assertion()
	if err != nil {
		return err
	}
	form.Del("client_secret")
	form.Set("client_id", c.cfg.ClientID)
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", a)
	return nil
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// assertion is a private_key_jwt client assertion (RFC 7523), its
// audience the issuer as FAPI 2.0 asks.
func (c *client) assertion() (string, error) {
	signer, err := jose.NewSigner(c.cfg.signer, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	now := c.now()
	claims := jwt.Claims{
		Issuer: c.cfg.ClientID, Subject: c.cfg.ClientID, Audience: jwt.Audience{c.cfg.Issuer},
		ID: randomString(16), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Second)),
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

func (c *client) cachedMeta() *discovery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.meta
}

// errBank is the error for a bank that cannot be reached or answers
// nonsense. The detail is logged by the transport, not shown.
func errBank(format string, args ...any) error {
	return bankgate.Errorf(bankgate.UnableToConnectToBank, "The bank could not be reached or answered in error. ("+format+")", args...)
}

func (c *client) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return errBank("%v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return errBank("GET %s: %s", u, res.Status)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxBody)).Decode(v); err != nil {
		return errBank("GET %s: %v", u, err)
	}
	return nil
}

// discover reads (or reuses) the bank's discovery document and keys.
func (c *client) discover(ctx context.Context) (*discovery, error) {
	c.mu.Lock()
	if c.meta != nil && c.now().Sub(c.metaAt) < discoveryTTL {
		m := c.meta
		c.mu.Unlock()
		return m, nil
	}
	c.mu.Unlock()
	var m discovery
	if err := c.getJSON(ctx, c.cfg.DiscoveryURL, &m); err != nil {
		return nil, err
	}
	if m.Issuer != c.cfg.Issuer {
		return nil, errBank("the discovery document names issuer %q, not %q", m.Issuer, c.cfg.Issuer)
	}
	if m.TokenEndpoint == "" || m.AuthorizationEndpoint == "" || m.PAREndpoint == "" || m.JWKSURI == "" {
		return nil, errBank("the discovery document lacks an endpoint (token, authorization, PAR, JWKS)")
	}
	var keys jose.JSONWebKeySet
	if err := c.getJSON(ctx, m.JWKSURI, &keys); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.meta, c.metaAt, c.keys = &m, c.now(), &keys
	c.mu.Unlock()
	return &m, nil
}

// httpContext makes golang.org/x/oauth2 use the mTLS client.
func (c *client) httpContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.hc)
}

func (c *client) oauthConfig(m *discovery, redirectURI string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.cfg.ClientID, RedirectURL: redirectURI, Scopes: []string{"openid", "accounts"},
		Endpoint: oauth2.Endpoint{AuthURL: m.AuthorizationEndpoint, TokenURL: m.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
}

// clientToken returns a client-credentials access token (scope accounts),
// reusing one until shortly before it expires.
func (c *client) clientToken(ctx context.Context) (string, error) {
	m, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.cc != nil && c.now().Add(30*time.Second).Before(c.cc.Expiry) {
		t := c.cc.AccessToken
		c.mu.Unlock()
		return t, nil
	}
	c.mu.Unlock()
	cc := clientcredentials.Config{ClientID: c.cfg.ClientID, TokenURL: m.TokenEndpoint, Scopes: []string{"accounts"},
		AuthStyle: oauth2.AuthStyleInParams}
	tok, err := cc.Token(c.httpContext(ctx))
	if err != nil {
		return "", errBank("client credentials: %v", err)
	}
	if tok.Expiry.IsZero() {
		tok.Expiry = c.now().Add(time.Minute)
	}
	c.mu.Lock()
	c.cc = tok
	c.mu.Unlock()
	return tok.AccessToken, nil
}

// apiError is a non-2xx answer of the resource server.
type apiError struct {
	Status int
	Codes  []string // the OBErrorResponse1's ErrorCodes
}

func (e *apiError) Error() string { return fmt.Sprintf("bank API: %d %v", e.Status, e.Codes) }

// api calls the Account and Transaction API with an access token over
// mTLS and decodes a JSON answer into out (unless nil).
func (c *client) api(ctx context.Context, method, u, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-fapi-interaction-id", newUUID())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-idempotency-key", newUUID())
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return errBank("%v", err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		e := &apiError{Status: res.StatusCode}
		var ob struct {
			Errors []struct {
				ErrorCode string `json:"ErrorCode"`
			} `json:"Errors"`
		}
		if json.NewDecoder(io.LimitReader(res.Body, maxBody)).Decode(&ob) == nil {
			for _, x := range ob.Errors {
				e.Codes = append(e.Codes, x.ErrorCode)
			}
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxBody)).Decode(out); err != nil {
		return errBank("%s %s: %v", method, u, err)
	}
	return nil
}

func newUUID() string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		panic(err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// par pushes an authorisation request (RFC 9126) and returns its
// request_uri.
func (c *client) par(ctx context.Context, m *discovery, params url.Values) (string, error) {
	if err := c.authenticate(params); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.PAREndpoint, strings.NewReader(params.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.hc.Do(req)
	if err != nil {
		return "", errBank("%v", err)
	}
	defer res.Body.Close()
	var out struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
		Error      string `json:"error"`
		Desc       string `json:"error_description"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, maxBody)).Decode(&out)
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK || out.RequestURI == "" {
		return "", errBank("PAR: %s %s %s", res.Status, out.Error, out.Desc)
	}
	return out.RequestURI, nil
}

// idClaims are the ID token claims the connector checks.
type idClaims struct {
	jwt.Claims
	Nonce    string `json:"nonce"`
	IntentID string `json:"openbanking_intent_id"`
}

// verifyIDToken checks an ID token's signature against the bank's keys
// and its issuer, audience, expiry, nonce and consent.
func (c *client) verifyIDToken(raw, nonce, consentID string) (*idClaims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.PS256, jose.RS256})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	keys := c.keys
	c.mu.Unlock()
	if keys == nil {
		return nil, errors.New("no keys")
	}
	var cl idClaims
	if err := tok.Claims(keys, &cl); err != nil {
		return nil, err
	}
	if err := cl.ValidateWithLeeway(jwt.Expected{Issuer: c.cfg.Issuer, AnyAudience: jwt.Audience{c.cfg.ClientID}, Time: c.now()}, time.Minute); err != nil {
		return nil, err
	}
	if cl.Nonce != nonce {
		return nil, errors.New("the nonce does not match")
	}
	if cl.IntentID != "" && cl.IntentID != consentID {
		return nil, errors.New("the ID token is for another consent")
	}
	if cl.Subject == "" {
		return nil, errors.New("the ID token has no subject")
	}
	return &cl, nil
}
