package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/internal/memevents"
	"github.com/google/go-cmp/cmp"
)

// loginFixture logs a fixture user in with its password and MFA answers.
func loginFixture(tb testing.TB, b *Connector, bankID, user, password string, answers ...string) bank.Session {
	tb.Helper()
	ctx := context.Background()
	res, err := b.Login(ctx, bank.LoginRequest{BankID: bankID, Username: user, Password: password})
	if err != nil {
		tb.Fatalf("login %s: %v", user, err)
	}
	if res.Challenge != nil {
		var in []bankgate.UserInput
		for i, q := range res.Challenge.Inputs {
			in = append(in, bankgate.UserInput{ID: q.ID, Index: q.Index, Answer: answers[i]})
		}
		if res, err = b.Login(ctx, bank.LoginRequest{BankID: bankID, State: res.Challenge.State, Answers: in}); err != nil {
			tb.Fatalf("resume login %s: %v", user, err)
		}
	}
	return bank.Session{BankID: bankID, Data: res.Session}
}

func TestFixtureExample(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: testNow}
	log := memevents.New()
	b := newBankOn(clock, log)
	if err := b.LoadFixtureDir(ctx, "testdata"); err != nil {
		t.Fatal(err)
	}
	// Wrong passwords, the generated user's included, fail; the MFA is the
	// fixture's.
	for _, pw := range []string{PasswordGood, "nope"} {
		_, err := b.Login(ctx, bank.LoginRequest{BankID: enbd, Username: "alice", Password: pw})
		wantCode(t, "password "+pw, err, bankgate.InvalidCredentials)
	}
	res, err := b.Login(ctx, bank.LoginRequest{BankID: enbd, Username: "alice", Password: "alice-pass"})
	if err != nil || res.Challenge == nil {
		t.Fatalf("login: %+v, %v; want a challenge", res, err)
	}
	wantIn := []bankgate.UserInput{{ID: "otp", Index: 0, QueryType: "txt", Query: "Enter the code we sent to your phone"}}
	if diff := cmp.Diff(wantIn, res.Challenge.Inputs); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
	}
	_, err = b.Login(ctx, bank.LoginRequest{BankID: enbd, State: res.Challenge.State, Answers: []bankgate.UserInput{{ID: "otp", Answer: AnswerOTP}}})
	wantCode(t, "the generated user's OTP", err, bankgate.InvalidMFA)
	s := loginFixture(t, b, enbd, "alice", "alice-pass", "999999")

	id, _, err := b.Identity(ctx, &bank.Call{Session: s})
	if err != nil {
		t.Fatal(err)
	}
	wantID := &bankgate.Identity{Name: "Alice Example", Nationality: "UNITED KINGDOM", DateOfBirth: "1990-04-01",
		EmailAddress: "alice@example.com", Numbers: []bankgate.PhoneNumber{{Type: "mobile", Value: "+971501234567"}},
		Address: bankgate.Address{Flat: "1204", Building: "Marina Heights", Full: "Flat 1204, Marina Heights, Dubai Marina, Dubai, United Arab Emirates",
			Area: "Dubai Marina", PoBox: "12345", City: "Dubai", State: "Dubai", Country: "UNITED ARAB EMIRATES"},
		Identifications: []bankgate.Identification{{Type: "passport", Value: "X1234567"}}}
	if diff := cmp.Diff(wantID, id); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
	accts := mustAccounts(t, b, s)
	aed := bankgate.Currencies["AED"]
	if len(accts) != 2 {
		t.Fatalf("accounts %+v", accts)
	}
	if a := accts[0]; a.ID != "alice-main" || a.Name != "Main" || a.Type != "current" || a.IBAN != "AE850260000001122334455" ||
		a.Balance != 100050-25000+1200000-650000 || a.Currency != aed || !a.IsFavourite {
		t.Errorf("main account %+v", a)
	}
	if a := accts[1]; a.Type != "savings" || !ValidIBAN(a.IBAN) || !strings.HasPrefix(a.IBAN, "AE") || a.IBAN[4:7] != "026" ||
		a.Balance != 2000000 || a.ID == "" || a.Number == "" || !strings.HasSuffix(a.IBAN, a.Number) {
		t.Errorf("savings account %+v", a)
	}
	txs, _, err := b.Transactions(ctx, &bank.Call{Session: s}, "alice-main", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Date          string
		Amount        bankgate.Money
		Type          string
		Before, After bankgate.Money
		Desc, Cat     string
	}
	var got []row
	for _, tx := range txs {
		got = append(got, row{tx.Date.Format(time.DateOnly), tx.Amount, tx.Type, tx.BeforeAmount, tx.AfterAmount, tx.Description, tx.Category})
		if tx.Reference == "" || tx.Currency != aed || tx.Details == "" {
			t.Errorf("transaction %+v", tx)
		}
	}
	want := []row{
		{"2026-01-05", 25000, "debit", 100050, 75050, "Carrefour", "Groceries"},
		{"2026-01-25", 1200000, "credit", 75050, 1275050, "Salary - Example LLC", "Salary"},
		{"2026-02-01", 650000, "debit", 1275050, 625050, "Rent - Example Properties", "Rent"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transactions (-want +got):\n%s", diff)
	}
	if cards, err := cardsAt(b, s, testNow); err != nil || len(cards) != 0 {
		t.Errorf("cards %+v, %v", cards, err)
	}
	bens, _, _ := b.Beneficiaries(ctx, &bank.Call{Session: s})
	if len(bens) != 1 || bens[0].Name != "Bob Example" || bens[0].IBAN != "AE570330000001234567890" {
		t.Errorf("beneficiaries %+v", bens)
	}
	// A fixture user pays like any other, and its IBANs receive money.
	mustTransfer(t, b, s, bankgate.TransferRequest{SenderID: "alice-main", ReceiverID: bens[0].ID, Amount: 5050})
	if got := mustBalance(t, b, s, "alice-main"); got != 620000 {
		t.Errorf("balance after payment %v", got)
	}
	gs := MustLogin(t, b, enbd, UserGood)
	gcur := mustAccounts(t, b, gs)[0]
	mustBeneficiary(t, b, gs, bankgate.Beneficiary{Name: "Alice", IBAN: "AE850260000001122334455", Type: "same"})
	clock.Advance(6 * time.Hour)
	mustTransfer(t, b, gs, bankgate.TransferRequest{SenderID: gcur.ID, IBAN: "AE850260000001122334455", Amount: 10000})
	if got := mustBalance(t, b, s, "alice-main"); got != 630000 {
		t.Errorf("balance after receiving %v", got)
	}

	// Another instance on the same store serves the fixture without
	// loading it, and loading it again adds no version.
	b2 := newBankOn(clock, log)
	s2 := loginFixture(t, b2, enbd, "alice", "alice-pass", "999999")
	if got := mustBalance(t, b2, s2, "alice-main"); got != 630000 {
		t.Errorf("second instance balance %v", got)
	}
	if err := b2.LoadFixtureDir(ctx, "testdata"); err != nil {
		t.Fatal(err)
	}
	if evs, _ := log.Events(ctx, fixtureStream(enbd, "alice"), 0); len(evs) != 1 {
		t.Errorf("%d fixture versions after loading twice, want 1", len(evs))
	}
}

