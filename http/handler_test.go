package http

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/requestid"
)

// The handler tests: every route of the routes table against a fake
// Service, its success and the errors it answers, each checked for its
// HTTP status and Dapi envelope. They run in milliseconds; the end-to-end
// tests in cmd/bankgate run the same routes against the real service.

// hcase is one request to a route and what it must answer.
type hcase struct {
	name   string
	body   string            // the request body
	header map[string]string // headers beyond Content-Type (and the bearer token of per-user routes)
	noAuth bool              // send no Authorization header on a per-user route
	bearer bool              // send one on another route
	setup  func(f *fakeService)
	limits *Limits // nil: no rate limits
	repeat int     // send it this many times (at least once); the last answer counts
	status int     // the HTTP status
	typ    bankgate.Code
	// want are fields of the answer by dotted path ("balance.currency.code",
	// "accounts.0.id"); the value absent means the field must be missing.
	want   map[string]any
	called []string // fake methods that must have run
	not    []string // fake methods that must not have run
	check  func(t *testing.T, f *fakeService, w *httptest.ResponseRecorder, resp map[string]any)
}

// routeCases are a route's cases. The generated ones (see expand) come in
// addition: a body that is no JSON object; for a route that calls method,
// that call failing with an internal error and with the store down; for a
// per-user route, each authentication failure; for a route whose call may
// prompt, the prompt and its resume.
type routeCases struct {
	route  string // as registered
	method string // the service method the route's success calls
	auth   string // "Authenticate" or "AuthenticateTokenID" for per-user routes
	prompt bool   // the call may answer user_input_required
	ok     string // a body the route serves (the generated cases start from it)
	// errorOnly marks a route that has no success to test.
	errorOnly bool
	cases     []hcase
}

// absent as a wanted value means the field must be missing.
var absent = &struct{ absent bool }{true}

var errStoreDown = errors.New("connection refused")

const bearerToken = "at_test"

// user returns a per-user request body: the credentials plus fields.
func user(fields string) string {
	if fields == "" {
		return `{"appSecret":"as_1","userSecret":"us_1"}`
	}
	return `{"appSecret":"as_1","userSecret":"us_1",` + fields + `}`
}

// failing sets method to fail with code.
func failing(method string, code bankgate.Code) func(f *fakeService) {
	return func(f *fakeService) { f.errs[method] = bankgate.Errorf(code, "%s refused by the fake.", method) }
}

// errCase is a case answering code with status after setup.
func errCase(name, body string, status int, code bankgate.Code, setup func(f *fakeService), not ...string) hcase {
	return hcase{name: name, body: body, status: status, typ: code, setup: setup, not: not}
}

// argOf returns the i-th argument of method's last call.
func argOf[T any](t *testing.T, f *fakeService, method string, i int) T {
	t.Helper()
	f.mu.Lock()
	args := f.args[method]
	f.mu.Unlock()
	if i >= len(args) {
		t.Fatalf("%s was not called with %d arguments: %v", method, i+1, args)
	}
	v, ok := args[i].(T)
	if !ok {
		t.Fatalf("%s argument %d is %T, not %T", method, i, args[i], v)
	}
	return v
}

