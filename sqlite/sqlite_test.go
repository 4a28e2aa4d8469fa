package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/sqlite"
	"github.com/bankgate/bankgate/storetest"
)

// migrated is an empty store with every migration applied, made once:
// each conformance case starts from a copy, which costs a file write
// rather than the schema's 20 migrations and their fsyncs. (Opening a
// new file, migrations and all, is what TestReopenKeepsData and every
// other test here do.)
var migrated = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "bankgate-sqlite-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bankgate.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		return nil, err
	}
	return os.ReadFile(path)
})

func TestConformance(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) bankgate.Store {
		b, err := migrated()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "bankgate.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bankgate.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.MustCreateApp(t, s, "keep")
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AppByKey(ctx, a.Key); err != nil {
		t.Fatalf("app lost on reopen: %v", err)
	}
}
