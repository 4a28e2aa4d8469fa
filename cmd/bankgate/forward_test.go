package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestForwarding plays client SDK → app backend → bankgate through the
// SDK-forwarding endpoint: the backend adds only its appSecret, the
// client never holds the access token.
func TestForwarding(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("dd")
	u := ts.login(appKey, "user_good")
	// What the app backend forwards: the client's body plus appSecret.
	fwd := func(path string, body map[string]any) *resp {
		body["appSecret"] = appSecret
		return ts.post(path, "", body)
	}
	r := fwd("/", map[string]any{"action": "/auth/ExchangeToken", "appKey": appKey, "accessCode": u.AccessCode, "connectionID": u.ConnectionID, "tokenID": u.TokenID, "userID": u.UserID})
	wantOK(t, r)
	if _, has := r.Body["accessToken"]; has {
		t.Fatalf("forwarded exchange leaked the access token: %s", r.Raw)
	}
	if r.str("tokenID") != u.TokenID || r.str("userID") != u.UserID {
		t.Fatalf("forwarded exchange = %s", r.Raw)
	}
	for _, action := range []string{"/data/accounts/get", "data/identity/get", "/DATA/ACCOUNTS/GET"} {
		r = fwd("/", map[string]any{"action": action, "tokenID": u.TokenID, "userID": u.UserID, "userSecret": u.UserSecret, "appKey": appKey, "UserExtraBody": map[string]any{"x": 1}})
		wantOK(t, r)
	}
	r = fwd("/dd/", map[string]any{"action": "/data/accounts/get", "tokenID": u.TokenID, "userSecret": u.UserSecret})
	wantOK(t, r)
	// The same checks as the direct API.
	wantFail(t, ts.post("/", "", map[string]any{"action": "/data/accounts/get", "tokenID": u.TokenID, "userSecret": u.UserSecret, "appSecret": "bgas_wrong"}), 401, "INVALID_APP_CREDENTIALS")
	wantFail(t, fwd("/", map[string]any{"action": "/data/accounts/get", "tokenID": u.TokenID, "userSecret": "bgus_wrong"}), 401, "INVALID_USER_SECRET")
	wantFail(t, fwd("/", map[string]any{"action": "/data/accounts/get", "tokenID": "nope", "userSecret": u.UserSecret}), 401, "INVALID_TOKEN")
	wantFail(t, fwd("/", map[string]any{"action": "/nothing/here"}), 404, "ENDPOINT_NOT_FOUND")
	wantFail(t, fwd("/", map[string]any{}), 422, "PARAMETER_MISSING")
	// Delink through the forwarder; the tokenID stops working (with the
	// one error every tokenID that cannot be used answers).
	wantOK(t, fwd("/", map[string]any{"action": "users/DelinkUser", "tokenID": u.TokenID, "userSecret": u.UserSecret}))
	wantFail(t, fwd("/", map[string]any{"action": "/data/accounts/get", "tokenID": u.TokenID, "userSecret": u.UserSecret}), 401, "INVALID_TOKEN")

	// A transfer with MFA, client SDK → app backend → bankgate, by tokenID.
	m := ts.login(appKey, "user_transfer_mfa")
	wantOK(t, fwd("/", map[string]any{"action": "/auth/ExchangeToken", "accessCode": m.AccessCode, "connectionID": m.ConnectionID, "tokenID": m.TokenID}))
	base := func(extra map[string]any) map[string]any {
		b := map[string]any{"tokenID": m.TokenID, "userID": m.UserID, "userSecret": m.UserSecret}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	r = fwd("/", base(map[string]any{"action": "/data/accounts/get"}))
	wantOK(t, r)
	acct := r.Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
	r = fwd("/", base(map[string]any{"action": "/payment/beneficiaries/get"}))
	wantOK(t, r)
	ben := r.Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)
	transfer := map[string]any{"action": "/payment/transfer/create", "senderID": acct, "receiverID": ben, "amount": 12.5, "remark": "via backend"}
	r = fwd("/", base(transfer))
	if r.Body["status"] != "user_input_required" {
		t.Fatalf("forwarded transfer did not ask for the OTP: %s", r.Raw)
	}
	op := r.str("operationID")
	resume := base(transfer)
	resume["operationID"] = op
	resume["userInputs"] = []map[string]any{{"id": "otp", "index": 0, "answer": "123456"}}
	r = fwd("/", resume)
	wantOK(t, r)
	if r.str("reference") == "" || r.str("operationID") != op {
		t.Fatalf("forwarded transfer resume = %s", r.Raw)
	}
	st := fwd("/", map[string]any{"action": "/operation/status", "operationID": op})
	wantOK(t, st)
	if st.Body["opInfo"].(map[string]any)["status"] != "done" {
		t.Fatalf("operation status = %s", st.Raw)
	}
	wantOK(t, fwd("/", base(map[string]any{"action": "/users/DelinkUser"})))
	wantFail(t, fwd("/", base(map[string]any{"action": "/data/accounts/get"})), 401, "INVALID_TOKEN")
}