var allRoutes = []routeCases{
	{route: "/connect/banks/get", method: "Banks", ok: `{"appKey":"key-1","countries":"AE, SA"}`, cases: []hcase{
		{name: "ok", want: map[string]any{"banks.0.bankID": "SANDBOX_AE_ENBD", "banks.0.sandbox": true, "operationID": ""},
			check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if got := argOf[[]string](t, f, "Banks", 1); !slices.Equal(got, []string{"AE", "SA"}) {
					t.Errorf("countries %q", got)
				}
			}},
		{name: "countries as a list", body: `{"appKey":"key-1","countries":["AE"]}`, want: map[string]any{"banks.0.country": "AE"}},
		{name: "cross-site from a registered origin", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://APP.example.com"},
			want: map[string]any{"banks.0.bankID": "SANDBOX_AE_ENBD"}, called: []string{"AppByKey", "Banks"}},
		errCase("no appKey", `{}`, 422, bankgate.ParameterMissing, nil, "Banks"),
		errCase("countries of the wrong type", `{"appKey":"key-1","countries":5}`, 400, bankgate.ParameterError, nil, "Banks"),
		errCase("unknown appKey", "", 401, bankgate.InvalidAppCredentials, failing("Banks", bankgate.InvalidAppCredentials)),
		{name: "cross-site from another origin", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			status: 400, typ: bankgate.BadRequest, not: []string{"Banks"}},
	}},
	{route: "/connect/login", method: "Login", prompt: true,
		ok: `{"appKey":"key-1","bankID":"SANDBOX_AE_ENBD","username":"user_good","password":"pass_good","clientUserID":"client-1"}`, cases: []hcase{
			{name: "ok", want: map[string]any{"operationID": "op-1", "accessCode": "ac_1", "userSecret": "us_1", "connectionID": "conn-1",
				"userID": "user-1", "tokenID": "tok-1", "bankID": "SANDBOX_AE_ENBD"}, called: []string{"CheckLogin", "Login"},
				check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
					req := argOf[bankgate.LoginRequest](t, f, "Login", 0)
					if req.Username != "user_good" || req.Password != "pass_good" || req.ClientUserID != "client-1" || req.AppKey != "key-1" {
						t.Errorf("login request %+v", req)
					}
				}},
			errCase("no bankID", `{"appKey":"key-1","username":"u","password":"p"}`, 422, bankgate.ParameterMissing, nil, "CheckLogin", "Login"),
			errCase("no password", `{"appKey":"key-1","bankID":"B","username":"u"}`, 422, bankgate.ParameterMissing, nil, "CheckLogin", "Login"),
			errCase("a resume without userInputs", `{"appKey":"key-1","bankID":"B","operationID":"op-1"}`, 422, bankgate.ParameterMissing, nil, "Login"),
			errCase("unknown appKey", "", 401, bankgate.InvalidAppCredentials, failing("CheckLogin", bankgate.InvalidAppCredentials), "Login"),
			errCase("a bank not served", "", 400, bankgate.InvalidBankID, failing("CheckLogin", bankgate.InvalidBankID), "Login"),
			errCase("fields too long", "", 400, bankgate.ParameterError, failing("CheckLogin", bankgate.ParameterError), "Login"),
			{name: "cross-site from another origin", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
				status: 400, typ: bankgate.BadRequest, not: []string{"Login"}},
			errCase("wrong password", "", 401, bankgate.InvalidCredentials, failing("Login", bankgate.InvalidCredentials)),
			errCase("wrong MFA answer", "", 401, bankgate.InvalidMFA, failing("Login", bankgate.InvalidMFA)),
			errCase("account locked", "", 403, bankgate.AccountLocked, failing("Login", bankgate.AccountLocked)),
			errCase("resume of an unknown operation", `{"appKey":"key-1","bankID":"B","operationID":"op-x","userInputs":[{"id":"otp","index":0,"answer":"1"}]}`,
				400, bankgate.InvalidOperationID, failing("Login", bankgate.InvalidOperationID)),
			{name: "failed logins of a user are limited", setup: failing("Login", bankgate.InvalidCredentials), repeat: 2,
				limits: &Limits{LoginPerUser: PerDuration(1, time.Hour)}, status: 429, typ: bankgate.RateLimited,
				check: func(t *testing.T, f *fakeService, w *httptest.ResponseRecorder, _ map[string]any) {
					if w.Header().Get("Retry-After") == "" {
						t.Error("no Retry-After")
					}
				}},
			{name: "new connections per address are limited", repeat: 2, limits: &Limits{LoginsPerIP: PerDuration(1, time.Hour)},
				status: 429, typ: bankgate.RateLimited},
			{name: "a redirect bank answers redirect_required", body: `{"appKey":"key-1","bankID":"MODELBANK_AE_OB31","clientUserID":"client-1","returnQuery":"?appKey=key-1"}`,
				want:   map[string]any{"status": "redirect_required", "operationID": "op-r", "redirectURL": fakeRedirectURL, "success": true},
				called: []string{"CheckLogin", "Login"},
				check: func(t *testing.T, f *fakeService, w *httptest.ResponseRecorder, m map[string]any) {
					req := argOf[bankgate.LoginRequest](t, f, "Login", 0)
					if req.Username != "" || req.Password != "" || req.ClientUserID != "client-1" || req.CallbackURL != "http://example.com/connect/callback" ||
						req.ReturnQuery != "?appKey=key-1" {
						t.Errorf("login request %+v", req)
					}
					if _, ok := m["accessCode"]; ok {
						t.Error("an access code before the user came back")
					}
				}},
			{name: "a redirect login resumed before the user is back", body: `{"appKey":"key-1","bankID":"MODELBANK_AE_OB31","operationID":"op-r"}`,
				want: map[string]any{"status": "redirect_required", "operationID": "op-r", "redirectURL": fakeRedirectURL}},
			{name: "a redirect login resumed once the user is back", body: `{"appKey":"key-1","bankID":"MODELBANK_AE_OB31","operationID":"op-r-back"}`,
				want: map[string]any{"status": "done", "accessCode": "ac_1", "userSecret": "us_1", "connectionID": "conn-1", "userID": "user-1", "tokenID": "tok-1"},
				check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
					if req := argOf[bankgate.LoginRequest](t, f, "Login", 0); req.OperationID != "op-r-back" {
						t.Errorf("login request %+v", req)
					}
				}},
			errCase("a password bank without credentials", `{"appKey":"key-1","bankID":"SANDBOX_AE_ENBD"}`, 422, bankgate.ParameterMissing, nil, "CheckLogin", "Login"),
		}},
	{route: "/auth/ExchangeToken", method: "ExchangeToken", ok: `{"appSecret":"as_1","accessCode":"ac_1","connectionID":"conn-1"}`, cases: []hcase{
		{name: "ok", want: map[string]any{"accessToken": "at_1", "tokenID": "tok-1", "userID": "user-1", "clientUserID": "client-1", "operationID": ""},
			check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if argOf[bool](t, f, "ExchangeToken", 3) {
					t.Error("a direct exchange marked forwarded")
				}
			}},
		errCase("no accessCode", `{"appSecret":"as_1","connectionID":"conn-1"}`, 422, bankgate.ParameterMissing, nil, "ExchangeToken"),
		errCase("no connectionID", `{"appSecret":"as_1","accessCode":"ac_1"}`, 422, bankgate.ParameterMissing, nil, "ExchangeToken"),
		errCase("no appSecret", `{"accessCode":"ac_1","connectionID":"conn-1"}`, 401, bankgate.InvalidAppCredentials, nil, "ExchangeToken"),
		errCase("a bad appSecret", "", 401, bankgate.InvalidAppCredentials, failing("ExchangeToken", bankgate.InvalidAppCredentials)),
		errCase("a used access code", "", 401, bankgate.InvalidAccessCode, failing("ExchangeToken", bankgate.InvalidAccessCode)),
		{name: "wrong access codes of an app are limited", setup: failing("ExchangeToken", bankgate.InvalidAccessCode), repeat: 2,
			limits: &Limits{ExchangeFailuresPerApp: PerDuration(1, time.Hour)}, status: 429, typ: bankgate.RateLimited},
		{name: "failed credentials of an address are limited", setup: failing("ExchangeToken", bankgate.InvalidAppCredentials), repeat: 2,
			limits: &Limits{AuthFailuresPerIP: PerDuration(1, time.Hour)}, status: 429, typ: bankgate.RateLimited},
	}},
	{route: "/data/identity/get", method: "Identity", auth: "Authenticate", prompt: true, ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"identity.name": "Ann Example", "identity.emailAddress": "ann@example.com", "operationID": "op-1"}},
		errCase("bank unreachable", "", 502, bankgate.UnableToConnectToBank, failing("Identity", bankgate.UnableToConnectToBank)),
		errCase("not offered by the bank", "", 501, bankgate.NotImplemented, failing("Identity", bankgate.NotImplemented)),
	}},
	{route: "/data/accounts/get", method: "Accounts", auth: "Authenticate", prompt: true, ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"accounts.0.id": "acc-1", "accounts.0.iban": fakeAcct.IBAN, "accounts.0.number": "1234567890", "accounts.0.currency.code": "AED"}},
		errCase("session expired", "", 401, bankgate.SessionExpired, failing("Accounts", bankgate.SessionExpired)),
	}},
	{route: "/data/completeAccounts/get", method: "Accounts", auth: "Authenticate", prompt: true, ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"accounts.0.id": "acc-1"}},
		errCase("bank unavailable", "", 503, bankgate.TemporarilyUnavailable, failing("Accounts", bankgate.TemporarilyUnavailable)),
	}},
	{route: "/users/DelinkUser", method: "Delink", auth: "Authenticate", ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"operationID": ""}, called: []string{"Delink"}},
	}},
	{route: "/data/DelinkUser", method: "Delink", auth: "Authenticate", ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"operationID": ""}, called: []string{"Delink"}},
	}},
	{route: "/data/balance/get", method: "Balance", auth: "Authenticate", prompt: true, ok: user(`"accountID":"acc-1"`), cases: []hcase{
		{name: "ok", want: map[string]any{"balance.amount": 123.45, "balance.currency.code": "AED", "balance.accountNumber": "1234567890", "operationID": "op-1"},
			check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if id := argOf[string](t, f, "Balance", 1); id != "acc-1" {
					t.Errorf("accountID %q", id)
				}
				if opts := argOf[bankgate.CallOptions](t, f, "Balance", 0); opts.Endpoint != "/data/balance/get" {
					t.Errorf("endpoint %q", opts.Endpoint)
				}
			}},
		{name: "a card's", body: user(`"cardID":"card-1"`), want: map[string]any{"balance.cardNumber": "4111", "balance.availableBalance": 500.0},
			called: []string{"CardBalance"}, not: []string{"Balance"}},
		errCase("no accountID", user(""), 422, bankgate.ParameterMissing, nil, "Balance", "CardBalance"),
		errCase("accountID of the wrong type", user(`"accountID":7`), 400, bankgate.ParameterError, nil, "Authenticate"),
		errCase("unknown account", "", 404, bankgate.InvalidAccountID, failing("Balance", bankgate.InvalidAccountID)),
		errCase("unknown card", user(`"cardID":"x"`), 404, bankgate.InvalidCardID, failing("CardBalance", bankgate.InvalidCardID)),
	}},
	txRoute("/data/transactions/get", map[string]any{"transactions.0.amount": 25.0, "transactions.0.description": "Coffee", "transactions.0.category": absent}),
	txRoute("/data/categorizedTransactions/get", map[string]any{"transactions.0.category": "Food"}),
	txRoute("/data/enrichedTransactions/get", map[string]any{"transactions.0.category": "Food", "transactions.0.description": "Coffee"}),
	{route: "/data/cards/get", method: "Cards", auth: "Authenticate", prompt: true, ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"cards.0.id": "card-1", "cards.0.name": "Gold", "cards.0.creditLimit": 10000.0}},
		errCase("not offered by the bank", "", 501, bankgate.NotImplemented, failing("Cards", bankgate.NotImplemented)),
	}},
	{route: "/metadata/accounts/get", method: "Metadata", auth: "Authenticate", prompt: true, ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"accountsMetadata.bankID": "SANDBOX_AE_ENBD", "accountsMetadata.swiftCode": "EBILAEAD",
			"accountsMetadata.transactionRange.value": 1.0, "accountsMetadata.country.code": "AE"}},
	}},
	{route: "/payment/beneficiaries/get", method: "Beneficiaries", auth: "Authenticate", prompt: true, ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"beneficiaries.0.id": "ben-1", "beneficiaries.0.name": "Bob", "beneficiaries.0.status": "APPROVED"}},
	}},
	{route: "/payment/beneficiaries/create", method: "CreateBeneficiary", auth: "Authenticate", prompt: true,
		ok: user(`"name":"Bob","iban":"AE070331234567890123456","type":"local","country":"AE"`), cases: []hcase{
			{name: "ok", want: map[string]any{"operationID": "op-1"}, check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if b := argOf[*bankgate.Beneficiary](t, f, "CreateBeneficiary", 1); b.Name != "Bob" || b.IBAN != "AE070331234567890123456" {
					t.Errorf("beneficiary %+v", b)
				}
			}},
			errCase("no name", user(`"iban":"AE1"`), 422, bankgate.ParameterMissing, nil, "CreateBeneficiary"),
			errCase("no iban or accountNumber", user(`"name":"Bob"`), 422, bankgate.ParameterMissing, nil, "CreateBeneficiary"),
			errCase("a duplicate", "", 400, bankgate.BeneficiaryExists, failing("CreateBeneficiary", bankgate.BeneficiaryExists)),
			errCase("a name too long", "", 400, bankgate.BeneficiaryNameLimit, failing("CreateBeneficiary", bankgate.BeneficiaryNameLimit)),
		}},
	{route: "/payment/transfer/create", method: "Transfer", auth: "Authenticate", prompt: true,
		ok: user(`"senderID":"acc-1","amount":10,"receiverID":"ben-1"`), cases: []hcase{
			{name: "ok", want: map[string]any{"reference": "ref-1", "operationID": "op-1", "coolDownPeriod": absent},
				check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
					if tr := argOf[*bankgate.TransferRequest](t, f, "Transfer", 1); tr.Amount != 1000 || tr.SenderID != "acc-1" || tr.ReceiverID != "ben-1" {
						t.Errorf("transfer %+v", tr)
					}
				}},
			errCase("no senderID", user(`"amount":10,"receiverID":"ben-1"`), 422, bankgate.ParameterMissing, nil, "Transfer"),
			errCase("no amount", user(`"senderID":"acc-1","receiverID":"ben-1"`), 422, bankgate.ParameterMissing, nil, "Transfer"),
			errCase("a negative amount", user(`"senderID":"acc-1","amount":-1,"receiverID":"ben-1"`), 400, bankgate.ParameterError, nil, "Transfer"),
			errCase("an amount as a string", user(`"senderID":"acc-1","amount":"10","receiverID":"ben-1"`), 400, bankgate.ParameterError, nil, "Transfer"),
			errCase("no receiver", user(`"senderID":"acc-1","amount":10`), 422, bankgate.ParameterMissing, nil, "Transfer"),
			errCase("insufficient balance", "", 400, bankgate.InsufficientBalance, failing("Transfer", bankgate.InsufficientBalance)),
			{name: "a beneficiary cooling down", status: 400, typ: bankgate.BeneficiaryCoolDown,
				setup: func(f *fakeService) {
					f.errs["Transfer"] = &bankgate.Error{Code: bankgate.BeneficiaryCoolDown, Msg: "Wait.", Data: map[string]any{"coolDownPeriod": map[string]any{"value": 1, "unit": "hours"}}}
				},
				want: map[string]any{"coolDownPeriod.unit": "hours", "msg": "Wait."}},
			{name: "an Idempotency-Key records the answer", header: map[string]string{"Idempotency-Key": "pay-1"}, want: map[string]any{"reference": "ref-1"},
				called: []string{"BeginIdempotent", "Transfer", "FinishIdempotent"},
				check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
					if argOf[string](t, f, "BeginIdempotent", 1) != "/payment/transfer/create" {
						t.Error("fingerprint without the endpoint")
					}
					if f.finished == nil || f.finished.Status != 200 || !bytes.Contains(f.finished.Body, []byte(`"ref-1"`)) {
						t.Errorf("recorded %+v", f.finished)
					}
				}},
			{name: "a retry with the same Idempotency-Key is replayed", header: map[string]string{"Idempotency-Key": "pay-1"},
				setup: func(f *fakeService) {
					f.stored = &bankgate.StoredResponse{Status: 200, Body: []byte(`{"success":true,"status":"done","operationID":"op-0","reference":"ref-0"}`)}
				},
				want: map[string]any{"reference": "ref-0", "operationID": "op-0"}, not: []string{"Transfer", "FinishIdempotent"},
				check: func(t *testing.T, _ *fakeService, w *httptest.ResponseRecorder, _ map[string]any) {
					if w.Header().Get("Idempotent-Replayed") != "true" {
						t.Error("no Idempotent-Replayed header")
					}
				}},
			{name: "an Idempotency-Key that is not printable ASCII", header: map[string]string{"Idempotency-Key": "pay 1"},
				status: 400, typ: bankgate.ParameterError, not: []string{"Authenticate", "Transfer"}},
			{name: "an Idempotency-Key still running", header: map[string]string{"Idempotency-Key": "pay-1"}, setup: failing("BeginIdempotent", bankgate.RequestInProgress),
				status: 409, typ: bankgate.RequestInProgress, not: []string{"Transfer"}},
			{name: "an Idempotency-Key used with another body", header: map[string]string{"Idempotency-Key": "pay-1"}, setup: failing("BeginIdempotent", bankgate.ParameterError),
				status: 400, typ: bankgate.ParameterError, not: []string{"Transfer"}},
		}},
	{route: "/payment/transfer/autoflow", method: "TransferAutoflow", auth: "Authenticate", prompt: true,
		ok: user(`"senderID":"acc-1","amount":10,"beneficiary":{"name":"Bob","iban":"AE1"},"bankID":"SANDBOX_AE_ENBD"`), cases: []hcase{
			{name: "ok", want: map[string]any{"reference": "ref-2", "coolDownPeriod.value": 1.0, "coolDownPeriod.unit": "hours"},
				check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
					if tr := argOf[*bankgate.TransferRequest](t, f, "TransferAutoflow", 1); tr.Beneficiary == nil || tr.Beneficiary.Name != "Bob" || tr.BankID != "SANDBOX_AE_ENBD" {
						t.Errorf("transfer %+v", tr)
					}
				}},
			errCase("no beneficiary", user(`"senderID":"acc-1","amount":10`), 422, bankgate.ParameterMissing, nil, "TransferAutoflow"),
			errCase("an empty beneficiary", user(`"senderID":"acc-1","amount":10,"beneficiary":{}`), 422, bankgate.ParameterMissing, nil, "TransferAutoflow"),
			errCase("no amount", user(`"senderID":"acc-1","beneficiary":{"name":"Bob"}`), 422, bankgate.ParameterMissing, nil, "TransferAutoflow"),
			errCase("beneficiary not active", "", 400, bankgate.BeneficiaryNotActive, failing("TransferAutoflow", bankgate.BeneficiaryNotActive)),
		}},
	{route: "/wire/beneficiaries/get", method: "WireBeneficiaries", auth: "Authenticate", prompt: true, ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"beneficiaries.0.id": "wben-1", "beneficiaries.0.routingNumber": "021000021"}},
		errCase("not a US bank", "", 501, bankgate.NotImplemented, failing("WireBeneficiaries", bankgate.NotImplemented)),
	}},
	{route: "/wire/beneficiaries/create", method: "CreateWireBeneficiary", auth: "Authenticate", prompt: true,
		ok: user(`"name":"Carol","accountNumber":"111","routingNumber":"021000021"`), cases: []hcase{
			{name: "ok", want: map[string]any{"operationID": "op-1"}, check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if b := argOf[*bankgate.WireBeneficiary](t, f, "CreateWireBeneficiary", 1); b.RoutingNumber != "021000021" || b.Name != "Carol" {
					t.Errorf("beneficiary %+v", b)
				}
			}},
			errCase("no routingNumber", user(`"name":"Carol","accountNumber":"111"`), 422, bankgate.ParameterMissing, nil, "CreateWireBeneficiary"),
			errCase("a duplicate", "", 400, bankgate.BeneficiaryExists, failing("CreateWireBeneficiary", bankgate.BeneficiaryExists)),
		}},
	{route: "/wire/transfer/create", method: "WireTransfer", auth: "Authenticate", prompt: true,
		ok: user(`"senderID":"acc-1","amount":10,"receiverID":"wben-1"`), cases: []hcase{
			{name: "ok", want: map[string]any{"reference": "ref-1"}},
			errCase("no receiverID", user(`"senderID":"acc-1","amount":10`), 422, bankgate.ParameterMissing, nil, "WireTransfer"),
			errCase("insufficient funds", "", 400, bankgate.InsufficientFunds, failing("WireTransfer", bankgate.InsufficientFunds)),
		}},
	{route: "/wire/transfer/autoflow", method: "WireTransferAutoflow", auth: "Authenticate", prompt: true,
		ok: user(`"senderID":"acc-1","amount":10,"beneficiary":{"name":"Carol","accountNumber":"111","routingNumber":"021000021"}`), cases: []hcase{
			{name: "ok", want: map[string]any{"reference": "ref-1"}, check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if tr := argOf[*bankgate.TransferRequest](t, f, "WireTransferAutoflow", 1); tr.Wire == nil || tr.Wire.RoutingNumber != "021000021" {
					t.Errorf("transfer %+v", tr)
				}
			}},
			errCase("no beneficiary", user(`"senderID":"acc-1","amount":10`), 422, bankgate.ParameterMissing, nil, "WireTransferAutoflow"),
			errCase("a zero amount", user(`"senderID":"acc-1","amount":0,"beneficiary":{"name":"Carol"}`), 400, bankgate.ParameterError, nil, "WireTransferAutoflow"),
		}},
	{route: "/ach/pull/create", method: "CreateACHPull", auth: "Authenticate", prompt: true,
		ok: user(`"transfer":{"senderID":"acc-1","amount":42,"description":"top up"}`), cases: []hcase{
			{name: "ok", want: map[string]any{"operationID": "op-1"}, check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if r := argOf[*bankgate.ACHPullRequest](t, f, "CreateACHPull", 1); r.Amount != 4200 || r.Description != "top up" {
					t.Errorf("pull %+v", r)
				}
			}},
			errCase("no transfer", user(""), 422, bankgate.ParameterMissing, nil, "CreateACHPull"),
			errCase("a zero amount", user(`"transfer":{"senderID":"acc-1","amount":0}`), 400, bankgate.ParameterError, nil, "CreateACHPull"),
			errCase("an inactive account", "", 401, bankgate.InactiveAccount, failing("CreateACHPull", bankgate.InactiveAccount)),
		}},
	{route: "/ach/pull/get", method: "ACHPull", auth: "Authenticate", ok: user(`"operationID":"op-9"`), cases: []hcase{
		{name: "ok", want: map[string]any{"operationID": "op-9", "transfer.amount": 42.0, "transfer.currency.code": "USD", "transfer.status": "pending"}},
		errCase("no operationID", user(""), 422, bankgate.ParameterMissing, nil, "ACHPull"),
		errCase("unknown pull", "", 400, bankgate.InvalidOperationID, failing("ACHPull", bankgate.InvalidOperationID)),
	}},
	opRoute("/operation/status"),
	opRoute("/operation/get"),
	{route: "/batch/metadata/get", method: "Metadata", auth: "Authenticate", prompt: true, ok: user(""), cases: []hcase{
		{name: "ok", want: map[string]any{"operationID": "", "metadata.maxBatchTransfers": float64(bankgate.MaxBatchItems),
			"metadata.filenameMaxChars": float64(bankgate.BatchFilenameChars), "metadata.maxTotalTransferAmount": float64(bankgate.MaxBatchTotalAmount),
			"metadata.validators.local.iban.length": 23.0}},
	}},
	{route: "/batch/transfers/create", method: "CreateBatch", auth: "Authenticate", prompt: true,
		ok: user(`"senderID":"acc-1","type":"local","items":[{"amount":10,"beneficiary":{"name":"Bob","iban":"AE1"}}]`), cases: []hcase{
			{name: "ok", want: map[string]any{"operationID": "BGB1", "details.reference": "BGB1", "details.items.0.status": "succeeded",
				"details.numSucceededItems": 1.0, "details.totalAmountSucceeded": 10.0, "details.sender.iban": fakeAcct.IBAN},
				check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
					req := argOf[*bankgate.BatchRequest](t, f, "CreateBatch", 1)
					if req.SenderID != "acc-1" || req.Type != "local" || len(req.Items) != 1 || req.Items[0].Amount != 1000 || req.Items[0].Beneficiary.IBAN != "AE1" {
						t.Errorf("batch request %+v", req)
					}
					if argOf[bool](t, f, "CreateBatch", 2) {
						t.Error("a transfer batch made as a file")
					}
				}},
			errCase("no senderID", user(`"items":[{"amount":10}]`), 422, bankgate.ParameterMissing, nil, "CreateBatch"),
			errCase("an item without an amount", user(`"senderID":"acc-1","items":[{"beneficiary":{"iban":"AE1"}}]`), 400, bankgate.ParameterError, nil, "CreateBatch"),
			errCase("no items", user(`"senderID":"acc-1"`), 422, bankgate.ParameterMissing, failing("CreateBatch", bankgate.ParameterMissing)),
			errCase("a sender not the user's", "", 404, bankgate.InvalidAccountID, failing("CreateBatch", bankgate.InvalidAccountID)),
		}},
	{route: "/batch/file/create", method: "CreateBatch", auth: "Authenticate", prompt: true,
		ok: user(`"sender":{"iban":"AE07"},"items":[{"amount":10,"beneficiary":{"name":"Bob","iban":"AE1"}}]`), cases: []hcase{
			{name: "ok", want: map[string]any{"operationID": "BGB1", "fileExtension": "csv", "fileContent": base64.StdEncoding.EncodeToString([]byte("type,amount\n")),
				"details.fileName": "batch-BGB1.csv"},
				check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
					if req := argOf[*bankgate.BatchRequest](t, f, "CreateBatch", 1); req.SenderID != "AE07" {
						t.Errorf("sender %q", req.SenderID)
					}
					if !argOf[bool](t, f, "CreateBatch", 2) {
						t.Error("a file batch made as transfers")
					}
				}},
			errCase("no sender", user(`"items":[{"amount":10}]`), 422, bankgate.ParameterMissing, nil, "CreateBatch"),
			errCase("an item without an amount", user(`"sender":{"accountNumber":"1"},"items":[{}]`), 400, bankgate.ParameterError, nil, "CreateBatch"),
		}},
	{route: "/batch/transfers/get", method: "Batches", auth: "Authenticate", ok: user(`"fromDate":"2026-03-01","toDate":"2026-03-31"`), cases: []hcase{
		{name: "ok", want: map[string]any{"transfers.0.reference": "BGB1", "transfers.1": absent, "operationID": ""}},
		errCase("no fromDate", user(`"toDate":"2026-03-31"`), 422, bankgate.ParameterMissing, nil, "Batches"),
		errCase("a date that is none", user(`"fromDate":"2026-02-30","toDate":"2026-03-31"`), 400, bankgate.InvalidDateRange, nil, "Batches"),
		errCase("toDate before fromDate", user(`"fromDate":"2026-03-31","toDate":"2026-03-01"`), 400, bankgate.InvalidDateRange, nil, "Batches"),
	}},
	{route: "/batch/items/get", method: "Batch", auth: "Authenticate", ok: user(`"reference":"BGB1"`), cases: []hcase{
		{name: "ok", want: map[string]any{"operationID": "BGB1", "transfers.reference": "BGB1", "transfers.items.0.reference": "ref-1"}},
		errCase("no reference", user(""), 422, bankgate.ParameterMissing, nil, "Batch"),
		errCase("unknown reference", "", 400, bankgate.ParameterError, failing("Batch", bankgate.ParameterError)),
	}},
	{route: "/sandbox/clock", method: "AdvanceClock", ok: `{"appSecret":"as_1","advance":"36h"}`, cases: []hcase{
		{name: "ok", want: map[string]any{"offset": "36h0m0s", "now": "2026-03-16T22:00:00.000Z", "operationID": ""},
			check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if a := argOf[string](t, f, "AdvanceClock", 1); a != "36h" {
					t.Errorf("advance %q", a)
				}
			}},
		errCase("no appSecret", `{"advance":"1h"}`, 401, bankgate.InvalidAppCredentials, nil, "AdvanceClock"),
		errCase("a bad advance", "", 400, bankgate.ParameterError, failing("AdvanceClock", bankgate.ParameterError)),
		errCase("a production app", "", 501, bankgate.NotImplemented, failing("AdvanceClock", bankgate.NotImplemented)),
	}},
	{route: "/sandbox/users/create", method: "CreateSandboxUser", ok: `{"appSecret":"as_1","bankID":"SANDBOX_AE_ENBD","fixture":{"username":"ci_user"}}`, cases: []hcase{
		{name: "ok", want: map[string]any{"user.username": "ci_user", "user.bankID": "SANDBOX_AE_ENBD", "user.accounts": 2.0, "user.mfaInputs": 1.0},
			check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if fx := argOf[string](t, f, "CreateSandboxUser", 2); fx != `{"username":"ci_user"}` {
					t.Errorf("fixture %s", fx)
				}
			}},
		errCase("a fixture that is no object", `{"appSecret":"as_1","bankID":"B","fixture":[1]}`, 400, bankgate.ParameterError, nil, "CreateSandboxUser"),
		errCase("no appSecret", `{"bankID":"B","fixture":{}}`, 401, bankgate.InvalidAppCredentials, nil, "CreateSandboxUser"),
		errCase("no fixture", `{"appSecret":"as_1","bankID":"B"}`, 422, bankgate.ParameterMissing, failing("CreateSandboxUser", bankgate.ParameterMissing)),
		errCase("a bank without sandbox users", "", 400, bankgate.InvalidBankID, failing("CreateSandboxUser", bankgate.InvalidBankID)),
	}},
	{route: "/sandbox/webhooks/fire", method: "FireSandboxWebhook", ok: `{"appSecret":"as_1","type":"transfer.done"}`, cases: []hcase{
		{name: "ok", want: map[string]any{"webhookID": "msg_fake", "eventType": "transfer.done", "operationID": ""},
			check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if typ := argOf[string](t, f, "FireSandboxWebhook", 1); typ != "transfer.done" {
					t.Errorf("type %q", typ)
				}
			}},
		errCase("no appSecret", `{"type":"transfer.done"}`, 401, bankgate.InvalidAppCredentials, nil, "FireSandboxWebhook"),
		errCase("no type", `{"appSecret":"as_1"}`, 422, bankgate.ParameterMissing, nil, "FireSandboxWebhook"),
		errCase("an unknown type or no webhook URL", "", 400, bankgate.ParameterError, failing("FireSandboxWebhook", bankgate.ParameterError)),
		errCase("a production app", "", 501, bankgate.NotImplemented, failing("FireSandboxWebhook", bankgate.NotImplemented)),
	}},
	{route: "/sandbox/users/list", method: "SandboxUsers", ok: `{"appSecret":"as_1"}`, cases: []hcase{
		{name: "ok", want: map[string]any{"users.0.username": "ci_user", "users.0.accounts": 2.0}},
		errCase("no appSecret", `{}`, 401, bankgate.InvalidAppCredentials, nil, "SandboxUsers"),
		errCase("a production app", "", 501, bankgate.NotImplemented, failing("SandboxUsers", bankgate.NotImplemented)),
	}},
	{route: "/sandbox/users/delete", method: "DeleteSandboxUser", ok: `{"appSecret":"as_1","bankID":"SANDBOX_AE_ENBD","username":"ci_user"}`, cases: []hcase{
		{name: "ok", want: map[string]any{"operationID": ""}, called: []string{"DeleteSandboxUser"}},
		errCase("no appSecret", `{"bankID":"B","username":"u"}`, 401, bankgate.InvalidAppCredentials, nil, "DeleteSandboxUser"),
		errCase("no such user", "", 400, bankgate.ParameterError, failing("DeleteSandboxUser", bankgate.ParameterError)),
	}},
	{route: "/sdk/apps/configs/get", method: "AppByKey", ok: `{"appKey":"key-1","bundleID":"com.example.app"}`, cases: []hcase{
		{name: "ok", want: map[string]any{"appConfig.appKey": "key-1", "appConfig.appName": "Fake app", "appConfig.serverURL": "https://api.example.com"}},
		errCase("no bundleID", `{"appKey":"key-1"}`, 422, bankgate.ParameterMissing, nil, "AppByKey"),
		errCase("a bundleID not registered", `{"appKey":"key-1","bundleID":"com.evil"}`, 401, bankgate.InvalidAppCredentials, nil),
		errCase("unknown appKey", "", 401, bankgate.InvalidAppCredentials, failing("AppByKey", bankgate.InvalidAppCredentials)),
	}},
	forwardRoute("/"),
	forwardRoute("/dd"),
	{route: "/nymcard/funds/load", errorOnly: true, cases: []hcase{
		errCase("not available", `{}`, 501, bankgate.NotImplemented, nil),
	}},
}

