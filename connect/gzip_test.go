package connect

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAssetsGzip: connect.js and the page's assets, compressed once at
// start, are sent gzipped to a client that accepts gzip (with their own
// ETag), as they are to one that does not, and both are told Vary:
// Accept-Encoding.
func TestAssetsGzip(t *testing.T) {
	h := New(Config{Apps: testApps()})
	for _, path := range []string{"/connect.js", "/connect/assets/page.js", "/connect/assets/page.css"} {
		req := func(ae string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			if ae != "" {
				r.Header.Set("Accept-Encoding", ae)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				t.Fatalf("%s: %d", path, w.Code)
			}
			return w
		}
		plain, zipped := req(""), req("gzip, deflate, br")
		if plain.Header().Get("Content-Encoding") != "" || zipped.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: Content-Encoding %q without, %q with gzip", path, plain.Header().Get("Content-Encoding"), zipped.Header().Get("Content-Encoding"))
		}
		for _, w := range []*httptest.ResponseRecorder{plain, zipped} {
			if w.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s: Vary %q", path, w.Header().Get("Vary"))
			}
		}
		if plain.Header().Get("ETag") == zipped.Header().Get("ETag") {
			t.Errorf("%s: one ETag for both encodings", path)
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		if !bytes.Equal(got, plain.Body.Bytes()) || zipped.Body.Len()*2 > plain.Body.Len() {
			t.Errorf("%s: %d bytes gzipped to %d, equal when gunzipped: %v", path, plain.Body.Len(), zipped.Body.Len(), bytes.Equal(got, plain.Body.Bytes()))
		}
		if w := req("gzip;q=0"); w.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s: gzipped for q=0", path)
		}
		// Revalidation of the gzipped copy.
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Accept-Encoding", "gzip")
		r.Header.Set("If-None-Match", zipped.Header().Get("ETag"))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNotModified {
			t.Errorf("%s: If-None-Match on the gzipped copy: %d", path, w.Code)
		}
	}
}