// TestForwardingScope: a tokenID names only a token its app exchanged
// through forwarding, the appSecret is checked before anything about the
// token is revealed, and an app can turn forwarding off. Before, a token
// exchanged directly worked by tokenID with no bearer, and POST / with
// only a tokenID told unknown, existing and delinked tokens apart.
func TestForwardingScope(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("scope")
	_, otherSecret := ts.newApp("other")
	direct := ts.login(appKey, "user_good")
	ts.exchange(appSecret, direct) // exchanged directly: bearer only
	fwdUser := ts.login(appKey, "user_good")
	wantOK(t, ts.post("/", "", map[string]any{"action": "/auth/ExchangeToken", "appSecret": appSecret, "accessCode": fwdUser.AccessCode, "connectionID": fwdUser.ConnectionID}))
	delinked := ts.login(appKey, "user_good")
	wantOK(t, ts.post("/", "", map[string]any{"action": "/auth/ExchangeToken", "appSecret": appSecret, "accessCode": delinked.AccessCode, "connectionID": delinked.ConnectionID}))
	wantOK(t, ts.post("/", "", map[string]any{"action": "users/DelinkUser", "appSecret": appSecret, "tokenID": delinked.TokenID, "userSecret": delinked.UserSecret}))

	call := func(sec string, u *user) *resp {
		body := map[string]any{"action": "/data/identity/get", "tokenID": u.TokenID, "userSecret": u.UserSecret}
		if sec != "" {
			body["appSecret"] = sec
		}
		return ts.post("/", "", body)
	}
	wantOK(t, call(appSecret, fwdUser))
	wantFail(t, call(appSecret, direct), 401, "INVALID_TOKEN")
	wantFail(t, call(otherSecret, fwdUser), 401, "INVALID_TOKEN")
	wantFail(t, call(appSecret, delinked), 401, "INVALID_TOKEN")
	wantFail(t, call(appSecret, &user{TokenID: "01a00000-0000-7000-8000-000000000000", UserSecret: fwdUser.UserSecret}), 401, "INVALID_TOKEN")
	// No oracle without the appSecret: every tokenID answers the same.
	for _, u := range []*user{fwdUser, direct, delinked, {TokenID: "unknown", UserSecret: "x"}} {
		wantFail(t, call("", u), 401, "INVALID_APP_CREDENTIALS")
	}
	// The direct token still works with its bearer.
	wantOK(t, ts.data("/v2/data/identity/get", appSecret, direct, nil))

	// An app that turns forwarding off: forwarded calls and exchanges are
	// refused, bearer calls are not.
	appsSet(t, ts, appKey, "--forwarding", "off")
	ts.Clock.Advance(2e9) // past the app cache
	wantFail(t, call(appSecret, fwdUser), 401, "INVALID_TOKEN")
	late := ts.login(appKey, "user_good")
	wantFail(t, ts.post("/", "", map[string]any{"action": "/auth/ExchangeToken", "appSecret": appSecret, "accessCode": late.AccessCode, "connectionID": late.ConnectionID}), 400, "BAD_REQUEST")
	wantOK(t, ts.data("/v2/data/identity/get", appSecret, direct, nil))
	appsSet(t, ts, appKey, "--forwarding", "on")
	ts.Clock.Advance(2e9)
	wantOK(t, call(appSecret, fwdUser))
}

// TestForwardingGzip plays dapi-go's forwarder (HandleSDKDapiRequests:
// the client's headers, Accept-Encoding: gzip included, copied onto its
// request to bankgate, which makes Go's transport leave the answer as it
// comes; the body handed back without Content-Encoding): the client still
// gets JSON. A direct call by Go's http client (which asks for gzip on
// its own and gunzips) gets the large answer gzipped and reads it.
func TestForwardingGzip(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("ddgzip")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	acct := ts.data("/v2/data/accounts/get", appSecret, u, nil).Body["accounts"].([]any)[0].(map[string]any)["id"].(string)

	backend := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			t.Errorf("backend: %v", err)
			return
		}
		body["appSecret"] = appSecret
		b, _ := json.Marshal(body)
		out, _ := http.NewRequest(http.MethodPost, ts.URL+"/", bytes.NewReader(b))
		for k, v := range req.Header {
			out.Header[k] = v
		}
		out.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Errorf("backend: %v", err)
			return
		}
		defer res.Body.Close()
		rb, _ := io.ReadAll(res.Body)
		rw.WriteHeader(http.StatusOK)
		rw.Write(rb)
	}))
	defer backend.Close()

	clientBody := `{"action":"/data/transactions/get","tokenID":"` + u.TokenID + `","userSecret":"` + u.UserSecret + `","accountID":"` + acct + `","fromDate":"2025-09-15","toDate":"2026-03-15"}`
	req, _ := http.NewRequest(http.MethodPost, backend.URL, strings.NewReader(clientBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip") // as OkHttp and browsers send it
	req.Header.Set("Authorization", "Bearer "+u.Token)
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil || env["success"] != true || len(raw) < 1024 {
		t.Fatalf("forwarded transactions (%d bytes) are not a JSON success: %v %.200q", len(raw), err, raw)
	}

	// Direct: Go's client asks for gzip itself and gunzips.
	direct, _ := http.NewRequest(http.MethodPost, ts.URL+"/v2/data/transactions/get", strings.NewReader(`{"appSecret":"`+appSecret+`","userSecret":"`+u.UserSecret+`","accountID":"`+acct+`","fromDate":"2025-09-15","toDate":"2026-03-15"}`))
	direct.Header.Set("Content-Type", "application/json")
	direct.Header.Set("Authorization", "Bearer "+u.Token)
	res, err = http.DefaultClient.Do(direct)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !res.Uncompressed || json.Unmarshal(raw, &env) != nil || env["success"] != true {
		t.Fatalf("direct: gunzipped by the client %v, %.200q", res.Uncompressed, raw)
	}
}
