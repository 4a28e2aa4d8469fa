package http

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/requestid"
)

// registerRoutes registers every API route. Paths are matched
// case-insensitively, with or without /v2 and the leading slash.
func (s *Server) registerRoutes() {
	s.handle("/connect/banks/get", s.banksGet)
	s.handle("/connect/login", s.connectLogin)
	for _, p := range []string{"/connect/banks/get", "/connect/login"} {
		s.routes[normalizePath(p)].connect = true
	}
	s.handle("/auth/ExchangeToken", s.exchangeToken)

	s.handle("/data/identity/get", s.bearer(s.identityGet))
	s.handle("/data/accounts/get", s.bearer(s.accountsGet))
	s.handle("/users/DelinkUser", s.bearer(s.delink))
	s.handle("/data/DelinkUser", s.bearer(s.delink))
	s.registerDataRoutes()
	s.registerBatchRoutes()
	s.registerSandboxRoutes()
	s.handle("/sdk/apps/configs/get", s.sdkConfig)
	s.handle("/", s.forward)
	s.handle("/dd", s.forward)
	s.routes["/"].forward, s.routes["/dd"].forward = true, true

	// The one endpoint of the Dapi v2 table whose body is not known
	// answers with a clear error rather than a 404.
	s.handle("/nymcard/funds/load", notImplemented)
}

func notImplemented(ctx context.Context, c *request) (any, error) {
	return nil, bankgate.Errorf(bankgate.NotImplemented, "This endpoint is not available on this server yet.")
}

// flexStrings accepts ["AE","SA"], "AE,SA" or null.
type flexStrings []string

func (f *flexStrings) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				*f = append(*f, p)
			}
		}
		return nil
	}
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = v
	return nil
}

type banksRequest struct {
	AppKey    string      `json:"appKey"`
	Countries flexStrings `json:"countries"`
}

type banksResponse struct {
	envelope
	Banks []wireBank `json:"banks"`
}

func (s *Server) banksGet(ctx context.Context, c *request) (any, error) {
	var req banksRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if err := missing("appKey", req.AppKey); err != nil {
		return nil, err
	}
	if c.crossSite {
		app, err := s.svc.AppByKey(ctx, req.AppKey)
		if err != nil {
			return nil, err
		}
		if err := checkCrossSite(c, app); err != nil {
			return nil, err
		}
	}
	banks, err := s.svc.Banks(ctx, req.AppKey, req.Countries)
	if err != nil {
		return nil, err
	}
	c.noteApp(req.AppKey)
	return &banksResponse{envelope: done(""), Banks: toWireBanks(banks)}, nil
}

type loginRequest struct {
	AppKey       string            `json:"appKey"`
	BankID       string            `json:"bankID"`
	Username     string            `json:"username"`
	Password     string            `json:"password"`
	ClientUserID string            `json:"clientUserID"`
	OperationID  string            `json:"operationID"`
	UserInputs   []wireUserInputIn `json:"userInputs"`
	// ReturnQuery is bankgate's addition, sent by the Connect page: its
	// query, where a redirect bank's callback brings the user back to.
	ReturnQuery string `json:"returnQuery"`
}

type loginResponse struct {
	envelope
	AccessCode   string `json:"accessCode,omitempty"`
	UserSecret   string `json:"userSecret,omitempty"`
	ConnectionID string `json:"connectionID,omitempty"`
	UserID       string `json:"userID,omitempty"`
	TokenID      string `json:"tokenID,omitempty"`
	BankID       string `json:"bankID,omitempty"`
	// RedirectURL is where to send the user to authorise at a redirect
	// bank (status redirect_required).
	RedirectURL string `json:"redirectURL,omitempty"`
}

