package secret

import (
	"bytes"
	"testing"
)

func mustKeyring(tb testing.TB) *Keyring {
	tb.Helper()
	k, err := NewKeyring(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestDigestDomainsDiffer(t *testing.T) {
	k := mustKeyring(t)
	if bytes.Equal(k.Digest("a", "x"), k.Digest("b", "x")) {
		t.Fatal("same value in two domains has one digest")
	}
	if !Equal(k.Digest("a", "x"), k.Digest("a", "x")) {
		t.Fatal("digest is not deterministic")
	}
	other, _ := NewKeyring(bytes.Repeat([]byte{8}, KeySize))
	if Equal(k.Digest("a", "x"), other.Digest("a", "x")) {
		t.Fatal("digest does not depend on the key")
	}
}

func TestRandomWellFormed(t *testing.T) {
	s := Random(PrefixAccessToken, 32)
	if !WellFormed(s, PrefixAccessToken, 32) {
		t.Fatalf("%q not well formed", s)
	}
	for _, bad := range []string{"", PrefixAccessToken, s + "x", PrefixAppSecret + s[len(PrefixAccessToken):], s[:len(s)-1] + "!"} {
		if WellFormed(bad, PrefixAccessToken, 32) {
			t.Errorf("%q accepted", bad)
		}
	}
	if Random(PrefixAccessToken, 32) == s {
		t.Fatal("two random tokens are equal")
	}
}

func TestSealOpen(t *testing.T) {
	k := mustKeyring(t)
	sealed, err := k.Seal("user-secret", "conn-1", []byte("session data"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("session data")) {
		t.Fatal("plaintext visible in sealed data")
	}
	got, err := k.Open("user-secret", "conn-1", sealed)
	if err != nil || string(got) != "session data" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for _, tc := range []struct{ material, context string }{{"other", "conn-1"}, {"user-secret", "conn-2"}} {
		if _, err := k.Open(tc.material, tc.context, sealed); err != ErrOpen {
			t.Errorf("Open(%q, %q) = %v, want ErrOpen", tc.material, tc.context, err)
		}
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open("user-secret", "conn-1", sealed); err != ErrOpen {
		t.Errorf("tampered data opened: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	if _, err := ParseKey("zz"); err == nil {
		t.Fatal("bad key accepted")
	}
	k, err := ParseKey("hex:" + "0102030405060708091011121314151617181920212223242526272829303132\n")
	if err != nil || len(k) != KeySize {
		t.Fatalf("ParseKey = %v, %v", k, err)
	}
}

func BenchmarkDigest(b *testing.B) {
	k := mustKeyring(b)
	tok := Random(PrefixAccessToken, 32)
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf = k.AppendDigest(buf[:0], "token", tok)
	}
}
