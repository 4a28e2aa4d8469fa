package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// volatile are response keys whose values are random per run; golden
// files hold a placeholder instead.
var volatile = map[string]bool{
	"operationID": true, "accessCode": true, "userSecret": true, "connectionID": true,
	"userID": true, "tokenID": true, "accessToken": true, "reference": true, "fileName": true,
}

// normalize replaces volatile values, recursively, with "<key>". The IDs
// of beneficiaries created during the run are random too.
func normalize(v any) any { return normalizeIn(v, "") }

func normalizeIn(v any, parent string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && s != "" && (volatile[k] || (k == "id" && parent == "beneficiaries")) {
				x[k] = "<" + k + ">"
				continue
			}
			x[k] = normalizeIn(val, k)
		}
	case []any:
		for i := range x {
			x[i] = normalizeIn(x[i], parent)
		}
	}
	return v
}

// golden compares a response (status and normalized body) with
// testdata/golden/<name>.json, rewriting it under -update.
func golden(t *testing.T, name string, r *resp) {
	t.Helper()
	var body any
	if err := json.Unmarshal([]byte(r.Raw), &body); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got := map[string]any{"httpStatus": r.Status, "body": normalize(body)}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run go test -run TestGolden ./cmd/bankgate -update)", name, err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("%s differs from its golden file (-want +got):\n%s", name, cmp.Diff(string(want), string(b)))
	}
}

