package service_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
)

// grantsStore is a store whose grants are made up in memory: the many
// users a benchmark authenticates need no login and exchange each, and
// their uses are not written.
type grantsStore struct {
	bankgate.Store
	grants map[string]*bankgate.Grant // by token digest
}

func (g *grantsStore) Grant(ctx context.Context, digest []byte) (*bankgate.Grant, error) {
	if gr, ok := g.grants[string(digest)]; ok {
		// A store's read is the caller's, as if decoded from a row.
		c := *gr
		c.Token.Digest, c.Token.CodeDigest = slices.Clone(c.Token.Digest), slices.Clone(c.Token.CodeDigest)
		c.Connection.UserSecretDigest, c.Connection.Sealed = slices.Clone(c.Connection.UserSecretDigest), slices.Clone(c.Connection.Sealed)
		return &c, nil
	}
	return g.Store.Grant(ctx, digest)
}

func (g *grantsStore) TouchConnections(context.Context, []string, time.Time) error { return nil }

// BenchmarkCollectCachedGrants reports how long a full garbage collection
// takes with 100,000 users' grants cached as a busy server holds them:
// each user's request proven once in full and remembered under the MAC of
// its three credentials (see TestVerifiedRequests). It also reports the
// live heap objects each cached grant adds (the collector looks up the
// span of every pointer to one, a cache miss each at this many users)
// and their bytes.
func BenchmarkCollectCachedGrants(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	keys := keyring(b, k1)
	st := &grantsStore{Store: openStore(b), grants: make(map[string]*bankgate.Grant, n)}
	s := newService(st, keys)
	// One user connected for real gives the grant and session the others
	// copy, with their own IDs, secrets and sealed sessions.
	c := connect(b, s, nil, "user_good")
	model, err := st.Store.Grant(ctx, keys.Digest("access-token", c.token))
	if err != nil {
		b.Fatal(err)
	}
	session, err := keys.Open(c.userSecret, model.Connection.ID, model.Connection.Sealed)
	if err != nil {
		b.Fatal(err)
	}
	type user struct{ token, userSecret string }
	users := make([]user, n)
	for i := range users {
		u := user{secret.Random(secret.PrefixAccessToken, service.TokenBytes), secret.Random(secret.PrefixUserSecret, service.UserSecretBytes)}
		g := *model
		g.Token.ID, g.Token.UserID = uuid.NewString(), secret.Random("", 24)
		g.Connection.ID, g.Connection.UserID = uuid.NewString(), g.Token.UserID
		g.Token.ConnectionID = g.Connection.ID
		g.Token.CodeDigest = keys.Digest("access-code", secret.Random(secret.PrefixAccessCode, service.CodeBytes))
		g.Connection.UserSecretDigest = keys.Digest("user-secret", u.userSecret)
		if g.Connection.Sealed, err = keys.Seal(u.userSecret, g.Connection.ID, session); err != nil {
			b.Fatal(err)
		}
		g.Token.Digest = keys.Digest("access-token", u.token)
		st.grants[string(g.Token.Digest)] = &g
		users[i] = u
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, u := range users {
		// The first request is checked in full and remembered; the second
		// is found by its MAC.
		for range 2 {
			if _, err := s.Authenticate(ctx, u.token, c.app.Secret, u.userSecret); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.FlushTouches(ctx); err != nil {
		b.Fatal(err)
	}
	// The made-up users were counted in before and are still live: the
	// difference is what the cache holds.
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(users)
	users, st.grants = nil, nil
	runtime.GC() // so that the first timed one collects no more than the others
	for b.Loop() {
		runtime.GC()
	}
	// Reported after the loop: its start deletes what was reported before.
	b.ReportMetric(float64(int64(after.HeapObjects)-int64(before.HeapObjects))/n, "objects/grant")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "B/grant")
	runtime.KeepAlive(s)
}
