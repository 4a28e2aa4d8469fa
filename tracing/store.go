// Package tracing holds bankgate's OpenTelemetry instrumentation that is
// not the transport's or the service's own: the store decorator. It uses
// the OpenTelemetry API only; the SDK and the exporter are wired in
// cmd/bankgate, and only when tracing is on.
package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/bankgate/bankgate"
)

// Store returns st with a span ("store.<Method>", kind client) around
// every call made within a traced request: a call whose context carries
// no span (the change feed's polling, the sweeper, a CLI command) starts
// no trace of its own. system names the store in the spans'
// db.system.name ("sqlite" or "postgresql").
//
// A store method that is not wrapped here (one added to the contract
// later) still works, untraced, through the embedded store.
func Store(st bankgate.Store, tr trace.Tracer, system string) bankgate.Store {
	return &store{Store: st, tr: tr, system: attribute.String("db.system.name", system)}
}

type store struct {
	bankgate.Store
	tr     trace.Tracer
	system attribute.KeyValue
}

// start starts the span of one store call, named "store.<op>", when ctx
// carries a span; else it returns ctx and a nil span.
func (s *store) start(ctx context.Context, name string) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, nil
	}
	return s.tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(s.system, attribute.String("db.operation.name", name[len("store."):])))
}

// end records the call's error and ends its span. NotFound and Conflict
// are answers, not failures: only other errors mark the span failed.
func end(sp trace.Span, err error) {
	if sp == nil {
		return
	}
	if err != nil {
		code := bankgate.ErrorCode(err)
		sp.SetAttributes(attribute.String("error.type", string(code)))
		if code != bankgate.NotFound && code != bankgate.Conflict {
			sp.SetStatus(codes.Error, err.Error())
		}
	}
	sp.End()
}

func (s *store) Ping(ctx context.Context) error {
	ctx, sp := s.start(ctx, "store.Ping")
	err := s.Store.Ping(ctx)
	end(sp, err)
	return err
}

func (s *store) CreateApp(ctx context.Context, app *bankgate.App) error {
	ctx, sp := s.start(ctx, "store.CreateApp")
	err := s.Store.CreateApp(ctx, app)
	end(sp, err)
	return err
}

func (s *store) App(ctx context.Context, id string) (*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.App")
	v, err := s.Store.App(ctx, id)
	end(sp, err)
	return v, err
}

func (s *store) AppByKey(ctx context.Context, key string) (*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.AppByKey")
	v, err := s.Store.AppByKey(ctx, key)
	end(sp, err)
	return v, err
}

func (s *store) AppBySecret(ctx context.Context, digest []byte) (*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.AppBySecret")
	v, err := s.Store.AppBySecret(ctx, digest)
	end(sp, err)
	return v, err
}

func (s *store) ListApps(ctx context.Context) ([]*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.ListApps")
	v, err := s.Store.ListApps(ctx)
	end(sp, err)
	return v, err
}

func (s *store) RotateAppSecret(ctx context.Context, appID string, digest []byte, now time.Time) error {
	ctx, sp := s.start(ctx, "store.RotateAppSecret")
	err := s.Store.RotateAppSecret(ctx, appID, digest, now)
	end(sp, err)
	return err
}

func (s *store) UpdateApp(ctx context.Context, appID string, now time.Time, fn func(*bankgate.App) error) (*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.UpdateApp")
	v, err := s.Store.UpdateApp(ctx, appID, now, fn)
	end(sp, err)
	return v, err
}

func (s *store) AdvanceAppClock(ctx context.Context, appID string, d time.Duration, now time.Time) (time.Duration, error) {
	ctx, sp := s.start(ctx, "store.AdvanceAppClock")
	v, err := s.Store.AdvanceAppClock(ctx, appID, d, now)
	end(sp, err)
	return v, err
}

func (s *store) CreateConnection(ctx context.Context, conn *bankgate.Connection, code *bankgate.AccessCode) error {
	ctx, sp := s.start(ctx, "store.CreateConnection")
	err := s.Store.CreateConnection(ctx, conn, code)
	end(sp, err)
	return err
}

func (s *store) Connection(ctx context.Context, id string) (*bankgate.Connection, error) {
	ctx, sp := s.start(ctx, "store.Connection")
	v, err := s.Store.Connection(ctx, id)
	end(sp, err)
	return v, err
}

func (s *store) ExchangeAccessCode(ctx context.Context, ex *bankgate.Exchange) error {
	ctx, sp := s.start(ctx, "store.ExchangeAccessCode")
	err := s.Store.ExchangeAccessCode(ctx, ex)
	end(sp, err)
	return err
}

