package service

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
)

// The operator plane: what the admin API, the console and the CLI do to
// apps, connections, tokens, sandbox worlds and the audit trail. Every
// change is audited with the Actor who asked, in the same transaction as
// the change, and writes a change marker, so that other instances enforce
// it within the cache bound (CacheTTL) and this one at once.

// Actor is who asks for an operator action; it is recorded in the action's
// audit event.
type Actor struct {
	// TokenID names the admin token used ("cli" for the command line).
	TokenID string
	// Addr is the client's address; empty for the command line.
	Addr string
	// Reason is the operator's own note (at most 200 characters kept).
	Reason string
}

// CLI is the actor of the bankgate command line.
var CLI = Actor{TokenID: "cli"}

// detail renders the actor for an audit event's detail:
// admin=<tokenID> ip=<addr> reason="<reason>".
func (a Actor) detail() string {
	var b strings.Builder
	b.WriteString("admin=")
	b.WriteString(oneWord(a.TokenID))
	if a.Addr != "" {
		b.WriteString(" ip=")
		b.WriteString(oneWord(a.Addr))
	}
	if r := strings.TrimSpace(a.Reason); r != "" {
		if len(r) > 200 {
			r = r[:200]
		}
		b.WriteString(" reason=")
		b.WriteString(strconv.Quote(r))
	}
	return b.String()
}

// oneWord keeps an audit detail's field one word: spaces and quotes go.
func oneWord(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '"' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

func errAppDisabled() error {
	return bankgate.Errorf(bankgate.InvalidAppCredentials, "The app is disabled.")
}

// enabled returns app, or InvalidAppCredentials when it is disabled.
func enabled(app *bankgate.App) (*bankgate.App, error) {
	if app.Disabled() {
		return nil, errAppDisabled()
	}
	return app, nil
}

// prevSecretOver reports whether the digest d is the app's previous
// secret and its overlap window has closed at now.
func prevSecretOver(app *bankgate.App, d []byte, now time.Time) bool {
	return app.PrevSecretDigest != nil && secret.Equal(d, app.PrevSecretDigest) && !now.Before(app.PrevSecretUntil)
}

// prevSecretOK reports whether appSecret is the app's previous secret and
// its overlap window is still open.
func (s *Service) prevSecretOK(app *bankgate.App, appSecret string) bool {
	if app.PrevSecretDigest == nil || !s.Now().Before(app.PrevSecretUntil) {
		return false
	}
	ok, _ := s.keys.Verify(domainAppSecret, appSecret, app.PrevSecretDigest)
	return ok
}

// recheckSecret reads the app again from the store (its cached copy may
// predate a rotation made on another instance) and verifies appSecret
// against it. It returns the app as cached now, nil if it was disabled
// meanwhile, and whether the secret is its current (or previous, in the
// overlap window) one.
func (s *Service) recheckSecret(ctx context.Context, app *bankgate.App, appSecret string) (*bankgate.App, bool, bool) {
	fresh, err := s.store.App(ctx, app.ID)
	if err != nil {
		return app, false, false
	}
	if s.cacheTTL > 0 {
		s.mu.Lock()
		putCapped(s.apps, fresh.ID, &appEntry{app: *fresh, fetched: s.Now()})
		s.mu.Unlock()
	}
	if fresh.Disabled() {
		return nil, false, false
	}
	ok, current := s.keys.Verify(domainAppSecret, appSecret, fresh.SecretDigest)
	if !ok && s.prevSecretOK(fresh, appSecret) {
		ok, current = true, true
	}
	return fresh, ok, current
}

// worldID names the app's sandbox world to the connectors: the app's ID,
// with the number of the operator's resets after it once there was one.
func worldID(app *bankgate.App) string {
	if app.SandboxEpoch == 0 {
		return app.ID
	}
	return app.ID + "~" + strconv.FormatInt(app.SandboxEpoch, 10)
}

// TouchInterval is how often at most an instance records a connection's
// use in the store.
const TouchInterval = time.Minute

// touchFlushEvery is how often at most the connections used are written,
// all in one store call; maxPendingTouches bounds those waiting (past it
// a use is recorded at the grant's next use instead).
const (
	touchFlushEvery   = 10 * time.Second
	maxPendingTouches = 100_000
)

// touches are the connections used since the last flush.
type touches struct {
	mu       sync.Mutex
	ids      map[string]struct{}
	lastSent time.Time
	flushing bool
}

// touch notes, at most once per TouchInterval per cached grant, that the
// grant's connection was used now. The notes are written together, by one
// background store call at most every touchFlushEvery (and by
// FlushTouches): with many active users a write per use, or per user and
// minute, would cost the hot path a transaction each.
func (s *Service) touch(ctx context.Context, e *grantEntry, now time.Time) {
	last := e.touched.Load()
	if now.UnixNano()-last < int64(TouchInterval) {
		return
	}
	t := &s.touches
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ids) >= maxPendingTouches || !e.touched.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if t.ids == nil {
		t.ids = make(map[string]struct{})
	}
	t.ids[e.connID()] = struct{}{}
	if !t.flushing && now.Sub(t.lastSent) >= touchFlushEvery {
		t.flushing = true
		// The flush writes the uses of many requests' connections: it is
		// none of them, so it carries none's context (their trace, their
		// request ID in its log line, their deadline).
		go func() {
			if err := s.FlushTouches(context.Background()); err != nil {
				s.log.Warn("record connections' last use", "err", err)
			}
		}()
	}
}