func (s *Server) connectLogin(ctx context.Context, c *request) (any, error) {
	var req loginRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if err := missing("appKey", req.AppKey, "bankID", req.BankID); err != nil {
		return nil, err
	}
	redirect := s.svc.RedirectBank(req.BankID)
	switch {
	case redirect && req.Username == "" && req.Password == "":
		// The user logs in at the bank.
	case req.OperationID == "":
		if err := missing("username", req.Username, "password", req.Password); err != nil {
			return nil, err
		}
	case len(req.UserInputs) == 0:
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"userInputs\" is required to resume an operation.")
	}
	// Bank logins are guessable (human passwords), so their limits are
	// checked before the attempt and refuse every attempt while spent.
	// Nothing the client sent becomes a limiter key before it is
	// validated: the app must exist, the bank must be one this server
	// serves, and the username at most 256 characters; keys are digests.
	login := bankgate.LoginRequest{
		AppKey: req.AppKey, BankID: req.BankID, Username: req.Username, Password: req.Password,
		ClientUserID: req.ClientUserID, OperationID: req.OperationID, Answers: fromWireInputs(req.UserInputs),
		CallbackURL: c.base + "/connect/callback", ReturnQuery: req.ReturnQuery,
	}
	app, err := s.svc.CheckLogin(ctx, login)
	if err != nil {
		return nil, err
	}
	c.noteApp(app.Key)
	if err := checkCrossSite(c, app); err != nil {
		return nil, err
	}
	// Each attempt holds a token of its address and of its user while it
	// runs (so concurrent attempts cannot exceed the limits) and spends
	// it only if the login fails: a team's CI may log the same user in as
	// often as it likes.
	now := s.limits.now()
	ipTry, ok, wait := s.limits.loginFailIP.begin(c.client, now)
	if !ok {
		return nil, limited(wait)
	}
	var userTry attempt
	if req.OperationID == "" && req.Username != "" {
		userTry, ok, wait = s.limits.loginUser.begin(digestKey(app.ID, req.BankID, strings.ToLower(req.Username)), now)
		if !ok {
			ipTry.end(now, false)
			return nil, limited(wait)
		}
	}
	failed := false
	defer func() { ipTry.end(now, failed); userTry.end(now, failed) }()
	// New connections are bounded per address and per app; a resume is
	// counted when it connects.
	appKey := digestKey("app", app.ID)
	if req.OperationID == "" {
		for _, l := range []struct {
			k   *keyedLimiter
			key limitKey
		}{{s.limits.loginIP, c.client}, {s.limits.loginApp, appKey}} {
			if ok, wait := l.k.check(l.key, now); !ok {
				return nil, limited(wait)
			}
		}
	}
	res, err := s.svc.Login(ctx, login)
	if err != nil {
		failed = loginFailure(err)
		return nil, err
	}
	if res.Connected == nil && res.RedirectURL != "" {
		return &loginResponse{envelope: envelope{Success: true, Status: bankgate.StatusRedirectRequired, OperationID: res.OperationID}, RedirectURL: res.RedirectURL}, nil
	}
	if res.Connected == nil {
		return &loginResponse{envelope: envelope{Success: true, Status: bankgate.StatusUserInputRequired, OperationID: res.OperationID, UserInputs: toWireInputs(res.Inputs)}}, nil
	}
	s.limits.loginIP.take(c.client, now)
	s.limits.loginApp.take(appKey, now)
	cn := res.Connected
	return &loginResponse{envelope: done(res.OperationID), AccessCode: cn.AccessCode, UserSecret: cn.UserSecret,
		ConnectionID: cn.ConnectionID, UserID: cn.UserID, TokenID: cn.TokenID, BankID: cn.BankID}, nil
}

type exchangeRequest struct {
	AppSecret    string `json:"appSecret"`
	AccessCode   string `json:"accessCode"`
	ConnectionID string `json:"connectionID"`
}

type exchangeResponse struct {
	envelope
	AccessToken string `json:"accessToken,omitempty"`
	TokenID     string `json:"tokenID"`
	UserID      string `json:"userID"`
	// ClientUserID is bankgate's addition: the clientUserID given at
	// login, for the app to check against its own user (login CSRF).
	ClientUserID string `json:"clientUserID,omitempty"`
}

func (s *Server) exchangeToken(ctx context.Context, c *request) (any, error) {
	var req exchangeRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if err := missing("accessCode", req.AccessCode, "connectionID", req.ConnectionID); err != nil {
		return nil, err
	}
	if req.AppSecret == "" {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is missing.")
	}
	ex, err := s.svc.ExchangeToken(ctx, req.AppSecret, req.AccessCode, req.ConnectionID, c.forwarded)
	if err != nil {
		// A wrong access code for a valid app counts against the app (its
		// secret's digest keys it). Failures per client address are
		// counted by dispatch, as for every route.
		if bankgate.IsCode(err, bankgate.InvalidAccessCode) {
			return nil, s.refuseFailure(s.limits.exchangeFail, digestKey("app-secret", req.AppSecret), err)
		}
		return nil, err
	}
	c.noteApp(ex.AppKey)
	return &exchangeResponse{envelope: done(""), AccessToken: ex.AccessToken, TokenID: ex.TokenID, UserID: ex.UserID, ClientUserID: ex.ClientUserID}, nil
}

// userHandler handles an authenticated per-user call.
type userHandler func(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error)

// withBase is a per-user request body: the base fields plus the
// endpoint's own (a struct embedding baseRequest).
type withBase interface{ base() *baseRequest }

func (b *baseRequest) base() *baseRequest { return b }

// bearer authenticates a per-user call whose body is just the base fields.
func (s *Server) bearer(h userHandler) handlerFunc {
	return bearerOf(s, func(ctx context.Context, c *request, p *bankgate.Principal, req *baseRequest) (any, error) {
		return h(ctx, c, p, req)
	})
}

