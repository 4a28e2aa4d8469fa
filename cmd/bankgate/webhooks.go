package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/webhook"
)

// startWebhooks starts this instance's webhook dispatcher (unless
// --webhook-workers is 0) and returns a channel closed when it has
// stopped after ctx is done, its attempts in flight finished.
func startWebhooks(ctx context.Context, a *app, cfg Config, now func() time.Time, reg *prometheus.Registry, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if cfg.WebhookWorkers == 0 {
		close(done)
		return done
	}
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bankgate_webhook_attempts_total",
		Help: "Webhook delivery attempts this instance made, by outcome: delivered, retry (to be tried again), failed (given up after 3 days)."}, []string{"result"})
	seconds := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bankgate_webhook_attempt_seconds",
		Help: "Duration of webhook delivery attempts.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	reg.MustRegister(attempts, seconds)
	for _, r := range []string{"delivered", "retry", "failed"} {
		attempts.WithLabelValues(r)
	}
	d := webhook.New(webhook.Config{
		Store: a.store,
		Targets: func(ctx context.Context, appID string) (*webhook.Target, error) {
			return a.svc.WebhookTarget(ctx, appID)
		},
		Now:      now,
		Workers:  cfg.WebhookWorkers,
		Timeout:  cfg.WebhookTimeout,
		Instance: instanceName(),
		Logger:   log,
		Observe: func(status string, d time.Duration) {
			if status == bankgate.WebhookPending {
				status = "retry"
			}
			attempts.WithLabelValues(status).Inc()
			seconds.Observe(d.Seconds())
		},
	})
	a.svc.OnWebhookEnqueued(d.Wake)
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	return done
}

// instanceName names this process in the webhook attempts it records.
func instanceName() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func cmdAppsWebhookKeys(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps webhook-keys --app-key KEY [--rotate] [--json]", "Print the app's webhook signing secret (whsec_…) and encryption key (base64 of 32 bytes), making them\nif the app has none. --rotate gives the app a new signing secret first; the old one keeps signing\ndeliveries (both signatures are sent) for 24 hours. The keys are stored only sealed.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	key := fs.String("app-key", "", "the app's appKey (required)")
	rotate := fs.Bool("rotate", false, "give the app a new signing secret; the old one keeps signing for 24 hours")
	asJSON := fs.Bool("json", false, `print exactly one JSON object {"signingSecret","encryptionKey"}`)
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *key == "" {
		return errors.New("apps webhook-keys: --app-key is required")
	}
	k, err := a.svc.WebhookKeys(ctx, *key, *rotate)
	if err != nil {
		return fmt.Errorf("apps webhook-keys: %s", bankgate.ErrorMessage(err))
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"signingSecret": k.SigningSecret, "encryptionKey": k.EncryptionKey})
	}
	fmt.Fprintf(stdout, "signing secret: %s\nencryption key: %s\n", k.SigningSecret, k.EncryptionKey)
	if k.PrevSigningSecret != "" && time.Now().Before(k.PrevUntil) {
		fmt.Fprintf(stdout, "the previous signing secret also signs until %s\n", k.PrevUntil.UTC().Format(time.RFC3339))
	}
	return nil
}

func cmdAppsWebhooks(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("apps webhooks --app-key KEY [--status S] [--limit N] [--redeliver ID] [--json]", "List the app's most recent webhook events with their delivery status, newest first;\n--redeliver ID delivers one again (same webhook-id).", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	key := fs.String("app-key", "", "the app's appKey (required)")
	status := fs.String("status", "", "only events that are pending, delivered or failed")
	limit := fs.Int("limit", 50, "at most this many events (up to 500)")
	redeliver := fs.String("redeliver", "", "the webhook-id of an event to deliver again")
	asJSON := fs.Bool("json", false, "print JSON")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *key == "" {
		return errors.New("apps webhooks: --app-key is required")
	}
	if *redeliver != "" {
		app, err := a.svc.AppByKeyForOperator(ctx, *key)
		if err != nil {
			return fmt.Errorf("apps webhooks: %s", bankgate.ErrorMessage(err))
		}
		e, _, err := a.svc.WebhookEvent(ctx, *redeliver)
		if err == nil && e.AppID != app.ID {
			err = bankgate.Errorf(bankgate.NotFound, "No webhook event of this app has that ID.")
		}
		if err == nil {
			_, err = a.svc.RedeliverWebhook(ctx, *redeliver)
		}
		if err != nil {
			return fmt.Errorf("apps webhooks: %s", bankgate.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "%s will be delivered again\n", *redeliver)
		return nil
	}
	evs, err := a.svc.WebhookDeliveries(ctx, *key, *status, *limit)
	if err != nil {
		return fmt.Errorf("apps webhooks: %s", bankgate.ErrorMessage(err))
	}
	if *asJSON {
		out := make([]webhookJSON, 0, len(evs))
		for i := range evs {
			out = append(out, toWebhookJSON(&evs[i]))
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	for _, e := range evs {
		fmt.Fprintf(stdout, "%s  %-20s %-9s attempts=%d  %s  %s\n", e.ID, e.Type, e.Status, e.Attempts, e.CreatedAt.UTC().Format(time.RFC3339), e.LastError)
	}
	return nil
}

// webhookJSON is an event as `apps webhooks --json` prints it.
type webhookJSON struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	ConnectionID string          `json:"connectionID,omitempty"`
	Status       string          `json:"status"`
	Attempts     int             `json:"attempts"`
	CreatedAt    time.Time       `json:"createdAt"`
	NextAt       *time.Time      `json:"nextAttemptAt,omitempty"`
	DeliveredAt  *time.Time      `json:"deliveredAt,omitempty"`
	LastStatus   int             `json:"lastStatus,omitempty"`
	LastError    string          `json:"lastError,omitempty"`
	Data         json.RawMessage `json:"data"`
}

func toWebhookJSON(e *bankgate.WebhookEvent) webhookJSON {
	j := webhookJSON{ID: e.ID, Type: e.Type, ConnectionID: e.ConnectionID, Status: e.Status, Attempts: e.Attempts,
		CreatedAt: e.CreatedAt, LastStatus: e.LastStatus, LastError: e.LastError, Data: e.Data}
	if e.Status == bankgate.WebhookPending {
		t := e.NextAt
		j.NextAt = &t
	}
	if !e.DeliveredAt.IsZero() {
		t := e.DeliveredAt
		j.DeliveredAt = &t
	}
	return j
}
