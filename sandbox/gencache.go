package sandbox

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/bankgate/bankgate"
)

// cpEvery is how many months apart the balance checkpoints of a generated
// user are. A read of a month that is not the user's hot month (a past
// month's transactions) replays at most cpEvery-1 months, amounts only,
// from the checkpoint before it; fewer checkpoints keep entries smaller.
const cpEvery = 3

// genCache is a Connector's memory-bounded cache of generated users' data,
// shared by every state (and every app) that reads the same user at the
// same bank. Each entry holds the user's profile, checkpoints of the
// balances, the balances as the hot month starts and those at the last
// read's second, so that a balance read at about the same time costs a
// lookup and a comparison, one elsewhere in the month one month played
// amounts only, and a month of transactions one month generated with
// strings. Entries are evicted by CLOCK when the
// estimated bytes exceed max; a miss costs one amounts-only pass over the
// months from epoch.
type genCache struct {
	max int64

	mu    sync.Mutex
	x     clockIndex[genKey, genEntry]
	bytes int64 // estimated size of the entries indexed
}

// genKey names a generated user: a bank ID and a username.
type genKey struct{ bank, user string }

func newGenCache(maxBytes int64) *genCache {
	return &genCache{max: maxBytes, x: newClockIndex[genKey, genEntry]()}
}

// find returns the entry of user at bank, or nil. The caller holds c.mu.
func (c *genCache) find(h uint64, bank, user string) *genEntry {
	if e := c.x.find(h); e != nil && e.h.p.user == user && e.h.p.bank.bank.ID == bank {
		return e
	}
	return nil
}

// maxBooks bounds the books of a generated user: a current account,
// savings, a second current account and two cards.
const maxBooks = 5

// genEntry is one generated user's cached data.
type genEntry struct {
	h *ledger // the handle states hold; h.p is the profile
	// size is the entry's estimated bytes as counted in the cache, and
	// evicted whether it has left it; both guarded by genCache.mu.
	size int64

	mu sync.Mutex
	// cps are the balances at the start of months cpEvery, 2*cpEvery,
	// ... (ncp of them; month 0's are the openings), one per book each,
	// as zigzag varints of the change from the checkpoint before.
	cps []byte
	// The hot month (-1 for none), the one balances were last read in:
	// its first second, its balances as it started and each card's
	// statement due time (seconds into the month).
	hotStart int64
	hotOpen  [maxBooks]bankgate.Money
	// prevOpen are the balances as the month before the hot one started
	// (when hot > 0): last month's transactions, the read apps make most
	// after balances, are then played without a replay from a checkpoint.
	prevOpen [maxBooks]bankgate.Money
	// cur are the balances the last read found in the hot month: every
	// book's after the postings up to its second. They hold for every
	// second in [curLo, curHi), from that read's last posting to the next
	// (curLo >= curHi: none held). A user's postings are a day or more
	// apart, so a read at the time now finds them: a read costs a
	// comparison and no postings are kept; one outside plays the month
	// again (a few µs) and moves the interval.
	curBal [maxBooks]bankgate.Money
	curLo  int64
	curHi  int64
	hotDue [2]uint32
	hot    int32
	ncp    int32

	ref     atomic.Bool
	evicted bool
}

// ledger returns the handle of generated user user at bank bi, shared
// with every other state of that user while it is cached.
func (c *genCache) ledger(bi *bankInfo, user string) *ledger {
	h := c.x.keyHash(genKey{bi.bank.ID, user})
	c.mu.Lock()
	e := c.find(h, bi.bank.ID, user)
	c.mu.Unlock()
	if e != nil {
		e.ref.Store(true)
		return e.h
	}
	g := generate(bi, user)
	g.l = ledger{p: &g.p, gc: c}
	return c.insert(&g.l).h
}

