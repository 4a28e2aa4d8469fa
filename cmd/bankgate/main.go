// Command bankgate is a self-hostable open-banking API server,
// wire-compatible with Dapi's v2 API. One file per command group:
//
//	bankgate serve                               start the server (serve.go)
//	bankgate apps create|list|rotate-secret|set|webhook-keys|webhooks  manage apps (apps.go, webhooks.go)
//	bankgate audit --app-key K                   print an app's audit trail (audit.go)
//	bankgate keys status|rotate|promote|retire   manage the server keys (keys.go)
//	bankgate migrate --database-url URL          apply the PostgreSQL migrations (migrate.go)
//	bankgate sandbox users add                   add a sandbox user from a fixture (sandboxcmd.go)
//	bankgate modelbank                           a local Open Banking v3.1 bank (modelbankcmd.go)
//
// Configuration (defaults in code, then BANKGATE_* variables, then flags)
// is config.go; opening the store, the keyring and the service, open.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bankgate:", err)
		os.Exit(1)
	}
}

const usage = `bankgate: a self-hostable open-banking API server, wire-compatible with Dapi's v2 API.

Usage:
  bankgate serve [flags]                         start the server
  bankgate apps create --name NAME [--json]      register an app; prints its appKey and appSecret (shown once)
  bankgate apps list [--json]                    list registered apps
  bankgate apps rotate-secret --app-key KEY      give an app a new appSecret; the old one stops working
  bankgate apps set --app-key KEY [--allowed-origin O] [--redirect-uri U] [--bundle-id B] [--server-url S]
                                                 register where the Connect page may hand results and SDK settings
                                                 (--webhook-url URL: where the app's webhooks go; "" stops them)
  bankgate apps webhook-keys --app-key KEY [--rotate] [--json]
                                                 print the app's webhook signing secret and encryption key
  bankgate apps webhooks --app-key KEY [--redeliver ID] [--json]
                                                 list the app's recent webhook deliveries; redeliver one
  bankgate audit --app-key KEY [--limit N]       print an app's audit trail
  bankgate keys status                           show the server keys and how many stored values each protects
  bankgate keys rotate [--staged]                make a new primary server key; older keys keep verifying
  bankgate keys promote ID                       make a staged key the primary
  bankgate keys retire ID [--force]              stop trusting an older key (--force revokes what still depends on it)
  bankgate migrate --database-url URL            apply the PostgreSQL schema migrations without serving
  bankgate migrate status [--json]               show the schema migrations this bankgate knows and those the store has
  bankgate sandbox users add --bank B --file F   add (or replace) a sandbox user from a JSON fixture
  bankgate backup --to FILE                      copy the SQLite store consistently, while the server runs
  bankgate restore --from FILE [--force]         make a backup the SQLite store in --data-dir (servers stopped)
  bankgate config print [--config FILE]          show serve's effective configuration (flags, environment, file, defaults), secrets redacted
  bankgate modelbank --addr HOST:PORT --out DIR  run a local Open Banking v3.1 bank to develop and test against
  bankgate healthcheck [--url URL]               exit 0 if the server's /healthz answers 200 (the image's HEALTHCHECK)
  bankgate version [--json]                      print the version, commit, build date and Go version (also --version)

Run "bankgate COMMAND --help" for a command's flags.
`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], env, stdout, stderr, nil)
	case "apps":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errors.New("apps: missing subcommand (create, list, rotate-secret, set, webhook-keys, webhooks)")
		}
		switch args[1] {
		case "create":
			return cmdAppsCreate(ctx, args[2:], env, stdout, stderr)
		case "list":
			return cmdAppsList(ctx, args[2:], env, stdout, stderr)
		case "rotate-secret":
			return cmdAppsRotate(ctx, args[2:], env, stdout, stderr)
		case "set":
			return cmdAppsSet(ctx, args[2:], env, stdout, stderr)
		case "webhook-keys":
			return cmdAppsWebhookKeys(ctx, args[2:], env, stdout, stderr)
		case "webhooks":
			return cmdAppsWebhooks(ctx, args[2:], env, stdout, stderr)
		}
		return fmt.Errorf("apps: unknown subcommand %q", args[1])
	case "audit":
		return cmdAudit(ctx, args[1:], env, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, args[1:], env, stdout, stderr)
	case "migrate":
		if len(args) > 1 && args[1] == "status" {
			return cmdMigrateStatus(ctx, args[2:], env, stdout, stderr)
		}
		return cmdMigrate(ctx, args[1:], env, stdout, stderr)
	case "sandbox":
		if len(args) < 3 || args[1] != "users" || args[2] != "add" {
			fmt.Fprint(stderr, usage)
			return errors.New("sandbox: the command is: bankgate sandbox users add --bank BANK --file FILE")
		}
		return cmdSandboxUsersAdd(ctx, args[3:], env, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, args[1:], env, stdout, stderr)
	case "restore":
		return cmdRestore(ctx, args[1:], env, stdout, stderr)
	case "modelbank":
		return cmdModelbank(ctx, args[1:], stdout, stderr, nil)
	case "healthcheck":
		return cmdHealthcheck(ctx, args[1:], env, stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "print" {
			fmt.Fprint(stderr, usage)
			return errors.New("config: the command is: bankgate config print [--config FILE] [serve flags]")
		}
		return cmdConfigPrint(ctx, args[2:], env, stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
