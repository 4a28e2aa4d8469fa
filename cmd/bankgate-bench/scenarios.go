package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	bankID       = "SANDBOX_AE_ENBD"
	pathLogin    = "/v2/connect/login"
	pathExchange = "/v2/auth/ExchangeToken"
	pathAccounts = "/v2/data/accounts/get"
	pathBalance  = "/v2/data/balance/get"
	pathTx       = "/v2/data/transactions/get"
)

// bench is one benchmark run against one bankgate server.
type bench struct {
	addr  string
	app   *appCreds
	conns int
	// setupConns is how many connections create users, codes and --scale
	// connections in parallel (more than conns: the server commits
	// concurrent writes together).
	setupConns int
	// users are the sandbox connections with tokens; each is its own
	// sandbox bank user. The read scenarios spread over all of them.
	users []*user
	// from and to are last month's first and last day, the range of the
	// transactions requests.
	from, to string
	// logins counts the Connect logins the benchmark has sent, each of
	// which creates a connection in the store.
	logins atomic.Int64
	// tokens counts the access codes exchanged for tokens.
	tokens atomic.Int64
	// runs numbers the login generators.
	runs atomic.Int64
}

// user is one sandbox connection with a token, ready for data calls.
type user struct {
	token, userSecret, connectionID, accountID string
	balance, transactions                      *request
}

// envelope is the part of every Dapi answer the benchmark reads.
type envelope struct {
	Success      bool   `json:"success"`
	Status       string `json:"status"`
	Type         string `json:"type"`
	Msg          string `json:"msg"`
	AccessCode   string `json:"accessCode"`
	UserSecret   string `json:"userSecret"`
	ConnectionID string `json:"connectionID"`
	AccessToken  string `json:"accessToken"`
	Accounts     []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"accounts"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// call sends one request with c and decodes the envelope; it fails unless
// the answer is 2xx with success:true and status done.
func call(c client, r *request) (*envelope, error) {
	status, body, err := c.do(r)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", r.path, err)
	}
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("POST %s: HTTP %d, not a JSON envelope: %.200q", r.path, status, body)
	}
	if status/100 != 2 || !e.Success || e.Status != "done" {
		return &e, fmt.Errorf("POST %s: HTTP %d %s %s: %s", r.path, status, e.Status, e.Type, e.Msg)
	}
	return &e, nil
}

func (b *bench) loginRequest(username string) *request {
	return &request{path: pathLogin, body: mustJSON(map[string]string{
		"appKey": b.app.AppKey, "bankID": bankID, "username": username, "password": "pass_good"})}
}

func (b *bench) exchangeRequest(code, connID string) *request {
	return &request{path: pathExchange, body: mustJSON(map[string]string{
		"appSecret": b.app.AppSecret, "accessCode": code, "connectionID": connID})}
}

// login logs username in and returns the envelope with the access code.
func (b *bench) login(c client, username string) (*envelope, error) {
	b.logins.Add(1)
	return call(c, b.loginRequest(username))
}

// parallel runs fn(c, i) for i in [0, n) on up to workers goroutines,
// each with its own client, and returns the first error. progress, if
// set, is called about every 5 s with the count done.
func (b *bench) parallel(ctx context.Context, n, workers int, fn func(c client, i int) error, progress func(done int)) error {
	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient("raw", b.addr, workers)
			defer c.close()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(c, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		}()
	}
	if progress != nil {
		stop := make(chan struct{})
		go func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					progress(int(done.Load()))
				}
			}
		}()
		defer close(stop)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// addUsers grows b.users to n sandbox connections (bench_<i>), each
