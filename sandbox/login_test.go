package sandbox

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, time.March, 15, 12, 0, 0, 0, time.UTC)

// testClock is an injectable clock tests move by hand.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time          { return c.t }
func (c *testClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestBank(tb testing.TB) (*Connector, *testClock) {
	tb.Helper()
	c := &testClock{t: testNow}
	return New(Options{Now: c.Now}), c
}

// MustLogin logs user in at bankID with the good password, answering any
// challenge correctly, and returns the session.
func MustLogin(tb testing.TB, b *Connector, bankID, user string) bank.Session {
	tb.Helper()
	res, err := b.Login(context.Background(), bank.LoginRequest{BankID: bankID, Username: user, Password: PasswordGood})
	if err != nil {
		tb.Fatalf("login %s at %s: %v", user, bankID, err)
	}
	if res.Challenge != nil {
		var answers []bankgate.UserInput
		for _, in := range res.Challenge.Inputs {
			a := map[string]string{"otp": AnswerOTP, "secret_question": AnswerSecretQuestion, "pin": AnswerPIN}[in.ID]
			answers = append(answers, bankgate.UserInput{ID: in.ID, Index: in.Index, Answer: a})
		}
		res, err = b.Login(context.Background(), bank.LoginRequest{BankID: bankID, State: res.Challenge.State, Answers: answers})
		if err != nil {
			tb.Fatalf("resume login %s at %s: %v", user, bankID, err)
		}
	}
	if res.Session == nil {
		tb.Fatalf("login %s at %s: no session", user, bankID)
	}
	return bank.Session{BankID: bankID, ConnectionID: "conn-" + user, Data: res.Session}
}

func TestBanks(t *testing.T) {
	b, _ := newTestBank(t)
	banks := b.Banks()
	if len(banks) < 4 {
		t.Fatalf("got %d banks, want at least 4", len(banks))
	}
	countries := map[string]bool{}
	for i, bk := range banks {
		if i > 0 && banks[i-1].ID >= bk.ID {
			t.Errorf("banks not sorted by ID: %q before %q", banks[i-1].ID, bk.ID)
		}
		if !bk.Sandbox || bk.Name == "" || bk.ShortName == "" || bk.PrimaryColor == "" || bk.Logo == "" {
			t.Errorf("bank %q incomplete: %+v", bk.ID, bk)
		}
		if len(bk.SwiftCode) != 8 || bk.SwiftCode[4:6] != bk.Country {
			t.Errorf("bank %q: SWIFT code %q does not match country %q", bk.ID, bk.SwiftCode, bk.Country)
		}
		want := map[string]string{"AE": "UNITED ARAB EMIRATES", "SA": "SAUDI ARABIA"}[bk.Country]
		if bk.CountryName != want {
			t.Errorf("bank %q: country name %q, want %q", bk.ID, bk.CountryName, want)
		}
		countries[bk.Country] = true
		got, ok := b.Bank(bk.ID)
		if !ok || got != bk {
			t.Errorf("Bank(%q) = %+v, %v", bk.ID, got, ok)
		}
	}
	if !countries["AE"] || !countries["SA"] {
		t.Errorf("countries = %v, want AE and SA", countries)
	}
	if _, ok := b.Bank("NOPE"); ok {
		t.Error("Bank(NOPE) found")
	}
	banks[0].Name = "changed"
	if b.Banks()[0].Name == "changed" {
		t.Error("Banks returned its internal slice")
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		bank     string
		user     string
		password string
		wantCode bankgate.Code
		wantMFA  []string // input IDs of the challenge
	}{
		{name: "good", bank: "SANDBOX_AE_ENBD", user: UserGood, password: PasswordGood},
		{name: "good SA", bank: "SANDBOX_SA_RAJHI", user: UserGood, password: PasswordGood},
		{name: "transfer user", bank: "SANDBOX_AE_ADCB", user: UserTransferMFA, password: PasswordGood},
		{name: "empty user", bank: "SANDBOX_SA_SNB", user: UserEmpty, password: PasswordGood},
		{name: "any user", bank: "SANDBOX_AE_FAB", user: "khalid.test", password: PasswordGood},
		{name: "mfa", bank: "SANDBOX_AE_ENBD", user: UserMFA, password: PasswordGood, wantMFA: []string{"otp"}},
		{name: "multi mfa", bank: "SANDBOX_SA_RIYAD", user: UserMultiMFA, password: PasswordGood, wantMFA: []string{"secret_question", "pin"}},
		{name: "wrong password", bank: "SANDBOX_AE_ENBD", user: UserGood, password: "pass_bad", wantCode: bankgate.InvalidCredentials},
		{name: "mfa wrong password", bank: "SANDBOX_AE_ENBD", user: UserMFA, password: "nope", wantCode: bankgate.InvalidCredentials},
		{name: "unknown bank", bank: "DAPIBANK_AE_ADCB", user: UserGood, password: PasswordGood, wantCode: bankgate.InvalidBankID},
		{name: "empty bank", bank: "", user: UserGood, password: PasswordGood, wantCode: bankgate.InvalidBankID},
		{name: "empty username", bank: "SANDBOX_AE_ENBD", user: "", password: PasswordGood, wantCode: bankgate.InvalidCredentials},
		{name: "empty password", bank: "SANDBOX_AE_ENBD", user: UserGood, password: "", wantCode: bankgate.InvalidCredentials},
		{name: "error type", bank: "SANDBOX_AE_ENBD", user: "error_TEMPORARILY_UNAVAILABLE", password: PasswordGood, wantCode: bankgate.TemporarilyUnavailable},
		{name: "error type locked", bank: "SANDBOX_SA_SNB", user: "error_ACCOUNT_LOCKED", password: PasswordGood, wantCode: bankgate.AccountLocked},
		{name: "error type other", bank: "SANDBOX_SA_SNB", user: "error_BENEFICIARY_COOL_DOWN_PERIOD", password: PasswordGood, wantCode: bankgate.BeneficiaryCoolDown},
		{name: "error type unknown", bank: "SANDBOX_AE_ENBD", user: "error_NO_SUCH_THING", password: PasswordGood, wantCode: bankgate.InvalidCredentials},
		{name: "error type lower case", bank: "SANDBOX_AE_ENBD", user: "error_invalid_mfa", password: PasswordGood, wantCode: bankgate.InvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newTestBank(t)
			res, err := b.Login(context.Background(), bank.LoginRequest{BankID: tt.bank, Username: tt.user, Password: tt.password})
			if got := bankgate.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("error code = %q (%v), want %q", got, err, tt.wantCode)
			}
			if err != nil {
				if msg := bankgate.ErrorMessage(err); msg == "" || !strings.HasSuffix(msg, ".") {
					t.Errorf("message %q is not a sentence", msg)
				}
				return
			}
			if tt.wantMFA != nil {
				if res.Challenge == nil || res.Session != nil {
					t.Fatalf("got %+v, want a challenge only", res)
				}
				var ids []string
				for i, in := range res.Challenge.Inputs {
					ids = append(ids, in.ID)
					if in.Index != i || in.QueryType != "txt" || in.Query == "" {
						t.Errorf("input %d = %+v", i, in)
					}
				}
				if diff := cmp.Diff(tt.wantMFA, ids); diff != "" {
					t.Errorf("input IDs (-want +got):\n%s", diff)
				}
				if strings.Contains(string(res.Challenge.State), tt.password) {
					t.Errorf("state %s holds the password", res.Challenge.State)
				}
				return
			}
			if res.Challenge != nil {
				t.Fatalf("unexpected challenge %+v", res.Challenge)
			}
			want := `{"bank":"` + tt.bank + `","user":"` + tt.user + `"}`
			if string(res.Session) != want {
				t.Errorf("session = %s, want %s", res.Session, want)
			}
			if res.UserKey != tt.user {
				t.Errorf("UserKey = %q, want %q", res.UserKey, tt.user)
			}
		})
	}
}

