// Tracing of connector calls: a span around each call to a connector
// (run and Login), when the service has a tracer.

package service

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// startConnectorSpan starts the span of one connector call, named
// "connector <endpoint>". The caller checked that s.tracer is set.
func (s *Service) startConnectorSpan(ctx context.Context, endpoint, bankID, opID string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, "connector "+endpoint, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("bankgate.endpoint", endpoint),
			attribute.String("bankgate.bank_id", bankID),
			attribute.String("bankgate.operation_id", opID),
		))
}

// endConnectorSpan records a connector call's outcome (a prompt for user
// input, or the Dapi error type of its error) and ends its span. An error
// that is not the bank's answer (an internal one) marks the span failed.
func endConnectorSpan(sp trace.Span, ch *bank.Challenge, err error) {
	switch {
	case err != nil:
		code := bankgate.ErrorCode(err)
		sp.SetAttributes(attribute.String("dapi.error.type", string(code)))
		if code == bankgate.Unknown {
			sp.SetStatus(codes.Error, err.Error())
		}
	case ch != nil:
		sp.SetAttributes(attribute.String("bankgate.status", bankgate.StatusUserInputRequired))
	}
	sp.End()
}
