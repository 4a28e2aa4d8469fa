package main

import (
	"strings"
	"testing"
)

// TestBatchAsksForInput: a batch whose account lookup asks for input
// answers user_input_required, and its resume (operationID and answers,
// without the items again) pays the batch asked first. Before, the
// prompt was dropped and the batch answered 404 INVALID_ACCOUNT_ID.
func TestBatchAsksForInput(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("batch-mfa")
	u := ts.login(appKey, "user_data_mfa")
	ts.exchange(appSecret, u)
	ask := ts.data("/v2/data/accounts/get", appSecret, u, nil)
	acc := ts.data("/v2/data/accounts/get", appSecret, u, map[string]any{"operationID": ask.str("operationID"),
		"userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "123456"}}})
	wantOK(t, acc)
	acct := acc.Body["accounts"].([]any)[0].(map[string]any)["id"].(string)

	items := []map[string]any{{"type": "local", "amount": 12.5, "beneficiary": map[string]any{"name": "Payee", "iban": "AE940260001015555555555", "country": "AE"}}}
	r := ts.data("/v2/batch/transfers/create", appSecret, u, map[string]any{"senderID": acct, "items": items})
	if r.Status != 200 || r.Body["status"] != "user_input_required" {
		t.Fatalf("batch for user_data_mfa: %s", r.Raw)
	}
	wrong := ts.data("/v2/batch/transfers/create", appSecret, u, map[string]any{"operationID": r.str("operationID"),
		"userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "000000"}}})
	wantFail(t, wrong, 401, "INVALID_MFA")

	r = ts.data("/v2/batch/transfers/create", appSecret, u, map[string]any{"senderID": acct, "items": items})
	done := ts.data("/v2/batch/transfers/create", appSecret, u, map[string]any{"operationID": r.str("operationID"),
		"userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "123456"}}})
	wantOK(t, done)
	d := done.Body["details"].(map[string]any)
	if d["numSucceededItems"] != float64(1) || d["stage"] != "done" {
		t.Fatalf("resumed batch: %s", done.Raw)
	}
	got := ts.data("/v2/batch/items/get", appSecret, u, map[string]any{"reference": d["reference"]})
	wantOK(t, got)
	if got.Body["transfers"].(map[string]any)["items"].([]any)[0].(map[string]any)["status"] != "succeeded" {
		t.Fatalf("items/get: %s", got.Raw)
	}
}

// TestBatchFieldLimits: batch items are length-limited before anything
// runs.
func TestBatchFieldLimits(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("batch-limits")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	acct := ts.data("/v2/data/accounts/get", appSecret, u, nil).Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
	long := strings.Repeat("x", 5000)
	for name, item := range map[string]map[string]any{
		"name":   {"amount": 1, "beneficiary": map[string]any{"name": long, "iban": "AE940260001015555555555"}},
		"iban":   {"amount": 1, "beneficiary": map[string]any{"name": "a", "iban": long}},
		"remark": {"amount": 1, "remark": long, "beneficiary": map[string]any{"name": "a", "iban": "AE940260001015555555555"}},
		"amount": {"beneficiary": map[string]any{"name": "a", "iban": "AE940260001015555555555"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := ts.data("/v2/batch/transfers/create", appSecret, u, map[string]any{"senderID": acct, "items": []any{item}})
			wantFail(t, r, 400, "PARAMETER_ERROR")
		})
	}
	r := ts.data("/v2/batch/transfers/get", appSecret, u, map[string]any{"fromDate": "2000-01-01", "toDate": "2100-01-01"})
	wantOK(t, r)
	if n := len(r.Body["transfers"].([]any)); n != 0 {
		t.Fatalf("%d batches stored by refused requests", n)
	}
}
