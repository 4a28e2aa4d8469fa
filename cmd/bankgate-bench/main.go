// Command bankgate-bench measures bankgate's throughput and latency on this
// machine against the ceiling of a bare net/http JSON handler, in one run:
//
//	go run ./cmd/bankgate-bench                        # SQLite, 10 s per scenario
//	go run ./cmd/bankgate-bench --database-url 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// It builds bankgate, starts it on a fresh store on 127.0.0.1, creates an
// app and sandbox connections through the CLI and the public API, drives
// each scenario with a closed-loop load generator, prints a table with the
// ratio of each scenario to the ceiling and whether the performance targets
// are met, and stops the server. Run with --help for every flag.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv(ceilingEnv) == "1" {
		if err := serveCeilingChild(); err != nil {
			fmt.Fprintln(os.Stderr, "bankgate-bench ceiling:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bankgate-bench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	bankgateBin   string
	databaseURL   string
	duration      time.Duration
	warmup        time.Duration
	conns         int
	users         int
	usersList     string
	sweep         []int // the --users sizes, ascending
	setupConns    int
	scenarios     string
	out           string
	svg           string
	scale         int
	exchangeCodes int
	client        string
	ceilingMode   string
	perfDir       string
	keep          bool
	startTimeout  time.Duration
	serverFlags   string
	waitIdle      time.Duration
	repeat        int
}

const usageHead = `bankgate-bench: measure bankgate against a bare net/http JSON handler on this machine.

Usage: bankgate-bench [flags]

In one run it
  1. serves a bare net/http JSON handler on 127.0.0.1 and measures it: the ceiling;
  2. builds bankgate (go build github.com/bankgate/bankgate/cmd/bankgate, from inside the module)
     unless --bankgate-bin is given, and starts "bankgate serve --addr 127.0.0.1:0 --log-level warn"
     on a fresh store: a new temporary --data-dir, and with --database-url a new schema bench_<random>
     (created with pgx, dropped at the end unless --keep);
  3. creates an app with "bankgate apps create --name bench --json" and --connections-users sandbox
     connections (Connect login bench_<i>, ExchangeToken, accounts/get), each its own sandbox user;
  4. drives each scenario with --conns keep-alive connections, each a goroutine that sends a request,
     waits for the answer and sends the next, for --warmup and then --duration;
  5. prints requests/s, p50, p99, errors (non-2xx or no "success":true) and the ratio to the
     ceiling, the CPU per request of the benchmark and of the server, the server's RSS and
     startup time, and PASS/MISS for each target; writes --out (JSON) and --svg.
All traffic goes to 127.0.0.1. Ctrl-C stops the run and the server.

With --users 64,1000,10000 it sweeps instead: for each size, smallest first, it grows the store to
that many connections through the public API, reads each one's balance once (unmeasured: the row
is about users in active use, not the first read after minutes of setup), and measures the
ceiling, balance and transactions (those of --scenarios) over all of them, printing one row per
size and PASS/MISS for the targets of its rows of 1,000 and 100,000 users.

Scenarios (run in this order; the store grows as login, exchange and mixed create connections):
`

const usageTargets = `
Targets:
  balance   ≥ 60% of the ceiling's req/s on SQLite (≥ 50% on PostgreSQL), p99 < 20 ms, no errors
  exchange  ≥ 5000 req/s on SQLite with p99 < 50 ms (≥ 3000 req/s on PostgreSQL), no errors
  login     ≥ 1000 req/s, no errors
With --users, on the rows of exactly 1,000 and 100,000 users (reads: share of the ceiling's req/s
measured in the same row, no errors):
  balance@1000          ≥ 60% with p99 < 20 ms on SQLite, ≥ 50% on PostgreSQL
  balance@100000        ≥ 55% on SQLite, ≥ 45% on PostgreSQL
  transactions@100000   ≥ 25% on SQLite, ≥ 20% on PostgreSQL
  rss@100000            the server's largest RSS during the row < 512 MiB

Flags:
`

func newFlags(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bankgate-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bankgateBin, "bankgate-bin", "", "bankgate binary to benchmark; default: build ./cmd/bankgate of the module in the working directory into a temporary directory")
	fs.StringVar(&o.databaseURL, "database-url", "", "benchmark the PostgreSQL store of this database (postgres://user@127.0.0.1:5432/db?sslmode=disable) in a fresh schema bench_<random> created here and dropped at the end; default: the SQLite store in a fresh temporary --data-dir")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured window of each scenario")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each scenario's window")
	fs.IntVar(&o.conns, "conns", 64, "concurrent keep-alive connections, one goroutine each, per scenario")
	fs.IntVar(&o.users, "connections-users", 64, "sandbox connections (each with a token, each its own sandbox user) that balance, transactions and mixed spread their requests over, evenly")
	fs.StringVar(&o.usersList, "users", "", "sweep: comma-separated numbers of connections (e.g. 64,1000,10000,100000); for each, smallest first, grow the store to that many connections through the public API and measure ceiling, balance and transactions over all of them, one row per size, with the server's RSS. Replaces --connections-users")
	fs.IntVar(&o.setupConns, "setup-conns", 128, "concurrent connections that create sandbox connections, access codes and --scale connections through the API (the server commits concurrent writes together, so more than --conns is faster)")
	fs.StringVar(&o.scenarios, "scenarios", "all", "comma-separated scenarios to run: "+strings.Join(scenarioNames, ",")+" or all")
	fs.StringVar(&o.out, "out", "", "write the results as JSON to this file")
	fs.StringVar(&o.svg, "svg", "", "write a bar chart of req/s and ratio to the ceiling per scenario to this SVG file")
	fs.IntVar(&o.scale, "scale", 0, "after the scenarios, add this many connections with tokens through the public API (Connect login + ExchangeToken each, on --conns connections; roughly 1–3k a second) and measure balance again as \"balance+scale\"")
	fs.IntVar(&o.exchangeCodes, "exchange-codes", 0, "fresh access codes to make (by Connect logins, before the window) for the exchange scenario; 0: 4000/s × (warmup+duration), at least 200, at most 200000. If they run out the window ends early and rates are over the time measured")
	fs.StringVar(&o.client, "client", "raw", "load generator client: raw (a minimal HTTP/1.1 keep-alive client with pre-serialized requests, a few µs of CPU per request) or http (net/http's Client, one Transport per connection; costs the server more CPU on a small machine)")
	fs.StringVar(&o.ceilingMode, "ceiling-mode", "inprocess", "where the ceiling handler runs: inprocess (a goroutine server in this process) or process (a child process, competing for the CPU the way bankgate does)")
	fs.StringVar(&o.perfDir, "perf-dir", "", "profile the server with Linux perf (perf record -g) during each bankgate scenario's window and write <scenario>.perf.data and a flat report <scenario>.perf.txt here; perf takes some CPU itself")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (server log, data dir) and the PostgreSQL schema")
	fs.DurationVar(&o.waitIdle, "wait-idle", 0, "before each scenario, wait up to this long for the machine to be quiet (other processes using under 10% of all CPUs over one second); for shared machines. The table's \"other CPU\" column shows what other processes (PostgreSQL's included) used during each window either way")
	fs.IntVar(&o.repeat, "repeat", 1, "measure every scenario this many rounds (the ceiling restarts each round; bankgate keeps running) and report each scenario's median round, with every round's req/s in the JSON; runs of a few seconds on a shared machine vary by ±10%")
	fs.DurationVar(&o.startTimeout, "start-timeout", 60*time.Second, "how long to wait for bankgate to print its address")
	fs.StringVar(&o.serverFlags, "server-flags", "", "more flags for `bankgate serve`, space-separated (e.g. \"--sandbox-cache-mb 320\"); the bench always adds --rate-limits off, as its setup makes thousands of logins from one address")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		for _, n := range scenarioNames {
			fmt.Fprintf(stderr, "  %-13s %s\n", n, scenarioHelp[n])
		}
		fmt.Fprint(stderr, usageTargets)
		fs.VisitAll(func(f *flag.Flag) {
			def := f.DefValue
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(stderr, "  --%s (default %s)\n      %s\n", f.Name, def, f.Usage)
		})
	}
	return fs
}

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := newFlags(&o, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	names, err := parseScenarios(o.scenarios)
	if err != nil {
		return err
	}
	switch {
	case o.duration <= 0:
		return errors.New("--duration must be positive")
	case o.warmup < 0:
		return errors.New("--warmup must not be negative")
	case o.conns < 1 || o.conns > 10000:
		return errors.New("--conns must be between 1 and 10000")
	case o.users < 1 || o.users > 100000:
		return errors.New("--connections-users must be between 1 and 100000")
	case o.setupConns < 1 || o.setupConns > 10000:
		return errors.New("--setup-conns must be between 1 and 10000")
	case o.repeat < 1 || o.repeat > 100:
		return errors.New("--repeat must be between 1 and 100")
	case o.scale < 0 || o.exchangeCodes < 0:
		return errors.New("--scale and --exchange-codes must not be negative")
	case o.client != "raw" && o.client != "http":
		return errors.New("--client must be raw or http")
	case o.ceilingMode != "inprocess" && o.ceilingMode != "process":
		return errors.New("--ceiling-mode must be inprocess or process")
	}
	if o.usersList != "" {
		if o.sweep, err = parseSizes(o.usersList); err != nil {
			return err
		}
		if names, err = sweepScenarios(names, o.scenarios); err != nil {
			return err
		}
		switch {
		case o.scale > 0:
			return errors.New("--users and --scale do not go together")
		case explicit(fs, "connections-users"):
			return errors.New("--users replaces --connections-users; give one of them")
		}
		o.users = o.sweep[0]
	}
	if o.perfDir != "" {
		if err := os.MkdirAll(o.perfDir, 0o755); err != nil {
			return err
		}
	}

	work, err := os.MkdirTemp("", "bankgate-bench-*")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(stdout, "keeping %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	rep := &Report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Command: append([]string{"bankgate-bench"}, args...),
		Machine: machine(),
		Store:   "sqlite",
		Config: Settings{Duration: o.duration.String(), Warmup: o.warmup.String(), Conns: o.conns, ConnectionUsers: o.users,
			Users: o.sweep, SetupConns: o.setupConns, Client: o.client, CeilingMode: o.ceilingMode, Scale: o.scale, Repeat: o.repeat},
	}
	if o.databaseURL != "" {
		rep.Store = "postgres"
	}
	fmt.Fprintf(stdout, "bankgate-bench: %d CPUs, %s, store %s, %d conns, warmup %v, %v per scenario, client %s\n",
		rep.Machine.NumCPU, rep.Machine.GoVersion, rep.Store, o.conns, o.warmup, o.duration, o.client)

	runErr := measure(ctx, &o, names, work, rep, stdout)
	if rep.Server != nil {
		if n := logProblems(rep.Server.Log); n != "" {
			rep.Notes = append(rep.Notes, n)
		}
		if !o.keep {
			rep.Server.Log = "" // removed with the temporary directory
		}
	}

	if len(rep.Scenarios) > 0 {
		rep.evaluate()
		fmt.Fprintln(stdout)
		rep.printTable(stdout)
		if o.out != "" {
			b, _ := json.MarshalIndent(rep, "", "  ")
			if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
				return errors.Join(runErr, err)
			}
			fmt.Fprintf(stdout, "wrote %s\n", o.out)
		}
		if o.svg != "" {
			f, err := os.Create(o.svg)
			if err == nil {
				err = rep.writeSVG(f)
				err = errors.Join(err, f.Close())
			}
			if err != nil {
				return errors.Join(runErr, err)
			}
			fmt.Fprintf(stdout, "wrote %s\n", o.svg)
		}
	}
	return runErr
}

