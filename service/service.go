// Package service is bankgate's application layer: it carries out the token
// flow (apps, Connect logins, access codes, ExchangeToken, bearer checks,
// delink) and the data calls on top of a bankgate.Store, the bank
// connectors and the server's keyring. It is transport-free; the http
// package adapts it to Dapi's wire format.
package service

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

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
	domainRequest    = "request"
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
	// means Now (whose one reading a request then shares).
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
	// Tracer, when set, traces every connector call with a span (a child
	// of the request's, found in the call's context). Nil turns tracing
	// off at no cost.
	Tracer trace.Tracer
	// PublicURL is the server's public base URL (https://host[:port]),
	// where banks that log users in by redirect send them back to
	// (PublicURL + /connect/callback). Empty means the URL each Connect
	// login request came in on.
	PublicURL string
}

// Service implements the token flow and data calls.
type Service struct {
	store    bankgate.Store
	keys     *secret.Keyring
	now      func() time.Time
	sbNow    func() time.Time // nil: the sandbox runs on now
	codeTTL  time.Duration
	opTTL    time.Duration
	cacheTTL time.Duration
	log      *slog.Logger
	tracer   trace.Tracer // nil when tracing is off
	// publicURL: see Config.PublicURL.
	publicURL string

	banks     map[string]bank.Connector
	bankList  []bankgate.Bank
	bankIndex map[string]bankgate.Bank

	batchSeq batchSeqs

	feed    *feed.Feed // nil when the cache is off
	changed changes    // guarded by mu

	mu     sync.RWMutex
	grants map[grantKey]*grantEntry // by token digest or request MAC
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

	// webhookWake, when set, is told that a request enqueued a webhook
	// event (see OnWebhookEnqueued).
	webhookWake func()
}

// AuditRetention is how long audit events are kept.
const AuditRetention = 400 * 24 * time.Hour

// maxCacheEntries caps each in-memory cache; past it, the cache is cleared
// and refills from the store.
const maxCacheEntries = 200_000

// putCapped sets m[k] = v, first clearing m if it holds maxCacheEntries.
// The caller holds the lock that guards m.
func putCapped[K comparable, V any](m map[K]V, k K, v V) {
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
		publicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		cacheTTL:  cfg.CacheTTL,
		log:       cfg.Logger,
		tracer:    cfg.Tracer,
		banks:     map[string]bank.Connector{},
		bankIndex: map[string]bankgate.Bank{},
		grants:    map[grantKey]*grantEntry{},
		interned:  map[string]string{},
		apps:      map[string]*appEntry{},
		batchSeq:  batchSeqs{m: map[string]int64{}},

		appsBySecret: map[string]*appEntry{},
		appsByKey:    map[string]*appEntry{},
	}
	if s.now == nil {
		s.now = time.Now
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
func (s *Service) AppNow(app *bankgate.App) time.Time { return s.appNowAt(app, s.Now()) }

// appNowAt is AppNow given now, a reading of the service clock: the
// sandbox clock is read only when it is not that clock.
func (s *Service) appNowAt(app *bankgate.App, now time.Time) time.Time {
	if production(app) {
		return now
	}
	return appNow(s.sandboxAt(now), app.ClockOffset)
}

// sandboxAt returns the sandbox clock's reading, given now, a reading of
// the service clock, which is that reading unless a sandbox clock of its
// own is set (see Config.SandboxNow).
func (s *Service) sandboxAt(now time.Time) time.Time {
	if s.sbNow != nil {
		return s.sbNow()
	}
	return now
}

func appNow(base time.Time, offset time.Duration) time.Time { return base.Add(offset).UTC() }

// Ready reports whether the store is reachable.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

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
