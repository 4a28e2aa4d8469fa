// Redirect logins: Connect logins at banks that authenticate the user
// themselves (open-banking consents), from the authorisation URL to the
// callback that makes the connection and the resume that hands it over.

package service

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/secret"
)

// RedirectTTL is how long a user has to authorise at the bank and come
// back, and then how long the app has to resume the login.
const RedirectTTL = 10 * time.Minute

// CallbackPath is where banks send users back to.
const CallbackPath = "/connect/callback"

// redirectState is a redirect login's operation state, sealed by the
// server key.
type redirectState struct {
	Conn         []byte `json:"conn"` // the connector's state
	Nonce        string `json:"nonce"`
	URL          string `json:"url"`
	ClientUserID string `json:"cuid,omitempty"`
	// Return is the query of the Connect page the login started on.
	Return string `json:"return,omitempty"`
	// Connected is set once the callback made the connection, until the
	// resume hands it to the app.
	Connected *bankgate.Connected `json:"connected,omitempty"`
}

// redirector returns the connector of bankID if the bank logs users in by
// redirect.
func (s *Service) redirector(bankID string) (bank.RedirectLogin, bool) {
	rl, ok := s.banks[bankID].(bank.RedirectLogin)
	if !ok || !rl.Redirects(bankID) {
		return nil, false
	}
	return rl, true
}

// RedirectBank reports whether bankID logs users in by redirect.
func (s *Service) RedirectBank(bankID string) bool {
	_, ok := s.redirector(bankID)
	return ok
}

func (s *Service) callbackURL(req bankgate.LoginRequest) string {
	if s.publicURL != "" {
		return s.publicURL + CallbackPath
	}
	return req.CallbackURL
}

// redirectLogin starts a redirect login, or resumes one by operationID.
func (s *Service) redirectLogin(ctx context.Context, app *bankgate.App, rl bank.RedirectLogin, req bankgate.LoginRequest) (*bankgate.LoginResult, error) {
	if req.OperationID != "" {
		return s.resumeRedirect(ctx, app, req)
	}
	ret, err := returnQuery(app, req.ReturnQuery)
	if err != nil {
		return nil, err
	}
	cb := s.callbackURL(req)
	if cb == "" {
		return nil, fmt.Errorf("login: no callback URL for a redirect bank (set the public URL)")
	}
	opID := s.newOperationID(req.BankID)
	nonce := secret.Hex(16)
	var start *bank.RedirectStart
	err = s.traced(ctx, bankgate.LoginEndpoint, req.BankID, opID, func(ctx context.Context) (err error) {
		start, err = rl.StartRedirect(ctx, bank.RedirectRequest{AppID: worldID(app), BankID: req.BankID, RedirectURI: cb,
			State: opID + "." + nonce, Now: s.AppNow(app)})
		return err
	})
	if err != nil {
		s.auditLoginFailed(ctx, app, req, err)
		return nil, err
	}
	raw, err := json.Marshal(redirectState{Conn: start.State, Nonce: nonce, URL: start.URL, ClientUserID: req.ClientUserID, Return: ret})
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealState(opID, raw)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if err := s.store.CreateOperation(ctx, &bankgate.Operation{ID: opID, AppID: app.ID, BankID: req.BankID,
		Endpoint: bankgate.LoginEndpoint, Status: bankgate.StatusRedirectRequired, State: sealed,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(RedirectTTL)}); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return &bankgate.LoginResult{OperationID: opID, RedirectURL: start.URL}, nil
}

// returnQuery checks the query of the Connect page a login started on: a
// query of the page for this app, at most 4 KiB.
func returnQuery(app *bankgate.App, q string) (string, error) {
	if q == "" {
		return "", nil
	}
	bad := bankgate.Errorf(bankgate.ParameterError, "returnQuery must be the Connect page's query (?appKey=...), at most 4096 characters.")
	rest, ok := strings.CutPrefix(q, "?")
	if !ok || len(q) > 4096 {
		return "", bad
	}
	v, err := url.ParseQuery(rest)
	if err != nil || v.Get("appKey") != app.Key {
		return "", bad
	}
	return "?" + v.Encode(), nil
}

