// Package openbanking is a bank connector for banks that follow the UK Open
// Banking Read/Write API v3.1 (the base of the UAE and Saudi open-finance
// standards): the Account and Transaction API behind an account-access
// consent that the user authorises at the bank, by redirect.
//
// Security follows the FAPI 2.0 baseline: pushed authorisation requests,
// PKCE S256, private_key_jwt client authentication (ES256 or PS256), mutual
// TLS with the bank's client certificate, state, nonce and iss checked on
// the way back. The OAuth and JOSE work is golang.org/x/oauth2's and
// github.com/go-jose/go-jose's.
//
// The session bankgate seals for a connection (with a key derived from the
// userSecret) holds the consent, the first tokens and a random key of the
// connection's own. When the bank rotates the refresh token, the new
// tokens go into the store's event stream openbanking/<connectionID>,
// sealed with that key, so that they are as safe at rest as the session
// and every bankgate instance finds them.
package openbanking

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/internal/memevents"
)

var (
	_ bank.Connector          = (*Connector)(nil)
	_ bank.RedirectLogin      = (*Connector)(nil)
	_ bank.AccountsReader     = (*Connector)(nil)
	_ bank.BalanceReader      = (*Connector)(nil)
	_ bank.TransactionsReader = (*Connector)(nil)
	_ bank.Delinker           = (*Connector)(nil)
)

// Permissions asked for in every account-access consent.
var Permissions = []string{
	"ReadAccountsBasic", "ReadAccountsDetail", "ReadBalances",
	"ReadTransactionsBasic", "ReadTransactionsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits",
	"ReadPartyPSU",
}

// ConsentDays is how long a consent is asked for.
const ConsentDays = 90

// EventLog is the part of bankgate.Store the connector keeps rotated
// tokens in.
type EventLog interface {
	AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error
	Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error)
}

// Options configures a Connector.
type Options struct {
	// Store keeps rotated tokens (its event streams); nil means memory.
	Store EventLog
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Transport, when set, replaces the mTLS transport (tests).
	Transport http.RoundTripper
}

// Connector serves the banks of a banks file.
type Connector struct {
	banks   []bankgate.Bank
	clients map[string]*client
	events  EventLog
	now     func() time.Time

	mu     sync.Mutex
	tokens map[string]*tokenState // by connection ID
}