// measure runs the scenarios named, --repeat times, and appends their
// results to rep: per scenario the round with the median req/s, with
// every round's figures attached.
func measure(ctx context.Context, o *options, names []string, work string, rep *Report, stdout io.Writer) error {
	wantBankgate := false
	for _, n := range names {
		wantBankgate = wantBankgate || n != "ceiling"
	}
	var (
		b   *bench
		srv *server
	)
	if wantBankgate {
		var stop func()
		var err error
		b, srv, stop, err = setupBankgate(ctx, o, work, rep, stdout)
		if stop != nil {
			defer stop()
		}
		if err != nil {
			return err
		}
	}

	if len(o.sweep) > 0 {
		return measureSweep(ctx, o, names, b, srv, rep, stdout)
	}

	window := (o.warmup + o.duration).Seconds()
	exchangeCodes := o.exchangeCodes
	if exchangeCodes == 0 {
		exchangeCodes = int(min(200000, max(200, math.Ceil(4000*window))))
	}
	mixedCodes := int(min(100000, max(100, math.Ceil(0.05*20000*window))))
	rep.Config.ExchangeCodes, rep.Config.MixedCodes = exchangeCodes, mixedCodes

	rounds := map[string][]*Result{}
	defer func() { rep.Scenarios = append(rep.Scenarios, medians(names, rounds)...) }()
	for round := 1; round <= o.repeat; round++ {
		if o.repeat > 1 {
			fmt.Fprintf(stdout, "round %d of %d\n", round, o.repeat)
		}
		for _, name := range names {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var res *Result
			var err error
			if name == "ceiling" {
				res, err = measureCeiling(ctx, o)
			} else {
				res, err = measureScenario(ctx, o, b, srv, name, exchangeCodes, mixedCodes, stdout)
			}
			if res != nil && res.Requests > 0 {
				// The ratio is taken within the round: the ceiling ran
				// minutes, not hours, before, so that slow spells of a
				// shared machine affect both alike.
				if c := rounds["ceiling"]; name != "ceiling" && len(c) == round && c[round-1].RPS > 0 {
					res.Ratio = res.RPS / c[round-1].RPS
				} else if name == "ceiling" {
					res.Ratio = 1
				}
				rounds[name] = append(rounds[name], res)
				if rep.Server != nil {
					rep.Server.MaxRSSBytes = max(rep.Server.MaxRSSBytes, res.ServerRSSMax)
				}
				fmt.Fprintf(stdout, "%-13s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", res.Name, res.RPS, res.P50Ms, res.P99Ms, res.Errors)
			}
			if err != nil {
				return err
			}
		}
	}

	if o.scale > 0 && len(rounds["balance"]) > 0 {
		fmt.Fprintf(stdout, "scale: adding %d connections with tokens through the API …\n", o.scale)
		t := time.Now()
		if err := b.scale(ctx, o.scale, stdout); err != nil {
			return err
		}
		el := time.Since(t)
		for round := 1; round <= o.repeat; round++ {
			res, err := measureBankgate(ctx, o, b, srv, "balance", "balance+scale", nil)
			if res != nil && res.Requests > 0 {
				if c := median(rounds["ceiling"]); c != nil && c.RPS > 0 {
					res.Ratio = res.RPS / c.RPS
				}
				res.Note = joinNotes(fmt.Sprintf("after adding %d connections+tokens through the API in %.1f s", o.scale, el.Seconds()), res.Note)
				rounds["balance+scale"] = append(rounds["balance+scale"], res)
				rep.Server.MaxRSSBytes = max(rep.Server.MaxRSSBytes, res.ServerRSSMax)
				fmt.Fprintf(stdout, "%-13s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", res.Name, res.RPS, res.P50Ms, res.P99Ms, res.Errors)
			}
			if err != nil {
				return err
			}
		}
		names = append(names, "balance+scale")
		before, after := median(rounds["balance"]), median(rounds["balance+scale"])
		rep.Scale = &Scale{Connections: o.scale, Seconds: el.Seconds(), PerSecond: float64(o.scale) / el.Seconds(),
			BalanceBefore: before.RPS, BalanceAfter: after.RPS, BalanceP99Then: after.P99Ms}
	}
	if srv != nil && !srv.alive() {
		return fmt.Errorf("bankgate exited during the run (%v); its log %s ends:\n%s", srv.exitErr, srv.logPath, tail(srv.logPath, 20))
	}
	return nil
}

