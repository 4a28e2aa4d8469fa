package modelbank

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ClientID is the client_id of the one TPP the model bank registers.
const ClientID = "bankgate-tpp"

// Lifetimes.
const (
	authRequestTTL = 10 * time.Minute
)

// authRequest is an authorisation request from its PAR to its code, and
// the grant the code and refresh tokens carry afterwards.
type authRequest struct {
	id           string
	created      time.Time
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	consentID    string

	userID   string
	authTime time.Time
	done     bool
	code     string
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "urn:openbanking:psd2:sca" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.userID }
func (a *authRequest) Done() bool                            { return a.done }

// refreshGrant is what a refresh token stands for.
type refreshGrant struct {
	token     string
	clientID  string
	userID    string
	consentID string
	scopes    []string
	authTime  time.Time
}

func (r *refreshGrant) GetAMR() []string                 { return []string{"pwd"} }
func (r *refreshGrant) GetAudience() []string            { return []string{r.clientID} }
func (r *refreshGrant) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshGrant) GetClientID() string              { return r.clientID }
func (r *refreshGrant) GetScopes() []string              { return r.scopes }
func (r *refreshGrant) GetSubject() string               { return r.userID }
func (r *refreshGrant) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// accessToken is an issued access token: a client-credentials token (no
// user, no consent) or one for a PSU's consent.
type accessToken struct {
	id        string
	clientID  string
	userID    string
	consentID string
	scopes    []string
	expires   time.Time
	// certThumbprint binds the token to the client certificate it was
	// issued over (RFC 8705).
	certThumbprint string
}

type certKey struct{}

// withCert records the thumbprint of the client certificate of the
// request in ctx, for the tokens issued in it.
func withCert(ctx context.Context, thumb string) context.Context {
	return context.WithValue(ctx, certKey{}, thumb)
}

type consentKey struct{}

// storage is the authorisation server's state, in memory, behind
// zitadel/oidc's op.Storage.
type storage struct {
	bank *Bank

	mu       sync.Mutex
	requests map[string]*authRequest  // by ID
	codes    map[string]string        // code → request ID
	tokens   map[string]*accessToken  // by ID
	refresh  map[string]*refreshGrant // by token
}

func newStorage(b *Bank) *storage {
	return &storage{bank: b, requests: map[string]*authRequest{}, codes: map[string]string{},
		tokens: map[string]*accessToken{}, refresh: map[string]*refreshGrant{}}
}

var errNotFound = errors.New("not found")

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	consentID, _ := ctx.Value(consentKey{}).(string)
	if consentID == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("the request must carry an openbanking_intent_id")
	}
	scopes := slices.Clone(req.Scopes)
	if slices.Contains(scopes, "accounts") && !slices.Contains(scopes, oidc.ScopeOfflineAccess) {
		// Account access consents are long-lived: the bank grants a
		// refresh token for them.
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	a := &authRequest{
		id: randomID(), created: s.bank.now(), clientID: req.ClientID, redirectURI: req.RedirectURI,
		state: req.State, nonce: req.Nonce, scopes: scopes, responseType: req.ResponseType,
		responseMode: req.ResponseMode, consentID: consentID,
	}
	if req.CodeChallenge != "" {
		a.challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.mu.Lock()
	s.requests[a.id] = a
	s.mu.Unlock()
	return a, nil
}

// request returns a pending authorisation request (not done, not expired).
func (s *storage) request(id string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || s.bank.now().Sub(a.created) > authRequestTTL {
		return nil, false
	}
	return a, true
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	a, ok := s.request(id)
	if !ok {
		return nil, errNotFound
	}
	return a, nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errNotFound
	}
	// A code is good once: the exchange (or a replay) spends it.
	delete(s.codes, code)
	a, ok := s.requests[id]
	if !ok || !a.done || s.bank.now().Sub(a.created) > authRequestTTL {
		return nil, errNotFound
	}
	return a, nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return errNotFound
	}
	a.code = code
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok {
		delete(s.codes, a.code)
		delete(s.requests, id)
	}
	return nil
}

// grantOf reads the consent, user and client a token request is for.
func grantOf(req op.TokenRequest) (clientID, userID, consentID string, authTime time.Time) {
	switch r := req.(type) {
	case *authRequest:
		return r.clientID, r.userID, r.consentID, r.authTime
	case *refreshGrant:
		return r.clientID, r.userID, r.consentID, r.authTime
	case ccRequest:
		return ClientID, "", "", time.Time{}
	}
	return "", req.GetSubject(), "", time.Time{}
}

