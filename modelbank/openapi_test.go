package modelbank_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/modelbank"
	"github.com/bankgate/bankgate/openbanking"
)

// validating checks every answer of the Account and Transaction API
// against the specification's OpenAPI document.
type validating struct {
	t      *testing.T
	base   http.RoundTripper
	router routers.Router
	prefix string

	mu   sync.Mutex
	seen map[string]bool // operationID and status validated
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := v.base.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.String(), v.prefix) {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("%s %s: no route in the specification: %v", req.Method, req.URL.Path, err)
		return res, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, RegexCompiler: compileRegex}},
		Status: res.StatusCode, Header: res.Header, Options: &openapi3filter.Options{IncludeResponseStatus: true, RegexCompiler: compileRegex},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		v.t.Errorf("%s %s answered %d, which the specification refuses: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
	v.mu.Lock()
	v.seen[route.Operation.OperationID+" "+http.StatusText(res.StatusCode)] = true
	v.mu.Unlock()
	return res, nil
}

// compileRegex is Go's regexp, with the document's one pattern that uses
// a lookahead (x-idempotency-key's: no leading or trailing space) written
// without it.
func compileRegex(expr string) (openapi3.RegexMatcher, error) {
	if expr == `^(?!\s)(.*)(\S)$` {
		expr = `^(\S|\S.*\S)$`
	}
	return regexp.Compile(expr)
}

func TestResponsesFollowTheOpenAPIDocument(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join("testdata", "account-info-openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Its patterns are compiled (with compileRegex) where responses are
	// validated; Go's regexp alone refuses one of them.
	if err := doc.Validate(loader.Context, openapi3.DisableSchemaPatternValidation()); err != nil {
		t.Fatalf("the specification itself: %v", err)
	}
	if doc.Info.Version != "3.1.11" {
		t.Fatalf("specification version %s", doc.Info.Version)
	}

	dir := t.TempDir()
	b, srv, _, err := modelbank.Start("127.0.0.1:0", modelbank.Options{PageSize: 7}, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	doc.Servers = openapi3.Servers{{URL: b.Issuer() + modelbank.APIPrefix}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := openbanking.LoadBanks(filepath.Join(dir, modelbank.FileBanks))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, modelbank.FileClientCert), filepath.Join(dir, modelbank.FileClientKey))
	if err != nil {
		t.Fatal(err)
	}
	mtls := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.CAPool(), Certificates: []tls.Certificate{cert}}}
	v := &validating{t: t, base: mtls, router: router, prefix: b.Issuer() + modelbank.APIPrefix, seen: map[string]bool{}}
	c := openbanking.New(cfgs, openbanking.Options{Transport: v})

	ctx := context.Background()
	psu := modelbank.PSUs[0]
	start, err := c.StartRedirect(ctx, bank.RedirectRequest{BankID: modelbank.BankID, RedirectURI: "http://127.0.0.1:9/cb", State: "s"})
	if err != nil {
		t.Fatal(err)
	}
	back := authoriseForTest(t, b, start.URL, psu)
	res, err := c.FinishRedirect(ctx, bank.RedirectFinish{BankID: modelbank.BankID, State: start.State, Query: back})
	if err != nil {
		t.Fatal(err)
	}
	call := &bank.Call{Session: bank.Session{BankID: modelbank.BankID, ConnectionID: "c1", Data: res.Session}, Now: time.Now()}
	if _, _, err := c.Identity(ctx, call); err != nil {
		t.Fatal(err)
	}
	accts, _, err := c.Accounts(ctx, call)
	if err != nil || len(accts) == 0 {
		t.Fatal(accts, err)
	}
	if _, _, err := c.Balance(ctx, call, accts[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Transactions(ctx, call, accts[0].ID, time.Now().AddDate(0, 0, -30), time.Now()); err != nil {
		t.Fatal(err)
	}
	c.Balance(ctx, call, "nope") // a 400
	b.ExpireConsent(b.Consents()[0])
	c.Accounts(ctx, call) // a 403, then the consent read
	if err := c.Delink(ctx, call); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"CreateAccountAccessConsents Created", "GetAccountAccessConsentsConsentId OK", "DeleteAccountAccessConsentsConsentId No Content",
		"GetAccounts OK", "GetAccountsAccountId OK", "GetAccountsAccountIdBalances OK", "GetAccountsAccountIdTransactions OK",
		"GetParty OK", "GetAccountsAccountId Bad Request", "GetAccounts Forbidden",
	} {
		if !v.seen[want] {
			t.Errorf("no %s answer was validated (validated: %v)", want, v.seen)
		}
	}
}
