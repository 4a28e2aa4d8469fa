package http

import (
	"context"
	"time"

	"github.com/bankgate/bankgate"
)

type clockRequest struct {
	AppSecret string `json:"appSecret"`
	// Advance is a Go duration ("36h", "90m") to move the clock forward.
	Advance string `json:"advance"`
}

type clockResponse struct {
	envelope
	Now string `json:"now"`
}

// sandboxClock reads (empty advance) or advances the server's virtual
// sandbox clock. Any registered app may call it; it exists only when the
// server was started with --sandbox-clock.
func (s *Server) sandboxClock(ctx context.Context, c *call) (any, error) {
	var req clockRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if req.AppSecret == "" {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is missing.")
	}
	if _, err := s.svc.AppBySecret(ctx, req.AppSecret); err != nil {
		return nil, err
	}
	if s.clock == nil {
		return nil, bankgate.Errorf(bankgate.NotImplemented, "The sandbox clock is not enabled; start the server with --sandbox-clock.")
	}
	now := s.clock.Now()
	if req.Advance != "" {
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			return nil, bankgate.Errorf(bankgate.ParameterError, "The field \"advance\" must be a duration such as \"36h\".")
		}
		if now, err = s.clock.Advance(d); err != nil {
			return nil, bankgate.Errorf(bankgate.ParameterError, "The clock moves forward by at most 400 days at a time.")
		}
	}
	return &clockResponse{envelope: done(""), Now: wireTime(now)}, nil
}