func TestFixtureReplace(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: testNow}
	log := memevents.New()
	b1, b2 := newBankOn(clock, log), newBankOn(clock, log)
	v1 := `{"bankID":"SANDBOX_SA_RAJHI","username":"user_good","password":"p1","identity":{"name":"One"},"accounts":[{"id":"a","name":"A","openingBalance":10}]}`
	v2 := `{"username":"user_good","password":"p2","identity":{"name":"Two"},"accounts":[{"id":"a","name":"A","openingBalance":20},{"id":"b","name":"B","currency":"USD","openingBalance":5.25}]}`
	// Before any fixture, the generated user_good.
	gs := MustLogin(t, b1, "SANDBOX_SA_RAJHI", UserGood)
	if n := len(mustAccounts(t, b1, gs)); n != 3 {
		t.Fatalf("generated user_good has %d accounts", n)
	}
	if err := b1.AddFixture(ctx, "", []byte(v1)); err != nil {
		t.Fatal(err)
	}
	// The generated user is gone, even for a session made before.
	if a := mustAccounts(t, b1, gs); len(a) != 1 || a[0].Balance != 1000 {
		t.Errorf("accounts after fixture %+v", a)
	}
	_, err := b1.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_SA_RAJHI", Username: UserGood, Password: PasswordGood})
	wantCode(t, "generated password", err, bankgate.InvalidCredentials)
	if err := b2.AddFixture(ctx, "SANDBOX_SA_RAJHI", []byte(v2)); err != nil {
		t.Fatal(err)
	}
	s := loginFixture(t, b1, "SANDBOX_SA_RAJHI", UserGood, "p2")
	a := mustAccounts(t, b1, s)
	if len(a) != 2 || a[0].Balance != 2000 || a[1].Currency.Code != "USD" || a[1].Balance != 525 {
		t.Errorf("accounts after the second version %+v", a)
	}
	if evs, _ := log.Events(ctx, fixtureStream("SANDBOX_SA_RAJHI", UserGood), 0); len(evs) != 2 {
		t.Errorf("%d versions, want 2", len(evs))
	}
	// A bank mismatch is refused.
	err = b1.AddFixture(ctx, enbd, []byte(v1))
	if err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("mismatched bank: %v", err)
	}
}

