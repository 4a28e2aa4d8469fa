package http

import (
	"context"
	"encoding/json"

	"github.com/bankgate/bankgate"
)

type clockRequest struct {
	AppSecret string `json:"appSecret"`
	// Advance moves the app's clock forward: a Go duration ("36h", "90m")
	// or a number of days ("30d"). Empty only reads the clock.
	Advance string `json:"advance"`
}

type clockResponse struct {
	envelope
	Now string `json:"now"`
	// Offset is how far the app has moved its clock in all, as a Go
	// duration.
	Offset string `json:"offset"`
}

// sandboxClock reads (empty advance) or advances the calling app's
// sandbox test clock; no other app's clock or world moves.
func (s *Server) sandboxClock(ctx context.Context, c *request) (any, error) {
	var req clockRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if req.AppSecret == "" {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is missing.")
	}
	clk, err := s.svc.AdvanceClock(ctx, req.AppSecret, req.Advance)
	if err != nil {
		return nil, err
	}
	return &clockResponse{envelope: done(""), Now: wireTime(clk.Now), Offset: clk.Offset.String()}, nil
}

// registerSandboxRoutes registers the sandbox's own endpoints: the app's
// test clock and its sandbox users.
func (s *Server) registerSandboxRoutes() {
	s.handle("/sandbox/clock", s.sandboxClock)
	s.handle("/sandbox/users/create", s.sandboxUsersCreate)
	s.handle("/sandbox/users/list", s.sandboxUsersList)
	s.handle("/sandbox/users/delete", s.sandboxUsersDelete)
	s.handle("/sandbox/webhooks/fire", s.sandboxWebhookFire)
}

type fireRequest struct {
	AppSecret string `json:"appSecret"`
	Type      string `json:"type"`
}

type fireResponse struct {
	envelope
	// WebhookID is the fired event's webhook-id.
	WebhookID string `json:"webhookID"`
	EventType string `json:"eventType"`
}

// sandboxWebhookFire sends the calling sandbox app a sample webhook event
// of the given type, through the outbox like any other.
func (s *Server) sandboxWebhookFire(ctx context.Context, c *request) (any, error) {
	var req fireRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if req.AppSecret == "" {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is missing.")
	}
	if req.Type == "" {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "type is required.")
	}
	id, err := s.svc.FireSandboxWebhook(ctx, req.AppSecret, req.Type)
	if err != nil {
		return nil, err
	}
	return &fireResponse{envelope: done(""), WebhookID: id, EventType: req.Type}, nil
}

type sandboxUserRequest struct {
	AppSecret string `json:"appSecret"`
	BankID    string `json:"bankID"`
	Username  string `json:"username"`
	// Fixture is the user, in the format of sandbox/doc.go.
	Fixture json.RawMessage `json:"fixture"`
}

type wireSandboxUser struct {
	BankID   string `json:"bankID"`
	Username string `json:"username"`
	Accounts int    `json:"accounts"`
	MFA      int    `json:"mfaInputs"`
}

type sandboxUserResponse struct {
	envelope
	User wireSandboxUser `json:"user"`
}

type sandboxUsersResponse struct {
	envelope
	Users []wireSandboxUser `json:"users"`
}

func toWireSandboxUser(u bankgate.SandboxUser) wireSandboxUser {
	return wireSandboxUser{BankID: u.BankID, Username: u.Username, Accounts: u.Accounts, MFA: u.MFA}
}

// decodeSandboxUser decodes a sandbox users request and checks that it
// carries an appSecret.
func decodeSandboxUser(c *request) (*sandboxUserRequest, error) {
	var req sandboxUserRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if req.AppSecret == "" {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is missing.")
	}
	return &req, nil
}

// sandboxUsersCreate creates or replaces a sandbox user in the calling
// app's world.
func (s *Server) sandboxUsersCreate(ctx context.Context, c *request) (any, error) {
	req, err := decodeSandboxUser(c)
	if err != nil {
		return nil, err
	}
	if len(req.Fixture) > 0 && req.Fixture[0] != '{' && string(req.Fixture) != "null" {
		return nil, bankgate.Errorf(bankgate.ParameterError, "The field \"fixture\" must be a JSON object.")
	}
	u, err := s.svc.CreateSandboxUser(ctx, req.AppSecret, req.BankID, req.Fixture)
	if err != nil {
		return nil, err
	}
	return &sandboxUserResponse{envelope: done(""), User: toWireSandboxUser(*u)}, nil
}

// sandboxUsersList lists the calling app's sandbox users.
func (s *Server) sandboxUsersList(ctx context.Context, c *request) (any, error) {
	req, err := decodeSandboxUser(c)
	if err != nil {
		return nil, err
	}
	us, err := s.svc.SandboxUsers(ctx, req.AppSecret)
	if err != nil {
		return nil, err
	}
	out := make([]wireSandboxUser, len(us))
	for i, u := range us {
		out[i] = toWireSandboxUser(u)
	}
	return &sandboxUsersResponse{envelope: done(""), Users: out}, nil
}

// sandboxUsersDelete deletes one of the calling app's sandbox users.
func (s *Server) sandboxUsersDelete(ctx context.Context, c *request) (any, error) {
	req, err := decodeSandboxUser(c)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DeleteSandboxUser(ctx, req.AppSecret, req.BankID, req.Username); err != nil {
		return nil, err
	}
	return done(""), nil
}
