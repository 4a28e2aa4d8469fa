package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loginLoop logs users in and exchanges their codes until stop is closed,
// counting the tokens issued. It runs outside the test goroutine, so it
// reports nothing but the count.
func loginLoop(base, appKey, appSecret string, stop <-chan struct{}, issued *atomic.Int64) {
	post := func(path string, body map[string]any) map[string]any {
		b, _ := json.Marshal(body)
		res, err := http.Post(base+path, "application/json", bytes.NewReader(b))
		if err != nil {
			return nil
		}
		defer res.Body.Close()
		var v map[string]any
		json.NewDecoder(res.Body).Decode(&v)
		return v
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		l := post("/v2/connect/login", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": fmt.Sprintf("load_%d", i), "password": "pass_good"})
		code, _ := l["accessCode"].(string)
		conn, _ := l["connectionID"].(string)
		x := post("/v2/auth/ExchangeToken", map[string]any{"appSecret": appSecret, "accessCode": code, "connectionID": conn})
		if tok, _ := x["accessToken"].(string); tok != "" {
			issued.Add(1)
		}
	}
}

func TestBackupRestoreDuringWrites(t *testing.T) {
	// Without rate limits: the clients log in hundreds of times a minute
	// from one address.
	ts := startServer(t, serverOpts{args: []string{"--rate-limits", "off"}})
	appKey, appSecret := ts.newApp("backup")
	before := ts.login(appKey, "user_good")
	ts.exchange(appSecret, before)

	// Back up while two clients keep issuing tokens.
	stop := make(chan struct{})
	var issued atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); loginLoop(ts.URL, appKey, appSecret, stop, &issued) }()
	}
	waitFor(t, &issued, 20)
	file := filepath.Join(t.TempDir(), "bankgate-backup.db")
	started := issued.Load()
	out, err := cli(t, "backup", "--to", file, "--data-dir", ts.DataDir)
	ended := issued.Load()
	waitFor(t, &issued, ended+10)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if !strings.Contains(out, "backed up "+filepath.Join(ts.DataDir, "bankgate.db")+" to "+file) || !strings.Contains(out, "server.key") {
		t.Errorf("backup output:\n%s", out)
	}
	t.Logf("backup while %d tokens were issued around it: %s", issued.Load(), strings.SplitN(out, "\n", 2)[0])
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %04o, want 0600", fi.Mode().Perm())
	}
	after := ts.login(appKey, "user_after_backup")
	ts.exchange(appSecret, after)
	if out, err := cli(t, "backup", "--to", file, "--data-dir", ts.DataDir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v\n%s", err, out)
	}

	// Restore into a new data dir, without the key first.
	dir := filepath.Join(t.TempDir(), "restored")
	out, err = cli(t, "restore", "--from", file, "--data-dir", dir)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if !strings.Contains(out, "no server key at "+filepath.Join(dir, "server.key")) {
		t.Errorf("restore without a key file says:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "server.key")); !os.IsNotExist(err) {
		t.Errorf("restore made a server key: %v", err)
	}
	key, err := os.ReadFile(filepath.Join(ts.DataDir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	// A second restore is refused while the store exists; --force keeps
	// the old one and checks the key.
	if out, err := cli(t, "restore", "--from", file, "--data-dir", dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bankgate.db")+" already exists") {
		t.Errorf("restore over a store: %v\n%s", err, out)
	}
	out, err = cli(t, "restore", "--from", file, "--data-dir", dir, "--force")
	if err != nil || !strings.Contains(out, "matches the restored store") || !strings.Contains(out, "bankgate.db.replaced-") {
		t.Fatalf("restore --force: %v\n%s", err, out)
	}

	rs := startServer(t, serverOpts{dataDir: dir})
	wantOK(t, rs.data("/v2/data/accounts/get", appSecret, before, nil))
	if r := rs.data("/v2/data/accounts/get", appSecret, after, nil); r.Status == http.StatusOK {
		t.Errorf("a token issued after the backup works on the restored store: %s", r.Raw)
	}
	// The restored store's tokens are the backup's moment: every one
	// issued before it began (plus the first user's), none answered after
	// it ended but the two clients' in flight.
	var got int
	h := openSQL(t, filepath.Join(dir, "bankgate.db"))
	if err := h.QueryRow(`SELECT count(*) FROM tokens`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got < 1+int(started) || got > 1+int(ended)+2 {
		t.Errorf("restored %d tokens; %d had been issued when the backup began, %d when it ended", got, started, ended)
	}
	// A new login on the restored server works too.
	u := rs.login(appKey, "user_good")
	rs.exchange(appSecret, u)
	wantOK(t, rs.data("/v2/data/identity/get", appSecret, u, nil))
}

// waitFor waits (at most 60 s) until n tokens have been issued.
func waitFor(t *testing.T, issued *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for issued.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d tokens issued after 60 s", issued.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func openSQL(t *testing.T, path string) *sql.DB {
	t.Helper()
	h, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBackupRestoreRefusals(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ts.Stop()
	dir := t.TempDir()
	// Not a bankgate database.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database at all, just some bytes long enough to be read as a header......................................................"), 0o600)
	if out, err := cli(t, "restore", "--from", junk, "--data-dir", filepath.Join(dir, "a")); err == nil {
		t.Errorf("restore of junk: no error\n%s", out)
	}
	empty := filepath.Join(dir, "empty.db")
	h := openSQL(t, empty)
	h.Exec(`CREATE TABLE t (x)`)
	h.Close()
	if _, err := cli(t, "restore", "--from", empty, "--data-dir", filepath.Join(dir, "b")); err == nil || !strings.Contains(err.Error(), "not a bankgate database") {
		t.Errorf("restore of a foreign SQLite file: %v", err)
	}
	if _, err := cli(t, "restore", "--from", filepath.Join(dir, "missing.db"), "--data-dir", filepath.Join(dir, "c")); err == nil {
		t.Error("restore of a missing file: no error")
	}
	// A backup of a newer schema.
	file := filepath.Join(dir, "backup.db")
	if out, err := cli(t, "backup", "--to", file, "--data-dir", ts.DataDir); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	bumpSchema(t, file, knownSQLite(t)+1)
	if _, err := cli(t, "restore", "--from", file, "--data-dir", filepath.Join(dir, "d")); err == nil || !strings.Contains(err.Error(), "newer than this bankgate knows") {
		t.Errorf("restore of a newer schema: %v", err)
	}
	for _, p := range []string{"a", "b", "c", "d"} {
		if _, err := os.Stat(filepath.Join(dir, p, "bankgate.db")); !os.IsNotExist(err) {
			t.Errorf("a refused restore left %s/bankgate.db (%v)", p, err)
		}
	}
	// A backup needs a store; PostgreSQL is pg_dump's.
	if _, err := cli(t, "backup", "--to", filepath.Join(dir, "x.db"), "--data-dir", filepath.Join(dir, "nothing")); err == nil || !strings.Contains(err.Error(), "no bankgate database at") {
		t.Errorf("backup of a missing store: %v", err)
	}
	for _, cmd := range [][]string{{"backup", "--to", "x.db"}, {"restore", "--from", "x.db"}} {
		if _, err := cli(t, append(cmd, "--database-url", "postgres://u@127.0.0.1:1/db")...); err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Errorf("%s on PostgreSQL: %v", cmd[0], err)
		}
	}
}
