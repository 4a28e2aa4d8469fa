package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadInput: every client mistake gets a Dapi envelope with the right
// status and type, never a 500, a panic or an HTML page.
func TestBadInput(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("bad")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	fresh := ts.login(appKey, "user_good")
	big := `{"appKey":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name   string
		path   string
		token  string
		body   string
		status int
		typ    string
	}{
		{"body over 1 MiB", "/v2/connect/banks/get", "", big, 413, "PARAMETER_ERROR"},
		{"not JSON", "/v2/connect/banks/get", "", `appKey=x`, 400, "PARAMETER_ERROR"},
		{"empty body", "/v2/connect/banks/get", "", ``, 400, "PARAMETER_ERROR"},
		{"truncated JSON", "/v2/auth/ExchangeToken", "", `{"appSecret":"x"`, 400, "PARAMETER_ERROR"},
		{"JSON array", "/v2/connect/banks/get", "", `[1,2]`, 400, "PARAMETER_ERROR"},
		{"JSON string", "/v2/connect/banks/get", "", `"hello"`, 400, "PARAMETER_ERROR"},
		{"trailing garbage", "/v2/connect/banks/get", "", `{"appKey":"` + appKey + `"} x`, 400, "PARAMETER_ERROR"},
		{"missing appKey", "/v2/connect/banks/get", "", `{}`, 422, "PARAMETER_MISSING"},
		{"empty appKey", "/v2/connect/banks/get", "", `{"appKey":""}`, 422, "PARAMETER_MISSING"},
		{"appKey wrong type", "/v2/connect/banks/get", "", `{"appKey":42}`, 400, "PARAMETER_ERROR"},
		{"countries wrong type", "/v2/connect/banks/get", "", `{"appKey":"` + appKey + `","countries":{"a":1}}`, 400, "PARAMETER_ERROR"},
		{"login missing bankID", "/v2/connect/login", "", `{"appKey":"` + appKey + `","username":"u","password":"p"}`, 422, "PARAMETER_MISSING"},
		{"login missing password", "/v2/connect/login", "", `{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","username":"u"}`, 422, "PARAMETER_MISSING"},
		{"login password as number", "/v2/connect/login", "", `{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","username":"u","password":123}`, 400, "PARAMETER_ERROR"},
		{"login resume without inputs", "/v2/connect/login", "", `{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","operationID":"X:1","userInputs":[]}`, 422, "PARAMETER_MISSING"},
		{"login unknown operation", "/v2/connect/login", "", `{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","operationID":"X:1","userInputs":[{"id":"otp","answer":"1"}]}`, 400, "INVALID_OPERATION_ID"},
		{"userInputs index fractional", "/v2/connect/login", "", `{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","operationID":"X:1","userInputs":[{"id":"otp","index":0.5,"answer":"1"}]}`, 400, "PARAMETER_ERROR"},
		{"userInputs wrong type", "/v2/connect/login", "", `{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","operationID":"X:1","userInputs":"otp"}`, 400, "PARAMETER_ERROR"},
		{"overlong username", "/v2/connect/login", "", `{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","username":"` + strings.Repeat("u", 300) + `","password":"p"}`, 400, "PARAMETER_ERROR"},
		{"exchange missing accessCode", "/v2/auth/ExchangeToken", "", `{"appSecret":"` + appSecret + `","connectionID":"c"}`, 422, "PARAMETER_MISSING"},
		{"exchange missing connectionID", "/v2/auth/ExchangeToken", "", `{"appSecret":"` + appSecret + `","accessCode":"c"}`, 422, "PARAMETER_MISSING"},
		{"exchange missing appSecret", "/v2/auth/ExchangeToken", "", `{"accessCode":"` + fresh.AccessCode + `","connectionID":"` + fresh.ConnectionID + `"}`, 401, "INVALID_APP_CREDENTIALS"},
		{"exchange accessCode wrong type", "/v2/auth/ExchangeToken", "", `{"appSecret":"` + appSecret + `","accessCode":["x"],"connectionID":"c"}`, 400, "PARAMETER_ERROR"},
		{"exchange garbage code", "/v2/auth/ExchangeToken", "", `{"appSecret":"` + appSecret + `","accessCode":"' OR 1=1 --","connectionID":"c"}`, 401, "INVALID_ACCESS_CODE"},
		{"exchange huge number", "/v2/auth/ExchangeToken", "", `{"appSecret":"` + appSecret + `","accessCode":1e999,"connectionID":"c"}`, 400, "PARAMETER_ERROR"},
		{"data appSecret wrong type", "/v2/data/accounts/get", u.Token, `{"appSecret":true,"userSecret":"` + u.UserSecret + `"}`, 400, "PARAMETER_ERROR"},
		{"data operationID wrong type", "/v2/data/accounts/get", u.Token, `{"appSecret":"` + appSecret + `","userSecret":"` + u.UserSecret + `","operationID":5}`, 400, "PARAMETER_ERROR"},
		{"data unknown operation", "/v2/data/accounts/get", u.Token, `{"appSecret":"` + appSecret + `","userSecret":"` + u.UserSecret + `","operationID":"NOPE:1","userInputs":[{"id":"otp","answer":"1"}]}`, 400, "INVALID_OPERATION_ID"},
		{"unknown endpoint", "/v2/data/nothing/get", "", `{}`, 404, "ENDPOINT_NOT_FOUND"},
		{"root of API", "/v2", "", `{}`, 404, "ENDPOINT_NOT_FOUND"},
		{"deep nesting", "/v2/connect/banks/get", "", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), 400, "PARAMETER_ERROR"},
		{"deep nesting in field", "/v2/connect/banks/get", "", `{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, 400, "PARAMETER_ERROR"},
		{"endpoint not served yet", "/v2/nymcard/funds/load", "", `{}`, 501, "NOT_IMPLEMENTED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantFail(t, ts.post(tc.path, tc.token, tc.body), tc.status, tc.typ)
		})
	}

	// Accepted variations: unknown fields ignored; "", [] and absent
	// operationID/userInputs alike; media-type parameters; case and
	// slashes in paths.
	ok := []struct {
		name, path, body string
	}{
		{"unknown fields", "/v2/data/accounts/get", `{"appSecret":"` + appSecret + `","userSecret":"` + u.UserSecret + `","action":"/data/accounts/get","bundleID":"x","UserExtraBody":{"a":[1]}}`},
		{"empty operationID and inputs", "/v2/data/accounts/get", `{"appSecret":"` + appSecret + `","userSecret":"` + u.UserSecret + `","operationID":"","userInputs":[]}`},
		{"null operationID", "/v2/data/accounts/get", `{"appSecret":"` + appSecret + `","userSecret":"` + u.UserSecret + `","operationID":null,"userInputs":null}`},
		{"path case", "/V2/DATA/ACCOUNTS/GET", `{"appSecret":"` + appSecret + `","userSecret":"` + u.UserSecret + `"}`},
		{"double slashes", "//v2//data/identity/get/", `{"appSecret":"` + appSecret + `","userSecret":"` + u.UserSecret + `"}`},
		{"no v2 prefix", "/data/identity/get", `{"appSecret":"` + appSecret + `","userSecret":"` + u.UserSecret + `"}`},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			req.Header.Set("Authorization", "Bearer "+u.Token)
			wantOK(t, do(t, req))
		})
	}

	t.Run("GET on an API route", func(t *testing.T) {
		req, _ := http.NewRequest("GET", ts.URL+"/v2/data/accounts/get", nil)
		r := do(t, req)
		wantFail(t, r, 405, "METHOD_NOT_ALLOWED")
		if r.Header.Get("Allow") != "POST" {
			t.Errorf("Allow = %q", r.Header.Get("Allow"))
		}
	})
	t.Run("health", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			res, err := http.Get(ts.URL + p)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("%s: %v %v", p, res, err)
			}
			res.Body.Close()
		}
	})
	if strings.Contains(ts.Stderr.String(), "panic") {
		t.Fatalf("server panicked:\n%s", ts.Stderr.String())
	}
}
