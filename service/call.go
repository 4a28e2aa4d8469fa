package service

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// run is the one path from the service to a connector: it finds the
// principal's connector as capability C (NotImplemented when its bank
// does not offer it) and calls fn with it, handling MFA: a challenge
// becomes a stored pending operation; a call carrying an operationID
// resumes it with the answers, which are good for that operation and
// endpoint only.
func run[C, V any](s *Service, ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions,
	fn func(c C, ctx context.Context, call *bank.Call) (V, *bank.Challenge, error)) (*bankgate.Outcome[V], error) {
	c, err := capability[C](s, p)
	if err != nil {
		return nil, err
	}
	return runCall(s, ctx, p, opts, func(ctx context.Context, call *bank.Call) (V, *bank.Challenge, error) {
		return fn(c, ctx, call)
	})
}

// runCall is run without the capability lookup, for calls that make
// several connector calls (a batch).
func runCall[V any](s *Service, ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions,
	fn func(ctx context.Context, call *bank.Call) (V, *bank.Challenge, error)) (*bankgate.Outcome[V], error) {
	return runCallEvent(s, ctx, p, opts, fn, nil)
}

// eventFunc makes the webhook event of a call that reached its final
// state (operation opID, at now): the call's value, or its error. It
// returns nil for no event.
type eventFunc[V any] func(opID string, v V, err error, now time.Time) *bankgate.WebhookEvent

// runCallEvent is runCall that, when the call reaches its final state,
// enqueues event's webhook event in the same store write as the
// operation's record.
func runCallEvent[V any](s *Service, ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions,
	fn func(ctx context.Context, call *bank.Call) (V, *bank.Challenge, error), event eventFunc[V]) (*bankgate.Outcome[V], error) {
	call := &bank.Call{Session: session(p), Now: p.Now, IdempotencyKey: opts.IdempotencyKey}
	var op *bankgate.Operation
	if opts.OperationID != "" {
		var state []byte
		var err error
		op, state, err = s.claimOperation(ctx, opts.OperationID, p.AppID, p.ConnectionID, opts.Endpoint)
		if err != nil {
			return nil, err
		}
		call.State, call.Answers, call.OperationID = state, opts.Answers, op.ID
		if call.State == nil {
			call.State = []byte{}
		}
	} else {
		call.OperationID = s.newOperationID(p.BankID)
	}
	cctx := ctx
	var span trace.Span
	if s.tracer != nil {
		cctx, span = s.startConnectorSpan(ctx, opts.Endpoint, p.BankID, call.OperationID)
	}
	v, ch, err := fn(cctx, call)
	if span != nil {
		endConnectorSpan(span, ch, err)
	}
	if ch != nil && err == nil {
		if op != nil {
			if err := s.reprompt(ctx, op, ch); err != nil {
				return nil, fmt.Errorf("%s: %w", opts.Endpoint, err)
			}
		} else if err := s.createPrompt(ctx, call.OperationID, p.AppID, p.ConnectionID, p.BankID, opts.Endpoint, ch); err != nil {
			return nil, fmt.Errorf("%s: %w", opts.Endpoint, err)
		}
		return &bankgate.Outcome[V]{OperationID: call.OperationID, Status: bankgate.StatusUserInputRequired, Inputs: ch.Inputs}, nil
	}
	var ev *bankgate.WebhookEvent
	if event != nil && (op != nil || opts.Record) {
		ev = event(call.OperationID, v, err, s.Now())
	}
	switch {
	case op != nil:
		s.finishOperation(ctx, op, err, ev)
	case opts.Record:
		s.recordOperation(ctx, call.OperationID, p, opts.Endpoint, err, ev)
	}
	if ev != nil {
		s.wakeWebhooks()
	}
	if err != nil {
		return nil, err
	}
	return &bankgate.Outcome[V]{OperationID: call.OperationID, Status: bankgate.StatusDone, Value: v}, nil
}

// session is the connector session of the principal's connection.
func session(p *bankgate.Principal) bank.Session {
	world := p.World
	if world == "" {
		world = p.AppID
	}
	return bank.Session{AppID: world, BankID: p.BankID, ConnectionID: p.ConnectionID, Data: p.Session}
}

// single adapts a connector method that never asks for input.
func single[V any](v V, err error) (V, *bank.Challenge, error) { return v, nil, err }

// connector returns the connector serving the principal's bank.
func (s *Service) connector(p *bankgate.Principal) (bank.Connector, error) {
	c, ok := s.banks[p.BankID]
	if !ok {
		return nil, bankgate.Errorf(bankgate.UnableToConnectToBank, "The bank of this connection is not available.")
	}
	return c, nil
}

// capability returns the principal's connector as the capability T, or
// NotImplemented when its bank does not offer it.
func capability[T any](s *Service, p *bankgate.Principal) (T, error) {
	var zero T
	c, err := s.connector(p)
	if err != nil {
		return zero, err
	}
	r, ok := c.(T)
	if !ok {
		return zero, bankgate.Errorf(bankgate.NotImplemented, "This bank does not offer this service.")
	}
	return r, nil
}
