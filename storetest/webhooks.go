package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
)

var webhookTests = []struct {
	name string
	fn   func(t *testing.T, s bankgate.Store)
}{
	{"WebhookEndpoint", testWebhookEndpoint},
	{"WebhookOutboxWithChanges", testWebhookOutboxWithChanges},
	{"WebhookClaimOrder", testWebhookClaimOrder},
	{"WebhookLeaseAndFinish", testWebhookLeaseAndFinish},
	{"WebhookRedeliverAndPrune", testWebhookRedeliverAndPrune},
	{"WebhookRedeliverInFlight", testWebhookRedeliverInFlight},
	{"ConcurrentWebhookClaims", testConcurrentWebhookClaims},
}

// withWebhook gives the app a webhook URL.
func withWebhook(t *testing.T, s bankgate.Store, app *bankgate.App) {
	t.Helper()
	_, err := s.UpdateWebhookEndpoint(context.Background(), app.ID, t0, func(ep *bankgate.WebhookEndpoint) error {
		ep.URL, ep.Keys = "https://hooks.example.com/bankgate", []byte("sealed keys")
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateWebhookEndpoint: %v", err)
	}
}

func testWebhookEndpoint(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	app := MustCreateApp(t, s, "hooks")
	_, err := s.WebhookEndpoint(ctx, app.ID)
	wantCode(t, err, bankgate.NotFound)
	_, err = s.UpdateWebhookEndpoint(ctx, "no-such-app", t0, func(*bankgate.WebhookEndpoint) error { return nil })
	wantCode(t, err, bankgate.NotFound)
	// Without a URL nothing is enqueued.
	ok, err := s.EnqueueWebhook(ctx, bankgate.NewWebhookEvent(bankgate.WebhookTransferDone, app.ID, "c1", t0, nil, nil))
	if err != nil || ok {
		t.Fatalf("EnqueueWebhook without a URL = %v, %v", ok, err)
	}
	withWebhook(t, s, app)
	ep, err := s.WebhookEndpoint(ctx, app.ID)
	if err != nil || ep.URL != "https://hooks.example.com/bankgate" || string(ep.Keys) != "sealed keys" || !ep.UpdatedAt.Equal(t0) {
		t.Fatalf("WebhookEndpoint = %+v, %v", ep, err)
	}
	// fn's error changes nothing.
	_, err = s.UpdateWebhookEndpoint(ctx, app.ID, t0.Add(time.Hour), func(ep *bankgate.WebhookEndpoint) error {
		ep.URL = ""
		return bankgate.Errorf(bankgate.ParameterError, "no")
	})
	wantCode(t, err, bankgate.ParameterError)
	if ep, _ := s.WebhookEndpoint(ctx, app.ID); ep.URL == "" {
		t.Fatal("a failed update was stored")
	}
	e := bankgate.NewWebhookEvent(bankgate.WebhookTransferDone, app.ID, "c1", t0, map[string]any{"operationID": "op1"}, map[string]any{"amount": 1.5})
	if ok, err := s.EnqueueWebhook(ctx, e); err != nil || !ok || e.ID == "" || e.Seq == 0 {
		t.Fatalf("EnqueueWebhook = %v, %v (%+v)", ok, err, e)
	}
	got, err := s.WebhookEvent(ctx, e.ID)
	if err != nil || got.Type != bankgate.WebhookTransferDone || got.Status != bankgate.WebhookPending || got.ConnectionID != "c1" ||
		string(got.Data) != `{"operationID":"op1"}` || string(got.Private) != `{"amount":1.5}` || !got.DueAt.Equal(t0) || !got.NextAt.Equal(t0) {
		t.Fatalf("WebhookEvent = %+v, %v", got, err)
	}
	_, err = s.WebhookEvent(ctx, "msg_nope")
	wantCode(t, err, bankgate.NotFound)
	// Removing the URL stops enqueueing.
	if _, err := s.UpdateWebhookEndpoint(ctx, app.ID, t0, func(ep *bankgate.WebhookEndpoint) error { ep.URL = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.EnqueueWebhook(ctx, bankgate.NewWebhookEvent(bankgate.WebhookTransferDone, app.ID, "c1", t0, nil, nil)); ok {
		t.Fatal("enqueued without a URL")
	}
}

// webhookTypes returns the types of the app's events, oldest first.
func webhookTypes(t *testing.T, s bankgate.Store, appID string) []string {
	t.Helper()
	evs, err := s.WebhookEvents(context.Background(), bankgate.WebhookQuery{AppID: appID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Type)
	}
	return out
}

// testWebhookOutboxWithChanges: the store enqueues the events of the
// changes it makes, in their transaction, only for apps with a URL.
func testWebhookOutboxWithChanges(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	quiet := MustCreateApp(t, s, "no webhook")
	qf := mustConnect(t, s, quiet, time.Hour)
	if err := s.DelinkConnection(ctx, qf.conn.ID, t0); err != nil {
		t.Fatal(err)
	}
	if got := webhookTypes(t, s, quiet.ID); len(got) != 0 {
		t.Fatalf("an app without a webhook got events %v", got)
	}

	app := MustCreateApp(t, s, "hooks")
	withWebhook(t, s, app)
	f := mustConnect(t, s, app, time.Hour)
	if _, err := exchange(s, f, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// A reuse revokes and announces the token it revoked.
	_, err := exchange(s, f, t0.Add(2*time.Second))
	wantCode(t, err, bankgate.InvalidAccessCode)
	if err := s.DelinkConnection(ctx, f.conn.ID, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.DelinkConnection(ctx, f.conn.ID, t0.Add(4*time.Second)); err != nil { // twice: no second event
		t.Fatal(err)
	}
	g := mustConnect(t, s, app, time.Hour)
	if _, err := exchange(s, g, t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeConnection(ctx, g.conn.ID, t0.Add(6*time.Second), "admin=test"); err != nil {
		t.Fatal(err)
	}
	h := mustConnect(t, s, app, time.Hour)
	if _, err := exchange(s, h, t0.Add(7*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RevokeAppTokens(ctx, app.ID, time.Time{}, t0.Add(8*time.Second), "admin=test"); err != nil || n != 1 {
		t.Fatalf("RevokeAppTokens = %d, %v", n, err)
	}
	op := newOp(app.ID)
	op.Status = bankgate.StatusDone
	op.Webhook = bankgate.NewWebhookEvent(bankgate.WebhookTransferDone, app.ID, f.conn.ID, t0.Add(9*time.Second), map[string]any{"operationID": op.ID}, nil)
	if err := s.CreateOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	// An operation write that fails enqueues nothing.
	dup := *op
	dup.Webhook = bankgate.NewWebhookEvent(bankgate.WebhookTransferFailed, app.ID, f.conn.ID, t0, nil, nil)
	wantCode(t, s.CreateOperation(ctx, &dup), bankgate.Conflict)
	dup.Status = bankgate.StatusFailed
	wantCode(t, s.UpdateOperation(ctx, &dup, bankgate.StatusUserInputRequired), bankgate.Conflict)

	want := []string{bankgate.WebhookAccessCodeReused, bankgate.WebhookConnectionDelinked, bankgate.WebhookTokensRevoked,
		bankgate.WebhookTokensRevoked, bankgate.WebhookTransferDone}
	if got := webhookTypes(t, s, app.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	evs, _ := s.WebhookEvents(ctx, bankgate.WebhookQuery{AppID: app.ID, Limit: 100})
	var data map[string]any
	reuse := evs[len(evs)-1]
	json.Unmarshal(reuse.Private, &data)
	if reuse.ConnectionID != f.conn.ID || fmt.Sprint(data["tokenIDs"]) != fmt.Sprint([]any{f.code.TokenID}) {
		t.Fatalf("access_code.reused %s %s", reuse.Data, reuse.Private)
	}
	delink := evs[len(evs)-2]
	data = nil
	json.Unmarshal(delink.Private, &data)
	if delink.ConnectionID != f.conn.ID || data["clientUserID"] != "client-1" {
		t.Fatalf("connection.delinked %s %s", delink.Data, delink.Private)
	}
	kill := evs[1]
	data = nil
	json.Unmarshal(kill.Data, &data)
	if kill.ConnectionID != "" || data["scope"] != "app" || data["count"] != 1.0 {
		t.Fatalf("kill switch %s", kill.Data)
	}
}

func claim(t *testing.T, s bankgate.Store, now time.Time, owner string, limit int) []bankgate.WebhookEvent {
	t.Helper()
	evs, err := s.ClaimWebhooks(context.Background(), bankgate.WebhookClaim{Now: now, LeaseUntil: now.Add(time.Minute), Owner: owner, Limit: limit})
	if err != nil {
		t.Fatalf("ClaimWebhooks: %v", err)
	}
	return evs
}

func finish(t *testing.T, s bankgate.Store, e bankgate.WebhookEvent, owner, status string, at, next time.Time) error {
	t.Helper()
	return s.FinishWebhook(context.Background(), &bankgate.WebhookResult{Owner: owner, Status: status, NextAt: next,
		Attempt: bankgate.WebhookAttempt{EventID: e.ID, N: e.Attempts, At: at, Duration: time.Millisecond, StatusCode: 200, Instance: owner}})
}

func enqueue(t *testing.T, s bankgate.Store, appID, connID, typ string, at, due time.Time) *bankgate.WebhookEvent {
	t.Helper()
	e := bankgate.NewWebhookEvent(typ, appID, connID, at, nil, nil)
	e.DueAt = due
	if ok, err := s.EnqueueWebhook(context.Background(), e); err != nil || !ok {
		t.Fatalf("EnqueueWebhook = %v, %v", ok, err)
	}
	return e
}

func ids(evs []bankgate.WebhookEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// testWebhookClaimOrder: a claim takes only the first pending event of
// each connection, and events not yet due wait without blocking those
// due before them.
func testWebhookClaimOrder(t *testing.T, s bankgate.Store) {
	app := MustCreateApp(t, s, "hooks")
	withWebhook(t, s, app)
	a1 := enqueue(t, s, app.ID, "a", bankgate.WebhookTransferDone, t0, t0)
	later := enqueue(t, s, app.ID, "a", bankgate.WebhookBeneficiaryActive, t0, t0.Add(4*time.Hour))
	a2 := enqueue(t, s, app.ID, "a", bankgate.WebhookConnectionDelinked, t0.Add(time.Second), t0.Add(time.Second))
	b1 := enqueue(t, s, app.ID, "b", bankgate.WebhookTransferDone, t0, t0)
	now := t0.Add(time.Minute)
	got := claim(t, s, now, "i1", 10)
	if fmt.Sprint(ids(got)) != fmt.Sprint([]string{a1.ID, b1.ID}) {
		t.Fatalf("first claim %v, want %v %v", ids(got), a1.ID, b1.ID)
	}
	if got[0].Attempts != 1 {
		t.Fatalf("attempts %d", got[0].Attempts)
	}
	// a2 waits for a1 however often one asks.
	if more := claim(t, s, now, "i2", 10); len(more) != 0 {
		t.Fatalf("claimed %v while a1 is in flight", ids(more))
	}
	if err := finish(t, s, got[0], "i1", bankgate.WebhookDelivered, now, time.Time{}); err != nil {
		t.Fatal(err)
	}
	next := claim(t, s, now, "i2", 10)
	if fmt.Sprint(ids(next)) != fmt.Sprint([]string{a2.ID}) {
		t.Fatalf("after a1: %v, want a2", ids(next))
	}
	e, _ := s.WebhookEvent(context.Background(), a1.ID)
	if e.Status != bankgate.WebhookDelivered || e.DeliveredAt.IsZero() || e.LastStatus != 200 {
		t.Fatalf("a1 after delivery: %+v", e)
	}
	if err := finish(t, s, next[0], "i2", bankgate.WebhookDelivered, now, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := finish(t, s, got[1], "i1", bankgate.WebhookDelivered, now, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, t0.Add(4*time.Hour-time.Second), "i2", 10); len(got) != 0 {
		t.Fatalf("claimed %v before it is due", ids(got))
	}
	if got := claim(t, s, t0.Add(4*time.Hour), "i2", 10); fmt.Sprint(ids(got)) != fmt.Sprint([]string{later.ID}) {
		t.Fatalf("when due: %v, want %v", ids(got), later.ID)
	}
}

// testWebhookLeaseAndFinish: a lease keeps an event from other claims
// until it runs out; a finish after the lease was lost is Conflict but
// its attempt is recorded; a retry waits for its NextAt.
func testWebhookLeaseAndFinish(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	app := MustCreateApp(t, s, "hooks")
	withWebhook(t, s, app)
	e := enqueue(t, s, app.ID, "a", bankgate.WebhookTransferDone, t0, t0)
	first := claim(t, s, t0, "i1", 1)
	if len(first) != 1 {
		t.Fatal("no claim")
	}
	if again := claim(t, s, t0.Add(59*time.Second), "i2", 1); len(again) != 0 {
		t.Fatal("claimed while leased")
	}
	// i1 dies; the lease runs out and i2 takes the event: attempt 2, the
	// same ID.
	second := claim(t, s, t0.Add(61*time.Second), "i2", 1)
	if len(second) != 1 || second[0].ID != e.ID || second[0].Attempts != 2 {
		t.Fatalf("after the lease: %+v", second)
	}
	wantCode(t, finish(t, s, first[0], "i1", bankgate.WebhookDelivered, t0.Add(62*time.Second), time.Time{}), bankgate.Conflict)
	retry := t0.Add(10 * time.Minute)
	if err := s.FinishWebhook(ctx, &bankgate.WebhookResult{Owner: "i2", Status: bankgate.WebhookPending, NextAt: retry,
		Attempt: bankgate.WebhookAttempt{EventID: e.ID, N: 2, At: t0.Add(61 * time.Second), StatusCode: 500, Error: "the receiver answered 500", Instance: "i2"}}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, retry.Add(-time.Second), "i3", 1); len(got) != 0 {
		t.Fatal("claimed before NextAt")
	}
	got, _ := s.WebhookEvent(ctx, e.ID)
	if got.Status != bankgate.WebhookPending || got.LastStatus != 500 || got.LastError == "" || !got.NextAt.Equal(retry) {
		t.Fatalf("after a 500: %+v", got)
	}
	third := claim(t, s, retry, "i3", 1)
	if len(third) != 1 || third[0].Attempts != 3 {
		t.Fatalf("retry: %+v", third)
	}
	if err := finish(t, s, third[0], "i3", bankgate.WebhookFailed, retry, time.Time{}); err != nil {
		t.Fatal(err)
	}
	as, err := s.WebhookAttempts(ctx, e.ID, 10)
	if err != nil || len(as) != 3 || as[0].Instance != "i1" || as[1].StatusCode != 500 || as[2].N != 3 {
		t.Fatalf("attempts %+v, %v", as, err)
	}
	if got, _ := s.WebhookEvent(ctx, e.ID); got.Status != bankgate.WebhookFailed {
		t.Fatalf("status %s", got.Status)
	}
	if got := claim(t, s, retry.Add(time.Hour), "i3", 1); len(got) != 0 {
		t.Fatal("claimed a failed event")
	}
}

func testWebhookRedeliverAndPrune(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	app := MustCreateApp(t, s, "hooks")
	withWebhook(t, s, app)
	e := enqueue(t, s, app.ID, "a", bankgate.WebhookTransferDone, t0, t0)
	c := claim(t, s, t0, "i1", 1)
	if err := finish(t, s, c[0], "i1", bankgate.WebhookDelivered, t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.RedeliverWebhook(ctx, "msg_nope", t0)
	wantCode(t, err, bankgate.NotFound)
	at := t0.Add(time.Hour)
	r, err := s.RedeliverWebhook(ctx, e.ID, at)
	if err != nil || r.Status != bankgate.WebhookPending || !r.Since.Equal(at) || !r.NextAt.Equal(at) {
		t.Fatalf("RedeliverWebhook = %+v, %v", r, err)
	}
	again := claim(t, s, at, "i1", 1)
	if len(again) != 1 || again[0].ID != e.ID || again[0].Attempts != 2 {
		t.Fatalf("redelivery claim %+v", again)
	}
	if err := finish(t, s, again[0], "i1", bankgate.WebhookDelivered, at, time.Time{}); err != nil {
		t.Fatal(err)
	}
	pending := enqueue(t, s, app.ID, "b", bankgate.WebhookTransferDone, t0, t0)
	n, err := s.PruneWebhooks(ctx, t0.Add(time.Second))
	if err != nil || n != 1 {
		t.Fatalf("PruneWebhooks = %d, %v", n, err)
	}
	if _, err := s.WebhookEvent(ctx, e.ID); !bankgate.IsCode(err, bankgate.NotFound) {
		t.Fatalf("pruned event: %v", err)
	}
	if as, _ := s.WebhookAttempts(ctx, e.ID, 10); len(as) != 0 {
		t.Fatalf("pruned attempts %v", as)
	}
	if _, err := s.WebhookEvent(ctx, pending.ID); err != nil {
		t.Fatalf("a pending event was pruned: %v", err)
	}
	// Listing: newest first, by status, with a cursor.
	evs, err := s.WebhookEvents(ctx, bankgate.WebhookQuery{AppID: app.ID, Status: bankgate.WebhookPending, Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].ID != pending.ID {
		t.Fatalf("WebhookEvents = %v, %v", ids(evs), err)
	}
	if evs, _ := s.WebhookEvents(ctx, bankgate.WebhookQuery{AppID: app.ID, BeforeSeq: pending.Seq, Limit: 10}); len(evs) != 0 {
		t.Fatalf("before the only event: %v", ids(evs))
	}
}

// testWebhookRedeliverInFlight: a redelivery asked while an attempt of
// the event is in flight is not lost when that attempt then finishes as
// delivered: the event stays pending, due when the redelivery said, and
// the next claim takes it. The lease still keeps it from a second claim
// while the first attempt runs. The fake clock gives both redeliveries
// the same time, as the tests' clocks do.
func testWebhookRedeliverInFlight(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	app := MustCreateApp(t, s, "hooks")
	withWebhook(t, s, app)
	e := enqueue(t, s, app.ID, "a", bankgate.WebhookTransferDone, t0, t0)
	next := enqueue(t, s, app.ID, "a", bankgate.WebhookConnectionDelinked, t0, t0.Add(time.Millisecond))
	first := claim(t, s, t0, "i1", 1)
	if len(first) != 1 || first[0].ID != e.ID {
		t.Fatalf("first claim %v", ids(first))
	}
	r, err := s.RedeliverWebhook(ctx, e.ID, t0)
	if err != nil || r.Status != bankgate.WebhookPending || !r.NextAt.Equal(t0) {
		t.Fatalf("RedeliverWebhook in flight = %+v, %v", r, err)
	}
	// The attempt in flight still holds the event, and its connection.
	if got := claim(t, s, t0, "i2", 10); len(got) != 0 {
		t.Fatalf("claimed %v while the first attempt is in flight", ids(got))
	}
	if err := finish(t, s, first[0], "i1", bankgate.WebhookDelivered, t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.WebhookEvent(ctx, e.ID)
	if err != nil || got.Status != bankgate.WebhookPending || !got.NextAt.Equal(t0) {
		t.Fatalf("after the in-flight attempt: %+v, %v (the redelivery was lost)", got, err)
	}
	// The redelivery: claimable at once, before the connection's next event.
	again := claim(t, s, t0, "i2", 10)
	if len(again) != 1 || again[0].ID != e.ID || again[0].Attempts != 2 {
		t.Fatalf("redelivery claim %+v", again)
	}
	if err := finish(t, s, again[0], "i2", bankgate.WebhookDelivered, t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.WebhookEvent(ctx, e.ID)
	if got.Status != bankgate.WebhookDelivered || got.DeliveredAt.IsZero() {
		t.Fatalf("after the redelivery: %+v", got)
	}
	if as, _ := s.WebhookAttempts(ctx, e.ID, 10); len(as) != 2 || as[0].Instance != "i1" || as[1].Instance != "i2" {
		t.Fatalf("attempts %+v", as)
	}
	// Once delivered, the event stays so: the flag was spent by the claim.
	third := claim(t, s, t0.Add(time.Hour), "i3", 10)
	if len(third) != 1 || third[0].ID != next.ID {
		t.Fatalf("after the redelivery, claimed %v, want only %v", ids(third), next.ID)
	}
	// A redelivery asked while an attempt that will fail is in flight: the
	// event is due when the redelivery said, not after the retry's backoff.
	at := t0.Add(time.Hour + time.Second)
	if _, err := s.RedeliverWebhook(ctx, next.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishWebhook(ctx, &bankgate.WebhookResult{Owner: "i3", Status: bankgate.WebhookPending, NextAt: at.Add(time.Hour),
		Attempt: bankgate.WebhookAttempt{EventID: next.ID, N: third[0].Attempts, At: at, StatusCode: 500, Error: "the receiver answered 500", Instance: "i3"}}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, at, "i4", 10); len(got) != 1 || got[0].ID != next.ID || got[0].Attempts != 2 || !got[0].Since.Equal(at) {
		t.Fatalf("redelivery after a failed attempt: %+v", got)
	}
}

// testConcurrentWebhookClaims: instances claiming at once never hold the
// same event, and never two events of one connection, at the same time.
func testConcurrentWebhookClaims(t *testing.T, s bankgate.Store) {
	ctx := context.Background()
	app := MustCreateApp(t, s, "hooks")
	withWebhook(t, s, app)
	const conns, per = 8, 6
	for i := 0; i < per; i++ {
		for c := 0; c < conns; c++ {
			enqueue(t, s, app.ID, fmt.Sprintf("c%d", c), bankgate.WebhookTransferDone, t0.Add(time.Duration(i)*time.Millisecond), time.Time{})
		}
	}
	var mu sync.Mutex
	inFlight := map[string]string{} // connection → event
	delivered := map[string]int{}
	order := map[string][]int64{}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 6; w++ {
		owner := fmt.Sprintf("i%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idle := 0; idle < 20; {
				evs, err := s.ClaimWebhooks(ctx, bankgate.WebhookClaim{Now: t0.Add(time.Hour), LeaseUntil: t0.Add(2 * time.Hour), Owner: owner, Limit: 3})
				if err != nil {
					errs <- err
					return
				}
				if len(evs) == 0 {
					idle++
					time.Sleep(2 * time.Millisecond)
					continue
				}
				idle = 0
				mu.Lock()
				for _, e := range evs {
					if other, ok := inFlight[e.ConnectionID]; ok {
						errs <- fmt.Errorf("%s claimed %s while %s of its connection is in flight", owner, e.ID, other)
					}
					inFlight[e.ConnectionID] = e.ID
					delivered[e.ID]++
					order[e.ConnectionID] = append(order[e.ConnectionID], e.Seq)
				}
				mu.Unlock()
				for _, e := range evs {
					mu.Lock()
					delete(inFlight, e.ConnectionID)
					mu.Unlock()
					err := s.FinishWebhook(ctx, &bankgate.WebhookResult{Owner: owner, Status: bankgate.WebhookDelivered,
						Attempt: bankgate.WebhookAttempt{EventID: e.ID, N: e.Attempts, At: t0.Add(time.Hour), StatusCode: 204, Instance: owner}})
					if err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(delivered) != conns*per {
		t.Fatalf("%d events delivered, want %d", len(delivered), conns*per)
	}
	for id, n := range delivered {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	for c, seqs := range order {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] < seqs[i-1] {
				t.Errorf("connection %s delivered out of order: %v", c, seqs)
				break
			}
		}
	}
}
