package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// certReloader serves the certificate in a pair of PEM files and reads
// them again on demand (SIGHUP) or when they change, so that a renewed
// certificate is served without a restart. A pair that does not load (a
// renewal half written, a key that does not match) is logged and the
// certificate already served stays.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
	// stamp is the files' modification times and sizes when last loaded
	// (or last failed to load), so that a poll reads them only when they
	// changed and logs a bad pair once.
	stamp string
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	r.stamp = r.fileStamp()
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// load reads the pair and, if it loads, serves it from now on.
func (r *certReloader) load() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate (--tls-cert-file %s, --tls-key-file %s): %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&c)
	return nil
}

// getCertificate is tls.Config.GetCertificate: one atomic load.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// reload reads the pair again, logging the outcome.
func (r *certReloader) reload(why string) {
	r.stamp = r.fileStamp()
	if err := r.load(); err != nil {
		r.log.Error("TLS certificate not reloaded; still serving the previous one", "reason", why, "err", err)
		return
	}
	r.log.Info("TLS certificate reloaded", "reason", why, "notAfter", r.cert.Load().Leaf.NotAfter)
}

// fileStamp identifies the files' current versions.
func (r *certReloader) fileStamp() string {
	s := ""
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			s += "missing;"
			continue
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s
}

// watch reloads on every signal from hup and whenever the files' stamp
// changes (checked every poll) until ctx ends.
func (r *certReloader) watch(ctx context.Context, hup <-chan os.Signal, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("SIGHUP")
		case <-t.C:
			if r.fileStamp() != r.stamp {
				r.reload("files changed")
			}
		}
	}
}

// tlsConfig is the API listener's TLS configuration: TLS 1.2 or later,
// HTTP/2 offered first, the certificate from r.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: r.getCertificate,
	}
}
