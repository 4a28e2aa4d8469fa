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

// fakeChanges is a change feed whose visible changes a test sets.
type fakeChanges struct{ chs []bankgate.Change }

func (f *fakeChanges) Changes(ctx context.Context, after int64, limit int) ([]bankgate.Change, error) {
	var out []bankgate.Change
	for _, c := range f.chs {
		if c.Pos > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeChanges) LastChange(ctx context.Context) (int64, error) {
	var n int64
	for _, c := range f.chs {
		n = max(n, c.Pos)
	}
	return n, nil
}

// TestFeedWaitsForGaps: a position missing below one already seen (a
// PostgreSQL transaction that committed late) is still marked when it
// shows up, and a gap that never fills (a rollback) stops holding the
// cursor back after feedGapWait.
func TestFeedWaitsForGaps(t *testing.T) {
	ctx := context.Background()
	log := &fakeChanges{}
	var marked []string
	f := newFeed(log, func(s string) { marked = append(marked, s) })
	if err := f.poll(ctx); err != nil {
		t.Fatal(err)
	}
	log.chs = []bankgate.Change{{Pos: 1, Stream: "a"}, {Pos: 2, Stream: "b"}, {Pos: 4, Stream: "d"}, {Pos: 6, Stream: "f"}}
	if err := f.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if f.cursor != 2 || len(marked) != 4 {
		t.Fatalf("cursor %d, marked %v", f.cursor, marked)
	}
	// Position 3 commits late: marked, and the cursor moves to 4.
	log.chs = append(log.chs, bankgate.Change{Pos: 3, Stream: "c"})
	if err := f.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if f.cursor != 4 || marked[len(marked)-1] != "c" || len(marked) != 5 {
		t.Fatalf("late commit: cursor %d, marked %v", f.cursor, marked)
	}
	// Position 5 never shows: after feedGapWait the cursor passes it.
	f.settle(time.Now().Add(feedGapWait - time.Second))
	if f.cursor != 4 {
		t.Fatalf("cursor %d moved before the gap wait", f.cursor)
	}
	f.settle(time.Now().Add(feedGapWait + time.Second))
	if f.cursor != 6 || len(f.seen) != 0 {
		t.Fatalf("cursor %d, seen %v after the gap wait", f.cursor, f.seen)
	}
	// Nothing is marked twice.
	if err := f.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if len(marked) != 5 {
		t.Fatalf("marked again: %v", marked)
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
