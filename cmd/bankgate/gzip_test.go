package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	bghttp "github.com/bankgate/bankgate/http"
)

// TestGzip: an answer over bghttp.GzipMinBytes is gzipped only for a client that
// accepts gzip, with Vary: Accept-Encoding; a smaller one never is; the
// SDK-forwarding endpoint never is (Dapi's forwarders pass the client's
// Accept-Encoding on and hand the body back without Content-Encoding).
func TestGzipAnswers(t *testing.T) {
	parallelUnderShort(t)
	srv, _, appSecret, conn := newHandler(t)
	post := func(path, body, ae string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+conn.AccessCode)
		req.Header.Set("Content-Type", "application/json")
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
		}
		return w
	}
	creds := `"appSecret":"` + appSecret + `","userSecret":"` + conn.UserSecret + `"`
	var accts struct {
		Accounts []struct{ ID string } `json:"accounts"`
	}
	json.Unmarshal(post("/v2/data/accounts/get", "{"+creds+"}", "").Body.Bytes(), &accts)
	if len(accts.Accounts) == 0 {
		t.Fatal("no accounts")
	}
	txBody := `{` + creds + `,"accountID":"` + accts.Accounts[0].ID + `","fromDate":"2025-09-15","toDate":"2026-03-15"}`

	plain := post("/v2/data/transactions/get", txBody, "")
	if plain.Body.Len() < 4*bghttp.GzipMinBytes {
		t.Fatalf("transactions answer of %d bytes: too small for this test", plain.Body.Len())
	}
	if plain.Header().Get("Content-Encoding") != "" || plain.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("without Accept-Encoding: Content-Encoding %q, Vary %q", plain.Header().Get("Content-Encoding"), plain.Header().Get("Vary"))
	}
	for _, ae := range []string{"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "*", "GZIP"} {
		w := post("/v2/data/transactions/get", txBody, ae)
		if w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Vary") != "Accept-Encoding" {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, Vary %q", ae, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"))
		}
		zr, err := gzip.NewReader(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(withoutOpID(t, got), withoutOpID(t, plain.Body.Bytes())) {
			t.Fatalf("Accept-Encoding %q: gunzipped body differs (%v)", ae, err)
		}
		if w.Body.Len() >= len(got) {
			t.Errorf("gzipped %d bytes into %d", len(got), w.Body.Len())
		}
	}
	for _, ae := range []string{"deflate, br", "gzip;q=0", "gzip; q=0.000", "identity"} {
		if w := post("/v2/data/transactions/get", txBody, ae); w.Header().Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: gzipped", ae)
		}
	}
	// A small answer (the balance) goes out as it is.
	small := post("/v2/data/balance/get", `{`+creds+`,"accountID":"`+accts.Accounts[0].ID+`"}`, "gzip")
	if small.Body.Len() >= bghttp.GzipMinBytes || small.Header().Get("Content-Encoding") != "" || small.Header().Get("Vary") != "" {
		t.Errorf("balance (%d bytes): Content-Encoding %q, Vary %q", small.Body.Len(), small.Header().Get("Content-Encoding"), small.Header().Get("Vary"))
	}
	// The SDK-forwarding endpoint: never.
	fw := post("/", `{"action":"/data/transactions/get",`+txBody[1:], "gzip")
	if fw.Header().Get("Content-Encoding") != "" || !json.Valid(fw.Body.Bytes()) || fw.Body.Len() < bghttp.GzipMinBytes {
		t.Errorf("forwarded: Content-Encoding %q, %d bytes", fw.Header().Get("Content-Encoding"), fw.Body.Len())
	}
}

// withoutOpID is a JSON answer without its operationID (new every call).
func withoutOpID(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %.200s", err, b)
	}
	delete(m, "operationID")
	out, _ := json.Marshal(m)
	return out
}
