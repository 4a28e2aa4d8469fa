package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// keyCLI runs a bankgate command with the given data dir and key file.
func keyCLI(t *testing.T, dataDir, keyFile string, args ...string) (string, error) {
	t.Helper()
	var out, errb syncBuffer
	args = append(args, "--data-dir", dataDir, "--secret-key-file", keyFile)
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return out.String() + errb.String(), err
}

func mustKeyCLI(t *testing.T, dataDir, keyFile string, args ...string) string {
	t.Helper()
	out, err := keyCLI(t, dataDir, keyFile, args...)
	if err != nil {
		t.Fatalf("bankgate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// newKeyFile writes a one-key file (the format every earlier build used)
// outside the data dir, as the production setup has it.
func newKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bankgate.key")
	if err := os.WriteFile(path, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// demoApp returns the demo app's credentials from the first start's
// walkthrough.
func demoApp(t *testing.T, ts *testServer) (key, sec string) {
	t.Helper()
	for _, l := range strings.Split(ts.Stdout.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "appKey:"); ok {
			key = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "appSecret:"); ok {
			sec = strings.TrimSpace(v)
		}
	}
	if key == "" || sec == "" {
		t.Fatalf("no demo app in:\n%s", ts.Stdout.String())
	}
	return key, sec
}

func keyedApp(t *testing.T, dataDir, keyFile, name string) (key, sec string) {
	t.Helper()
	var v map[string]string
	if err := json.Unmarshal([]byte(mustKeyCLI(t, dataDir, keyFile, "apps", "create", "--name", name, "--json")), &v); err != nil {
		t.Fatal(err)
	}
	return v["appKey"], v["appSecret"]
}

// keyStatus parses `keys status` into key ID -> its row's fields.
func keyStatus(t *testing.T, dataDir, keyFile string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(mustKeyCLI(t, dataDir, keyFile, "keys", "status")), "\n")[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	return rows
}

// serveFails runs serve and returns its error; it fails the test if the
// server starts.
func serveFails(t *testing.T, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb syncBuffer
	err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, &out, &errb)
	if err == nil || ctx.Err() != nil || strings.Contains(out.String(), "listening") {
		t.Fatalf("serve %v started (err %v):\n%s", args, err, out.String())
	}
	return err
}

// TestKeyRotation: tokens, appSecrets, userSecrets and access codes from
// before a key rotation keep working after it, across restarts of the
// real server, move to the new key on their first use, and then let the
// old key be retired; userIDs do not change.
func TestKeyRotation(t *testing.T) {
	dataDir, keyFile := t.TempDir(), newKeyFile(t)
	keyArgs := []string{"--secret-key-file", keyFile}
	ts := startServer(t, serverOpts{dataDir: dataDir, args: keyArgs, realClock: true})
	appKey, appSecret := demoApp(t, ts)
	before := ts.login(appKey, "user_good")
	ts.exchange(appSecret, before)
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, before, nil))
	pending := ts.login(appKey, "user_empty") // its code is exchanged after the rotation
	ts.Stop()

	out := mustKeyCLI(t, dataDir, keyFile, "keys", "rotate")
	if !strings.Contains(out, "k2 is the new primary") {
		t.Fatalf("keys rotate said:\n%s", out)
	}
	st := keyStatus(t, dataDir, keyFile)
	if got := strings.Join(st["k1"][1:], " "); !strings.HasPrefix(got, "verifies") || !strings.HasSuffix(got, "1 2 1 1") {
		t.Fatalf("k1 status after rotation = %q, want 1 app, 2 connections, 1 token, 1 code", got)
	}
	if st["k2"][1] != "primary" {
		t.Fatalf("k2 status = %v", st["k2"])
	}

	ts = startServer(t, serverOpts{dataDir: dataDir, args: keyArgs, realClock: true})
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, before, nil)) // old token, appSecret, userSecret
	ts.exchange(appSecret, pending)                                     // old access code
	wantOK(t, ts.data("/v2/data/identity/get", appSecret, pending, nil))
	after := ts.login(appKey, "user_mfa_free")
	ts.exchange(appSecret, after)
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, after, nil))
	if again := ts.login(appKey, "user_good"); again.UserID != before.UserID {
		t.Fatalf("userID changed with the key: %s, was %s", again.UserID, before.UserID)
	}
	ts.Stop()

	// Everything moved to k2 on its first use, so k1 retires without --force.
	if got := strings.Join(keyStatus(t, dataDir, keyFile)["k1"][1:], " "); !strings.HasSuffix(got, "0 0 0 0") {
		t.Fatalf("k1 still protects values after their use: %q", got)
	}
	mustKeyCLI(t, dataDir, keyFile, "keys", "retire", "k1")
	b, _ := os.ReadFile(keyFile)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); !strings.HasPrefix(lines[2], "k2 ") || !strings.HasSuffix(lines[3], " retired") {
		t.Fatalf("key file after retire:\n%s", b)
	}

	ts = startServer(t, serverOpts{dataDir: dataDir, args: keyArgs, realClock: true})
	for _, u := range []*user{before, pending, after} {
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
	}
	if again := ts.login(appKey, "user_good"); again.UserID != before.UserID {
		t.Fatalf("userID changed when k1 retired: %s, was %s", again.UserID, before.UserID)
	}
}

