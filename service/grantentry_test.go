package service

import (
	"bytes"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
)

// TestGrantEntryParts: every part of a grant entry reads back what went
// in, as read from the store, once its session is open, and once
// remembered as a verified request; and no part's slice reaches into the
// next.
func TestGrantEntryParts(t *testing.T) {
	g := &bankgate.Grant{
		Token: bankgate.Token{ID: "tok-1", AppID: "app-1", CodeDigest: bytes.Repeat([]byte{'c'}, 32)},
		Connection: bankgate.Connection{ID: "conn-12", BankID: "BANK", UserID: "user-123",
			UserSecretDigest: append([]byte("k2."), bytes.Repeat([]byte{'u'}, 32)...),
			Sealed:           append(bytes.Repeat([]byte{'n'}, 12), bytes.Repeat([]byte{'t'}, 20)...)},
	}
	digest := append([]byte("k2."), bytes.Repeat([]byte{'d'}, 32)...)
	sess, rd, appDigest := []byte("the open session"), bytes.Repeat([]byte{'r'}, 32), bytes.Repeat([]byte{'a'}, 32)
	intern := func(v string) string { return v }
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	type want struct {
		appDigest, key, sealed, session []byte
		kind                            grantKind
		touched                         int64
	}
	check := func(name string, e *grantEntry, w want) {
		t.Helper()
		if e.connID() != g.Connection.ID || e.tokenID() != g.Token.ID || e.userID() != g.Connection.UserID {
			t.Errorf("%s: IDs %q, %q, %q", name, e.connID(), e.tokenID(), e.userID())
		}
		for _, c := range []struct {
			part      string
			got, want []byte
		}{
			{"userSecretDigest", e.userSecretDigest(), g.Connection.UserSecretDigest},
			{"codeDigest", e.codeDigest(), g.Token.CodeDigest},
			{"appSecretDigest", e.appSecretDigest(), w.appDigest},
			{"key", e.key(), w.key},
			{"sealed", e.sealed(), w.sealed},
			{"session", e.session(), w.session},
		} {
			if !bytes.Equal(c.got, c.want) {
				t.Errorf("%s: %s = %q, want %q", name, c.part, c.got, c.want)
			}
			if cap(c.got) != len(c.got) {
				t.Errorf("%s: %s has room for %d more bytes, the next part's", name, c.part, cap(c.got)-len(c.got))
			}
		}
		// nil is what says which of the two the entry holds.
		if (e.sealed() == nil) != (w.sealed == nil) || (e.session() == nil) != (w.session == nil) {
			t.Errorf("%s: sealed %v, session %v", name, e.sealed() != nil, e.session() != nil)
		}
		if e.appID != g.Token.AppID || e.bankID != g.Connection.BankID || !e.fetchedAt().Equal(now) || e.denied != grantUsable ||
			e.sealedTag != [16]byte(bytes.Repeat([]byte{'t'}, 16)) || e.touched.Load() != w.touched {
			t.Errorf("%s: %+v", name, e)
		}
		k, ok := e.cacheKey()
		if wk, _ := makeGrantKey(w.kind, w.key); e.kind != w.kind || ok != (w.kind != grantUncached) || ok && k != wk {
			t.Errorf("%s: cached as %v (%v), kind %d, want kind %d", name, k, ok, e.kind, w.kind)
		}
	}

	read := newGrantEntry(g, now, intern, digest, nil)
	read.touched.Store(7)
	check("read", read, want{key: digest, sealed: g.Connection.Sealed, kind: grantByDigest, touched: 7})
	opened := read.withSession(sess)
	check("opened", opened, want{key: digest, session: sess, kind: grantByDigest, touched: 7})
	verified := read.verified(rd, appDigest, sess)
	check("verified", verified, want{appDigest: appDigest, key: rd, session: sess, kind: grantByRequest, touched: 7})
	check("opened, re-read", newGrantEntry(g, now, intern, digest, opened.sessionFor(g)), want{key: digest, session: sess, kind: grantByDigest})
	check("uncached", newGrantEntry(g, now, intern, nil, nil), want{sealed: g.Connection.Sealed, kind: grantUncached})

	// A re-read keeps the session only while the connection still has it.
	if read.sessionFor(g) != nil || (*grantEntry)(nil).sessionFor(g) != nil {
		t.Error("a session found where none was open")
	}
	resealed := *g
	resealed.Connection.Sealed = bytes.Repeat([]byte{'x'}, 32)
	redigested := *g
	redigested.Connection.UserSecretDigest = bytes.Repeat([]byte{'v'}, 32)
	if opened.sessionFor(&resealed) != nil || opened.sessionFor(&redigested) != nil {
		t.Error("a session kept for a connection sealed again or under another userSecret digest")
	}
}

// TestGrantKeys: every token digest (under a key ID of the longest
// kind) and request MAC fits a grant cache key, and a digest and a MAC of
// the same bytes are two keys.
func TestGrantKeys(t *testing.T) {
	keys, err := secret.NewKeyringOf([]secret.Key{
		{ID: "abcdefgh", Secret: bytes.Repeat([]byte{2}, secret.KeySize)},
		{ID: secret.OriginalKeyID, Secret: bytes.Repeat([]byte{1}, secret.KeySize)},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := keys.Digest(domainToken, "bgat_x")
	if _, size := secret.DigestSelector("abcdefgh"); len(d) != size || size > len(grantKey{}.b) {
		t.Fatalf("a digest of %d bytes (selector %d) for a key of %d", len(d), size, len(grantKey{}.b))
	}
	rd := keys.AppendMAC(nil, domainRequest, "bgat_x", "bgas_y", "bgus_z")
	for _, v := range [][]byte{d, rd} {
		if k, ok := makeGrantKey(grantByDigest, v); !ok || k.n != uint8(len(v)) || !bytes.Equal(k.b[:k.n], v) {
			t.Errorf("%x: key %+v, %v", v, k, ok)
		}
	}
	kd, _ := makeGrantKey(grantByDigest, rd)
	kr, _ := makeGrantKey(grantByRequest, rd)
	if kd == kr {
		t.Error("a digest and a request MAC of the same bytes are one key")
	}
	if _, ok := makeGrantKey(grantByDigest, make([]byte, len(grantKey{}.b)+1)); ok {
		t.Error("a key longer than a grant key's bytes was made")
	}
}