func (s *store) Grant(ctx context.Context, tokenDigest []byte) (*bankgate.Grant, error) {
	ctx, sp := s.start(ctx, "store.Grant")
	v, err := s.Store.Grant(ctx, tokenDigest)
	end(sp, err)
	return v, err
}

func (s *store) GrantByTokenID(ctx context.Context, tokenID string) (*bankgate.Grant, error) {
	ctx, sp := s.start(ctx, "store.GrantByTokenID")
	v, err := s.Store.GrantByTokenID(ctx, tokenID)
	end(sp, err)
	return v, err
}

func (s *store) DelinkConnection(ctx context.Context, connectionID string, now time.Time) error {
	ctx, sp := s.start(ctx, "store.DelinkConnection")
	err := s.Store.DelinkConnection(ctx, connectionID, now)
	end(sp, err)
	return err
}

func (s *store) CreateOperation(ctx context.Context, op *bankgate.Operation) error {
	ctx, sp := s.start(ctx, "store.CreateOperation")
	err := s.Store.CreateOperation(ctx, op)
	end(sp, err)
	return err
}

func (s *store) Operation(ctx context.Context, id string) (*bankgate.Operation, error) {
	ctx, sp := s.start(ctx, "store.Operation")
	v, err := s.Store.Operation(ctx, id)
	end(sp, err)
	return v, err
}

func (s *store) UpdateOperation(ctx context.Context, op *bankgate.Operation, fromStatus string) error {
	ctx, sp := s.start(ctx, "store.UpdateOperation")
	err := s.Store.UpdateOperation(ctx, op, fromStatus)
	end(sp, err)
	return err
}

func (s *store) DeleteExpired(ctx context.Context, now, auditBefore time.Time) (int, error) {
	ctx, sp := s.start(ctx, "store.DeleteExpired")
	v, err := s.Store.DeleteExpired(ctx, now, auditBefore)
	end(sp, err)
	return v, err
}

func (s *store) Audit(ctx context.Context, appID string, limit int) ([]bankgate.AuditEvent, error) {
	ctx, sp := s.start(ctx, "store.Audit")
	v, err := s.Store.Audit(ctx, appID, limit)
	end(sp, err)
	return v, err
}

func (s *store) AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error {
	ctx, sp := s.start(ctx, "store.AppendEvent")
	err := s.Store.AppendEvent(ctx, stream, seq, at, body)
	end(sp, err)
	return err
}

func (s *store) Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error) {
	ctx, sp := s.start(ctx, "store.Events")
	v, err := s.Store.Events(ctx, stream, after)
	end(sp, err)
	return v, err
}

func (s *store) Changes(ctx context.Context, after int64, limit int) ([]bankgate.Change, error) {
	ctx, sp := s.start(ctx, "store.Changes")
	v, err := s.Store.Changes(ctx, after, limit)
	end(sp, err)
	return v, err
}

func (s *store) LastChange(ctx context.Context) (int64, error) {
	ctx, sp := s.start(ctx, "store.LastChange")
	v, err := s.Store.LastChange(ctx)
	end(sp, err)
	return v, err
}

func (s *store) ServerKeys(ctx context.Context) ([]bankgate.ServerKey, error) {
	ctx, sp := s.start(ctx, "store.ServerKeys")
	v, err := s.Store.ServerKeys(ctx)
	end(sp, err)
	return v, err
}

func (s *store) AddServerKey(ctx context.Context, k *bankgate.ServerKey) error {
	ctx, sp := s.start(ctx, "store.AddServerKey")
	err := s.Store.AddServerKey(ctx, k)
	end(sp, err)
	return err
}

func (s *store) KeyUsage(ctx context.Context, sel bankgate.KeySelector, now time.Time) (bankgate.KeyUsage, error) {
	ctx, sp := s.start(ctx, "store.KeyUsage")
	v, err := s.Store.KeyUsage(ctx, sel, now)
	end(sp, err)
	return v, err
}

func (s *store) RetireServerKey(ctx context.Context, id string, sel bankgate.KeySelector, now time.Time, force bool) (bankgate.KeyUsage, error) {
	ctx, sp := s.start(ctx, "store.RetireServerKey")
	v, err := s.Store.RetireServerKey(ctx, id, sel, now, force)
	end(sp, err)
	return v, err
}

func (s *store) RedigestApp(ctx context.Context, appID string, old, new []byte) (bool, error) {
	ctx, sp := s.start(ctx, "store.RedigestApp")
	v, err := s.Store.RedigestApp(ctx, appID, old, new)
	end(sp, err)
	return v, err
}

