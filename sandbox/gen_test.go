package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/google/go-cmp/cmp"
)

// genTimes are the clock readings the generated data is checked at: before
// epoch, month boundaries on either side, a leap day, today, the future,
// and past the last generated month.
var genTimes = []time.Time{
	epoch.Add(-time.Hour),
	epoch,
	time.Date(2023, time.January, 31, 23, 59, 59, 0, time.UTC),
	time.Date(2023, time.February, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2024, time.February, 29, 12, 30, 0, 500, time.UTC),
	time.Date(2025, time.June, 30, 23, 59, 59, 999999999, time.UTC),
	time.Date(2025, time.July, 1, 0, 0, 0, 0, time.UTC),
	testNow,
	time.Date(2026, time.December, 4, 9, 15, 0, 0, time.UTC),
	time.Date(2031, time.March, 27, 14, 0, 0, 0, time.UTC),
	time.Date(2073, time.January, 1, 0, 0, 0, 0, time.UTC),
}

// genUsers returns a sample of generated users: the well-known names and
// n others, at every sandbox bank.
// newProfile generates the profile of user at bank bi, without the cache
// (genCache.ledger generates one with its handle).
func newProfile(bi *bankInfo, user string) *profile { return &generate(bi, user).p }

func genUsers(n int) []genKey {
	var keys []genKey
	for i, bi := range bankInfos {
		for _, u := range []string{UserGood, UserEmpty, UserDataMFA} {
			keys = append(keys, genKey{bi.bank.ID, u})
		}
		for j := range n {
			keys = append(keys, genKey{bi.bank.ID, "gen" + strconv.Itoa(i*n+j)})
		}
	}
	return keys
}

// monthStart returns the first instant of t's month.
func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// checkAgainstRef compares what l reports at now with the reference
// generator's answers.
func checkAgainstRef(t *testing.T, name string, l *ledger, ref *refLedger, now time.Time) {
	t.Helper()
	ref.upTo(now)
	p := l.p
	for i := range p.books {
		if got, want := l.balanceAt(i, now), ref.balanceAt(i, now); got != want {
			t.Errorf("%s book %d balance at %v = %d, want %d", name, i, now, got, want)
		}
		// This month, the last one, a range across a month boundary and
		// a range of a year.
		ms := monthStart(now)
		for _, r := range [][2]time.Time{
			{ms, now},
			{ms.AddDate(0, -1, 0), ms.Add(-time.Nanosecond)},
			{ms.AddDate(0, -1, 10), now},
			{now.AddDate(-1, 0, 0), now},
			{now.Add(time.Hour), now}, // empty
		} {
			from, to := r[0], r[1]
			got, before := l.between(i, from, to)
			want := ref.between(i, from, to)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s book %d between %v and %v (-want +got):\n%s", name, i, from, to, diff)
			}
			if want := ref.balanceAt(i, from.Add(-time.Nanosecond)); before != want {
				t.Errorf("%s book %d balance before %v = %d, want %d", name, i, from, before, want)
			}
		}
	}
	if m := monthIndex(now); m >= 0 {
		for ci := range p.cards {
			if got, want := l.statement(ci, m), ref.stmts[ci][m]; got != want {
				t.Errorf("%s card %d statement of month %d = %+v, want %+v", name, ci, m, got, want)
			}
		}
	}
}

