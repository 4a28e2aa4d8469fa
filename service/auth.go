// Authentication: an access token (or a forwarded call's tokenID), the
// appSecret and the userSecret to a Principal, through the grant cache.

package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
)

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

// Authenticate checks, in order, the access token (InvalidToken, or
// UserDelinked after delink), that appSecret belongs to the token's app
// (InvalidAppCredentials), and that userSecret belongs to the token's
// connection (InvalidUserSecret). Lookups are cached for at most the
// cache TTL.
func (s *Service) Authenticate(ctx context.Context, token, appSecret, userSecret string) (*bankgate.Principal, error) {
	if !secret.WellFormed(token, secret.PrefixAccessToken, TokenBytes) {
		return nil, bankgate.Errorf(bankgate.InvalidToken, "The access token is invalid.")
	}
	// One reading of the clock serves the whole check: the caches'
	// freshness, the touch and the principal's time (a clock read is a
	// few percent of a cached request's CPU).
	now := s.Now()
	// A request whose three credentials were all proven before is found
	// by one MAC over them (see verifiedGrant): three digests cost a
	// fifth of a cached request's CPU in the handler.
	var rbuf [sha256.Size]byte
	var rd []byte
	if s.cacheTTL > 0 && validSecretLen(appSecret) && validSecretLen(userSecret) {
		rd = s.keys.AppendMAC(rbuf[:0], domainRequest, token, appSecret, userSecret)
		if p := s.verifiedGrant(ctx, rd, now); p != nil {
			return p, nil
		}
	}
	var buf [48]byte // a digest with its key-ID prefix fits
	d := s.keys.AppendDigest(buf[:0], domainToken, token)
	e, err := s.grant(ctx, d, token, now)
	if err != nil {
		return nil, err
	}
	return s.authorize(ctx, e, appSecret, userSecret, now, rd)
}

// validSecretLen reports whether a secret's length is one authorize
// checks further (longer ones are refused unread).
func validSecretLen(v string) bool { return v != "" && len(v) <= 256 }

// verifiedGrant returns the principal of a request whose token,
// appSecret and userSecret an earlier request proved, found by rd, the
// MAC of the three (see rememberVerified), or nil when there is no such
// entry or it can no longer be trusted as it is: it is stale, the app is
// disabled, or its secret is no longer the one proven (the full check
// then decides).
func (s *Service) verifiedGrant(ctx context.Context, rd []byte, now time.Time) *bankgate.Principal {
	k, ok := makeGrantKey(grantByRequest, rd)
	if !ok {
		return nil
	}
	s.mu.RLock()
	e := s.grants[k]
	s.mu.RUnlock()
	if e == nil || e.denied != grantUsable {
		return nil
	}
	sess := e.session()
	if sess == nil {
		return nil
	}
	if !s.usable(ctx, e.fetchedAt(), now, e.connID(), e.appID) {
		s.dropGrant(e)
		return nil
	}
	app, err := s.cachedApp(ctx, e.appID, now)
	if err != nil {
		return nil
	}
	if app.Disabled() || !bytes.Equal(app.SecretDigest, e.appSecretDigest()) {
		s.dropGrant(e) // the secret proven is no longer the app's current one
		return nil
	}
	s.touch(ctx, e, now)
	return s.principal(e, app, sess, now)
}

// rememberVerified caches e, whose request proved its appSecret against
// the app's current secret digest appDigest and its userSecret (both
// under the primary key), and whose session is open, under rd, the MAC
// of the request's three credentials, in place of its entry under the
// token's digest. The next request with the same three finds it with
// one MAC instead of three digests (verifiedGrant).
func (s *Service) rememberVerified(e *grantEntry, rd, appDigest []byte, sess []byte) {
	v := e.verified(rd, appDigest, sess)
	k, ok := v.cacheKey()
	s.mu.Lock()
	s.uncacheLocked(e)
	if ok {
		putCapped(s.grants, k, v)
	}
	s.mu.Unlock()
}

// cacheOpened returns e with the connection's open session sess: a copy
// that takes e's place in the grant cache, or e itself if e is not (or
// no longer) there. An entry's bytes never change once it is made
// (requests read them without the lock), so the session is not added to
// e.
func (s *Service) cacheOpened(e *grantEntry, sess []byte) *grantEntry {
	k, ok := e.cacheKey()
	if !ok {
		return e
	}
	o := e.withSession(sess)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grants[k] != e {
		return e
	}
	s.grants[k] = o
	return o
}

// dropGrant removes e from the grant cache, if it is still there.
func (s *Service) dropGrant(e *grantEntry) {
	if e.kind == grantUncached {
		return
	}
	s.mu.Lock()
	s.uncacheLocked(e)
	s.mu.Unlock()
}

