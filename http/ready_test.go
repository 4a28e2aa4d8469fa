package http

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadyHook: /readyz answers 503 while Config.Ready says so (the
// shutdown drain, a store refusing writes) without asking the service or
// logging above debug, and 200 once it does not.
func TestReadyHook(t *testing.T) {
	var notReady error = errors.New("shutting down")
	var logs strings.Builder
	f := newFake()
	srv := New(Config{Service: f, Limits: &Limits{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Ready: func(context.Context) error { return notReady }})
	get := func() int {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		return w.Code
	}
	if c := get(); c != 503 || f.called("Ready") {
		t.Fatalf("not ready: %d, service asked %v", c, f.called("Ready"))
	}
	if strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("logged:\n%s", logs.String())
	}
	notReady = nil
	if c := get(); c != 200 || !f.called("Ready") {
		t.Fatalf("ready: %d, service asked %v", c, f.called("Ready"))
	}
}