// setupBankgate builds and starts bankgate on a fresh store and creates
// the app and the sandbox connections. stop, when not nil, stops the
// server and drops the schema.
func setupBankgate(ctx context.Context, o *options, work string, rep *Report, stdout io.Writer) (b *bench, srv *server, stop func(), err error) {
	var cleanups []func()
	stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	bin := o.bankgateBin
	if bin == "" {
		fmt.Fprintln(stdout, "building bankgate …")
		if bin, err = buildBankgate(ctx, work); err != nil {
			return nil, nil, stop, err
		}
	}
	dataDir := filepath.Join(work, "data")
	dbURL := ""
	info := &Server{Binary: bin, Log: filepath.Join(work, "bankgate.log")}
	rep.Server = info
	if o.keep {
		fmt.Fprintf(stdout, "data dir %s\n", dataDir)
	}
	if o.databaseURL != "" {
		schema, err := createSchema(ctx, o.databaseURL)
		if err != nil {
			return nil, nil, stop, err
		}
		info.DatabaseSchema = schema.name
		dbURL = schema.URL()
		if o.keep {
			fmt.Fprintf(stdout, "keeping schema %s\n", schema.name)
		} else {
			cleanups = append(cleanups, func() {
				if err := schema.drop(); err != nil {
					fmt.Fprintf(stdout, "warning: drop schema %s: %v\n", schema.name, err)
				}
			})
		}
	}
	srv, err = startServer(ctx, bin, dataDir, dbURL, info.Log, o.startTimeout, strings.Fields(o.serverFlags))
	if err != nil {
		return nil, nil, stop, fmt.Errorf("bankgate failed to start: %w", err)
	}
	cleanups = append(cleanups, srv.stop)
	info.StartupMs = ms(srv.startup)
	fmt.Fprintf(stdout, "bankgate pid %d listening on %s, ready %.0f ms after start; log %s\n", srv.pid, srv.addr, info.StartupMs, info.Log)

	t0 := time.Now()
	app, err := createApp(ctx, bin, dataDir, dbURL)
	if err != nil {
		return nil, srv, stop, err
	}
	info.AppCreateMs = ms(time.Since(t0))
	b = &bench{addr: srv.addr, app: app, conns: o.conns, setupConns: o.setupConns}
	t0 = time.Now()
	if err := b.addUsers(ctx, o.users, setupProgress(stdout, t0)); err != nil {
		return nil, srv, stop, fmt.Errorf("set up sandbox connections: %w", err)
	}
	info.SetupMs = ms(time.Since(t0))
	fmt.Fprintf(stdout, "created app %q and %d sandbox connections with tokens in %.0f ms\n", app.Name, o.users, info.SetupMs)
	return b, srv, stop, nil
}

