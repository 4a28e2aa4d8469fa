package main

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// txs reads an account's transactions for a date range.
func (ts *testServer) txs(t *testing.T, appSecret string, u *user, acct, from, to string) []map[string]any {
	t.Helper()
	r := ts.data("/v2/data/transactions/get", appSecret, u, map[string]any{"accountID": acct, "fromDate": from, "toDate": to})
	wantOK(t, r)
	var out []map[string]any
	for _, x := range r.Body["transactions"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func (ts *testServer) balance(t *testing.T, appSecret string, u *user, acct string) float64 {
	t.Helper()
	r := ts.data("/v2/data/balance/get", appSecret, u, map[string]any{"accountID": acct})
	wantOK(t, r)
	return r.Body["balance"].(map[string]any)["amount"].(float64)
}

func cents(f float64) int64 { return int64(math.Round(f * 100)) }

// checkChain asserts that before/after amounts chain exactly and end at
// the balance.
func checkChain(t *testing.T, txs []map[string]any, balance float64) {
	t.Helper()
	if len(txs) == 0 {
		t.Fatal("no transactions")
	}
	for i, tx := range txs {
		before, after, amt := cents(tx["beforeAmount"].(float64)), cents(tx["afterAmount"].(float64)), cents(tx["amount"].(float64))
		switch tx["type"] {
		case "credit":
			if after != before+amt {
				t.Fatalf("tx %d: credit %d: %d -> %d", i, amt, before, after)
			}
		case "debit":
			if after != before-amt {
				t.Fatalf("tx %d: debit %d: %d -> %d", i, amt, before, after)
			}
		default:
			t.Fatalf("tx %d: type %v", i, tx["type"])
		}
		if i > 0 && cents(txs[i-1]["afterAmount"].(float64)) != before {
			t.Fatalf("tx %d: before %d does not follow previous after %v", i, before, txs[i-1]["afterAmount"])
		}
	}
	if last := cents(txs[len(txs)-1]["afterAmount"].(float64)); last != cents(balance) {
		t.Fatalf("last afterAmount %d != balance %d", last, cents(balance))
	}
}

// TestPaymentsKeepBalancesConsistent makes a series of transfers through
// the API — to a beneficiary, autoflow, to another sandbox user's IBAN, and
// failing ones — and checks every balance and transaction chain.
func TestPaymentsKeepBalancesConsistent(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--sandbox-clock", "2026-03-15T10:00:00Z"}})
	appKey, appSecret := ts.newApp("payments")
	alice := ts.login(appKey, "user_good")
	ts.exchange(appSecret, alice)
	bob := ts.login(appKey, "bob_receiver")
	ts.exchange(appSecret, bob)

	accounts := func(u *user) []map[string]any {
		r := ts.data("/v2/data/accounts/get", appSecret, u, nil)
		wantOK(t, r)
		var out []map[string]any
		for _, a := range r.Body["accounts"].([]any) {
			out = append(out, a.(map[string]any))
		}
		return out
	}
	aliceAcct := accounts(alice)[0]
	bobAcct := accounts(bob)[0]
	from := aliceAcct["id"].(string)
	start := ts.balance(t, appSecret, alice, from)
	bobStart := ts.balance(t, appSecret, bob, bobAcct["id"].(string))

	bens := ts.data("/v2/payment/beneficiaries/get", appSecret, alice, nil)
	wantOK(t, bens)
	existing := bens.Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)

	var sent int64
	for i := 0; i < 6; i++ {
		amt := float64(100+i*37) + 0.25
		r := ts.data("/v2/payment/transfer/create", appSecret, alice, map[string]any{"senderID": from, "receiverID": existing, "amount": amt, "remark": fmt.Sprintf("rent %d", i)})
		wantOK(t, r)
		sent += cents(amt)
	}
	// To Bob's IBAN: autoflow creates the beneficiary and pays at once.
	r := ts.data("/v2/payment/transfer/autoflow", appSecret, alice, map[string]any{"senderID": from, "amount": 250.5, "remark": "to bob",
		"beneficiary": map[string]any{"name": "Bob Receiver", "iban": bobAcct["iban"], "accountNumber": bobAcct["number"]}})
	wantOK(t, r)
	sent += cents(250.5)
	// Failures move nothing.
	if r := ts.data("/v2/payment/transfer/create", appSecret, alice, map[string]any{"senderID": from, "receiverID": existing, "amount": start + 1, "remark": "x"}); r.Status != 400 || (r.Body["type"] != "INSUFFICIENT_BALANCE" && r.Body["type"] != "PARAMETER_ERROR") {
		t.Fatalf("overdraft: %s", r.Raw)
	}
	wantFail(t, ts.data("/v2/payment/transfer/create", appSecret, alice, map[string]any{"senderID": "nope", "receiverID": existing, "amount": 1}), 404, "INVALID_ACCOUNT_ID")

	end := ts.balance(t, appSecret, alice, from)
	if cents(start)-cents(end) != sent {
		t.Fatalf("alice's balance went %v -> %v, want a drop of %d cents", start, end, sent)
	}
	checkChain(t, ts.txs(t, appSecret, alice, from, "2025-03-20", "2026-03-15"), end)
	bobEnd := ts.balance(t, appSecret, bob, bobAcct["id"].(string))
	if cents(bobEnd)-cents(bobStart) != cents(250.5) {
		t.Fatalf("bob's balance went %v -> %v, want +250.50", bobStart, bobEnd)
	}
	bobTxs := ts.txs(t, appSecret, bob, bobAcct["id"].(string), "2025-03-20", "2026-03-15")
	checkChain(t, bobTxs, bobEnd)
	if last := bobTxs[len(bobTxs)-1]; last["type"] != "credit" || cents(last["amount"].(float64)) != cents(250.5) {
		t.Fatalf("bob's last transaction = %v", last)
	}
}

// TestVirtualClock advances the sandbox clock through the API: new
// transactions appear and a new beneficiary's cool-down ends.
func TestVirtualClock(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--sandbox-clock", "2026-03-15T10:00:00Z"}})
	appKey, appSecret := ts.newApp("clock")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	r := ts.data("/v2/data/accounts/get", appSecret, u, nil)
	acct := r.Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
	before := ts.txs(t, appSecret, u, acct, "2026-03-01", "2026-05-31")

	wantOK(t, ts.data("/v2/payment/beneficiaries/create", appSecret, u, map[string]any{"name": "New Payee", "iban": "AE070331234567890123456", "type": "local"}))
	bens := ts.data("/v2/payment/beneficiaries/get", appSecret, u, nil)
	var id string
	for _, b := range bens.Body["beneficiaries"].([]any) {
		if b.(map[string]any)["name"] == "New Payee" {
			id = b.(map[string]any)["id"].(string)
		}
	}
	cool := ts.data("/v2/payment/transfer/create", appSecret, u, map[string]any{"senderID": acct, "receiverID": id, "amount": 10})
	wantFail(t, cool, 400, "BENEFICIARY_COOL_DOWN_PERIOD")
	if p, ok := cool.Body["coolDownPeriod"].(map[string]any); !ok || p["value"].(float64) != math.Trunc(p["value"].(float64)) || p["unit"] != "hrs" {
		t.Fatalf("coolDownPeriod = %v", cool.Body["coolDownPeriod"])
	}

	adv := ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": appSecret, "advance": "1080h"}) // 45 days
	wantOK(t, adv)
	if adv.str("now") != "2026-04-29T10:00:00.000Z" {
		t.Fatalf("clock now = %s", adv.str("now"))
	}
	after := ts.txs(t, appSecret, u, acct, "2026-03-01", "2026-05-31")
	if len(after) <= len(before) {
		t.Fatalf("no new transactions after 45 days: %d then %d", len(before), len(after))
	}
	for i := range before {
		if before[i]["reference"] != after[i]["reference"] {
			t.Fatalf("history changed at %d", i)
		}
	}
	wantOK(t, ts.data("/v2/payment/transfer/create", appSecret, u, map[string]any{"senderID": acct, "receiverID": id, "amount": 10}))
	wantFail(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": "bgas_nope", "advance": "1h"}), 401, "INVALID_APP_CREDENTIALS")
	wantFail(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": appSecret, "advance": "-1h"}), 400, "PARAMETER_ERROR")

	// Without --sandbox-clock every app's test clock starts at real time.
	real := startServer(t, serverOpts{})
	_, sec := real.newApp("real")
	r = real.post("/v2/sandbox/clock", "", map[string]any{"appSecret": sec, "advance": "1h"})
	wantOK(t, r)
	if want := real.Clock.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z"); r.str("now") != want || r.str("offset") != "1h0m0s" {
		t.Fatalf("clock = %s, want now %s and offset 1h0m0s", r.Raw, want)
	}
}

// TestDataCallMFA: a data call that asks for input is resumed on the same
// endpoint with operationID and answers, valid for that operation only;
// wrong answers fail and abandoned prompts expire.
func TestDataCallMFA(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("datamfa")
	u := ts.login(appKey, "user_data_mfa")
	ts.exchange(appSecret, u)
	ask := func() string {
		r := ts.data("/v2/data/accounts/get", appSecret, u, nil)
		if r.Body["status"] != "user_input_required" || r.Body["success"] != true {
			t.Fatalf("want user_input_required: %s", r.Raw)
		}
		checkEnvelope(t, r)
		return r.str("operationID")
	}
	answer := func(path, op, ans string) *resp {
		return ts.data(path, appSecret, u, map[string]any{"operationID": op, "userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": ans}}})
	}
	op := ask()
	wantFail(t, answer("/v2/data/accounts/get", op, "000000"), 401, "INVALID_MFA")
	wantFail(t, answer("/v2/data/accounts/get", op, "123456"), 400, "INVALID_OPERATION_ID") // spent by the wrong answer
	op = ask()
	wantFail(t, answer("/v2/data/identity/get", op, "123456"), 400, "INVALID_OPERATION_ID") // another endpoint
	r := answer("/v2/data/accounts/get", op, "123456")
	wantOK(t, r)
	if r.str("operationID") != op {
		t.Fatalf("resumed operation changed ID: %s vs %s", r.str("operationID"), op)
	}
	if len(r.Body["accounts"].([]any)) == 0 {
		t.Fatalf("no accounts: %s", r.Raw)
	}
	// Another app's connection cannot answer this app's prompt.
	op = ask()
	ts.Clock.Advance(6 * time.Minute)
	wantFail(t, answer("/v2/data/accounts/get", op, "123456"), 400, "INVALID_OPERATION_ID")
	st := ts.post("/v2/operation/status", "", map[string]any{"operationID": op, "appSecret": appSecret})
	wantOK(t, st)
	if info := st.Body["opInfo"].(map[string]any); info["status"] != "failed" || info["errorType"] != "SESSION_EXPIRED" {
		t.Fatalf("abandoned operation status: %s", st.Raw)
	}
}
