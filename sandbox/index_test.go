package sandbox

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestClockIndex adds and removes objects in a random order and checks,
// after every step, that each object indexed is found under its hash at
// its position, and that nothing else is.
func TestClockIndex(t *testing.T) {
	x := newClockIndex[uint64, int]()
	r := rand.New(rand.NewPCG(1, 2))
	want := map[uint64]*int{}
	check := func(step int) {
		t.Helper()
		if x.len() != len(want) || len(x.pos) != len(want) || len(x.hash) != len(want) {
			t.Fatalf("step %d: %d in ring, %d in map, %d hashes; want %d", step, x.len(), len(x.pos), len(x.hash), len(want))
		}
		for h, v := range want {
			if got := x.find(h); got != v {
				t.Fatalf("step %d: find(%d) = %p, want %p", step, h, got, v)
			}
		}
		for i, h := range x.hash {
			if int(x.pos[h]) != i || want[h] != x.ring[i] {
				t.Fatalf("step %d: position %d holds hash %d, which maps to %d", step, i, h, x.pos[h])
			}
		}
	}
	for step := range 2000 {
		if h := r.Uint64N(300); r.IntN(3) > 0 || x.len() == 0 {
			v := new(int)
			added := x.add(h, v)
			if _, taken := want[h]; added == taken {
				t.Fatalf("step %d: add(%d) = %v with the hash taken: %v", step, h, added, taken)
			}
			if added {
				want[h] = v
			}
		} else {
			i := r.IntN(x.len())
			v := x.ring[i]
			x.removeAt(i)
			for h, w := range want {
				if w == v {
					delete(want, h)
				}
			}
		}
		check(step)
	}
	x.clear()
	want = map[uint64]*int{}
	check(-1)
}

// TestClockIndexEvict checks CLOCK's second chance: the hand passes the
// objects read since it last passed them, clearing their marks, drops the
// first one not read, and goes on from where it stopped.
func TestClockIndexEvict(t *testing.T) {
	type obj struct {
		n   int
		ref atomic.Bool
	}
	used := func(o *obj) *atomic.Bool { return &o.ref }
	x := newClockIndex[uint64, obj]()
	objs := make([]*obj, 5)
	for i := range objs {
		objs[i] = &obj{n: i}
		x.add(uint64(i), objs[i])
	}
	objs[0].ref.Store(true)
	objs[1].ref.Store(true)
	objs[3].ref.Store(true)
	if v := x.evict(used); v != objs[2] {
		t.Fatalf("first eviction dropped %d, want 2 (0 and 1 were read)", v.n)
	}
	if objs[0].ref.Load() || objs[1].ref.Load() || !objs[3].ref.Load() {
		t.Error("the hand did not clear exactly the marks it passed")
	}
	// Object 4 moved into position 2, under the hand, and was not read.
	if v := x.evict(used); v != objs[4] {
		t.Fatalf("second eviction dropped %d, want 4", v.n)
	}
	// The hand passes 3 (clearing it), wraps, and drops 0.
	if v := x.evict(used); v != objs[0] || objs[3].ref.Load() {
		t.Fatalf("third eviction dropped %d (3 still marked: %v), want 0", v.n, objs[3].ref.Load())
	}
	if x.len() != 2 || x.find(1) != objs[1] || x.find(3) != objs[3] || x.find(0) != nil {
		t.Errorf("left %d objects; want 1 and 3 found, 0 gone", x.len())
	}
}

