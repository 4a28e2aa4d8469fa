package sandbox

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bankgate/bankgate"
)

// changeLog is the store's change feed (bankgate.Store.Changes).
type changeLog interface {
	Changes(ctx context.Context, after int64, limit int) ([]bankgate.Change, error)
	LastChange(ctx context.Context) (int64, error)
}

// The change feed's timing.
const (
	// feedInterval is how old the last poll may be before a read polls
	// again.
	feedInterval = 200 * time.Millisecond
	// feedGapWait is how long a position below one already seen may stay
	// missing before the feed stops waiting for it: longer than a store
	// transaction may take (PostgreSQL's write timeout is 10 s), so a
	// transaction that took the position has committed or rolled back.
	feedGapWait = 12 * time.Second
	// feedBatch is how many changes one query reads.
	feedBatch = 5000
	// feedWindow is how far behind the last position the feed starts, so
	// that transactions in flight when it starts are still seen.
	feedWindow = 5000
	// feedMaxAge bounds how long the feed alone keeps a state fresh; then
	// the state catches up with the store anyway.
	feedMaxAge = 5 * time.Minute
)

// feed follows the store's change feed, so that a user's state in memory
// stays fresh for reads until another writer (another bankgate instance,
// a CLI command) changes that user, not merely for ReadStaleness. With
// many active users that keeps reads off the store: one query per
// feedInterval per process instead of three per read.
//
// Positions at or below cursor are settled; positions above it that were
// seen are in seen, with when they were first seen. A missing position
// (a gap) is waited for until a greater position has been visible for
// feedGapWait.
type feed struct {
	log  changeLog
	mark func(stream string)

	mu      sync.Mutex // held by the one poll in progress
	started bool
	cursor  int64
	seen    map[int64]time.Time

	// lastStart is when (time.Now, UnixNano) the last poll that succeeded
	// began; every change committed before then has been marked.
	lastStart atomic.Int64
}

func newFeed(log changeLog, mark func(stream string)) *feed {
	return &feed{log: log, mark: mark, seen: map[int64]time.Time{}}
}

// refresh polls the feed if the last poll began more than feedInterval
// ago and no other poll is in progress. Errors leave the feed as it was;
// it then stops covering reads once its last poll is too old.
func (f *feed) refresh(ctx context.Context) {
	if time.Since(time.Unix(0, f.lastStart.Load())) < feedInterval || !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	_ = f.poll(context.WithoutCancel(ctx))
}

// covers reports whether a state caught up with the store at syncedAt
// (time.Now) and not marked since may be read as it is: the feed's last
// poll began less than staleness ago, so only changes committed in the
// last staleness can be unknown, and the state is not older than
// feedMaxAge.
func (f *feed) covers(syncedAt time.Time, staleness time.Duration) bool {
	last := time.Unix(0, f.lastStart.Load())
	return f.lastStart.Load() != 0 && time.Since(last) < staleness && time.Since(syncedAt) < feedMaxAge
}

// poll reads the changes after the cursor and marks the streams of those
// it had not seen. The caller holds f.mu.
func (f *feed) poll(ctx context.Context) error {
	start := time.Now()
	if !f.started {
		last, err := f.log.LastChange(ctx)
		if err != nil {
			return err
		}
		f.cursor, f.started = max(0, last-feedWindow), true
	}
	after := f.cursor
	for {
		chs, err := f.log.Changes(ctx, after, feedBatch)
		if err != nil {
			return err
		}
		for _, c := range chs {
			if _, ok := f.seen[c.Pos]; !ok {
				f.seen[c.Pos] = start
				f.mark(c.Stream)
			}
		}
		if len(chs) < feedBatch {
			break
		}
		after = chs[len(chs)-1].Pos
	}
	f.settle(start)
	f.lastStart.Store(start.UnixNano())
	return nil
}

// settle moves the cursor over the positions seen in a row, and over
// gaps below a position seen at least feedGapWait ago.
func (f *feed) settle(now time.Time) {
	var old int64 // the greatest position seen feedGapWait ago or more
	for p, at := range f.seen {
		if now.Sub(at) >= feedGapWait && p > old {
			old = p
		}
	}
	for f.cursor < old {
		f.cursor++
		delete(f.seen, f.cursor)
	}
	for {
		if _, ok := f.seen[f.cursor+1]; !ok {
			return
		}
		f.cursor++
		delete(f.seen, f.cursor)
	}
}

// markStream makes the state a changed stream belongs to catch up before
// its next read: a user's stream marks that user in that app's world; a
// fixture (template or an app's) marks every state, as AddFixture does.
func (b *Bank) markStream(stream string) {
	switch {
	case strings.HasPrefix(stream, "sandbox/"):
		rest := stream[len("sandbox/"):]
		app, rest, ok1 := strings.Cut(rest, "/")
		bankID, user, ok2 := strings.Cut(rest, "/")
		if !ok1 || !ok2 {
			return
		}
		if st := b.cache.peek(cacheKey{app, bankID, user}); st != nil {
			st.dirty.Store(true)
		}
	case strings.HasPrefix(stream, "sandbox-fixture/"):
		b.fixGen.Add(1)
	}
}
