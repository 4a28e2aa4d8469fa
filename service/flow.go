package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/secret"
)

// CheckLogin checks a Connect login before it runs and returns its app:
// InvalidAppCredentials for an unknown appKey, InvalidBankID for a bank
// this server does not serve or the app may not use, ParameterMissing
// without username and password (unless it resumes an operation), and
// ParameterError for fields longer than 256 characters. The transport
// calls it before it spends rate limits on the attempt; Login checks the
// same.
func (s *Service) CheckLogin(ctx context.Context, req bankgate.LoginRequest) (*bankgate.App, error) {
	app, err := s.AppByKey(ctx, req.AppKey)
	if err != nil {
		return nil, err
	}
	b, ok := s.bankIndex[req.BankID]
	if !ok {
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bankID is not a bank this server serves.")
	}
	if !reaches(app, b) {
		if b.Sandbox {
			return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bank %s is a sandbox bank; a production app cannot use it.", b.ID)
		}
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bank %s is a real bank; a sandbox app cannot use it.", b.ID)
	}
	if req.OperationID == "" && (req.Username == "" || req.Password == "") {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "username and password are required.")
	}
	if len(req.Username) > 256 || len(req.Password) > 256 || len(req.ClientUserID) > 256 {
		return nil, bankgate.Errorf(bankgate.ParameterError, "username, password and clientUserID must be at most 256 characters.")
	}
	return app, nil
}

// Login runs a Connect login (or resumes one) against the bank's
// connector, after the checks of CheckLogin.
func (s *Service) Login(ctx context.Context, req bankgate.LoginRequest) (*bankgate.LoginResult, error) {
	app, err := s.CheckLogin(ctx, req)
	if err != nil {
		return nil, err
	}
	conn := s.banks[req.BankID]
	breq := bank.LoginRequest{AppID: worldID(app), BankID: req.BankID, Now: s.AppNow(app)}
	var op *bankgate.Operation
	if req.OperationID == "" {
		breq.Username, breq.Password = req.Username, req.Password
	} else {
		var state []byte
		op, state, err = s.claimOperation(ctx, req.OperationID, app.ID, "", bankgate.LoginEndpoint)
		if err != nil {
			return nil, err
		}
		if op.BankID != req.BankID {
			s.finishOperation(ctx, op, bankgate.Errorf(bankgate.InvalidOperationID, ""))
			return nil, bankgate.Errorf(bankgate.InvalidOperationID, "The operationID is unknown, expired or already completed.")
		}
		breq.State, breq.Answers = state, req.Answers
	}
	res, err := conn.Login(ctx, breq)
	if op != nil {
		s.finishOperation(ctx, op, err)
	}
	if err != nil {
		s.auditLoginFailed(ctx, app, req, err)
		return nil, err
	}
	opID := s.newOperationID(req.BankID)
	if res.Challenge != nil {
		if err := s.createPrompt(ctx, opID, app.ID, "", req.BankID, bankgate.LoginEndpoint, res.Challenge); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		return &bankgate.LoginResult{OperationID: opID, Inputs: res.Challenge.Inputs}, nil
	}
	c, err := s.connect(ctx, app, req.BankID, req.ClientUserID, res)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return &bankgate.LoginResult{OperationID: opID, Connected: c}, nil
}

// connect stores a new connection for a finished login and issues its
// access code.
func (s *Service) connect(ctx context.Context, app *bankgate.App, bankID, clientUserID string, res *bank.LoginResult) (*bankgate.Connected, error) {
	now := s.Now()
	c := &bankgate.Connected{
		AccessCode:   secret.Random(secret.PrefixAccessCode, CodeBytes),
		UserSecret:   secret.Random(secret.PrefixUserSecret, UserSecretBytes),
		ConnectionID: secret.Hex(20),
		UserID:       s.userID(app.ID, bankID, res.UserKey),
		TokenID:      newID(),
		BankID:       bankID,
	}
	sealed, err := s.keys.Seal(c.UserSecret, c.ConnectionID, res.Session)
	if err != nil {
		return nil, err
	}
	conn := &bankgate.Connection{
		ID: c.ConnectionID, AppID: app.ID, BankID: bankID, UserID: c.UserID, ClientUserID: clientUserID,
		UserSecretDigest: s.keys.Digest(domainUserSecret, c.UserSecret), Sealed: sealed, CreatedAt: now,
	}
	code := &bankgate.AccessCode{
		Digest: s.keys.Digest(domainCode, c.AccessCode), AppID: app.ID, ConnectionID: c.ConnectionID,
		TokenID: c.TokenID, CreatedAt: now, ExpiresAt: now.Add(s.codeTTL),
	}
	if err := s.store.CreateConnection(ctx, conn, code); err != nil {
		return nil, err
	}
	return c, nil
}

