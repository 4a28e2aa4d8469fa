// Package feed follows a store's change feed (bankgate.Store.Changes):
// it polls the positions appended since the last poll, at most every
// Interval, and reports each changed stream once, waiting for positions a
// late-committing transaction may still fill. The sandbox uses it to keep
// users' states, and the service to keep grants and apps, in memory for
// as long as nobody changes them.
package feed

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bankgate/bankgate"
)

// Log is the store's change feed (bankgate.Store.Changes).
type Log interface {
	Changes(ctx context.Context, after int64, limit int) ([]bankgate.Change, error)
	LastChange(ctx context.Context) (int64, error)
}

// The change feed's timing.
const (
	// Interval is how old the last poll may be before a read polls
	// again.
	Interval = 200 * time.Millisecond
	// GapWait is how long a position below one already seen may stay
	// missing before the feed stops waiting for it: longer than a store
	// transaction may take (PostgreSQL's write timeout is 10 s), so a
	// transaction that took the position has committed or rolled back.
	GapWait = 12 * time.Second
	// batch is how many changes one query reads.
	batch = 5000
	// window is how far behind the last position the feed starts, so
	// that transactions in flight when it starts are still seen.
	window = 5000
	// MaxAge bounds how long the feed alone keeps a state fresh; then
	// the state catches up with the store anyway.
	MaxAge = 5 * time.Minute
)

// Feed follows a store's change feed (bankgate.Store.Changes), so that
// what a process caches stays usable until another writer (another
// bankgate instance, a CLI command) changes it, not merely for a fixed
// staleness: one query per Interval per process instead of one per read.
//
// Positions at or below cursor are settled; positions above it that were
// seen are in seen, with when they were first seen. A missing position
// (a gap) is waited for until a greater position has been visible for
// GapWait.
type Feed struct {
	log  Log
	now  func() time.Time
	mark func(stream string)

	mu      sync.Mutex // held by the one poll in progress
	started bool
	cursor  int64
	seen    map[int64]time.Time

	// lastStart is when (the Feed's clock, UnixNano) the last poll that succeeded
	// began; every change committed before then has been marked.
	lastStart atomic.Int64
}

// New returns a Feed over log that calls mark for each stream changed
// (once per change), timing its polls on now (time.Now when nil).
func New(log Log, now func() time.Time, mark func(stream string)) *Feed {
	if now == nil {
		now = time.Now
	}
	return &Feed{log: log, now: now, mark: mark, seen: map[int64]time.Time{}}
}

// Refresh polls the feed if, at now (a reading of the Feed's clock,
// which a read takes once and passes to Refresh and Covers both), the
// last poll began more than Interval ago and no other poll is in
// progress. Errors leave the feed as it was; it then stops covering reads
// once its last poll is too old.
func (f *Feed) Refresh(ctx context.Context, now time.Time) {
	if now.UnixNano()-f.lastStart.Load() < int64(Interval) || !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	_ = f.poll(context.WithoutCancel(ctx))
}

// Covers reports whether a state caught up with the store at syncedAt
// (on the Feed's clock) and not marked since may be read as it is at now
// (on the Feed's clock too): the feed's last poll began less than
// staleness ago, so only changes committed in the last staleness can be
// unknown, and the state is not older than MaxAge.
func (f *Feed) Covers(syncedAt time.Time, staleness time.Duration, now time.Time) bool {
	last := f.lastStart.Load()
	return last != 0 && now.UnixNano()-last < int64(staleness) && now.Sub(syncedAt) < MaxAge
}

// poll reads the changes after the cursor and marks the streams of those
// it had not seen. The caller holds f.mu.
func (f *Feed) poll(ctx context.Context) error {
	start := f.now()
	if !f.started {
		last, err := f.log.LastChange(ctx)
		if err != nil {
			return err
		}
		f.cursor, f.started = max(0, last-window), true
	}
	after := f.cursor
	for {
		chs, err := f.log.Changes(ctx, after, batch)
		if err != nil {
			return err
		}
		for _, c := range chs {
			if _, ok := f.seen[c.Pos]; !ok {
				f.seen[c.Pos] = start
				f.mark(c.Stream)
			}
		}
		if len(chs) < batch {
			break
		}
		after = chs[len(chs)-1].Pos
	}
	f.settle(start)
	f.lastStart.Store(start.UnixNano())
	return nil
}

// settle moves the cursor over the positions seen in a row, and over
// gaps below a position seen at least GapWait ago.
func (f *Feed) settle(now time.Time) {
	var old int64 // the greatest position seen GapWait ago or more
	for p, at := range f.seen {
		if now.Sub(at) >= GapWait && p > old {
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
