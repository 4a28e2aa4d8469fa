// Connect logins: checks, the connector's login (with its MFA prompts),
// the new connection and its access code.

package service

import (
	"context"
	"encoding/base64"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/secret"
)

// CheckLogin checks a Connect login before it runs and returns its app:
// InvalidAppCredentials for an unknown appKey, InvalidBankID for a bank
// this server does not serve or the app may not use, ParameterMissing
// without username and password (unless it resumes an operation), and
// ParameterError for fields longer than 256 characters. The transport
// calls it before it spends rate limits on the attempt; Login checks the
// same.
func (s *Service) CheckLogin(ctx context.Context, req bankgate.LoginRequest) (*bankgate.App, error) {
	app, err := s.AppByKey(ctx, req.AppKey)
	if err != nil {
		return nil, err
	}
	b, ok := s.bankIndex[req.BankID]
	if !ok {
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bankID is not a bank this server serves.")
	}
	if !reaches(app, b) {
		if b.Sandbox {
			return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bank %s is a sandbox bank; a production app cannot use it.", b.ID)
		}
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bank %s is a real bank; a sandbox app cannot use it.", b.ID)
	}
	if req.OperationID == "" && (req.Username == "" || req.Password == "") && !s.RedirectBank(req.BankID) {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "username and password are required.")
	}
	if len(req.Username) > 256 || len(req.Password) > 256 || len(req.ClientUserID) > 256 {
		return nil, bankgate.Errorf(bankgate.ParameterError, "username, password and clientUserID must be at most 256 characters.")
	}
	return app, nil
}

// Login runs a Connect login (or resumes one) against the bank's
// connector, after the checks of CheckLogin.
func (s *Service) Login(ctx context.Context, req bankgate.LoginRequest) (*bankgate.LoginResult, error) {
	app, err := s.CheckLogin(ctx, req)
	if err != nil {
		return nil, err
	}
	if rl, ok := s.redirector(req.BankID); ok {
		return s.redirectLogin(ctx, app, rl, req)
	}
	conn := s.banks[req.BankID]
	breq := bank.LoginRequest{AppID: worldID(app), BankID: req.BankID, Now: s.AppNow(app)}
	var op *bankgate.Operation
	if req.OperationID == "" {
		breq.Username, breq.Password = req.Username, req.Password
	} else {
		var state []byte
		op, state, err = s.claimOperation(ctx, req.OperationID, app.ID, "", bankgate.LoginEndpoint)
		if err != nil {
			return nil, err
		}
		if op.BankID != req.BankID {
			s.finishOperation(ctx, op, bankgate.Errorf(bankgate.InvalidOperationID, ""), nil)
			return nil, bankgate.Errorf(bankgate.InvalidOperationID, "The operationID is unknown, expired or already completed.")
		}
		breq.State, breq.Answers = state, req.Answers
	}
	lctx := ctx
	var span trace.Span
	if s.tracer != nil {
		lctx, span = s.startConnectorSpan(ctx, bankgate.LoginEndpoint, req.BankID, req.OperationID)
	}
	res, err := conn.Login(lctx, breq)
	if span != nil {
		var ch *bank.Challenge
		if res != nil {
			ch = res.Challenge
		}
		endConnectorSpan(span, ch, err)
	}
	if op != nil {
		s.finishOperation(ctx, op, err, nil)
	}
	if err != nil {
		s.auditLoginFailed(ctx, app, req, err)
		return nil, err
	}
	opID := s.newOperationID(req.BankID)
	if res.Challenge != nil {
		if err := s.createPrompt(ctx, opID, app.ID, "", req.BankID, bankgate.LoginEndpoint, res.Challenge); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		return &bankgate.LoginResult{OperationID: opID, Inputs: res.Challenge.Inputs}, nil
	}
	c, err := s.connect(ctx, app, req.BankID, req.ClientUserID, res)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return &bankgate.LoginResult{OperationID: opID, Connected: c}, nil
}

// connect stores a new connection for a finished login and issues its
// access code.
func (s *Service) connect(ctx context.Context, app *bankgate.App, bankID, clientUserID string, res *bank.LoginResult) (*bankgate.Connected, error) {
	now := s.Now()
	c := &bankgate.Connected{
		AccessCode:   secret.Random(secret.PrefixAccessCode, CodeBytes),
		UserSecret:   secret.Random(secret.PrefixUserSecret, UserSecretBytes),
		ConnectionID: secret.Hex(20),
		UserID:       s.userID(app.ID, bankID, res.UserKey),
		TokenID:      newID(),
		BankID:       bankID,
	}
	sealed, err := s.keys.Seal(c.UserSecret, c.ConnectionID, res.Session)
	if err != nil {
		return nil, err
	}
	conn := &bankgate.Connection{
		ID: c.ConnectionID, AppID: app.ID, BankID: bankID, UserID: c.UserID, ClientUserID: clientUserID,
		UserSecretDigest: s.keys.Digest(domainUserSecret, c.UserSecret), Sealed: sealed, CreatedAt: now,
	}
	code := &bankgate.AccessCode{
		Digest: s.keys.Digest(domainCode, c.AccessCode), AppID: app.ID, ConnectionID: c.ConnectionID,
		TokenID: c.TokenID, CreatedAt: now, ExpiresAt: now.Add(s.codeTTL),
	}
	if err := s.store.CreateConnection(ctx, conn, code); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) userID(appID, bankID, userKey string) string {
	// The original server key derives userIDs for the store's whole life,
	// so an end user keeps one userID across key rotations.
	d := s.keys.IDDigest(domainUserID, appID+"\x00"+bankID+"\x00"+userKey)
	return base64.RawURLEncoding.EncodeToString(d[:24])
}