// logged in through Connect, exchanged for a token, and with an account
// id from accounts/get, and builds the balance and transactions requests
// of each. progress, if set, is called about every 5 s.
func (b *bench) addUsers(ctx context.Context, n int, progress func(done, total int)) error {
	have := len(b.users)
	if n <= have {
		return nil
	}
	if b.from == "" {
		b.from, b.to = lastMonth(time.Now())
	}
	b.users = append(b.users, make([]*user, n-have)...)
	var report func(int)
	if progress != nil {
		report = func(done int) { progress(have+done, n) }
	}
	err := b.parallel(ctx, n-have, b.setupConns, func(c client, j int) error {
		i := have + j
		e, err := b.login(c, fmt.Sprintf("bench_%d", i))
		if err != nil {
			return fmt.Errorf("set up connection %d: %w", i, err)
		}
		u := &user{userSecret: e.UserSecret, connectionID: e.ConnectionID}
		x, err := call(c, b.exchangeRequest(e.AccessCode, e.ConnectionID))
		if err != nil {
			return fmt.Errorf("set up connection %d: %w", i, err)
		}
		b.tokens.Add(1)
		u.token = x.AccessToken
		a, err := call(c, &request{path: pathAccounts, auth: u.token, body: mustJSON(map[string]string{
			"appSecret": b.app.AppSecret, "userSecret": u.userSecret})})
		if err != nil {
			return fmt.Errorf("set up connection %d: %w", i, err)
		}
		if len(a.Accounts) == 0 {
			return fmt.Errorf("set up connection %d: the sandbox user has no accounts", i)
		}
		u.accountID = a.Accounts[0].ID
		for _, acc := range a.Accounts {
			if acc.Type == "current" {
				u.accountID = acc.ID
				break
			}
		}
		u.balance = &request{path: pathBalance, auth: u.token, body: mustJSON(map[string]string{
			"appSecret": b.app.AppSecret, "userSecret": u.userSecret, "accountID": u.accountID})}
		u.transactions = &request{path: pathTx, auth: u.token, body: mustJSON(map[string]string{
			"appSecret": b.app.AppSecret, "userSecret": u.userSecret, "accountID": u.accountID,
			"fromDate": b.from, "toDate": b.to})}
		b.users[i] = u
		return nil
	}, report)
	if err != nil {
		b.users = b.users[:have]
	}
	return err
}

// spread returns, for each of workers workers, a walk over all the users:
// the workers walk one random permutation of b.users, each from its own
// offset (worker i from i·n/workers), so every user gets the same share of
// the requests and, while there are more users than workers, no two
// workers ask for the same user at once.
func (b *bench) spread(workers int) func(i int) func() *user {
	n := len(b.users)
	order := rand.New(rand.NewPCG(uint64(n), 0x7370726561640a)).Perm(n)
	return func(i int) func() *user {
		pos := i % workers * n / workers
		return func() *user {
			u := b.users[order[pos]]
			if pos++; pos == n {
				pos = 0
			}
			return u
		}
	}
}

// lastMonth returns the first and last day of the calendar month before
// now's, as YYYY-MM-DD.
func lastMonth(now time.Time) (string, string) {
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	prev := first.AddDate(0, -1, 0)
	return prev.Format(time.DateOnly), first.AddDate(0, 0, -1).Format(time.DateOnly)
}

// codePool is a finite supply of ExchangeToken requests, each with a fresh
// access code; a code works once.
type codePool struct {
	reqs []*request
	next atomic.Int64
}

func (p *codePool) take() (*request, error) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.reqs)) {
		return nil, errPoolEmpty
	}
	return p.reqs[i], nil
}

// newCodePool logs n fresh sandbox users in (prefix_0 …) and keeps their
// access codes as ExchangeToken requests.
func (b *bench) newCodePool(ctx context.Context, n int, prefix string) (*codePool, error) {
	p := &codePool{reqs: make([]*request, n)}
	err := b.parallel(ctx, n, b.setupConns, func(c client, i int) error {
		e, err := b.login(c, fmt.Sprintf("%s_%d", prefix, i))
		if err != nil {
			return fmt.Errorf("create access code %d: %w", i, err)
		}
		p.reqs[i] = b.exchangeRequest(e.AccessCode, e.ConnectionID)
		return nil
	}, nil)
	return p, err
}

// scale adds n connections with tokens through the public API: a Connect
// login and an ExchangeToken per connection, on conns connections.
func (b *bench) scale(ctx context.Context, n int, log io.Writer) error {
	start := time.Now()
	return b.parallel(ctx, n, b.setupConns, func(c client, i int) error {
		e, err := b.login(c, fmt.Sprintf("scale_%d", i))
		if err != nil {
			return fmt.Errorf("scale: connection %d: %w", i, err)
		}
		if _, err := call(c, b.exchangeRequest(e.AccessCode, e.ConnectionID)); err != nil {
			return fmt.Errorf("scale: connection %d: %w", i, err)
		}
		b.tokens.Add(1)
		return nil
	}, func(done int) {
		el := time.Since(start)
		rate := float64(done) / el.Seconds()
		left := time.Duration(float64(n-done)/max(rate, 1)) * time.Second
		fmt.Fprintf(log, "  scale: %d/%d connections+tokens (%.0f/s, about %v left)\n", done, n, rate, left.Round(time.Second))
	})
}

