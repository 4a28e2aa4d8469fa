package service_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
)

// redirectBank is a connector whose one bank logs users in by redirect:
// the callback's code "good" connects, "tampered" fails a check,
// "denied" is the user's refusal.
type redirectBank struct{ finished int }

const redirectBankID = "REDIRECT_TEST"

func (r *redirectBank) Banks() []bankgate.Bank {
	return []bankgate.Bank{{ID: redirectBankID, Name: "Redirect", Country: "AE", Redirect: true}}
}
func (r *redirectBank) Login(context.Context, bank.LoginRequest) (*bank.LoginResult, error) {
	return nil, errors.New("not by password")
}
func (r *redirectBank) Redirects(bankID string) bool { return bankID == redirectBankID }
func (r *redirectBank) StartRedirect(_ context.Context, req bank.RedirectRequest) (*bank.RedirectStart, error) {
	return &bank.RedirectStart{URL: "https://bank.example/authorize?s=" + url.QueryEscape(req.State) + "&cb=" + url.QueryEscape(req.RedirectURI),
		State: []byte("verifier")}, nil
}
func (r *redirectBank) FinishRedirect(_ context.Context, req bank.RedirectFinish) (*bank.LoginResult, error) {
	if string(req.State) != "verifier" {
		return nil, errors.New("state lost")
	}
	switch url.Values(req.Query).Get("code") {
	case "good":
		r.finished++
		return &bank.LoginResult{Session: []byte("session"), UserKey: "psu-1"}, nil
	case "denied":
		return nil, bankgate.Errorf(bankgate.InvalidCredentials, "denied")
	}
	return nil, bankgate.Errorf(bankgate.ParameterError, "tampered")
}

func TestRedirectLogin(t *testing.T) {
	st := openStore(t)
	keys, _ := secret.NewKeyring(bytes.Repeat([]byte{3}, secret.KeySize))
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	rb := &redirectBank{}
	s := service.New(service.Config{Store: st, Keyring: keys, Now: clk.Now, Connectors: []bank.Connector{rb},
		PublicURL: "https://bankgate.example/"})
	ctx := context.Background()
	app, err := s.CreateApp(ctx, "prod", bankgate.EnvProduction)
	if err != nil {
		t.Fatal(err)
	}
	key := app.App.Key
	start := func(ret string) (*bankgate.LoginResult, url.Values) {
		t.Helper()
		res, err := s.Login(ctx, bankgate.LoginRequest{AppKey: key, BankID: redirectBankID, CallbackURL: "http://forged.example/connect/callback", ReturnQuery: ret})
		if err != nil {
			t.Fatal(err)
		}
		if res.Connected != nil || res.RedirectURL == "" || res.OperationID == "" {
			t.Fatalf("start %+v", res)
		}
		u, _ := url.Parse(res.RedirectURL)
		if cb := u.Query().Get("cb"); cb != "https://bankgate.example/connect/callback" {
			t.Fatalf("callback %s: the public URL wins", cb)
		}
		return res, url.Values{"state": {u.Query().Get("s")}}
	}
	resume := func(op string) (*bankgate.LoginResult, error) {
		return s.Login(ctx, bankgate.LoginRequest{AppKey: key, BankID: redirectBankID, OperationID: op})
	}
	callback := func(q url.Values, code string) (*bankgate.CallbackResult, error) {
		q2 := url.Values{"code": {code}}
		for k, v := range q {
			q2[k] = v
		}
		return s.RedirectCallback(ctx, q2)
	}

	res, q := start("")
	if r, err := resume(res.OperationID); err != nil || r.RedirectURL != res.RedirectURL {
		t.Fatalf("resume before the callback: %+v %v", r, err)
	}
	op, _ := s.OperationStatus(ctx, app.Secret, res.OperationID)
	if op.Status != bankgate.StatusRedirectRequired {
		t.Fatalf("operation %s", op.Status)
	}
	// A state with another nonce, or none, names no login.
	for _, bad := range []string{res.OperationID + ".0", res.OperationID, "x.y", strings.Repeat("a", 400)} {
		if _, err := s.RedirectCallback(ctx, url.Values{"state": {bad}, "code": {"good"}}); !bankgate.IsCode(err, bankgate.ParameterError) {
			t.Errorf("state %.20q: %v", bad, err)
		}
	}
	// A callback that fails the connector's checks leaves the login waiting.
	if _, err := callback(q, "tampered"); !bankgate.IsCode(err, bankgate.ParameterError) {
		t.Fatalf("tampered: %v", err)
	}
	cr, err := callback(q, "good")
	if err != nil || cr.OperationID != res.OperationID || cr.Return != "" {
		t.Fatalf("callback %+v %v", cr, err)
	}
	if _, err := callback(q, "good"); !bankgate.IsCode(err, bankgate.ParameterError) || rb.finished != 1 {
		t.Fatalf("the callback again: %v (finished %d)", err, rb.finished)
	}
	done, err := resume(res.OperationID)
	if err != nil || done.Connected == nil || done.Connected.AccessCode == "" || done.Connected.BankID != redirectBankID {
		t.Fatalf("resume %+v %v", done, err)
	}
	if _, err := resume(res.OperationID); !bankgate.IsCode(err, bankgate.InvalidOperationID) {
		t.Fatalf("second resume: %v", err)
	}
	ex, err := s.ExchangeToken(ctx, app.Secret, done.Connected.AccessCode, done.Connected.ConnectionID, false)
	if err != nil || ex.UserID != done.Connected.UserID {
		t.Fatalf("exchange %+v %v", ex, err)
	}

	// The user refuses: the resume says so.
	res, q = start("?appKey=" + key + "&state=abc")
	cr, err = callback(q, "denied")
	if !bankgate.IsCode(err, bankgate.InvalidCredentials) || cr == nil ||
		cr.Return != "?appKey="+key+"&state=abc#bg-resume="+url.QueryEscape(res.OperationID)+"&bank="+redirectBankID {
		t.Fatalf("denied: %+v %v", cr, err)
	}
	if _, err := resume(res.OperationID); !bankgate.IsCode(err, bankgate.InvalidCredentials) {
		t.Fatalf("resume after denial: %v", err)
	}

	// Ten minutes on, a login nobody came back to has expired.
	res, q = start("")
	clk.Advance(service.RedirectTTL)
	if _, err := resume(res.OperationID); !bankgate.IsCode(err, bankgate.SessionExpired) {
		t.Fatalf("resume after expiry: %v", err)
	}
	if _, err := callback(q, "good"); !bankgate.IsCode(err, bankgate.ParameterError) {
		t.Fatalf("callback after expiry: %v", err)
	}

	// Another app's query, or not a query, is refused.
	for _, bad := range []string{"appKey=" + key, "?appKey=other", "?" + strings.Repeat("a", 5000)} {
		_, err := s.Login(ctx, bankgate.LoginRequest{AppKey: key, BankID: redirectBankID, ReturnQuery: bad})
		if !bankgate.IsCode(err, bankgate.ParameterError) {
			t.Errorf("returnQuery %.20q: %v", bad, err)
		}
	}
	// Another app cannot resume the login.
	other, _ := s.CreateApp(ctx, "other", bankgate.EnvProduction)
	res, _ = start("")
	if _, err := s.Login(ctx, bankgate.LoginRequest{AppKey: other.App.Key, BankID: redirectBankID, OperationID: res.OperationID}); !bankgate.IsCode(err, bankgate.InvalidOperationID) {
		t.Fatalf("another app's resume: %v", err)
	}
}