// TestGolden records every endpoint's response for deterministic sandbox
// users at a fixed clock.
func TestGolden(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--sandbox-clock", "2026-03-15T10:00:00Z"}})
	appKey, appSecret := ts.newApp("golden")
	seen := map[string]bool{}
	g := func(name string, r *resp) {
		t.Helper()
		seen[name] = true
		golden(t, name, r)
	}
	g("connect_banks_get", ts.post("/v2/connect/banks/get", "", map[string]any{"appKey": appKey}))
	lr := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"})
	g("connect_login", lr)
	u := connected(t, lr)
	ex := ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
	g("auth_exchange_token", ex)
	u.Token = ex.str("accessToken")
	mfa := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_mfa", "password": "pass_good"})
	g("connect_login_mfa", mfa)

	d := func(name, path string, extra map[string]any) *resp {
		t.Helper()
		r := ts.data(path, appSecret, u, extra)
		g(name, r)
		return r
	}
	d("data_identity_get", "/v2/data/identity/get", nil)
	accts := d("data_accounts_get", "/v2/data/accounts/get", nil)
	d("data_complete_accounts_get", "/v2/data/completeAccounts/get", nil)
	list, _ := accts.Body["accounts"].([]any)
	if len(list) < 2 {
		t.Fatalf("user_good has %d accounts", len(list))
	}
	acct := list[0].(map[string]any)["id"].(string)
	other := list[1].(map[string]any)
	d("data_balance_get", "/v2/data/balance/get", map[string]any{"accountID": acct})
	month := map[string]any{"accountID": acct, "fromDate": "2026-02-01", "toDate": "2026-02-28"}
	d("data_transactions_get", "/v2/data/transactions/get", month)
	d("data_categorized_transactions_get", "/v2/data/categorizedTransactions/get", month)
	d("data_enriched_transactions_get", "/v2/data/enrichedTransactions/get", month)
	cards := d("data_cards_get", "/v2/data/cards/get", nil)
	if cl, _ := cards.Body["cards"].([]any); len(cl) > 0 {
		card := cl[0].(map[string]any)["id"].(string)
		d("data_balance_get_card", "/v2/data/balance/get", map[string]any{"cardID": card})
		d("data_transactions_get_card", "/v2/data/transactions/get", map[string]any{"cardID": card, "fromDate": "2026-02-01", "toDate": "2026-02-28"})
	} else {
		t.Fatal("user_good has no cards")
	}
	d("metadata_accounts_get", "/v2/metadata/accounts/get", nil)
	d("payment_beneficiaries_get", "/v2/payment/beneficiaries/get", nil)
	d("payment_beneficiaries_create", "/v2/payment/beneficiaries/create", map[string]any{
		"name": "Golden Payee", "iban": "AE070331234567890123456", "accountNumber": "1234567890123456", "swiftCode": "BOMLAEAD",
		"type": "local", "country": "UNITED ARAB EMIRATES", "address": map[string]any{"line1": "Street 1", "line2": "Dubai", "line3": "UAE"},
	})
	d("payment_beneficiaries_create_duplicate", "/v2/payment/beneficiaries/create", map[string]any{
		"name": "Golden Payee", "iban": "AE070331234567890123456", "accountNumber": "1234567890123456", "type": "local",
	})
	bens := d("payment_beneficiaries_get_after_create", "/v2/payment/beneficiaries/get", nil)
	var existing string
	for _, b := range bens.Body["beneficiaries"].([]any) {
		if b.(map[string]any)["name"] != "Golden Payee" {
			existing = b.(map[string]any)["id"].(string)
			break
		}
	}
	d("payment_transfer_create", "/v2/payment/transfer/create", map[string]any{"senderID": acct, "receiverID": existing, "amount": 125.5, "remark": "golden"})
	d("payment_transfer_create_insufficient", "/v2/payment/transfer/create", map[string]any{"senderID": acct, "receiverID": existing, "amount": 50000, "remark": "too much"})
	d("payment_transfer_autoflow", "/v2/payment/transfer/autoflow", map[string]any{"senderID": acct, "amount": 10, "remark": "auto",
		"Beneficiary": map[string]any{"name": "Auto Payee", "iban": "AE820090004000100000177", "address": map[string]any{}}, "bankID": sandboxBank})
	_ = other
	d("wire_beneficiaries_get", "/v2/wire/beneficiaries/get", nil)
	d("wire_beneficiaries_create", "/v2/wire/beneficiaries/create", map[string]any{"name": "Wire Payee", "accountNumber": "000123456789", "routingNumber": "021000021",
		"type": "intl", "address": map[string]any{"line1": "1 Main St", "line2": "New York", "line3": "US"}, "country": "UNITED STATES", "bankName": "JPMORGAN CHASE"})
	wb := ts.data("/v2/wire/beneficiaries/get", appSecret, u, nil)
	g("wire_beneficiaries_get_after_create", wb)
	wid := wb.Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)
	d("wire_transfer_create_cool_down", "/v2/wire/transfer/create", map[string]any{"senderID": acct, "receiverID": wid, "amount": 50, "remark": "wire"})
	g("sandbox_clock_advance", ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": appSecret, "advance": "7h"}))
	d("wire_transfer_create", "/v2/wire/transfer/create", map[string]any{"senderID": acct, "receiverID": wid, "amount": 50, "remark": "wire"})
	d("wire_transfer_autoflow", "/v2/wire/transfer/autoflow", map[string]any{"senderID": acct, "amount": 20, "remark": "wire auto",
		"beneficiary": map[string]any{"name": "Wire Auto", "accountNumber": "000987654321", "routingNumber": "026009593", "address": map[string]any{"line1": "2 Main St"}}})
	ach := d("ach_pull_create", "/v2/ach/pull/create", map[string]any{"transfer": map[string]any{"senderID": acct, "amount": 30, "description": "top up"}})
	d("ach_pull_get", "/v2/ach/pull/get", map[string]any{"operationID": ach.str("operationID")})
	tr := ts.data("/v2/payment/transfer/create", appSecret, u, map[string]any{"senderID": acct, "receiverID": existing, "amount": 1, "remark": "status"})
	g("operation_status", ts.post("/v2/operation/status", "", map[string]any{"operationID": tr.str("operationID"), "appSecret": appSecret}))
	g("operation_get", ts.post("/v2/operation/get", u.Token, map[string]any{"operationID": tr.str("operationID"), "appSecret": appSecret, "userSecret": u.UserSecret, "appKey": appKey}))
	g("batch_metadata_get", ts.data("/v2/batch/metadata/get", appSecret, u, nil))
	items := []map[string]any{
		{"type": "local", "amount": 15.5, "currency": "AED", "remark": "batch one", "beneficiary": map[string]any{"name": "Batch Payee", "iban": "AE940260001015555555555", "country": "AE", "swiftCode": "EBILAEAD"}},
		{"type": "local", "amount": 99999999, "currency": "AED", "beneficiary": map[string]any{"name": "Too Much", "iban": "AE070331234567890123456", "country": "AE", "swiftCode": "BOMLAEAD"}},
	}
	bt := d("batch_transfers_create", "/v2/batch/transfers/create", map[string]any{"senderID": acct, "type": "local", "items": items, "remark": "payroll"})
	d("batch_file_create", "/v2/batch/file/create", map[string]any{"sender": map[string]any{"iban": list[0].(map[string]any)["iban"]}, "type": "local", "items": items})
	d("batch_transfers_get", "/v2/batch/transfers/get", map[string]any{"fromDate": "2026-03-01", "toDate": "2026-03-31"})
	d("batch_items_get", "/v2/batch/items/get", map[string]any{"reference": bt.Body["details"].(map[string]any)["reference"]})
	d("users_delink_user", "/v2/users/DelinkUser", nil)
	d("data_accounts_get_delinked", "/v2/data/accounts/get", nil)

	if !*update {
		// Every golden file on disk was produced by this run.
		files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
		var stale []string
		for _, f := range files {
			if name := strings.TrimSuffix(filepath.Base(f), ".json"); !seen[name] {
				stale = append(stale, name)
			}
		}
		sort.Strings(stale)
		if len(stale) > 0 {
			t.Errorf("golden files no test produced: %v", stale)
		}
	}
}
