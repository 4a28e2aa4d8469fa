package http

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/sandbox"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
	"github.com/bankgate/bankgate/sqlite"
)

// The fuzz targets below cover every request decoder and the token
// parser; their seed corpora in testdata/fuzz run as ordinary tests.

// fuzzDecode checks that decoding arbitrary bytes into T never panics and
// fails only with PARAMETER_ERROR.
func fuzzDecode[T any](f *testing.F) {
	for _, s := range []string{`{}`, `{"appSecret":"x","userSecret":"y"}`, `[]`, `null`, `{"amount":1e400}`, `{"userInputs":[{"index":-1}]}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v T
		if err := decode(b, &v); err != nil && !bankgate.IsCode(err, bankgate.ParameterError) {
			t.Fatalf("decode error with code %s: %v", bankgate.ErrorCode(err), err)
		}
	})
}

func FuzzDecodeBase(f *testing.F)            { fuzzDecode[baseRequest](f) }
func FuzzDecodeBanks(f *testing.F)           { fuzzDecode[banksRequest](f) }
func FuzzDecodeLogin(f *testing.F)           { fuzzDecode[loginRequest](f) }
func FuzzDecodeExchange(f *testing.F)        { fuzzDecode[exchangeRequest](f) }
func FuzzDecodeBalance(f *testing.F)         { fuzzDecode[balanceRequest](f) }
func FuzzDecodeTransactions(f *testing.F)    { fuzzDecode[transactionsRequest](f) }
func FuzzDecodeBeneficiary(f *testing.F)     { fuzzDecode[beneficiaryFields](f) }
func FuzzDecodeWireBeneficiary(f *testing.F) { fuzzDecode[usWireBeneficiaryFields](f) }
func FuzzDecodeTransfer(f *testing.F)        { fuzzDecode[transferCreateRequest](f) }
func FuzzDecodeAutoflow(f *testing.F)        { fuzzDecode[autoflowRequest](f) }
func FuzzDecodeWireTransfer(f *testing.F)    { fuzzDecode[usWireTransferRequest](f) }
func FuzzDecodeACH(f *testing.F)             { fuzzDecode[achCreateRequest](f) }
func FuzzDecodeOperation(f *testing.F)       { fuzzDecode[operationRequest](f) }
func FuzzDecodeSDKConfig(f *testing.F)       { fuzzDecode[sdkConfigRequest](f) }
func FuzzDecodeClock(f *testing.F)           { fuzzDecode[clockRequest](f) }
func FuzzDecodeForward(f *testing.F)         { fuzzDecode[ddRequest](f) }
func FuzzDecodeBatch(f *testing.F)           { fuzzDecode[batchCreateRequest](f) }
func FuzzDecodeBatchList(f *testing.F)       { fuzzDecode[batchListRequest](f) }

// FuzzParseBearer: the Authorization parser and the token shape check
// never panic, and only well-formed tokens pass.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"", "Bearer ", "bearer bgat_" + strings.Repeat("A", 43), "Basic abc", "Bearer  x y", "Bearer\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok := parseBearer(h)
		if secret.WellFormed(tok, secret.PrefixAccessToken, service.TokenBytes) && len(tok) != len(secret.PrefixAccessToken)+43 {
			t.Fatalf("malformed token %q accepted", tok)
		}
	})
}

// FuzzNormalizePath: path normalisation is idempotent and never panics.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/v2/users/DelinkUser", "users/delinkuser", "//V2//x/", "", "/", "\xff/v2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := normalizePath(p)
		if normalizePath(n) != n || !strings.HasPrefix(n, "/") {
			t.Fatalf("normalizePath(%q) = %q, not stable", p, n)
		}
	})
}

// newTestServer returns a Server over a real SQLite store and the sandbox,
// with one app and one connected user.
func newTestServer(tb testing.TB) (*Server, string, string, *bankgate.Connected) {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	keys, _ := secret.NewKeyring(bytes.Repeat([]byte{1}, secret.KeySize))
	now := func() time.Time { return time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC) }
	svc := service.New(service.Config{Store: st, Keyring: keys, Connectors: []bank.Connector{sandbox.New(sandbox.Options{Now: now, Store: st})}, Now: now})
	srv := New(Config{Service: svc, Limits: &Limits{}})
	app, err := svc.CreateApp(context.Background(), "fuzz", "")
	if err != nil {
		tb.Fatal(err)
	}
	res, err := svc.Login(context.Background(), bankgate.LoginRequest{AppKey: app.App.Key, BankID: "SANDBOX_AE_ENBD", Username: "user_good", Password: "pass_good"})
	if err != nil {
		tb.Fatal(err)
	}
	ex, err := svc.ExchangeToken(context.Background(), app.Secret, res.Connected.AccessCode, res.Connected.ConnectionID, false)
	if err != nil {
		tb.Fatal(err)
	}
	res.Connected.AccessCode = ex.AccessToken // reused below as the bearer token
	return srv, app.App.Key, app.Secret, res.Connected
}

// FuzzServeHTTP sends arbitrary bodies to every route of a real server:
// every answer is a JSON envelope and none is a 5xx.
func FuzzServeHTTP(f *testing.F) {
	srv, appKey, appSecret, conn := newTestServer(f)
	var routes []string
	for r := range srv.routes {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	seed := func(route int, body string) { f.Add(uint8(route), []byte(body)) }
	seed(0, `{}`)
	seed(1, `{"appKey":"`+appKey+`","bankID":"SANDBOX_AE_ENBD","username":"user_good","password":"pass_good"}`)
	seed(2, `{"appSecret":"`+appSecret+`","userSecret":"`+conn.UserSecret+`","accountID":"x","fromDate":"2026-01-01","toDate":"Invalid date"}`)
	seed(3, `{"appSecret":"`+appSecret+`","userSecret":"`+conn.UserSecret+`","senderID":"a","amount":-1e308,"beneficiary":{"name":"<script>"}}`)
	seed(4, `{"action":"/data/accounts/get","tokenID":"`+conn.TokenID+`","appSecret":"`+appSecret+`","userSecret":"`+conn.UserSecret+`"}`)
	token := conn.AccessCode
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := "/v2" + routes[int(route)%len(routes)]
		if strings.Contains(path, "delink") {
			return // keep the connection usable for the other inputs
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 && !(w.Code == http.StatusNotImplemented && strings.Contains(w.Body.String(), `"NOT_IMPLEMENTED"`)) {
			t.Fatalf("%s %q: status %d %s", path, body, w.Code, w.Body.String())
		}
		var env map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s: not JSON: %q", path, w.Body.String())
		}
		if _, ok := env["success"].(bool); !ok {
			t.Fatalf("%s: no success boolean: %s", path, w.Body.String())
		}
	})
}

// FuzzDecodeFlat: whenever the fast path accepts a body, encoding/json
// decodes it without error to the same value.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range []string{`{}`, `{"appSecret":"a","userSecret":"b","accountID":"c"}`, ` { "APPSECRET" : "x" , "appSecret":"y", "x":null } `,
		`{"a":"b"}x`, `{"accountID":"é"}`, `{"accountID":"a\"b"}`, `{"operationID":null}`, `{"fromDate":"2026-01-01","toDate":"2026-01-31","cardID":"c"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow transactionsRequest
		if !decodeFlat(b, &fast) {
			return
		}
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted %q that encoding/json rejects: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, slow)
		}
	})
}
