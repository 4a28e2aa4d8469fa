package http

import (
	"context"
	"strings"

	"github.com/bankgate/bankgate"
)

// ddRequest is the part of an SDK-forwarded body the dispatcher reads.
type ddRequest struct {
	Action string `json:"action"`
}

// forward serves the SDK-forwarding ("DD") endpoint: POST / (or /dd) with
// the client SDK's body, relayed by the app backend with its appSecret
// added. The body's action names the v2 path; the call runs through the
// same handler as the direct API. The client never holds the access
// token: ExchangeToken answers without it, and later calls name the grant
// by tokenID (an Authorization header, if present, is used instead).
func (s *Server) forward(ctx context.Context, c *request) (any, error) {
	var req ddRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if req.Action == "" {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"action\" is required.")
	}
	key := normalizePath(req.Action)
	rt := s.routes[key]
	if rt == nil || rt.name == "/" || rt.name == "/dd" || strings.HasPrefix(rt.name, "/sandbox/") {
		return nil, bankgate.Errorf(bankgate.EndpointNotFound, "The action does not name an endpoint.")
	}
	fc := *c
	fc.route, fc.forwarded = rt, true
	v, err := rt.handler(ctx, &fc)
	if err != nil {
		return nil, err
	}
	if ex, ok := v.(*exchangeResponse); ok {
		ex.AccessToken = ""
	}
	return v, nil
}
