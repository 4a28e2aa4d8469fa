package sandbox

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Fixture passwords and MFA answers are never kept in clear, neither in
// the store nor in memory: only a salted slow hash of each,
//
//	pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>
//
// PBKDF2-HMAC-SHA256 with a random 16-byte salt per value. At
// hashIterations one hash or check costs about 3.5 ms of CPU (see
// design.md §5), which is why it is used only where a person types a
// secret: fixture logins and their MFA answers, and AddFixture. Neither is
// a hot path. A check reads the iteration count from the encoding, so
// values hashed with another count keep working.
const (
	hashIterations = 25_000
	hashSaltLen    = 16
	hashKeyLen     = 32
	hashScheme     = "pbkdf2-sha256"
	// maxHashIterations bounds what a stored value may ask a check to
	// spend.
	maxHashIterations = 10_000_000
)

var b64 = base64.RawStdEncoding

// hashSecret returns the encoded salted hash of secret.
func hashSecret(secret string) (string, error) {
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, secret, salt, hashIterations, hashKeyLen)
	if err != nil {
		return "", err
	}
	return hashScheme + "$" + strconv.Itoa(hashIterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// parsedHash is an encoded hash taken apart.
type parsedHash struct {
	iter      int
	salt, key []byte
}

// parseHash takes an encoded hash apart, checking its form.
func parseHash(enc string) (parsedHash, error) {
	parts := strings.Split(enc, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return parsedHash{}, errors.New("not a " + hashScheme + "$<iterations>$<salt>$<hash> value")
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxHashIterations {
		return parsedHash{}, errors.New("bad iteration count in a " + hashScheme + " value")
	}
	salt, err1 := b64.DecodeString(parts[2])
	key, err2 := b64.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(key) == 0 || len(key) > 64 {
		return parsedHash{}, errors.New("bad salt or hash in a " + hashScheme + " value")
	}
	return parsedHash{iter: iter, salt: salt, key: key}, nil
}

// checkSecret reports whether secret hashes to enc, comparing in constant
// time. A malformed enc matches nothing.
func checkSecret(enc, secret string) bool {
	h, err := parseHash(enc)
	if err != nil {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, secret, h.salt, h.iter, len(h.key))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1
}
