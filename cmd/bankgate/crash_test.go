package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashSafety drives mixed load (logins, exchanges, transfers) at a
// real bankgate process, kills it with SIGKILL, restarts it on the same
// store and checks that nothing a client saw acknowledged was lost or
// applied twice. It runs on SQLite, and on PostgreSQL when
// BANKGATE_TEST_DATABASE_URL is set.
func TestCrashSafety(t *testing.T) {
	skipSlow(t)
	t.Run("sqlite", func(t *testing.T) { crashSafety(t, "") })
	t.Run("postgres", func(t *testing.T) { crashSafety(t, pgSchemaURL(t)) })
}

// ackedTransfer is a transfer the client saw succeed.
type ackedTransfer struct {
	ref     string
	amount  float64
	account string
}

type crashUser struct {
	user
	account   string
	transfers []ackedTransfer
}

func crashSafety(t *testing.T, dbURL string) {
	dir := t.TempDir()
	key := newKeyArg()
	flags := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--secret-key-file", key, "--log-level", "info"}
	if dbURL != "" {
		flags = append(flags, "--database-url", dbURL)
	}
	args := []string{"apps", "create", "--name", "crash", "--json", "--create", "--data-dir", dir, "--secret-key-file", key}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	var out, errb syncBuffer
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("apps create: %v %s", err, errb.String())
	}
	appKey, appSecret := jsonField(t, out.String(), "appKey"), jsonField(t, out.String(), "appSecret")

	p1 := startProc(t, "before-crash", flags...)
	client := &http.Client{Timeout: 5 * time.Second}

	var mu sync.Mutex
	var users []*crashUser
	var exchangedCodes []*crashUser
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("crash_%d_%d", w, n)
				r := try(client, p1.URL, "/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": name, "password": "pass_good"})
				if r.Err != nil || r.Status != 200 {
					continue
				}
				u := &crashUser{user: user{AccessCode: r.str("accessCode"), UserSecret: r.str("userSecret"), ConnectionID: r.str("connectionID")}}
				r = try(client, p1.URL, "/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
				if r.Err != nil || r.Status != 200 {
					continue
				}
				u.Token = r.str("accessToken")
				mu.Lock()
				exchangedCodes = append(exchangedCodes, u)
				mu.Unlock()
				body := map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret}
				r = try(client, p1.URL, "/v2/data/accounts/get", u.Token, body)
				if r.Err != nil || r.Status != 200 {
					continue
				}
				u.account = r.Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
				r = try(client, p1.URL, "/v2/payment/beneficiaries/get", u.Token, body)
				if r.Err != nil || r.Status != 200 {
					continue
				}
				ben := r.Body["beneficiaries"].([]any)[0].(map[string]any)["id"].(string)
				mu.Lock()
				users = append(users, u)
				mu.Unlock()
				for i := 0; i < 3; i++ {
					amt := float64(i+1) + 0.25
					tb := map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret, "senderID": u.account, "receiverID": ben, "amount": amt, "remark": "crash"}
					r = try(client, p1.URL, "/v2/payment/transfer/create", u.Token, tb)
					if r.Err == nil && r.Status == 200 && r.Body["success"] == true {
						mu.Lock()
						u.transfers = append(u.transfers, ackedTransfer{ref: r.str("reference"), amount: amt, account: u.account})
						mu.Unlock()
					}
				}
			}
		}()
	}
	// Kill the server in the middle of the traffic, once it has
	// acknowledged a few dozen transfers.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		acked := 0
		for _, u := range users {
			acked += len(u.transfers)
		}
		mu.Unlock()
		if acked >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d transfers acknowledged in 20 s before the crash", acked)
		}
	}
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p1.done
	close(stop) // requests in flight fail with the process; wg.Wait waits for them
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	acked := 0
	for _, u := range users {
		acked += len(u.transfers)
	}
	t.Logf("before SIGKILL: %d tokens, %d connections with accounts, %d acknowledged transfers", len(exchangedCodes), len(users), acked)
	if len(exchangedCodes) < 5 || acked < 5 {
		t.Fatalf("too little load before the crash: %d tokens, %d transfers", len(exchangedCodes), acked)
	}

	p2 := startProc(t, "after-restart", flags...)
	c := p2.client(t)
	// 1. Every token a client received still works.
	for _, u := range exchangedCodes {
		r := c.post("/v2/data/accounts/get", u.Token, map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret})
		if r.Status != 200 {
			t.Fatalf("token lost in the crash: %s", r.Raw)
		}
	}
	// 2. No acknowledged transfer is lost or applied twice, and balances
	// match the transaction chains.
	today := time.Now().UTC()
	from, to := today.AddDate(0, 0, -300).Format("2006-01-02"), today.Format("2006-01-02")
	for _, u := range users {
		txs := c.txs(t, appSecret, &u.user, u.account, from, to)
		seen := map[string]int{}
		for _, tx := range txs {
			if ref, _ := tx["reference"].(string); ref != "" {
				seen[ref]++
			}
		}
		for _, tr := range u.transfers {
			if seen[tr.ref] != 1 {
				t.Fatalf("acknowledged transfer %s appears %d times after the crash", tr.ref, seen[tr.ref])
			}
		}
		for ref, n := range seen {
			if n > 1 {
				t.Fatalf("transaction %s applied %d times", ref, n)
			}
		}
		checkChain(t, txs, c.balance(t, appSecret, &u.user, u.account))
	}
	// 3. No access code a client exchanged can be exchanged again. (The
	// per-IP limit on failed exchanges allows 100 in a burst: check the
	// first and the last 45, those closest to the crash.)
	check := exchangedCodes
	if len(check) > 90 {
		check = append(append([]*crashUser{}, check[:45]...), check[len(check)-45:]...)
	}
	for _, u := range check {
		r := c.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
		if r.Status != 401 || r.Body["type"] != "INVALID_ACCESS_CODE" {
			t.Fatalf("exchanged code accepted again after the crash: %s", r.Raw)
		}
	}
	p2.stop()
}

func jsonField(t *testing.T, s, key string) string {
	t.Helper()
	r := &resp{Raw: s}
	if err := jsonUnmarshalString(s, &r.Body); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return r.str(key)
}