// txRoute are the cases of a transactions route; want checks its detail.
func txRoute(route string, want map[string]any) routeCases {
	return routeCases{route: route, method: "Transactions", auth: "Authenticate", prompt: true,
		ok: user(`"accountID":"acc-1","fromDate":"2026-01-01","toDate":"2026-01-31"`), cases: []hcase{
			{name: "ok", want: want, check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				from, to := argOf[time.Time](t, f, "Transactions", 2), argOf[time.Time](t, f, "Transactions", 3)
				if !from.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("range %v to %v", from, to)
				}
			}},
			{name: "a card's", body: user(`"cardID":"card-1","fromDate":"2026-01-01","toDate":"2026-01-31"`),
				want: map[string]any{"transactions.0.amount": 25.0}, called: []string{"CardTransactions"}, not: []string{"Transactions"}},
			errCase("no accountID", user(`"fromDate":"2026-01-01","toDate":"2026-01-31"`), 422, bankgate.ParameterMissing, nil, "Transactions"),
			errCase("no toDate", user(`"accountID":"acc-1","fromDate":"2026-01-01"`), 422, bankgate.ParameterMissing, nil, "Transactions"),
			errCase("a date that is none", user(`"accountID":"acc-1","fromDate":"2026-13-01","toDate":"2026-01-31"`), 400, bankgate.InvalidDateRange, nil, "Transactions"),
			errCase("toDate before fromDate", user(`"accountID":"acc-1","fromDate":"2026-02-01","toDate":"2026-01-31"`), 400, bankgate.InvalidDateRange, nil, "Transactions"),
			errCase("beyond the bank's range", "", 400, bankgate.InvalidDateRange, failing("Transactions", bankgate.InvalidDateRange)),
			errCase("unknown account", "", 404, bankgate.InvalidAccountID, failing("Transactions", bankgate.InvalidAccountID)),
		}}
}