// TestGeneratedMatchesReference checks that the checkpointed generator
// reports, for a sample of users, banks and dates, exactly what the
// generator that kept whole ledgers did: balances, transactions (texts,
// references, before and after amounts), statements. Each reading is
// checked on a cold cache, on one warm cache read in time order (the clock
// moving forward), and on a cache so small it keeps one user.
func TestGeneratedMatchesReference(t *testing.T) {
	t.Parallel() // CPU-bound and independent: uses both cores
	keys := genUsers(2)
	if testing.Short() {
		// One user of each bank's four (good, empty, MFA, generated),
		// another kind at the next bank; CI checks them all.
		keys = nil
		for i, k := range genUsers(1) {
			if bank, kind := i/4, i%4; kind == bank%4 {
				keys = append(keys, k)
			}
		}
	}
	times := genTimes
	if testing.Short() {
		// Before the epoch, a leap day, now and far ahead.
		times = []time.Time{genTimes[0], genTimes[4], genTimes[7], genTimes[10]}
	}
	warm := newGenCache(1 << 30)
	tiny := newGenCache(1)
	for _, k := range keys {
		bi := bankByID[k.bank]
		ref := newRefLedger(newProfile(bi, k.user))
		wl := warm.ledger(bi, k.user)
		for _, now := range times {
			name := k.bank + "/" + k.user
			checkAgainstRef(t, name+" cold", newGenCache(1<<30).ledger(bi, k.user), ref, now)
			checkAgainstRef(t, name+" warm", wl, ref, now)
			checkAgainstRef(t, name+" tiny", tiny.ledger(bi, k.user), ref, now)
		}
		// And the clock moving back.
		checkAgainstRef(t, k.bank+"/"+k.user+" back", wl, ref, testNow)
		if t.Failed() {
			return
		}
	}
}

// TestGeneratedColdEqualsWarm checks every day of a year, hour by hour
// near month boundaries, on a warm ledger against cold ones.
func TestGeneratedColdEqualsWarm(t *testing.T) {
	bi := bankByID[enbd]
	warm := newGenCache(1<<30).ledger(bi, UserGood)
	step := 1
	if testing.Short() {
		step = 7 // CI checks every day
	}
	for d := 0; d < 400; d += step {
		now := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(d)*24*time.Hour + time.Duration(d%24)*time.Hour)
		cold := newGenCache(1<<30).ledger(bi, UserGood)
		for i := range warm.p.books {
			w, c := warm.balanceAt(i, now), cold.balanceAt(i, now)
			if w != c {
				t.Fatalf("book %d at %v: warm %d, cold %d", i, now, w, c)
			}
		}
		// This month's and last month's (which a warm user plays from
		// the opening it keeps for the month before the hot one).
		lastMonth := monthStart(now).AddDate(0, -1, 0)
		for _, r := range [][2]time.Time{{monthStart(now), now}, {lastMonth, monthStart(now).Add(-time.Nanosecond)}} {
			cold = newGenCache(1<<30).ledger(bi, UserGood)
			for i := range warm.p.books {
				wt, wb := warm.between(i, r[0], r[1])
				ct, cb := cold.between(i, r[0], r[1])
				if wb != cb {
					t.Fatalf("book %d before %v: warm %d, cold %d", i, r[0], wb, cb)
				}
				if diff := cmp.Diff(wt, ct); diff != "" {
					t.Fatalf("book %d from %v (-warm +cold):\n%s", i, r[0], diff)
				}
			}
		}
	}
}

// TestGenCacheBounded checks that the cache keeps its estimate within its
// bytes, and that users evicted read the same data when they come back.
func TestGenCacheBounded(t *testing.T) {
	c := newGenCache(64 << 10)
	hs, want := readUsers(c, "bounded", 200)
	c.mu.Lock()
	n, bytes := c.x.len(), c.bytes
	c.mu.Unlock()
	if n >= 200 || n < 10 || bytes > c.max+8<<10 {
		t.Errorf("cache holds %d entries, %d bytes, for a bound of %d", n, bytes, c.max)
	}
	checkBalances(t, hs, want, "after eviction")
}

// readUsers reads n generated users (prefix0, prefix1, ...) through c
// and returns their ledgers and first books' balances at testNow.
func readUsers(c *genCache, prefix string, n int) ([]*ledger, []bankgate.Money) {
	var hs []*ledger
	var want []bankgate.Money
	for i := range n {
		l := c.ledger(bankByID[enbd], prefix+strconv.Itoa(i))
		hs = append(hs, l)
		want = append(want, l.balanceAt(0, testNow))
	}
	return hs, want
}