// uncacheLocked removes e from the grant cache if it is there under its
// key (not replaced since). The caller holds s.mu.
func (s *Service) uncacheLocked(e *grantEntry) {
	if k, ok := e.cacheKey(); ok && s.grants[k] == e {
		delete(s.grants, k)
	}
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
	now := s.Now()
	return s.authorize(ctx, newGrantEntry(g, now, s.intern, nil, nil), appSecret, userSecret, now, nil)
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
// key) at now, reading the store when the entry is missing or stale; a
// token the store holds under an older key is found there and re-digested.
func (s *Service) grant(ctx context.Context, digest []byte, token string, now time.Time) (*grantEntry, error) {
	k, cache := makeGrantKey(grantByDigest, digest)
	cache = cache && s.cacheTTL > 0
	var old *grantEntry
	if cache {
		s.mu.RLock()
		old = s.grants[k]
		s.mu.RUnlock()
		if old != nil && s.usable(ctx, old.fetchedAt(), now, old.connID(), old.appID) {
			if old.denied != grantUsable {
				return nil, old.denied.err()
			}
			return old, nil
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
	var key, sess []byte
	if cache {
		// A stale entry's open session is kept while the connection still
		// has it.
		key, sess = d, old.sessionFor(g)
	}
	e := newGrantEntry(g, now, s.intern, key, sess)
	if cache {
		s.mu.Lock()
		putCapped(s.grants, k, e)
		s.mu.Unlock()
	}
	if e.denied != grantUsable {
		return nil, e.denied.err()
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
				s.log.WarnContext(ctx, "re-digest token under the primary key", "tokenID", g.Token.ID, "err", err)
			}
		}
		return g, nil
	}
	// Another instance may have moved the token to the primary key
	// between the first lookup and these: look there once more.
	return s.store.Grant(ctx, d)
}

// authorize checks the app's and user's secrets of a grant's request at
// now (the service clock's reading) and returns its principal. rd, if
// not nil, is the MAC of the request's three credentials, under which
// the entry is remembered once all three are proven (see
// rememberVerified).
func (s *Service) authorize(ctx context.Context, e *grantEntry, appSecret, userSecret string, now time.Time, rd []byte) (*bankgate.Principal, error) {
	app, err := s.cachedApp(ctx, e.appID, now)
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
	// Only a request proven against the app's current secret digest, under
	// the primary key, is remembered (not one by the previous secret of a
	// rotation, which expires).
	appDigest := app.SecretDigest
	if !ok || !current {
		appDigest = nil
	}
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
	ok, current = s.keys.Verify(domainUserSecret, userSecret, e.userSecretDigest())
	if !ok {
		return nil, bankgate.Errorf(bankgate.InvalidUserSecret, "The userSecret does not match this access token.")
	}
	// rd comes only with a grant from the cache (usable); appDigest, only
	// when the app's current secret was proven under the primary key.
	remember := rd != nil && appDigest != nil
	sess := e.session()
	cached := false // sess is e's, kept in the cache
	switch {
	case sess == nil:
		var sealedCurrent bool
		sess, sealedCurrent, err = s.keys.OpenCurrent(userSecret, e.connID(), e.sealed())
		if err != nil {
			return nil, fmt.Errorf("open connection session: %w", err)
		}
		if !current || !sealedCurrent {
			s.redigestConnection(ctx, e, userSecret, sess)
		} else if s.cacheTTL > 0 {
			cached = true
			if !remember { // else rememberVerified, below, caches it
				e = s.cacheOpened(e, sess)
			}
		}
	case !current:
		// The session was unsealed before the server key that sealed it
		// was retired from primary: store it again under the new one.
		s.redigestConnection(ctx, e, userSecret, sess)
	default:
		cached = true
	}
	s.touch(ctx, e, now)
	// cached implies the userSecret's digest and the session are under the
	// primary key.
	if remember && cached {
		s.rememberVerified(e, rd, appDigest, sess)
	}
	return s.principal(e, app, sess, now), nil
}

// principal is the principal of a request on grant e of app, with the
// connection's open session sess, at now (the service clock's reading).
func (s *Service) principal(e *grantEntry, app *bankgate.App, sess []byte, now time.Time) *bankgate.Principal {
	return &bankgate.Principal{
		AppID: e.appID, AppKey: app.Key, ConnectionID: e.connID(), BankID: e.bankID, UserID: e.userID(), TokenID: e.tokenID(),
		Session: sess, World: worldID(app),
		Now: s.appNowAt(app, now),
	}
}

// redigestConnection stores a connection's userSecret digest and sealed
// session again under the primary key, after the userSecret was proven
// under an older one. A failure is logged, not returned: the next use
// tries again.
func (s *Service) redigestConnection(ctx context.Context, e *grantEntry, userSecret string, session []byte) {
	sealed, err := s.keys.Seal(userSecret, e.connID(), session)
	if err == nil {
		_, err = s.store.RedigestConnection(ctx, e.connID(), e.userSecretDigest(), s.keys.Digest(domainUserSecret, userSecret), sealed)
	}
	if err != nil {
		s.log.WarnContext(ctx, "re-digest connection under the primary key", "connectionID", e.connID(), "err", err)
	}
	s.dropGrant(e)
}

// grantEntry is what a bearer check needs of a grant, kept per token:
// with a cache entry per active user it is kept small (a Grant copied
// whole was about 1 KB), and it holds one pointer to a per-user object,
// b: the connection's and token's IDs, the user ID, the digests, the
// cache key and the connection's session (sealed, or once a request
// proved the userSecret, open) share that one allocation, read through
// connID, tokenID, userID, userSecretDigest, codeDigest, appSecretDigest,
// key and sealed or session. (The collector's cost at 100,000 active
// users is a span lookup, a cache miss, per pointer to a per-user object;
// see BenchmarkCollectCachedGrants.)
//
// An entry's fields never change once it is made but touched: requests
// read them without the lock. An entry that gains the open session is
// replaced by a copy with it (cacheOpened, verified).
type grantEntry struct {
	appID, bankID string    // interned
	b             []byte    // connID | tokenID | userID | userSecretDigest | codeDigest | appSecretDigest | key | sealed or open session
	end           [7]uint16 // where each of the first seven ends in b
	kind          grantKind // key's kind; grantUncached (and key empty) if the entry is not cached
	open          bool      // b ends with the open session, not the sealed one
	denied        grantDenial
	fetched       int64 // when it was read (Unix ns, the service clock)
	// sealedTag is the sealed session's last 16 bytes (its authentication
	// tag), which tell a re-read entry whether the session its
	// predecessor opened still holds (see sessionFor).
	sealedTag [16]byte
	// touched is when (UnixNano) this instance last recorded the
	// connection's use in the store (see touch).
	touched atomic.Int64
}

func (e *grantEntry) connID() string           { return unsafeString(e.b[:e.end[0]]) }
func (e *grantEntry) tokenID() string          { return unsafeString(e.b[e.end[0]:e.end[1]]) }
func (e *grantEntry) userID() string           { return unsafeString(e.b[e.end[1]:e.end[2]]) }
func (e *grantEntry) userSecretDigest() []byte { return e.b[e.end[2]:e.end[3]:e.end[3]] }
func (e *grantEntry) codeDigest() []byte       { return e.b[e.end[3]:e.end[4]:e.end[4]] }

// appSecretDigest is, in an entry remembered by rememberVerified, the
// app's secret digest its request was proven against; else empty.
func (e *grantEntry) appSecretDigest() []byte { return e.b[e.end[4]:e.end[5]:e.end[5]] }

// key is what the entry is cached under (see cacheKey): a token digest or
// a request MAC, by kind; empty if the entry is not cached.
func (e *grantEntry) key() []byte { return e.b[e.end[5]:e.end[6]:e.end[6]] }

// session is the connection's open session, nil until a request opened it.
func (e *grantEntry) session() []byte {
	if !e.open {
		return nil
	}
	return e.b[e.end[6]:len(e.b):len(e.b)]
}

// sealed is the connection's sealed session until it is open (then nil).
func (e *grantEntry) sealed() []byte {
	if e.open {
		return nil
	}
	return e.b[e.end[6]:len(e.b):len(e.b)]
}

// cacheKey returns the grant cache key e is cached under, and false if e
// is not cached.
func (e *grantEntry) cacheKey() (grantKey, bool) {
	if e.kind == grantUncached {
		return grantKey{}, false
	}
	return makeGrantKey(e.kind, e.key())
}

// sessionFor returns e's open session if g, a fresh read of e's grant,
// still has it: the connection's sealed session has the same tag and its
// userSecret digest is the same. Else, and for a nil e, it returns nil.
func (e *grantEntry) sessionFor(g *bankgate.Grant) []byte {
	if e == nil || !e.open || e.sealedTag != sealedTag(g.Connection.Sealed) ||
		!secret.Equal(e.userSecretDigest(), g.Connection.UserSecretDigest) {
		return nil
	}
	return e.session()
}

// verified returns a copy of e with the open session sess, remembering
// appDigest, to be cached under rd.
func (e *grantEntry) verified(rd, appDigest, sess []byte) *grantEntry {
	return e.with(appDigest, grantByRequest, rd, sess)
}

// withSession returns a copy of e with the open session sess.
func (e *grantEntry) withSession(sess []byte) *grantEntry {
	return e.with(e.appSecretDigest(), e.kind, e.key(), sess)
}

// with returns a copy of e (fetched when e was, touched as e was) with
// appDigest as its appSecretDigest, cached under key (of kind), and with
// the open session sess.
func (e *grantEntry) with(appDigest []byte, kind grantKind, key, sess []byte) *grantEntry {
	v := &grantEntry{appID: e.appID, bankID: e.bankID, kind: kind, open: true, denied: e.denied, fetched: e.fetched, sealedTag: e.sealedTag}
	head := e.b[:e.end[4]] // connID | tokenID | userID | userSecretDigest | codeDigest
	v.b = make([]byte, 0, len(head)+len(appDigest)+len(key)+len(sess))
	v.b = append(append(append(append(v.b, head...), appDigest...), key...), sess...)
	copy(v.end[:5], e.end[:5])
	v.end[5] = v.end[4] + uint16(len(appDigest))
	v.end[6] = v.end[5] + uint16(len(key))
	v.touched.Store(e.touched.Load())
	return v
}

func (e *grantEntry) fetchedAt() time.Time { return time.Unix(0, e.fetched) }

// grantKind is what a grant cache key is: a token's digest (under the
// primary key, with its key-ID prefix) or a request's MAC (see
// verifiedGrant). Keys of two kinds never match.
type grantKind uint8

const (
	grantUncached grantKind = iota
	grantByDigest
	grantByRequest
)

// grantKey is a key of the grant cache: a token digest or a request MAC,
// with its kind, held in the key itself. Unlike a string it points to
// nothing, so the collector follows no pointer per cached grant for it.
type grantKey struct {
	kind grantKind
	n    uint8
	// A digest is at most 41 bytes (a key ID of up to 8, a dot and 32:
	// see secret.DigestSelector); a request MAC is 32.
	b [46]byte
}

// makeGrantKey returns the grant cache key of kind for v, and false if v
// is too long to be one (no digest or MAC is).
func makeGrantKey(kind grantKind, v []byte) (k grantKey, ok bool) {
	if len(v) > len(k.b) {
		return grantKey{}, false
	}
	k.kind, k.n = kind, uint8(len(v))
	copy(k.b[:], v)
	return k, true
}

// grantDenial is why a grant cannot be used, if it cannot.
type grantDenial uint8

const (
	grantUsable grantDenial = iota
	grantInvalid
	grantDelinked
)

// err returns the error a denied grant answers, nil for a usable one.
func (d grantDenial) err() error {
	switch d {
	case grantInvalid:
		return bankgate.Errorf(bankgate.InvalidToken, "The access token is invalid.")
	case grantDelinked:
		return bankgate.Errorf(bankgate.UserDelinked, "The user has been delinked; connect the user again.")
	}
	return nil
}

// newGrantEntry copies of g what a bearer check needs. Strings that many
// entries share (the app and bank IDs) are taken from intern.
//
// key, if not nil, is the token digest the entry is to be cached under,
// and sess, if not nil, the connection's open session (see sessionFor):
// both are kept in the entry's one byte slice with the rest.
func newGrantEntry(g *bankgate.Grant, now time.Time, intern func(string) string, key, sess []byte) *grantEntry {
	c := &g.Connection
	e := &grantEntry{fetched: now.UnixNano(), appID: intern(g.Token.AppID), bankID: intern(c.BankID), sealedTag: sealedTag(c.Sealed)}
	if key != nil {
		e.kind = grantByDigest
	}
	tail := c.Sealed
	if sess != nil {
		tail, e.open = sess, true
	}
	parts := [...][]byte{[]byte(c.ID), []byte(g.Token.ID), []byte(c.UserID), c.UserSecretDigest, g.Token.CodeDigest, nil, key, tail}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	e.b = make([]byte, 0, n)
	for i, p := range parts {
		e.b = append(e.b, p...)
		if i < len(e.end) {
			e.end[i] = uint16(len(e.b))
		}
	}
	switch err := checkGrant(g); {
	case bankgate.IsCode(err, bankgate.UserDelinked):
		e.denied = grantDelinked
	case err != nil:
		e.denied = grantInvalid
	}
	return e
}

// sealedTag returns a sealed session's authentication tag, its last 16
// bytes (zero if it is shorter).
func sealedTag(sealed []byte) (tag [16]byte) {
	if len(sealed) >= len(tag) {
		copy(tag[:], sealed[len(sealed)-len(tag):])
	}
	return tag
}
