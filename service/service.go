// Package service is bankgate's application layer: it carries out the token
// flow (apps, Connect logins, access codes, ExchangeToken, bearer checks,
// delink) and the data calls on top of a bankgate.Store, the bank
// connectors and the server's keyring. It is transport-free; the http
// package adapts it to Dapi's wire format.
package service

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/feed"
	"github.com/bankgate/bankgate/secret"
)

// Digest domains: the same value hashed for two purposes never collides.
const (
	domainAppSecret  = "app-secret"
	domainToken      = "access-token"
	domainCode       = "access-code"
	domainUserSecret = "user-secret"
	domainUserID     = "user-id"
)

// Sizes of the random secrets, in bytes of entropy.
const (
	TokenBytes      = 32
	CodeBytes       = 32
	AppSecretBytes  = 32
	UserSecretBytes = 32
)

// Config configures a Service.
type Config struct {
	Store   bankgate.Store
	Keyring *secret.Keyring
	// Connectors serve the banks; each bank ID maps to the connector that
	// serves it (see Registry).
	Connectors []bank.Connector
	// Now is the real clock: access codes, tokens, operations and caches
	// run on it. Nil means time.Now.
	Now func() time.Time
	// SandboxNow is where every app's sandbox test clock stands before the
	// app moves it (see AdvanceClock): the server's --sandbox-clock. Nil
	// means Now.
	SandboxNow func() time.Time
	// AccessCodeTTL is an access code's lifetime (default 30 minutes).
	AccessCodeTTL time.Duration
	// OperationTTL is how long a pending MFA prompt may be answered
	// (default 5 minutes).
	OperationTTL time.Duration
	// CacheTTL bounds how long a cached token, connection or app lookup
	// is trusted before it is read again from the store; it is the bound
	// on how late another instance (or a CLI command) sees a revocation,
	// delink or secret rotation. Default 500 ms; negative disables the
	// cache.
	CacheTTL time.Duration
	Logger   *slog.Logger
}

// Service implements the token flow and data calls.
type Service struct {
	store    bankgate.Store
	keys     *secret.Keyring
	now      func() time.Time
	sbNow    func() time.Time
	codeTTL  time.Duration
	opTTL    time.Duration
	cacheTTL time.Duration
	log      *slog.Logger

	banks     map[string]bank.Connector
	bankList  []bankgate.Bank
	bankIndex map[string]bankgate.Bank

	batchSeq batchSeqs

	feed    *feed.Feed // nil when the cache is off
	changed changes    // guarded by mu

	mu     sync.RWMutex
	grants map[string]*grantEntry // by token digest
	// touches are the connections used since they were last recorded.
	touches touches
	// interned are the app and bank IDs grant entries share.
	interned map[string]string
	apps     map[string]*appEntry // by app ID
	// appsBySecret are apps by their secret's digest, for ExchangeToken
	// and other calls an app makes with its secret alone.
	appsBySecret map[string]*appEntry
	// appsByKey are apps by their public key, for the Connect calls
	// (a login reads it in http for its limits, then here).
	appsByKey map[string]*appEntry
}

// grantEntry is what a bearer check needs of a grant, kept per token:
// with a cache entry per active token it is kept small (a Grant copied
// whole was about 1 KB).
type grantEntry struct {
	key     string // the token digest it is cached under, "" if not cached
	fetched time.Time

	tokenID, appID, connID, bankID, userID string
	userSecretDigest                       []byte
	codeDigest                             []byte // the access code the token was issued for
	// sealed is the connection's sealed session until session, the
	// unsealed one, is known (after the first request that proved the
	// userSecret); sealedTag is the sealed session's last 16 bytes (its
	// authentication tag), which tell a re-read entry whether the session
	// it had still holds.
	sealed    []byte
	sealedTag [16]byte
	session   []byte
	denied    error // nil for a usable grant; else InvalidToken or UserDelinked
	// touched is when (UnixNano) this instance last recorded the
	// connection's use in the store (see touch).
	touched atomic.Int64
}

// newGrantEntry copies of g what a bearer check needs. Strings that many
// entries share (the app and bank IDs) are taken from intern.
func newGrantEntry(g *bankgate.Grant, now time.Time, intern func(string) string) *grantEntry {
	c := &g.Connection
	e := &grantEntry{fetched: now, tokenID: g.Token.ID, appID: intern(g.Token.AppID), connID: c.ID,
		bankID: intern(c.BankID), userID: c.UserID, userSecretDigest: c.UserSecretDigest,
		codeDigest: g.Token.CodeDigest, sealed: c.Sealed, denied: checkGrant(g)}
	if len(c.Sealed) >= len(e.sealedTag) {
		copy(e.sealedTag[:], c.Sealed[len(c.Sealed)-len(e.sealedTag):])
	}
	return e
}

