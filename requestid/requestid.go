// Package requestid makes and checks request IDs: the X-Request-ID a
// client or a proxy sent, when it is sane, else a random one made here.
// A request's ID is returned in its response's X-Request-ID header and
// written in every log line about it; it travels in the request's
// context (see Context).
package requestid

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"sync"
)

// Header is the HTTP header that carries a request ID both ways.
const Header = "X-Request-ID"

// MaxLen is the longest request ID taken from a client.
const MaxLen = 128

// Size is the length of a request ID made here: 32 lower-case hex digits
// (128 random bits).
const Size = 32

// Valid reports whether id, as a client sent it, is a sane request ID:
// 1 to MaxLen characters of A-Z, a-z, 0-9 and - _ . : + / = @ (UUIDs,
// hex, base64 and the IDs of common proxies and load balancers fit). Any
// other value is not used (nor logged): a new ID is made instead.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !allowed[id[i]] {
			return false
		}
	}
	return true
}

var allowed = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.:+/=@" {
		t[c] = true
	}
	return t
}()

// rngs are ChaCha8 generators seeded from crypto/rand, one per user at a
// time: an ID costs no system call and no allocation.
var rngs = sync.Pool{New: func() any {
	var seed [32]byte
	crand.Read(seed[:])
	return mrand.NewChaCha8(seed)
}}

// Fill writes a new random request ID into b.
func Fill(b *[Size]byte) {
	var u [Size / 2]byte
	r := rngs.Get().(*mrand.ChaCha8)
	r.Read(u[:])
	rngs.Put(r)
	hex.Encode(b[:], u[:])
}

// New returns a new random request ID.
func New() string {
	var b [Size]byte
	Fill(&b)
	return string(b[:])
}

// Context is a context that carries a request ID. A server that keeps one
// per request inside a value it allocates anyway attaches the ID to the
// request's context without an allocation of its own (context.WithValue
// makes one); NewContext is the plain way.
type Context struct {
	context.Context
	ID string
}

type key struct{}

// Value returns c itself for the request ID's key, else what the parent
// context holds for k.
func (c *Context) Value(k any) any {
	if k == (key{}) {
		return c
	}
	return c.Context.Value(k)
}

// NewContext returns a context carrying the request ID id.
func NewContext(parent context.Context, id string) context.Context {
	return &Context{Context: parent, ID: id}
}

// FromContext returns the request ID ctx carries, or "".
func FromContext(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	if c, ok := ctx.Value(key{}).(*Context); ok {
		return c.ID
	}
	return ""
}
