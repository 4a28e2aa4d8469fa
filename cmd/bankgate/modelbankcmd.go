package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bankgate/bankgate/modelbank"
)

// modelbankHooks lets tests reach the running model bank.
type modelbankHooks struct {
	Ready func(b *modelbank.Bank)
}

// cmdModelbank runs the model bank: a local Open Banking v3.1 ASPSP. It
// writes banks.yaml, psus.json, the CA and the client's certificate and
// keys into --out before it answers.
func cmdModelbank(ctx context.Context, args []string, stdout, stderr io.Writer, hooks *modelbankHooks) error {
	fs := flag.NewFlagSet("modelbank", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8443", "the HOST:PORT to serve HTTPS on (port 0 picks a free one)")
	out := fs.String("out", "", "the directory to write banks.yaml, psus.json, ca.pem and the client's keys into (required)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pageSize := fs.Int("page-size", 50, "transactions per page (Links.Next pages the rest)")
	tokenTTL := fs.Duration("access-token-ttl", 5*time.Minute, "life of an access token (a short one makes clients refresh, and the bank rotate refresh tokens, often)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: bankgate modelbank --addr HOST:PORT --out DIR\n\nRun a local Open Banking v3.1 bank (an ASPSP) for development and tests:\nits authorisation server (OIDC discovery, PAR, PKCE, private_key_jwt, mTLS)\nand its Account and Transaction API over sandbox data. It writes DIR/banks.yaml,\nso that bankgate serve --banks-file DIR/banks.yaml connects to it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("modelbank: unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("modelbank: --out DIR is required")
	}
	log, err := newLogger(*logLevel, stderr)
	if err != nil {
		return err
	}
	b, srv, done, err := modelbank.Start(*addr, modelbank.Options{Log: log, PageSize: *pageSize, AccessTokenTTL: *tokenTTL}, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model bank at %s\nwrote %s/%s (bankgate serve --banks-file %s/%s) and %s/%s\n",
		b.Issuer(), *out, modelbank.FileBanks, *out, modelbank.FileBanks, *out, modelbank.FilePSUs)
	if hooks != nil && hooks.Ready != nil {
		hooks.Ready(b)
	}
	select {
	case err := <-done:
		return fmt.Errorf("modelbank: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