// TestRetiredKeyRefused: retiring a key that values depend on is refused
// unless forced; forcing revokes them; a key file that still trusts the
// retired key is refused at start-up.
func TestRetiredKeyRefused(t *testing.T) {
	dataDir, keyFile := t.TempDir(), newKeyFile(t)
	keyArgs := []string{"--secret-key-file", keyFile}
	ts := startServer(t, serverOpts{dataDir: dataDir, args: keyArgs, realClock: true})
	appKey, appSecret := keyedApp(t, dataDir, keyFile, "old")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	ts.Stop()
	mustKeyCLI(t, dataDir, keyFile, "keys", "rotate")
	stale, _ := os.ReadFile(keyFile)

	if out, err := keyCLI(t, dataDir, keyFile, "keys", "retire", "k2"); err == nil || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("retiring the primary: %v\n%s", err, out)
	}
	out, err := keyCLI(t, dataDir, keyFile, "keys", "retire", "k1")
	if err == nil || !strings.Contains(err.Error(), "2 apps, 1 connections, 1 tokens") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("retire k1 with values depending on it: %v\n%s", err, out)
	}
	out = mustKeyCLI(t, dataDir, keyFile, "keys", "retire", "k1", "--force")
	if !strings.Contains(out, "Revoked") {
		t.Fatalf("keys retire --force said:\n%s", out)
	}

	ts = startServer(t, serverOpts{dataDir: dataDir, args: keyArgs, realClock: true})
	// A retired key verifies nothing: its token is unknown (and was
	// revoked with its delinked connection in the store).
	wantFail(t, ts.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_TOKEN")
	wantFail(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": appSecret}), 401, "INVALID_APP_CREDENTIALS")
	newSecret := strings.TrimSpace(strings.TrimPrefix(mustKeyCLI(t, dataDir, keyFile, "apps", "rotate-secret", "--app-key", appKey), "New appSecret (shown only this once):"))
	u2 := ts.login(appKey, "user_good")
	ts.exchange(newSecret, u2)
	wantOK(t, ts.data("/v2/data/accounts/get", newSecret, u2, nil))
	if u2.UserID != u.UserID {
		t.Fatalf("userID changed: %s, was %s", u2.UserID, u.UserID)
	}
	ev := mustKeyCLI(t, dataDir, keyFile, "audit", "--app-key", appKey)
	if !strings.Contains(ev, "key_retired") || !strings.Contains(ev, "reason=key_retired key=k1") {
		t.Fatalf("audit lacks the forced retirement:\n%s", ev)
	}
	ts.Stop()

	// The key file from before the retirement still trusts k1.
	staleFile := filepath.Join(t.TempDir(), "stale.key")
	os.WriteFile(staleFile, stale, 0o600)
	err = serveFails(t, "--data-dir", dataDir, "--secret-key-file", staleFile)
	if !strings.Contains(err.Error(), "key k1 was retired") {
		t.Fatalf("start with a retired key: %v", err)
	}
}

// TestWrongKeyRefused: a server started with a key that is not the
// store's refuses to start, instead of answering every token
// INVALID_TOKEN; so does one whose key file lacks a key the store uses.
func TestWrongKeyRefused(t *testing.T) {
	dataDir, keyFile := t.TempDir(), newKeyFile(t)
	ts := startServer(t, serverOpts{dataDir: dataDir, args: []string{"--secret-key-file", keyFile}})
	ts.Stop()
	err := serveFails(t, "--data-dir", dataDir, "--secret-key-file", "hex:"+strings.Repeat("a5", 32))
	if msg := err.Error(); !strings.Contains(msg, "server keys do not match the store") || !strings.Contains(msg, "key k1 is not the key k1 this store was set up with") {
		t.Fatalf("start with the wrong key: %v", err)
	}
	// The default key file in the data dir is another key too.
	if err := serveFails(t, "--data-dir", dataDir); !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("start with a generated key: %v", err)
	}
	// A key file missing the store's newer key.
	old, _ := os.ReadFile(keyFile)
	mustKeyCLI(t, dataDir, keyFile, "keys", "rotate")
	oldFile := filepath.Join(t.TempDir(), "old.key")
	os.WriteFile(oldFile, old, 0o600)
	if err := serveFails(t, "--data-dir", dataDir, "--secret-key-file", oldFile); !strings.Contains(err.Error(), "has server key k2, which the key file lacks") {
		t.Fatalf("start without the store's k2: %v", err)
	}
}

