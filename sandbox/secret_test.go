package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/internal/memevents"
	"github.com/bankgate/bankgate/sqlite"
)

func TestHashSecret(t *testing.T) {
	h, err := hashSecret("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseHash(h)
	if err != nil || !strings.HasPrefix(h, "pbkdf2-sha256$25000$") || p.iter < 25_000 || len(p.salt) != 16 || len(p.key) != 32 {
		t.Fatalf("hash %q: %+v, %v", h, p, err)
	}
	if !checkSecret(h, "correct horse") || checkSecret(h, "correct horse ") || checkSecret(h, "") {
		t.Error("checkSecret does not tell the right secret from wrong ones")
	}
	if h2, _ := hashSecret("correct horse"); h2 == h {
		t.Error("two hashes of one secret are equal: no random salt")
	}
	for _, bad := range []string{"", "correct horse", "pbkdf2-sha256$x$AAAA$AAAA", "pbkdf2-sha256$0$AAAA$AAAA",
		"pbkdf2-sha256$999999999$AAAA$AAAA", "pbkdf2-sha1$25000$AAAA$AAAA", "pbkdf2-sha256$25000$!$AAAA"} {
		if checkSecret(bad, "correct horse") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
}

// Secrets of secretFixture, distinctive enough that finding them in a
// database file cannot be chance.
const (
	secretPassword = "Pa55word-at-rest-7f3c9e"
	secretAnswer0  = "First-School-Answer-b41d"
	secretAnswer1  = "pin-answer-92e6a0"
)

var secretFixture = `{"bankID":"SANDBOX_SA_SNB","username":"vault","password":"` + secretPassword + `",
"mfa":[{"id":"secret_question","index":0,"query":"First school?","answer":"  ` + secretAnswer0 + ` "},
       {"id":"pin","index":1,"query":"PIN?","answer":"` + secretAnswer1 + `"}],
"identity":{"name":"Vault Tester"},"accounts":[{"id":"vault-main","name":"Main","openingBalance":123.45}]}`

// TestFixtureSecretsAtRest persists fixtures to a SQLite database, dumps
// the database files and finds neither a password nor an MFA answer in
// them, then logs in from a new Connector on the same database.
func TestFixtureSecretsAtRest(t *testing.T) {
	t.Parallel() // CPU-bound and independent: uses both cores
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: testNow}
	b1 := New(Options{Now: clock.Now, Store: store})
	if err := b1.AddFixture(ctx, "", []byte(secretFixture)); err != nil {
		t.Fatal(err)
	}
	if err := b1.LoadFixtureDir(ctx, "testdata"); err != nil {
		t.Fatal(err)
	}
	s := loginFixture(t, b1, "SANDBOX_SA_SNB", "vault", secretPassword, secretAnswer0, secretAnswer1)
	if got := mustBalance(t, b1, s, "vault-main"); got != 12345 {
		t.Errorf("balance %v", got)
	}
	secrets := []string{secretPassword, secretAnswer0, secretAnswer1, "alice-pass"}

	// What the store keeps is the hashed fixture, and so is what the Connector
	// holds in memory.
	evs, err := store.Events(ctx, fixtureStream("SANDBOX_SA_SNB", "vault"), 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("fixture versions %d, %v", len(evs), err)
	}
	var stored map[string]any
	if err := json.Unmarshal(evs[0].Body, &stored); err != nil {
		t.Fatal(err)
	}
	if _, ok := stored["password"]; ok || !strings.HasPrefix(stored["passwordHash"].(string), "pbkdf2-sha256$") {
		t.Errorf("stored fixture %s", evs[0].Body)
	}
	if n := bytes.Count(evs[0].Body, []byte(`"answerHash":"pbkdf2-sha256$`)); n != 2 || bytes.Contains(evs[0].Body, []byte(`"answer"`)) {
		t.Errorf("stored fixture has %d answer hashes: %s", n, evs[0].Body)
	}
	b1.fmu.Lock()
	for key, e := range b1.fixtures {
		mem, _ := json.Marshal(e.fx)
		if e.fx.hasClearSecrets() || containsAny(mem, secrets) != "" {
			t.Errorf("fixture %q holds a secret in memory: %s", key, mem)
		}
	}
	b1.fmu.Unlock()

	// The same fixture again adds no version; a new password does.
	if err := b1.AddFixture(ctx, "", []byte(secretFixture)); err != nil {
		t.Fatal(err)
	}
	if evs, _ := store.Events(ctx, fixtureStream("SANDBOX_SA_SNB", "vault"), 0); len(evs) != 1 {
		t.Errorf("%d versions after adding the same fixture again, want 1", len(evs))
	}

	dump := func(when string) {
		t.Helper()
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			data, err := os.ReadFile(path + suffix)
			if os.IsNotExist(err) && suffix != "" {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte("pbkdf2-sha256$")) && suffix == "" && when == "closed" {
				t.Errorf("%s: the database file holds no password hash: is this the right file?", when)
			}
			if s := containsAny(data, secrets); s != "" {
				t.Errorf("%s: db%s (%d bytes) holds the secret %q in clear", when, suffix, len(data), s)
			}
		}
	}
	dump("open")
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	dump("closed")

	// A new Connector on the reopened database logs the fixture users in.
	store2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	b2 := New(Options{Now: clock.Now, Store: store2})
	s2 := loginFixture(t, b2, "SANDBOX_SA_SNB", "vault", secretPassword, " "+secretAnswer0+" ", secretAnswer1)
	if got := mustBalance(t, b2, s2, "vault-main"); got != 12345 {
		t.Errorf("balance after reopening %v", got)
	}
	loginFixture(t, b2, enbd, "alice", "alice-pass", "999999")
	_, err = b2.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_SA_SNB", Username: "vault", Password: secretPassword + "x"})
	wantCode(t, "wrong password", err, bankgate.InvalidCredentials)
	res, err := b2.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_SA_SNB", Username: "vault", Password: secretPassword})
	if err != nil || res.Challenge == nil {
		t.Fatalf("login: %+v, %v", res, err)
	}
	for _, answers := range [][]bankgate.UserInput{
		{{ID: "secret_question", Answer: secretAnswer0}, {ID: "pin", Answer: secretAnswer0}},
		{{ID: "secret_question", Answer: secretAnswer1}, {ID: "pin", Answer: secretAnswer1}},
		{{ID: "secret_question", Answer: secretAnswer0}},
	} {
		_, err = b2.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_SA_SNB", State: res.Challenge.State, Answers: answers})
		wantCode(t, "wrong answers", err, bankgate.InvalidMFA)
	}

	// A changed password is a new version; the old password stops working.
	changed := strings.Replace(secretFixture, secretPassword, secretPassword+"-2", 1)
	if err := b2.AddFixture(ctx, "", []byte(changed)); err != nil {
		t.Fatal(err)
	}
	if evs, _ := store2.Events(ctx, fixtureStream("SANDBOX_SA_SNB", "vault"), 0); len(evs) != 2 {
		t.Errorf("%d versions after changing the password, want 2", len(evs))
	}
	_, err = b2.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_SA_SNB", Username: "vault", Password: secretPassword})
	wantCode(t, "old password", err, bankgate.InvalidCredentials)
	loginFixture(t, b2, "SANDBOX_SA_SNB", "vault", secretPassword+"-2", secretAnswer0, secretAnswer1)
}

