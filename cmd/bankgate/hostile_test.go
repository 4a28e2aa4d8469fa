package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// hostileCase is one adversarial request.
type hostileCase struct {
	name   string
	path   string
	body   []byte
	header map[string]string
}

// hostileCases generates the adversarial table: every endpoint crossed
// with wrong types, huge numbers, deep nesting, invalid UTF-8, injection
// strings, overlong fields and header abuse.
func hostileCases(token, appKey, appSecret, userSecret string) []hostileCase {
	// Endpoints with fields of their own get every hostile body; the
	// plain reads (whose only inputs are the credentials) get hostile
	// credentials below.
	paths := []string{
		"/v2/connect/login", "/v2/auth/ExchangeToken", "/v2/data/balance/get", "/v2/data/transactions/get",
		"/v2/payment/beneficiaries/create", "/v2/payment/transfer/create",
		"/v2/payment/transfer/autoflow", "/v2/wire/transfer/create", "/v2/ach/pull/create", "/v2/ach/pull/get",
		"/v2/operation/status", "/v2/sdk/apps/configs/get", "/",
		"/v2/sandbox/users/create", "/v2/sandbox/users/delete", "/v2/batch/transfers/create", "/v2/batch/file/create",
	}
	auth := `"appSecret":"` + appSecret + `","userSecret":"` + userSecret + `","appKey":"` + appKey + `"`
	payloads := []struct{ name, body string }{
		{"wrong types", `{` + auth + `,"accountID":123,"senderID":[1],"amount":"ten","fromDate":5,"bankID":{},"username":true,"accessCode":7,"operationID":9}`},
		{"huge number", `{` + auth + `,"amount":1e400,"accountID":"a"}`},
		{"huge negative", `{` + auth + `,"amount":-99999999999999999999999,"senderID":"a","receiverID":"b"}`},
		{"NaN-like", `{` + auth + `,"amount":NaN}`},
		{"deep nesting", `{` + auth + `,"beneficiary":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `}`},
		{"invalid UTF-8", "{" + auth + ",\"username\":\"\xff\xfe\xfd\",\"password\":\"\xc3\x28\",\"bankID\":\"SANDBOX_AE_ENBD\",\"name\":\"\xed\xa0\x80\"}"},
		{"SQL injection", `{` + auth + `,"accountID":"' OR '1'='1","username":"admin'--","password":"x' OR 1=1;--","bankID":"SANDBOX_AE_ENBD'; DROP TABLE tokens;--","accessCode":"' UNION SELECT * FROM tokens--","connectionID":"1; DELETE FROM apps","operationID":"x' OR 'a'='a"}`},
		{"script injection", `{` + auth + `,"name":"<script>alert(1)</script>","remark":"<img src=x onerror=alert(1)>","iban":"javascript:alert(1)","accountNumber":"{{7*7}}","bankID":"${jndi:ldap://x}"}`},
		{"overlong fields", `{` + auth + `,"accountID":"` + strings.Repeat("A", 100000) + `","username":"` + strings.Repeat("u", 50000) + `","password":"` + strings.Repeat("p", 50000) + `","bankID":"SANDBOX_AE_ENBD","operationID":"` + strings.Repeat("o", 10000) + `"}`},
		{"null bytes", "{" + auth + ",\"accountID\":\"a\\u0000b\",\"username\":\"u\\u0000\",\"password\":\"p\",\"bankID\":\"SANDBOX_AE_ENBD\"}"},
		{"duplicate keys", `{` + auth + `,"appSecret":"bgas_other","accountID":"a","accountID":"b"}`},
		{"array body", `[{` + auth + `}]`},
		{"userInputs abuse", `{` + auth + `,"operationID":"EBILAEAD:x","userInputs":[{"id":"otp","index":1e20,"answer":{}}]}`},
		{"many userInputs", `{` + auth + `,"operationID":"EBILAEAD:x","userInputs":[` + strings.TrimSuffix(strings.Repeat(`{"id":"otp","answer":"1"},`, 20000), ",") + `]}`},
		{"bad dates", `{` + auth + `,"accountID":"a","fromDate":"Invalid date","toDate":"9999-99-99"}`},
		{"reversed dates", `{` + auth + `,"accountID":"a","fromDate":"2026-02-01","toDate":"2020-01-01"}`},
		{"action traversal", `{` + auth + `,"action":"/../../admin","tokenID":"../../etc/passwd"}`},
	}
	var cases []hostileCase
	for _, p := range paths {
		for _, pl := range payloads {
			cases = append(cases, hostileCase{name: pl.name + " " + p, path: p, body: []byte(pl.body), header: map[string]string{"Authorization": "Bearer " + token}})
		}
	}
	reads := []string{"/v2/connect/banks/get", "/v2/data/identity/get", "/v2/data/accounts/get", "/v2/data/cards/get", "/v2/metadata/accounts/get", "/v2/wire/beneficiaries/get"}
	creds := []struct{ name, body string }{
		{"credentials wrong types", `{"appKey":["x"],"appSecret":{"a":1},"userSecret":12}`},
		{"credentials SQL", `{"appKey":"' OR 1=1--","appSecret":"' OR '1'='1","userSecret":"x'; DROP TABLE tokens;--"}`},
		{"credentials overlong", `{"appKey":"` + strings.Repeat("k", 100000) + `","appSecret":"` + strings.Repeat("s", 100000) + `","userSecret":"` + strings.Repeat("u", 100000) + `"}`},
		{"credentials invalid UTF-8", "{\"appKey\":\"\xff\xfe\",\"appSecret\":\"bgas_\xc3\x28\",\"userSecret\":\"\xed\xa0\x80\"}"},
		{"credentials swapped", `{"appKey":"` + appSecret + `","appSecret":"` + userSecret + `","userSecret":"` + appSecret + `"}`},
		{"credentials huge numbers", `{"appKey":1e400,"appSecret":-1e400,"userSecret":1e-400}`},
	}
	for _, p := range reads {
		for _, cr := range creds {
			cases = append(cases, hostileCase{name: cr.name + " " + p, path: p, body: []byte(cr.body), header: map[string]string{"Authorization": "Bearer " + token}})
		}
	}
	headers := []struct {
		name string
		h    map[string]string
	}{
		{"bearer garbage", map[string]string{"Authorization": "Bearer " + strings.Repeat("x", 8000)}},
		{"basic auth", map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}},
		{"bearer only", map[string]string{"Authorization": "Bearer"}},
		{"token with CRLF-like bytes", map[string]string{"Authorization": "Bearer bgat_\t" + strings.Repeat("A", 42)}},
		{"wrong content type", map[string]string{"Content-Type": "text/html", "Authorization": "Bearer " + token}},
		{"huge content type", map[string]string{"Content-Type": strings.Repeat("a/b;", 2000), "Authorization": "Bearer " + token}},
		{"bad idempotency key", map[string]string{"Idempotency-Key": strings.Repeat("k", 300), "Authorization": "Bearer " + token}},
		{"forwarded spoof", map[string]string{"X-Forwarded-For": "1.2.3.4, ' OR 1=1", "X-Real-IP": "<script>", "Authorization": "Bearer " + token}},
		{"host header", map[string]string{"Host-Override": "dd.dapi.com", "Authorization": "Bearer " + token}},
	}
	for _, p := range []string{"/v2/payment/transfer/create", "/v2/auth/ExchangeToken", "/v2/data/balance/get"} {
		for _, h := range headers {
			cases = append(cases, hostileCase{name: h.name + " " + p, path: p, header: h.h,
				body: []byte(`{` + auth + `,"senderID":"x","amount":1,"receiverID":"y","accessCode":"bgac_x","connectionID":"c"}`)})
		}
	}
	return cases
}

// TestHostileInput sends the generated table of adversarial requests (at
// least 100): each is answered by a Dapi envelope with a 4xx status; none
// gets a 2xx, a 5xx, a panic, or a non-JSON body.
func TestHostileInput(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--sandbox-clock", "2026-03-15T10:00:00Z"}})
	appKey, appSecret := ts.newApp("hostile")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	cases := hostileCases(u.Token, appKey, appSecret, u.UserSecret)
	if len(cases) < 100 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	statuses := map[int]int{}
	for i, tc := range cases {
		// Keep the rate limiter from answering everything with 429: the
		// point is each handler's answer.
		if i%50 == 0 {
			ts.Clock.Advance(10 * 60e9)
		}
		req, _ := http.NewRequest("POST", ts.URL+tc.path, bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var env map[string]any
		dec := json.NewDecoder(res.Body)
		derr := dec.Decode(&env)
		res.Body.Close()
		statuses[res.StatusCode]++
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("%s: status %d, want a 4xx; body %v", tc.name, res.StatusCode, env)
			continue
		}
		if derr != nil || env["success"] != false || env["status"] != "failed" || env["type"] == "" || env["msg"] == "" {
			t.Errorf("%s: status %d with a bad envelope: %v (%v)", tc.name, res.StatusCode, env, derr)
		}
		if msg, _ := env["msg"].(string); strings.Contains(msg, "sql") || strings.Contains(msg, "goroutine") || strings.Contains(msg, ".go:") {
			t.Errorf("%s: internal detail in msg: %q", tc.name, msg)
		}
	}
	t.Logf("%d hostile requests; statuses %v", len(cases), statuses)

	if strings.Contains(ts.Stderr.String(), "panic") {
		t.Fatal("the server panicked")
	}
	// The server still works, and the user's data is intact.
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
}