func TestLoginMFA(t *testing.T) {
	type in = bankgate.UserInput
	tests := []struct {
		name     string
		user     string
		answers  []in
		wantCode bankgate.Code
	}{
		{name: "otp by id", user: UserMFA, answers: []in{{ID: "otp", Answer: AnswerOTP}}},
		{name: "otp by index", user: UserMFA, answers: []in{{Index: 0, Answer: AnswerOTP}}},
		{name: "otp with spaces", user: UserMFA, answers: []in{{ID: "otp", Answer: " 123456 "}}},
		{name: "otp wrong", user: UserMFA, answers: []in{{ID: "otp", Answer: "654321"}}, wantCode: bankgate.InvalidMFA},
		{name: "otp wrong index", user: UserMFA, answers: []in{{Index: 1, Answer: AnswerOTP}}, wantCode: bankgate.InvalidMFA},
		{name: "otp missing", user: UserMFA, wantCode: bankgate.InvalidMFA},
		{name: "otp empty", user: UserMFA, answers: []in{{ID: "otp"}}, wantCode: bankgate.InvalidMFA},
		{name: "multi by id", user: UserMultiMFA, answers: []in{
			{ID: "pin", Index: 1, Answer: AnswerPIN}, {ID: "secret_question", Index: 0, Answer: AnswerSecretQuestion}}},
		{name: "multi by index", user: UserMultiMFA, answers: []in{{Index: 0, Answer: "Sandbox"}, {Index: 1, Answer: AnswerPIN}}},
		{name: "multi wrong pin", user: UserMultiMFA, answers: []in{
			{ID: "secret_question", Answer: AnswerSecretQuestion}, {ID: "pin", Index: 1, Answer: "0000"}}, wantCode: bankgate.InvalidMFA},
		{name: "multi wrong question", user: UserMultiMFA, answers: []in{
			{ID: "secret_question", Answer: "school"}, {ID: "pin", Index: 1, Answer: AnswerPIN}}, wantCode: bankgate.InvalidMFA},
		{name: "multi swapped", user: UserMultiMFA, answers: []in{{Index: 0, Answer: AnswerPIN}, {Index: 1, Answer: AnswerSecretQuestion}}, wantCode: bankgate.InvalidMFA},
		{name: "multi one answer", user: UserMultiMFA, answers: []in{{ID: "secret_question", Answer: AnswerSecretQuestion}}, wantCode: bankgate.InvalidMFA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newTestBank(t)
			ctx := context.Background()
			res, err := b.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_AE_ADCB", Username: tt.user, Password: PasswordGood})
			if err != nil || res.Challenge == nil {
				t.Fatalf("first step = %+v, %v; want a challenge", res, err)
			}
			res, err = b.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_AE_ADCB", State: res.Challenge.State, Answers: tt.answers})
			if got := bankgate.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("error code = %q (%v), want %q", got, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			want := `{"bank":"SANDBOX_AE_ADCB","user":"` + tt.user + `"}`
			if res.Challenge != nil || string(res.Session) != want || res.UserKey != tt.user {
				t.Errorf("result = %+v (session %s), want session %s", res, res.Session, want)
			}
		})
	}
}