// ExchangeToken trades an access code for an access token. The app is
// authenticated by its secret (InvalidAppCredentials); the code must be
// the app's, for the connection, unused and unexpired (InvalidAccessCode
// otherwise, and a second exchange revokes the first one's token).
//
// With forwarded set (an exchange through SDK forwarding, whose token
// stays server-side), the token is marked so that later forwarded calls
// may name it by tokenID; an app that refuses forwarding gets BadRequest.
func (s *Service) ExchangeToken(ctx context.Context, appSecret, accessCode, connectionID string, forwarded bool) (*bankgate.Exchanged, error) {
	app, err := s.AppBySecret(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	if forwarded && !app.Forwarding {
		return nil, bankgate.Errorf(bankgate.BadRequest, "This app does not allow SDK forwarding (bankgate apps set --forwarding on).")
	}
	badCode := bankgate.Errorf(bankgate.InvalidAccessCode, "The access code is invalid, expired or already used.")
	if !secret.WellFormed(accessCode, secret.PrefixAccessCode, CodeBytes) || connectionID == "" || len(connectionID) > 128 {
		return nil, badCode
	}
	token := secret.Random(secret.PrefixAccessToken, TokenBytes)
	ex := &bankgate.Exchange{
		CodeDigest:   s.keys.Digest(domainCode, accessCode),
		AppID:        app.ID,
		ConnectionID: connectionID,
		Now:          s.Now(),
		Token:        bankgate.Token{Digest: s.keys.Digest(domainToken, token), Forwarded: forwarded},
	}
	err = s.store.ExchangeAccessCode(ctx, ex)
	if bankgate.IsCode(err, bankgate.InvalidAccessCode) {
		s.forgetCode(ex.CodeDigest)
		// A code issued before a key rotation has its digest under an
		// older key: try that (a reuse of it revokes as usual).
		for _, od := range s.keys.OtherDigests(domainCode, accessCode) {
			ex.CodeDigest, ex.Token = od, bankgate.Token{Digest: ex.Token.Digest, Forwarded: forwarded}
			if err = s.store.ExchangeAccessCode(ctx, ex); !bankgate.IsCode(err, bankgate.InvalidAccessCode) {
				break
			}
			s.forgetCode(od)
		}
	}
	if err != nil {
		if bankgate.IsCode(err, bankgate.InvalidAccessCode) {
			return nil, badCode
		}
		return nil, fmt.Errorf("exchange token: %w", err)
	}
	return &bankgate.Exchanged{AccessToken: token, TokenID: ex.Token.ID, UserID: ex.Token.UserID, ClientUserID: ex.ClientUserID}, nil
}

// intern returns the one copy of an app or bank ID that grant entries
// share (at most maxInterned of them are kept; past that s is returned).
func (s *Service) intern(v string) string {
	s.mu.RLock()
	w, ok := s.interned[v]
	s.mu.RUnlock()
	if ok {
		return w
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.interned[v]; ok {
		return w
	}
	if len(s.interned) < maxInterned {
		s.interned[v] = v
	}
	return v
}

// maxInterned bounds the interned IDs: apps and banks, which an operator
// creates, not clients.
const maxInterned = 10_000

// forgetCode drops cached grants issued for an access code, so that a
// revocation for code reuse takes effect on this instance at once.
func (s *Service) forgetCode(codeDigest []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.grants {
		if secret.Equal(e.codeDigest, codeDigest) {
			delete(s.grants, k)
		}
	}
}

// forgetConnection drops cached grants of a connection.
func (s *Service) forgetConnection(connID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.grants {
		if e.connID == connID {
			delete(s.grants, k)
		}
	}
}

// Authenticate checks, in order, the access token (InvalidToken, or
// UserDelinked after delink), that appSecret belongs to the token's app
// (InvalidAppCredentials), and that userSecret belongs to the token's
// connection (InvalidUserSecret). Lookups are cached for at most the
// cache TTL.
func (s *Service) Authenticate(ctx context.Context, token, appSecret, userSecret string) (*bankgate.Principal, error) {
	if !secret.WellFormed(token, secret.PrefixAccessToken, TokenBytes) {
		return nil, bankgate.Errorf(bankgate.InvalidToken, "The access token is invalid.")
	}
	var buf [48]byte // a digest with its key-ID prefix fits
	d := s.keys.AppendDigest(buf[:0], domainToken, token)
	e, err := s.grant(ctx, d, token)
	if err != nil {
		return nil, err
	}
	return s.authorize(ctx, e, appSecret, userSecret)
}

// AuthenticateTokenID is Authenticate for SDK-forwarded calls, which name
// the grant by its tokenID instead of carrying the token.
//
// The tokenID is not a secret (the browser and the audit see it), so the
// appSecret is checked first, before anything about the token is
// revealed, and only tokens the app exchanged through forwarding, while
// the app allows forwarding, can be named: every other case (unknown,
// another app's, exchanged directly, revoked, delinked) answers the one
// error InvalidToken.
func (s *Service) AuthenticateTokenID(ctx context.Context, tokenID, appSecret, userSecret string) (*bankgate.Principal, error) {
	app, err := s.AppBySecret(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	bad := bankgate.Errorf(bankgate.InvalidToken, "The tokenID does not name a forwarded token of this app.")
	if !app.Forwarding || tokenID == "" || len(tokenID) > 64 {
		return nil, bad
	}
	g, err := s.store.GrantByTokenID(ctx, tokenID)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if g.Token.AppID != app.ID || !g.Token.Forwarded || checkGrant(g) != nil {
		return nil, bad
	}
	return s.authorize(ctx, newGrantEntry(g, s.Now(), s.intern), appSecret, userSecret)
}

func checkGrant(g *bankgate.Grant) error {
	if g.Token.Revoked() {
		if g.Token.RevokeReason == bankgate.RevokedDelinked || g.Connection.Delinked() {
			return bankgate.Errorf(bankgate.UserDelinked, "The user has been delinked; connect the user again.")
		}
		return bankgate.Errorf(bankgate.InvalidToken, "The access token is invalid.")
	}
	return nil
}

// grant returns the cache entry for a token digest (under the primary
// key), reading the store when the entry is missing or stale; a token the
// store holds under an older key is found there and re-digested.
func (s *Service) grant(ctx context.Context, digest []byte, token string) (*grantEntry, error) {
	now := s.Now()
	if s.cacheTTL > 0 {
		s.mu.RLock()
		e := s.grants[string(digest)]
		s.mu.RUnlock()
		if e != nil && s.usable(ctx, e.fetched, now, e.connID, e.appID) {
			if e.denied != nil {
				return nil, e.denied
			}
			return e, nil
		}
	}
	// The store may keep what it is given: a copy lets the caller's
	// digest buffer stay on its stack on the cached path.
	d := slices.Clone(digest)
	g, err := s.store.Grant(ctx, d)
	if bankgate.IsCode(err, bankgate.NotFound) && s.keys.Multi() {
		g, err = s.olderGrant(ctx, token, d)
	}
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bankgate.Errorf(bankgate.InvalidToken, "The access token is invalid.")
	}
	if err != nil {
		return nil, err
	}
	e := newGrantEntry(g, now, s.intern)
	if s.cacheTTL > 0 {
		s.mu.Lock()
		if old := s.grants[string(d)]; old != nil && old.session != nil && old.sealedTag == e.sealedTag &&
			secret.Equal(old.userSecretDigest, e.userSecretDigest) {
			e.session, e.sealed = old.session, nil
		}
		e.key = string(d)
		putCapped(s.grants, e.key, e)
		s.mu.Unlock()
	}
	if e.denied != nil {
		return nil, e.denied
	}
	return e, nil
}

// olderGrant looks a token up under the server keys other than the
// primary. A valid token found under an older key is stored again under
// the primary key's digest d (one found under a newer, staged key stays:
// an instance that already made that key primary issued it). It returns
// NotFound when no key finds the token.
func (s *Service) olderGrant(ctx context.Context, token string, d []byte) (*bankgate.Grant, error) {
	for _, od := range s.keys.OtherDigests(domainToken, token) {
		g, err := s.store.Grant(ctx, od)
		if bankgate.IsCode(err, bankgate.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !g.Token.Revoked() && s.keys.Stale(od) {
			if _, err := s.store.RedigestToken(ctx, od, d); err != nil {
				s.log.Warn("re-digest token under the primary key", "tokenID", g.Token.ID, "err", err)
			}
		}
		return g, nil
	}
	// Another instance may have moved the token to the primary key
	// between the first lookup and these: look there once more.
	return s.store.Grant(ctx, d)
}

func (s *Service) authorize(ctx context.Context, e *grantEntry, appSecret, userSecret string) (*bankgate.Principal, error) {
	app, err := s.cachedApp(ctx, e.appID, s.Now())
	if err != nil {
		return nil, err
	}
	if appSecret == "" || len(appSecret) > 256 {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is invalid for this access token.")
	}
	if app.Disabled() {
		return nil, errAppDisabled()
	}
	ok, current := s.keys.Verify(domainAppSecret, appSecret, app.SecretDigest)
	if !ok && s.prevSecretOK(app, appSecret) {
		ok, current = true, true
	}
	if !ok {
		// A secret rotated on another instance moments ago: read the app
		// again rather than wait for the cache.
		if app, ok, current = s.recheckSecret(ctx, app, appSecret); app == nil {
			return nil, errAppDisabled()
		}
	}
	if !ok {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is invalid for this access token.")
	}
	if !current {
		s.redigestApp(ctx, app.ID, app.SecretDigest, s.keys.Digest(domainAppSecret, appSecret))
	}
	if userSecret == "" || len(userSecret) > 256 {
		return nil, bankgate.Errorf(bankgate.InvalidUserSecret, "The userSecret does not match this access token.")
	}
	ok, current = s.keys.Verify(domainUserSecret, userSecret, e.userSecretDigest)
	if !ok {
		return nil, bankgate.Errorf(bankgate.InvalidUserSecret, "The userSecret does not match this access token.")
	}
	s.mu.RLock()
	sess, sealed := e.session, e.sealed
	s.mu.RUnlock()
	switch {
	case sess == nil:
		var sealedCurrent bool
		sess, sealedCurrent, err = s.keys.OpenCurrent(userSecret, e.connID, sealed)
		if err != nil {
			return nil, fmt.Errorf("open connection session: %w", err)
		}
		if !current || !sealedCurrent {
			s.redigestConnection(ctx, e, userSecret, sess)
		} else if s.cacheTTL > 0 {
			s.mu.Lock()
			e.session, e.sealed = sess, nil
			s.mu.Unlock()
		}
	case !current:
		// The session was unsealed before the server key that sealed it
		// was retired from primary: store it again under the new one.
		s.redigestConnection(ctx, e, userSecret, sess)
	}
	s.touch(ctx, e)
	return &bankgate.Principal{
		AppID: e.appID, ConnectionID: e.connID, BankID: e.bankID, UserID: e.userID, TokenID: e.tokenID,
		Session: sess, World: worldID(app),
		Now: s.AppNow(app),
	}, nil
}

// redigestConnection stores a connection's userSecret digest and sealed
// session again under the primary key, after the userSecret was proven
// under an older one. A failure is logged, not returned: the next use
// tries again.
func (s *Service) redigestConnection(ctx context.Context, e *grantEntry, userSecret string, session []byte) {
	sealed, err := s.keys.Seal(userSecret, e.connID, session)
	if err == nil {
		_, err = s.store.RedigestConnection(ctx, e.connID, e.userSecretDigest, s.keys.Digest(domainUserSecret, userSecret), sealed)
	}
	if err != nil {
		s.log.Warn("re-digest connection under the primary key", "connectionID", e.connID, "err", err)
	}
	if e.key != "" {
		s.mu.Lock()
		if s.grants[e.key] == e {
			delete(s.grants, e.key)
		}
		s.mu.Unlock()
	}
}

// Delink ends the principal's connection: every token of it is revoked and
// later calls get UserDelinked.
func (s *Service) Delink(ctx context.Context, p *bankgate.Principal) error {
	if err := s.store.DelinkConnection(ctx, p.ConnectionID, s.Now()); err != nil {
		return fmt.Errorf("delink: %w", err)
	}
	s.forgetConnection(p.ConnectionID)
	return nil
}

// OperationStatus returns the app's operation with the given ID. It
// returns InvalidAppCredentials for a bad appSecret and
// InvalidOperationID when the operation is unknown or another app's.
func (s *Service) OperationStatus(ctx context.Context, appSecret, operationID string) (*bankgate.Operation, error) {
	app, err := s.AppBySecret(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	bad := bankgate.Errorf(bankgate.InvalidOperationID, "No operation of this app has that operationID.")
	if operationID == "" || len(operationID) > 200 {
		return nil, bad
	}
	op, err := s.store.Operation(ctx, operationID)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if op.AppID != app.ID {
		return nil, bad
	}
	if op.Status == bankgate.StatusUserInputRequired && !s.Now().Before(op.ExpiresAt) {
		op.Status, op.ErrorType = bankgate.StatusFailed, string(bankgate.SessionExpired)
	}
	return op, nil
}