// opRoute are the cases of operation/status and operation/get.
func opRoute(route string) routeCases {
	return routeCases{route: route, method: "OperationStatus", ok: `{"appSecret":"as_1","operationID":"op-7"}`, cases: []hcase{
		{name: "ok", want: map[string]any{"operationID": "op-7", "opInfo.status": "failed", "opInfo.errorType": "INSUFFICIENT_BALANCE",
			"opInfo.type": "/payment/transfer/create", "opInfo.startDate": "2026-03-15T10:00:00.000Z", "opInfo.endDate": "2026-03-15T10:00:01.000Z"}},
		errCase("no operationID", `{"appSecret":"as_1"}`, 422, bankgate.ParameterMissing, nil, "OperationStatus"),
		errCase("no appSecret", `{"operationID":"op-7"}`, 401, bankgate.InvalidAppCredentials, nil, "OperationStatus"),
		errCase("a bad appSecret", "", 401, bankgate.InvalidAppCredentials, failing("OperationStatus", bankgate.InvalidAppCredentials)),
		errCase("another app's operation", "", 400, bankgate.InvalidOperationID, failing("OperationStatus", bankgate.InvalidOperationID)),
	}}
}

// forwardRoute are the cases of the SDK-forwarding endpoint.
func forwardRoute(route string) routeCases {
	fwd := func(action string) string {
		return `{"action":"` + action + `","tokenID":"tok-1","appSecret":"as_1","userSecret":"us_1"}`
	}
	return routeCases{route: route, method: "Accounts", auth: "AuthenticateTokenID", prompt: true, ok: fwd("/data/accounts/get"), cases: []hcase{
		{name: "ok", want: map[string]any{"accounts.0.id": "acc-1"}, not: []string{"Authenticate"},
			check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if id := argOf[string](t, f, "AuthenticateTokenID", 0); id != "tok-1" {
					t.Errorf("tokenID %q", id)
				}
			}},
		{name: "an action in another case, without /v2", body: fwd("DATA/Accounts/Get"), want: map[string]any{"accounts.0.id": "acc-1"}},
		{name: "a bearer token is used when present", bearer: true, want: map[string]any{"accounts.0.id": "acc-1"}, called: []string{"Authenticate"}, not: []string{"AuthenticateTokenID"}},
		{name: "an exchange keeps the token server-side", body: `{"action":"/v2/auth/ExchangeToken","appSecret":"as_1","accessCode":"ac_1","connectionID":"conn-1"}`,
			want: map[string]any{"accessToken": absent, "tokenID": "tok-1"}, check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
				if !argOf[bool](t, f, "ExchangeToken", 3) {
					t.Error("a forwarded exchange not marked forwarded")
				}
			}},
		errCase("no action", `{"appSecret":"as_1"}`, 422, bankgate.ParameterMissing, nil),
		errCase("an action that is no endpoint", fwd("/data/nothing"), 404, bankgate.EndpointNotFound, nil),
		errCase("the forwarding endpoint itself", fwd("/dd"), 404, bankgate.EndpointNotFound, nil),
		errCase("a sandbox endpoint", `{"action":"/sandbox/clock","appSecret":"as_1"}`, 404, bankgate.EndpointNotFound, nil, "AdvanceClock"),
	}}
}

