package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// cmdHealthcheck asks a running server's /healthz and fails unless it
// answers 200. It is the container image's HEALTHCHECK: the distroless
// image has no curl or wget, only this binary.
func cmdHealthcheck(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("healthcheck [--url URL] [--timeout D]", "Exit 0 if the server's /healthz answers 200 in time, else print why and exit 1.\nWithout --url it asks http://<addr>/healthz for the --addr the server uses\n(an unspecified host such as 0.0.0.0 is asked on the loopback address).", &cfg, env, stderr, "addr")
	if err != nil {
		return err
	}
	url := fs.String("url", "", "the URL to get (default http://<addr>/healthz)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
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
		*url = "http://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
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
