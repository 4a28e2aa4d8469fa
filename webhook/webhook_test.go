package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// dapiDecrypt is Dapi's Go SDK's utils.DecryptWebhookData, step by step:
// base64-decode the key and the data, the first 16 bytes are the IV,
// AES-CFB-decrypt the rest.
func dapiDecrypt(t testing.TB, aesKey, encryptedData string) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(aesKey)
	if err != nil {
		t.Fatalf("key: %v", err)
	}
	data, err := base64.StdEncoding.DecodeString(encryptedData)
	if err != nil {
		t.Fatalf("data: %v", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < aes.BlockSize {
		t.Fatal("ciphertext too short")
	}
	iv, data := data[:aes.BlockSize], data[aes.BlockSize:]
	cipher.NewCFBDecrypter(block, iv).XORKeyStream(data, data) //nolint:staticcheck // Dapi's mode
	return data
}

func TestKeys(t *testing.T) {
	k := NewKeys()
	if !strings.HasPrefix(k.SigningSecret, SecretPrefix) {
		t.Fatalf("secret %q", k.SigningSecret)
	}
	if raw, err := base64.StdEncoding.DecodeString(k.EncryptionKey); err != nil || len(raw) != 32 {
		t.Fatalf("encryption key %q: %d bytes, %v", k.EncryptionKey, len(raw), err)
	}
	if NewKeys() == k {
		t.Fatal("two key sets alike")
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	r := k.Rotate(now, 24*time.Hour)
	if r.SigningSecret == k.SigningSecret || r.PrevSigningSecret != k.SigningSecret || r.EncryptionKey != k.EncryptionKey {
		t.Fatalf("rotated %+v from %+v", r, k)
	}
	if s := r.Secrets(now.Add(23 * time.Hour)); len(s) != 2 || s[0] != r.SigningSecret {
		t.Fatalf("in the overlap: %v", s)
	}
	if s := r.Secrets(now.Add(24 * time.Hour)); len(s) != 1 || s[0] != r.SigningSecret {
		t.Fatalf("after the overlap: %v", s)
	}
}

// TestSignVerifiesWithSvix: the signature verifies with the svix library
// (what Dapi's utils.VerifyWebhook uses) under either header names, and
// during a rotation with either secret; a changed body or id does not.
func TestSignVerifiesWithSvix(t *testing.T) {
	k := NewKeys()
	now := time.Now()
	r := k.Rotate(now, time.Hour)
	body := []byte(`{"id":"msg_1","type":"transfer.done","data":{}}`)
	sig, err := Sign(r.Secrets(now), "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Split(sig, " ")); n != 2 {
		t.Fatalf("%d signatures during the overlap: %q", n, sig)
	}
	for _, prefix := range []string{"webhook-", "svix-"} {
		h := http.Header{}
		h.Set(prefix+"id", "msg_1")
		h.Set(prefix+"timestamp", strconv.FormatInt(now.Unix(), 10))
		h.Set(prefix+"signature", sig)
		for _, secret := range []string{k.SigningSecret, r.SigningSecret} {
			wh, err := svix.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Errorf("%s headers, secret %d: %v", prefix, len(secret), err)
			}
			if err := wh.Verify(append(body[:len(body):len(body)], ' '), h); err == nil {
				t.Error("a changed body verified")
			}
		}
		other, _ := svix.NewWebhook(NewSecret())
		if err := other.Verify(body, h); err == nil {
			t.Error("another secret verified")
		}
	}
	if _, err := Sign([]string{"whsec_???"}, "msg_1", now, body); err == nil {
		t.Error("a bad secret signed")
	}
}

func TestEncryptDecryptsLikeDapi(t *testing.T) {
	k := NewKeys()
	for _, plain := range []string{"", "{}", `{"amount":125.5,"currency":"AED","reference":"REF1"}`, strings.Repeat("x", 1000)} {
		enc, err := Encrypt(k.EncryptionKey, []byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(dapiDecrypt(t, k.EncryptionKey, enc)); got != plain {
			t.Fatalf("Dapi's steps decrypt %q, want %q", got, plain)
		}
		if got, err := Decrypt(k.EncryptionKey, enc); err != nil || string(got) != plain {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
		again, _ := Encrypt(k.EncryptionKey, []byte(plain))
		if again == enc {
			t.Fatal("the same IV twice")
		}
	}
	if _, err := Encrypt("c2hvcnQ=", []byte("x")); err == nil {
		t.Error("a short key encrypted")
	}
	if _, err := Decrypt(k.EncryptionKey, "AAAA"); err == nil {
		t.Error("decrypted data shorter than an IV")
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 40; n++ {
		base := 5 * time.Second << min(n-1, 20)
		base = min(base, 4*time.Hour)
		for i := 0; i < 50; i++ {
			d := Backoff(n)
			if d < base/2 || d > base {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", n, d, base/2, base)
			}
		}
	}
	// The schedule reaches MaxWebhookAge in a few dozen attempts.
	var total time.Duration
	n := 0
	for total < 72*time.Hour {
		n++
		total += 5 * time.Second << min(n-1, 20) / 2
		if total > 72*time.Hour || n > 60 {
			break
		}
	}
	if n < 15 || n > 60 {
		t.Fatalf("%d attempts in 3 days at the shortest delays", n)
	}
}
