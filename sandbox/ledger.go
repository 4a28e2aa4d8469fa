package sandbox

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bankgate/bankgate"
)

// Every generated ledger starts at epoch with a deterministic opening
// balance and follows a calendar schedule, so that what happened on a given
// date does not depend on when it is looked at. Any clock reading from
// 2024-01-01 on therefore sees at least 12 months of history.
var epoch = time.Date(2023, time.January, 1, 0, 0, 0, 0, time.UTC)

// maxMonths bounds how far past epoch ledgers are generated (50 years); a
// later clock sees no newer transactions.
const maxMonths = 50 * 12

// monthIndex returns the number of whole months from epoch to t's month,
// negative before epoch and capped at maxMonths-1.
func monthIndex(t time.Time) int {
	t = t.UTC()
	return min((t.Year()-epoch.Year())*12+int(t.Month())-1, maxMonths-1)
}

// statement is what a card owed at the start of a month and when it is
// paid.
type statement struct {
	amount bankgate.Money
	due    time.Time
}

// ledger is the base data of one user, before the user's events: the
// profile, and either the Connector's cache of generated data (gc, for a
// generated user) or every transaction (txs, for a fixture). A generated
// user's ledger is a small handle shared by every state of that user at
// that bank; what a read needs is derived from checkpoints kept in gc, so
// that its cost does not depend on how many users are active.
type ledger struct {
	p  *profile
	gc *genCache // generated users; nil for a fixture
	// ent is this handle's entry in gc while it is cached there (set and
	// cleared under gc.mu, read without it): a read finds its entry
	// without hashing the user's key or taking the cache's lock. An
	// entry is evicted and ent cleared together, so a handle never keeps
	// an entry the cache no longer counts.
	ent atomic.Pointer[genEntry]

	// Fixtures: every transaction per book, oldest first, chained from
	// the opening balances; through is maxMonths-1 (nothing to generate)
	// and bal the balances after the last transaction.
	through int
	txs     [][]bankgate.Transaction
	bal     []bankgate.Money
}

// balanceAt returns book i's balance at t: the balance after the last
// transaction dated at or before t.
func (l *ledger) balanceAt(i int, t time.Time) bankgate.Money {
	if l.gc == nil {
		txs := l.txs[i]
		n := countUpTo(txs, t)
		if n == 0 {
			return l.p.books[i].opening
		}
		return txs[n-1].AfterAmount
	}
	return l.gc.entry(l).balanceAt(i, t)
}

// between returns a fresh slice of book i's transactions dated in
// [from, to], and book i's balance just before from.
func (l *ledger) between(i int, from, to time.Time) ([]bankgate.Transaction, bankgate.Money) {
	if l.gc == nil {
		txs := l.txs[i]
		lo, hi := countBefore(txs, from), countUpTo(txs, to)
		before := l.p.books[i].opening
		if lo > 0 {
			before = txs[lo-1].AfterAmount
		}
		if lo >= hi {
			return []bankgate.Transaction{}, before
		}
		return slices.Clone(txs[lo:hi]), before
	}
	return l.gc.entry(l).between(i, from, to)
}

// statement returns card ci's statement of month m (0 <= m < maxMonths):
// what it owed as the month started, and when that is paid.
func (l *ledger) statement(ci, m int) statement {
	if l.gc == nil {
		return statement{}
	}
	return l.gc.entry(l).statement(ci, m)
}

// countUpTo returns how many of txs are dated at or before t.
func countUpTo(txs []bankgate.Transaction, t time.Time) int {
	n, _ := slices.BinarySearchFunc(txs, t, func(tx bankgate.Transaction, t time.Time) int {
		if tx.Date.After(t) {
			return 1
		}
		return -1
	})
	return n
}

// countBefore returns how many of txs are dated strictly before t.
func countBefore(txs []bankgate.Transaction, t time.Time) int {
	n, _ := slices.BinarySearchFunc(txs, t, func(tx bankgate.Transaction, t time.Time) int {
		if tx.Date.Before(t) {
			return -1
		}
		return 1
	})
	return n
}

// reference returns a transaction reference unique within its book and
// stable over time: a prefix, the date, the book's code and the
// transaction's sequence number within its month.
func reference(kind bookKind, refCode string, at time.Time, seq int) string {
	return string(appendReference(make([]byte, 0, 20), kind, refCode, at, seq))
}

// appendReference appends reference(kind, refCode, at, seq) to b.
func appendReference(b []byte, kind bookKind, refCode string, at time.Time, seq int) []byte {
	if kind == kindCard {
		b = append(b, "CT"...)
	} else {
		b = append(b, "FT"...)
	}
	y, mo, d := at.Date()
	b = append(b, byte('0'+y/10%10), byte('0'+y%10), byte('0'+int(mo)/10), byte('0'+int(mo)%10), byte('0'+d/10), byte('0'+d%10))
	b = append(b, refCode...)
	b = append(b, byte('0'+seq/1000%10), byte('0'+seq/100%10), byte('0'+seq/10%10), byte('0'+seq%10))
	return b
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// appendUpper appends s to b with ASCII letters in upper case.
func appendUpper(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// ledgerCache keeps the users' states (generated ledger, fixture and
// events applied) read lately, at most max of them, evicted by CLOCK. A
// state evicted is rebuilt from the store when next used.
type ledgerCache struct {
	mu  sync.RWMutex
	max int
	x   clockIndex[cacheKey, userState]
}

// cacheKey names a user at a bank in an app's world (a struct, so that
// hashing one allocates nothing).
type cacheKey struct{ app, bank, user string }

func newLedgerCache(max int) *ledgerCache {
	return &ledgerCache{max: max, x: newClockIndex[cacheKey, userState]()}
}

// find returns the cached state of key, whose hash is h, or nil. The
// caller holds c.mu.
func (c *ledgerCache) find(h uint64, key cacheKey) *userState {
	if st := c.x.find(h); st != nil && st.user == key.user && st.app == key.app && st.bi.bank.ID == key.bank {
		return st
	}
	return nil
}

// peek returns the cached state of key, or nil, without marking it used.
func (c *ledgerCache) peek(key cacheKey) *userState {
	h := c.x.keyHash(key)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.find(h, key)
}

// get returns the state of user at bank bi in app's world, making an
// empty one (filled in by Connector.sync) if it is not cached.
func (c *ledgerCache) get(app string, bi *bankInfo, user string) *userState {
	key := cacheKey{app, bi.bank.ID, user}
	h := c.x.keyHash(key)
	c.mu.RLock()
	st := c.find(h, key)
	c.mu.RUnlock()
	if st != nil {
		if !st.ref.Load() {
			st.ref.Store(true)
		}
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.find(h, key); st != nil {
		return st
	}
	st = newUserState(app, bi, user)
	st.ref.Store(true)
	if !c.x.add(h, st) {
		// Another user's key has this hash (about one chance in 2^64
		// per pair): the state serves this call uncached, and the
		// next is rebuilt from the store, as an evicted one is.
		return st
	}
	for c.x.len() > c.max && c.x.len() > 1 {
		c.x.evict(func(st *userState) *atomic.Bool { return &st.ref })
	}
	return st
}