// flushTouchesFor writes the uses this instance noted before an operator
// reads connections, so that their last use is what this instance knows.
func (s *Service) flushTouchesFor(ctx context.Context) {
	if err := s.FlushTouches(ctx); err != nil {
		s.log.Warn("record connections' last use", "err", err)
	}
}

// FlushTouches writes the connections used since the last flush in one
// store call. The server calls it when it shuts down.
func (s *Service) FlushTouches(ctx context.Context) error {
	t := &s.touches
	t.mu.Lock()
	ids := make([]string, 0, len(t.ids))
	for id := range t.ids {
		ids = append(ids, id)
	}
	clear(t.ids)
	now := s.Now()
	t.lastSent, t.flushing = now, false
	t.mu.Unlock()
	slices.Sort(ids) // one order for every writer: no lock-order deadlocks on PostgreSQL
	return s.store.TouchConnections(ctx, ids, now)
}

// auditLoginFailed records a Connect login the bank refused: the bank,
// the username (never the password) and the error type.
func (s *Service) auditLoginFailed(ctx context.Context, app *bankgate.App, req bankgate.LoginRequest, err error) {
	d := "bank=" + oneWord(req.BankID) + " error=" + string(bankgate.ErrorCode(err))
	if req.Username != "" {
		d += " username=" + strconv.Quote(req.Username)
	}
	if req.OperationID != "" {
		d += " operationID=" + oneWord(req.OperationID)
	}
	s.record(ctx, &bankgate.AuditEvent{Kind: bankgate.AuditLoginFailed, AppID: app.ID, Detail: d})
}

// auditPayment records a payment call's outcome.
func auditPaymentDetail(endpoint, opID string, err error) string {
	d := "call=" + oneWord(endpoint)
	if opID != "" {
		d += " operationID=" + oneWord(opID)
	}
	if err != nil {
		return d + " result=" + string(bankgate.ErrorCode(err))
	}
	return d + " result=done"
}

func (s *Service) auditPayment(ctx context.Context, p *bankgate.Principal, endpoint, id string, err error) {
	s.record(ctx, &bankgate.AuditEvent{Kind: bankgate.AuditPayment, AppID: p.AppID, ConnectionID: p.ConnectionID, Detail: auditPaymentDetail(endpoint, id, err)})
}

// opIDOf is the operation ID of an outcome, "" for none.
func opIDOf[V any](o *bankgate.Outcome[V]) string {
	if o == nil {
		return ""
	}
	return o.OperationID
}

// record appends an audit event that changes nothing cached; a failure
// is logged, not returned: the action it records stands.
func (s *Service) record(ctx context.Context, e *bankgate.AuditEvent) {
	e.At = s.Now()
	if err := s.store.RecordAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.WarnContext(ctx, "record audit event", "kind", e.Kind, "appID", e.AppID, "err", err)
	}
}