// New returns a connector for the banks.
func New(cfgs []BankConfig, opts Options) *Connector {
	c := &Connector{clients: map[string]*client{}, events: opts.Store, now: opts.Now, tokens: map[string]*tokenState{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.events == nil {
		c.events = memevents.New()
	}
	for i := range cfgs {
		cfg := cfgs[i]
		c.clients[cfg.ID] = newClient(&cfg, c.now, opts.Transport)
		c.banks = append(c.banks, bankgate.Bank{ID: cfg.ID, Name: cfg.Name, ShortName: cfg.Name, Country: cfg.Country,
			CountryName: cfg.Country, Logo: cfg.Logo, Sandbox: cfg.Sandbox, Redirect: true})
	}
	sort.Slice(c.banks, func(i, j int) bool { return c.banks[i].ID < c.banks[j].ID })
	return c
}

// Banks lists the configured banks.
func (c *Connector) Banks() []bankgate.Bank { return slices.Clone(c.banks) }

// Login refuses: these banks log users in by redirect (StartRedirect).
func (c *Connector) Login(ctx context.Context, req bank.LoginRequest) (*bank.LoginResult, error) {
	if _, ok := c.clients[req.BankID]; !ok {
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bankID is not a bank this server serves.")
	}
	return nil, bankgate.Errorf(bankgate.ParameterError, "This bank logs users in at the bank: call login without username and password to get its redirectURL.")
}

// Redirects reports whether bankID is one of this connector's banks.
func (c *Connector) Redirects(bankID string) bool {
	_, ok := c.clients[bankID]
	return ok
}

// loginState is kept (sealed by bankgate) between StartRedirect and
// FinishRedirect.
type loginState struct {
	Bank        string `json:"bank"`
	ConsentID   string `json:"consent"`
	Verifier    string `json:"verifier"`
	Nonce       string `json:"nonce"`
	State       string `json:"state"`
	RedirectURI string `json:"redirect_uri"`
}

// StartRedirect creates an account-access consent, pushes the
// authorisation request for it and returns the bank's authorisation URL.
func (c *Connector) StartRedirect(ctx context.Context, req bank.RedirectRequest) (*bank.RedirectStart, error) {
	cl, ok := c.clients[req.BankID]
	if !ok {
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bankID is not a bank this server serves.")
	}
	m, err := cl.discover(ctx)
	if err != nil {
		return nil, err
	}
	consentID, err := cl.createConsent(ctx)
	if err != nil {
		return nil, err
	}
	st := loginState{Bank: req.BankID, ConsentID: consentID, Verifier: oauth2.GenerateVerifier(), Nonce: randomString(16),
		State: req.State, RedirectURI: req.RedirectURI}
	claims, _ := json.Marshal(map[string]any{
		"id_token": map[string]any{
			"openbanking_intent_id": map[string]any{"value": consentID, "essential": true},
			"acr":                   map[string]any{"essential": true, "values": []string{"urn:openbanking:psd2:sca", "urn:openbanking:psd2:ca"}},
		},
		"userinfo": map[string]any{"openbanking_intent_id": map[string]any{"value": consentID, "essential": true}},
	})
	params := url.Values{
		"response_type":         {"code"},
		"redirect_uri":          {req.RedirectURI},
		"scope":                 {"openid accounts"},
		"state":                 {req.State},
		"nonce":                 {st.Nonce},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(st.Verifier)},
		"code_challenge_method": {"S256"},
		"claims":                {string(claims)},
	}
	uri, err := cl.par(ctx, m, params)
	if err != nil {
		return nil, err
	}
	auth, err := url.Parse(m.AuthorizationEndpoint)
	if err != nil {
		return nil, errBank("authorization_endpoint: %v", err)
	}
	q := auth.Query()
	q.Set("client_id", cl.cfg.ClientID)
	q.Set("request_uri", uri)
	auth.RawQuery = q.Encode()
	state, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return &bank.RedirectStart{URL: auth.String(), State: state}, nil
}

// createConsent posts an account-access consent with a client-credentials
// token.
func (cl *client) createConsent(ctx context.Context) (string, error) {
	tok, err := cl.clientToken(ctx)
	if err != nil {
		return "", err
	}
	body := map[string]any{
		"Data": map[string]any{
			"Permissions":        Permissions,
			"ExpirationDateTime": cl.now().UTC().AddDate(0, 0, ConsentDays).Format("2006-01-02T15:04:05+00:00"),
		},
		"Risk": map[string]any{},
	}
	var out obConsentResponse
	if err := cl.api(ctx, http.MethodPost, cl.cfg.APIBaseURL+"/account-access-consents", tok, body, &out); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return "", errBank("account-access-consents: %d %v", ae.Status, ae.Codes)
		}
		return "", err
	}
	if out.Data.ConsentID == "" || out.Data.Status != "AwaitingAuthorisation" {
		return "", errBank("account-access-consents answered status %q", out.Data.Status)
	}
	return out.Data.ConsentID, nil
}

func tampered(what string) error {
	return bankgate.Errorf(bankgate.ParameterError, "The bank's answer failed a check (%s); the login was refused.", what)
}

// session is the connector session of a connection: sealed by bankgate
// with the userSecret's key.
type session struct {
	Bank      string    `json:"bank"`
	ConsentID string    `json:"consent"`
	Subject   string    `json:"sub"`
	Key       []byte    `json:"key"` // seals the connection's rotated tokens
	Access    string    `json:"access"`
	Refresh   string    `json:"refresh"`
	Expiry    time.Time `json:"expiry"`
}

// FinishRedirect checks the bank's redirect back (state, iss, or the
// user's refusal), exchanges the code with PKCE and checks the ID token
// (signature, issuer, audience, nonce, consent).
func (c *Connector) FinishRedirect(ctx context.Context, req bank.RedirectFinish) (*bank.LoginResult, error) {
	var st loginState
	if err := json.Unmarshal(req.State, &st); err != nil || st.Bank == "" {
		return nil, tampered("state")
	}
	cl, ok := c.clients[st.Bank]
	if !ok || st.Bank != req.BankID {
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bankID is not a bank this server serves.")
	}
	q := url.Values(req.Query)
	if len(q["state"]) != 1 || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		return nil, tampered("state")
	}
	m, err := cl.discover(ctx)
	if err != nil {
		return nil, err
	}
	iss, hasIss := q["iss"]
	if (m.IssParameterSupported && !hasIss) || (hasIss && (len(iss) != 1 || iss[0] != cl.cfg.Issuer)) {
		return nil, tampered("iss")
	}
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			return nil, bankgate.Errorf(bankgate.InvalidCredentials, "The user did not authorise access at the bank.")
		}
		return nil, errBank("authorisation error %q", e)
	}
	code := q.Get("code")
	if code == "" {
		return nil, tampered("code")
	}
	tok, err := cl.oauthConfig(m, st.RedirectURI).Exchange(cl.httpContext(ctx), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return nil, tampered("code")
		}
		return nil, errBank("token: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, tampered("id_token missing")
	}
	claims, err := cl.verifyIDToken(raw, st.Nonce, st.ConsentID)
	if err != nil {
		return nil, tampered("id_token: " + err.Error())
	}
	s := session{Bank: st.Bank, ConsentID: st.ConsentID, Subject: claims.Subject, Key: randomBytes(32),
		Access: tok.AccessToken, Refresh: tok.RefreshToken, Expiry: tok.Expiry}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	// The user's key at the bank: the bank's subject for the PSU.
	return &bank.LoginResult{Session: data, UserKey: claims.Subject}, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// tokenState is a connection's current tokens, as this process knows them.