// checkBalances checks that the ledgers' first books still read want at
// testNow.
func checkBalances(t *testing.T, hs []*ledger, want []bankgate.Money, when string) {
	t.Helper()
	for i, l := range hs {
		if got := l.balanceAt(0, testNow); got != want[i] {
			t.Errorf("user %d: balance %d %s, want %d", i, got, when, want[i])
		}
	}
}

// TestHotMonthInterval checks the balances a hot month keeps (those at
// the last read's second, and the seconds they hold for) against the
// reference: at and around every posting of the month, read in date
// order, backwards, and jumping about (as apps whose test clocks differ
// read one user), on one warm ledger.
func TestHotMonthInterval(t *testing.T) {
	bi := bankByID[enbd]
	l := newGenCache(1<<30).ledger(bi, UserGood)
	ref := newRefLedger(newProfile(bi, UserGood))
	ms := monthStart(testNow)
	end := ms.AddDate(0, 1, 0).Add(-time.Second)
	ref.upTo(end)
	// Every posting's second, the seconds either side, and the month's
	// first and last.
	s := simPool.Get().(*monthSim)
	m := monthIndex(testNow)
	bal := make([]bankgate.Money, len(l.p.books))
	l.gc.entry(l).open(s, m, bal)
	s.run(l.p, m, bal)
	times := []time.Time{ms, end}
	for j := range s.posts {
		at := time.Unix(s.posts[j].at, 0).UTC()
		times = append(times, at.Add(-time.Second), at, at.Add(time.Second))
	}
	simPool.Put(s)
	if len(times) < 20 {
		t.Fatalf("only %d times in the month", len(times))
	}
	check := func(order string, ts []time.Time) {
		for _, now := range ts {
			if now.Before(ms) || now.After(end) {
				continue
			}
			for i := range l.p.books {
				if got, want := l.balanceAt(i, now), ref.balanceAt(i, now); got != want {
					t.Fatalf("%s: book %d at %v: %d, want %d", order, i, now, got, want)
				}
			}
		}
	}
	check("forward", times)
	back := slices.Clone(times)
	slices.Reverse(back)
	check("backward", back)
	jumps := slices.Clone(times)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(jumps), func(i, j int) { jumps[i], jumps[j] = jumps[j], jumps[i] })
	check("jumping", jumps)
}

// what a Connector with the default cache does, as the clock moves forward.
func TestGenCacheBytesOption(t *testing.T) {
	b1, _ := newTestBank(t)
	b2 := New(Options{CacheUsers: 1, CacheBytes: 1})
	for _, now := range []time.Time{testNow, testNow.AddDate(0, 0, 20), testNow.AddDate(0, 2, 3)} {
		for _, user := range usernames(2) {
			d1 := mustUserData(t, b1, enbd, user, now)
			d2 := mustUserData(t, b2, enbd, user, now)
			if diff := cmp.Diff(d1, d2); diff != "" {
				t.Errorf("%s at %v: (-default +tiny):\n%s", user, now, diff)
			}
		}
	}
	b2.gen.mu.Lock()
	n := b2.gen.x.len()
	b2.gen.mu.Unlock()
	if n != 1 {
		t.Errorf("a cache of 1 byte holds %d users", n)
	}
}