// expand returns the route's cases with the generated ones.
func (rc routeCases) expand() []hcase {
	out := slices.Clone(rc.cases)
	out = append(out, hcase{name: "a body that is no JSON object", body: `["x"]`, status: 400, typ: bankgate.ParameterError, not: []string{rc.method}})
	if rc.method != "" {
		out = append(out,
			hcase{name: "an internal error", setup: func(f *fakeService) { f.errs[rc.method] = errors.New("disk on fire") }, status: 500, typ: bankgate.Unknown,
				want: map[string]any{"msg": bankgate.ErrorMessage(nil)}},
			hcase{name: "the store down", setup: func(f *fakeService) { f.errs[rc.method] = errStoreDown }, status: 503, typ: bankgate.TemporarilyUnavailable})
	}
	if rc.auth != "" {
		for _, code := range []bankgate.Code{bankgate.InvalidToken, bankgate.UserDelinked, bankgate.InvalidAppCredentials, bankgate.InvalidUserSecret} {
			out = append(out, errCase("authentication: "+string(code), "", 401, code, failing(rc.auth, code), rc.method))
		}
		out = append(out, hcase{name: "failed credentials of an address are limited", setup: failing(rc.auth, bankgate.InvalidToken), repeat: 2,
			limits: &Limits{AuthFailuresPerIP: PerDuration(1, time.Hour)}, status: 429, typ: bankgate.RateLimited})
	}
	if rc.prompt {
		out = append(out,
			hcase{name: "a prompt for user input", setup: func(f *fakeService) { f.prompt = true },
				want: map[string]any{"status": bankgate.StatusUserInputRequired, "operationID": "op-prompt", "userInputs.0.id": "otp",
					"userInputs.0.query": fakePrompt[0].Query, "accounts": absent, "reference": absent}},
			hcase{name: "a resume", body: withFields(rc.ok, `"operationID":"op-prompt","userInputs":[{"id":"otp","index":0,"answer":"123456"}]`),
				check: func(t *testing.T, f *fakeService, _ *httptest.ResponseRecorder, _ map[string]any) {
					var opID string
					var answers []bankgate.UserInput
					switch a := argOf[any](t, f, rc.method, 0).(type) {
					case bankgate.CallOptions:
						opID, answers = a.OperationID, a.Answers
					case bankgate.LoginRequest:
						opID, answers = a.OperationID, a.Answers
					}
					if opID != "op-prompt" || len(answers) != 1 || answers[0].ID != "otp" || answers[0].Answer != "123456" {
						t.Errorf("resume of %q with %+v", opID, answers)
					}
				}})
	}
	return out
}

