package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bankgate/bankgate/postgres"
	"github.com/bankgate/bankgate/sqlite"
)

// cli runs a bankgate command in-process with an empty environment.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb syncBuffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return out.String() + errb.String(), err
}

func TestStoreGuardRefusesNewStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wrong-dir")
	db := filepath.Join(dir, "bankgate.db")
	for _, args := range [][]string{
		{"apps", "list"},
		{"apps", "create", "--name", "x"},
		{"audit", "--app-key", "k"},
		{"keys", "status"},
		{"keys", "rotate"},
		{"sandbox", "users", "add", "--file", "f.json"},
		{"migrate", "status"},
	} {
		out, err := cli(t, append(args, "--data-dir", dir)...)
		if err == nil {
			t.Fatalf("%v in a directory without a store: no error\n%s", args, out)
		}
		if !strings.Contains(err.Error(), "no bankgate database at "+db) || (args[0] != "migrate" && !strings.Contains(err.Error(), "--create")) {
			t.Errorf("%v: error %q does not name %s and --create", args, err, db)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%v made %s (or it cannot be checked: %v)", args, dir, err)
		}
	}
	// --create makes it; after that no flag is needed.
	if out, err := cli(t, "apps", "create", "--name", "first", "--create", "--data-dir", dir); err != nil {
		t.Fatalf("apps create --create: %v\n%s", err, out)
	}
	for _, p := range []string{db, filepath.Join(dir, "server.key")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after --create: %v", err)
		}
	}
	out, err := cli(t, "apps", "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "first") {
		t.Errorf("apps list after --create: %v\n%s", err, out)
	}
	// serve still makes a new store, as the README's first command does.
	ts := startServer(t, serverOpts{dataDir: filepath.Join(t.TempDir(), "new")})
	if _, err := os.Stat(filepath.Join(ts.DataDir, "bankgate.db")); err != nil {
		t.Errorf("serve did not create its store: %v", err)
	}
}

// bumpSchema records a migration newer than this build knows, as a newer
// bankgate would.
func bumpSchema(t *testing.T, db string, version int) {
	t.Helper()
	h := openSQL(t, db)
	defer h.Close()
	if _, err := h.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 1764860400000000000)`, version); err != nil {
		t.Fatal(err)
	}
}

func knownSQLite(t *testing.T) int {
	t.Helper()
	ms, err := sqlite.Known()
	if err != nil || len(ms) == 0 {
		t.Fatalf("sqlite.Known() = %v, %v", ms, err)
	}
	return ms[len(ms)-1].Version
}

func TestMigrateStatusSQLite(t *testing.T) {
	ts := startServer(t, serverOpts{})
	known := knownSQLite(t)
	out, err := cli(t, "migrate", "status", "--data-dir", ts.DataDir)
	if err != nil {
		t.Fatalf("migrate status: %v\n%s", err, out)
	}
	if !strings.Contains(out, "0001_init.sql") || strings.Contains(out, "pending") || !strings.Contains(out, "up to date") {
		t.Errorf("migrate status on a fresh store:\n%s", out)
	}
	out, err = cli(t, "migrate", "status", "--json", "--data-dir", ts.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	var st schemaStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if st.Store != "sqlite" || st.Known != known || st.Applied != known || st.Pending != 0 || st.State != "up-to-date" || len(st.Migrations) != known {
		t.Errorf("migrate status --json = %+v", st)
	}
	// It runs beside the server, and changes nothing.
	ts.Stop()
	bumpSchema(t, filepath.Join(ts.DataDir, "bankgate.db"), known+1)
	out, err = cli(t, "migrate", "status", "--data-dir", ts.DataDir)
	if err == nil || !strings.Contains(out, "(unknown to this bankgate)") || !strings.Contains(out, "NEWER") {
		t.Errorf("migrate status on a newer schema: %v\n%s", err, out)
	}
}

func TestSchemaNewerRefusedSQLite(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ts.Stop()
	db := filepath.Join(ts.DataDir, "bankgate.db")
	known := knownSQLite(t)
	bumpSchema(t, db, known+1)
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	want := "the SQLite database " + db + " has schema version " + itoa(known+1) + ", newer than this bankgate knows (" + itoa(known) + ")"
	var stdout, stderr syncBuffer
	err = cmdServe(context.Background(), []string{"--addr", "127.0.0.1:0", "--data-dir", ts.DataDir}, func(string) string { return "" }, &stdout, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("serve on a newer schema: %v, want %q", err, want)
	}
	for _, args := range [][]string{{"apps", "list"}, {"keys", "status"}} {
		if _, err := cli(t, append(args, "--data-dir", ts.DataDir)...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v on a newer schema: %v", args, err)
		}
	}
	after, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("the refusal changed the database file")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestSchemaNewerRefusedPostgres(t *testing.T) {
	dbURL := pgSchemaURL(t)
	ctx := context.Background()
	out, err := cli(t, "migrate", "status", "--json", "--database-url", dbURL)
	if err != nil {
		t.Fatalf("migrate status on an empty database: %v\n%s", err, out)
	}
	var st schemaStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.State != "empty" || st.Applied != 0 || st.Pending != st.Known || st.Known == 0 {
		t.Fatalf("migrate status on an empty database = %+v (%v)", st, err)
	}
	if out, err := cli(t, "migrate", "--database-url", dbURL); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err = cli(t, "migrate", "status", "--database-url", dbURL)
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate status after migrate: %v\n%s", err, out)
	}
	s, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 1)`, st.Known+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := "the PostgreSQL database has schema version " + itoa(st.Known+1) + ", newer than this bankgate knows (" + itoa(st.Known) + ")"
	var stdout, stderr syncBuffer
	err = cmdServe(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database-url", dbURL}, func(string) string { return "" }, &stdout, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("serve on a newer schema: %v, want %q", err, want)
	}
	if _, err := cli(t, "migrate", "--database-url", dbURL); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("migrate on a newer schema: %v", err)
	}
	if out, err := cli(t, "migrate", "status", "--database-url", dbURL); err == nil || !strings.Contains(out, "NEWER") {
		t.Errorf("migrate status on a newer schema: %v\n%s", err, out)
	}
}