// back is where the Connect page continues after the callback.
func (st *redirectState) back(op *bankgate.Operation) string {
	if st.Return == "" {
		return ""
	}
	return st.Return + "#bg-resume=" + url.QueryEscape(op.ID) + "&bank=" + url.QueryEscape(op.BankID)
}

func (s *Service) openRedirect(op *bankgate.Operation) (*redirectState, error) {
	raw, err := s.openState(op.ID, op.State)
	if err != nil {
		return nil, fmt.Errorf("open operation state: %w", err)
	}
	var st redirectState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("operation state: %w", err)
	}
	return &st, nil
}

// resumeRedirect answers a redirect login's resume: still waiting (the
// redirect again), the connection (once), or how it failed.
func (s *Service) resumeRedirect(ctx context.Context, app *bankgate.App, req bankgate.LoginRequest) (*bankgate.LoginResult, error) {
	bad := bankgate.Errorf(bankgate.InvalidOperationID, "The operationID is unknown, expired or already completed.")
	if len(req.OperationID) > 200 {
		return nil, bad
	}
	op, err := s.store.Operation(ctx, req.OperationID)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if op.AppID != app.ID || op.BankID != req.BankID || op.ConnectionID != "" || !strings.EqualFold(op.Endpoint, bankgate.LoginEndpoint) {
		return nil, bad
	}
	now := s.Now()
	switch op.Status {
	case bankgate.StatusRedirectRequired:
		if !now.Before(op.ExpiresAt) {
			return nil, bankgate.Errorf(bankgate.SessionExpired, "The user did not come back from the bank in time; start the login again.")
		}
		st, err := s.openRedirect(op)
		if err != nil {
			return nil, err
		}
		return &bankgate.LoginResult{OperationID: op.ID, RedirectURL: st.URL}, nil
	case bankgate.StatusRedirectReturned:
		if !now.Before(op.ExpiresAt) {
			return nil, bad
		}
		st, err := s.openRedirect(op)
		if err != nil {
			return nil, err
		}
		claimed := *op
		claimed.Status, claimed.State, claimed.UpdatedAt = bankgate.StatusInitialized, nil, now
		if err := s.store.UpdateOperation(ctx, &claimed, bankgate.StatusRedirectReturned); err != nil {
			if bankgate.IsCode(err, bankgate.Conflict) {
				return nil, bad
			}
			return nil, err
		}
		s.finishOperation(ctx, &claimed, nil, nil)
		if st.Connected == nil {
			return nil, fmt.Errorf("login: returned redirect without a connection")
		}
		return &bankgate.LoginResult{OperationID: op.ID, Connected: st.Connected}, nil
	case bankgate.StatusFailed:
		code := bankgate.Code(op.ErrorType)
		if code == "" {
			code = bankgate.UnableToConnectToBank
		}
		return nil, bankgate.Errorf(code, "The login at the bank did not succeed.")
	}
	return nil, bad
}

