package http

import (
	"net/http"
	"testing"
)

// discardWriter is a minimal ResponseWriter for benchmarks.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkEnvelopeEncoding measures rendering a balance envelope.
func BenchmarkEnvelopeEncoding(b *testing.B) {
	srv := New(Config{})
	v := &accountBalanceResponse{envelope: done("EBILAEAD:3d0c8c2e-8f3e-4a7f-9d55-0e1a7a1f2b3c"),
		Balance: wireBalance{Amount: 12738.78, Currency: wireCurrency{"AED", "UNITED ARAB EMIRATES DIRHAM"}, AccountNumber: "1507540685546"}}
	w := &statusWriter{ResponseWriter: &discardWriter{h: http.Header{}}}
	b.ReportAllocs()
	for b.Loop() {
		w.status = 0
		srv.writeJSON(w, http.StatusOK, v)
	}
}
