package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bankgate/bankgate"

	"github.com/bankgate/bankgate/service"
)

func cmdAppsCreate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps create --name NAME [--json]", "Register an app and print its appKey and appSecret. The secret is shown only once.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	name := fs.String("name", "", "the app's name (required)")
	envName := fs.String("environment", bankgate.EnvSandbox, "sandbox (reaches only sandbox banks, has a test clock) or production (only real banks); fixed for the app's life")
	asJSON := fs.Bool("json", false, `print exactly one JSON object {"name","appKey","appSecret","environment"}`)
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if strings.TrimSpace(*name) == "" {
		return errors.New("apps create: --name is required")
	}
	if *envName != bankgate.EnvSandbox && *envName != bankgate.EnvProduction {
		return fmt.Errorf("apps create: --environment is sandbox or production, not %q", *envName)
	}
	na, err := a.svc.CreateApp(ctx, *name, *envName)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"name": na.App.Name, "appKey": na.App.Key, "appSecret": na.Secret, "environment": na.App.Environment})
	}
	fmt.Fprintf(stdout, "Created %s app %q. The appSecret is shown only this once.\n  appKey:    %s\n  appSecret: %s\n", na.App.Environment, na.App.Name, na.App.Key, na.Secret)
	return nil
}

func cmdAppsList(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps list [--json]", "List registered apps (never their secrets).", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	asJSON := fs.Bool("json", false, "print a JSON array")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	apps, err := a.store.ListApps(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			Name        string    `json:"name"`
			AppKey      string    `json:"appKey"`
			Environment string    `json:"environment"`
			CreatedAt   time.Time `json:"createdAt"`
		}
		rows := []row{}
		for _, ap := range apps {
			rows = append(rows, row{ap.Name, ap.Key, ap.Environment, ap.CreatedAt})
		}
		return json.NewEncoder(stdout).Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAPP KEY\tENVIRONMENT\tCREATED")
	for _, ap := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ap.Name, ap.Key, ap.Environment, ap.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func cmdAppsRotate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps rotate-secret --app-key KEY", "Give an app a new appSecret and print it; the old secret stops working.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	key := fs.String("app-key", "", "the app's appKey (required)")
	asJSON := fs.Bool("json", false, `print {"appKey","appSecret"} as JSON`)
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *key == "" {
		return errors.New("apps rotate-secret: --app-key is required")
	}
	sec, err := a.svc.RotateAppSecret(ctx, *key)
	if err != nil {
		return fmt.Errorf("apps rotate-secret: %s", bankgate.ErrorMessage(err))
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"appKey": *key, "appSecret": sec})
	}
	fmt.Fprintf(stdout, "New appSecret (shown only this once): %s\n", sec)
	return nil
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func cmdAppsSet(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps set --app-key KEY [flags]", "Register an app's allowed web origins (for the Connect page's postMessage and frame-ancestors),\nredirect URIs, mobile bundle IDs and App Server URL. Repeat a flag to add several; values add to\nwhat is registered unless --clear is given.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	key := fs.String("app-key", "", "the app's appKey (required)")
	var origins, uris, bundles listFlag
	fs.Var(&origins, "allowed-origin", "a web origin such as https://app.example.com (repeatable)")
	fs.Var(&uris, "redirect-uri", "an absolute URL the Connect page may redirect to (repeatable)")
	fs.Var(&bundles, "bundle-id", "an iOS bundle ID, Android package or web identifier (repeatable)")
	serverURL := fs.String("server-url", "", "the app backend URL mobile SDKs forward calls to")
	clear := fs.Bool("clear", false, "remove the registered origins, redirect URIs and bundle IDs first")
	forwarding := fs.String("forwarding", "", "on or off: whether mobile SDKs may forward calls through the app backend by tokenID (POST /); new apps: on")
	webhookURL := fs.String("webhook-url", "", `where the app's webhook events are POSTed (https; http for sandbox apps and loopback); "" removes it`)
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *key == "" {
		return errors.New("apps set: --app-key is required")
	}
	set := service.AppSettings{AllowedOrigins: origins, RedirectURIs: uris, BundleIDs: bundles, Clear: *clear}
	settings, hook := false, false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "server-url":
			set.ServerURL = serverURL
			settings = true
		case "webhook-url":
			hook = true
		case "allowed-origin", "redirect-uri", "bundle-id", "clear", "forwarding":
			settings = true
		}
	})
	switch *forwarding {
	case "":
	case "on", "off":
		on := *forwarding == "on"
		set.Forwarding = &on
	default:
		return fmt.Errorf("apps set: --forwarding is on or off, not %q", *forwarding)
	}
	if hook {
		if _, err := a.svc.SetWebhookURL(ctx, *key, *webhookURL); err != nil {
			return fmt.Errorf("apps set: %s", bankgate.ErrorMessage(err))
		}
	}
	var app *bankgate.App
	if settings || !hook {
		app, err = a.svc.UpdateAppSettings(ctx, *key, set)
	} else {
		app, err = a.svc.AppByKeyForOperator(ctx, *key)
	}
	if err != nil {
		return fmt.Errorf("apps set: %s", bankgate.ErrorMessage(err))
	}
	wh, err := a.svc.WebhookSettingsOf(ctx, *key)
	if err != nil {
		return fmt.Errorf("apps set: %s", bankgate.ErrorMessage(err))
	}
	fwd := "off"
	if app.Forwarding {
		fwd = "on"
	}
	fmt.Fprintf(stdout, "App %q:\n  allowed origins: %s\n  redirect URIs:   %s\n  bundle IDs:      %s\n  server URL:      %s\n  forwarding:      %s\n  webhook URL:     %s\n",
		app.Name, strings.Join(app.AllowedOrigins, " "), strings.Join(app.RedirectURIs, " "), strings.Join(app.BundleIDs, " "), app.ServerURL, fwd, wh.URL)
	return nil
}