// containsAny returns the first of secrets that data holds, or "".
func containsAny(data []byte, secrets []string) string {
	for _, s := range secrets {
		if bytes.Contains(data, []byte(s)) {
			return s
		}
	}
	return ""
}

// TestFixtureLegacyClearVersion reads a fixture version stored, as before
// secrets were hashed, with its password in clear: it still logs in,
// memory holds only hashes, and adding the fixture again appends a hashed
// version even though nothing else changed.
func TestFixtureLegacyClearVersion(t *testing.T) {
	ctx := context.Background()
	log := memevents.New()
	b := newBankOn(&testClock{t: testNow}, log)
	f, err := decodeFixture([]byte(secretFixture))
	if err != nil || f.validate() != nil {
		t.Fatal(err)
	}
	legacy, _ := json.Marshal(f)
	stream := fixtureStream("SANDBOX_SA_SNB", "vault")
	if err := log.AppendEvent(ctx, stream, 1, testNow, legacy); err != nil {
		t.Fatal(err)
	}
	loginFixture(t, b, "SANDBOX_SA_SNB", "vault", secretPassword, secretAnswer0, secretAnswer1)
	e, err := b.fixtureEntry(ctx, fixtureStream("SANDBOX_SA_SNB", "vault"))
	if err != nil || !e.legacy || e.fx.hasClearSecrets() {
		t.Fatalf("entry %+v, %v", e, err)
	}
	if err := b.AddFixture(ctx, "", []byte(secretFixture)); err != nil {
		t.Fatal(err)
	}
	evs, _ := log.Events(ctx, stream, 0)
	if len(evs) != 2 || containsAny(evs[1].Body, []string{secretPassword, secretAnswer0, secretAnswer1}) != "" {
		t.Fatalf("%d versions; the last %s", len(evs), evs[len(evs)-1].Body)
	}
	loginFixture(t, b, "SANDBOX_SA_SNB", "vault", secretPassword, secretAnswer0, secretAnswer1)
	// Now hashed, the same fixture adds nothing.
	if err := b.AddFixture(ctx, "", []byte(secretFixture)); err != nil {
		t.Fatal(err)
	}
	if evs, _ := log.Events(ctx, stream, 0); len(evs) != 2 {
		t.Errorf("%d versions, want 2", len(evs))
	}
}
