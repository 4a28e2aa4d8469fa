// Package secret makes and keeps bankgate's secrets: random tokens with a
// type prefix, keyed digests (HMAC-SHA-256 with a server key) under which
// they are stored, constant-time comparison, AES-GCM sealing of data with
// keys derived from a userSecret, and the keyring of server keys (with
// IDs, so that keys can be rotated) and its file format.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// Prefixes name the kind of each secret, so a leaked value tells what it is
// and a value of one kind is never accepted as another.
const (
	PrefixAppSecret   = "bgas_"
	PrefixAccessToken = "bgat_"
	PrefixAccessCode  = "bgac_"
	PrefixUserSecret  = "bgus_"
)

// KeySize is the size of a server key in bytes.
const KeySize = 32

// OriginalKeyID is the ID of a store's first server key: the one every
// build before key rotation used. Its digests and sealed values carry no
// key-ID prefix (they are exactly as those builds stored them), and it
// derives userIDs and other stable identifiers for the store's whole life,
// even after it is retired for digests and sealing.
const OriginalKeyID = "k1"

// Key is one server key of a keyring.
type Key struct {
	ID     string // "k1", "k2", ...: [a-z0-9], at most 8 characters
	Secret []byte // KeySize bytes
	// Retired keys verify and open nothing; the original key stays in the
	// keyring after retirement only to derive stable identifiers.
	Retired bool
	// Staged keys are newer than the primary and only verify: during a
	// rollout to several instances, what an instance that already made
	// the key primary stored is valid everywhere, and is never re-digested
	// back to the older primary.
	Staged bool
}

// Keyring holds the server keys used for digests and sealing, newest
// first: the primary key makes every new digest and sealed value; the
// other keys that are not retired only verify and open what they made.
// It is safe for concurrent use.
type Keyring struct {
	all     []*ringKey // every key, newest first
	keys    []*ringKey // the keys that verify, newest first
	primary *ringKey
	id      *ringKey // derives stable identifiers (the original key)
}

type ringKey struct {
	Key
	prefix []byte // "" for the original key, else ID + "."
	// stale: older than the primary, so what it made is re-digested
	// under the primary on use.
	stale bool
	pool  sync.Pool
}

// digester is a reusable HMAC with scratch space, so digests allocate
// nothing.
type digester struct {
	h   hash.Hash
	buf []byte
	sum []byte
}

func newRingKey(k Key) *ringKey {
	rk := &ringKey{Key: Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...), Retired: k.Retired, Staged: k.Staged}}
	if k.ID != OriginalKeyID {
		rk.prefix = []byte(k.ID + ".")
	}
	rk.pool.New = func() any {
		return &digester{h: hmac.New(sha256.New, rk.Secret), buf: make([]byte, 0, 128), sum: make([]byte, 0, sha256.Size)}
	}
	return rk
}

// NewKeyring returns a keyring holding key as the original key, which must
// be KeySize bytes.
func NewKeyring(key []byte) (*Keyring, error) {
	return NewKeyringOf([]Key{{ID: OriginalKeyID, Secret: key}})
}

// ValidKeyID reports whether id is a well-formed key ID.
func ValidKeyID(id string) bool {
	if id == "" || len(id) > 8 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// NewKeyringOf returns a keyring of keys, newest first. The first key
// that is neither staged nor retired is the primary; the original key
// (OriginalKeyID) must be among them, retired or not, because it derives
// stable identifiers.
func NewKeyringOf(keys []Key) (*Keyring, error) {
	k := &Keyring{}
	seen := map[string]bool{}
	for _, key := range keys {
		if !ValidKeyID(key.ID) {
			return nil, fmt.Errorf("secret: %q is not a key ID (1 to 8 characters a-z, 0-9)", key.ID)
		}
		if seen[key.ID] {
			return nil, fmt.Errorf("secret: key %s appears twice", key.ID)
		}
		seen[key.ID] = true
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("secret: server key %s must be %d bytes, got %d", key.ID, KeySize, len(key.Secret))
		}
		rk := newRingKey(key)
		k.all = append(k.all, rk)
		if key.ID == OriginalKeyID {
			k.id = rk
		}
		if key.Retired {
			continue
		}
		rk.stale = k.primary != nil
		if k.primary == nil && !key.Staged {
			k.primary = rk
		}
		k.keys = append(k.keys, rk)
	}
	if k.primary == nil {
		return nil, errors.New("secret: no server key that is neither staged nor retired, so no primary key")
	}
	if k.id == nil {
		return nil, fmt.Errorf("secret: the original key %s is missing; it derives userIDs and must stay (retired if need be)", OriginalKeyID)
	}
	return k, nil
}