// bearerOf decodes the body once into the endpoint's request type, then
// authenticates the call (token, then appSecret, then userSecret) before
// running h.
func bearerOf[T any, PT interface {
	*T
	withBase
}](s *Server, h func(ctx context.Context, c *request, p *bankgate.Principal, req PT) (any, error)) handlerFunc {
	return func(ctx context.Context, c *request) (any, error) {
		req := PT(new(T))
		if fd := flatFor(any(req)); fd == nil || !decodeFlat(c.body, fd) {
			*req = *new(T)
			if err := decode(c.body, req); err != nil {
				return nil, err
			}
		}
		base := req.base()
		var p *bankgate.Principal
		var err error
		if c.forwarded && c.bearer == "" {
			p, err = s.svc.AuthenticateTokenID(ctx, base.TokenID, base.AppSecret, base.UserSecret)
		} else {
			p, err = s.svc.Authenticate(ctx, c.bearer, base.AppSecret, base.UserSecret)
		}
		if err != nil {
			return nil, err // failures are counted by dispatch
		}
		c.noteApp(p.AppKey)
		if c.idempotencyKey != "" && base.OperationID == "" && idempotentRoutes[c.route.name] {
			return s.idempotent(ctx, c, p, func() (any, error) { return h(ctx, c, p, req) })
		}
		return h(ctx, c, p, req)
	}
}

type identityResponse struct {
	envelope
	Identity *wireIdentity `json:"identity"`
}

func (s *Server) identityGet(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	return respond(s.svc.Identity(ctx, p, callOpts(c, base)))(func(env envelope, v *bankgate.Identity) any {
		return &identityResponse{envelope: env, Identity: toWireIdentity(v)}
	})
}

type accountsResponse struct {
	envelope
	Accounts []wireAccount `json:"accounts"`
}

func (s *Server) accountsGet(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	return respond(s.svc.Accounts(ctx, p, callOpts(c, base)))(func(env envelope, v []bankgate.Account) any {
		return &accountsResponse{envelope: env, Accounts: toWireAccounts(v)}
	})
}

func (s *Server) delink(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	if err := s.svc.Delink(ctx, p); err != nil {
		return nil, err
	}
	return &envelope{Success: true, Status: bankgate.StatusDone, OperationID: ""}, nil
}

// checkCrossSite refuses a Connect call that a browser made from another
// site unless its Origin is one the app registered: any web page could
// otherwise make its visitors' browsers submit logins.
func checkCrossSite(c *request, app *bankgate.App) error {
	if !c.crossSite {
		return nil
	}
	if o, err := bankgate.NormalizeOrigin(c.origin); err == nil && slices.Contains(app.AllowedOrigins, o) {
		return nil
	}
	return bankgate.Errorf(bankgate.BadRequest, "Cross-site requests to the Connect API must come from an origin the app registered (bankgate apps set --allowed-origin).")
}

// idempotentRoutes accept an Idempotency-Key header.
var idempotentRoutes = map[string]bool{
	"/payment/beneficiaries/create": true,
	"/payment/transfer/create":      true,
	"/payment/transfer/autoflow":    true,
	"/wire/beneficiaries/create":    true,
	"/wire/transfer/create":         true,
	"/wire/transfer/autoflow":       true,
	"/ach/pull/create":              true,
	"/batch/transfers/create":       true,
	"/batch/file/create":            true,
}

// validIdempotencyKey reports whether k is an acceptable Idempotency-Key:
// 1 to 255 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotent runs a payment request at most once per Idempotency-Key: a
// retry with the same key and body gets the first response again
// (Idempotent-Replayed: true); the same key with another body fails.
func (s *Server) idempotent(ctx context.Context, c *request, p *bankgate.Principal, h func() (any, error)) (any, error) {
	if !validIdempotencyKey(c.idempotencyKey) {
		return nil, bankgate.Errorf(bankgate.ParameterError, "The Idempotency-Key header must be 1 to 255 printable ASCII characters.")
	}
	stored, err := s.svc.BeginIdempotent(ctx, p, c.idempotencyKey, c.route.name, c.body)
	if err != nil {
		return nil, err
	}
	if stored != nil {
		return &rawResponse{status: stored.Status, body: stored.Body, header: http.Header{
			"Content-Type":        jsonContentType,
			"Cache-Control":       noStore,
			"Idempotent-Replayed": []string{"true"},
		}}, nil
	}
	v, herr := h()
	rr := s.capture(v, herr, requestid.FromContext(ctx))
	if err := s.svc.FinishIdempotent(ctx, p, c.idempotencyKey, bankgate.StoredResponse{Status: rr.status, Body: rr.body}); err != nil {
		s.log.Warn("record idempotent response", "reqID", requestid.FromContext(ctx), "route", c.route.name, "err", err)
	}
	return rr, nil
}
