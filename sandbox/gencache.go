package sandbox

import (
	"encoding/binary"
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
// balances and the detail of one month, so that a balance read costs a
// lookup and a scan of one month's postings, and a month of transactions
// one month generated with strings. Entries are evicted by CLOCK when the
// estimated bytes exceed max; a miss costs one amounts-only pass over the
// months from epoch.
type genCache struct {
	max int64

	mu    sync.Mutex
	m     map[genKey]*genEntry
	ring  []*genEntry // CLOCK order
	hand  int
	bytes int64 // estimated size of the entries in m
}

// genKey names a generated user: a bank ID and a username.
type genKey struct{ bank, user string }

func newGenCache(maxBytes int64) *genCache {
	return &genCache{max: maxBytes, m: make(map[genKey]*genEntry)}
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
	// its first second, its balances as it started, each card's statement
	// due time (seconds into the month), and its postings in date order,
	// each packed by hotPack. hotReplay says a posting did not fit, or that the cache dropped the postings (demote), and
	// reads play the month again instead.
	hotStart int64
	hotOpen  [maxBooks]bankgate.Money
	// prevOpen are the balances as the month before the hot one started
	// (when hot > 0): last month's transactions, the read apps make most
	// after balances, are then played without a replay from a checkpoint.
	prevOpen [maxBooks]bankgate.Money
	hotPosts []uint64
	hotDue   [2]uint32
	hot      int32
	ncp      int32

	ref       atomic.Bool
	evicted   bool
	hotReplay bool
}

// hotPack packs a posting of the hot month: its second in the month (22
// bits), its book (3 bits) and its signed change to the book's balance
// (39 bits, offset by 1<<38). It reports false if the change does not fit.
func hotPack(sec int64, book int8, delta bankgate.Money) (uint64, bool) {
	d := int64(delta) + 1<<38
	if d < 0 || d >= 1<<39 || sec < 0 || sec >= 1<<22 {
		return 0, false
	}
	return uint64(sec)<<42 | uint64(book)<<39 | uint64(d), true
}

// ledger returns the handle of generated user user at bank bi, shared
// with every other state of that user while it is cached.
func (c *genCache) ledger(bi *bankInfo, user string) *ledger {
	key := genKey{bi.bank.ID, user}
	c.mu.Lock()
	e := c.m[key]
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
	key := genKey{l.p.bank.bank.ID, l.p.user}
	c.mu.Lock()
	e := c.m[key]
	c.mu.Unlock()
	if e != nil {
		if !e.ref.Load() {
			e.ref.Store(true)
		}
		return e
	}
	return c.insert(l)
}

// insert adds an entry for h unless one for its user is there, and
// returns the user's entry.
func (c *genCache) insert(h *ledger) *genEntry {
	key := genKey{h.p.bank.bank.ID, h.p.user}
	e := &genEntry{h: h, hot: -1}
	e.ref.Store(true)
	e.size = int64(unsafe.Sizeof(*e)) + entryOverhead + int64(h.p.size())
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[key]; old != nil {
		return old
	}
	c.m[key] = e
	c.ring = append(c.ring, e)
	c.bytes += e.size
	c.evict()
	return e
}

// entryOverhead estimates what an entry costs beyond its own bytes and
// its profile's (which count the handle, allocated with the profile):
// the map slot and the ring slot.
const entryOverhead = 48 + 8

// evict drops entries by CLOCK until the cache is within its bytes or
// holds one entry. The caller holds c.mu.
func (c *genCache) evict() {
	for c.bytes > c.max && len(c.ring) > 1 {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		v := c.ring[c.hand]
		if v.ref.Load() {
			v.ref.Store(false)
			c.hand++
			continue
		}
		// An entry not read since the hand last passed first loses its
		// hot month's postings (its balances are then read by playing
		// the month, a few µs), and only if it is still unread when the
		// hand comes round again, the rest.
		if v.mu.TryLock() {
			freed := v.demote()
			v.mu.Unlock()
			if freed > 0 {
				v.size -= freed
				c.bytes -= freed
				c.hand++
				continue
			}
		}
		delete(c.m, genKey{v.h.p.bank.bank.ID, v.h.p.user})
		c.bytes -= v.size
		v.evicted = true
		last := len(c.ring) - 1
		c.ring[c.hand] = c.ring[last]
		c.ring[last] = nil
		c.ring = c.ring[:last]
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

// demote drops e's hot month's postings, keeping its opening balances,
// and returns the bytes freed. The caller holds e.mu.
func (e *genEntry) demote() int64 {
	if e.hotPosts == nil {
		return 0
	}
	freed := int64(8 * cap(e.hotPosts))
	e.hotPosts, e.hotReplay = nil, true
	return freed
}

// dataBytes returns the bytes of e's slices. The caller holds e.mu.
func (e *genEntry) dataBytes() int64 {
	return int64(cap(e.cps) + 8*cap(e.hotPosts))
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

// setHot makes m (0 <= m < maxMonths) the hot month. The caller holds
// e.mu.
func (e *genEntry) setHot(m int) {
	if int(e.hot) == m {
		return
	}
	p := e.h.p
	nb := len(p.books)
	s := simPool.Get().(*monthSim)
	defer simPool.Put(s)
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
	e.hot, e.hotStart, e.hotReplay = int32(m), s.start, false
	for ci, due := range s.due {
		e.hotDue[ci] = uint32(due - s.start)
	}
	size := e.dataBytes()
	if cap(e.hotPosts) < len(s.posts) {
		e.hotPosts = make([]uint64, 0, len(s.posts))
	}
	e.hotPosts = e.hotPosts[:0]
	for i := range s.posts {
		ps := &s.posts[i]
		delta := ps.amount
		if ps.debit {
			delta = -delta
		}
		x, ok := hotPack(ps.at-s.start, ps.book, delta)
		if !ok {
			e.hotPosts, e.hotReplay = nil, true
			break
		}
		e.hotPosts = append(e.hotPosts, x)
	}
	e.h.gc.grew(e, e.dataBytes()-size)
}

// balanceAt returns book i's generated balance at t.
func (e *genEntry) balanceAt(i int, t time.Time) bankgate.Money {
	m := monthIndex(t)
	if m < 0 {
		return e.h.p.books[i].opening
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setHot(m)
	bal := e.hotOpen[i]
	if e.hotReplay {
		return e.replayBalance(i, t, bal)
	}
	off := uint64(max(t.Unix()-e.hotStart, -1) + 1) // seconds into the month, plus one
	for _, x := range e.hotPosts {
		if x>>42 >= off {
			break
		}
		if int(x>>39&7) == i {
			bal += bankgate.Money(int64(x&(1<<39-1)) - 1<<38)
		}
	}
	return bal
}

// replayBalance returns book i's balance at t, in the hot month, by
// playing the month from its opening balance bal. The caller holds e.mu.
func (e *genEntry) replayBalance(i int, t time.Time, bal bankgate.Money) bankgate.Money {
	p := e.h.p
	s := simPool.Get().(*monthSim)
	defer simPool.Put(s)
	var buf [maxBooks]bankgate.Money
	s.run(p, int(e.hot), buf[:copy(buf[:], e.hotOpen[:len(p.books)])])
	for j := range s.posts {
		if ps := &s.posts[j]; ps.at > t.Unix() {
			break
		} else if int(ps.book) == i {
			bal = ps.after
		}
	}
	return bal
}

// statement returns card ci's statement of month m (0 <= m < maxMonths).
func (e *genEntry) statement(ci, m int) statement {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setHot(m)
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