type appEntry struct {
	app     bankgate.App
	fetched time.Time
}

// AuditRetention is how long audit events are kept.
const AuditRetention = 400 * 24 * time.Hour

// maxCacheEntries caps each in-memory cache; past it, the cache is cleared
// and refills from the store.
const maxCacheEntries = 200_000

// putCapped sets m[k] = v, first clearing m if it holds maxCacheEntries.
// The caller holds the lock that guards m.
func putCapped[V any](m map[string]V, k string, v V) {
	if len(m) >= maxCacheEntries {
		clear(m)
	}
	m[k] = v
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{
		store:     cfg.Store,
		keys:      cfg.Keyring,
		now:       cfg.Now,
		sbNow:     cfg.SandboxNow,
		codeTTL:   cfg.AccessCodeTTL,
		opTTL:     cfg.OperationTTL,
		cacheTTL:  cfg.CacheTTL,
		log:       cfg.Logger,
		banks:     map[string]bank.Connector{},
		bankIndex: map[string]bankgate.Bank{},
		grants:    map[string]*grantEntry{},
		interned:  map[string]string{},
		apps:      map[string]*appEntry{},
		batchSeq:  batchSeqs{m: map[string]int64{}},

		appsBySecret: map[string]*appEntry{},
		appsByKey:    map[string]*appEntry{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sbNow == nil {
		s.sbNow = s.now
	}
	if s.codeTTL <= 0 {
		s.codeTTL = 30 * time.Minute
	}
	if s.opTTL <= 0 {
		s.opTTL = 5 * time.Minute
	}
	if s.cacheTTL == 0 {
		s.cacheTTL = 500 * time.Millisecond
	}
	s.changed = changes{conn: map[string]time.Time{}, app: map[string]time.Time{}}
	if s.cacheTTL > 0 && s.store != nil {
		s.feed = feed.New(s.store, s.Now, s.mark)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, c := range cfg.Connectors {
		for _, b := range c.Banks() {
			s.banks[b.ID] = c
			s.bankIndex[b.ID] = b
			s.bankList = append(s.bankList, b)
		}
	}
	slices.SortFunc(s.bankList, func(a, b bankgate.Bank) int { return strings.Compare(a.ID, b.ID) })
	return s
}

// Now returns the service clock's reading.
func (s *Service) Now() time.Time { return s.now().UTC() }

// AppNow returns the time on the app's sandbox test clock: the server's
// sandbox time moved forward by the app's offset. Connector calls for the
// app's users run on it.
// A production app has no test clock: its calls run on real time.
func (s *Service) AppNow(app *bankgate.App) time.Time {
	if production(app) {
		return s.Now()
	}
	return appNow(s.sbNow(), app.ClockOffset)
}

func appNow(base time.Time, offset time.Duration) time.Time { return base.Add(offset).UTC() }

// parseAdvance reads a clock advance: a Go duration ("36h", "90m") or a
// whole number of days ("30d").
func parseAdvance(v string) (time.Duration, error) {
	bad := bankgate.Errorf(bankgate.ParameterError,
		"The field \"advance\" must be a positive duration such as \"36h\" or \"30d\", at most %d days.", int(bankgate.MaxClockAdvance/(24*time.Hour)))
	if v == "" || len(v) > 32 {
		return 0, bad
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > int(bankgate.MaxClockAdvance/(24*time.Hour)) {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, bad
		}
	}
	if d <= 0 || d > bankgate.MaxClockAdvance {
		return 0, bad
	}
	return d, nil
}

func errProductionApp() error {
	return bankgate.Errorf(bankgate.NotImplemented, "Production apps have no sandbox: no test clock and no sandbox users.")
}

// AdvanceClock moves the app's sandbox test clock forward by advance (a
// Go duration or "<n>d"), or only reads it when advance is empty. Only
// that app's sandbox world sees the move: its new transactions, ended
// cool-downs and lockouts; its unused access codes move as much closer to
// expiry (a code expires at the earlier of its real and its virtual
// expiry, so no move makes an expired code valid). An advance must be
// positive and at most MaxClockAdvance, and the app's advances together
// at most MaxClockOffset; otherwise it returns ParameterError and nothing
// moves. It returns InvalidAppCredentials for a bad appSecret.
func (s *Service) AdvanceClock(ctx context.Context, appSecret, advance string) (*bankgate.SandboxClock, error) {
	app, err := s.AppBySecret(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	if production(app) {
		return nil, errProductionApp()
	}
	offset := app.ClockOffset
	if advance != "" {
		d, err := parseAdvance(advance)
		if err != nil {
			return nil, err
		}
		offset, err = s.store.AdvanceAppClock(ctx, app.ID, d, s.Now())
		if bankgate.IsCode(err, bankgate.ParameterError) {
			return nil, bankgate.Errorf(bankgate.ParameterError,
				"The app's sandbox clock may move at most %d days in all; it has moved %s.", int(bankgate.MaxClockOffset/(24*time.Hour)), app.ClockOffset)
		}
		if err != nil {
			return nil, fmt.Errorf("advance clock: %w", err)
		}
		s.forgetApp(app.ID)
	}
	return &bankgate.SandboxClock{Now: appNow(s.sbNow(), offset), Offset: offset}, nil
}

// Ready reports whether the store is reachable.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// --- apps ---

// NewApp is a created app together with its secret, which exists in clear
// only in this value.
type NewApp struct {
	App    *bankgate.App
	Secret string
}

// CreateApp registers an app named name in environment (EnvSandbox when
// empty, or EnvProduction) and returns it with its secret.
func (s *Service) CreateApp(ctx context.Context, name, environment string) (*NewApp, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, bankgate.Errorf(bankgate.ParameterError, "An app name of 1 to 200 characters is required.")
	}
	switch environment {
	case "":
		environment = bankgate.EnvSandbox
	case bankgate.EnvSandbox, bankgate.EnvProduction:
	default:
		return nil, bankgate.Errorf(bankgate.ParameterError, "An app's environment is %q or %q.", bankgate.EnvSandbox, bankgate.EnvProduction)
	}
	sec := secret.Random(secret.PrefixAppSecret, AppSecretBytes)
	app := &bankgate.App{
		ID:           newID(),
		Name:         name,
		Key:          secret.Hex(32),
		SecretDigest: s.keys.Digest(domainAppSecret, sec),
		CreatedAt:    s.Now(),
		Environment:  environment,
		Forwarding:   true,
	}
	if err := s.store.CreateApp(ctx, app); err != nil {
		return nil, fmt.Errorf("create app: %w", err)
	}
	return &NewApp{App: app, Secret: sec}, nil
}

// RotateAppSecret gives the app with the given key a new secret and
// returns it; the old secret stops working (on other instances within the
// cache TTL). It is RotateSecret without overlap, by the command line.
func (s *Service) RotateAppSecret(ctx context.Context, appKey string) (string, error) {
	r, err := s.RotateSecret(ctx, CLI, appKey, 0)
	if err != nil {
		return "", err
	}
	return r.Secret, nil
}

// forgetApp drops the app from this instance's caches (by ID, secret and
// key), so that a change made here takes effect here at once.
func (s *Service) forgetApp(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.apps, id)
	for _, m := range []map[string]*appEntry{s.appsBySecret, s.appsByKey} {
		for k, e := range m {
			if e.app.ID == id {
				delete(m, k)
			}
		}
	}
}

// AppByKey returns the app with the given public key, or
// InvalidAppCredentials. An app found is remembered as AppBySecret's are.
func (s *Service) AppByKey(ctx context.Context, appKey string) (*bankgate.App, error) {
	if appKey == "" || len(appKey) > 256 {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appKey is invalid.")
	}
	now := s.Now()
	if s.cacheTTL > 0 {
		s.mu.RLock()
		e := s.appsByKey[appKey]
		s.mu.RUnlock()
		if e != nil && s.usable(ctx, e.fetched, now, "", e.app.ID) {
			return enabled(&e.app)
		}
	}
	app, err := s.store.AppByKey(ctx, appKey)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appKey is invalid.")
	}
	if err != nil {
		return nil, err
	}
	if app.Disabled() {
		s.forgetApp(app.ID)
		return nil, errAppDisabled()
	}
	if s.cacheTTL > 0 {
		// Only keys of apps that exist become map keys.
		s.mu.Lock()
		putCapped(s.appsByKey, appKey, &appEntry{app: *app, fetched: now})
		s.mu.Unlock()
	}
	return app, nil
}

// AppBySecret authenticates an app by its secret; it returns
// InvalidAppCredentials when no app has it. A secret found is remembered
// for the cache TTL, like the apps behind tokens, so that a rotation on
// another instance takes effect here within it (at once on this one).
func (s *Service) AppBySecret(ctx context.Context, appSecret string) (*bankgate.App, error) {
	if !secret.WellFormed(appSecret, secret.PrefixAppSecret, AppSecretBytes) {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is invalid.")
	}
	var buf [64]byte
	d := s.keys.AppendDigest(buf[:0], domainAppSecret, appSecret)
	now := s.Now()
	if s.cacheTTL > 0 {
		s.mu.RLock()
		e := s.appsBySecret[string(d)]
		s.mu.RUnlock()
		if e != nil && s.usable(ctx, e.fetched, now, "", e.app.ID) && !prevSecretOver(&e.app, d, now) {
			return enabled(&e.app)
		}
	}
	app, err := s.store.AppBySecret(ctx, d)
	if bankgate.IsCode(err, bankgate.NotFound) && s.keys.Multi() {
		app, err = s.olderApp(ctx, appSecret, d)
	}
	if bankgate.IsCode(err, bankgate.NotFound) {
		// The app's previous secret, while its overlap window is open.
		app, err = s.store.AppByPrevSecret(ctx, d, now)
	}
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is invalid.")
	}
	if err != nil {
		return nil, err
	}
	if s.cacheTTL > 0 {
		s.mu.Lock()
		putCapped(s.appsBySecret, string(d), &appEntry{app: *app, fetched: now})
		s.mu.Unlock()
	}
	return enabled(app)
}

