package service

import (
	"context"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/feed"
)

// The caches of grants and apps are trusted for CacheTTL after a read;
// past that, while the store's change feed (see package feed) covers them
// and has marked no change to their connection or app, for up to
// feed.MaxAge. Every store method that revokes a token, delinks a
// connection or changes an app writes a change marker with its audit
// event (bankgate.ChangeMarker), so another instance's delink or secret
// rotation is still enforced here within CacheTTL, while a busy server
// with many users does not read the store for every request once entries
// are older than CacheTTL.

// maxChangeMarks bounds the remembered marks; past it, everything cached
// counts as changed (safe, and a refill costs one read per entry).
const maxChangeMarks = 100_000

// changes remembers when (the service clock) a change was marked for a
// connection or an app. The caller holds s.mu.
type changes struct {
	conn map[string]time.Time
	app  map[string]time.Time
	all  time.Time // everything changed at or after this
}

// mark records the change a feed stream announces.
func (s *Service) mark(stream string) {
	rest, ok := strings.CutPrefix(stream, bankgate.ChangedPrefix)
	if !ok {
		return
	}
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.changed
	if len(c.conn)+len(c.app) >= maxChangeMarks {
		clear(c.conn)
		clear(c.app)
		c.all = now
	}
	switch kind, id, _ := cut3(rest); kind {
	case "conn":
		c.conn[id] = now
	case "app":
		c.app[id] = now
	default:
		c.all = now
	}
}

// cut3 splits "kind/id/rest" into kind and id.
func cut3(s string) (kind, id, rest string) {
	kind, s, _ = strings.Cut(s, "/")
	id, rest, _ = strings.Cut(s, "/")
	return kind, id, rest
}

// usable reports whether a cache entry (of a grant, for connID and appID,
// or of an app, connID "") read at fetched may be used at now. Within
// CacheTTL it takes no lock, as the hot path always did; past it, it
// polls the feed first (outside s.mu: a poll marks changes under it) and
// asks fresh.
func (s *Service) usable(ctx context.Context, fetched, now time.Time, connID, appID string) bool {
	if age := now.Sub(fetched); age >= 0 && age < s.cacheTTL {
		return true
	}
	if s.feed != nil {
		s.feed.Refresh(ctx, now)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.fresh(fetched, now, connID, appID)
}

// fresh reports whether a cache entry read at fetched (for the given
// connection, "" for none, and app) may still be used at now. The caller
// holds s.mu for reading.
func (s *Service) fresh(fetched, now time.Time, connID, appID string) bool {
	age := now.Sub(fetched)
	if age < 0 {
		return false
	}
	if age < s.cacheTTL {
		return true
	}
	if s.feed == nil || age >= feed.MaxAge || !s.feed.Covers(fetched, s.cacheTTL, now) {
		return false
	}
	c := &s.changed
	if !fetched.After(c.all) {
		return false
	}
	if t, ok := c.conn[connID]; ok && connID != "" && !fetched.After(t) {
		return false
	}
	if t, ok := c.app[appID]; ok && !fetched.After(t) {
		return false
	}
	return true
}