// operatorApp returns the app with the given key, disabled or not, or
// NotFound: the operator's lookup, never cached.
func (s *Service) operatorApp(ctx context.Context, appKey string) (*bankgate.App, error) {
	if appKey == "" || len(appKey) > 256 {
		return nil, bankgate.Errorf(bankgate.NotFound, "No app has that app key.")
	}
	app, err := s.store.AppByKey(ctx, appKey)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bankgate.Errorf(bankgate.NotFound, "No app has that app key.")
	}
	return app, err
}

// AppView is an app with its live connection and token counts.
type AppView struct {
	App   *bankgate.App
	Stats bankgate.AppStats
}

// OperatorApps lists every app with its counts, oldest first.
func (s *Service) OperatorApps(ctx context.Context) ([]AppView, error) {
	apps, err := s.store.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.store.AppStats(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AppView, 0, len(apps))
	for _, a := range apps {
		out = append(out, AppView{App: a, Stats: st[a.ID]})
	}
	return out, nil
}

// OperatorApp returns the app with the given key and its counts; NotFound
// when no app has the key.
func (s *Service) OperatorApp(ctx context.Context, appKey string) (*AppView, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	st, err := s.store.AppStats(ctx)
	if err != nil {
		return nil, err
	}
	return &AppView{App: app, Stats: st[app.ID]}, nil
}

// AppChange is an operator's change to an app. Nil fields stay as they
// are; a list given replaces the registered one.
type AppChange struct {
	Name           *string
	AllowedOrigins *[]string
	RedirectURIs   *[]string
	BundleIDs      *[]string
	ServerURL      *string
	Forwarding     *bool
	// Environment may change only while the app has no linked connection.
	Environment *string
}

