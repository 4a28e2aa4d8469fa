// Package webhook delivers bankgate's webhook events in the form Dapi's
// server SDKs verify and decrypt: signed per Standard Webhooks (the Svix
// scheme: webhook-id, webhook-timestamp, webhook-signature "v1,<base64
// HMAC-SHA256 of id.timestamp.body>" under a whsec_ secret, sent under the
// svix-* names too) with the sensitive part of each event encrypted
// (base64 of a 16-byte IV and the AES-256-CFB ciphertext), as Dapi's Go
// SDK's utils.DecryptWebhookData expects. The Dispatcher takes events
// from the store's outbox and delivers them; it never runs on a request's
// path.
package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// Keys are an app's webhook keys. They are stored only sealed (see
// package service).
type Keys struct {
	// SigningSecret signs every delivery.
	SigningSecret string `json:"signingSecret"`
	// EncryptionKey is the base64 of the 32-byte AES-256 key that
	// encryptedData is encrypted with.
	EncryptionKey string `json:"encryptionKey"`
	// PrevSigningSecret, until PrevUntil, signs every delivery too: the
	// overlap after a rotation, during which a receiver may verify with
	// either.
	PrevSigningSecret string    `json:"prevSigningSecret,omitempty"`
	PrevUntil         time.Time `json:"prevUntil,omitzero"`
}

// NewKeys makes a new signing secret (24 random bytes) and encryption key.
func NewKeys() Keys {
	return Keys{SigningSecret: NewSecret(), EncryptionKey: base64.StdEncoding.EncodeToString(random(32))}
}

// NewSecret makes a new signing secret.
func NewSecret() string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(random(24))
}

// Rotate returns k with a new signing secret; the current one keeps
// signing until now+overlap. The encryption key stays.
func (k Keys) Rotate(now time.Time, overlap time.Duration) Keys {
	k.PrevSigningSecret, k.PrevUntil = k.SigningSecret, now.Add(overlap)
	k.SigningSecret = NewSecret()
	return k
}

// Secrets are the signing secrets in use at now: the current one, and the
// previous one during its overlap.
func (k Keys) Secrets(now time.Time) []string {
	if k.PrevSigningSecret != "" && now.Before(k.PrevUntil) {
		return []string{k.SigningSecret, k.PrevSigningSecret}
	}
	return []string{k.SigningSecret}
}

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("webhook: no randomness: " + err.Error())
	}
	return b
}

// Sign returns the webhook-signature header value for the message: one
// "v1,<signature>" per secret, space-separated.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	var sb strings.Builder
	for i, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
		if err != nil {
			return "", errors.New("webhook: bad signing secret")
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id))
		m.Write([]byte{'.'})
		m.Write(strconv.AppendInt(nil, ts.Unix(), 10))
		m.Write([]byte{'.'})
		m.Write(body)
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString("v1,")
		sb.WriteString(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return sb.String(), nil
}

// Encrypt encrypts plaintext with the base64 key: base64 of a random
// 16-byte IV followed by the AES-CFB ciphertext.
func Encrypt(key string, plaintext []byte) (string, error) {
	block, err := block(key)
	if err != nil {
		return "", err
	}
	out := make([]byte, aes.BlockSize+len(plaintext))
	iv := out[:aes.BlockSize]
	copy(iv, random(aes.BlockSize))
	//lint:ignore SA1019 CFB is the mode Dapi's SDK helpers decrypt.
	cipher.NewCFBEncrypter(block, iv).XORKeyStream(out[aes.BlockSize:], plaintext) //nolint:staticcheck
	return base64.StdEncoding.EncodeToString(out), nil
}

// Decrypt reverses Encrypt with the same steps as Dapi's Go SDK
// (utils.DecryptWebhookData): base64-decode key and data, the first 16
// bytes are the IV, AES-CFB-decrypt the rest.
func Decrypt(key, data string) ([]byte, error) {
	block, err := block(key)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil || len(raw) < aes.BlockSize {
		return nil, errors.New("webhook: bad encrypted data")
	}
	out := make([]byte, len(raw)-aes.BlockSize)
	//lint:ignore SA1019 CFB is the mode Dapi's SDK helpers decrypt.
	cipher.NewCFBDecrypter(block, raw[:aes.BlockSize]).XORKeyStream(out, raw[aes.BlockSize:]) //nolint:staticcheck
	return out, nil
}

func block(key string) (cipher.Block, error) {
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) != 32 {
		return nil, errors.New("webhook: the encryption key is not base64 of 32 bytes")
	}
	return aes.NewCipher(k)
}

// Body is what a delivery's body holds.
type Body struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Timestamp     time.Time       `json:"timestamp"`
	Data          json.RawMessage `json:"data"`
	EncryptedData string          `json:"encryptedData"`
}
