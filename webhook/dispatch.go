package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
)

// Store is what the Dispatcher needs of the store.
type Store interface {
	ClaimWebhooks(ctx context.Context, c bankgate.WebhookClaim) ([]bankgate.WebhookEvent, error)
	FinishWebhook(ctx context.Context, r *bankgate.WebhookResult) error
	PruneWebhooks(ctx context.Context, before time.Time) (int, error)
}

// Target is where an app's events go and the keys they are signed and
// encrypted with; Targets looks it up (the service unseals the keys).
type Target struct {
	URL  string
	Keys Keys
}

// Config configures a Dispatcher.
type Config struct {
	Store Store
	// Targets returns the app's target; an error other than NotFound
	// makes the attempt fail and retry later.
	Targets func(ctx context.Context, appID string) (*Target, error)
	// Client makes the requests; nil is one that follows no redirects.
	Client *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Backoff is the delay before attempt n+1 after n attempts failed;
	// nil is Backoff.
	Backoff func(n int) time.Duration
	// Workers bounds the deliveries in flight (default 8).
	Workers int
	// Timeout bounds one attempt, connection to last byte (default 10 s).
	Timeout time.Duration
	// Poll is how often the outbox is looked at when nothing wakes the
	// dispatcher (default 250 ms).
	Poll time.Duration
	// Retention is how long delivered and failed events are kept
	// (default 30 days).
	Retention time.Duration
	// Instance names this server in the attempts it records.
	Instance string
	// Observe, when set, is told each attempt's outcome (the event's new
	// status: delivered, pending for a retry, failed) and duration.
	Observe func(status string, d time.Duration)
	Logger  *slog.Logger
}

// Dispatcher delivers the outbox's events. Memory is bounded whatever
// receivers do: at most Workers attempts are in flight, each reads at
// most 64 KiB of an answer and ends after Timeout; everything waiting
// stays in the store.
type Dispatcher struct {
	c    Config
	wake chan struct{}
	// inflight counts attempts running; slots frees one.
	mu       sync.Mutex
	inflight int
	wg       sync.WaitGroup
}

// maxAnswer is how much of a receiver's answer is read.
const maxAnswer = 64 << 10

// New returns a Dispatcher; Run starts it.
func New(c Config) *Dispatcher {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Backoff == nil {
		c.Backoff = Backoff
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	if c.Retention <= 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Dispatcher{c: c, wake: make(chan struct{}, 1)}
}

// Backoff is the default retry schedule: 5 s doubling with each failed
// attempt up to 4 hours, each delay drawn uniformly from its upper half
// (jitter), so that receivers coming back are not hit by every retry at
// once. With MaxWebhookAge of 3 days, that is about 28 attempts.
func Backoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < 4*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 4*time.Hour)
	return d/2 + rand.N(d/2+1)
}

// Lease is how long a claimed attempt is leased: well past the attempt's
// timeout, so that a lease runs out only when its instance died.
func (d *Dispatcher) Lease() time.Duration { return 2*d.c.Timeout + 10*time.Second }

// Wake makes the dispatcher look at the outbox now; it never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then waits for the attempts in flight.
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.wg.Wait()
	t := time.NewTicker(d.c.Poll)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if n, err := d.Step(ctx); err != nil && ctx.Err() == nil {
			d.c.Logger.Warn("webhooks: claim", "err", err)
		} else if n > 0 {
			continue // there may be more
		}
		if now := d.c.Now(); now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			if _, err := d.c.Store.PruneWebhooks(ctx, now.Add(-d.c.Retention)); err != nil && ctx.Err() == nil {
				d.c.Logger.Warn("webhooks: prune", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// Step claims as many events as there are free workers and starts their
// attempts; it returns how many it started.
func (d *Dispatcher) Step(ctx context.Context) (int, error) {
	d.mu.Lock()
	free := d.c.Workers - d.inflight
	d.mu.Unlock()
	if free <= 0 || ctx.Err() != nil {
		return 0, nil
	}
	now := d.c.Now()
	evs, err := d.c.Store.ClaimWebhooks(ctx, bankgate.WebhookClaim{Now: now, LeaseUntil: now.Add(d.Lease()), Owner: d.c.Instance, Limit: free})
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.inflight += len(evs)
	d.mu.Unlock()
	for i := range evs {
		e := evs[i]
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.attempt(context.WithoutCancel(ctx), &e)
			d.mu.Lock()
			d.inflight--
			d.mu.Unlock()
			d.Wake()
		}()
	}
	return len(evs), nil
}

// Wait waits for the attempts in flight.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// attempt delivers e once and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, e *bankgate.WebhookEvent) {
	start := d.c.Now()
	code, err := d.deliver(ctx, e, start)
	end := d.c.Now()
	r := &bankgate.WebhookResult{Owner: d.c.Instance, Attempt: bankgate.WebhookAttempt{
		EventID: e.ID, N: e.Attempts, At: start, Duration: end.Sub(start), StatusCode: code, Instance: d.c.Instance}}
	switch {
	case err == nil:
		r.Status = bankgate.WebhookDelivered
	case end.Sub(e.Since) >= bankgate.MaxWebhookAge:
		r.Status, r.Attempt.Error = bankgate.WebhookFailed, errText(err)
	default:
		r.Status, r.Attempt.Error = bankgate.WebhookPending, errText(err)
		r.NextAt = end.Add(d.c.Backoff(e.Attempts))
	}
	if d.c.Observe != nil {
		d.c.Observe(r.Status, r.Attempt.Duration)
	}
	if err := d.c.Store.FinishWebhook(ctx, r); err != nil {
		d.c.Logger.Warn("webhooks: record attempt", "id", e.ID, "err", err)
	}
}

func errText(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// errNoTarget is an attempt for an app with no webhook URL any more.
var errNoTarget = errors.New("the app has no webhook URL")

// deliver makes one attempt: the body, signed, POSTed to the app's URL.
// It returns the HTTP status (0 when there was none) and nil for a 2xx.
func (d *Dispatcher) deliver(ctx context.Context, e *bankgate.WebhookEvent, now time.Time) (int, error) {
	t, err := d.c.Targets(ctx, e.AppID)
	if bankgate.IsCode(err, bankgate.NotFound) || (err == nil && t.URL == "") {
		return 0, errNoTarget
	}
	if err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	body, err := Render(e, t.Keys)
	if err != nil {
		return 0, err
	}
	sig, err := Sign(t.Keys.Secrets(now), e.ID, now, body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "bankgate-webhooks/1")
	h.Set("webhook-id", e.ID)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", sig)
	h.Set("svix-id", e.ID)
	h.Set("svix-timestamp", ts)
	h.Set("svix-signature", sig)
	resp, err := d.c.Client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, nil
}

// Render is the body of a delivery of e: its data in clear and its
// private part encrypted with keys.EncryptionKey.
func Render(e *bankgate.WebhookEvent, keys Keys) ([]byte, error) {
	enc, err := Encrypt(keys.EncryptionKey, e.Private)
	if err != nil {
		return nil, err
	}
	data := json.RawMessage(e.Data)
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal(Body{ID: e.ID, Type: e.Type, Timestamp: e.CreatedAt.UTC(), Data: data, EncryptedData: enc})
}