func (s *storage) newAccessToken(ctx context.Context, req op.TokenRequest) *accessToken {
	clientID, userID, consentID, _ := grantOf(req)
	thumb, _ := ctx.Value(certKey{}).(string)
	t := &accessToken{id: randomID(), clientID: clientID, userID: userID, consentID: consentID,
		scopes: req.GetScopes(), expires: s.bank.now().Add(s.bank.opts.AccessTokenTTL), certThumbprint: thumb}
	s.mu.Lock()
	s.tokens[t.id] = t
	s.mu.Unlock()
	return t
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	t := s.newAccessToken(ctx, req)
	return t.id, t.expires, nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	clientID, userID, consentID, authTime := grantOf(req)
	if consentID == "" {
		return "", "", time.Time{}, oidc.ErrInvalidGrant()
	}
	t := s.newAccessToken(ctx, req)
	g := &refreshGrant{token: randomID(), clientID: clientID, userID: userID, consentID: consentID,
		scopes: req.GetScopes(), authTime: authTime}
	s.mu.Lock()
	if current != "" {
		// Rotation: the refresh token used is spent.
		delete(s.refresh, current)
	}
	s.refresh[g.token] = g
	s.mu.Unlock()
	return t.id, g.token, t.expires, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	g, ok := s.refresh[token]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	if err := s.bank.consents.usable(g.consentID, s.bank.now()); err != nil {
		return nil, err
	}
	c := *g
	return &c, nil
}

// revokeConsent drops every token of a consent.
func (s *storage) revokeConsent(consentID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.DeleteFunc(s.tokens, func(_ string, t *accessToken) bool { return t.consentID == consentID })
	s.dropRefreshTokens(consentID)
}

// revokeRefreshTokens drops the refresh tokens of a consent only (a test
// hook: the bank revoking a refresh token while the consent stands).
func (s *storage) revokeRefreshTokens(consentID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropRefreshTokens(consentID)
}

// dropRefreshTokens drops the refresh tokens of a consent; the caller
// holds s.mu.
func (s *storage) dropRefreshTokens(consentID string) {
	maps.DeleteFunc(s.refresh, func(_ string, g *refreshGrant) bool { return g.consentID == consentID })
}

// token returns a live access token by ID.
func (s *storage) token(id string) (*accessToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok || !s.bank.now().Before(t.expires) {
		return nil, false
	}
	return t, true
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.refresh[tokenOrID]; ok && g.clientID == clientID {
		delete(s.refresh, tokenOrID)
		return nil
	}
	if t, ok := s.tokens[tokenOrID]; ok && t.clientID == clientID {
		delete(s.tokens, tokenOrID)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[token]
	if !ok || g.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return g.userID, g.token, nil
}

type signingKey struct {
	id  string
	key *ecdsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{s.bank.pki.opKeyID, s.bank.pki.opKey}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{signingKey{s.bank.pki.opKeyID, s.bank.pki.opKey}}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	if clientID != ClientID {
		return nil, errNotFound
	}
	return client{}, nil
}

func (s *storage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return errors.New("client secrets are not accepted: use private_key_jwt")
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest puts the consent into the ID token, as the Open
// Banking profile of OIDC asks (openbanking_intent_id).
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	info.Subject = req.GetSubject()
	switch r := req.(type) {
	case *authRequest:
		info.AppendClaims("openbanking_intent_id", r.consentID)
	case *refreshGrant:
		info.AppendClaims("openbanking_intent_id", r.consentID)
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	if _, ok := s.token(tokenID); !ok {
		return errNotFound
	}
	info.Subject = subject
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, ok := s.token(tokenID)
	if !ok || t.clientID != clientID {
		return errNotFound
	}
	resp.Active = true
	resp.Subject = subject
	resp.ClientID = clientID
	resp.Scope = t.scopes
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(_ context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	if clientID != ClientID || keyID != s.bank.pki.clientKeyID {
		return nil, errNotFound
	}
	return &jose.JSONWebKey{Key: &s.bank.pki.clientSignKey.PublicKey, KeyID: keyID, Algorithm: string(jose.ES256), Use: "sig"}, nil
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// client is the registered TPP.
type client struct{}

func (client) GetID() string                       { return ClientID }
func (client) RedirectURIs() []string              { return nil }
func (client) PostLogoutRedirectURIs() []string    { return nil }
func (client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodPrivateKeyJWT }
func (client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
}
func (client) LoginURL(id string) string           { return pathLogin + "?id=" + id }
func (client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (client) IDTokenLifetime() time.Duration      { return 10 * time.Minute }
func (client) DevMode() bool                       { return true }
func (client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func([]string) []string { return nil }
}
func (client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (client) IsScopeAllowed(scope string) bool     { return scope == "accounts" }
func (client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (client) ClockSkew() time.Duration             { return 0 }

// The model bank takes any redirect URI its client pushes: a redirect URI
// arrives only in a pushed authorisation request, which the client
// authenticates (RFC 9126 §2.4 lets a server relax registration so).
func (client) RedirectURIGlobs() []string {
	return []string{"http://*/*", "https://*/*", "http://*/*/*", "https://*/*/*"}
}
func (client) PostLogoutRedirectURIGlobs() []string { return nil }
