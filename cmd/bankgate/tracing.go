package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// OpenTelemetry tracing: off unless the standard OTEL_* environment turns
// it on (tracingOn); then spans go to an OTLP/HTTP collector that the
// same variables configure. The SDK and the exporter are used here only:
// the rest of bankgate sees a trace.Tracer, nil when tracing is off.

// tracingOn reports whether the environment asks for traces, and refuses
// a setting this build cannot honour:
//
//   - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off;
//   - OTEL_TRACES_EXPORTER=otlp: on;
//   - OTEL_TRACES_EXPORTER unset: on when OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, else off;
//   - another exporter (console, zipkin, ...), or an OTLP protocol other
//     than http/protobuf (OTEL_EXPORTER_OTLP_PROTOCOL,
//     OTEL_EXPORTER_OTLP_TRACES_PROTOCOL): an error.
func tracingOn(env func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(env("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	on := false
	switch exp := strings.ToLower(strings.TrimSpace(env("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return false, nil
	case "otlp":
		on = true
	case "":
		on = env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: bankgate exports traces with otlp (or none)", exp)
	}
	if !on {
		return false, nil
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(env(k)); p != "" {
			if p != "http/protobuf" {
				return false, fmt.Errorf("%s=%s: bankgate sends OTLP over HTTP only (http/protobuf, port 4318 by default)", k, p)
			}
			break
		}
	}
	return true, nil
}

// otelTracing is the server's tracer provider, when tracing is on.
type otelTracing struct {
	tp *sdktrace.TracerProvider
}

// tracer returns the tracer bankgate's packages use, nil when tracing is
// off.
func (t *otelTracing) tracer() trace.Tracer {
	if t == nil {
		return nil
	}
	return t.tp.Tracer("github.com/bankgate/bankgate")
}

// shutdown flushes the spans not yet exported and stops the provider.
func (t *otelTracing) shutdown(ctx context.Context, log *slog.Logger) {
	if t == nil {
		return
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		log.Warn("flush traces", "err", err)
	}
}

// startTracing returns the tracer provider the environment asks for, or
// nil when tracing is off. exp, when not nil (tests), receives every span
// as it ends, whatever the environment says.
func startTracing(ctx context.Context, env func(string) string, exp sdktrace.SpanExporter, log *slog.Logger) (*otelTracing, error) {
	var opt sdktrace.TracerProviderOption
	if exp != nil {
		opt = sdktrace.WithSyncer(exp)
	} else {
		on, err := tracingOn(env)
		if err != nil || !on {
			return nil, err
		}
		// The exporter reads its endpoint, headers, timeout, compression
		// and certificates from the OTEL_EXPORTER_OTLP_* variables. It
		// connects at the first export, not now.
		otlp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OpenTelemetry exporter: %w", err)
		}
		opt = sdktrace.WithBatcher(otlp)
		// Export failures are logged, not printed by the SDK's own logger.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("OpenTelemetry", "err", err) }))
	}
	// service.name and service.version, which OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES override. The sampler is the SDK's default
	// (parent-based, always on), or OTEL_TRACES_SAMPLER's.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "bankgate"), attribute.String("service.version", readBuildInfo().Version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	tp := sdktrace.NewTracerProvider(opt, sdktrace.WithResource(res))
	log.Info("tracing on", "exporter", exporterName(exp))
	return &otelTracing{tp: tp}, nil
}

func exporterName(exp sdktrace.SpanExporter) string {
	if exp != nil {
		return fmt.Sprintf("%T", exp)
	}
	return "otlp/http"
}