// fields names what c changes, for the audit.
func (c *AppChange) fields() string {
	var f []string
	for _, x := range []struct {
		set  bool
		name string
	}{{c.Name != nil, "name"}, {c.AllowedOrigins != nil, "allowedOrigins"}, {c.RedirectURIs != nil, "redirectURIs"},
		{c.BundleIDs != nil, "bundleIDs"}, {c.ServerURL != nil, "serverURL"}, {c.Forwarding != nil, "forwarding"}, {c.Environment != nil, "environment"}} {
		if x.set {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, ",")
}

// check validates c and returns it normalised.
func (c AppChange) check() (AppChange, error) {
	if c.Name != nil {
		n := strings.TrimSpace(*c.Name)
		if n == "" || len(n) > 200 {
			return c, bankgate.Errorf(bankgate.ParameterError, "An app name of 1 to 200 characters is required.")
		}
		c.Name = &n
	}
	if c.AllowedOrigins != nil {
		var out []string
		for _, o := range *c.AllowedOrigins {
			n, err := bankgate.NormalizeOrigin(o)
			if err != nil {
				return c, err
			}
			out = appendNew(out, n)
		}
		c.AllowedOrigins = &out
	}
	for _, l := range []*[]string{c.RedirectURIs, c.BundleIDs} {
		if l == nil {
			continue
		}
		var out []string
		for _, v := range *l {
			v = strings.TrimSpace(v)
			if v == "" || len(v) > 2048 {
				return c, bankgate.Errorf(bankgate.ParameterError, "Redirect URIs and bundle IDs are 1 to 2048 characters.")
			}
			if l == c.RedirectURIs {
				if err := checkURL(v); err != nil {
					return c, err
				}
			}
			out = appendNew(out, v)
		}
		*l = out
	}
	if c.ServerURL != nil && *c.ServerURL != "" {
		if err := checkURL(*c.ServerURL); err != nil {
			return c, err
		}
	}
	if c.Environment != nil && *c.Environment != bankgate.EnvSandbox && *c.Environment != bankgate.EnvProduction {
		return c, bankgate.Errorf(bankgate.ParameterError, "An app's environment is %q or %q.", bankgate.EnvSandbox, bankgate.EnvProduction)
	}
	return c, nil
}

func appendNew(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// OperatorCreateApp registers an app with the given settings (Name
// required; Environment sandbox when nil) and returns it with its secret.
func (s *Service) OperatorCreateApp(ctx context.Context, by Actor, c AppChange) (*NewApp, error) {
	if c.Name == nil {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "name is required.")
	}
	c, err := c.check()
	if err != nil {
		return nil, err
	}
	env := ""
	if c.Environment != nil {
		env = *c.Environment
	}
	na, err := s.CreateApp(ctx, *c.Name, env)
	if err != nil {
		return nil, err
	}
	detail := "action=create_app fields=" + c.fields() + " " + by.detail()
	c.Name, c.Environment = nil, nil
	if c.fields() != "" {
		app, err := s.updateApp(ctx, na.App, c, detail)
		if err != nil {
			return nil, err
		}
		na.App = app
	}
	s.record(ctx, &bankgate.AuditEvent{Kind: bankgate.AuditAdminAction, AppID: na.App.ID, Detail: detail})
	return na, nil
}

// OperatorUpdateApp changes the app with the given key and returns it as
// stored. It returns NotFound for an unknown key, ParameterError for a
// bad setting, and Conflict for an environment change while the app has
// linked connections.
func (s *Service) OperatorUpdateApp(ctx context.Context, by Actor, appKey string, c AppChange) (*bankgate.App, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	if c, err = c.check(); err != nil {
		return nil, err
	}
	fields := c.fields()
	if fields == "" {
		return app, nil
	}
	detail := "action=update_app fields=" + fields + " " + by.detail()
	out, err := s.updateApp(ctx, app, c, detail)
	if err != nil {
		return nil, err
	}
	s.record(ctx, &bankgate.AuditEvent{Kind: bankgate.AuditAdminAction, AppID: app.ID, Detail: detail})
	return out, nil
}

// updateApp applies a checked change to app; detail goes with the
// environment change's audit event.
func (s *Service) updateApp(ctx context.Context, app *bankgate.App, c AppChange, detail string) (*bankgate.App, error) {
	var err error
	defer s.forgetApp(app.ID)
	if c.Environment != nil {
		if app, err = s.store.SetAppEnvironment(ctx, app.ID, *c.Environment, s.Now(), detail); err != nil {
			return nil, err
		}
		c.Environment = nil
		if c.fields() == "" {
			return app, nil
		}
	}
	out, err := s.store.UpdateApp(ctx, app.ID, s.Now(), func(a *bankgate.App) error {
		if c.Name != nil {
			a.Name = *c.Name
		}
		if c.AllowedOrigins != nil {
			a.AllowedOrigins = *c.AllowedOrigins
		}
		if c.RedirectURIs != nil {
			a.RedirectURIs = *c.RedirectURIs
		}
		if c.BundleIDs != nil {
			a.BundleIDs = *c.BundleIDs
		}
		if c.ServerURL != nil {
			a.ServerURL = *c.ServerURL
		}
		if c.Forwarding != nil {
			a.Forwarding = *c.Forwarding
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MaxSecretOverlap bounds a rotation's overlap window.
const MaxSecretOverlap = 30 * 24 * time.Hour

// Rotated is a new app secret, shown once, and until when the previous
// one keeps working (zero: it stopped at once).
type Rotated struct {
	App    *bankgate.App
	Secret string
	// OldUntil is when the previous secret stops working; zero when it
	// stopped at once.
	OldUntil time.Time
}

// RotateSecret gives the app with the given key a new secret. With a
// positive overlap (at most MaxSecretOverlap) the old secret keeps working
// until overlap has passed, everywhere; with 0 it stops at once (on other
// instances within CacheTTL). NotFound for an unknown key.
func (s *Service) RotateSecret(ctx context.Context, by Actor, appKey string, overlap time.Duration) (*Rotated, error) {
	if overlap < 0 || overlap > MaxSecretOverlap {
		return nil, bankgate.Errorf(bankgate.ParameterError, "The overlap must be from 0 to %v.", MaxSecretOverlap)
	}
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	r := &Rotated{Secret: secret.Random(secret.PrefixAppSecret, AppSecretBytes)}
	detail := by.detail()
	if overlap > 0 {
		r.OldUntil = now.Add(overlap)
		detail += " overlap=" + overlap.String()
	}
	if err := s.store.RotateAppSecretUntil(ctx, app.ID, s.keys.Digest(domainAppSecret, r.Secret), now, r.OldUntil, detail); err != nil {
		return nil, fmt.Errorf("rotate app secret: %w", err)
	}
	s.forgetApp(app.ID)
	if r.App, err = s.store.App(ctx, app.ID); err != nil {
		return nil, err
	}
	return r, nil
}

// SetAppDisabled disables (or enables) the app with the given key. A
// disabled app's every call answers InvalidAppCredentials and its logins
// are refused, on every instance within CacheTTL.
func (s *Service) SetAppDisabled(ctx context.Context, by Actor, appKey string, disabled bool) (*bankgate.App, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	out, err := s.store.SetAppDisabled(ctx, app.ID, disabled, s.Now(), by.detail())
	s.forgetApp(app.ID)
	return out, err
}

// ConnectionFilter selects an app's connections for an operator.
type ConnectionFilter struct {
	BankID, ClientUserID        string
	CreatedAfter, CreatedBefore time.Time
	State                       string // active, delinked, revoked or ""
	Cursor                      string // from the previous page's Next
	Limit                       int    // 1 to 500; 0 means 50
}

// ConnectionPage is one page of connections, newest first; Next is the
// cursor of the next page, "" on the last.
type ConnectionPage struct {
	Connections []bankgate.ConnectionInfo
	Next        string
}

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return 50, nil
	case n < 0 || n > 500:
		return 0, bankgate.Errorf(bankgate.ParameterError, "limit must be from 1 to 500.")
	}
	return n, nil
}

// cursor encodes a position (a time and an ID) as an opaque string.
func cursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + "/" + id))
}