// TestGenCacheHashCollision gives a user's hash to another user's entry,
// as a collision of the two keys would, and checks that the user still
// reads its own data, uncached, and that the other user keeps its entry.
func TestGenCacheHashCollision(t *testing.T) {
	bi := bankByID[enbd]
	c := newGenCache(DefaultCacheBytes)
	other := c.ledger(bi, "collision-a")
	h := c.x.keyHash(genKey{bi.bank.ID, "collision-b"})
	c.mu.Lock()
	if !c.x.add(h, c.find(c.x.keyHash(genKey{bi.bank.ID, "collision-a"}), bi.bank.ID, "collision-a")) {
		t.Fatal("the hash was taken")
	}
	c.mu.Unlock()

	l := c.ledger(bi, "collision-b")
	if l.p.user != "collision-b" {
		t.Fatalf("the colliding user read %q's profile", l.p.user)
	}
	want := newProfile(bi, "collision-b")
	for i := range want.books {
		if got, w := l.balanceAt(i, testNow), newLedgerForTest(want).balanceAt(i, testNow); got != w {
			t.Errorf("book %d balance %d, want %d", i, got, w)
		}
	}
	if e := c.entry(l); !e.evicted {
		t.Error("the colliding user's entry is cached")
	}
	if c.ledger(bi, "collision-a") != other {
		t.Error("the other user lost its entry")
	}
}

// newLedgerForTest returns a generated ledger of p in a cache of its own.
func newLedgerForTest(p *profile) *ledger {
	return newGenCache(DefaultCacheBytes).ledger(p.bank, p.user)
}

// TestLedgerCacheHashCollision is TestGenCacheHashCollision for the user
// states: a user whose hash another's state holds gets a state of its
// own, uncached, each time.
func TestLedgerCacheHashCollision(t *testing.T) {
	bi := bankByID[enbd]
	c := newLedgerCache(100)
	a := c.get("app", bi, "collision-a")
	keyB := cacheKey{"app", bi.bank.ID, "collision-b"}
	c.mu.Lock()
	if !c.x.add(c.x.keyHash(keyB), a) {
		t.Fatal("the hash was taken")
	}
	c.mu.Unlock()
	b1 := c.get("app", bi, "collision-b")
	b2 := c.get("app", bi, "collision-b")
	if b1 == a || b1.user != "collision-b" || b1.app != "app" || b1.bi != bi {
		t.Fatalf("the colliding user got state %+v", b1)
	}
	if b1 == b2 {
		t.Error("the colliding user's state is cached")
	}
	if c.peek(keyB) != nil {
		t.Error("peek found a state for the colliding user")
	}
	if c.get("app", bi, "collision-a") != a || c.peek(cacheKey{"app", bi.bank.ID, "collision-a"}) != a {
		t.Error("the other user lost its state")
	}
	for i := range 50 { // other users still come and go
		if st := c.get("app", bi, "u"+strconv.Itoa(i)); st.user != "u"+strconv.Itoa(i) {
			t.Fatalf("user %d got %q's state", i, st.user)
		}
	}
}

// TestUserInState checks that a state keeps a username that fits in
// itself, one that does not as given, and either way the same name.
func TestUserInState(t *testing.T) {
	bi := bankByID[enbd]
	for _, n := range []int{1, userInline - 1, userInline, userInline + 1, 256} {
		user := strings.Repeat("u", n)
		st := newUserState("app", bi, user)
		inside := unsafe.StringData(st.user) == &st.userIn[0]
		if st.user != user || inside != (n <= userInline) {
			t.Errorf("%d bytes: user %q, held in the state: %v", n, st.user, inside)
		}
	}
}

// TestProfileUserPacked checks that a generated profile's username is
// packed with its strings, read back whole, and counted once.
func TestProfileUserPacked(t *testing.T) {
	bi := bankByID[enbd]
	for _, user := range []string{UserGood, UserEmpty, "someone-else"} {
		src := strings.Clone(user)
		p := newProfile(bi, src)
		if p.user != user {
			t.Fatalf("user %q, want %q", p.user, user)
		}
		packed := len(p.books) > 0
		if inStrs := unsafe.StringData(p.user) != unsafe.StringData(src); inStrs != packed {
			t.Errorf("%s: user packed with the strings: %v, want %v", user, inStrs, packed)
		}
		want := len(p.strs) + int(unsafe.Sizeof(generated{})) + cap(p.books)*int(unsafe.Sizeof(book{}))
		if !packed {
			want += len(user)
		}
		if got := p.size(); got != want {
			t.Errorf("%s: size %d, want %d", user, got, want)
		}
	}
}