func TestLoginResumeBadState(t *testing.T) {
	b, _ := newTestBank(t)
	ctx := context.Background()
	res, err := b.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_AE_ADCB", Username: UserMFA, Password: PasswordGood})
	if err != nil {
		t.Fatal(err)
	}
	answers := []bankgate.UserInput{{ID: "otp", Answer: AnswerOTP}}
	tests := []struct {
		name     string
		bank     string
		state    []byte
		wantCode bankgate.Code
	}{
		{"garbage", "SANDBOX_AE_ADCB", []byte("not json"), bankgate.InvalidMFA},
		{"empty object", "SANDBOX_AE_ADCB", []byte("{}"), bankgate.InvalidMFA},
		{"other bank", "SANDBOX_AE_ENBD", res.Challenge.State, bankgate.InvalidMFA},
		{"unknown bank", "NOPE", res.Challenge.State, bankgate.InvalidBankID},
		{"no bank in request", "", res.Challenge.State, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Login(ctx, bank.LoginRequest{BankID: tt.bank, State: tt.state, Answers: answers})
			if got := bankgate.ErrorCode(err); got != tt.wantCode {
				t.Errorf("error code = %q (%v), want %q", got, err, tt.wantCode)
			}
		})
	}
}

func TestLockout(t *testing.T) {
	b, clock := newTestBank(t)
	ctx := context.Background()
	login := func(bankID, user, password string) bankgate.Code {
		t.Helper()
		_, err := b.Login(ctx, bank.LoginRequest{BankID: bankID, Username: user, Password: password})
		return bankgate.ErrorCode(err)
	}
	const enbd, adcb = "SANDBOX_AE_ENBD", "SANDBOX_AE_ADCB"

	// Four failures, a success, four more failures: the success reset the
	// count, so the account is not locked.
	for range 4 {
		if got := login(enbd, "reset", "wrong"); got != bankgate.InvalidCredentials {
			t.Fatalf("failure = %q", got)
		}
	}
	if got := login(enbd, "reset", PasswordGood); got != "" {
		t.Fatalf("good login after 4 failures = %q", got)
	}
	for range 4 {
		if got := login(enbd, "reset", "wrong"); got != bankgate.InvalidCredentials {
			t.Fatalf("failure after reset = %q", got)
		}
	}
	if got := login(enbd, "reset", PasswordGood); got != "" {
		t.Fatalf("good login after reset and 4 failures = %q", got)
	}

	// Five failures lock the username at that bank.
	for i := range MaxFailedLogins {
		if got := login(enbd, UserGood, "wrong"); got != bankgate.InvalidCredentials {
			t.Fatalf("failure %d = %q", i+1, got)
		}
		clock.Advance(time.Second)
	}
	lockedAt := clock.t.Add(-time.Second)
	steps := []struct {
		name     string
		at       time.Time
		bank     string
		user     string
		password string
		want     bankgate.Code
	}{
		{"right password while locked", lockedAt.Add(time.Minute), enbd, UserGood, PasswordGood, bankgate.AccountLocked},
		{"wrong password while locked", lockedAt.Add(2 * time.Minute), enbd, UserGood, "wrong", bankgate.AccountLocked},
		{"other bank not locked", lockedAt.Add(2 * time.Minute), adcb, UserGood, PasswordGood, ""},
		{"other user not locked", lockedAt.Add(2 * time.Minute), enbd, UserMFA, PasswordGood, ""},
		{"just before unlock", lockedAt.Add(LockoutDuration - time.Nanosecond), enbd, UserGood, PasswordGood, bankgate.AccountLocked},
		{"unlocked after 15 minutes", lockedAt.Add(LockoutDuration), enbd, UserGood, PasswordGood, ""},
		{"count starts again", lockedAt.Add(LockoutDuration + time.Second), enbd, UserGood, "wrong", bankgate.InvalidCredentials},
		{"not locked after one failure", lockedAt.Add(LockoutDuration + 2*time.Second), enbd, UserGood, PasswordGood, ""},
	}
	for _, s := range steps {
		clock.t = s.at
		if got := login(s.bank, s.user, s.password); got != s.want {
			t.Errorf("%s: code = %q, want %q", s.name, got, s.want)
		}
	}
}