// withFields adds fields to a JSON object body.
func withFields(body, fields string) string {
	return strings.TrimSuffix(body, "}") + "," + fields + "}"
}

func TestHandlers(t *testing.T) {
	for _, rc := range allRoutes {
		name := strings.TrimPrefix(rc.route, "/")
		if name == "" {
			name = "(root)"
		}
		t.Run(name, func(t *testing.T) {
			for _, c := range rc.expand() {
				t.Run(c.name, func(t *testing.T) { runCase(t, rc, c) })
			}
		})
	}
}

func runCase(t *testing.T, rc routeCases, c hcase) {
	f := newFake()
	if c.setup != nil {
		c.setup(f)
	}
	lim := c.limits
	if lim == nil {
		lim = &Limits{}
	}
	srv := New(Config{Service: f, Limits: lim, Unavailable: func(err error) bool { return errors.Is(err, errStoreDown) }})
	body := c.body
	if body == "" {
		body = rc.ok
	}
	var w *httptest.ResponseRecorder
	for range max(c.repeat, 1) {
		path := "/v2" + rc.route
		if rc.route == "/" {
			path = "/" // "/v2/" is "/v2", no route
		}
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if rc.auth == "Authenticate" && !c.noAuth || c.bearer {
			r.Header.Set("Authorization", "Bearer "+bearerToken)
		}
		for k, v := range c.header {
			r.Header.Set(k, v)
		}
		w = httptest.NewRecorder()
		srv.ServeHTTP(w, r)
	}
	status := c.status
	if status == 0 {
		status = http.StatusOK
	}
	if w.Code != status {
		t.Fatalf("HTTP %d, want %d: %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if id := w.Header().Get("X-Request-ID"); len(id) != requestid.Size {
		t.Errorf("X-Request-ID %q, want a generated ID", id)
	}
	var resp map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("answer is no JSON object: %v: %s", err, w.Body)
	}
	if _, ok := resp["operationID"].(string); !ok {
		t.Errorf("no operationID string in %s", w.Body)
	}
	if c.typ != "" {
		if resp["success"] != false || resp["status"] != bankgate.StatusFailed || resp["type"] != string(c.typ) {
			t.Errorf("envelope %s, want success:false, status:failed, type:%s", w.Body, c.typ)
		}
		if msg, _ := resp["msg"].(string); msg == "" || strings.Contains(msg, "disk on fire") || strings.Contains(msg, errStoreDown.Error()) {
			t.Errorf("msg %q: empty, or an internal detail", msg)
		}
	} else {
		wantStatus := bankgate.StatusDone
		if s, ok := c.want["status"].(string); ok {
			wantStatus = s
		}
		if resp["success"] != true || resp["status"] != wantStatus {
			t.Errorf("envelope %s, want success:true, status:%s", w.Body, wantStatus)
		}
		if _, ok := resp["type"]; ok {
			t.Errorf("a success with a type: %s", w.Body)
		}
		if rc.auth == "Authenticate" && f.called("Authenticate") {
			if tok := argOf[string](t, f, "Authenticate", 0); tok != bearerToken {
				t.Errorf("bearer %q", tok)
			}
			if as, us := argOf[string](t, f, "Authenticate", 1), argOf[string](t, f, "Authenticate", 2); as != "as_1" || us != "us_1" {
				t.Errorf("credentials %q, %q", as, us)
			}
		}
	}
	for path, want := range c.want {
		got, ok := lookup(resp, path)
		if want == absent {
			if ok {
				t.Errorf("%s = %v, want it absent", path, got)
			}
			continue
		}
		if !ok {
			t.Errorf("%s missing in %s", path, w.Body)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	for _, m := range c.called {
		if !f.called(m) {
			t.Errorf("%s was not called (calls: %v)", m, f.calls)
		}
	}
	for _, m := range c.not {
		if m != "" && f.called(m) {
			t.Errorf("%s was called (calls: %v)", m, f.calls)
		}
	}
	if c.name == "ok" && !f.called(rc.method) {
		t.Errorf("%s was not called (calls: %v)", rc.method, f.calls)
	}
	if c.check != nil {
		c.check(t, f, w, resp)
	}
}

// lookup follows a dotted path of object keys and array indexes.
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// TestEveryRouteHasHandlerTests: each route of the routes table has a
// success case (but the one that always refuses) and error cases, and
// every route tested is one the table registers.
func TestEveryRouteHasHandlerTests(t *testing.T) {
	srv := New(Config{Service: newFake()})
	tested := map[string]bool{}
	for _, rc := range allRoutes {
		key := normalizePath(rc.route)
		if srv.routes[key] == nil {
			t.Errorf("%s: tested but not a route", rc.route)
		}
		if tested[key] {
			t.Errorf("%s: tested twice", rc.route)
		}
		tested[key] = true
		var ok, failed int
		for _, c := range rc.expand() {
			if c.typ == "" {
				ok++
			} else {
				failed++
			}
		}
		if ok == 0 && !rc.errorOnly {
			t.Errorf("%s: no success case", rc.route)
		}
		if failed < 2 && !rc.errorOnly {
			t.Errorf("%s: %d error cases", rc.route, failed)
		}
	}
	for key := range srv.routes {
		if !tested[key] {
			t.Errorf("route %s has no handler test in allRoutes", key)
		}
	}
}

// TestServeHTTPRefusals: what the server answers before any route runs.
func TestServeHTTPRefusals(t *testing.T) {
	for _, c := range []struct {
		name, method, path, ctype, body string
		status                          int
		typ                             bankgate.Code
	}{
		{"an unknown path", "POST", "/v2/data/nothing/get", "application/json", `{}`, 404, bankgate.EndpointNotFound},
		{"GET", "GET", "/v2/data/accounts/get", "application/json", ``, 405, bankgate.MethodNotAllowed},
		{"a form body", "POST", "/v2/data/accounts/get", "application/x-www-form-urlencoded", `a=b`, 415, bankgate.ParameterError},
		{"a body over 1 MiB", "POST", "/v2/data/accounts/get", "application/json", `{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, bankgate.ParameterError},
		// A chunked body declares no length: the bound is met as it is read.
		{"a body over 1 MiB, chunked", "POST", "/v2/data/accounts/get", "application/json", `{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, bankgate.ParameterError},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			srv := New(Config{Service: f, Limits: &Limits{}})
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if strings.HasSuffix(c.name, "chunked") {
				r.ContentLength = -1
			}
			r.Header.Set("Content-Type", c.ctype)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			var resp map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("not JSON: %s", w.Body)
			}
			if w.Code != c.status || resp["success"] != false || resp["status"] != "failed" || resp["type"] != string(c.typ) || resp["msg"] == "" {
				t.Errorf("HTTP %d %s, want %d %s", w.Code, w.Body, c.status, c.typ)
			}
			if len(f.calls) != 0 {
				t.Errorf("the service was called: %v", f.calls)
			}
		})
	}
	t.Run("paths in any case, with or without /v2 and trailing slash", func(t *testing.T) {
		for _, p := range []string{"/V2/DATA/Accounts/GET/", "/data//accounts/get", "/v2/data/accounts/get"} {
			f := newFake()
			r := httptest.NewRequest("POST", p, strings.NewReader(user("")))
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			r.Header.Set("Authorization", "bearer "+bearerToken)
			w := httptest.NewRecorder()
			New(Config{Service: f, Limits: &Limits{}}).ServeHTTP(w, r)
			if w.Code != 200 || !f.called("Accounts") {
				t.Errorf("%s: HTTP %d %s", p, w.Code, w.Body)
			}
		}
	})
	t.Run("healthz and readyz", func(t *testing.T) {
		f := newFake()
		srv := New(Config{Service: f})
		for _, c := range []struct {
			path   string
			down   bool
			status int
			body   string
		}{{"/healthz", false, 200, `"ok"`}, {"/readyz", false, 200, `"ready"`}, {"/readyz", true, 503, `"unavailable"`}} {
			f.errs["Ready"] = nil
			if c.down {
				f.errs["Ready"] = errStoreDown
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
			if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
				t.Errorf("%s (store down %v): HTTP %d %s", c.path, c.down, w.Code, w.Body)
			}
		}
	})
}
