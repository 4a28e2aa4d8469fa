package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCert is a self-signed certificate for 127.0.0.1, PEM-encoded.
type testCert struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
}

func newTestCert(t *testing.T, serial int64) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "bankgate test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})}
}

// install writes the pair as a renewal tool would: each file beside its
// final name, then renamed into place.
func (c testCert) install(t *testing.T, certFile, keyFile string) {
	t.Helper()
	replaceFile(t, keyFile, c.keyPEM)
	replaceFile(t, certFile, c.certPEM)
}

// replaceFile puts b at path atomically.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// tlsClient trusts the given certificates and speaks HTTP/2.
func tlsClient(certs ...testCert) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c.cert)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
}

// TestTLS: with --tls-cert-file and --tls-key-file the API is served over
// TLS 1.2+ with HTTP/2; a renewed certificate put in place of the files
// is served after SIGHUP, without a restart (the same listener and
// process answer). The admin listener, given the same files with
// --admin-tls-*, does the same.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first, second := newTestCert(t, 1), newTestCert(t, 2)
	first.install(t, certFile, keyFile)

	// The test process must not die of a SIGHUP that arrives after the
	// server stopped listening for it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	ready, done := make(chan string, 1), make(chan error, 1)
	var adminAddr string
	go func() {
		done <- cmdServe(ctx, []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
			"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--admin-tls-cert-file", certFile, "--admin-tls-key-file", keyFile},
			func(string) string { return "" }, &stdout, &stderr,
			&serveHooks{Ready: func(a string) { ready <- a }, AdminReady: func(a string) { adminAddr = a }, TLSPoll: time.Hour})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "listening on https://"+addr) || !strings.Contains(stdout.String(), "admin listening on https://"+adminAddr) {
		t.Errorf("stdout does not announce https:\n%s", stdout.String())
	}
	url, adminURL := "https://"+addr+"/healthz", "https://"+adminAddr+"/healthz"

	getURL := func(c *http.Client, url string) *http.Response {
		t.Helper()
		res, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	get := func(c *http.Client) *http.Response { t.Helper(); return getURL(c, url) }
	client := tlsClient(first, second)
	res := get(client)
	if res.StatusCode != 200 || res.Proto != "HTTP/2.0" || res.TLS.NegotiatedProtocol != "h2" {
		t.Fatalf("got %d over %s (ALPN %q), want 200 over HTTP/2", res.StatusCode, res.Proto, res.TLS.NegotiatedProtocol)
	}
	if got := res.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 1 {
		t.Fatalf("served certificate %d, want 1", got)
	}
	if res := getURL(client, adminURL); res.StatusCode != 200 || res.Proto != "HTTP/2.0" || res.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
		t.Fatalf("admin listener: %d over %s", res.StatusCode, res.Proto)
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: client.Transport.(*http.Transport).TLSClientConfig.RootCAs, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(url); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	// Plain HTTP on the TLS port is not served.
	if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS listener")
		}
	}

	// Renew: new files, SIGHUP; new connections get the new certificate.
	second.install(t, certFile, keyFile)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		client.CloseIdleConnections()
		res := get(client)
		if res.TLS.PeerCertificates[0].SerialNumber.Int64() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving the first certificate after SIGHUP:\n%s", stderr.String())
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		client.CloseIdleConnections()
		if getURL(client, adminURL).TLS.PeerCertificates[0].SerialNumber.Int64() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin listener still serving the first certificate after SIGHUP:\n%s", stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), `"msg":"TLS certificate reloaded","reason":"SIGHUP"`) {
		t.Errorf("reload not logged:\n%s", stderr.String())
	}
	// A client that trusts only the new certificate is served too.
	secondOnly := tlsClient(second)
	defer secondOnly.CloseIdleConnections()
	if res := get(secondOnly); res.StatusCode != 200 {
		t.Fatalf("new certificate: %d", res.StatusCode)
	}
	// The image's health check speaks TLS when the server does, and
	// expects the certificate in the file.
	var out, errb syncBuffer
	if err := run(ctx, []string{"healthcheck", "--addr", addr, "--tls-cert-file", certFile, "--tls-key-file", keyFile}, func(string) string { return "" }, &out, &errb); err != nil || !strings.Contains(out.String(), "https://") {
		t.Errorf("healthcheck over TLS: %v %s", err, out.String())
	}
	stale := filepath.Join(dir, "old.crt")
	os.WriteFile(stale, first.certPEM, 0o600)
	if err := run(ctx, []string{"healthcheck", "--addr", addr, "--tls-cert-file", stale, "--tls-key-file", keyFile}, func(string) string { return "" }, &out, &errb); err == nil {
		t.Error("healthcheck accepted a certificate other than the file's")
	}
	select {
	case err := <-done:
		t.Fatalf("server exited: %v", err)
	default:
	}
	// Idle HTTP/2 connections left open would hold the shutdown for the
	// server's GOAWAY timeout (a second per listener).
	client.CloseIdleConnections()
	secondOnly.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestCertReloaderPoll: a change of the files is noticed by the poll; a
// pair that does not load (a key that does not match its certificate,
// as in the middle of a renewal) keeps the certificate served, once
// logged, until a good pair is in place.
func TestCertReloaderPoll(t *testing.T) {
	parallelUnderShort(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b, c := newTestCert(t, 10), newTestCert(t, 11), newTestCert(t, 12)
	a.install(t, certFile, keyFile)
	var logs syncBuffer
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.watch(ctx, nil, 10*time.Millisecond)
	serial := func() int64 {
		c, _ := r.getCertificate(nil)
		return c.Leaf.SerialNumber.Int64()
	}
	waitSerial := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); serial() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("serving %d, want %d; log:\n%s", serial(), want, logs.String())
			}
		}
	}
	if serial() != 10 {
		t.Fatalf("serving %d", serial())
	}
	b.install(t, certFile, keyFile)
	waitSerial(11)
	// Half a renewal: c's certificate with b's key. (install itself
	// may have shown a poll half a renewal.)
	before := strings.Count(logs.String(), "not reloaded")
	replaceFile(t, certFile, c.certPEM)
	for deadline := time.Now().Add(5 * time.Second); strings.Count(logs.String(), "not reloaded") == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bad pair not logged:\n%s", logs.String())
		}
	}
	time.Sleep(50 * time.Millisecond)
	if serial() != 11 || strings.Count(logs.String(), "not reloaded") != before+1 {
		t.Fatalf("serving %d after a bad pair; log:\n%s", serial(), logs.String())
	}
	replaceFile(t, keyFile, c.keyPEM)
	waitSerial(12)
	// A bad pair at start is an error naming the files.
	os.WriteFile(keyFile, a.keyPEM, 0o600)
	if _, err := newCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "--tls-cert-file") {
		t.Fatalf("bad pair at start: %v", err)
	}
}