type tokenState struct {
	mu      sync.Mutex
	seq     int64 // the last event of the connection's stream applied
	access  string
	refresh string
	expiry  time.Time
}

func stream(connID string) string { return "openbanking/" + connID }

// tokenEvent is one event of a connection's stream: tokens after a
// refresh, sealed with the session's key.
type tokenEvent struct {
	Access  string    `json:"access"`
	Refresh string    `json:"refresh"`
	Expiry  time.Time `json:"expiry"`
}

func sealer(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, errors.New("openbanking: bad session key")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func sealEvent(key []byte, connID string, ev tokenEvent) ([]byte, error) {
	g, err := sealer(key)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	nonce := randomBytes(g.NonceSize())
	ad := sha256.Sum256([]byte(stream(connID)))
	return g.Seal(nonce, nonce, plain, ad[:]), nil
}

func openEvent(key []byte, connID string, body []byte) (tokenEvent, error) {
	var ev tokenEvent
	g, err := sealer(key)
	if err != nil {
		return ev, err
	}
	if len(body) < g.NonceSize() {
		return ev, errors.New("openbanking: short event")
	}
	ad := sha256.Sum256([]byte(stream(connID)))
	plain, err := g.Open(nil, body[:g.NonceSize()], body[g.NonceSize():], ad[:])
	if err != nil {
		return ev, err
	}
	return ev, json.Unmarshal(plain, &ev)
}

func errSession() error {
	return bankgate.Errorf(bankgate.SessionInvalidated, "The bank session is no longer valid. Please log in again.")
}

// open decodes a call's session.
func (c *Connector) open(call *bank.Call) (*session, *client, error) {
	var s session
	if err := json.Unmarshal(call.Session.Data, &s); err != nil || s.Bank == "" {
		return nil, nil, errSession()
	}
	cl, ok := c.clients[s.Bank]
	if !ok {
		return nil, nil, bankgate.Errorf(bankgate.UnableToConnectToBank, "The bank of this connection is not available.")
	}
	return &s, cl, nil
}

func (c *Connector) state(connID string, s *session) *tokenState {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts, ok := c.tokens[connID]
	if !ok {
		ts = &tokenState{access: s.Access, refresh: s.Refresh, expiry: s.Expiry}
		c.tokens[connID] = ts
	}
	return ts
}

// catchUp applies the connection's events after ts.seq. ts.mu is held.
func (c *Connector) catchUp(ctx context.Context, connID string, s *session, ts *tokenState) error {
	evs, err := c.events.Events(ctx, stream(connID), ts.seq)
	if err != nil {
		return err
	}
	for _, e := range evs {
		ev, err := openEvent(s.Key, connID, e.Body)
		if err != nil {
			return fmt.Errorf("openbanking: token event %d: %w", e.Seq, err)
		}
		ts.seq, ts.access, ts.refresh, ts.expiry = e.Seq, ev.Access, ev.Refresh, ev.Expiry
	}
	return nil
}

// accessToken returns a live access token for the connection: the one
// known if it has a minute left, else one from a refresh (rotated tokens
// recorded in the connection's stream).
func (c *Connector) accessToken(ctx context.Context, call *bank.Call, s *session, cl *client, force bool) (string, error) {
	connID := call.Session.ConnectionID
	ts := c.state(connID, s)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := c.now()
	stale := ts.access
	if !force && ts.access != "" && now.Add(time.Minute).Before(ts.expiry) {
		return ts.access, nil
	}
	if err := c.catchUp(ctx, connID, s, ts); err != nil {
		return "", err
	}
	if ts.access != "" && ts.access != stale && now.Add(time.Minute).Before(ts.expiry) {
		return ts.access, nil
	}
	if ts.refresh == "" {
		return "", c.consentError(ctx, cl, s)
	}
	m, err := cl.discover(ctx)
	if err != nil {
		return "", err
	}
	src := cl.oauthConfig(m, "").TokenSource(cl.httpContext(ctx), &oauth2.Token{RefreshToken: ts.refresh, Expiry: now.Add(-time.Hour)})
	tok, err := src.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.Response != nil && re.Response.StatusCode == http.StatusBadRequest) {
			return "", c.consentError(ctx, cl, s)
		}
		return "", errBank("refresh: %v", err)
	}
	ev := tokenEvent{Access: tok.AccessToken, Refresh: tok.RefreshToken, Expiry: tok.Expiry}
	if ev.Refresh == "" {
		ev.Refresh = ts.refresh
	}
	body, err := sealEvent(s.Key, connID, ev)
	if err != nil {
		return "", err
	}
	for range 3 {
		err = c.events.AppendEvent(ctx, stream(connID), ts.seq+1, now, body)
		if err == nil {
			ts.seq++
			break
		}
		if !bankgate.IsCode(err, bankgate.Conflict) {
			return "", err
		}
		// Another instance refreshed too; ours is the newest grant.
		if err := c.catchUp(ctx, connID, s, ts); err != nil {
			return "", err
		}
	}
	if err != nil {
		return "", err
	}
	ts.access, ts.refresh, ts.expiry = ev.Access, ev.Refresh, ev.Expiry
	return ts.access, nil
}

