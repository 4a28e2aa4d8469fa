package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Tests of issue 9: every app has its own sandbox world and test clock.
// Each reproduces a finding of the outside review: before the fix, the
// apps below shared one world and one clock.

// twoApps starts a server with apps A and B, each with user_good at the
// same bank connected.
type worldApp struct {
	key, secret string
	u           *user
	acct        string
}

func twoApps(t *testing.T, ts *testServer, username string) (a, b *worldApp) {
	t.Helper()
	mk := func(name string) *worldApp {
		key, sec := ts.newApp(name)
		u := ts.login(key, username)
		ts.exchange(sec, u)
		r := ts.data("/v2/data/accounts/get", sec, u, nil)
		wantOK(t, r)
		acct := r.Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
		return &worldApp{key: key, secret: sec, u: u, acct: acct}
	}
	return mk("world-a"), mk("world-b")
}

func (ts *testServer) worldBalance(t *testing.T, w *worldApp) float64 {
	t.Helper()
	r := ts.data("/v2/data/balance/get", w.secret, w.u, map[string]any{"accountID": w.acct})
	wantOK(t, r)
	return r.Body["balance"].(map[string]any)["amount"].(float64)
}

func beneficiaryNames(t *testing.T, ts *testServer, w *worldApp) []string {
	t.Helper()
	r := ts.data("/v2/payment/beneficiaries/get", w.secret, w.u, nil)
	wantOK(t, r)
	var names []string
	for _, b := range r.Body["beneficiaries"].([]any) {
		names = append(names, b.(map[string]any)["name"].(string))
	}
	return names
}

// TestSandboxWorldsAreIsolated: app B's transfers, beneficiaries, ACH
// pulls and failed logins leave app A's same-named sandbox user alone.
func TestSandboxWorldsAreIsolated(t *testing.T) {
	ts := startServer(t, serverOpts{})
	a, b := twoApps(t, ts, "user_good")
	balA, balB := ts.worldBalance(t, a), ts.worldBalance(t, b)
	if balA != balB {
		t.Fatalf("same user, same starting data expected: A %v, B %v", balA, balB)
	}

	// B pays someone by autoflow (beneficiary made on the way) and pulls
	// money in by ACH.
	wantOK(t, ts.data("/v2/payment/transfer/autoflow", b.secret, b.u, map[string]any{
		"senderID": b.acct, "amount": 250,
		"beneficiary": map[string]any{"name": "Only In B", "iban": "AE070331234567890123456", "type": "local",
			"address": map[string]any{"line1": "x", "line2": "y", "line3": "z"}, "country": "AE", "branchAddress": "b", "branchName": "b"},
	}))
	ach := ts.data("/v2/ach/pull/create", b.secret, b.u, map[string]any{"transfer": map[string]any{"senderID": b.acct, "amount": 40, "description": "pull"}})
	wantOK(t, ach)
	achOp := ach.str("operationID")

	if got := ts.worldBalance(t, a); got != balA {
		t.Fatalf("A's balance moved with B's payments: %v -> %v", balA, got)
	}
	if got := ts.worldBalance(t, b); got != balB-250+40 {
		t.Fatalf("B's balance = %v, want %v", got, balB-250+40)
	}
	for _, n := range beneficiaryNames(t, ts, a) {
		if n == "Only In B" {
			t.Fatal("B's beneficiary appears in A's list")
		}
	}
	if !containsStr(beneficiaryNames(t, ts, b), "Only In B") {
		t.Fatal("B's beneficiary missing from B's list")
	}
	// A cannot read B's ACH pull by its operationID.
	r := ts.data("/v2/ach/pull/get", a.secret, a.u, map[string]any{"operationID": achOp})
	if r.Status == 200 {
		t.Fatalf("A read B's ACH pull: %s", r.Raw)
	}
	wantOK(t, ts.data("/v2/ach/pull/get", b.secret, b.u, map[string]any{"operationID": achOp}))

	// Five wrong passwords from B lock user_mfa in B's world only.
	for range 5 {
		wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": b.key, "bankID": sandboxBank, "username": "user_mfa", "password": "wrong"}), 401, "INVALID_CREDENTIALS")
	}
	wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": b.key, "bankID": sandboxBank, "username": "user_mfa", "password": "pass_good"}), 403, "ACCOUNT_LOCKED")
	r = ts.post("/v2/connect/login", "", map[string]any{"appKey": a.key, "bankID": sandboxBank, "username": "user_mfa", "password": "pass_good"})
	if r.Status != 200 || r.Body["status"] != "user_input_required" {
		t.Fatalf("A's user_mfa login: %s", r.Raw)
	}
}

