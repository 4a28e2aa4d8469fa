// Apps: creation, secrets, settings, and the app caches by ID, secret and
// key.

package service

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
)

// AppSettings are the registrations `apps set` changes. Nil slices leave a
// setting as it is; Clear empties every list first.
type AppSettings struct {
	AllowedOrigins []string
	RedirectURIs   []string
	BundleIDs      []string
	ServerURL      *string
	// Forwarding, when set, allows or refuses SDK-forwarded calls.
	Forwarding *bool
	Clear      bool
}

// checkURL validates an absolute http(s) URL without user info or fragment.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return bankgate.Errorf(bankgate.ParameterError, "%q is not an absolute http(s) URL without a fragment", s)
	}
	return nil
}

// UpdateAppSettings changes the registrations of the app with the given
// key and returns the app as stored.
func (s *Service) UpdateAppSettings(ctx context.Context, appKey string, set AppSettings) (*bankgate.App, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	var origins []string
	for _, o := range set.AllowedOrigins {
		n, err := bankgate.NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		origins = append(origins, n)
	}
	for _, u := range set.RedirectURIs {
		if err := checkURL(u); err != nil {
			return nil, err
		}
	}
	if set.ServerURL != nil && *set.ServerURL != "" {
		if err := checkURL(*set.ServerURL); err != nil {
			return nil, err
		}
	}
	add := func(list, more []string) []string {
		for _, m := range more {
			if m = strings.TrimSpace(m); m != "" && !slices.Contains(list, m) {
				list = append(list, m)
			}
		}
		return list
	}
	out, err := s.store.UpdateApp(ctx, app.ID, s.Now(), func(a *bankgate.App) error {
		if set.Clear {
			a.AllowedOrigins, a.RedirectURIs, a.BundleIDs = nil, nil, nil
		}
		a.AllowedOrigins = add(a.AllowedOrigins, origins)
		a.RedirectURIs = add(a.RedirectURIs, set.RedirectURIs)
		a.BundleIDs = add(a.BundleIDs, set.BundleIDs)
		if set.ServerURL != nil {
			a.ServerURL = *set.ServerURL
		}
		if set.Forwarding != nil {
			a.Forwarding = *set.Forwarding
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.forgetApp(app.ID)
	return out, nil
}

type appEntry struct {
	app     bankgate.App
	fetched time.Time
}

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
		s.log.WarnContext(ctx, "re-digest app secret under the primary key", "appID", appID, "err", err)
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
