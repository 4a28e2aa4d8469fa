package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// hook is one delivery a test receiver got, verified and decrypted.
type hook struct {
	ID        string // webhook-id
	Type      string
	Data      map[string]any
	Private   map[string]any // encryptedData, decrypted
	Timestamp time.Time      // the event's
	Received  time.Time
	Signature string
}

// hookReceiver is an app backend on 127.0.0.1 receiving webhooks: it
// verifies every delivery with the svix library (as Dapi's
// utils.VerifyWebhook does), decrypts encryptedData with the steps of
// Dapi's utils.DecryptWebhookData, and answers status after delay.
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	// secrets verify deliveries (any one must); key decrypts them.
	secrets []string
	key     string
	status  int
	delay   time.Duration
	got     []hook
	failed  []string
	// inFlight counts concurrent deliveries of each webhook-id.
	inFlight map[string]int
	overlaps []string
	// anyTime skips svix's timestamp check, for servers on a fake clock.
	anyTime bool
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t, status: 200, inFlight: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) URL() string { return r.srv.URL + "/webhooks/bankgate" }

func (r *hookReceiver) setKeys(secrets []string, key string) {
	r.mu.Lock()
	r.secrets, r.key = secrets, key
	r.mu.Unlock()
}

func (r *hookReceiver) set(status int, delay time.Duration) {
	r.mu.Lock()
	r.status, r.delay = status, delay
	r.mu.Unlock()
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	r.inFlight[id]++
	if r.inFlight[id] > 1 {
		r.overlaps = append(r.overlaps, id)
	}
	secrets, key, status, delay := r.secrets, r.key, r.status, r.delay
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight[id]--
		r.mu.Unlock()
	}()
	h, err := verifyHook(secrets, key, body, req.Header, r.anyTime)
	if err != nil {
		r.mu.Lock()
		r.failed = append(r.failed, fmt.Sprintf("%s: %v", id, err))
		r.mu.Unlock()
		http.Error(w, err.Error(), 400)
		return
	}
	time.Sleep(delay)
	if status/100 == 2 {
		h.Received = time.Now()
		r.mu.Lock()
		r.got = append(r.got, *h)
		r.mu.Unlock()
	}
	w.WriteHeader(status)
}

