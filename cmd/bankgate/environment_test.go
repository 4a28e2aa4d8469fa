package main

import (
	"context"
	"strings"
	"testing"
)

// TestEnvironments: a production app reaches no sandbox bank (listing,
// login, test clock, sandbox users); a sandbox app reaches them all; and
// `serve --no-sandbox` serves no sandbox bank to anyone. Before, every
// app on every server could log in at the SANDBOX_* banks.
func TestEnvironments(t *testing.T) {
	ts := startServer(t, serverOpts{})
	prodKey, prodSecret := ts.newAppIn("live", "production")
	sbKey, _ := ts.newAppIn("test", "sandbox")

	banks := func(key string) []any {
		r := ts.post("/v2/connect/banks/get", "", map[string]any{"appKey": key})
		wantOK(t, r)
		return r.Body["banks"].([]any)
	}
	if n := len(banks(prodKey)); n != 0 {
		t.Fatalf("a production app sees %d sandbox banks", n)
	}
	if n := len(banks(sbKey)); n != 6 {
		t.Fatalf("a sandbox app sees %d banks, want the 6 sandbox banks", n)
	}
	r := ts.post("/v2/connect/login", "", map[string]any{"appKey": prodKey, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"})
	wantFail(t, r, 400, "INVALID_BANK_ID")
	if !strings.Contains(r.str("msg"), "production") {
		t.Fatalf("refusal does not say why: %s", r.Raw)
	}
	wantFail(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": prodSecret, "advance": "1h"}), 501, "NOT_IMPLEMENTED")
	wantFail(t, ts.post("/v2/sandbox/users/list", "", map[string]any{"appSecret": prodSecret}), 501, "NOT_IMPLEMENTED")
	ts.login(sbKey, "user_good")

	// apps list shows the environment; a bad one is refused.
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "list", "--data-dir", ts.DataDir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ENVIRONMENT") || !strings.Contains(out.String(), "production") {
		t.Fatalf("apps list:\n%s", out.String())
	}
	err := run(context.Background(), []string{"apps", "create", "--name", "x", "--environment", "staging", "--data-dir", ts.DataDir}, func(string) string { return "" }, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "sandbox or production") {
		t.Fatalf("--environment staging: %v", err)
	}
}

// TestNoSandbox: `serve --no-sandbox` removes the sandbox connector.
func TestNoSandbox(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--no-sandbox"}})
	if strings.Contains(ts.Stdout.String(), "appSecret") {
		t.Fatalf("a demo app was made without a sandbox:\n%s", ts.Stdout.String())
	}
	key, sec := ts.newApp("nosb")
	r := ts.post("/v2/connect/banks/get", "", map[string]any{"appKey": key})
	wantOK(t, r)
	if n := len(r.Body["banks"].([]any)); n != 0 {
		t.Fatalf("%d banks listed with --no-sandbox", n)
	}
	wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": key, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"}), 400, "INVALID_BANK_ID")
	wantFail(t, ts.post("/v2/sandbox/users/create", "", map[string]any{"appSecret": sec, "bankID": sandboxBank, "fixture": map[string]any{"username": "a"}}), 400, "INVALID_BANK_ID")
}
