package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bankgate/bankgate/admin"
	bghttp "github.com/bankgate/bankgate/http"
	"github.com/bankgate/bankgate/secret"
)

// The admin listener: wiring of package admin into serve, and the admin
// token.

// adminTokenDomain is the digest domain of the admin token.
const adminTokenDomain = "admin-token"

// adminTokenPrefix marks generated admin tokens.
const adminTokenPrefix = "bgadm_"

// adminTokenDigestFile is where a generated admin token's digest is kept.
const adminTokenDigestFile = "admin-token.digest"

// adminTokenID names a token in the audit: "adm_" and 12 hex digits of
// its SHA-256 (not secret: a 256-bit token cannot be found from them).
func adminTokenID(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "adm_" + hex.EncodeToString(sum[:6])
}

// minAdminToken is the shortest admin token accepted from an operator.
const minAdminToken = 32

// adminToken returns the admin token the server accepts: from
// --admin-token-file, else BANKGATE_ADMIN_TOKEN, else the digest file in
// the data dir, generating a token (printed once on stdout, only its
// digest kept) when there is none.
func adminToken(cfg Config, env func(string) string, keys *secret.Keyring, stdout io.Writer) (*admin.Token, error) {
	verify := func(v string, d []byte) bool { ok, _ := keys.Verify(adminTokenDomain, v, d); return ok }
	fromValue := func(tok, where string) (*admin.Token, error) {
		tok = strings.TrimSpace(tok)
		if len(tok) < minAdminToken || len(tok) > admin.MaxTokenLen || strings.ContainsAny(tok, " \t\r\n") {
			return nil, fmt.Errorf("%s: an admin token is %d to %d characters without spaces", where, minAdminToken, admin.MaxTokenLen)
		}
		return &admin.Token{ID: adminTokenID(tok), Digest: keys.Digest(adminTokenDomain, tok), Verify: verify}, nil
	}
	if cfg.AdminTokenFile != "" {
		fi, err := os.Stat(cfg.AdminTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--admin-token-file: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("--admin-token-file %s is open to group or others (mode %04o); run chmod 600 %s", cfg.AdminTokenFile, perm, cfg.AdminTokenFile)
		}
		b, err := os.ReadFile(cfg.AdminTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--admin-token-file: %w", err)
		}
		return fromValue(string(b), "--admin-token-file")
	}
	if v := env("BANKGATE_ADMIN_TOKEN"); v != "" {
		return fromValue(v, "BANKGATE_ADMIN_TOKEN")
	}
	path := filepath.Join(cfg.DataDir, adminTokenDigestFile)
	if b, err := os.ReadFile(path); err == nil {
		id, hexDigest, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
		d, err := hex.DecodeString(hexDigest)
		if !ok || err != nil || !strings.HasPrefix(id, "adm_") {
			return nil, fmt.Errorf("%s is not an admin token digest file (\"ID HEX\"); delete it to make a new token", path)
		}
		return &admin.Token{ID: id, Digest: d, Verify: verify}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read admin token digest: %w", err)
	}
	tok := secret.Random(adminTokenPrefix, 32)
	t := &admin.Token{ID: adminTokenID(tok), Digest: keys.Digest(adminTokenDomain, tok), Verify: verify}
	if err := writeNewFile(path, t.ID+" "+hex.EncodeToString(t.Digest)+"\n"); err != nil {
		if errors.Is(err, os.ErrExist) { // another process made one first
			return adminToken(cfg, env, keys, stdout)
		}
		return nil, fmt.Errorf("write admin token digest: %w", err)
	}
	fmt.Fprintf(stdout, "\nAdmin token (ID %s), shown only this once; the server keeps only its digest in %s:\n\n  %s\n\n"+
		"Use it as \"Authorization: Bearer <token>\" on the admin listener, or sign in to its console. To replace it,\n"+
		"delete that file and restart, or give --admin-token-file / BANKGATE_ADMIN_TOKEN.\n\n", t.ID, path, tok)
	return t, nil
}

// writeNewFile creates path (mode 0600) holding s, atomically; it fails
// with os.ErrExist if path exists.
func writeNewFile(path, s string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".admin-token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(s); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

// adminListener is the running admin server.
type adminListener struct {
	srv  *http.Server
	addr string
}

// startAdmin starts the admin listener when cfg.AdminAddr is set; it
// returns nil when the listener is off.
func startAdmin(ctx context.Context, a *app, cfg Config, env func(string) string, metrics *bghttp.Metrics, log *slog.Logger, stdout io.Writer, certs *certReloader) (*adminListener, error) {
	if cfg.AdminAddr == "" || cfg.AdminAddr == "off" {
		return nil, nil
	}
	tok, err := adminToken(cfg, env, a.keys, stdout)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("admin listen: %w", err)
	}
	h := admin.New(admin.Config{
		Service:     a.svc,
		Token:       tok,
		Metrics:     promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}),
		Requests:    func() []admin.RequestCount { return requestCounts(metrics) },
		Unavailable: storeUnavailable,
		Logger:      log,
	})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if certs != nil {
		scheme = "https"
		srv.TLSConfig = certs.tlsConfig()
	}
	go func() {
		var err error
		if certs != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	l := &adminListener{srv: srv, addr: ln.Addr().String()}
	log.Info("bankgate admin listening", "addr", l.addr, "scheme", scheme, "adminTokenID", tok.ID)
	fmt.Fprintf(stdout, "bankgate admin listening on %s://%s (console: %s://%s/admin/, admin token ID %s)\n", scheme, l.addr, scheme, l.addr, tok.ID)
	return l, nil
}

// shutdown stops the admin listener gracefully.
func (l *adminListener) shutdown(ctx context.Context) {
	if l != nil {
		l.srv.Shutdown(ctx)
	}
}

// requestCounts reads the API's request counter from the metrics, for the
// console's chart.
func requestCounts(m *bghttp.Metrics) []admin.RequestCount {
	mfs, err := m.Registry.Gather()
	if err != nil {
		return nil
	}
	var out []admin.RequestCount
	for _, mf := range mfs {
		if mf.GetName() != "bankgate_http_requests_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			rc := admin.RequestCount{Count: mt.GetCounter().GetValue()}
			for _, l := range mt.GetLabel() {
				switch l.GetName() {
				case "route":
					rc.Route = l.GetValue()
				case "result":
					rc.Result = l.GetValue()
				}
			}
			out = append(out, rc)
		}
	}
	return out
}
