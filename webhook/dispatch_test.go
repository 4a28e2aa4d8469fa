package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// delivery is what a test receiver saw.
type delivery struct {
	id   string
	ts   time.Time
	body Body
}

// receiver is a webhook receiver on 127.0.0.1 that verifies each
// delivery with svix and answers what status says.
type receiver struct {
	t      *testing.T
	keys   Keys
	status atomic.Int32
	mu     sync.Mutex
	got    []delivery
	srv    *httptest.Server
}

func newReceiver(t *testing.T, keys Keys) *receiver {
	r := &receiver{t: t, keys: keys}
	r.status.Store(200)
	wh, err := svix.NewWebhook(keys.SigningSecret)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := wh.VerifyIgnoringTimestamp(body, req.Header); err != nil {
			t.Errorf("svix: %v", err)
		}
		var b Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		sec, _ := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
		r.mu.Lock()
		r.got = append(r.got, delivery{id: req.Header.Get("webhook-id"), ts: time.Unix(sec, 0).UTC(), body: b})
		r.mu.Unlock()
		w.WriteHeader(int(r.status.Load()))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// setup opens a SQLite store with one app whose webhook goes to rcv.
func setup(t *testing.T) (*sqlite.Store, *bankgate.App, *receiver) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	app := &bankgate.App{ID: "app-1", Name: "a", Key: "key-1", SecretDigest: []byte("digest-1"), CreatedAt: start, Environment: bankgate.EnvSandbox}
	if err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, NewKeys())
	if _, err := s.UpdateWebhookEndpoint(ctx, app.ID, start, func(ep *bankgate.WebhookEndpoint) error {
		ep.URL, ep.Keys = rcv.srv.URL+"/hooks", []byte("sealed")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return s, app, rcv
}

func dispatcher(s *sqlite.Store, rcv *receiver, clk *clock, backoff func(int) time.Duration, workers int, timeout time.Duration) *Dispatcher {
	return New(Config{Store: s, Now: clk.Now, Backoff: backoff, Workers: workers, Timeout: timeout, Instance: "test",
		Targets: func(ctx context.Context, appID string) (*Target, error) {
			return &Target{URL: rcv.srv.URL + "/hooks", Keys: rcv.keys}, nil
		}})
}

// drain runs steps until nothing is claimable at the clock's time.
func drain(t *testing.T, d *Dispatcher) {
	t.Helper()
	for {
		n, err := d.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		d.Wait()
		if n == 0 {
			return
		}
	}
}

func enqueue(t *testing.T, s *sqlite.Store, appID, connID string, i int, at time.Time) *bankgate.WebhookEvent {
	t.Helper()
	e := bankgate.NewWebhookEvent(bankgate.WebhookTransferDone, appID, connID, at, map[string]any{"n": i}, map[string]any{"secret": fmt.Sprint("amount-", i)})
	if ok, err := s.EnqueueWebhook(context.Background(), e); err != nil || !ok {
		t.Fatalf("enqueue: %v %v", ok, err)
	}
	return e
}

// TestBackoffSchedule: a receiver answering 500 forever sees attempts at
// the backoff schedule (injected: no jitter here) until the event is 3
// days old, then none; every attempt is recorded, with the same
// webhook-id.
func TestBackoffSchedule(t *testing.T) {
	s, app, rcv := setup(t)
	rcv.status.Store(500)
	clk := &clock{t: start}
	backoff := func(n int) time.Duration { return min(5*time.Second<<(n-1), 4*time.Hour) }
	d := dispatcher(s, rcv, clk, backoff, 4, time.Second)
	e := enqueue(t, s, app.ID, "conn-1", 1, start)
	want := []time.Time{start}
	for clk.Now().Sub(start) < 80*time.Hour {
		drain(t, d)
		got, err := s.WebhookEvent(context.Background(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == bankgate.WebhookFailed {
			break
		}
		if got.Status != bankgate.WebhookPending {
			t.Fatalf("status %s", got.Status)
		}
		next := clk.Now().Add(backoff(got.Attempts))
		if !got.NextAt.Equal(next) {
			t.Fatalf("after attempt %d next at %v, want %v", got.Attempts, got.NextAt, next)
		}
		// Nothing is attempted before then.
		clk.Set(next.Add(-time.Second))
		drain(t, d)
		if n := len(rcv.deliveries()); n != len(want) {
			t.Fatalf("%d attempts before the next is due, want %d", n, len(want))
		}
		clk.Set(next)
		want = append(want, next)
	}
	got := rcv.deliveries()
	if len(got) != len(want) {
		t.Fatalf("%d attempts, want %d", len(got), len(want))
	}
	for i, dl := range got {
		if !dl.ts.Equal(want[i].Truncate(time.Second)) || dl.id != e.ID {
			t.Fatalf("attempt %d at %v id %s, want %v id %s", i+1, dl.ts, dl.id, want[i], e.ID)
		}
	}
	last := got[len(got)-1].ts
	if last.Sub(start) < 68*time.Hour || last.Sub(start) > bankgate.MaxWebhookAge+4*time.Hour {
		t.Fatalf("last attempt %v after the event", last.Sub(start))
	}
	ev, _ := s.WebhookEvent(context.Background(), e.ID)
	as, _ := s.WebhookAttempts(context.Background(), e.ID, 100)
	if ev.Status != bankgate.WebhookFailed || len(as) != len(got) || as[0].StatusCode != 500 || ev.LastStatus != 500 {
		t.Fatalf("event %+v, %d attempts recorded", ev, len(as))
	}
	var sched []string
	for i := 1; i < len(got); i++ {
		sched = append(sched, got[i].ts.Sub(got[i-1].ts).String())
	}
	t.Logf("%d attempts over %v; delays %v", len(got), last.Sub(start), sched)
	// After it failed, nothing more is attempted.
	clk.Set(start.Add(200 * time.Hour))
	drain(t, d)
	if n := len(rcv.deliveries()); n != len(got) {
		t.Fatalf("attempted a failed event: %d", n)
	}
}

// TestDownThenBack: events enqueued while the receiver answers 503 wait;
// when it is back each connection's events arrive in the order they were
// made, each once delivered, with the webhook-id of its first attempt.
func TestDownThenBack(t *testing.T) {
	s, app, rcv := setup(t)
	rcv.status.Store(503)
	clk := &clock{t: start}
	d := dispatcher(s, rcv, clk, func(n int) time.Duration { return 5 * time.Second << (n - 1) }, 8, time.Second)
	var made []*bankgate.WebhookEvent
	for i := 0; i < 30; i++ {
		made = append(made, enqueue(t, s, app.ID, fmt.Sprintf("conn-%d", i%3), i, start.Add(time.Duration(i)*time.Millisecond)))
		if i%5 == 0 {
			drain(t, d)
		}
	}
	for step := 0; step < 5; step++ { // down for a while
		clk.Set(clk.Now().Add(time.Minute))
		drain(t, d)
	}
	down := len(rcv.deliveries())
	if down == 0 || down > 30 {
		t.Fatalf("%d attempts while down", down)
	}
	rcv.status.Store(200)
	for step := 0; step < 20; step++ {
		clk.Set(clk.Now().Add(10 * time.Minute))
		drain(t, d)
	}
	ok := rcv.deliveries()[down:]
	if len(ok) != 30 {
		t.Fatalf("%d deliveries after the receiver came back, want 30", len(ok))
	}
	last := map[string]int{}
	for _, dl := range ok {
		var data struct{ N int }
		json.Unmarshal(dl.body.Data, &data)
		conn := fmt.Sprintf("conn-%d", data.N%3)
		if prev, seen := last[conn]; seen && data.N <= prev {
			t.Fatalf("%s: event %d after %d", conn, data.N, prev)
		}
		last[conn] = data.N
		if dl.id != made[data.N].ID || dl.body.ID != dl.id {
			t.Fatalf("event %d delivered as %s", data.N, dl.id)
		}
		plain, err := Decrypt(rcv.keys.EncryptionKey, dl.body.EncryptedData)
		if err != nil || string(plain) != fmt.Sprintf(`{"secret":"amount-%d"}`, data.N) {
			t.Fatalf("decrypted %q, %v", plain, err)
		}
	}
	evs, _ := s.WebhookEvents(context.Background(), bankgate.WebhookQuery{AppID: app.ID, Status: bankgate.WebhookPending, Limit: 100})
	if len(evs) != 0 {
		t.Fatalf("%d still pending", len(evs))
	}
}

// TestHangingReceiver: a receiver that never answers holds at most
// Workers requests, each for Timeout; the rest wait in the store.
func TestHangingReceiver(t *testing.T) {
	s, app, _ := setup(t)
	var open, most atomic.Int32
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server notices the client hang up
		n := open.Add(1)
		defer open.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	clk := &clock{t: start}
	d := New(Config{Store: s, Now: clk.Now, Workers: 3, Timeout: 100 * time.Millisecond, Instance: "test",
		Targets: func(context.Context, string) (*Target, error) { return &Target{URL: hang.URL, Keys: NewKeys()}, nil }})
	for i := 0; i < 40; i++ {
		enqueue(t, s, app.ID, fmt.Sprintf("conn-%d", i), i, start)
	}
	began := time.Now()
	rounds := 4
	if testing.Short() {
		rounds = 2 // workers freed by a timeout are used again
	}
	for round := 0; round < rounds; round++ {
		if _, err := d.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, _ := d.Step(context.Background()); n != 0 {
			t.Fatalf("claimed %d more with every worker busy", n)
		}
		d.Wait()
		// The receiver learns of the closed connections a moment later.
		for deadline := time.Now().Add(2 * time.Second); open.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	if took := time.Since(began); took > 6*time.Second {
		t.Fatalf("%d rounds of hanging attempts took %v", rounds, took)
	}
	if m := most.Load(); m > 3 {
		t.Fatalf("%d requests open at once, workers 3", m)
	}
	pending, _ := s.WebhookEvents(context.Background(), bankgate.WebhookQuery{AppID: app.ID, Status: bankgate.WebhookPending, Limit: 100})
	tried := 0
	for _, e := range pending {
		if e.Attempts > 0 {
			tried++
			if e.LastError == "" {
				t.Fatalf("a timed-out attempt with no error: %+v", e)
			}
		}
	}
	if len(pending) != 40 || tried != 3*rounds {
		t.Fatalf("%d pending, %d tried; want 40 and %d", len(pending), tried, 3*rounds)
	}
}

// TestRunStopsAndWakes: Run delivers what is enqueued (Wake starts it at
// once) and returns when its context ends.
func TestRunStopsAndWakes(t *testing.T) {
	s, app, rcv := setup(t)
	d := New(Config{Store: s, Instance: "run", Poll: time.Hour,
		Targets: func(context.Context, string) (*Target, error) { return &Target{URL: rcv.srv.URL, Keys: rcv.keys}, nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	enqueue(t, s, app.ID, "c", 1, time.Now())
	d.Wake()
	deadline := time.Now().Add(5 * time.Second)
	for len(rcv.deliveries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(rcv.deliveries()) != 1 {
		t.Fatal("a woken dispatcher did not deliver")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}