func parseCursor(c string) (time.Time, string, error) {
	bad := bankgate.Errorf(bankgate.ParameterError, "The cursor is not one this server gave.")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 300 {
		return time.Time{}, "", bad
	}
	ns, id, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", bad
	}
	return time.Unix(0, n).UTC(), id, nil
}

// OperatorConnections lists the connections of the app with the given key.
func (s *Service) OperatorConnections(ctx context.Context, appKey string, f ConnectionFilter) (*ConnectionPage, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	switch f.State {
	case "", bankgate.ConnActive, bankgate.ConnDelinked, bankgate.ConnRevoked:
	default:
		return nil, bankgate.Errorf(bankgate.ParameterError, "state is active, delinked or revoked.")
	}
	q := bankgate.ConnectionQuery{AppID: app.ID, BankID: f.BankID, ClientUserID: f.ClientUserID, CreatedAfter: f.CreatedAfter,
		CreatedBefore: f.CreatedBefore, State: f.State, Limit: limit + 1}
	if f.Cursor != "" {
		if q.AfterCreated, q.AfterID, err = parseCursor(f.Cursor); err != nil {
			return nil, err
		}
	}
	s.flushTouchesFor(ctx)
	cs, err := s.store.ConnectionInfos(ctx, q)
	if err != nil {
		return nil, err
	}
	page := &ConnectionPage{Connections: cs}
	if len(cs) > limit {
		page.Connections = cs[:limit]
		last := cs[limit-1]
		page.Next = cursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// ConnectionView is one connection with its tokens.
type ConnectionView struct {
	Connection bankgate.ConnectionInfo
	Tokens     []bankgate.Token
}

// appConnection returns the connection if it is the app's, else NotFound.
func (s *Service) appConnection(ctx context.Context, appKey, connID string) (*bankgate.App, *bankgate.ConnectionInfo, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, nil, err
	}
	notFound := bankgate.Errorf(bankgate.NotFound, "The app has no connection with that ID.")
	if connID == "" || len(connID) > 128 {
		return nil, nil, notFound
	}
	s.flushTouchesFor(ctx)
	c, err := s.store.ConnectionInfo(ctx, connID)
	if bankgate.IsCode(err, bankgate.NotFound) || (err == nil && c.AppID != app.ID) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	return app, c, nil
}

// OperatorConnection returns one connection of the app with its tokens.
func (s *Service) OperatorConnection(ctx context.Context, appKey, connID string) (*ConnectionView, error) {
	_, c, err := s.appConnection(ctx, appKey, connID)
	if err != nil {
		return nil, err
	}
	toks, err := s.store.ConnectionTokens(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return &ConnectionView{Connection: *c, Tokens: toks}, nil
}

// RevokeConnection revokes one connection of the app: its token answers
// InvalidToken on every instance within CacheTTL, at once on this one.
func (s *Service) RevokeConnection(ctx context.Context, by Actor, appKey, connID string) (*ConnectionView, error) {
	_, c, err := s.appConnection(ctx, appKey, connID)
	if err != nil {
		return nil, err
	}
	if err := s.store.RevokeConnection(ctx, c.ID, s.Now(), by.detail()); err != nil {
		return nil, err
	}
	s.forgetConnection(c.ID)
	return s.OperatorConnection(ctx, appKey, connID)
}

// RevokeTokens is the kill switch: it revokes every token of the app with
// the given key issued before before (all when zero), and the access codes
// not yet exchanged. Every one answers InvalidToken on every instance
// within CacheTTL, at once on this one. It returns how many tokens it
// revoked.
func (s *Service) RevokeTokens(ctx context.Context, by Actor, appKey string, before time.Time) (int, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return 0, err
	}
	detail := by.detail()
	if !before.IsZero() {
		detail += " before=" + before.UTC().Format(time.RFC3339Nano)
	}
	n, err := s.store.RevokeAppTokens(ctx, app.ID, before, s.Now(), detail)
	if err != nil {
		return 0, err
	}
	s.forgetAppGrants(app.ID)
	return n, nil
}

// forgetAppGrants drops the cached grants of an app.
func (s *Service) forgetAppGrants(appID string) {
	s.forgetGrants(func(e *grantEntry) bool { return e.appID == appID })
}

// AuditFilter selects audit events for an operator.
type AuditFilter struct {
	AppKey, ConnectionID, Kind string
	Before                     time.Time
	Cursor                     string
	Limit                      int // 1 to 500; 0 means 50
}

// AuditPage is one page of audit events, newest first.
type AuditPage struct {
	Events []bankgate.AuditEvent
	Next   string
	// AppKeys maps the events' app IDs to their keys.
	AppKeys map[string]string
}

// SearchAudit returns audit events, newest first.
func (s *Service) SearchAudit(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	q := bankgate.AuditQuery{ConnectionID: f.ConnectionID, Kind: f.Kind, Before: f.Before, Limit: limit + 1}
	if f.AppKey != "" {
		app, err := s.operatorApp(ctx, f.AppKey)
		if err != nil {
			return nil, err
		}
		q.AppID = app.ID
	}
	if f.Cursor != "" {
		if q.BeforeAt, q.BeforeID, err = parseCursor(f.Cursor); err != nil {
			return nil, err
		}
	}
	ev, err := s.store.SearchAudit(ctx, q)
	if err != nil {
		return nil, err
	}
	page := &AuditPage{Events: ev, AppKeys: map[string]string{}}
	if len(ev) > limit {
		page.Events = ev[:limit]
		last := ev[limit-1]
		page.Next = cursor(last.At, last.ID)
	}
	apps, err := s.store.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		page.AppKeys[a.ID] = a.Key
	}
	return page, nil
}

