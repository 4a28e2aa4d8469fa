package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/bankgate/bankgate/requestid"
)

// TestTracingOn: tracing is off by default and follows the standard
// OTEL_* variables; settings this build cannot honour are refused.
func TestTracingOn(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		on   bool
		err  bool
	}{
		{"nothing set", nil, false, false},
		{"an endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, false},
		{"a traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true, false},
		{"otlp exporter (default endpoint)", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, false},
		{"exporter none beats an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false, false},
		{"SDK disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, false},
		{"http/protobuf", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, false},
		{"grpc refused", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, true},
		{"traces protocol beats the general one", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, true, false},
		{"another exporter refused", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, true},
		{"grpc is fine while tracing is off", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			on, err := tracingOn(func(k string) string { return c.env[k] })
			if on != c.on || (err != nil) != c.err {
				t.Errorf("tracingOn = %v, %v; want %v, error %v", on, err, c.on, c.err)
			}
		})
	}
}

// TestTracingExportsOTLP: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are
// sent to the collector there over OTLP/HTTP (flushed at shutdown at the
// latest).
func TestTracingExportsOTLP(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method == "POST" && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" && len(b) > 0 {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	tr, err := startTracing(ctx, os.Getenv, nil, log)
	if err != nil || tr == nil {
		t.Fatalf("startTracing = %v, %v: want tracing on", tr, err)
	}
	_, sp := tr.tracer().Start(ctx, "test span")
	sp.End()
	tr.shutdown(ctx, log)
	if posts.Load() == 0 {
		t.Error("the collector received no spans")
	}

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	if tr, err := startTracing(ctx, os.Getenv, nil, log); tr != nil || err != nil || tr.tracer() != nil {
		t.Errorf("startTracing without OTEL_* = %v, %v: want off", tr, err)
	}
}

// TestLogLinesCarryRequestID: a line logged with a request's context (as
// the service logs a failed write) carries its reqID and traceID; one
// logged without carries neither.
func TestLogLinesCarryRequestID(t *testing.T) {
	var buf strings.Builder
	log, err := newLogger("info", &buf)
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	log.With("pkg", "service").WarnContext(requestid.NewContext(ctx, "req-42"), "record operation", "operationID", "op-1")
	log.Warn("no request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, second map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil {
		t.Fatalf("log: %q", buf.String())
	}
	if first["reqID"] != "req-42" || first["traceID"] != tid.String() || first["operationID"] != "op-1" || first["pkg"] != "service" {
		t.Errorf("line with the request's context: %v", first)
	}
	if _, has := second["reqID"]; has {
		t.Errorf("line without a request: %v", second)
	}
}
