package service

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/bankgate/bankgate"
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
