package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
)

// TestDiskFull: with the database at its size limit (max_page_count, which
// makes SQLite answer SQLITE_FULL as a full disk does), a write fails with
// an error matching bankgate.ErrWriteRefused and keeps nothing, reads go
// on, ProbeWrite fails; once there is room again the probe and the same
// write succeed, and nothing written before is lost.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "bankgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pages int
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The writer has one connection, so the limit holds for every write.
	if _, err := s.w.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.Itoa(pages+8)); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	body := make([]byte, 3000)
	var written int64
	var full error
	for seq := int64(1); seq < 100; seq++ {
		if err := s.AppendEvent(ctx, "s", seq, now, body); err != nil {
			full = err
			break
		}
		written = seq
	}
	if full == nil || !errors.Is(full, bankgate.ErrWriteRefused) {
		t.Fatalf("write at the size limit: %v, want ErrWriteRefused", full)
	}
	if written == 0 {
		t.Fatal("no write succeeded before the limit")
	}
	if err := s.ProbeWrite(ctx); !errors.Is(err, bankgate.ErrWriteRefused) {
		t.Fatalf("probe while full: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping while full: %v", err)
	}
	evs, err := s.Events(ctx, "s", 0)
	if err != nil || int64(len(evs)) != written {
		t.Fatalf("reads while full: %d events, %v; want %d", len(evs), err, written)
	}
	// Space returns.
	if _, err := s.w.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if err := s.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe after space returned: %v", err)
	}
	if err := s.AppendEvent(ctx, "s", written+1, now, body); err != nil {
		t.Fatalf("the refused write again: %v", err)
	}
	evs, err = s.Events(ctx, "s", 0)
	if err != nil || int64(len(evs)) != written+1 {
		t.Fatalf("after recovery: %d events, %v; want %d", len(evs), err, written+1)
	}
	// A read-only database (query_only answers SQLITE_READONLY, as a
	// read-only file does) is refused the same way, and recovers.
	if _, err := s.w.ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvent(ctx, "s", written+2, now, body); !errors.Is(err, bankgate.ErrWriteRefused) {
		t.Fatalf("write to a read-only database: %v", err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvent(ctx, "s", written+2, now, body); err != nil {
		t.Fatalf("write after read-only: %v", err)
	}
	// The probe leaves nothing behind.
	if probe, err := s.Events(ctx, probeStream, -1); err != nil || len(probe) != 0 {
		t.Fatalf("probe rows left: %d, %v", len(probe), err)
	}
}