// entry returns l's cached data, making it again (from l's profile) if
// it was evicted.
func (c *genCache) entry(l *ledger) *genEntry {
	e := l.ent.Load()
	if e == nil {
		h := c.x.keyHash(genKey{l.p.bank.bank.ID, l.p.user})
		c.mu.Lock()
		e = c.find(h, l.p.bank.bank.ID, l.p.user)
		c.own(e)
		c.mu.Unlock()
		if e == nil {
			return c.insert(l)
		}
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

// insert adds an entry for h unless one for its user is there, and
// returns the user's entry. In the rare case that another user's key
// has the same hash, the entry returned is not cached (it stays valid
// for whoever holds it, as an evicted one does).
func (c *genCache) insert(h *ledger) *genEntry {
	bank, user := h.p.bank.bank.ID, h.p.user
	hk := c.x.keyHash(genKey{bank, user})
	e := &genEntry{h: h, hot: -1}
	e.ref.Store(true)
	e.size = int64(unsafe.Sizeof(*e)) + entryOverhead + int64(h.p.size())
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.find(hk, bank, user); old != nil {
		c.own(old)
		return old
	}
	if !c.x.add(hk, e) {
		e.evicted = true
		return e
	}
	c.bytes += e.size
	c.own(e)
	c.evict()
	return e
}

// own lets e's handle find e without the index (see ledger.ent), when e
// (nil: none) is cached. Another handle of the same user (made while e's
// was evicted) still finds e through the index: only e.h is cleared when
// e is evicted. The caller holds c.mu.
func (c *genCache) own(e *genEntry) {
	if e != nil && !e.evicted && e.h.ent.Load() != e {
		e.h.ent.Store(e)
	}
}

// entryOverhead estimates what an entry costs beyond its own bytes and
// its profile's (which count the handle, allocated with the profile):
// the index's map slot, ring slot and hash.
const entryOverhead = 16 + 8 + 8

// evict drops entries by CLOCK until the cache is within its bytes or
// holds one entry. The caller holds c.mu.
func (c *genCache) evict() {
	for c.bytes > c.max && c.x.len() > 1 {
		v := c.x.evict(func(e *genEntry) *atomic.Bool { return &e.ref })
		c.bytes -= v.size
		v.evicted = true
		v.h.ent.CompareAndSwap(v, nil)
	}
}

// grew counts d more bytes for e, which grew. The caller holds e.mu.
func (c *genCache) grew(e *genEntry, d int64) {
	if d == 0 {
		return
	}
	c.mu.Lock()
	if !e.evicted {
		e.size += d
		c.bytes += d
	}
	c.mu.Unlock()
}

// dataBytes returns the bytes of e's slices. The caller holds e.mu.
func (e *genEntry) dataBytes() int64 {
	return int64(cap(e.cps))
}

// open sets bal (one per book) to the balances as month m (0 <= m <
// maxMonths) starts, extending the checkpoints as needed. The caller holds
// e.mu.
func (e *genEntry) open(s *monthSim, m int, bal []bankgate.Money) {
	p := e.h.p
	if len(p.books) == 0 {
		return
	}
	for i, bk := range p.books {
		bal[i] = bk.opening
	}
	k := m / cpEvery
	// Decode the checkpoints up to k.
	buf := e.cps
	for range min(k, int(e.ncp)) {
		for i := range bal {
			d, n := binary.Varint(buf)
			bal[i] += bankgate.Money(d)
			buf = buf[n:]
		}
	}
	if have := int(e.ncp); have < k {
		// Play the months to checkpoint k, appending the checkpoints in
		// one new allocation.
		var tmp [maxBooks * binary.MaxVarintLen64 * 8]byte
		add := tmp[:0]
		var prev [maxBooks]bankgate.Money
		for ; have < k; have++ {
			copy(prev[:], bal)
			for mm := have * cpEvery; mm < (have+1)*cpEvery; mm++ {
				s.run(p, mm, bal)
			}
			for i := range bal {
				add = binary.AppendVarint(add, int64(bal[i]-prev[i]))
			}
			if len(add) > len(tmp)-maxBooks*binary.MaxVarintLen64 || have+1 == k {
				size := e.dataBytes()
				cps := make([]byte, len(e.cps)+len(add))
				copy(cps[copy(cps, e.cps):], add)
				e.cps, e.ncp = cps, int32(have+1)
				add = tmp[:0]
				e.h.gc.grew(e, e.dataBytes()-size)
			}
		}
	}
	for mm := k * cpEvery; mm < m; mm++ {
		s.run(p, mm, bal)
	}
}

// setHot makes m (0 <= m < maxMonths) the hot month, using s. It
// reports whether it did, having played month m in s (its postings are
// then s.posts, from the month's opening balances); when m was already
// hot it does nothing. The caller holds e.mu.
func (e *genEntry) setHot(s *monthSim, m int) bool {
	if int(e.hot) == m {
		return false
	}
	p := e.h.p
	nb := len(p.books)
	if m > 0 {
		e.open(s, m-1, e.prevOpen[:nb])
		copy(e.hotOpen[:nb], e.prevOpen[:nb])
		s.run(p, m-1, e.hotOpen[:nb])
	} else {
		e.open(s, m, e.hotOpen[:nb])
	}
	var buf [maxBooks]bankgate.Money
	bal := buf[:copy(buf[:], e.hotOpen[:nb])]
	s.run(p, m, bal)
	e.hot, e.hotStart = int32(m), s.start
	e.curLo, e.curHi = 0, 0
	for ci, due := range s.due {
		e.hotDue[ci] = uint32(due - s.start)
	}
	return true
}

// balanceAt returns book i's generated balance at t.
func (e *genEntry) balanceAt(i int, t time.Time) bankgate.Money {
	m := monthIndex(t)
	if m < 0 {
		return e.h.p.books[i].opening
	}
	ts := t.Unix()
	e.mu.Lock()
	defer e.mu.Unlock()
	if int(e.hot) != m || ts < e.curLo || ts >= e.curHi {
		e.locate(m, ts)
	}
	return e.curBal[i]
}

// locate makes m the hot month and sets the balances at second ts of it
// (every book's after the postings at or before ts), with the interval
// they hold for. The caller holds e.mu.
func (e *genEntry) locate(m int, ts int64) {
	p := e.h.p
	nb := len(p.books)
	s := simPool.Get().(*monthSim)
	defer simPool.Put(s)
	if !e.setHot(s, m) {
		var buf [maxBooks]bankgate.Money
		s.run(p, m, buf[:copy(buf[:], e.hotOpen[:nb])])
	}
	copy(e.curBal[:nb], e.hotOpen[:nb])
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	for j := range s.posts {
		ps := &s.posts[j]
		if ps.at > ts {
			hi = ps.at
			break
		}
		e.curBal[ps.book] = ps.after
		lo = ps.at
	}
	e.curLo, e.curHi = lo, hi
}

// statement returns card ci's statement of month m (0 <= m < maxMonths).
func (e *genEntry) statement(ci, m int) statement {
	e.mu.Lock()
	defer e.mu.Unlock()
	if int(e.hot) != m {
		s := simPool.Get().(*monthSim)
		e.setHot(s, m)
		simPool.Put(s)
	}
	b := e.h.p.cards[ci]
	return statement{amount: max(-e.hotOpen[b], 0), due: time.Unix(e.hotStart+int64(e.hotDue[ci]), 0).UTC()}
}

// between returns book i's generated transactions dated in [from, to],
// and its balance just before from. It generates, with strings, only the
// months the range covers.
func (e *genEntry) between(i int, from, to time.Time) ([]bankgate.Transaction, bankgate.Money) {
	p := e.h.p
	mf, mt := max(monthIndex(from), 0), monthIndex(to)
	if mt < 0 {
		return []bankgate.Transaction{}, p.books[i].opening
	}
	if mf > mt {
		return []bankgate.Transaction{}, e.balanceAt(i, from.Add(-time.Nanosecond))
	}
	lo, hi := from.Unix(), to.Unix() // whole seconds in [from, to]
	if from.Nanosecond() > 0 {
		lo++
	}
	s := simPool.Get().(*monthSim)
	defer simPool.Put(s)
	var buf [maxBooks]bankgate.Money
	bal := buf[:len(p.books)]
	e.mu.Lock()
	if e.hot > 0 && mf == int(e.hot)-1 {
		copy(bal, e.prevOpen[:len(bal)])
	} else {
		e.open(s, mf, bal)
	}
	e.mu.Unlock()
	before := bal[i]
	out := []bankgate.Transaction{}
	for m := mf; m <= mt; m++ {
		s.run(p, m, bal)
		if m == mf {
			for j := range s.posts {
				if ps := &s.posts[j]; int(ps.book) == i && ps.at < lo {
					before = ps.after
				}
			}
		}
		out = s.transactions(p, i, lo, hi, out)
	}
	return out, before
}
