package tracing_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/sqlite"
	"github.com/bankgate/bankgate/storetest"
	"github.com/bankgate/bankgate/tracing"
)

func openSQLite(t *testing.T) bankgate.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bankgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStoreConformance: the decorated store is still a store (every
// wrapped method hands its arguments and results through).
func TestStoreConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite again: runs without -short (as CI does)")
	}
	tp := sdktrace.NewTracerProvider()
	storetest.RunTests(t, func(t *testing.T) bankgate.Store {
		return tracing.Store(openSQLite(t), tp.Tracer("test"), "sqlite")
	})
}

// TestStoreSpans: a call within a traced request makes a child span named
// after the method; NotFound is recorded but is no failure; a call with
// no span in its context makes none.
func TestStoreSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	st := tracing.Store(openSQLite(t), tp.Tracer("test"), "sqlite")
	defer st.Close()

	app := storetest.MustCreateApp(t, st, "traced")
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("calls outside a trace made %d spans", n)
	}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	if _, err := st.App(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.App(ctx, "no-such-app"); !bankgate.IsCode(err, bankgate.NotFound) {
		t.Fatalf("App(unknown) = %v, want NotFound", err)
	}
	parent.End()

	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 2 store spans and the parent", len(spans))
	}
	for i, sp := range spans[:2] {
		if sp.Name != "store.App" || sp.Parent.SpanID() != parent.SpanContext().SpanID() || sp.SpanContext.TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %d: %s, parent %s: want store.App under the request", i, sp.Name, sp.Parent.SpanID())
		}
		if sp.Status.Code == codes.Error {
			t.Errorf("span %d failed: %v", i, sp.Status)
		}
		if !hasAttr(sp.Attributes, attribute.String("db.system.name", "sqlite")) || !hasAttr(sp.Attributes, attribute.String("db.operation.name", "App")) {
			t.Errorf("span %d attributes %v", i, sp.Attributes)
		}
	}
	if !hasAttr(spans[1].Attributes, attribute.String("error.type", string(bankgate.NotFound))) {
		t.Errorf("NotFound not recorded: %v", spans[1].Attributes)
	}
}

func hasAttr(attrs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, a := range attrs {
		if a == want {
			return true
		}
	}
	return false
}
