package http

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a minimal ResponseWriter for benchmarks.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkTokenCheck measures the cached bearer check: token digest,
// cache lookup, appSecret and userSecret comparison.
func BenchmarkTokenCheck(b *testing.B) {
	srv, _, appSecret, conn := newTestServer(b)
	ctx := context.Background()
	if _, err := srv.svc.Authenticate(ctx, conn.AccessCode, appSecret, conn.UserSecret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := srv.svc.Authenticate(ctx, conn.AccessCode, appSecret, conn.UserSecret); err != nil {
			b.Fatal(err)
		}
	}
}

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

// BenchmarkBalanceRequest measures a whole balance/get request through
// the handler (no network): routing, body read, decode, bearer check,
// connector read, encoding, logging.
func BenchmarkBalanceRequest(b *testing.B) {
	srv, _, appSecret, conn := newTestServer(b)
	token := conn.AccessCode
	acctReq := httptest.NewRequest("POST", "/v2/data/accounts/get", bytes.NewReader([]byte(`{"appSecret":"`+appSecret+`","userSecret":"`+conn.UserSecret+`"}`)))
	acctReq.Header.Set("Authorization", "Bearer "+token)
	acctReq.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, acctReq)
	var accts struct {
		Accounts []struct {
			ID string `json:"id"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &accts); err != nil || len(accts.Accounts) == 0 {
		b.Fatalf("accounts: %s", rec.Body.String())
	}
	body := []byte(`{"appSecret":"` + appSecret + `","userSecret":"` + conn.UserSecret + `","accountID":"` + accts.Accounts[0].ID + `"}`)
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(body)
	req := httptest.NewRequest("POST", "/v2/data/balance/get", rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = http.NoBody
		req.Body = readCloser{rd}
		clear(w.h)
		srv.ServeHTTP(w, req)
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