func TestLockoutUsesRequestTime(t *testing.T) {
	b := New(Options{Now: func() time.Time { panic("clock used despite LoginRequest.Now") }})
	ctx := context.Background()
	t0 := testNow
	for i := range MaxFailedLogins {
		_, err := b.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_SA_SNB", Username: "u", Password: "x", Now: t0.Add(time.Duration(i) * time.Second)})
		if !bankgate.IsCode(err, bankgate.InvalidCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	_, err := b.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_SA_SNB", Username: "u", Password: PasswordGood, Now: t0.Add(10 * time.Minute)})
	if !bankgate.IsCode(err, bankgate.AccountLocked) {
		t.Fatalf("during lock: %v", err)
	}
	_, err = b.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_SA_SNB", Username: "u", Password: PasswordGood, Now: t0.Add(20 * time.Minute)})
	if err != nil {
		t.Fatalf("after lock: %v", err)
	}
}

func TestSessionHoldsNoPassword(t *testing.T) {
	b, _ := newTestBank(t)
	for _, user := range []string{UserGood, UserMFA, UserMultiMFA, UserEmpty, "someone"} {
		s := MustLogin(t, b, "SANDBOX_SA_RAJHI", user)
		if strings.Contains(string(s.Data), PasswordGood) {
			t.Errorf("%s: session %s holds the password", user, s.Data)
		}
		var m map[string]string
		if err := json.Unmarshal(s.Data, &m); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"bank": "SANDBOX_SA_RAJHI", "user": user}, m); diff != "" {
			t.Errorf("%s: session (-want +got):\n%s", user, diff)
		}
	}
}