// Primary returns the primary key's ID.
func (k *Keyring) Primary() string { return k.primary.ID }

// Keys returns the keyring's keys, newest first.
func (k *Keyring) Keys() []Key {
	out := make([]Key, len(k.all))
	for i, rk := range k.all {
		out[i] = Key{ID: rk.ID, Secret: append([]byte(nil), rk.Secret...), Retired: rk.Retired, Staged: rk.Staged}
	}
	return out
}

// Multi reports whether the keyring has more than one key that verifies,
// that is whether a lookup that misses under the primary key is worth
// trying again.
func (k *Keyring) Multi() bool { return len(k.keys) > 1 }

// NewKey returns a new random server key.
func NewKey() []byte {
	b := make([]byte, KeySize)
	rand.Read(b)
	return b
}

// ParseKey reads a server key written as hex (64 characters), optionally
// with surrounding whitespace.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "hex:")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != KeySize {
		return nil, errors.New("secret: server key must be 64 hex characters")
	}
	return b, nil
}

// ParseKeys reads a key file. Two forms are accepted:
//
//   - one key as 64 hex characters (optionally "hex:" before them): the
//     original key, k1, alone; this is the file every earlier build wrote;
//   - one key per line, newest first, as "ID HEX", "ID HEX staged" or
//     "ID HEX retired"; blank lines and lines starting with # are
//     ignored. The first key that is neither staged nor retired is the
//     primary: it makes every new digest and sealed value.
func ParseKeys(s string) ([]Key, error) {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 1 && !strings.ContainsAny(lines[0], " \t") {
		b, err := ParseKey(lines[0])
		if err != nil {
			return nil, err
		}
		return []Key{{ID: OriginalKeyID, Secret: b}}, nil
	}
	if len(lines) == 0 {
		return nil, errors.New("secret: the key file holds no key")
	}
	var keys []Key
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "retired" && f[2] != "staged") || !ValidKeyID(f[0]) {
			return nil, fmt.Errorf("secret: key file line %d: want \"ID HEX\", \"ID HEX staged\" or \"ID HEX retired\"", i+1)
		}
		b, err := ParseKey(f[1])
		if err != nil {
			return nil, fmt.Errorf("secret: key file line %d (%s): %w", i+1, f[0], err)
		}
		keys = append(keys, Key{ID: f[0], Secret: b, Retired: len(f) == 3 && f[2] == "retired", Staged: len(f) == 3 && f[2] == "staged"})
	}
	return keys, nil
}