// consentError tells why the bank refuses a connection's grant, from the
// consent's status: expired → SESSION_EXPIRED; revoked, rejected or
// unknown → SESSION_INVALIDATED. Either way the user must connect again.
func (c *Connector) consentError(ctx context.Context, cl *client, s *session) error {
	tok, err := cl.clientToken(ctx)
	if err == nil {
		var out obConsentResponse
		err = cl.api(ctx, http.MethodGet, cl.cfg.APIBaseURL+"/account-access-consents/"+url.PathEscape(s.ConsentID), tok, nil, &out)
		if err == nil && out.Data.Status == "Authorised" && out.Data.ExpirationDateTime != "" {
			if exp, perr := time.Parse(time.RFC3339, out.Data.ExpirationDateTime); perr == nil && !c.now().Before(exp) {
				return bankgate.Errorf(bankgate.SessionExpired, "The user's consent at the bank has expired. Please connect the user again.")
			}
		}
	}
	return bankgate.Errorf(bankgate.SessionInvalidated, "The bank no longer accepts this connection (its consent or refresh token was revoked). Please connect the user again.")
}

// get reads an API resource for the connection: with a live access token,
// once more after a refresh if the bank says the token is no good, and
// with the consent's fate as the error if the bank refuses it.
func (c *Connector) get(ctx context.Context, call *bank.Call, u string, out any) error {
	s, cl, err := c.open(call)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(u, cl.cfg.APIBaseURL+"/") {
		return errBank("a link leaves the bank's API: %s", u)
	}
	for attempt := range 2 {
		tok, err := c.accessToken(ctx, call, s, cl, attempt > 0)
		if err != nil {
			return err
		}
		err = cl.api(ctx, http.MethodGet, u, tok, nil, out)
		var ae *apiError
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &ae):
			return err
		case ae.Status == http.StatusUnauthorized && attempt == 0:
			continue
		case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
			return c.consentError(ctx, cl, s)
		case ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound:
			return ae
		default:
			return errBank("%d %v", ae.Status, ae.Codes)
		}
	}
	return errSession()
}

// Delink revokes the connection's consent at the bank
// (DELETE /account-access-consents/{ConsentId}).
func (c *Connector) Delink(ctx context.Context, call *bank.Call) error {
	s, cl, err := c.open(call)
	if err != nil {
		return err
	}
	tok, err := cl.clientToken(ctx)
	if err != nil {
		return err
	}
	err = cl.api(ctx, http.MethodDelete, cl.cfg.APIBaseURL+"/account-access-consents/"+url.PathEscape(s.ConsentID), tok, nil, nil)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound) {
		err = nil // already gone
	} else if err != nil && errors.As(err, &ae) {
		err = errBank("delete consent: %d %v", ae.Status, ae.Codes)
	}
	c.mu.Lock()
	delete(c.tokens, call.Session.ConnectionID)
	c.mu.Unlock()
	return err
}