func TestSessionInvalid(t *testing.T) {
	b, _ := newTestBank(t)
	ctx := context.Background()
	good := MustLogin(t, b, "SANDBOX_AE_ENBD", UserGood)
	sessions := map[string]bank.Session{
		"garbage":      {BankID: "SANDBOX_AE_ENBD", Data: []byte("\x00garbage")},
		"empty":        {BankID: "SANDBOX_AE_ENBD"},
		"no user":      {BankID: "SANDBOX_AE_ENBD", Data: []byte(`{"bank":"SANDBOX_AE_ENBD"}`)},
		"unknown bank": {BankID: "NOPE", Data: []byte(`{"bank":"NOPE","user":"user_good"}`)},
		"bank differs": {BankID: "SANDBOX_AE_ADCB", Data: good.Data},
	}
	for name, s := range sessions {
		t.Run(name, func(t *testing.T) {
			call := &bank.Call{Session: s, Now: testNow}
			_, ch, err := b.Identity(ctx, call)
			check := func(op string, err error) {
				t.Helper()
				if !bankgate.IsCode(err, bankgate.SessionInvalidated) {
					t.Errorf("%s: %v, want %s", op, err, bankgate.SessionInvalidated)
				}
			}
			check("Identity", err)
			if ch != nil {
				t.Error("Identity returned a challenge")
			}
			_, _, err = b.Accounts(ctx, call)
			check("Accounts", err)
			_, err = txsAt(b, s, "x", time.Time{}, time.Time{}, testNow)
			check("Transactions", err)
			_, err = cardsAt(b, s, testNow)
			check("Cards", err)
			_, err = balanceAt(b, s, "x", testNow)
			check("Balance", err)
			_, err = cardTxsAt(b, s, "x", time.Time{}, time.Time{}, testNow)
			check("CardTransactions", err)
		})
	}
}

// The plain readers below call the Connector's capability methods with a call
// at now.

func txsAt(b *Connector, s bank.Session, id string, from, to, now time.Time) ([]bankgate.Transaction, error) {
	txs, _, err := b.Transactions(context.Background(), &bank.Call{Session: s, Now: now}, id, from, to)
	return txs, err
}

func cardTxsAt(b *Connector, s bank.Session, id string, from, to, now time.Time) ([]bankgate.Transaction, error) {
	txs, _, err := b.CardTransactions(context.Background(), &bank.Call{Session: s, Now: now}, id, from, to)
	return txs, err
}

func cardsAt(b *Connector, s bank.Session, now time.Time) ([]bankgate.Card, error) {
	cards, _, err := b.Cards(context.Background(), &bank.Call{Session: s, Now: now})
	return cards, err
}

func balanceAt(b *Connector, s bank.Session, id string, now time.Time) (bankgate.Account, error) {
	a, _, err := b.Balance(context.Background(), &bank.Call{Session: s, Now: now}, id)
	if err != nil {
		return bankgate.Account{}, err
	}
	return *a, nil
}

func cardBalanceAt(b *Connector, s bank.Session, id string, now time.Time) (bankgate.CardBalance, error) {
	cb, _, err := b.CardBalance(context.Background(), &bank.Call{Session: s, Now: now}, id)
	if err != nil {
		return bankgate.CardBalance{}, err
	}
	return *cb, nil
}

// FuzzPlainSession checks that the allocation-free session decoder agrees
// with encoding/json whenever it accepts a session.
func FuzzPlainSession(f *testing.F) {
	for _, s := range []string{`{"bank":"SANDBOX_AE_ENBD","user":"user_good"}`, `{"bank":"SANDBOX_AE_ENBD","user":""}`,
		`{"bank":"SANDBOX_AE_ENBD","user":"a\"b"}`, `{"bank":"SANDBOX_AE_ENBD","user":"\u0061"}`, `{"user":"x","bank":"SANDBOX_AE_ENBD"}`,
		`{"bank":"SANDBOX_AE_ENBD","user":"x"} `, `{"bank":"NOPE","user":"x"}`, `{"bank":"SANDBOX_AE_ENBD","user":"x","more":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := plainSession(data)
		if !ok {
			return
		}
		want, err := decodeSession(data)
		if err != nil || got != want {
			t.Errorf("plainSession(%q) = %v, %v; decodeSession: %v, %v", data, got.bi.bank.ID, got.user, want, err)
		}
	})
}