// verifyHook checks a delivery as an app backend using Dapi's helpers
// would: the svix signature under one of secrets (with the timestamp
// tolerance), the svix-* and webhook-* headers alike, and encryptedData
// decrypted AES-CFB with the IV prefix.
func verifyHook(secrets []string, key string, body []byte, header http.Header, anyTime bool) (*hook, error) {
	var verr error = fmt.Errorf("no secret")
	for _, s := range secrets {
		wh, err := svix.NewWebhook(s)
		if err != nil {
			return nil, err
		}
		verify := wh.Verify
		if anyTime {
			verify = wh.VerifyIgnoringTimestamp
		}
		if verr = verify(body, header); verr == nil {
			break
		}
	}
	if verr != nil {
		return nil, fmt.Errorf("svix: %w", verr)
	}
	for _, n := range []string{"id", "timestamp", "signature"} {
		if header.Get("svix-"+n) != header.Get("webhook-"+n) {
			return nil, fmt.Errorf("svix-%s differs from webhook-%s", n, n)
		}
	}
	var b struct {
		ID            string         `json:"id"`
		Type          string         `json:"type"`
		Timestamp     time.Time      `json:"timestamp"`
		Data          map[string]any `json:"data"`
		EncryptedData string         `json:"encryptedData"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	if b.ID != header.Get("webhook-id") || b.Type == "" || b.Timestamp.IsZero() || b.Data == nil {
		return nil, fmt.Errorf("body %s", body)
	}
	plain, err := dapiDecryptWebhookData(key, b.EncryptedData)
	if err != nil {
		return nil, err
	}
	h := &hook{ID: b.ID, Type: b.Type, Data: b.Data, Timestamp: b.Timestamp, Signature: header.Get("webhook-signature")}
	if err := json.Unmarshal(plain, &h.Private); err != nil {
		return nil, fmt.Errorf("decrypted %q: %v", plain, err)
	}
	return h, nil
}

// dapiDecryptWebhookData is Dapi's Go SDK utils.DecryptWebhookData's
// steps: base64-decode the key and the data, the first 16 bytes are the
// IV, AES-CFB-decrypt the rest.
func dapiDecryptWebhookData(aesKey, encryptedData string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(aesKey)
	if err != nil {
		return nil, err
	}
	data, err := base64.StdEncoding.DecodeString(encryptedData)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(data) < aes.BlockSize {
		return nil, fmt.Errorf("ciphertext too short")
	}
	iv := data[:aes.BlockSize]
	data = data[aes.BlockSize:]
	cipher.NewCFBDecrypter(block, iv).XORKeyStream(data, data) //nolint:staticcheck // Dapi's mode
	return data, nil
}

// busy reports whether a delivery is being received now.
func (r *hookReceiver) busy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.inFlight {
		if n > 0 {
			return true
		}
	}
	return false
}

func (r *hookReceiver) hooks() []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *hookReceiver) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failed) > 0 {
		t.Fatalf("deliveries that did not verify: %v", r.failed)
	}
	if len(r.overlaps) > 0 {
		t.Fatalf("deliveries of one webhook-id at once: %v", r.overlaps)
	}
}

// waitFor waits until the receiver has a delivery of each of ids.
func (r *hookReceiver) waitFor(t *testing.T, limit time.Duration, ids ...string) []hook {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := map[string]hook{}
		for _, h := range r.hooks() {
			got[h.ID] = h
		}
		var out []hook
		for _, id := range ids {
			if h, ok := got[id]; ok {
				out = append(out, h)
			}
		}
		if len(out) == len(ids) {
			return out
		}
		if time.Now().After(deadline) {
			r.check(t)
			t.Fatalf("%d of %d webhooks delivered in %v", len(out), len(ids), limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitType waits for a delivery of type typ after the first skip and
// returns it.
func (r *hookReceiver) waitType(t *testing.T, typ string, skip int) hook {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		hs := r.hooks()
		for _, h := range hs[min(skip, len(hs)):] {
			if h.Type == typ {
				return h
			}
		}
		if time.Now().After(deadline) {
			r.check(t)
			t.Fatalf("no %s webhook in 10 s", typ)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cli runs a bankgate command on the server's data dir and returns its
// stdout.
func (ts *testServer) cli(args ...string) string {
	ts.t.Helper()
	var out, errb syncBuffer
	if err := run(context.Background(), append(args, "--data-dir", ts.DataDir), func(string) string { return "" }, &out, &errb); err != nil {
		ts.t.Fatalf("bankgate %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// webhookKeys runs `apps webhook-keys --json` and checks it prints
// exactly one JSON object of the two keys.
func webhookKeysJSON(t *testing.T, out string) (secret, key string) {
	t.Helper()
	var v map[string]string
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&v); err != nil || dec.More() || len(v) != 2 {
		t.Fatalf("apps webhook-keys --json printed %q (%v), want one object of two keys", out, err)
	}
	if !strings.HasPrefix(v["signingSecret"], "whsec_") {
		t.Fatalf("signingSecret %q", v["signingSecret"])
	}
	if raw, err := base64.StdEncoding.DecodeString(v["encryptionKey"]); err != nil || len(raw) != 32 {
		t.Fatalf("encryptionKey %q is not base64 of 32 bytes", v["encryptionKey"])
	}
	return v["signingSecret"], v["encryptionKey"]
}

// hookTo points the app's webhooks at rcv, which then verifies and
// decrypts them with the app's keys.
func (ts *testServer) hookTo(rcv *hookReceiver, appKey string) {
	ts.t.Helper()
	ts.cli("apps", "set", "--app-key", appKey, "--webhook-url", rcv.URL())
	secret, key := webhookKeysJSON(ts.t, ts.cli("apps", "webhook-keys", "--app-key", appKey, "--json"))
	rcv.setKeys([]string{secret}, key)
}

// dataKeys are the fields each event type's data has (docs/webhooks.md),
// and privateKeys those of its decrypted encryptedData.
var dataKeys = map[string][]string{
	"transfer.done":       {"bankID", "connectionID", "operationID", "reference"},
	"transfer.failed":     {"bankID", "connectionID", "errorType", "operationID", "reference"},
	"ach_pull.done":       {"bankID", "connectionID", "operationID", "reference"},
	"ach_pull.failed":     {"bankID", "connectionID", "errorType", "operationID", "reference"},
	"connection.delinked": {"bankID", "connectionID"},
	"tokens.revoked":      {"connectionID", "count", "scope"},
	"access_code.reused":  {"connectionID", "revokedTokens"},
	"beneficiary.active":  {"bankID", "beneficiaryID", "connectionID", "operationID"},
}

var privateKeys = map[string][]string{
	"transfer.done":       {"amount", "currency", "endpoint"},
	"transfer.failed":     {"endpoint", "msg"},
	"ach_pull.done":       {"amount", "description", "senderID"},
	"ach_pull.failed":     {"amount", "description", "msg", "senderID"},
	"connection.delinked": {"clientUserID", "delinkedAt"},
	"tokens.revoked":      {"reason", "tokenIDs"},
	"access_code.reused":  {"reason", "tokenIDs"},
	"beneficiary.active":  {"accountNumber", "activeAt", "iban", "name"},
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkShape(t *testing.T, h hook) {
	t.Helper()
	if got := keysOf(h.Data); !slices.Equal(got, dataKeys[h.Type]) {
		t.Errorf("%s data keys %v, want %v", h.Type, got, dataKeys[h.Type])
	}
	if got := keysOf(h.Private); !slices.Equal(got, privateKeys[h.Type]) {
		t.Errorf("%s decrypted keys %v, want %v", h.Type, got, privateKeys[h.Type])
	}
}

// TestWebhooks: every event type, fired from the sandbox and made by real
// calls, reaches a receiver on 127.0.0.1 signed so that svix verifies it,
// with encryptedData that Dapi's steps decrypt; keys rotate with an
// overlap; the CLI and the admin API list and redeliver.
func TestWebhooks(t *testing.T) {
	ts := startAdminServer(t, serverOpts{realClock: true})
	rcv := newHookReceiver(t)
	appKey, appSecret := ts.newApp("hooks")

	// No URL yet: the sandbox says so.
	wantFail(t, ts.post("/v2/sandbox/webhooks/fire", "", map[string]any{"appSecret": appSecret, "type": "transfer.done"}), 400, "PARAMETER_ERROR")

	out := ts.cli("apps", "set", "--app-key", appKey, "--webhook-url", rcv.URL())
	if !strings.Contains(out, "webhook URL:     "+rcv.URL()) {
		t.Fatalf("apps set printed %q", out)
	}
	secret, key := webhookKeysJSON(t, ts.cli("apps", "webhook-keys", "--app-key", appKey, "--json"))
	if s2, k2 := webhookKeysJSON(t, ts.cli("apps", "webhook-keys", "--app-key", appKey, "--json")); s2 != secret || k2 != key {
		t.Fatal("webhook-keys without --rotate changed the keys")
	}
	if strings.Contains(ts.Stderr.String(), secret) || strings.Contains(ts.Stderr.String(), key) {
		t.Fatal("the server logged a webhook key")
	}
	rcv.setKeys([]string{secret}, key)

	t.Run("every type fired from the sandbox", func(t *testing.T) {
		var ids []string
		for _, typ := range []string{"transfer.done", "transfer.failed", "ach_pull.done", "ach_pull.failed", "connection.delinked",
			"tokens.revoked", "access_code.reused", "beneficiary.active"} {
			r := ts.post("/v2/sandbox/webhooks/fire", "", map[string]any{"appSecret": appSecret, "type": typ})
			wantOK(t, r)
			if r.str("eventType") != typ || !strings.HasPrefix(r.str("webhookID"), "msg_") {
				t.Fatalf("fire %s: %s", typ, r.Raw)
			}
			ids = append(ids, r.str("webhookID"))
		}
		hs := rcv.waitFor(t, 10*time.Second, ids...)
		for i, h := range hs {
			if i > 0 && h.Received.Before(hs[i-1].Received) {
				t.Errorf("%s arrived before %s: one connection's events out of order", h.Type, hs[i-1].Type)
			}
			checkShape(t, h)
		}
		wantFail(t, ts.post("/v2/sandbox/webhooks/fire", "", map[string]any{"appSecret": appSecret, "type": "nope"}), 400, "PARAMETER_ERROR")
		wantFail(t, ts.post("/v2/sandbox/webhooks/fire", "", map[string]any{"appSecret": "bgas_nope", "type": "transfer.done"}), 401, "INVALID_APP_CREDENTIALS")
	})

	t.Run("real events", func(t *testing.T) {
		u := ts.login(appKey, "user_good")
		ts.exchange(appSecret, u)
		acct := ts.data("/v2/data/accounts/get", appSecret, u, nil).Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
		ben := ts.data("/v2/payment/beneficiaries/get", appSecret, u, nil).Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)

		n := len(rcv.hooks())
		r := ts.data("/v2/payment/transfer/create", appSecret, u, map[string]any{"senderID": acct, "receiverID": ben, "amount": 12.5, "remark": "hook"})
		wantOK(t, r)
		h := rcv.waitType(t, "transfer.done", n)
		checkShape(t, h)
		if h.Data["operationID"] != r.str("operationID") || h.Data["reference"] != r.str("reference") || h.Data["connectionID"] != u.ConnectionID ||
			h.Private["amount"] != 12.5 || h.Private["currency"] != "AED" {
			t.Fatalf("transfer.done %v %v for %s", h.Data, h.Private, r.Raw)
		}

		n = len(rcv.hooks())
		r = ts.data("/v2/payment/transfer/create", appSecret, u, map[string]any{"senderID": acct, "receiverID": ben, "amount": 1e9})
		if r.Body["success"] != false {
			t.Fatalf("a transfer of 1e9: %s", r.Raw)
		}
		h = rcv.waitType(t, "transfer.failed", n)
		checkShape(t, h)
		if h.Data["errorType"] != r.str("type") || h.Data["operationID"] == "" {
			t.Fatalf("transfer.failed %v for %s", h.Data, r.Raw)
		}

		n = len(rcv.hooks())
		r = ts.data("/v2/ach/pull/create", appSecret, u, map[string]any{"transfer": map[string]any{"senderID": acct, "amount": 30, "description": "top up"}})
		wantOK(t, r)
		h = rcv.waitType(t, "ach_pull.done", n)
		checkShape(t, h)
		if h.Data["operationID"] != r.str("operationID") || h.Data["reference"] != r.str("operationID") || h.Private["amount"] != 30.0 || h.Private["description"] != "top up" {
			t.Fatalf("ach_pull.done %v %v for %s", h.Data, h.Private, r.Raw)
		}
		n = len(rcv.hooks())
		r = ts.data("/v2/ach/pull/create", appSecret, u, map[string]any{"transfer": map[string]any{"senderID": "no-such-account", "amount": 30, "description": "x"}})
		if r.Body["success"] != false {
			t.Fatalf("an ACH pull into no account: %s", r.Raw)
		}
		h = rcv.waitType(t, "ach_pull.failed", n)
		checkShape(t, h)
		if h.Data["errorType"] != r.str("type") {
			t.Fatalf("ach_pull.failed %v for %s", h.Data, r.Raw)
		}

		wantOK(t, ts.data("/v2/payment/beneficiaries/create", appSecret, u, map[string]any{"name": "Hook Payee", "iban": "AE070331234567890123456", "type": "local"}))
		// Due when the cool-down ends: pending, not yet delivered.
		list := ts.admin("GET", "/admin/v1/apps/"+appKey+"/webhooks?status=pending", nil)
		wantAdmin(t, list, 200)
		evs := list.Body["events"].([]any)
		if len(evs) != 1 || evs[0].(map[string]any)["type"] != "beneficiary.active" {
			t.Fatalf("pending events %s", list.Raw)
		}
		due, _ := time.Parse(time.RFC3339Nano, evs[0].(map[string]any)["dueAt"].(string))
		if until := time.Until(due); until < 3*time.Hour || until > 7*time.Hour {
			t.Fatalf("beneficiary.active due in %v", until)
		}

		// A reused access code revokes the token and says which.
		n = len(rcv.hooks())
		re := ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
		wantFail(t, re, 401, "INVALID_ACCESS_CODE")
		h = rcv.waitType(t, "access_code.reused", n)
		checkShape(t, h)
		if h.Data["connectionID"] != u.ConnectionID || fmt.Sprint(h.Private["tokenIDs"]) != fmt.Sprint([]any{u.TokenID}) {
			t.Fatalf("access_code.reused %v %v", h.Data, h.Private)
		}

		v := ts.login(appKey, "user_good")
		ts.exchange(appSecret, v)
		n = len(rcv.hooks())
		wantOK(t, ts.data("/v2/users/DelinkUser", appSecret, v, nil))
		h = rcv.waitType(t, "connection.delinked", n)
		checkShape(t, h)
		if h.Data["connectionID"] != v.ConnectionID {
			t.Fatalf("connection.delinked %v", h.Data)
		}

		w := ts.login(appKey, "user_good")
		ts.exchange(appSecret, w)
		n = len(rcv.hooks())
		wantAdmin(t, ts.admin("POST", "/admin/v1/apps/"+appKey+"/connections/"+w.ConnectionID+"/revoke", map[string]any{"reason": "test"}), 200)
		h = rcv.waitType(t, "tokens.revoked", n)
		checkShape(t, h)
		if h.Data["scope"] != "connection" || h.Data["connectionID"] != w.ConnectionID || fmt.Sprint(h.Private["tokenIDs"]) != fmt.Sprint([]any{w.TokenID}) {
			t.Fatalf("tokens.revoked %v %v", h.Data, h.Private)
		}
		x := ts.login(appKey, "user_good")
		ts.exchange(appSecret, x)
		n = len(rcv.hooks())
		wantAdmin(t, ts.admin("POST", "/admin/v1/apps/"+appKey+"/revoke-tokens", map[string]any{"reason": "test"}), 200)
		h = rcv.waitType(t, "tokens.revoked", n)
		if _, has := h.Data["connectionID"]; has || h.Data["scope"] != "app" || h.Data["count"] != 1.0 {
			t.Fatalf("kill switch tokens.revoked %v", h.Data)
		}
	})

	t.Run("rotation signs with both secrets for the overlap", func(t *testing.T) {
		newSecret, newKey := webhookKeysJSON(t, ts.cli("apps", "webhook-keys", "--app-key", appKey, "--rotate", "--json"))
		if newSecret == secret || newKey != key {
			t.Fatal("rotation kept the secret or changed the encryption key")
		}
		for _, only := range []string{secret, newSecret} {
			rcv.setKeys([]string{only}, key)
			n := len(rcv.hooks())
			wantOK(t, ts.post("/v2/sandbox/webhooks/fire", "", map[string]any{"appSecret": appSecret, "type": "tokens.revoked"}))
			h := rcv.waitType(t, "tokens.revoked", n)
			if parts := strings.Split(h.Signature, " "); len(parts) != 2 {
				t.Fatalf("signature during the overlap %q", h.Signature)
			}
		}
		rcv.setKeys([]string{newSecret}, key)
		// The admin API answers the same keys.
		r := ts.admin("POST", "/admin/v1/apps/"+appKey+"/webhook-keys", map[string]any{})
		wantAdmin(t, r, 200)
		if r.str("signingSecret") != newSecret || r.str("encryptionKey") != key || len(r.Body) != 2 {
			t.Fatalf("admin webhook-keys %s", r.Raw)
		}
	})

	t.Run("deliveries listed and redelivered", func(t *testing.T) {
		out := ts.cli("apps", "webhooks", "--app-key", appKey, "--json", "--status", "delivered")
		var listed []map[string]any
		if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) < 10 {
			t.Fatalf("apps webhooks --json: %d, %v\n%s", len(listed), err, out)
		}
		id := listed[0]["id"].(string)
		n := len(rcv.hooks())
		ts.cli("apps", "webhooks", "--app-key", appKey, "--redeliver", id)
		rcv.waitType(t, listed[0]["type"].(string), n)
		if got := rcv.hooks()[n:]; got[0].ID != id {
			t.Fatalf("redelivered %s as %s", id, got[0].ID)
		}
		n = len(rcv.hooks())
		r := ts.admin("POST", "/admin/v1/webhooks/"+id+"/redeliver", map[string]any{"reason": "lost it"})
		wantAdmin(t, r, 202)
		rcv.waitType(t, listed[0]["type"].(string), n)
		var ev *adminResp
		pollUntil(t, 10*time.Second, "the redelivery recorded", func() bool {
			ev = ts.admin("GET", "/admin/v1/webhooks/"+id, nil)
			return ev.Status == 200 && ev.str("status") == "delivered" && len(ev.Body["attemptHistory"].([]any)) == 3
		})
		if hist := ev.Body["attemptHistory"].([]any); hist[0].(map[string]any)["statusCode"] != 200.0 || hist[2].(map[string]any)["n"] != 3.0 {
			t.Fatalf("attempt history %s", ev.Raw)
		}
		wantAdminError(t, ts.admin("POST", "/admin/v1/webhooks/msg_nope/redeliver", map[string]any{}), 404, "not_found")
		wh := ts.admin("GET", "/admin/v1/apps/"+appKey+"/webhook", nil)
		if wh.str("url") != rcv.URL() || wh.Body["hasKeys"] != true {
			t.Fatalf("admin webhook %s", wh.Raw)
		}
		wantAdminError(t, ts.admin("PUT", "/admin/v1/apps/"+appKey+"/webhook", map[string]any{"url": "ftp://x"}), 400, "invalid_request")
	})

	t.Run("production apps need https", func(t *testing.T) {
		prodKey, prodSecret := ts.newAppIn("prod-hooks", "production")
		var out, errb syncBuffer
		err := run(context.Background(), []string{"apps", "set", "--app-key", prodKey, "--webhook-url", "http://hooks.example.com/x", "--data-dir", ts.DataDir},
			func(string) string { return "" }, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "https") {
			t.Fatalf("http webhook for a production app: %v", err)
		}
		ts.cli("apps", "set", "--app-key", prodKey, "--webhook-url", "https://hooks.example.com/x")
		ts.cli("apps", "set", "--app-key", prodKey, "--webhook-url", "http://127.0.0.1:9/x")
		wantFail(t, ts.post("/v2/sandbox/webhooks/fire", "", map[string]any{"appSecret": prodSecret, "type": "transfer.done"}), 501, "NOT_IMPLEMENTED")
	})

	t.Run("metrics", func(t *testing.T) {
		res, err := http.Get(ts.AdminURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := regexp.MustCompile(`(?m)^bankgate_webhook_attempts_total\{result="delivered"\} (\d+)$`).FindSubmatch(b)
		if m == nil || string(m[1]) == "0" || !strings.Contains(string(b), "bankgate_webhook_attempt_seconds_count") {
			t.Fatalf("webhook metrics missing:\n%s", b)
		}
	})
	rcv.check(t)
}

// TestWebhookBeneficiaryActive: beneficiary.active is made when a
// beneficiary (or a US wire beneficiary) is added and delivered when its
// cool-down ends, not before (the server runs on a fake clock here).
func TestWebhookBeneficiaryActive(t *testing.T) {
	ts := startServer(t, serverOpts{})
	rcv := newHookReceiver(t)
	rcv.anyTime = true
	appKey, appSecret := ts.newApp("cooldown")
	ts.hookTo(rcv, appKey)
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	wantOK(t, ts.data("/v2/payment/beneficiaries/create", appSecret, u, map[string]any{"name": "Later Payee", "iban": "AE070331234567890123456", "type": "local"}))
	var id string
	for _, b := range ts.data("/v2/payment/beneficiaries/get", appSecret, u, nil).Body["beneficiaries"].([]any) {
		if b.(map[string]any)["name"] == "Later Payee" {
			id = b.(map[string]any)["id"].(string)
		}
	}
	wantOK(t, ts.data("/v2/wire/beneficiaries/create", appSecret, u, map[string]any{"name": "Wire Payee", "accountNumber": "000123456789", "routingNumber": "021000021",
		"type": "intl", "address": map[string]any{"line1": "1 Main St", "line2": "New York", "line3": "US"}, "country": "UNITED STATES", "bankName": "JPMORGAN CHASE"}))
	time.Sleep(600 * time.Millisecond) // two polls of the outbox
	if n := len(rcv.hooks()); n != 0 {
		t.Fatalf("%d webhooks during the cool-down", n)
	}
	ts.Clock.Advance(7 * time.Hour)
	pollUntil(t, 10*time.Second, "two beneficiary.active webhooks", func() bool { return len(rcv.hooks()) >= 2 })
	hs := rcv.hooks()
	if len(hs) != 2 || hs[0].Type != "beneficiary.active" || hs[1].Type != "beneficiary.active" {
		t.Fatalf("webhooks %+v", hs)
	}
	h, w := hs[0], hs[1]
	checkShape(t, h)
	checkShape(t, w)
	if h.Data["beneficiaryID"] != id || h.Data["connectionID"] != u.ConnectionID || h.Private["name"] != "Later Payee" || h.Private["iban"] != "AE070331234567890123456" {
		t.Fatalf("beneficiary.active %v %v", h.Data, h.Private)
	}
	if w.Private["name"] != "Wire Payee" || w.Private["accountNumber"] != "000123456789" || w.Data["beneficiaryID"] == "" {
		t.Fatalf("wire beneficiary.active %v %v", w.Data, w.Private)
	}
	rcv.check(t)
}

// TestWebhookReceiverDownThenBack: a receiver answering 503 for a while
// gets, once it is back, the backlog of every connection in the order
// the events were made, each once, on the real retry schedule.
func TestWebhookReceiverDownThenBack(t *testing.T) {
	skipSlow(t)
	ts := startAdminServer(t, serverOpts{realClock: true, args: []string{"--rate-limits", "off"}})
	rcv := newHookReceiver(t)
	appKey, appSecret := ts.newApp("down")
	ts.hookTo(rcv, appKey)
	rcv.set(503, 0)
	made := map[string][]string{} // connection → operationIDs in order
	for c := 0; c < 3; c++ {
		u := ts.login(appKey, fmt.Sprintf("down_%d", c))
		ts.exchange(appSecret, u)
		acct := ts.data("/v2/data/accounts/get", appSecret, u, nil).Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
		ben := ts.data("/v2/payment/beneficiaries/get", appSecret, u, nil).Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)
		for i := 0; i < 5; i++ {
			r := ts.data("/v2/payment/transfer/create", appSecret, u, map[string]any{"senderID": acct, "receiverID": ben, "amount": 2})
			wantOK(t, r)
			made[u.ConnectionID] = append(made[u.ConnectionID], r.str("operationID"))
		}
	}
	time.Sleep(6 * time.Second) // down: each connection's first event is retried, the rest wait
	if n := len(rcv.hooks()); n != 0 {
		t.Fatalf("%d accepted while the receiver was down", n)
	}
	rcv.set(200, 0)
	back := time.Now()
	pollUntil(t, 40*time.Second, "the backlog after the receiver came back", func() bool { return len(rcv.hooks()) >= 15 })
	time.Sleep(300 * time.Millisecond)
	rcv.check(t)
	got := map[string][]string{}
	for _, h := range rcv.hooks() {
		conn := h.Data["connectionID"].(string)
		got[conn] = append(got[conn], h.Data["operationID"].(string))
	}
	for conn, ops := range made {
		if fmt.Sprint(got[conn]) != fmt.Sprint(ops) {
			t.Fatalf("connection %s: got %v, made %v", conn, got[conn], ops)
		}
	}
	list := ts.admin("GET", "/admin/v1/apps/"+appKey+"/webhooks?limit=500", nil)
	var retried int
	for _, e := range list.Body["events"].([]any) {
		if e.(map[string]any)["attempts"].(float64) > 1 {
			retried++
		}
	}
	t.Logf("15 events on 3 connections: backlog delivered in order %v after the receiver came back; %d events needed retries", time.Since(back).Round(time.Millisecond), retried)
	if retried < 3 {
		t.Fatalf("%d events were retried, want each connection's first", retried)
	}
}

// percentile returns the p-th percentile of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// TestWebhookLatency measures how long after a transfer its
// transfer.done webhook reaches a receiver on 127.0.0.1, under a load of
// 500 transfers (8 clients at once). It prints p50 and p99; it asserts
// only that every one arrives.
func TestWebhookLatency(t *testing.T) {
	skipSlow(t)
	ts := startServer(t, serverOpts{realClock: true, args: []string{"--rate-limits", "off"}})
	rcv := newHookReceiver(t)
	appKey, appSecret := ts.newApp("latency")
	ts.hookTo(rcv, appKey)

	const clients, each = 8, 63 // 504 transfers
	var mu sync.Mutex
	acked := map[string]time.Time{} // operationID → when the API answered
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		u := ts.login(appKey, fmt.Sprintf("latency_%d", c))
		ts.exchange(appSecret, u)
		acct := ts.data("/v2/data/accounts/get", appSecret, u, nil).Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
		ben := ts.data("/v2/payment/beneficiaries/get", appSecret, u, nil).Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := try(http.DefaultClient, ts.URL, "/v2/payment/transfer/create", u.Token,
					map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret, "senderID": acct, "receiverID": ben, "amount": 1.25})
				if r.Err != nil || r.Status != 200 {
					t.Errorf("transfer: %v %s", r.Err, r.Raw)
					return
				}
				mu.Lock()
				acked[r.str("operationID")] = time.Now()
				mu.Unlock()
			}
		}()
	}
	began := time.Now()
	wg.Wait()
	took := time.Since(began)
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := 0
		for _, h := range rcv.hooks() {
			if h.Type == "transfer.done" {
				n++
			}
		}
		if n >= len(acked) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d transfer.done webhooks in 60 s", n, len(acked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rcv.check(t)
	var lat []time.Duration
	for _, h := range rcv.hooks() {
		if op, _ := h.Data["operationID"].(string); h.Type == "transfer.done" {
			if _, ok := acked[op]; ok {
				lat = append(lat, h.Received.Sub(h.Timestamp))
			}
		}
	}
	slices.Sort(lat)
	t.Logf("webhook delivery latency (event made → receiver has it) over %d transfers in %v: p50 %v, p99 %v, max %v",
		len(lat), took.Round(time.Millisecond), percentile(lat, 0.50).Round(100*time.Microsecond), percentile(lat, 0.99).Round(100*time.Microsecond), lat[len(lat)-1].Round(time.Millisecond))
}
