package main

import (
	"sync"
	"testing"
)

func (ts *testServer) postKey(t *testing.T, path, token, key string, body map[string]any) *resp {
	t.Helper()
	return ts.rawPost(t, path, body, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token, "Idempotency-Key": key})
}

// TestIdempotentPayments: a retried transfer with the same Idempotency-Key
// and body returns the first result and moves money once; the same key
// with another body fails; concurrent retries apply it once.
func TestIdempotentPayments(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("idem")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	acct := ts.data("/v2/data/accounts/get", appSecret, u, nil).Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
	ben := ts.data("/v2/payment/beneficiaries/get", appSecret, u, nil).Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)
	body := map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret, "senderID": acct, "receiverID": ben, "amount": 42.5, "remark": "once"}
	start := ts.balance(t, appSecret, u, acct)

	first := ts.postKey(t, "/v2/payment/transfer/create", u.Token, "key-1", body)
	wantOK(t, first)
	again := ts.postKey(t, "/v2/payment/transfer/create", u.Token, "key-1", body)
	wantOK(t, again)
	if again.Raw != first.Raw || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry answered %s (replayed=%q), first %s", again.Raw, again.Header.Get("Idempotent-Replayed"), first.Raw)
	}
	if got := ts.balance(t, appSecret, u, acct); cents(start)-cents(got) != cents(42.5) {
		t.Fatalf("balance %v -> %v: the retry moved money again", start, got)
	}
	other := map[string]any{}
	for k, v := range body {
		other[k] = v
	}
	other["amount"] = 43
	wantFail(t, ts.postKey(t, "/v2/payment/transfer/create", u.Token, "key-1", other), 400, "PARAMETER_ERROR")
	wantFail(t, ts.postKey(t, "/v2/payment/transfer/create", u.Token, "bad key with spaces", body), 400, "PARAMETER_ERROR")

	// Failed requests are recorded too: the retry gets the same failure.
	over := map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret, "senderID": "nope", "receiverID": ben, "amount": 1}
	f1 := ts.postKey(t, "/v2/payment/transfer/create", u.Token, "key-2", over)
	f2 := ts.postKey(t, "/v2/payment/transfer/create", u.Token, "key-2", over)
	if f1.Status != f2.Status || f1.Raw != f2.Raw || f1.Status != 404 {
		t.Fatalf("failed request replay: %d %s vs %d %s", f1.Status, f1.Raw, f2.Status, f2.Raw)
	}

	// Concurrent retries of one key: the money moves once.
	mid := ts.balance(t, appSecret, u, acct)
	body["remark"] = "race"
	var wg sync.WaitGroup
	results := make([]*resp, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = ts.postKey(t, "/v2/payment/transfer/create", u.Token, "key-3", body)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if !(r.Status == 200 || (r.Status == 409 && r.Body["type"] == "REQUEST_IN_PROGRESS")) {
			t.Fatalf("concurrent retry: %d %s", r.Status, r.Raw)
		}
	}
	if got := ts.balance(t, appSecret, u, acct); cents(mid)-cents(got) != cents(42.5) {
		t.Fatalf("concurrent retries moved %v, want 42.50 once", mid-got)
	}
	// Beneficiary creation is idempotent too.
	bb := map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret, "name": "Idem Payee", "iban": "AE940260001015555555555"}
	wantOK(t, ts.postKey(t, "/v2/payment/beneficiaries/create", u.Token, "ben-1", bb))
	wantOK(t, ts.postKey(t, "/v2/payment/beneficiaries/create", u.Token, "ben-1", bb))
	wantFail(t, ts.data("/v2/payment/beneficiaries/create", appSecret, u, map[string]any{"name": "Idem Payee", "iban": "AE940260001015555555555"}), 400, "BENEFICIARY_ALREADY_EXISTS")
}
