package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// cmdHealthcheck asks a running server's /healthz and fails unless it
// answers 200. It is the container image's HEALTHCHECK: the distroless
// image has no curl or wget, only this binary.
func cmdHealthcheck(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	// The server's own settings (flags, environment, --config) tell
	// where it listens and whether over TLS.
	var url *string
	var timeout *time.Duration
	cfg, fs, _, err := parseServeWith("healthcheck [--url URL] [--timeout D] [serve's flags]", "Exit 0 if the server's /healthz answers 200 in time, else print why and exit 1.\nWithout --url it asks http://<addr>/healthz for the --addr the server uses\n(an unspecified host such as 0.0.0.0 is asked on the loopback address); with\n--tls-cert-file, https://, expecting that certificate.", args, env, stderr, func(fs *flag.FlagSet) {
		url = fs.String("url", "", "the URL to get (default http://<addr>/healthz)")
		timeout = fs.Duration("timeout", 3*time.Second, "give up after this long")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	client := http.DefaultClient
	if *url == "" {
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return fmt.Errorf("healthcheck: --addr %q: %w", cfg.Addr, err)
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
			if ip != nil && ip.To4() == nil {
				host = "::1"
			}
		}
		scheme := "http"
		if cfg.TLSCertFile != "" {
			scheme = "https"
			if client, err = pinnedClient(cfg.TLSCertFile); err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
		}
		*url = scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", *url, res.Status)
	}
	fmt.Fprintf(stdout, "%s: %s\n", *url, res.Status)
	return nil
}

// pinnedClient trusts exactly the certificate in certFile, whatever names
// it holds: the health check asks the loopback address, which a server's
// certificate rarely names.
func pinnedClient(certFile string) (*http.Client, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	want := blk.Bytes
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // verified below: the leaf must be the file's
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], want) {
				return errors.New("the server's certificate is not the one in --tls-cert-file")
			}
			return nil
		},
	}}}, nil
}
