package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// procCLI runs a bankgate command in-process on a store a process
// serves, and returns its stdout.
func procCLI(t *testing.T, store []string, args ...string) string {
	t.Helper()
	var out, errb syncBuffer
	if err := run(context.Background(), append(args, store...), func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("bankgate %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestWebhookCrash kills a bankgate process (SIGKILL) while webhook
// events are pending and one is in flight at a slow receiver, restarts
// it on the same store and checks that every event whose request was
// acknowledged is delivered: none lost, duplicates only of an attempt the
// crash interrupted, each with its webhook-id, and each connection's
// events in order. SQLite, and PostgreSQL when BANKGATE_TEST_DATABASE_URL
// is set.
func TestWebhookCrash(t *testing.T) {
	skipSlow(t)
	t.Run("sqlite", func(t *testing.T) { webhookCrash(t, "") })
	t.Run("postgres", func(t *testing.T) { webhookCrash(t, pgSchemaURL(t)) })
}

func webhookCrash(t *testing.T, dbURL string) {
	dir := t.TempDir()
	key := newKeyArg()
	store := []string{"--data-dir", dir, "--secret-key-file", key}
	if dbURL != "" {
		store = append(store, "--database-url", dbURL)
	}
	// A 1 s attempt timeout makes the lease of the attempt the crash
	// interrupts run out 12 s later.
	flags := append([]string{"--addr", "127.0.0.1:0", "--log-level", "info", "--rate-limits", "off", "--webhook-timeout", "1s"}, store...)
	out := procCLI(t, store, "apps", "create", "--name", "crash-hooks", "--json", "--create")
	appKey, appSecret := jsonField(t, out, "appKey"), jsonField(t, out, "appSecret")
	rcv := newHookReceiver(t)
	rcv.set(200, 40*time.Millisecond) // slow enough that the backlog is still there at the kill
	procCLI(t, store, "apps", "set", "--app-key", appKey, "--webhook-url", rcv.URL())
	secret, ekey := webhookKeysJSON(t, procCLI(t, store, "apps", "webhook-keys", "--app-key", appKey, "--json"))
	rcv.setKeys([]string{secret}, ekey)

	p1 := startProc(t, "before-crash", flags...)
	c1 := p1.client(t)
	// Events on several connections: logins whose delinks are webhooks,
	// and sample events on the sandbox's sample connection.
	var acked []string
	var conns []*user
	for i := 0; i < 6; i++ {
		u := c1.login(appKey, fmt.Sprintf("crash_hook_%d", i))
		c1.exchange(appSecret, u)
		conns = append(conns, u)
	}
	for i := 0; i < 120; i++ {
		r := c1.post("/v2/sandbox/webhooks/fire", "", map[string]any{"appSecret": appSecret, "type": "transfer.done"})
		wantOK(t, r)
		acked = append(acked, r.str("webhookID"))
	}
	for _, u := range conns {
		wantOK(t, c1.data("/v2/users/DelinkUser", appSecret, u, nil))
	}
	// Kill once some, not all, are delivered.
	pollUntil(t, 20*time.Second, "some deliveries before the crash, one in flight", func() bool { return len(rcv.hooks()) >= 20 && rcv.busy() })
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p1.done
	before := len(rcv.hooks())
	rcv.set(200, 0)

	p2 := startProc(t, "after-restart", flags...)
	began := time.Now()
	want := len(acked) + len(conns)
	took := pollUntil(t, 60*time.Second, "every acknowledged event delivered after the restart", func() bool {
		ids := map[string]bool{}
		for _, h := range rcv.hooks() {
			ids[h.ID] = true
		}
		return len(ids) >= want
	})
	rcv.check(t)
	hs := rcv.hooks()
	count := map[string]int{}
	delinked := map[string]bool{}
	for _, h := range hs {
		count[h.ID]++
		if h.Type == "connection.delinked" {
			delinked[h.Data["connectionID"].(string)] = true
		}
	}
	for _, id := range acked {
		if count[id] == 0 {
			t.Fatalf("event %s lost in the crash", id)
		}
	}
	for _, u := range conns {
		if !delinked[u.ConnectionID] {
			t.Fatalf("the delink of %s lost in the crash", u.ConnectionID)
		}
	}
	dups := 0
	for _, n := range count {
		dups += n - 1
	}
	// A duplicate is an attempt the crash interrupted (at most the
	// dispatcher's 8 workers' worth), delivered again with its webhook-id.
	if dups > 8 {
		t.Fatalf("%d duplicate deliveries", dups)
	}
	// The sample connection's events arrived in the order they were made.
	pos := map[string]int{}
	for i, id := range acked {
		pos[id] = i
	}
	last := -1
	for _, h := range hs {
		if p, ok := pos[h.ID]; ok {
			if p < last && count[h.ID] == 1 {
				t.Fatalf("event %d delivered after event %d", p, last)
			}
			last = max(last, p)
		}
	}
	t.Logf("crash: %d events acknowledged, %d delivered before SIGKILL (one more in flight), %d after the restart in %v (%v after it listened), %d duplicates (same webhook-id), 0 lost",
		want, before, len(hs)-before, time.Since(began).Round(time.Millisecond), took.Round(time.Millisecond), dups)
	p2.stop()
}

// TestPostgresTwoInstancesWebhooks: two instances on one PostgreSQL
// deliver one outbox together: no event is delivered by both, none twice
// at once, each connection's in order.
func TestPostgresTwoInstancesWebhooks(t *testing.T) {
	skipSlow(t)
	dbURL := pgSchemaURL(t)
	key := newKeyArg()
	dir := t.TempDir()
	store := []string{"--database-url", dbURL, "--data-dir", dir, "--secret-key-file", key}
	flags := append([]string{"--addr", "127.0.0.1:0", "--log-level", "info", "--rate-limits", "off"}, store...)
	pa := startProcAsync(t, "A", flags...)
	pb := startProcAsync(t, "B", flags...)
	pa.waitReady()
	pb.waitReady()
	a, b := pa.client(t), pb.client(t)
	appKey, appSecret := pgNewApp(t, "two-hooks", dbURL, t.TempDir(), key)
	rcv := newHookReceiver(t)
	rcv.set(200, 15*time.Millisecond) // wide enough windows for a double delivery to show
	procCLI(t, store, "apps", "set", "--app-key", appKey, "--webhook-url", rcv.URL())
	secret, ekey := webhookKeysJSON(t, procCLI(t, store, "apps", "webhook-keys", "--app-key", appKey, "--json"))
	rcv.setKeys([]string{secret}, ekey)

	// 10 connections, 10 transfers each, made through both instances.
	var wg sync.WaitGroup
	var mu sync.Mutex
	made := map[string][]string{} // connection → operationIDs in order
	for c := 0; c < 10; c++ {
		via := a
		if c%2 == 1 {
			via = b
		}
		u := via.login(appKey, fmt.Sprintf("two_hooks_%d", c))
		via.exchange(appSecret, u)
		acct := via.data("/v2/data/accounts/get", appSecret, u, nil).Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
		ben := via.data("/v2/payment/beneficiaries/get", appSecret, u, nil).Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				base := []string{pa.URL, pb.URL}[i%2]
				r := try(http.DefaultClient, base, "/v2/payment/transfer/create", u.Token,
					map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret, "senderID": acct, "receiverID": ben, "amount": 1.5})
				if r.Err != nil || r.Status != 200 {
					t.Errorf("transfer: %v %s", r.Err, r.Raw)
					return
				}
				mu.Lock()
				made[u.ConnectionID] = append(made[u.ConnectionID], r.str("operationID"))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	pollUntil(t, 60*time.Second, "100 transfer webhooks", func() bool { return len(rcv.hooks()) >= 100 })
	time.Sleep(500 * time.Millisecond) // a double delivery would show now
	rcv.check(t)
	hs := rcv.hooks()
	if len(hs) != 100 {
		t.Fatalf("%d deliveries of 100 events", len(hs))
	}
	seen := map[string]bool{}
	got := map[string][]string{}
	for _, h := range hs {
		if seen[h.ID] {
			t.Fatalf("%s delivered twice", h.ID)
		}
		seen[h.ID] = true
		conn := h.Data["connectionID"].(string)
		got[conn] = append(got[conn], h.Data["operationID"].(string))
	}
	for conn, ops := range made {
		if fmt.Sprint(got[conn]) != fmt.Sprint(ops) {
			t.Fatalf("connection %s: delivered %v, made %v", conn, got[conn], ops)
		}
	}
	// Both instances delivered.
	ctx := context.Background()
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var instances, attempts int
	if err := db.QueryRow(ctx, `SELECT count(DISTINCT instance), count(*) FROM webhook_attempts`).Scan(&instances, &attempts); err != nil {
		t.Fatal(err)
	}
	t.Logf("100 events, %d attempts, by %d instances", attempts, instances)
	if attempts != 100 || instances != 2 {
		t.Fatalf("%d attempts by %d instances, want 100 by 2", attempts, instances)
	}
	pa.stop()
	pb.stop()
}
