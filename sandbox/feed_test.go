package sandbox

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/sqlite"
)

// countingStore counts the store's stream reads and feed reads.
type countingStore struct {
	*sqlite.Store
	events, changes atomic.Int64
}

func (c *countingStore) Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error) {
	c.events.Add(1)
	return c.Store.Events(ctx, stream, after)
}

func (c *countingStore) Changes(ctx context.Context, after int64, limit int) ([]bankgate.Change, error) {
	c.changes.Add(1)
	return c.Store.Changes(ctx, after, limit)
}

// TestChangeFeedKeepsReadsOffTheStore: with the change feed, states older
// than the read staleness are still read from memory while nobody else
// wrote to them, and a write through another instance is seen within the
// staleness of real time.
func TestChangeFeedKeepsReadsOffTheStore(t *testing.T) {
	t.Parallel() // CPU-bound and independent: uses both cores
	ctx := context.Background()
	store := &countingStore{Store: mustSQLite(t)}
	clock := &testClock{t: testNow}
	b1 := New(Options{Now: clock.Now, Store: store, ChangeFeed: true})
	b2 := New(Options{Now: clock.Now, Store: store.Store}) // another instance
	if b1.feed == nil {
		t.Fatal("no feed on a store that has one")
	}
	const users = 40
	sess := make([]bank.Session, users)
	ids := make([]string, users)
	for i := range sess {
		sess[i] = MustLogin(t, b1, enbd, "feed_user_"+strconv.Itoa(i))
		ids[i] = mustAccounts(t, b1, sess[i])[0].ID
	}
	// Far past the read staleness on the sandbox clock: without the feed
	// every read would catch up with the store.
	clock.Advance(time.Hour)
	events, changes := store.events.Load(), store.changes.Load()
	for range 3 {
		for i := range sess {
			mustBalance(t, b1, sess[i], ids[i])
		}
	}
	if n := store.events.Load() - events; n != 0 {
		t.Fatalf("%d stream reads for %d reads of unchanged users", n, 3*users)
	}
	if n := store.changes.Load() - changes; n > 3 {
		t.Fatalf("%d feed reads for %d reads, want at most a few", n, 3*users)
	}

	// Another instance pulls money into user 7; b1 sees it well within
	// the staleness of real time.
	before := mustBalance(t, b1, sess[7], ids[7])
	other := sess[7]
	if _, err := b2.CreateACHPull(ctx, &bank.Call{Session: other, OperationID: "feed-pull"}, &bankgate.ACHPullRequest{SenderID: ids[7], Amount: 4200}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for mustBalance(t, b1, sess[7], ids[7]) != before+4200 {
		if time.Since(start) > 2*DefaultReadStaleness {
			t.Fatalf("another instance's ACH pull not seen after %v", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The others are still read from memory.
	events = store.events.Load()
	for i := range sess {
		if i != 7 {
			mustBalance(t, b1, sess[i], ids[i])
		}
	}
	if n := store.events.Load() - events; n != 0 {
		t.Fatalf("%d stream reads for unchanged users after another user changed", n)
	}
}

// TestMarkStream: a user's stream marks that user in that app's world
// only; a fixture marks every state.
func TestMarkStream(t *testing.T) {
	b, _ := newTestBank(t)
	bi := bankByID[enbd]
	a := b.cache.get("app-a", bi, "u/with/slashes")
	o := b.cache.get("app-b", bi, "u/with/slashes")
	b.markStream(userStream("app-a", enbd, "u/with/slashes"))
	if !a.dirty.Load() || o.dirty.Load() {
		t.Fatalf("dirty: app-a %v, app-b %v", a.dirty.Load(), o.dirty.Load())
	}
	gen := b.fixGen.Load()
	b.markStream(appFixtureStream("app-b", enbd, "x"))
	if b.fixGen.Load() == gen {
		t.Fatal("a fixture change does not invalidate states")
	}
	b.markStream("sandbox-iban/app-a/AE00")
	b.markStream("sandbox/garbage")
}