// TestGenCacheConcurrent reads a few users from many goroutines through a
// cache that keeps about one of them, so that entries are made, read and
// evicted at once (run it with -race).
func TestGenCacheConcurrent(t *testing.T) {
	bi := bankByID[enbd]
	users := []string{UserGood, "conc1", "conc2", "conc3"}
	want := map[string][]bankgate.Money{}
	for _, u := range users {
		l := newGenCache(1<<30).ledger(bi, u)
		for _, now := range genTimes[7:10] {
			want[u] = append(want[u], l.balanceAt(0, now))
		}
	}
	c := newGenCache(4 << 10)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 60 {
				u := users[(g+i)%len(users)]
				l := c.ledger(bi, u)
				for j, now := range genTimes[7:10] {
					if got := l.balanceAt(0, now); got != want[u][j] {
						t.Errorf("%s at %v: %d, want %d", u, now, got, want[u][j])
						return
					}
				}
				if txs, _ := l.between(0, monthStart(testNow), testNow); len(txs) == 0 {
					t.Errorf("%s: no transactions", u)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkGeneratedRead reads, for N distinct warm users in turn, a
// balance at the clock and last month's transactions, through a cache big
// enough for the N users (DefaultCacheBytes holds about 50,000). The cost
// per read should not depend on N.
func BenchmarkGeneratedRead(b *testing.B) {
	bi := bankByID[enbd]
	now := time.Date(2026, time.December, 4, 9, 15, 0, 0, time.UTC)
	for _, n := range []int{1, 1000, 100000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			c := newGenCache(max(DefaultCacheBytes, int64(n)*4096))
			hs := make([]*ledger, n)
			for i := range hs {
				hs[i] = c.ledger(bi, "bench"+strconv.Itoa(i))
				hs[i].balanceAt(0, now)
			}
			b.Run("balance", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					hs[i].balanceAt(0, now)
					if i++; i == n {
						i = 0
					}
				}
			})
			b.Run("month", func(b *testing.B) {
				b.ReportAllocs()
				from := monthStart(now).AddDate(0, -1, 0)
				to := monthStart(now).Add(-time.Nanosecond)
				i := 0
				for b.Loop() {
					hs[i].between(0, from, to)
					if i++; i == n {
						i = 0
					}
				}
			})
			c.mu.Lock()
			if c.x.len() != n {
				b.Errorf("N=%d: %d cached", n, c.x.len())
			}
			c.mu.Unlock()
		})
	}
}

