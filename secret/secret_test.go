package secret

import (
	"bytes"
	"strings"
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
	// Every byte in the last place: exactly base64url's 64 are accepted.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for c := range 256 {
		v := s[:len(s)-1] + string([]byte{byte(c)})
		if got, want := WellFormed(v, PrefixAccessToken, 32), strings.IndexByte(alphabet, byte(c)) >= 0; got != want {
			t.Errorf("byte %#x: WellFormed %v, want %v", c, got, want)
		}
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

func testKeys(t *testing.T, spec ...string) *Keyring {
	t.Helper()
	var keys []Key
	for _, id := range spec {
		retired := false
		if id[0] == '-' {
			id, retired = id[1:], true
		}
		keys = append(keys, Key{ID: id, Secret: bytes.Repeat([]byte{id[1]}, KeySize), Retired: retired})
	}
	k, err := NewKeyringOf(keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRotation(t *testing.T) {
	old := testKeys(t, "k1")
	rotated := testKeys(t, "k2", "k1")
	d1 := old.Digest("d", "v")
	if len(d1) != 32 {
		t.Fatalf("original key digest is %d bytes, want 32 (unprefixed, as earlier builds stored)", len(d1))
	}
	if ok, primary := rotated.Verify("d", "v", d1); !ok || primary {
		t.Fatalf("old digest: Verify = %v, %v; want true, false", ok, primary)
	}
	d2 := rotated.Digest("d", "v")
	if !bytes.HasPrefix(d2, []byte("k2.")) || len(d2) != 35 {
		t.Fatalf("new digest %x lacks its key prefix", d2)
	}
	if ok, primary := rotated.Verify("d", "v", d2); !ok || !primary {
		t.Fatalf("new digest: Verify = %v, %v", ok, primary)
	}
	if ok, _ := rotated.Verify("d", "w", d2); ok {
		t.Fatal("wrong value verified")
	}
	if ok, _ := old.Verify("d", "v", d2); ok {
		t.Fatal("a keyring without k2 verified a k2 digest")
	}
	if got := rotated.OtherDigests("d", "v"); len(got) != 1 || !bytes.Equal(got[0], d1) {
		t.Fatalf("OtherDigests = %x, want [%x]", got, d1)
	}
	if !bytes.Equal(rotated.IDDigest("u", "x"), old.Digest("u", "x")) {
		t.Fatal("IDDigest changed with rotation")
	}
	// Sealed values of either key open; only the primary's are current.
	s1, _ := old.Seal("m", "c", []byte("p"))
	s2, _ := rotated.Seal("m", "c", []byte("p"))
	if out, primary, err := rotated.OpenCurrent("m", "c", s1); err != nil || primary || string(out) != "p" {
		t.Fatalf("open old sealed = %q, %v, %v", out, primary, err)
	}
	if out, primary, err := rotated.OpenCurrent("m", "c", s2); err != nil || !primary || string(out) != "p" {
		t.Fatalf("open new sealed = %q, %v, %v", out, primary, err)
	}
	if _, err := old.Open("m", "c", s2); err != ErrOpen {
		t.Fatalf("old keyring opened a k2 value: %v", err)
	}
	// Retiring k1 stops it verifying and opening, but not deriving IDs.
	retired := testKeys(t, "k2", "-k1")
	if ok, _ := retired.Verify("d", "v", d1); ok {
		t.Fatal("retired key verified a digest")
	}
	if _, err := retired.Open("m", "c", s1); err != ErrOpen {
		t.Fatalf("retired key opened: %v", err)
	}
	if !bytes.Equal(retired.IDDigest("u", "x"), old.Digest("u", "x")) {
		t.Fatal("IDDigest changed with retirement")
	}
	if retired.Multi() || !rotated.Multi() || old.Multi() {
		t.Fatal("Multi is wrong")
	}
}

func TestParseKeys(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	for _, in := range []string{hex64 + "\n", "hex:" + hex64, "  " + hex64 + "  \n\n"} {
		keys, err := ParseKeys(in)
		if err != nil || len(keys) != 1 || keys[0].ID != OriginalKeyID {
			t.Errorf("ParseKeys(%q) = %v, %v", in, keys, err)
		}
	}
	keys := []Key{{ID: "k3", Secret: bytes.Repeat([]byte{3}, 32)}, {ID: "k1", Secret: bytes.Repeat([]byte{1}, 32), Retired: true}}
	got, err := ParseKeys(FormatKeys(keys))
	if err != nil || len(got) != 2 || got[0].ID != "k3" || !got[1].Retired || !bytes.Equal(got[1].Secret, keys[1].Secret) {
		t.Fatalf("round trip = %v, %v", got, err)
	}
	for _, bad := range []string{"", "k1", "k1 " + hex64 + " maybe", "K1 " + hex64, "k1 abc\nk2 " + hex64} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
	if _, err := NewKeyringOf([]Key{{ID: "k2", Secret: make([]byte, 32)}}); err == nil {
		t.Error("a keyring without the original key was accepted")
	}
	if _, err := NewKeyringOf([]Key{{ID: "k1", Secret: make([]byte, 32), Retired: true}}); err == nil {
		t.Error("a keyring with only retired keys was accepted")
	}
}

func BenchmarkVerify(b *testing.B) {
	k, _ := NewKeyringOf([]Key{{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)}, {ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}})
	tok := Random(PrefixAccessToken, 32)
	d := k.Digest("token", tok)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := k.Verify("token", tok, d); !ok {
			b.Fatal("not verified")
		}
	}
}

// TestStaged: a staged key verifies, and what it made is current (never
// moved back to the older primary), while the older keys' values are
// stale.
func TestStaged(t *testing.T) {
	staged := testKeys(t, "k2", "k1")
	keys := staged.Keys()
	keys[0].Staged = true
	k, err := NewKeyringOf(keys)
	if err != nil {
		t.Fatal(err)
	}
	if k.Primary() != "k1" || !k.Multi() {
		t.Fatalf("primary = %s", k.Primary())
	}
	d2, d1 := staged.Digest("d", "v"), k.Digest("d", "v")
	if ok, current := k.Verify("d", "v", d2); !ok || !current || k.Stale(d2) {
		t.Fatal("a staged key's digest is not current")
	}
	if ok, current := staged.Verify("d", "v", d1); !ok || current || !staged.Stale(d1) {
		t.Fatal("the older key's digest is current after promotion")
	}
	if got, err := ParseKeys(FormatKeys(keys)); err != nil || !got[0].Staged || got[1].Staged {
		t.Fatalf("staged round trip = %v, %v", got, err)
	}
	if _, err := NewKeyringOf([]Key{{ID: "k1", Secret: make([]byte, 32), Staged: true}}); err == nil {
		t.Fatal("a keyring with only a staged key was accepted")
	}
}

// TestAppendMAC: the MAC depends on the key, the domain and every part,
// where one part ends and the next begins included, and allocates
// nothing into a buffer large enough.
func TestAppendMAC(t *testing.T) {
	k := mustKeyring(t)
	other, err := NewKeyring(bytes.Repeat([]byte{8}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	base := k.AppendMAC(nil, "d", "tok", "app", "user")
	if len(base) != 32 {
		t.Fatalf("MAC of %d bytes", len(base))
	}
	if !bytes.Equal(base, k.AppendMAC(nil, "d", "tok", "app", "user")) {
		t.Fatal("not deterministic")
	}
	for name, m := range map[string][]byte{
		"key":          other.AppendMAC(nil, "d", "tok", "app", "user"),
		"domain":       k.AppendMAC(nil, "e", "tok", "app", "user"),
		"a part":       k.AppendMAC(nil, "d", "tok", "app", "usex"),
		"a boundary":   k.AppendMAC(nil, "d", "tok", "ap", "puser"),
		"a NUL moved":  k.AppendMAC(nil, "d", "tok", "app\x00", "user"),
		"fewer parts":  k.AppendMAC(nil, "d", "tok", "appuser"),
		"digest alike": k.Digest("d", "tokappuser"),
	} {
		if bytes.Equal(base, m) {
			t.Errorf("the MAC does not change with %s", name)
		}
	}
	var buf [32]byte
	if n := testing.AllocsPerRun(100, func() { k.AppendMAC(buf[:0], "d", "tok", "app", "user") }); n != 0 && !raceEnabled {
		t.Errorf("%v allocations", n)
	}
}