// FormatKeys writes keys in the key file format ParseKeys reads, in the
// given order (newest first).
func FormatKeys(keys []Key) string {
	var b strings.Builder
	b.WriteString("# bankgate server keys, newest first: \"ID HEX [staged|retired]\"; the first key not marked is the primary.\n")
	b.WriteString("# Written by `bankgate keys`; keep this file mode 0600 and out of the data directory's backups.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %x", k.ID, k.Secret)
		switch {
		case k.Retired:
			b.WriteString(" retired")
		case k.Staged:
			b.WriteString(" staged")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// CheckValue returns the check value of a key: a digest under the key of
// a fixed string and its ID. A store keeps it so that a server started
// with the wrong key refuses to start instead of answering every token
// INVALID_TOKEN. It reveals nothing of the key.
func CheckValue(key Key) []byte {
	m := hmac.New(sha256.New, key.Secret)
	m.Write([]byte("bankgate server key check v1\x00" + key.ID))
	return m.Sum(nil)
}

// DigestSelector returns how the digests made by the key with the given
// ID look: exactly size bytes, starting with prefix (empty for the
// original key).
func DigestSelector(id string) (prefix []byte, size int) {
	if id == OriginalKeyID {
		return nil, sha256.Size
	}
	return []byte(id + "."), len(id) + 1 + sha256.Size
}

// keyOf returns the verifying key that made a digest or sealed value, by
// its prefix; the original key when no prefix matches (it may be nil when
// the original key is retired).
func (k *Keyring) keyOf(v []byte) *ringKey {
	for _, rk := range k.keys {
		if len(rk.prefix) > 0 && len(v) > len(rk.prefix) && string(v[:len(rk.prefix)]) == string(rk.prefix) {
			return rk
		}
	}
	if k.id.Retired {
		return nil
	}
	return k.id
}

// KeyOf returns the ID of the verifying key a stored digest or sealed
// value was made with (judged by its prefix alone), or "" when none.
func (k *Keyring) KeyOf(v []byte) string {
	if rk := k.keyOf(v); rk != nil {
		return rk.ID
	}
	return ""
}

// Digest returns the keyed digest of value within domain (so that equal
// values of different kinds get different digests), under the primary
// key.
func (k *Keyring) Digest(domain, value string) []byte {
	return k.AppendDigest(nil, domain, value)
}

// AppendDigest appends the primary key's digest of value to dst and
// returns it. With a dst of capacity 48 it allocates nothing.
func (k *Keyring) AppendDigest(dst []byte, domain, value string) []byte {
	return k.primary.appendDigest(dst, domain, value)
}

// AppendMAC appends the primary key's MAC of parts within domain to dst
// and returns it: each part is preceded by its length (two bytes), so no
// two lists of parts shorter than 64 KiB each give the same input. It is
// for lookups in memory, never to be stored: it has no key-ID prefix and
// changes with the primary key. With a dst of capacity 32 it allocates
// nothing.
func (k *Keyring) AppendMAC(dst []byte, domain string, parts ...string) []byte {
	return k.primary.macOf(dst, func(b []byte) []byte {
		b = append(append(b, domain...), 0)
		for _, p := range parts {
			b = append(append(b, byte(len(p)>>8), byte(len(p))), p...)
		}
		return b
	})
}

// OtherDigests returns the digests of value under every verifying key
// but the primary, newest first: what to look up when a lookup under the
// primary key missed.
func (k *Keyring) OtherDigests(domain, value string) [][]byte {
	var out [][]byte
	for _, rk := range k.keys {
		if rk != k.primary {
			out = append(out, rk.appendDigest(nil, domain, value))
		}
	}
	return out
}

// Stale reports whether a stored digest or sealed value was made by a key
// older than the primary (and should be made again under the primary). A
// staged key's values are not stale.
func (k *Keyring) Stale(v []byte) bool {
	rk := k.keyOf(v)
	return rk != nil && rk.stale
}

// IDDigest returns the unprefixed digest of value under the original
// key, which never changes for a store: it derives identifiers that must
// stay stable across key rotation (userIDs, idempotency fingerprints).
func (k *Keyring) IDDigest(domain, value string) []byte {
	return k.id.mac(nil, domain, value)
}

// Verify reports whether stored is the digest of value within domain,
// under whichever verifying key made it (read from its prefix), and
// whether that key is current: the primary or a newer, staged one (if
// not, the caller re-digests the value under the primary). It allocates
// nothing.
func (k *Keyring) Verify(domain, value string, stored []byte) (ok, current bool) {
	rk := k.keyOf(stored)
	if rk == nil || len(stored) != len(rk.prefix)+sha256.Size {
		return false, false
	}
	var buf [sha256.Size]byte
	ok = hmac.Equal(rk.mac(buf[:0], domain, value), stored[len(rk.prefix):])
	return ok, ok && !rk.stale
}

func (rk *ringKey) appendDigest(dst []byte, domain, value string) []byte {
	return rk.mac(append(dst, rk.prefix...), domain, value)
}

func (rk *ringKey) mac(dst []byte, domain, value string) []byte {
	return rk.macOf(dst, func(b []byte) []byte { return append(append(append(b, domain...), 0), value...) })
}

// macOf appends to dst the key's HMAC of the message msg appends to an
// empty buffer, with a pooled HMAC and buffer: it allocates nothing.
func (rk *ringKey) macOf(dst []byte, msg func(b []byte) []byte) []byte {
	d := rk.pool.Get().(*digester)
	d.h.Reset()
	d.buf = msg(d.buf[:0])
	d.h.Write(d.buf)
	d.sum = d.h.Sum(d.sum[:0])
	dst = append(dst, d.sum...)
	if cap(d.buf) <= 4096 {
		rk.pool.Put(d)
	}
	return dst
}

// Equal compares two digests in constant time.
func Equal(a, b []byte) bool { return hmac.Equal(a, b) }

// Random returns prefix followed by n random bytes in unpadded base64url.
func Random(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hex returns n random bytes as lower-case hex.
func Hex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// WellFormed reports whether s looks like a secret of the given prefix made
// by Random with n bytes. It is a cheap filter run before any lookup.
func WellFormed(s, prefix string, n int) bool {
	if len(s) != len(prefix)+base64.RawURLEncoding.EncodedLen(n) || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if !base64URL[s[i]] {
			return false
		}
	}
	return true
}

// base64URL marks the bytes of the unpadded base64url alphabet.
var base64URL = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// sealKey derives a 256-bit AES key for the given purpose from secret
// material and a context (such as a connection ID).
func (rk *ringKey) sealKey(material, context, purpose string) ([]byte, error) {
	// The server key salts the derivation, so the database alone (which
	// holds neither the server key nor the userSecret) opens nothing.
	return hkdf.Key(sha256.New, []byte(material), rk.Secret, purpose+"\x00"+context, 32)
}

func (rk *ringKey) aead(material, context string) (cipher.AEAD, error) {
	key, err := rk.sealKey(material, context, "bankgate seal v1")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext under the primary key with a key derived from
// material (a userSecret, or an operation ID for short-lived state) and
// bound to context. The result starts with the primary key's ID prefix
// (none for the original key).
func (k *Keyring) Seal(material, context string, plaintext []byte) ([]byte, error) {
	rk := k.primary
	aead, err := rk.aead(material, context)
	if err != nil {
		return nil, err
	}
	p := len(rk.prefix)
	out := make([]byte, p+aead.NonceSize(), p+aead.NonceSize()+len(plaintext)+aead.Overhead())
	copy(out, rk.prefix)
	rand.Read(out[p:])
	return aead.Seal(out, out[p:], plaintext, []byte(context)), nil
}

// ErrOpen is returned when sealed data cannot be opened: wrong key
// material, wrong context, a key no longer in the keyring, or tampering.
var ErrOpen = errors.New("secret: cannot open sealed data")

// Open decrypts what Seal produced with the same material and context.
func (k *Keyring) Open(material, context string, sealed []byte) ([]byte, error) {
	out, _, err := k.OpenCurrent(material, context, sealed)
	return out, err
}

// OpenCurrent is Open that also reports whether the value was sealed by a
// current key (the primary or a staged one; if not, the caller seals it
// again under the primary).
func (k *Keyring) OpenCurrent(material, context string, sealed []byte) (plaintext []byte, current bool, err error) {
	rk := k.keyOf(sealed)
	if rk != nil && rk.prefix != nil {
		if out, err := rk.open(material, context, sealed[len(rk.prefix):]); err == nil {
			return out, !rk.stale, nil
		}
		// A value sealed by the original key whose random nonce happens
		// to start like a key prefix: try the original key below.
		rk = k.id
		if rk.Retired {
			return nil, false, ErrOpen
		}
	}
	if rk == nil {
		return nil, false, ErrOpen
	}
	out, err := rk.open(material, context, sealed)
	if err != nil {
		return nil, false, err
	}
	return out, !rk.stale, nil
}

func (rk *ringKey) open(material, context string, sealed []byte) ([]byte, error) {
	aead, err := rk.aead(material, context)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, ErrOpen
	}
	out, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
