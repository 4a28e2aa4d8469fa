package feed

import (
	"context"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
)

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
// cursor back after GapWait.
func TestFeedWaitsForGaps(t *testing.T) {
	ctx := context.Background()
	log := &fakeChanges{}
	var marked []string
	f := New(log, nil, func(s string) { marked = append(marked, s) })
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
	// Position 5 never shows: after GapWait the cursor passes it.
	f.settle(time.Now().Add(GapWait - time.Second))
	if f.cursor != 4 {
		t.Fatalf("cursor %d moved before the gap wait", f.cursor)
	}
	f.settle(time.Now().Add(GapWait + time.Second))
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

// TestRefreshAndCovers: Refresh polls at most every Interval of the
// reading it is given, and Covers trusts a state only while the last poll
// began less than the staleness ago and the state is younger than MaxAge.
func TestRefreshAndCovers(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := t0
	log := &fakeChanges{}
	var marked []string
	f := New(log, func() time.Time { return clock }, func(s string) { marked = append(marked, s) })
	const staleness = 500 * time.Millisecond
	if f.Covers(t0, staleness, t0) {
		t.Fatal("covers before any poll")
	}
	f.Refresh(ctx, t0)
	if !f.Covers(t0, staleness, t0.Add(staleness-time.Nanosecond)) {
		t.Fatal("does not cover within the staleness of its poll")
	}
	if f.Covers(t0, staleness, t0.Add(staleness)) {
		t.Fatal("covers a staleness after its last poll")
	}
	// Within Interval of the last poll, Refresh does not poll.
	log.chs = []bankgate.Change{{Pos: 1, Stream: "a"}}
	clock = t0.Add(Interval - time.Nanosecond)
	f.Refresh(ctx, clock)
	if len(marked) != 0 {
		t.Fatalf("polled within Interval: marked %v", marked)
	}
	clock = t0.Add(Interval)
	f.Refresh(ctx, clock)
	if len(marked) != 1 || marked[0] != "a" {
		t.Fatalf("did not poll after Interval: marked %v", marked)
	}
	if !f.Covers(t0, staleness, clock.Add(staleness-time.Nanosecond)) {
		t.Fatal("does not cover after the second poll")
	}
	// A state older than MaxAge is not covered, however recent the poll.
	clock = t0.Add(MaxAge)
	f.Refresh(ctx, clock)
	if f.Covers(t0, staleness, clock) {
		t.Fatal("covers a state MaxAge old")
	}
	if !f.Covers(clock.Add(-time.Second), staleness, clock) {
		t.Fatal("does not cover a state a second old")
	}
}