// BenchmarkGeneratedColdMiss measures a cache miss: one amounts-only pass
// over the months from epoch to the clock's, plus the hot month. "pass"
// is a user whose profile a state still holds (its entry evicted);
// "new" makes the profile too.
func BenchmarkGeneratedColdMiss(b *testing.B) {
	bi := bankByID[enbd]
	now := time.Date(2026, time.December, 4, 9, 15, 0, 0, time.UTC)
	b.Run("pass", func(b *testing.B) {
		b.ReportAllocs()
		ps := make([]*profile, 1000)
		for i := range ps {
			ps[i] = newProfile(bi, "cold"+strconv.Itoa(i))
		}
		c := newGenCache(1 << 20)
		i := 0
		for b.Loop() {
			c.entry(&ledger{p: ps[i%len(ps)], gc: c}).balanceAt(0, now)
			c.mu.Lock()
			c.x.clear() // the next read of the user misses
			c.bytes = 0
			c.mu.Unlock()
			i++
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		c := newGenCache(1 << 20)
		i := 0
		for b.Loop() {
			c.ledger(bi, "cold"+strconv.Itoa(i)).balanceAt(0, now)
			i++
		}
	})
	b.Run("month", func(b *testing.B) {
		b.ReportAllocs()
		p := newProfile(bi, "cold")
		s := newMonthSim()
		bal := make([]bankgate.Money, len(p.books))
		m := 0
		for b.Loop() {
			s.run(p, m, bal)
			if m++; m == 48 {
				m = 0
				for i, bk := range p.books {
					bal[i] = bk.opening
				}
			}
		}
	})
}

// warmUsers reads n new generated users (every book's balance at now)
// through a cache, and returns it with the heap bytes each took.
func warmUsers(n int, now time.Time) (c *genCache, perUser float64) {
	bi := bankByID[enbd]
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c = newGenCache(DefaultCacheBytes)
	for i := range n {
		l := c.ledger(bi, "mem"+strconv.Itoa(i))
		for bk := range l.p.books {
			l.balanceAt(bk, now)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return c, float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestGenCacheEstimate checks the cache's estimate of its entries' bytes
// against the heap they take.
func TestGenCacheEstimate(t *testing.T) {
	const n = 2000
	c, per := warmUsers(n, time.Date(2026, time.December, 4, 9, 15, 0, 0, time.UTC))
	c.mu.Lock()
	est := float64(c.bytes) / n
	c.mu.Unlock()
	t.Logf("%d users: %.0f heap bytes per cached user; the cache estimates %.0f", n, per, est)
	if per > 4096 {
		t.Errorf("%.0f bytes per cached user", per)
	}
	if est < per*0.7 || est > per*1.5 {
		t.Errorf("estimate %.0f bytes per user, measured %.0f", est, per)
	}
	runtime.KeepAlive(c)
}

// BenchmarkGeneratedMemory reports the heap bytes per cached user
// (profile, checkpoints, hot month) after warming 10,000 users, and the
// cache's estimate of them.
func BenchmarkGeneratedMemory(b *testing.B) {
	const n = 10000
	for b.Loop() {
		c, per := warmUsers(n, time.Date(2026, time.December, 4, 9, 15, 0, 0, time.UTC))
		c.mu.Lock()
		b.ReportMetric(per, "heap-B/user")
		b.ReportMetric(float64(c.bytes)/n, "est-B/user")
		c.mu.Unlock()
	}
}

// BenchmarkNewProfile measures making a generated user's profile, the
// other part of a new user's first read.
func BenchmarkNewProfile(b *testing.B) {
	b.ReportAllocs()
	bi := bankByID[enbd]
	i := 0
	for b.Loop() {
		newProfile(bi, "profile"+strconv.Itoa(i))
		i++
	}
}

// BenchmarkBankBalance reads balances and last month's transactions
// through the Connector for N distinct users in turn, with a state cache big
// enough for them (so that what is measured is the generated data's part,
// not a state's rebuild from the store).
func BenchmarkBankBalance(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, time.December, 4, 9, 15, 0, 0, time.UTC)
	for _, n := range []int{1, 1000, 100000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			if n > 1000 && testing.Short() {
				b.Skip("logs in 100,000 users")
			}
			bk := New(Options{Now: func() time.Time { return now }, CacheUsers: n + 1, CacheBytes: max(DefaultCacheBytes, int64(n)*4096)})
			calls := make([]*bank.Call, n)
			ids := make([]string, n)
			for i := range calls {
				calls[i] = &bank.Call{Session: MustLogin(b, bk, enbd, "bank"+strconv.Itoa(i)), Now: now}
				accts, _, err := bk.Accounts(ctx, calls[i])
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = accts[0].ID
			}
			b.Run("balance", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, _, err := bk.Balance(ctx, calls[i], ids[i]); err != nil {
						b.Fatal(err)
					}
					if i++; i == n {
						i = 0
					}
				}
			})
			b.Run("month", func(b *testing.B) {
				b.ReportAllocs()
				from := monthStart(now).AddDate(0, -1, 0)
				to := monthStart(now).Add(-time.Nanosecond)
				i := 0
				for b.Loop() {
					if _, _, err := bk.Transactions(ctx, calls[i], ids[i], from, to); err != nil {
						b.Fatal(err)
					}
					if i++; i == n {
						i = 0
					}
				}
			})
		})
	}
}

