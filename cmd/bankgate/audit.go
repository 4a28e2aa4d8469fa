package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/bankgate/bankgate"
)

func cmdAudit(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("audit --app-key KEY [--limit N] [--json]", "Print an app's audit trail, oldest first.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	key := fs.String("app-key", "", "the app's appKey (required)")
	limit := fs.Int("limit", 1000, "at most this many events")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *key == "" {
		return errors.New("audit: --app-key is required")
	}
	events, err := a.svc.Audit(ctx, *key, *limit)
	if err != nil {
		return fmt.Errorf("audit: %s", bankgate.ErrorMessage(err))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range events {
			enc.Encode(map[string]any{"at": e.At, "kind": e.Kind, "appID": e.AppID, "connectionID": e.ConnectionID, "detail": e.Detail})
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tCONNECTION\tDETAIL")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339Nano), e.Kind, e.ConnectionID, e.Detail)
	}
	return tw.Flush()
}
