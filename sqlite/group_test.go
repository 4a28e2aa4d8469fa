package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "bankgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// holdWriter runs a write that blocks until the returned release is
// called, so that writes started meanwhile queue up and commit as one
// group.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, hold := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.tx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-hold
			return nil
		})
	}()
	<-started
	return func() {
		close(hold)
		if err := <-done; err != nil {
			t.Errorf("holding write: %v", err)
		}
	}
}

// waitPending waits until n writes are queued.
func waitPending(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		k := len(s.pending)
		s.mu.Unlock()
		if k >= n {
			return
		}
	}
	t.Fatalf("fewer than %d writes queued", n)
}

// TestGroupCommit queues writes behind a held writer so that they commit
// together, and checks that each succeeds or fails on its own: a failed
// write leaves nothing behind, a successful one is kept, and later writes
// of a group see earlier ones (a duplicate key fails).
func TestGroupCommit(t *testing.T) {
	s := openTest(t)
	var sizes []int
	var mu sync.Mutex
	testHookGroup = func(n int) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() }
	defer func() { testHookGroup = nil }()

	const n = 60
	release := holdWriter(t, s)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := int64(i)
			if i%5 == 4 {
				seq = int64(i - 1) // the same event as the write before: a conflict
			}
			errs[i] = s.tx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO events (stream, seq, at, body) VALUES ('g', ?, 0, ?)`, seq, fmt.Sprint(i)); err != nil {
					if isUnique(err) {
						return bankgate.Errorf(bankgate.Conflict, "duplicate")
					}
					return err
				}
				// A second row, so that a failure has something to undo.
				if _, err := tx.ExecContext(ctx, `INSERT INTO events (stream, seq, at, body) VALUES ('h', ?, 0, ?)`, i, fmt.Sprint(i)); err != nil {
					return err
				}
				if i%3 == 0 {
					return errors.New("fail on purpose")
				}
				return nil
			})
		}()
		waitPending(t, s, i+1) // arrival order = i
	}
	release()
	wg.Wait()

	want := map[string]bool{} // rows that must exist
	for i, err := range errs {
		dup := i%5 == 4 && (i-1)%3 != 0 // its twin committed first
		switch {
		case i%3 == 0 && !dup:
			if err == nil || err.Error() != "fail on purpose" {
				t.Errorf("write %d: %v, want its own error", i, err)
			}
		case dup:
			if !bankgate.IsCode(err, bankgate.Conflict) {
				t.Errorf("write %d: %v, want Conflict", i, err)
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
			want[fmt.Sprint(i)] = true
		}
	}
	rows, err := s.r.Query(`SELECT stream, body FROM events WHERE stream IN ('g', 'h')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var stream, body string
		if err := rows.Scan(&stream, &body); err != nil {
			t.Fatal(err)
		}
		got[body]++
	}
	for b, k := range got {
		if !want[b] || k != 2 {
			t.Errorf("write %s left %d rows, want %d", b, k, map[bool]int{true: 2}[want[b]])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d writes kept, want %d", len(got), len(want))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) < 2 || sizes[1] != n {
		t.Errorf("group sizes %v, want the %d queued writes in one group after the held one", sizes, n)
	}
}

// TestGroupCommitPanic: a panic in one write of a group reaches its own
// caller, the others commit, and the writer is free afterwards.
func TestGroupCommitPanic(t *testing.T) {
	s := openTest(t)
	release := holdWriter(t, s)
	var wg sync.WaitGroup
	var panicked atomic.Value
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					panicked.Store(fmt.Sprintf("%d %v", i, v))
				}
			}()
			if i == 1 {
				s.tx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO events (stream, seq, at, body) VALUES ('p', 1, 0, 'x')`); err != nil {
						return err
					}
					panic("boom")
				})
				return
			}
			errs[i] = s.AppendEvent(context.Background(), "p", int64(i), time.Unix(0, 0), []byte("x"))
		}()
		waitPending(t, s, i+1)
	}
	release()
	wg.Wait()
	if v, _ := panicked.Load().(string); v != "1 boom" {
		t.Errorf("panic seen as %q, want %q", v, "1 boom")
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if err := s.AppendEvent(context.Background(), "p", 9, time.Unix(0, 0), []byte("x")); err != nil {
		t.Fatalf("write after the panic: %v", err)
	}
	ev, err := s.Events(context.Background(), "p", -1)
	if err != nil || len(ev) != 3 || ev[1].Seq != 2 {
		t.Fatalf("events = %+v, %v; want 0, 2 and 9", ev, err)
	}
}
