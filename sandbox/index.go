package sandbox

import (
	"hash/maphash"
	"sync/atomic"
)

// clockIndex is the index of a CLOCK-evicted cache of per-user objects
// (the generated users' entries, the user states): the objects in CLOCK
// order, and a map from their keys' hashes to their positions.
//
// The map holds no pointer, so the garbage collector never scans it. A
// map keyed by the users' strings and holding the objects would cost the
// collector, on every cycle, a span lookup that misses the CPU's caches
// for each key's string and each object: at 100,000 cached users, the
// largest part of the collector's work on what the caches hold. The ring
// is the one place that points at the objects.
//
// A key is known by its 64-bit hash alone, under a seed of the process's
// own (no one outside can aim two keys at one hash); callers check that
// the object found is the one they asked for, and a key whose hash
// another key holds is not cached (add reports it). clockIndex is not
// safe for concurrent use: its cache's lock guards it.
type clockIndex[K comparable, V any] struct {
	seed maphash.Seed
	pos  map[uint64]int32 // by key hash: the position in ring and hash
	ring []*V             // CLOCK order
	hash []uint64         // hash[i] is ring[i]'s key hash
	hand int
}

func newClockIndex[K comparable, V any]() clockIndex[K, V] {
	return clockIndex[K, V]{seed: maphash.MakeSeed(), pos: make(map[uint64]int32)}
}

// keyHash returns the hash the index knows key by.
func (x *clockIndex[K, V]) keyHash(key K) uint64 { return maphash.Comparable(x.seed, key) }

// len returns the number of objects indexed.
func (x *clockIndex[K, V]) len() int { return len(x.ring) }

// find returns the object whose key hashes to h, or nil.
func (x *clockIndex[K, V]) find(h uint64) *V {
	if i, ok := x.pos[h]; ok {
		return x.ring[i]
	}
	return nil
}

// add indexes v under h, unless h is taken; it reports whether it did.
func (x *clockIndex[K, V]) add(h uint64, v *V) bool {
	if _, ok := x.pos[h]; ok {
		return false
	}
	x.pos[h] = int32(len(x.ring))
	x.ring = append(x.ring, v)
	x.hash = append(x.hash, h)
	return true
}

// evict drops one object by CLOCK and returns it: the hand passes the
// objects read since it last passed them (used reports the mark, which
// it clears) and drops the first one not read. The index must not be
// empty.
func (x *clockIndex[K, V]) evict(used func(*V) *atomic.Bool) *V {
	for {
		if x.hand >= len(x.ring) {
			x.hand = 0
		}
		v := x.ring[x.hand]
		if ref := used(v); ref.Load() {
			ref.Store(false)
			x.hand++
			continue
		}
		x.removeAt(x.hand)
		return v
	}
}

// removeAt drops the object at position i, moving the last object into
// its place.
func (x *clockIndex[K, V]) removeAt(i int) {
	last := len(x.ring) - 1
	delete(x.pos, x.hash[i])
	if i != last {
		x.ring[i], x.hash[i] = x.ring[last], x.hash[last]
		x.pos[x.hash[i]] = int32(i)
	}
	x.ring[last] = nil
	x.ring, x.hash = x.ring[:last], x.hash[:last]
}

// clear drops every object.
func (x *clockIndex[K, V]) clear() {
	clear(x.pos)
	clear(x.ring)
	x.ring, x.hash, x.hand = x.ring[:0], x.hash[:0], 0
}
