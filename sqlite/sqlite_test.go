package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
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

// TestTokenIndexes checks the indexes every exchange writes: the tokens
// table keeps none on its code's digest (the code-reuse revocation finds
// the token by its ID, which the code names, through the unique index on
// tokens.id, as the query plan shows).
func TestTokenIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bankgate.db")
	sqlitetest.WriteMigrated(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT il.name FROM pragma_index_list('tokens') il, pragma_index_info(il.name) ii WHERE ii.name = 'code_digest'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		t.Errorf("tokens has index %s on code_digest", name)
	}
	rows.Close()
	var id, parent, notused int
	var detail string
	err = db.QueryRow(`EXPLAIN QUERY PLAN UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND code_digest = ? AND revoked_at = 0 RETURNING id`,
		1, "r", "tok", []byte("d")).Scan(&id, &parent, &notused, &detail)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "USING INDEX") || !strings.Contains(detail, "(id=?)") {
		t.Errorf("the revocation's plan is %q, want a search of the tokens.id index", detail)
	}
}