func TestBadFixtures(t *testing.T) {
	b, _ := newTestBank(t)
	ctx := context.Background()
	good := `"bankID":"SANDBOX_AE_ENBD","username":"u","password":"p","identity":{"name":"N"}`
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{`, "decode"},
		{"unknown field", `{` + good + `,"colour":"red"}`, "unknown field"},
		{"trailing data", `{` + good + `} {}`, "after the fixture"},
		{"no bank", `{"username":"u","password":"p","identity":{"name":"N"}}`, "bankID is required"},
		{"unknown bank", `{"bankID":"NOPE","username":"u","password":"p","identity":{"name":"N"}}`, "not a sandbox bank"},
		{"no username", `{"bankID":"SANDBOX_AE_ENBD","password":"p","identity":{"name":"N"}}`, "username is required"},
		{"username with a space", `{"bankID":"SANDBOX_AE_ENBD","username":"a b","password":"p","identity":{"name":"N"}}`, "without spaces"},
		{"no password", `{"bankID":"SANDBOX_AE_ENBD","username":"u","identity":{"name":"N"}}`, "password is required"},
		{"no identity name", `{"bankID":"SANDBOX_AE_ENBD","username":"u","password":"p","identity":{}}`, "identity.name is required"},
		{"bad mfa id", `{` + good + `,"mfa":[{"id":"face","index":0,"query":"q","answer":"a"}]}`, "mfa[0].id"},
		{"bad mfa index", `{` + good + `,"mfa":[{"id":"otp","index":1,"query":"q","answer":"a"}]}`, "mfa[0].index"},
		{"password hash given", `{` + good + `,"passwordHash":"pbkdf2-sha256$25000$AAAA$AAAA"}`, "passwordHash"},
		{"answer hash given", `{` + good + `,"mfa":[{"id":"otp","index":0,"query":"q","answer":"a","answerHash":"x"}]}`, "answerHash"},
		{"mfa without answer", `{` + good + `,"mfa":[{"id":"otp","index":0,"query":"q"}]}`, "mfa[0].answer"},
		{"bad birth date", `{"bankID":"SANDBOX_AE_ENBD","username":"u","password":"p","identity":{"name":"N","dateOfBirth":"01/02/1990"}}`, "dateOfBirth"},
		{"account without name", `{` + good + `,"accounts":[{"openingBalance":1}]}`, "accounts[0].name is required"},
		{"bad account type", `{` + good + `,"accounts":[{"name":"A","type":"crypto"}]}`, "accounts[0].type"},
		{"bad currency", `{` + good + `,"accounts":[{"name":"A","currency":"XXX"}]}`, "accounts[0].currency"},
		{"bad IBAN", `{` + good + `,"accounts":[{"name":"A","iban":"AE070331234567890123457"}]}`, "not a valid IBAN"},
		{"repeated ID", `{` + good + `,"accounts":[{"id":"x","name":"A"},{"id":"x","name":"B"}]}`, "accounts[1].id"},
		{"three decimals", `{` + good + `,"accounts":[{"name":"A","openingBalance":1.005}]}`, "two decimals"},
		{"bad date", `{` + good + `,"accounts":[{"name":"A","transactions":[{"date":"5 Jan","amount":1,"type":"debit","description":"d"}]}]}`, "accounts[0].transactions[0]: date"},
		{"zero amount", `{` + good + `,"accounts":[{"name":"A","transactions":[{"date":"2026-01-05","amount":0,"type":"debit","description":"d"}]}]}`, "amount"},
		{"bad type", `{` + good + `,"accounts":[{"name":"A","transactions":[{"date":"2026-01-05","amount":1,"type":"refund","description":"d"}]}]}`, "credit or debit"},
		{"no description", `{` + good + `,"accounts":[{"name":"A","transactions":[{"date":"2026-01-05","amount":1,"type":"debit"}]}]}`, "description is required"},
		{"bad beneficiary", `{` + good + `,"beneficiaries":[{"name":"B"}]}`, "beneficiaries[0]"},
		{"too many accounts", `{` + good + `,"accounts":[` + strings.Repeat(`{"name":"A"},`, maxFixtureAccounts) + `{"name":"A"}]}`, "at most 50 accounts"},
		{"long account name", `{` + good + `,"accounts":[{"name":"` + strings.Repeat("n", maxFixtureAccountField+1) + `"}]}`, "accounts[0].name is longer"},
		{"long account ID", `{` + good + `,"accounts":[{"id":"` + strings.Repeat("i", maxFixtureAccountField+1) + `","name":"A"}]}`, "accounts[0].id is longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.AddFixture(ctx, "", []byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("AddFixture: %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	// LoadFixtureDir names the file; arrays hold several fixtures.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.json"), []byte(`[{`+good+`}, {"bankID":"SANDBOX_SA_SNB","username":"v","password":"p","identity":{"name":"M"}}]`), 0o644)
	if err := b.LoadFixtureDir(ctx, dir); err != nil {
		t.Fatal(err)
	}
	loginFixture(t, b, "SANDBOX_SA_SNB", "v", "p")
	os.WriteFile(filepath.Join(dir, "b.json"), []byte(`{"bankID":"SANDBOX_SA_SNB"}`), 0o644)
	if err := b.LoadFixtureDir(ctx, dir); err == nil || !strings.Contains(err.Error(), "b.json") {
		t.Errorf("bad file: %v", err)
	}
}