// TestReadCostFlatInUsers: a balance read through the Connector allocates the
// same whether the reads go round 1 user or 2,000 distinct ones (cached:
// no regeneration, no per-user growth), and so does a month of
// transactions; the timing side is BenchmarkBankBalance.
func TestReadCostFlatInUsers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, time.December, 4, 9, 15, 0, 0, time.UTC)
	allocs := func(n int) (balance, month float64) {
		bk := New(Options{Now: func() time.Time { return now }, CacheUsers: n + 1, CacheBytes: DefaultCacheBytes})
		calls := make([]*bank.Call, n)
		ids := make([]string, n)
		for i := range calls {
			calls[i] = &bank.Call{Session: MustLogin(t, bk, enbd, "flat"+strconv.Itoa(i)), Now: now}
			accts, _, err := bk.Accounts(ctx, calls[i])
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = accts[0].ID
		}
		i := 0
		balance = testing.AllocsPerRun(2*n, func() {
			if _, _, err := bk.Balance(ctx, calls[i%n], ids[i%n]); err != nil {
				t.Fatal(err)
			}
			i++
		})
		from, to := monthStart(now).AddDate(0, -1, 0), monthStart(now).Add(-time.Nanosecond)
		month = testing.AllocsPerRun(n, func() {
			if _, _, err := bk.Transactions(ctx, calls[i%n], ids[i%n], from, to); err != nil {
				t.Fatal(err)
			}
			i++
		})
		return balance, month
	}
	n := 2000
	if testing.Short() {
		n = 300 // CI reads 2,000
	}
	b1, m1 := allocs(1)
	bn, mn := allocs(n)
	t.Logf("allocations per read: balance %.1f (1 user) / %.1f (%d users); month %.1f / %.1f", b1, bn, n, m1, mn)
	if bn > b1 {
		t.Errorf("a balance read over %d users allocates %.1f times, over one user %.1f", n, bn, b1)
	}
	// A month's transactions allocate per transaction; users differ in
	// how many they have, so compare per user on average, with room.
	if mn > m1*1.5+2 {
		t.Errorf("a month over %d users allocates %.1f times, over one user %.1f", n, mn, m1)
	}
}

// TestGeneratedObjectSizes: a cached user's two largest objects stay
// within the size Go's collector scans a span at a time (see generated);
// and the account types generated accounts name are accountTypes'.
func TestGeneratedObjectSizes(t *testing.T) {
	for name, size := range map[string]uintptr{"generated": unsafe.Sizeof(generated{}), "books": unsafe.Sizeof([maxBooks]book{})} {
		if size > maxScanObject {
			t.Errorf("%s is %d bytes, over %d", name, size, maxScanObject)
		}
	}
	for ix, want := range map[uint8]string{typeCurrent: "current", typeSavings: "savings", typeCredit: "credit"} {
		if got := (&accountRef{kind: ix}).typ(); got != want {
			t.Errorf("type %d is %q, want %q", ix, got, want)
		}
	}
}

// BenchmarkCollectCachedUsers reports how long a full garbage collection
// takes with 100,000 generated users cached (warmed as reads leave them):
// the collector's share of a server's CPU at 100,000 active users grows
// with it.
func BenchmarkCollectCachedUsers(b *testing.B) {
	c, _ := warmUsers(100000, time.Date(2026, time.December, 4, 9, 15, 0, 0, time.UTC))
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
	runtime.KeepAlive(c)
}

// TestGenCacheHandleEntry checks the entry a handle keeps (ledger.ent):
// a read through a handle whose entry is cached finds that entry without
// the index, and no handle keeps an entry the cache evicted, so that the
// cache's bound still bounds what its handles hold.
func TestGenCacheHandleEntry(t *testing.T) {
	c := newGenCache(64 << 10)
	hs, want := readUsers(c, "handle", 200)
	for round := range 2 {
		c.mu.Lock()
		held := 0
		for i, l := range hs {
			e := l.ent.Load()
			if e == nil {
				continue
			}
			held++
			if e.evicted || e.h != l {
				t.Errorf("round %d: user %d's handle keeps an entry that is evicted (%v) or another's", round, i, e.evicted)
			}
			if f := c.find(c.x.keyHash(genKey{l.p.bank.bank.ID, l.p.user}), l.p.bank.bank.ID, l.p.user); f != e {
				t.Errorf("round %d: user %d's handle keeps an entry the index does not hold", round, i)
			}
		}
		n := c.x.len()
		c.mu.Unlock()
		if held != n || n == 0 || n >= len(hs) {
			t.Errorf("round %d: %d handles keep an entry; the cache holds %d of %d users", round, held, n, len(hs))
		}
		checkBalances(t, hs, want, "read again through the handles")
	}
}
