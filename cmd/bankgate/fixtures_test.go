package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSandboxFixtures: operators add sandbox users from fixture files, with
// `bankgate sandbox users add` on a running server's store or
// --sandbox-fixtures on serve.
func TestSandboxFixtures(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "sandbox", "testdata", "fixture_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fixtures := t.TempDir()
	if err := os.WriteFile(filepath.Join(fixtures, "alice.json"), example, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, serverOpts{dataDir: dir, args: []string{"--sandbox-fixtures", fixtures}})
	appKey, appSecret := ts.newApp("fixtures")
	r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": "SANDBOX_AE_ENBD", "username": "alice", "password": "alice-pass"})
	if r.Body["status"] != "user_input_required" {
		t.Fatalf("fixture MFA not asked: %s", r.Raw)
	}
	r = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": "SANDBOX_AE_ENBD", "operationID": r.str("operationID"), "userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "999999"}}})
	wantOK(t, r)
	u := connected(t, r)
	ts.exchange(appSecret, u)
	id := ts.data("/v2/data/identity/get", appSecret, u, nil)
	wantOK(t, id)
	if id.Body["identity"].(map[string]any)["name"] != "Alice Example" {
		t.Fatalf("fixture identity not served: %s", id.Raw)
	}
	wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": "SANDBOX_AE_ENBD", "username": "alice", "password": "pass_good"}), 401, "INVALID_CREDENTIALS")

	// The CLI adds another user to the same store.
	bob := []byte(`{"username":"bob_fixture","password":"bob-pass","identity":{"name":"Bob Fixture"},"accounts":[{"name":"Main","type":"current","currency":"SAR","openingBalance":500}]}`)
	bobFile := filepath.Join(t.TempDir(), "bob.json")
	os.WriteFile(bobFile, bob, 0o600)
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"sandbox", "users", "add", "--bank", "SANDBOX_SA_SNB", "--file", bobFile, "--data-dir", dir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("sandbox users add: %v %s", err, errb.String())
	}
	ts.Clock.Advance(2e9)
	r = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": "SANDBOX_SA_SNB", "username": "bob_fixture", "password": "bob-pass"})
	wantOK(t, r)
	b := connected(t, r)
	ts.exchange(appSecret, b)
	accts := ts.data("/v2/data/accounts/get", appSecret, b, nil)
	wantOK(t, accts)
	if got := accts.Body["accounts"].([]any)[0].(map[string]any)["balance"].(map[string]any)["amount"]; got != 500.0 {
		t.Fatalf("fixture balance = %v: %s", got, accts.Raw)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"username":""}`), 0o600)
	if err := run(context.Background(), []string{"sandbox", "users", "add", "--bank", "SANDBOX_SA_SNB", "--file", bad, "--data-dir", dir}, func(string) string { return "" }, &out, &errb); err == nil {
		t.Fatal("bad fixture accepted")
	}
}