// RedirectCallback completes a redirect login when the bank sends the
// user back: the state names the operation (and carries its nonce), the
// connector checks the rest (iss, the code with PKCE, the ID token), and
// the connection is made for the app's resume to collect. A callback
// that fails a check leaves the login waiting for the genuine one;
// anything else (a used or unknown state, the user's refusal) ends it.
func (s *Service) RedirectCallback(ctx context.Context, query map[string][]string) (*bankgate.CallbackResult, error) {
	bad := bankgate.Errorf(bankgate.ParameterError, "This sign-in is unknown, expired or already completed. Start again from the app.")
	states := query["state"]
	if len(states) != 1 || len(states[0]) > 300 {
		return nil, bad
	}
	i := strings.LastIndexByte(states[0], '.')
	if i <= 0 {
		return nil, bad
	}
	opID, nonce := states[0][:i], states[0][i+1:]
	op, err := s.store.Operation(ctx, opID)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if op.Status != bankgate.StatusRedirectRequired || !now.Before(op.ExpiresAt) || op.ConnectionID != "" ||
		!strings.EqualFold(op.Endpoint, bankgate.LoginEndpoint) {
		return nil, bad
	}
	st, err := s.openRedirect(op)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(st.Nonce)) != 1 {
		return nil, bad
	}
	rl, ok := s.redirector(op.BankID)
	if !ok {
		return nil, bad
	}
	app, err := s.store.App(ctx, op.AppID)
	if err != nil {
		return nil, err
	}
	if app.Disabled() {
		return nil, errAppDisabled()
	}
	claimed := *op
	claimed.Status, claimed.UpdatedAt = bankgate.StatusInitialized, now
	if err := s.store.UpdateOperation(ctx, &claimed, bankgate.StatusRedirectRequired); err != nil {
		if bankgate.IsCode(err, bankgate.Conflict) {
			return nil, bad
		}
		return nil, err
	}
	var res *bank.LoginResult
	err = s.traced(ctx, CallbackPath, op.BankID, op.ID, func(ctx context.Context) (err error) {
		res, err = rl.FinishRedirect(ctx, bank.RedirectFinish{AppID: worldID(app), BankID: op.BankID, State: st.Conn, Query: query, Now: s.AppNow(app)})
		return err
	})
	if err == nil && res.Session == nil {
		err = fmt.Errorf("login: the connector finished without a session")
	}
	if err != nil {
		logReq := bankgate.LoginRequest{BankID: op.BankID, OperationID: op.ID}
		s.auditLoginFailed(ctx, app, logReq, err)
		if bankgate.IsCode(err, bankgate.ParameterError) {
			// A forged or tampered answer: the login waits on.
			restored := claimed
			restored.Status, restored.UpdatedAt = bankgate.StatusRedirectRequired, s.Now()
			if uerr := s.store.UpdateOperation(ctx, &restored, bankgate.StatusInitialized); uerr != nil {
				s.log.Warn("restore redirect login", "operationID", op.ID, "err", uerr)
			}
			return nil, err
		}
		s.finishOperation(ctx, &claimed, err, nil)
		return &bankgate.CallbackResult{OperationID: op.ID, App: app, BankID: op.BankID, Return: st.back(op)}, err
	}
	c, err := s.connect(ctx, app, op.BankID, st.ClientUserID, res)
	if err != nil {
		s.finishOperation(ctx, &claimed, err, nil)
		return nil, fmt.Errorf("login: %w", err)
	}
	st.Connected = c
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealState(op.ID, raw)
	if err != nil {
		return nil, err
	}
	returned := claimed
	returned.Status, returned.State, returned.UpdatedAt = bankgate.StatusRedirectReturned, sealed, s.Now()
	returned.ExpiresAt = returned.UpdatedAt.Add(RedirectTTL)
	if err := s.store.UpdateOperation(ctx, &returned, bankgate.StatusInitialized); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return &bankgate.CallbackResult{OperationID: op.ID, App: app, BankID: op.BankID, Return: st.back(op)}, nil
}

// delinkAtBank revokes the connection's grant at the bank, when its
// connector holds one. A failure is logged: the delink stands.
func (s *Service) delinkAtBank(ctx context.Context, p *bankgate.Principal) {
	c, err := s.connector(p)
	if err != nil {
		return
	}
	d, ok := c.(bank.Delinker)
	if !ok {
		return
	}
	err = s.traced(ctx, "/users/DelinkUser", p.BankID, "", func(ctx context.Context) error {
		return d.Delink(ctx, &bank.Call{Session: session(p), Now: p.Now})
	})
	if err != nil {
		s.log.Warn("delink at the bank", "bankID", p.BankID, "connectionID", p.ConnectionID, "err", err)
	}
}

// traced runs one connector call in a span of its own when tracing is on.
func (s *Service) traced(ctx context.Context, endpoint, bankID, opID string, fn func(context.Context) error) error {
	if s.tracer == nil {
		return fn(ctx)
	}
	cctx, span := s.startConnectorSpan(ctx, endpoint, bankID, opID)
	err := fn(cctx)
	endConnectorSpan(span, nil, err)
	return err
}
