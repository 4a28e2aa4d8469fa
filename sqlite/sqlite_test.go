package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/sqlite"
	"github.com/bankgate/bankgate/sqlite/sqlitetest"
	"github.com/bankgate/bankgate/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) bankgate.Store {
		// Each case starts from a copy of a migrated store (opening a
		// new file, migrations and all, is what the other tests here do).
		path := filepath.Join(t.TempDir(), "bankgate.db")
		sqlitetest.WriteMigrated(t, path)
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
