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