func (s *store) RedigestToken(ctx context.Context, old, new []byte) (bool, error) {
	ctx, sp := s.start(ctx, "store.RedigestToken")
	v, err := s.Store.RedigestToken(ctx, old, new)
	end(sp, err)
	return v, err
}

func (s *store) RedigestConnection(ctx context.Context, connID string, oldDigest, newDigest, sealed []byte) (bool, error) {
	ctx, sp := s.start(ctx, "store.RedigestConnection")
	v, err := s.Store.RedigestConnection(ctx, connID, oldDigest, newDigest, sealed)
	end(sp, err)
	return v, err
}

func (s *store) RotateAppSecretUntil(ctx context.Context, appID string, digest []byte, now, oldUntil time.Time, detail string) error {
	ctx, sp := s.start(ctx, "store.RotateAppSecretUntil")
	err := s.Store.RotateAppSecretUntil(ctx, appID, digest, now, oldUntil, detail)
	end(sp, err)
	return err
}

func (s *store) AppByPrevSecret(ctx context.Context, digest []byte, now time.Time) (*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.AppByPrevSecret")
	v, err := s.Store.AppByPrevSecret(ctx, digest, now)
	end(sp, err)
	return v, err
}

func (s *store) SetAppDisabled(ctx context.Context, appID string, disabled bool, now time.Time, detail string) (*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.SetAppDisabled")
	v, err := s.Store.SetAppDisabled(ctx, appID, disabled, now, detail)
	end(sp, err)
	return v, err
}

func (s *store) SetAppEnvironment(ctx context.Context, appID, environment string, now time.Time, detail string) (*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.SetAppEnvironment")
	v, err := s.Store.SetAppEnvironment(ctx, appID, environment, now, detail)
	end(sp, err)
	return v, err
}

func (s *store) ResetAppSandbox(ctx context.Context, appID string, now time.Time, detail string) (*bankgate.App, error) {
	ctx, sp := s.start(ctx, "store.ResetAppSandbox")
	v, err := s.Store.ResetAppSandbox(ctx, appID, now, detail)
	end(sp, err)
	return v, err
}

func (s *store) RevokeAppTokens(ctx context.Context, appID string, before, now time.Time, detail string) (int, error) {
	ctx, sp := s.start(ctx, "store.RevokeAppTokens")
	v, err := s.Store.RevokeAppTokens(ctx, appID, before, now, detail)
	end(sp, err)
	return v, err
}

func (s *store) RevokeConnection(ctx context.Context, connID string, now time.Time, detail string) error {
	ctx, sp := s.start(ctx, "store.RevokeConnection")
	err := s.Store.RevokeConnection(ctx, connID, now, detail)
	end(sp, err)
	return err
}

func (s *store) TouchConnections(ctx context.Context, connIDs []string, at time.Time) error {
	ctx, sp := s.start(ctx, "store.TouchConnections")
	err := s.Store.TouchConnections(ctx, connIDs, at)
	end(sp, err)
	return err
}

func (s *store) AppStats(ctx context.Context) (map[string]bankgate.AppStats, error) {
	ctx, sp := s.start(ctx, "store.AppStats")
	v, err := s.Store.AppStats(ctx)
	end(sp, err)
	return v, err
}

func (s *store) ConnectionInfos(ctx context.Context, q bankgate.ConnectionQuery) ([]bankgate.ConnectionInfo, error) {
	ctx, sp := s.start(ctx, "store.ConnectionInfos")
	v, err := s.Store.ConnectionInfos(ctx, q)
	end(sp, err)
	return v, err
}

func (s *store) ConnectionInfo(ctx context.Context, id string) (*bankgate.ConnectionInfo, error) {
	ctx, sp := s.start(ctx, "store.ConnectionInfo")
	v, err := s.Store.ConnectionInfo(ctx, id)
	end(sp, err)
	return v, err
}

func (s *store) ConnectionTokens(ctx context.Context, connID string) ([]bankgate.Token, error) {
	ctx, sp := s.start(ctx, "store.ConnectionTokens")
	v, err := s.Store.ConnectionTokens(ctx, connID)
	end(sp, err)
	return v, err
}

func (s *store) SearchAudit(ctx context.Context, q bankgate.AuditQuery) ([]bankgate.AuditEvent, error) {
	ctx, sp := s.start(ctx, "store.SearchAudit")
	v, err := s.Store.SearchAudit(ctx, q)
	end(sp, err)
	return v, err
}

func (s *store) RecordAudit(ctx context.Context, e *bankgate.AuditEvent) error {
	ctx, sp := s.start(ctx, "store.RecordAudit")
	err := s.Store.RecordAudit(ctx, e)
	end(sp, err)
	return err
}