// measureScenario prepares and measures one bankgate scenario.
func measureScenario(ctx context.Context, o *options, b *bench, srv *server, name string, exchangeCodes, mixedCodes int, stdout io.Writer) (*Result, error) {
	var pool *codePool
	note := ""
	switch name {
	case "exchange", "mixed":
		n := exchangeCodes
		if name == "mixed" {
			n = mixedCodes
		}
		t := time.Now()
		p, err := b.newCodePool(ctx, n, fmt.Sprintf("%s_code_%d", name, b.logins.Load()))
		if err != nil {
			return nil, err
		}
		pool = p
		el := time.Since(t)
		note = fmt.Sprintf("%d fresh access codes made by Connect logins before the window (%.1f s, %.0f logins/s)", n, el.Seconds(), float64(n)/el.Seconds())
		fmt.Fprintf(stdout, "%s: %s\n", name, note)
	case "balance", "transactions":
		r := b.users[0].balance
		if name == "transactions" {
			r = b.users[0].transactions
		}
		if status, body, err := probe(srv.addr, r); err != nil || status/100 != 2 {
			if err != nil {
				body = err.Error()
			}
			fmt.Fprintf(stdout, "warning: %s answers HTTP %d: %.160s; measuring anyway\n", name, status, strings.TrimSpace(body))
		}
	}
	res, err := measureBankgate(ctx, o, b, srv, name, name, pool)
	if res != nil {
		res.Note = joinNotes(note, res.Note)
	}
	if pool != nil {
		b.tokens.Add(min(pool.next.Load(), int64(len(pool.reqs))))
	}
	return res, err
}