// SandboxView is an app's sandbox world: its test clock and the sandbox
// users the app made in it.
type SandboxView struct {
	App   *bankgate.App
	Clock bankgate.SandboxClock
	Users []bankgate.SandboxUser
}

// OperatorSandbox returns the sandbox world of the app with the given key;
// NotImplemented for a production app.
func (s *Service) OperatorSandbox(ctx context.Context, appKey string) (*SandboxView, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	return s.sandboxView(ctx, app)
}

func (s *Service) sandboxView(ctx context.Context, app *bankgate.App) (*SandboxView, error) {
	if production(app) {
		return nil, errProductionApp()
	}
	users, err := s.appSandboxUsers(ctx, app)
	if err != nil {
		return nil, err
	}
	return &SandboxView{App: app, Clock: bankgate.SandboxClock{Now: s.AppNow(app), Offset: app.ClockOffset}, Users: users}, nil
}

// ResetSandbox starts the app's sandbox world again, empty (no payments,
// beneficiaries or sandbox users of its own), with its test clock back at
// the server's sandbox time. Existing connections stay linked and see the
// new world.
func (s *Service) ResetSandbox(ctx context.Context, by Actor, appKey string) (*SandboxView, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	if production(app) {
		return nil, errProductionApp()
	}
	app, err = s.store.ResetAppSandbox(ctx, app.ID, s.Now(), by.detail())
	if err != nil {
		return nil, err
	}
	s.forgetApp(app.ID)
	s.forgetAppGrants(app.ID)
	return s.sandboxView(ctx, app)
}