// olderApp looks an appSecret up under the server keys other than the
// primary; found under an older key, its digest is stored again under the
// primary (d). It returns NotFound when no key finds it.
func (s *Service) olderApp(ctx context.Context, appSecret string, d []byte) (*bankgate.App, error) {
	for _, od := range s.keys.OtherDigests(domainAppSecret, appSecret) {
		app, err := s.store.AppBySecret(ctx, od)
		if bankgate.IsCode(err, bankgate.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if s.keys.Stale(od) {
			s.redigestApp(ctx, app.ID, od, d)
			app.SecretDigest = d
		}
		return app, nil
	}
	// Moved to the primary key by another instance meanwhile: look there
	// once more.
	return s.store.AppBySecret(ctx, d)
}

// redigestApp stores an app's secret digest under the primary key. A
// failure is logged, not returned: the secret was proven, and the next use
// tries again.
func (s *Service) redigestApp(ctx context.Context, appID string, old, d []byte) {
	if _, err := s.store.RedigestApp(ctx, appID, old, d); err != nil {
		s.log.Warn("re-digest app secret under the primary key", "appID", appID, "err", err)
	}
	s.forgetApp(appID)
}

// cachedApp returns the app with the given ID, from the cache when fresh.
func (s *Service) cachedApp(ctx context.Context, id string, now time.Time) (*bankgate.App, error) {
	if s.cacheTTL > 0 {
		s.mu.RLock()
		e := s.apps[id]
		s.mu.RUnlock()
		if e != nil && s.usable(ctx, e.fetched, now, "", e.app.ID) {
			return &e.app, nil
		}
	}
	app, err := s.store.App(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.cacheTTL > 0 {
		s.mu.Lock()
		putCapped(s.apps, id, &appEntry{app: *app, fetched: now})
		s.mu.Unlock()
	}
	return app, nil
}

// Audit returns the audit trail of the app with the given key.
func (s *Service) Audit(ctx context.Context, appKey string, limit int) ([]bankgate.AuditEvent, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	return s.store.Audit(ctx, app.ID, limit)
}

// --- banks ---

// Banks returns the banks available to the app with the given key, in the
// given countries (all when empty).
func (s *Service) Banks(ctx context.Context, appKey string, countries []string) ([]bankgate.Bank, error) {
	app, err := s.AppByKey(ctx, appKey)
	if err != nil {
		return nil, err
	}
	var out []bankgate.Bank
	for _, b := range s.bankList {
		if !reaches(app, b) {
			continue
		}
		if len(countries) == 0 || slices.ContainsFunc(countries, func(c string) bool { return strings.EqualFold(c, b.Country) }) {
			out = append(out, b)
		}
	}
	return out, nil
}

// reaches reports whether app may use bank b: a production app only real
// banks, any other app only sandbox banks.
func reaches(app *bankgate.App, b bankgate.Bank) bool {
	return b.Sandbox != production(app)
}

func production(app *bankgate.App) bool { return app.Environment == bankgate.EnvProduction }

func (s *Service) userID(appID, bankID, userKey string) string {
	// The original server key derives userIDs for the store's whole life,
	// so an end user keeps one userID across key rotations.
	d := s.keys.IDDigest(domainUserID, appID+"\x00"+bankID+"\x00"+userKey)
	return base64.RawURLEncoding.EncodeToString(d[:24])
}

// --- operations ---

// opRand are ChaCha8 generators seeded from crypto/rand, one per user at
// a time: a random (version 4) UUID from one costs no allocation and no
// system call.
var opRand = sync.Pool{New: func() any {
	var seed [32]byte
	crand.Read(seed[:])
	return mrand.NewChaCha8(seed)
}}

// randomUUID returns a random (version 4, RFC 9562) UUID.
func randomUUID() (u [16]byte) {
	r := opRand.Get().(*mrand.ChaCha8)
	r.Read(u[:])
	opRand.Put(r)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func (s *Service) newOperationID(bankID string) string {
	prefix := bankID
	if b, ok := s.bankIndex[bankID]; ok && b.SwiftCode != "" {
		prefix = b.SwiftCode
	}
	// <prefix>:<uuid v4>, built in one allocation.
	u := randomUUID()
	buf := make([]byte, 0, len(prefix)+1+36)
	buf = append(append(buf, prefix...), ':')
	var h [36]byte
	hex.Encode(h[0:8], u[0:4])
	h[8] = '-'
	hex.Encode(h[9:13], u[4:6])
	h[13] = '-'
	hex.Encode(h[14:18], u[6:8])
	h[18] = '-'
	hex.Encode(h[19:23], u[8:10])
	h[23] = '-'
	hex.Encode(h[24:], u[10:])
	buf = append(buf, h[:]...)
	return unsafeString(buf)
}

func (s *Service) sealState(opID string, state []byte) ([]byte, error) {
	return s.keys.Seal(opID, "operation", state)
}

func (s *Service) openState(opID string, sealed []byte) ([]byte, error) {
	return s.keys.Open(opID, "operation", sealed)
}

// claimOperation loads a pending operation for resume and marks it as in
// progress, so that only one resume of it runs. It returns
// InvalidOperationID when the operation is unknown, expired, already
// resumed, or belongs to another app, connection or endpoint.
func (s *Service) claimOperation(ctx context.Context, id, appID, connID, endpoint string) (*bankgate.Operation, []byte, error) {
	bad := bankgate.Errorf(bankgate.InvalidOperationID, "The operationID is unknown, expired or already completed.")
	if len(id) > 200 {
		return nil, nil, bad
	}
	op, err := s.store.Operation(ctx, id)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.Now()
	if op.AppID != appID || op.ConnectionID != connID || !strings.EqualFold(op.Endpoint, endpoint) ||
		op.Status != bankgate.StatusUserInputRequired || !now.Before(op.ExpiresAt) {
		return nil, nil, bad
	}
	state, err := s.openState(op.ID, op.State)
	if err != nil {
		return nil, nil, fmt.Errorf("open operation state: %w", err)
	}
	claimed := *op
	claimed.Status, claimed.UpdatedAt, claimed.State = bankgate.StatusInitialized, now, nil
	if err := s.store.UpdateOperation(ctx, &claimed, bankgate.StatusUserInputRequired); err != nil {
		if bankgate.IsCode(err, bankgate.Conflict) {
			return nil, nil, bad
		}
		return nil, nil, err
	}
	return &claimed, state, nil
}

// finishOperation records the outcome of a resumed operation. Failures to
// record are logged, not returned: the caller's result stands.
func (s *Service) finishOperation(ctx context.Context, op *bankgate.Operation, callErr error) {
	done := *op
	done.UpdatedAt = s.Now()
	done.Status = bankgate.StatusDone
	if callErr != nil {
		done.Status, done.ErrorType = bankgate.StatusFailed, string(bankgate.ErrorCode(callErr))
	}
	if err := s.store.UpdateOperation(ctx, &done, bankgate.StatusInitialized); err != nil {
		s.log.Warn("record operation outcome", "operationID", op.ID, "err", err)
	}
}

// createPrompt stores a new pending operation for a challenge.
func (s *Service) createPrompt(ctx context.Context, opID, appID, connID, bankID, endpoint string, ch *bank.Challenge) error {
	sealed, err := s.sealState(opID, ch.State)
	if err != nil {
		return err
	}
	now := s.Now()
	return s.store.CreateOperation(ctx, &bankgate.Operation{
		ID: opID, AppID: appID, ConnectionID: connID, BankID: bankID, Endpoint: endpoint,
		Status: bankgate.StatusUserInputRequired, State: sealed, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.opTTL),
	})
}

// Sweep deletes expired operations and access codes.
//
// Connections whose access code expired unexchanged go too (an abandoned
// or scripted login costs no lasting storage), and audit events older
// than AuditRetention.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.Now()
	return s.store.DeleteExpired(ctx, now.Add(-time.Hour), now.Add(-AuditRetention))
}

// unsafeString converts a byte slice nobody else holds to a string
// without copying.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
