// Package secret makes and keeps bankgate's secrets: random tokens with a
// type prefix, keyed digests (HMAC-SHA-256 with the server key) under which
// they are stored, constant-time comparison, and AES-GCM sealing of data
// with keys derived from a userSecret.
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

// KeySize is the size of the server key in bytes.
const KeySize = 32

// Keyring holds the server key used for digests and sealing. It is safe for
// concurrent use.
type Keyring struct {
	key  []byte
	pool sync.Pool // of *digester
}

// digester is a reusable HMAC with scratch space, so digests allocate
// nothing.
type digester struct {
	h   hash.Hash
	buf []byte
	sum []byte
}

// NewKeyring returns a keyring for key, which must be KeySize bytes.
func NewKeyring(key []byte) (*Keyring, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: server key must be %d bytes, got %d", KeySize, len(key))
	}
	k := &Keyring{key: append([]byte(nil), key...)}
	k.pool.New = func() any {
		return &digester{h: hmac.New(sha256.New, k.key), buf: make([]byte, 0, 128), sum: make([]byte, 0, sha256.Size)}
	}
	return k, nil
}

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

// Digest returns the keyed digest of value within domain (so that equal
// values of different kinds get different digests).
func (k *Keyring) Digest(domain, value string) []byte {
	return k.AppendDigest(nil, domain, value)
}

// AppendDigest appends the keyed digest of value to dst and returns it.
func (k *Keyring) AppendDigest(dst []byte, domain, value string) []byte {
	d := k.pool.Get().(*digester)
	d.h.Reset()
	d.buf = append(append(append(d.buf[:0], domain...), 0), value...)
	d.h.Write(d.buf)
	d.sum = d.h.Sum(d.sum[:0])
	dst = append(dst, d.sum...)
	if cap(d.buf) <= 4096 {
		k.pool.Put(d)
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
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sealKey derives a 256-bit AES key for the given purpose from secret
// material and a context (such as a connection ID).
func (k *Keyring) sealKey(material, context, purpose string) ([]byte, error) {
	// The server key salts the derivation, so the database alone (which
	// holds neither the server key nor the userSecret) opens nothing.
	return hkdf.Key(sha256.New, []byte(material), k.key, purpose+"\x00"+context, 32)
}

// Seal encrypts plaintext with a key derived from material (a userSecret,
// or an operation ID for short-lived state) and bound to context.
func (k *Keyring) Seal(material, context string, plaintext []byte) ([]byte, error) {
	key, err := k.sealKey(material, context, "bankgate seal v1")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plaintext, []byte(context)), nil
}

// ErrOpen is returned when sealed data cannot be opened: wrong key
// material, wrong context, or tampering.
var ErrOpen = errors.New("secret: cannot open sealed data")

// Open decrypts what Seal produced with the same material and context.
func (k *Keyring) Open(material, context string, sealed []byte) ([]byte, error) {
	key, err := k.sealKey(material, context, "bankgate seal v1")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
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