// median returns the round with the median req/s (the lower middle one
// of an even count).
func median(rs []*Result) *Result {
	if len(rs) == 0 {
		return nil
	}
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b *Result) int { return cmp.Compare(a.RPS, b.RPS) })
	return s[(len(s)-1)/2]
}

// medians returns, for each name, its median round with every round's
// figures attached when there was more than one, and as its ratio to the
// ceiling the median of the rounds' ratios.
func medians(names []string, rounds map[string][]*Result) []*Result {
	var out []*Result
	for _, n := range names {
		rs := rounds[n]
		m := median(rs)
		if m == nil {
			continue
		}
		if len(rs) > 1 {
			var ratios []float64
			for _, r := range rs {
				m.Rounds = append(m.Rounds, Round{RPS: r.RPS, P99Ms: r.P99Ms, Errors: r.Errors, Ratio: r.Ratio})
				ratios = append(ratios, r.Ratio)
			}
			slices.Sort(ratios)
			m.Ratio = ratios[(len(ratios)-1)/2]
		}
		out = append(out, m)
	}
	return out
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// cpuSnap is the CPU counters at one instant.
type cpuSnap struct {
	self, server, busy, steal, total time.Duration
}

func snapCPU(pid int) cpuSnap {
	s := cpuSnap{self: selfCPU()}
	if pid > 0 {
		s.server = procCPU(pid)
	}
	s.busy, s.steal, s.total = machineCPU()
	return s
}

// fill computes the per-request and machine CPU figures of res from the
// snapshots around its window.
func (res *Result) fill(lr *loadResult, a, z cpuSnap, hasServer bool) {
	res.Requests, res.Errors, res.Seconds = lr.requests, lr.errors, lr.elapsed.Seconds()
	if len(lr.errKinds) > 0 {
		res.Kinds = lr.errKinds
	}
	if res.Seconds > 0 {
		res.RPS = float64(res.Requests) / res.Seconds
	}
	res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs = ms(lr.hist.quantile(0.50)), ms(lr.hist.quantile(0.90)), ms(lr.hist.quantile(0.99)), ms(lr.hist.max)
	if res.Requests > 0 {
		res.GenCPUus = float64(z.self-a.self) / float64(time.Microsecond) / float64(res.Requests)
		if hasServer {
			res.ServerCPUus = float64(z.server-a.server) / float64(time.Microsecond) / float64(res.Requests)
		}
	}
	if total := z.total - a.total; total > 0 {
		busy := z.busy - a.busy
		res.MachineBusy = 100 * float64(busy) / float64(total)
		other := busy - (z.self - a.self) - (z.server - a.server)
		res.Other = max(0, 100*float64(other)/float64(total))
		res.Steal = 100 * float64(z.steal-a.steal) / float64(total)
	}
	res.Note = lr.endedWhy
}

// measureCeiling serves the bare handler and drives it with a balance-like
// request.
func measureCeiling(ctx context.Context, o *options) (*Result, error) {
	start := startCeilingInProcess
	if o.ceilingMode == "process" {
		start = startCeilingProcess
	}
	c, err := start()
	if err != nil {
		return nil, err
	}
	defer c.stop()
	busyNote := waitQuiet(ctx, o, c.pid)
	req := &request{path: "/v2/data/balance/get", auth: "bgat_" + strings.Repeat("x", 43), body: mustJSON(map[string]string{
		"appSecret": "bgas_" + strings.Repeat("x", 43), "userSecret": "bgus_" + strings.Repeat("x", 43), "accountID": strings.Repeat("x", 32)})}
	var rss *rssSampler
	if c.pid > 0 {
		rss = sampleRSS(c.pid, 100*time.Millisecond)
	}
	var a, z cpuSnap
	lr := runLoad(ctx, loadSpec{addr: c.addr, client: o.client, conns: o.conns, warmup: o.warmup, duration: o.duration,
		newGen: func(int) generator { return func() (*request, error) { return req, nil } },
		onPhase: func(m bool) {
			if m {
				a = snapCPU(c.pid)
			} else {
				z = snapCPU(c.pid)
			}
		}})
	res := &Result{Name: "ceiling"}
	res.fill(lr, a, z, c.pid > 0)
	if rss != nil {
		res.ServerRSSMax = rss.Max()
	}
	if c.pid == 0 {
		res.Note = joinNotes("in-process: bench µs/req is the load generator and the handler together", res.Note)
	}
	res.Note = joinNotes(res.Note, busyNote)
	return res, ctx.Err()
}

// measureBankgate drives one scenario against the server and names the
// result label.
func measureBankgate(ctx context.Context, o *options, b *bench, srv *server, scenario, label string, pool *codePool) (*Result, error) {
	busyNote := waitQuiet(ctx, o, srv.pid)
	res := &Result{Name: label, ConnectionsBefore: b.logins.Load()}
	rss := sampleRSS(srv.pid, 100*time.Millisecond)
	var a, z cpuSnap
	var prof *perfRecorder
	var profErr error
	lr := runLoad(ctx, loadSpec{addr: srv.addr, client: o.client, conns: o.conns, warmup: o.warmup, duration: o.duration,
		newGen: b.generator(scenario, pool),
		onPhase: func(m bool) {
			if m {
				if o.perfDir != "" {
					prof, profErr = startPerf(srv.pid, o.perfDir, strings.ReplaceAll(label, "+", "_"), o.duration)
				}
				a = snapCPU(srv.pid)
			} else {
				z = snapCPU(srv.pid)
			}
		}})
	res.fill(lr, a, z, true)
	res.Note = joinNotes(res.Note, busyNote)
	res.ServerRSSMax = rss.Max()
	if prof != nil {
		res.Profile, profErr = prof.finish()
	}
	if profErr != nil {
		res.Note = joinNotes(res.Note, "profile: "+profErr.Error())
	}
	if !srv.alive() {
		return res, fmt.Errorf("bankgate exited during %s (%v); its log %s ends:\n%s", label, srv.exitErr, srv.logPath, tail(srv.logPath, 20))
	}
	if lr.poolEmpty && lr.elapsed == 0 {
		return res, fmt.Errorf("%s: %s; raise --exchange-codes", label, lr.endedWhy)
	}
	return res, ctx.Err()
}

func machine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// waitQuiet waits up to o.waitIdle for a second in which processes other
// than this one and pid used under 10% of the machine's CPU. It returns a
// note when it gave up, and "" when quiet or not asked to wait.
func waitQuiet(ctx context.Context, o *options, pid int) string {
	if o.waitIdle <= 0 {
		return ""
	}
	deadline := time.Now().Add(o.waitIdle)
	other := 0.0
	for ctx.Err() == nil {
		a := snapCPU(pid)
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(time.Second):
		}
		z := snapCPU(pid)
		if total := z.total - a.total; total > 0 {
			other = 100 * float64(z.busy-a.busy-(z.self-a.self)-(z.server-a.server)) / float64(total)
			if other < 10 {
				return ""
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	return fmt.Sprintf("other processes were using %.0f%% of the CPUs when the scenario started (waited %v for quiet)", other, o.waitIdle)
}

// logProblems summarizes the warnings and errors bankgate logged (it runs
// with --log-level warn), or returns "".
func logProblems(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	n, first := 0, ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			if n == 0 {
				first = line
				if len(first) > 300 {
					first = first[:300] + "…"
				}
			}
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("bankgate logged %d warnings or errors; the first: %s", n, first)
}