// TestSandboxTransferToIBANStaysInWorld: a transfer to another sandbox
// user's IBAN credits that user in the sender's app's world only.
func TestSandboxTransferToIBANStaysInWorld(t *testing.T) {
	ts := startServer(t, serverOpts{})
	keyA, secA := ts.newApp("iban-a")
	keyB, secB := ts.newApp("iban-b")
	conn := func(key, sec, name string) *worldApp {
		u := ts.login(key, name)
		ts.exchange(sec, u)
		r := ts.data("/v2/data/accounts/get", sec, u, nil)
		wantOK(t, r)
		acc := r.Body["accounts"].([]any)[0].(map[string]any)
		return &worldApp{key: key, secret: sec, u: u, acct: acc["id"].(string)}
	}
	senderB := conn(keyB, secB, "payer")
	recvB := conn(keyB, secB, "payee")
	recvA := conn(keyA, secA, "payee")
	r := ts.data("/v2/data/accounts/get", secB, recvB.u, nil)
	iban := r.Body["accounts"].([]any)[0].(map[string]any)["iban"].(string)
	beforeA, beforeB := ts.worldBalance(t, recvA), ts.worldBalance(t, recvB)
	wantOK(t, ts.data("/v2/payment/transfer/autoflow", secB, senderB.u, map[string]any{
		"senderID": senderB.acct, "amount": 75,
		"beneficiary": map[string]any{"name": "Payee", "iban": iban, "type": "same",
			"address": map[string]any{"line1": "x", "line2": "y", "line3": "z"}, "country": "AE", "branchAddress": "b", "branchName": "b"},
	}))
	deadline := time.Now().Add(5 * time.Second)
	for ts.worldBalance(t, recvB) != beforeB+75 {
		if time.Now().After(deadline) {
			t.Fatalf("B's payee was not credited: %v, want %v", ts.worldBalance(t, recvB), beforeB+75)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := ts.worldBalance(t, recvA); got != beforeA {
		t.Fatalf("A's payee was credited by B's transfer: %v -> %v", beforeA, got)
	}
}

// TestAppClocksAreIsolated: one app's clock moves leave another app's
// access codes and data alone; an app's own move may expire its codes
// early; no move makes an expired code valid again.
func TestAppClocksAreIsolated(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--sandbox-clock", "2026-03-15T10:00:00Z"}})
	keyA, secA := ts.newApp("clock-a")
	keyB, secB := ts.newApp("clock-b")
	a := ts.login(keyA, "user_good")
	b := ts.login(keyB, "user_good")

	adv := ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": secB, "advance": "31m"})
	wantOK(t, adv)
	if adv.str("now") != "2026-03-15T10:31:00.000Z" {
		t.Fatalf("B's clock = %s", adv.Raw)
	}
	r := ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": secA})
	wantOK(t, r)
	if r.str("now") != "2026-03-15T10:00:00.000Z" || r.str("offset") != "0s" {
		t.Fatalf("A's clock moved with B's: %s", r.Raw)
	}
	// A's fresh code still exchanges; B's expired with B's clock.
	ts.exchange(secA, a)
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": secB, "accessCode": b.AccessCode, "connectionID": b.ConnectionID}), 401, "INVALID_ACCESS_CODE")

	// B moving a year on shows B new transactions, A none.
	r = ts.data("/v2/data/accounts/get", secA, a, nil)
	acct := r.Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
	beforeA := ts.txs(t, secA, a, acct, "2026-01-01", "2027-12-31")
	b2 := ts.login(keyB, "user_good")
	ts.exchange(secB, b2)
	wantOK(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": secB, "advance": "300d"}))
	afterB := ts.txs(t, secB, b2, acct, "2026-01-01", "2027-12-31")
	afterA := ts.txs(t, secA, a, acct, "2026-01-01", "2027-12-31")
	if len(afterA) != len(beforeA) {
		t.Fatalf("A's transactions changed with B's clock: %d -> %d", len(beforeA), len(afterA))
	}
	if len(afterB) <= len(beforeA) {
		t.Fatalf("B sees no new transactions after 300 days: %d", len(afterB))
	}

	// Real time is the bound: a code past its real expiry never exchanges.
	c := ts.login(keyA, "user_good")
	ts.Clock.Advance(31 * time.Minute)
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": secA, "accessCode": c.AccessCode, "connectionID": c.ConnectionID}), 401, "INVALID_ACCESS_CODE")
	// Moving the app's clock (the only way it moves) cannot bring it back.
	wantOK(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": secA, "advance": "1h"}))
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": secA, "accessCode": c.AccessCode, "connectionID": c.ConnectionID}), 401, "INVALID_ACCESS_CODE")
}

// TestAppClockBounds: an advance must be positive and at most 366 days,
// all advances at most ten years; anything else moves nothing. The
// review's overflow (266 advances of 9600h wrapping the clock from 2318
// to 1734) cannot happen.
func TestAppClockBounds(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--sandbox-clock", "2026-01-01"}})
	_, sec := ts.newApp("bounds")
	clock := func(body map[string]any) *resp {
		body["appSecret"] = sec
		return ts.post("/v2/sandbox/clock", "", body)
	}
	for _, bad := range []string{"9600h", "0s", "-1h", "367d", "0d", "-3d", "1e9h", "99999999999999999999h", "xyz", "1.5d", strings.Repeat("9", 40) + "h"} {
		wantFail(t, clock(map[string]any{"advance": bad}), 400, "PARAMETER_ERROR")
	}
	r := clock(map[string]any{})
	wantOK(t, r)
	if r.str("offset") != "0s" {
		t.Fatalf("refused advances moved the clock: %s", r.Raw)
	}
	// 366 days at a time until the ten-year bound.
	var last *resp
	n := 0
	for {
		last = clock(map[string]any{"advance": "366d"})
		if last.Status != 200 {
			break
		}
		n++
		if n > 20 {
			t.Fatal("the ten-year bound does not hold")
		}
	}
	wantFail(t, last, 400, "PARAMETER_ERROR")
	if n != 9 {
		t.Fatalf("%d advances of 366 days accepted, want 9", n)
	}
	r = clock(map[string]any{})
	now, err := time.Parse(time.RFC3339, r.str("now"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(9 * 366 * 24 * time.Hour); !now.Equal(want) {
		t.Fatalf("clock at %v, want %v", now, want)
	}
	// What is left of ten years is still allowed, and then nothing.
	wantOK(t, clock(map[string]any{"advance": "359d"}))
	wantFail(t, clock(map[string]any{"advance": "1ns"}), 400, "PARAMETER_ERROR")
}

// TestSandboxUsersPerApp: an app makes, lists and deletes its own sandbox
// users; other apps never see them.
func TestSandboxUsersPerApp(t *testing.T) {
	ts := startServer(t, serverOpts{})
	keyA, secA := ts.newApp("users-a")
	keyB, secB := ts.newApp("users-b")
	fixture := json.RawMessage(`{"username":"alice","password":"alice-pass-1","identity":{"name":"Alice Example"},
		"accounts":[{"id":"alice-main","name":"Main","type":"current","currency":"AED","openingBalance":1234.5}]}`)
	r := ts.post("/v2/sandbox/users/create", "", map[string]any{"appSecret": secA, "bankID": sandboxBank, "fixture": fixture})
	wantOK(t, r)
	if u := r.Body["user"].(map[string]any); u["username"] != "alice" || u["bankID"] != sandboxBank || u["accounts"] != float64(1) {
		t.Fatalf("create = %s", r.Raw)
	}
	// A's alice logs in with her password; B's alice is the generated user.
	wantOK(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": keyA, "bankID": sandboxBank, "username": "alice", "password": "alice-pass-1"}))
	wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": keyB, "bankID": sandboxBank, "username": "alice", "password": "alice-pass-1"}), 401, "INVALID_CREDENTIALS")
	r = ts.post("/v2/connect/login", "", map[string]any{"appKey": keyA, "bankID": sandboxBank, "username": "alice", "password": "alice-pass-1"})
	ua := connected(t, r)
	ts.exchange(secA, ua)
	r = ts.data("/v2/data/accounts/get", secA, ua, nil)
	wantOK(t, r)
	if n := len(r.Body["accounts"].([]any)); n != 1 {
		t.Fatalf("A's alice has %d accounts, want 1", n)
	}

	list := func(sec string) []any {
		r := ts.post("/v2/sandbox/users/list", "", map[string]any{"appSecret": sec})
		wantOK(t, r)
		return r.Body["users"].([]any)
	}
	if got := list(secA); len(got) != 1 || got[0].(map[string]any)["username"] != "alice" {
		t.Fatalf("A's users = %v", got)
	}
	if got := list(secB); len(got) != 0 {
		t.Fatalf("B sees A's users: %v", got)
	}

	// Bad input gets clear errors.
	for _, tc := range []struct {
		body   map[string]any
		status int
		typ    string
	}{
		{map[string]any{"appSecret": secA, "bankID": sandboxBank}, 422, "PARAMETER_MISSING"},
		{map[string]any{"appSecret": secA, "fixture": fixture}, 422, "PARAMETER_MISSING"},
		{map[string]any{"appSecret": secA, "bankID": "NOPE", "fixture": fixture}, 400, "INVALID_BANK_ID"},
		{map[string]any{"appSecret": secA, "bankID": sandboxBank, "fixture": "a string"}, 400, "PARAMETER_ERROR"},
		{map[string]any{"appSecret": secA, "bankID": sandboxBank, "fixture": map[string]any{"username": "x"}}, 400, "PARAMETER_ERROR"},
		{map[string]any{"appSecret": secA, "bankID": sandboxBank, "fixture": map[string]any{"username": "x", "password": "p", "unknown": 1, "accounts": []any{}}}, 400, "PARAMETER_ERROR"},
		{map[string]any{"appSecret": secA, "bankID": sandboxBank, "fixture": map[string]any{"username": "x", "password": "p", "accounts": []any{}, "identity": map[string]any{"name": strings.Repeat("n", 300<<10)}}}, 400, "PARAMETER_ERROR"},
		{map[string]any{"appSecret": "bgas_nope", "bankID": sandboxBank, "fixture": fixture}, 401, "INVALID_APP_CREDENTIALS"},
		{map[string]any{"bankID": sandboxBank, "fixture": fixture}, 401, "INVALID_APP_CREDENTIALS"},
	} {
		wantFail(t, ts.post("/v2/sandbox/users/create", "", tc.body), tc.status, tc.typ)
	}

	// B cannot delete A's user; A can, and alice is the generated user
	// again in A's world.
	wantFail(t, ts.post("/v2/sandbox/users/delete", "", map[string]any{"appSecret": secB, "bankID": sandboxBank, "username": "alice"}), 400, "PARAMETER_ERROR")
	wantOK(t, ts.post("/v2/sandbox/users/delete", "", map[string]any{"appSecret": secA, "bankID": sandboxBank, "username": "alice"}))
	if got := list(secA); len(got) != 0 {
		t.Fatalf("A's users after delete = %v", got)
	}
	wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": keyA, "bankID": sandboxBank, "username": "alice", "password": "alice-pass-1"}), 401, "INVALID_CREDENTIALS")
	wantOK(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": keyA, "bankID": sandboxBank, "username": "alice", "password": "pass_good"}))
	wantFail(t, ts.post("/v2/sandbox/users/delete", "", map[string]any{"appSecret": secA, "bankID": sandboxBank, "username": "alice"}), 400, "PARAMETER_ERROR")
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