// TestGroupReadableKeyFileRefused: a key file others can read is refused.
func TestGroupReadableKeyFileRefused(t *testing.T) {
	keyFile := newKeyFile(t)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		if err := os.Chmod(keyFile, mode); err != nil {
			t.Fatal(err)
		}
		err := serveFails(t, "--data-dir", t.TempDir(), "--secret-key-file", keyFile)
		if !strings.Contains(err.Error(), "open to group or others") || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
	// The default key file in the data dir is checked as well.
	dataDir := t.TempDir()
	startServer(t, serverOpts{dataDir: dataDir}).Stop()
	os.Chmod(filepath.Join(dataDir, "server.key"), 0o644)
	if err := serveFails(t, "--data-dir", dataDir); !strings.Contains(err.Error(), "open to group or others") {
		t.Fatalf("group-readable server.key: %v", err)
	}
}

// TestPostgresKeyRotationStaged follows the several-instances runbook of
// docs/security.md on PostgreSQL: stage the new key everywhere, promote
// it, retire the old one; at every step both instances accept every
// token, appSecret and userSecret, whichever instance made it.
func TestPostgresKeyRotationStaged(t *testing.T) {
	dbURL := pgSchemaURL(t)
	keyFile := newKeyFile(t)
	original, _ := os.ReadFile(keyFile)
	pg := func(args ...string) string {
		return pgCLI(t, args, dbURL, t.TempDir(), keyFile)
	}
	serve := func() *testServer {
		return startRealClockServer(t, "--database-url", dbURL, "--secret-key-file", keyFile)
	}
	appKey, appSecret := pgNewApp(t, "staged", dbURL, t.TempDir(), keyFile)
	a, b := serve(), serve()
	old := a.login(appKey, "user_good")
	a.exchange(appSecret, old)

	pg("keys", "rotate", "--staged")
	a.Stop()
	b.Stop()
	a, b = serve(), serve()
	for _, ts := range []*testServer{a, b} {
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, old, nil))
	}

	pg("keys", "promote", "k2")
	a.Stop()
	a = serve() // b still has k2 as a verifying key only
	fresh := a.login(appKey, "user_empty")
	a.exchange(appSecret, fresh)
	for _, ts := range []*testServer{a, b} {
		for _, u := range []*user{old, fresh} {
			wantOK(t, ts.data("/v2/data/identity/get", appSecret, u, nil))
		}
	}
	b.Stop()
	b = serve()
	wantOK(t, b.data("/v2/data/identity/get", appSecret, old, nil))

	// An instance left on the original key file refuses to start.
	stale := filepath.Join(t.TempDir(), "stale.key")
	os.WriteFile(stale, original, 0o600)
	if err := serveFails(t, "--data-dir", t.TempDir(), "--database-url", dbURL, "--secret-key-file", stale); !strings.Contains(err.Error(), "has server key k2, which the key file lacks") {
		t.Fatalf("instance on the old key file: %v", err)
	}

	// Everything was used under k2, so k1 retires without --force.
	if st := pg("keys", "status"); !regexp.MustCompile(`k1\s+verifies\s+\S+\s+0\s+0\s+0\s+0`).MatchString(st) {
		t.Fatalf("keys status:\n%s", st)
	}
	pg("keys", "retire", "k1")
	a.Stop()
	b.Stop()
	a = serve()
	for _, u := range []*user{old, fresh} {
		wantOK(t, a.data("/v2/data/accounts/get", appSecret, u, nil))
	}
}