// scenarioNames lists every scenario in the order a run measures them.
var scenarioNames = []string{"ceiling", "balance", "transactions", "exchange", "login", "mixed"}

var scenarioHelp = map[string]string{
	"ceiling":      "a bare net/http JSON handler (decode the body, encode a balance-sized envelope): the ceiling the others are divided by",
	"balance":      "POST /v2/data/balance/get, Bearer token, {appSecret,userSecret,accountID}; the workers walk one random permutation of all --connections-users connections (each its own sandbox user) from evenly spaced offsets, so every connection gets an equal share",
	"transactions": "POST /v2/data/transactions/get for last calendar month (fromDate/toDate YYYY-MM-DD), spread over all connections like balance",
	"exchange":     "POST /v2/auth/ExchangeToken, each with a fresh access code made by Connect logins before the window (--exchange-codes)",
	"login":        "POST /v2/connect/login on SANDBOX_AE_ENBD with password pass_good as a new username each time (the sandbox's user_good behaviour; a fresh name because the server allows 10 logins a minute per username); each creates a connection",
	"mixed":        "70% balance, 20% transactions (spread over all connections like balance), 5% login, 5% exchange (fresh codes made before the window)",
}

// generators returns worker i's generator for the named bankgate scenario.
// exchange and mixed draw fresh codes from pool.
func (b *bench) generator(name string, pool *codePool) func(i int) generator {
	switch name {
	case "balance":
		walk := b.spread(b.conns)
		return func(i int) generator {
			next := walk(i)
			return func() (*request, error) { return next().balance, nil }
		}
	case "transactions":
		walk := b.spread(b.conns)
		return func(i int) generator {
			next := walk(i)
			return func() (*request, error) { return next().transactions, nil }
		}
	case "login":
		return func(i int) generator {
			next := b.freshLogins(name, i)
			return func() (*request, error) { return next(), nil }
		}
	case "exchange":
		return func(i int) generator {
			return pool.take
		}
	case "mixed":
		walk := b.spread(b.conns)
		return func(i int) generator {
			next := walk(i)
			login := b.freshLogins(name, i)
			rng := rand.New(rand.NewPCG(uint64(i), 0x62616e6b))
			return func() (*request, error) {
				switch k := rng.IntN(100); {
				case k < 70:
					return next().balance, nil
				case k < 90:
					return next().transactions, nil
				case k < 95:
					return login(), nil
				default:
					return pool.take()
				}
			}
		}
	}
	panic("unknown scenario " + name)
}

// freshLogins returns worker i's supply of Connect logins, each as a user
// never logged in before (<scenario>_<generator>_w<i>_<n>, password pass_good): the
// server limits logins per bank and username (10 a minute by default), as
// a real bank would, so the same username over and over measures the
// limiter rather than logins.
func (b *bench) freshLogins(scenario string, i int) func() *request {
	run := b.runs.Add(1) // a fresh name space for every worker of every round
	prefix := fmt.Appendf(nil, `{"appKey":%q,"bankID":%q,"password":"pass_good","username":"%s_%d_w%d_`, b.app.AppKey, bankID, scenario, run, i)
	n := 0
	return func() *request {
		b.logins.Add(1)
		n++
		body := strconv.AppendInt(append(make([]byte, 0, len(prefix)+12), prefix...), int64(n), 10)
		return &request{path: pathLogin, body: append(body, `"}`...)}
	}
}

// parseScenarios parses the --scenarios list into run order.
func parseScenarios(s string) ([]string, error) {
	want := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f == "all" {
			for _, n := range scenarioNames {
				want[n] = true
			}
			continue
		}
		if _, ok := scenarioHelp[f]; !ok {
			return nil, fmt.Errorf("--scenarios: unknown scenario %q (want some of %s)", f, strings.Join(scenarioNames, ","))
		}
		want[f] = true
	}
	var out []string
	for _, n := range scenarioNames {
		if want[n] {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--scenarios: no scenario given")
	}
	return out, nil
}

// sortedKinds returns error kinds by count, largest first.
func sortedKinds(m map[string]uint64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}

// probe sends one request with net/http's client and reports its status
// and the start of its body; the benchmark uses it to say why a scenario
// fails before measuring it.
func probe(addr string, r *request) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+r.path, bytes.NewReader(r.body))
	if err != nil {
		return 0, "", err
	}
	if r.auth != "" {
		req.Header.Set("Authorization", "Bearer "+r.auth)
	}
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return resp.StatusCode, string(b), nil
}
