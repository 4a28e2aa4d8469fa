package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/internal/memevents"
	"github.com/bankgate/bankgate/sqlite"
	"github.com/google/go-cmp/cmp"
)

const enbd = "SANDBOX_AE_ENBD"

// externalIBAN is a valid AE IBAN at a bank code no sandbox bank uses.
var externalIBAN = makeIBAN("AE", "0990000001234567890")

// newBankOn returns a Connector on the clock and event log given.
func newBankOn(c *testClock, log eventLog) *Connector {
	b := New(Options{Now: c.Now})
	b.events = log
	return b
}

// mustSQLite opens a SQLite store in a temporary directory.
func mustSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func mustAccounts(tb testing.TB, b *Connector, s bank.Session) []bankgate.Account {
	tb.Helper()
	accts, ch, err := b.Accounts(context.Background(), &bank.Call{Session: s})
	if err != nil || ch != nil {
		tb.Fatalf("Accounts: %v, %v", ch, err)
	}
	return accts
}

func mustBalance(tb testing.TB, b *Connector, s bank.Session, id string) bankgate.Money {
	tb.Helper()
	a, _, err := b.Balance(context.Background(), &bank.Call{Session: s}, id)
	if err != nil {
		tb.Fatalf("Balance %s: %v", id, err)
	}
	return a.Balance
}

// mustBeneficiary creates a beneficiary and returns it as listed.
func mustBeneficiary(tb testing.TB, b *Connector, s bank.Session, in bankgate.Beneficiary) bankgate.Beneficiary {
	tb.Helper()
	ctx := context.Background()
	if ch, err := b.CreateBeneficiary(ctx, &bank.Call{Session: s}, &in); err != nil || ch != nil {
		tb.Fatalf("CreateBeneficiary %+v: %v, %v", in, ch, err)
	}
	bens, _, err := b.Beneficiaries(ctx, &bank.Call{Session: s})
	if err != nil {
		tb.Fatal(err)
	}
	for _, bn := range bens {
		if (in.IBAN != "" && bn.IBAN == in.IBAN) || (in.IBAN == "" && bn.AccountNumber == in.AccountNumber) {
			return bn
		}
	}
	tb.Fatalf("beneficiary %+v not listed in %+v", in, bens)
	return bankgate.Beneficiary{}
}

func mustTransfer(tb testing.TB, b *Connector, s bank.Session, req bankgate.TransferRequest) *bankgate.TransferResult {
	tb.Helper()
	res, ch, err := b.Transfer(context.Background(), &bank.Call{Session: s}, &req)
	if err != nil || ch != nil {
		tb.Fatalf("Transfer %+v: %v, %v", req, ch, err)
	}
	return res
}

func wantCode(tb testing.TB, what string, err error, code bankgate.Code) {
	tb.Helper()
	if !bankgate.IsCode(err, code) {
		tb.Errorf("%s: error %v, want %s", what, err, code)
	}
}

// allHistory returns the transactions of an account from 300 days back.
func allHistory(tb testing.TB, b *Connector, s bank.Session, id string, now time.Time) []bankgate.Transaction {
	tb.Helper()
	txs, _, err := b.Transactions(context.Background(), &bank.Call{Session: s}, id, now.AddDate(0, 0, -300), now)
	if err != nil {
		tb.Fatal(err)
	}
	return txs
}

var refPattern = regexp.MustCompile(`^BGT[A-Z0-9]{12}$`)

func TestTransferMovesMoney(t *testing.T) {
	b, clock := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserGood)
	accts := mustAccounts(t, b, s)
	cur := accts[0]
	bn := mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Omar Example", IBAN: externalIBAN})
	if bn.Status != bankgate.BeneficiaryApproved || bn.Type != "local" || !bn.ActiveAt.Equal(clock.Now().Add(6*time.Hour)) {
		t.Errorf("beneficiary %+v", bn)
	}
	clock.Advance(7 * time.Hour)
	res := mustTransfer(t, b, s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: 12345, Remark: "Dinner"})
	if !refPattern.MatchString(res.Reference) || res.Amount != 12345 || res.Currency.Code != "AED" {
		t.Errorf("result %+v", res)
	}
	after := mustBalance(t, b, s, cur.ID)
	// The generated ledger has nothing between the two reads unless the
	// schedule placed something in those 7 hours; compare with a Connector that
	// saw no payment.
	fresh := New(Options{Now: clock.Now})
	want := mustBalance(t, fresh, MustLogin(t, fresh, enbd, UserGood), cur.ID) - 12345
	if after != want {
		t.Errorf("balance after transfer %v, want %v", after, want)
	}
	txs := allHistory(t, b, s, cur.ID, clock.Now())
	checkChain(t, "current", txs, after, cur.Currency)
	last := txs[len(txs)-1]
	if last.Reference != res.Reference || last.Type != "debit" || last.Amount != 12345 || !last.Date.Equal(clock.Now()) ||
		last.Category != catTransfers || !strings.Contains(last.Description, "Omar Example") ||
		!strings.Contains(last.Description, "Dinner") || !strings.Contains(last.Details, "DINNER") {
		t.Errorf("transfer transaction %+v", last)
	}
	// Other readers see the payment too.
	if a := mustAccounts(t, b, s)[0]; a.Balance != after {
		t.Errorf("Accounts balance %v, Balance %v", a.Balance, after)
	}
	if _, _, err := b.Transactions(ctx, &bank.Call{Session: s}, cur.ID, clock.Now(), clock.Now()); err != nil {
		t.Error(err)
	}
}

func TestRandomTransfers(t *testing.T) {
	b, clock := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserGood)
	ps := MustLogin(t, b, enbd, "payee1")
	accts := mustAccounts(t, b, s)
	payee := mustAccounts(t, b, ps)
	var savings bankgate.Account
	for _, a := range accts {
		if a.Type == "savings" {
			savings = a
		}
	}
	bens := []bankgate.Beneficiary{
		mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "External Person", IBAN: externalIBAN}),
		mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "My Savings", IBAN: savings.IBAN, Type: "same"}),
		mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Payee One", IBAN: payee[0].IBAN, Type: "same"}),
	}
	if len(payee) > 1 && payee[1].IBAN != "" {
		// An account number alone names an account at the same bank.
		bens = append(bens, mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Payee Two", AccountNumber: payee[1].Number, Type: "same"}))
	}
	clock.Advance(7 * time.Hour)
	start := clock.Now()

	delta := map[string]bankgate.Money{}
	r := rand.New(rand.NewPCG(1, 2))
	var ok, failed int
	for i := range 50 {
		clock.Advance(time.Duration(1+r.IntN(5*24*60)) * time.Minute)
		if i == 25 {
			// A beneficiary in its cool-down.
			bens = append(bens, mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Late Person", IBAN: makeIBAN("AE", "0980000009876543210")}))
		}
		from := accts[r.IntN(len(accts))]
		bn := bens[r.IntN(len(bens))]
		amt := bankgate.Money(50 + r.IntN(1_500_000))
		if r.IntN(10) == 0 {
			amt = bankgate.Money(1 + r.IntN(99)) // below the minimum
		}
		res, _, err := b.Transfer(ctx, &bank.Call{Session: s}, &bankgate.TransferRequest{SenderID: from.ID, ReceiverID: bn.ID, Amount: amt, Remark: fmt.Sprint("t", i)})
		switch {
		case err == nil:
			ok++
			delta[from.ID] -= amt
			switch bn.Name {
			case "My Savings":
				delta[savings.ID] += amt
			case "Payee One":
				delta[payee[0].ID] += amt
			case "Payee Two":
				delta[payee[1].ID] += amt
			}
			if !refPattern.MatchString(res.Reference) {
				t.Errorf("reference %q", res.Reference)
			}
		case bankgate.IsCode(err, bankgate.InsufficientBalance), bankgate.IsCode(err, bankgate.ParameterError),
			bankgate.IsCode(err, bankgate.BeneficiaryCoolDown):
			failed++
		default:
			t.Fatalf("transfer %d: %v", i, err)
		}
	}
	if ok < 10 || failed < 5 {
		t.Errorf("%d transfers made, %d failed; want a mix", ok, failed)
	}
	now := clock.Now()
	fresh := New(Options{Now: clock.Now})
	for _, user := range []string{UserGood, "payee1"} {
		us := MustLogin(t, b, enbd, user)
		fs := MustLogin(t, fresh, enbd, user)
		for _, a := range mustAccounts(t, b, us) {
			txs := allHistory(t, b, us, a.ID, now)
			checkChain(t, user+" "+a.Name, txs, a.Balance, a.Currency)
			if bal := mustBalance(t, b, us, a.ID); bal != a.Balance {
				t.Errorf("%s %s: Balance %v, Accounts %v", user, a.Name, bal, a.Balance)
			}
			if want := mustBalance(t, fresh, fs, a.ID) + delta[a.ID]; a.Balance != want {
				t.Errorf("%s %s: balance %v, want generated + payments = %v", user, a.Name, a.Balance, want)
			}
			// The generated transactions between the payments are all
			// still there.
			gen := allHistory(t, fresh, fs, a.ID, now)
			var kept int
			for _, tx := range txs {
				if !strings.HasPrefix(tx.Reference, "BGT") {
					kept++
				}
			}
			if kept != len(gen) {
				t.Errorf("%s %s: %d generated transactions, want %d", user, a.Name, kept, len(gen))
			}
		}
	}
	if start.Equal(now) {
		t.Error("clock did not move")
	}
}

func TestTransferToSandboxUser(t *testing.T) {
	clock := &testClock{t: testNow}
	log := memevents.New()
	b := newBankOn(clock, log)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserGood)
	rs := MustLogin(t, b, enbd, "receiver")
	from := mustAccounts(t, b, s)[0]
	to := mustAccounts(t, b, rs)[0]
	bn := mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Receiver", IBAN: to.IBAN, Type: "same"})
	clock.Advance(6 * time.Hour)
	// The receiver's balance without payments, at the clock.
	fresh := New(Options{Now: clock.Now})
	before := mustBalance(t, fresh, MustLogin(t, fresh, enbd, "receiver"), to.ID)
	res := mustTransfer(t, b, s, bankgate.TransferRequest{SenderID: from.ID, ReceiverID: bn.ID, Amount: 50000, Remark: "Rent share"})
	if got := mustBalance(t, b, rs, to.ID); got != before+50000 {
		t.Errorf("receiver balance %v, want %v", got, before+50000)
	}
	txs := allHistory(t, b, rs, to.ID, clock.Now())
	last := txs[len(txs)-1]
	if last.Reference != res.Reference || last.Type != "credit" || last.Amount != 50000 || !strings.Contains(last.Description, "Rent share") {
		t.Errorf("receiver's transaction %+v", last)
	}
	checkChain(t, "receiver", txs, mustBalance(t, b, rs, to.ID), to.Currency)

	// A crash between the sender's event and the receiver's credit: the
	// transfer is recorded, nothing delivered. Another instance using the
	// sender delivers it, once.
	bi := bankByID[enbd]
	st := b.cache.get("", bi, UserGood)
	st.mu.Lock()
	res2, err := b.pay(ctx, st, &bank.Call{Session: s}, clock.Now(), &bankgate.TransferRequest{SenderID: from.ID, ReceiverID: bn.ID, Amount: 700}, false)
	st.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	b2 := newBankOn(clock, log)
	if got := mustBalance(t, b2, rs, to.ID); got != before+50000 {
		t.Errorf("receiver balance before delivery %v, want %v", got, before+50000)
	}
	mustAccounts(t, b2, s) // uses the sender: delivers
	mustAccounts(t, b, s)  // the first instance delivers too, or finds it done
	for _, bk := range []*Connector{b, b2, newBankOn(clock, log)} {
		if got := mustBalance(t, bk, rs, to.ID); got != before+50700 {
			t.Errorf("receiver balance after delivery %v, want %v", got, before+50700)
		}
	}
	n := 0
	for _, tx := range allHistory(t, b2, rs, to.ID, clock.Now()) {
		if tx.Reference == res2.Reference {
			n++
		}
	}
	if n != 1 {
		t.Errorf("credit %s applied %d times", res2.Reference, n)
	}
	// Nothing is left pending.
	st2 := b2.cache.get("", bi, UserGood)
	st2.mu.Lock()
	pending := len(st2.pending)
	st2.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d transfers still pending", pending)
	}
}

func TestPaymentErrors(t *testing.T) {
	b, clock := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, "SANDBOX_SA_SNB", UserGood)
	accts := mustAccounts(t, b, s)
	cur := accts[0]
	saIBAN := makeIBAN("SA", "55000000001234567890")
	bn := mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Khalid Example", IBAN: saIBAN})
	intl := mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Abroad", IBAN: "GB29NWBK60161331926819", Type: "intl"})
	fresh := mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Fresh", AccountNumber: "12345"})
	_ = fresh
	clock.Advance(12 * time.Hour)
	late := mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Late", AccountNumber: "99999"})
	bal := mustBalance(t, b, s, cur.ID)
	empty := MustLogin(t, b, "SANDBOX_SA_SNB", UserEmpty)
	tests := []struct {
		name string
		s    bank.Session
		req  bankgate.TransferRequest
		code bankgate.Code
	}{
		{"insufficient balance", s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: min(bal+1, 10_000_000)}, bankgate.InsufficientBalance},
		{"below the minimum", s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: 99}, bankgate.ParameterError},
		{"below the intl minimum", s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: intl.ID, Amount: 999}, bankgate.ParameterError},
		{"above the maximum", s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: 10_000_001}, bankgate.ParameterError},
		{"zero amount", s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID}, bankgate.ParameterError},
		{"negative amount", s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: -5}, bankgate.ParameterError},
		{"unknown sender", s, bankgate.TransferRequest{SenderID: "nope", ReceiverID: bn.ID, Amount: 1000}, bankgate.InvalidAccountID},
		{"unknown receiver", s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: "nope", Amount: 1000}, bankgate.ParameterError},
		{"unknown receiver IBAN", s, bankgate.TransferRequest{SenderID: cur.ID, Name: "X", IBAN: externalIBAN, Amount: 1000}, bankgate.ParameterError},
		{"no receiver", s, bankgate.TransferRequest{SenderID: cur.ID, Amount: 1000}, bankgate.ParameterMissing},
		{"cool-down", s, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: late.ID, Amount: 1000}, bankgate.BeneficiaryCoolDown},
		{"user without accounts", empty, bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: 1000}, bankgate.InvalidAccountID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := b.Transfer(ctx, &bank.Call{Session: tt.s}, &tt.req)
			wantCode(t, "Transfer", err, tt.code)
		})
	}
	if got := mustBalance(t, b, s, cur.ID); got != bal {
		t.Errorf("failed transfers moved money: %v -> %v", bal, got)
	}
	// Paying by IBAN instead of receiverID finds the beneficiary.
	res := mustTransfer(t, b, s, bankgate.TransferRequest{SenderID: cur.ID, Name: "Khalid Example", IBAN: saIBAN, Amount: 1000})
	if res.Currency.Code != "SAR" {
		t.Errorf("currency %v", res.Currency)
	}

	benTests := []struct {
		name string
		in   bankgate.Beneficiary
		code bankgate.Code
	}{
		{"duplicate IBAN", bankgate.Beneficiary{Name: "Again", IBAN: saIBAN}, bankgate.BeneficiaryExists},
		{"duplicate account number", bankgate.Beneficiary{Name: "Again", AccountNumber: "12345"}, bankgate.BeneficiaryExists},
		{"duplicate of a pre-existing one", bankgate.Beneficiary{Name: "Again", IBAN: preBeneficiaries(bankByID["SANDBOX_SA_SNB"], UserGood)[0].IBAN}, bankgate.BeneficiaryExists},
		{"name too long", bankgate.Beneficiary{Name: strings.Repeat("a", 51), AccountNumber: "1"}, bankgate.BeneficiaryNameLimit},
		{"no name", bankgate.Beneficiary{AccountNumber: "1"}, bankgate.ParameterMissing},
		{"no account", bankgate.Beneficiary{Name: "Nobody"}, bankgate.ParameterMissing},
		{"invalid IBAN", bankgate.Beneficiary{Name: "Bad", IBAN: "SA0380000000608010167510"}, bankgate.ParameterError},
		{"bad type", bankgate.Beneficiary{Name: "Bad", AccountNumber: "2", Type: "weird"}, bankgate.ParameterError},
	}
	for _, tt := range benTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.CreateBeneficiary(ctx, &bank.Call{Session: s}, &tt.in)
			wantCode(t, "CreateBeneficiary", err, tt.code)
		})
	}
	// A credit account pays up to its available credit.
	for _, a := range accts {
		if a.Type != "credit" {
			continue
		}
		cards, _ := cardsAt(b, s, clock.Now())
		avail := cards[0].Balance.AvailableBalance
		if avail > 10_000_000 {
			continue
		}
		_, _, err := b.Transfer(ctx, &bank.Call{Session: s}, &bankgate.TransferRequest{SenderID: a.ID, ReceiverID: bn.ID, Amount: avail + 1})
		wantCode(t, "credit account over its limit", err, bankgate.InsufficientBalance)
		mustTransfer(t, b, s, bankgate.TransferRequest{SenderID: a.ID, ReceiverID: bn.ID, Amount: avail})
		if cards, _ := cardsAt(b, s, clock.Now()); cards[0].Balance.AvailableBalance != 0 {
			t.Errorf("card available %v after spending it all", cards[0].Balance.AvailableBalance)
		}
	}
}

func TestCoolDown(t *testing.T) {
	b, clock := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserGood)
	cur := mustAccounts(t, b, s)[0]
	bn := mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "New Person", IBAN: externalIBAN})
	req := &bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: 1000}
	for _, tt := range []struct {
		advance time.Duration
		hours   int
	}{{0, 6}, {2*time.Hour + 30*time.Minute, 4}, {3*time.Hour + 29*time.Minute, 1}} {
		clock.Advance(tt.advance)
		_, _, err := b.Transfer(ctx, &bank.Call{Session: s}, req)
		var e *bankgate.Error
		if !bankgate.IsCode(err, bankgate.BeneficiaryCoolDown) || !asError(err, &e) {
			t.Fatalf("transfer in cool-down: %v", err)
		}
		want := map[string]any{"coolDownPeriod": map[string]any{"value": tt.hours, "unit": "hrs"}}
		if diff := cmp.Diff(want, e.Data); diff != "" {
			t.Errorf("after %v: error data (-want +got):\n%s", tt.advance, diff)
		}
	}
	clock.Advance(time.Minute)
	mustTransfer(t, b, s, *req)
}

func asError(err error, e **bankgate.Error) bool {
	x, ok := err.(*bankgate.Error)
	if ok {
		*e = x
	}
	return ok
}

func TestAutoflow(t *testing.T) {
	b, _ := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserGood)
	cur := mustAccounts(t, b, s)[0]
	bal := mustBalance(t, b, s, cur.ID)
	bens0, _, _ := b.Beneficiaries(ctx, &bank.Call{Session: s})
	if len(bens0) < 1 || len(bens0) > 2 {
		t.Errorf("%d pre-existing beneficiaries, want 1 or 2", len(bens0))
	}
	req := &bankgate.TransferRequest{SenderID: cur.ID, Amount: 2500, Remark: "Gift",
		Beneficiary: &bankgate.Beneficiary{Name: "Auto Person", IBAN: externalIBAN, Type: "local"}}
	res, ch, err := b.TransferAutoflow(ctx, &bank.Call{Session: s}, req)
	if err != nil || ch != nil || !refPattern.MatchString(res.Reference) {
		t.Fatalf("autoflow: %+v, %v, %v", res, ch, err)
	}
	// Again: the beneficiary exists and is reused.
	if _, _, err := b.TransferAutoflow(ctx, &bank.Call{Session: s}, req); err != nil {
		t.Fatalf("second autoflow: %v", err)
	}
	bens, _, _ := b.Beneficiaries(ctx, &bank.Call{Session: s})
	if len(bens) != len(bens0)+1 || bens[len(bens)-1].Name != "Auto Person" {
		t.Errorf("beneficiaries after autoflow: %+v", bens)
	}
	if got := mustBalance(t, b, s, cur.ID); got != bal-5000 {
		t.Errorf("balance %v, want %v", got, bal-5000)
	}
	// An existing beneficiary in its cool-down still waits.
	mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Manual", IBAN: makeIBAN("AE", "0970000001111111111")})
	_, _, err = b.TransferAutoflow(ctx, &bank.Call{Session: s}, &bankgate.TransferRequest{SenderID: cur.ID, Amount: 1000,
		Beneficiary: &bankgate.Beneficiary{Name: "Manual", IBAN: makeIBAN("AE", "0970000001111111111")}})
	wantCode(t, "autoflow to a cooling beneficiary", err, bankgate.BeneficiaryCoolDown)
}

func TestIdempotencyKey(t *testing.T) {
	b, clock := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserGood)
	cur := mustAccounts(t, b, s)[0]
	bn := mustBeneficiary(t, b, s, bankgate.Beneficiary{Name: "Once", IBAN: externalIBAN})
	clock.Advance(7 * time.Hour)
	bal := mustBalance(t, b, s, cur.ID)
	call := &bank.Call{Session: s, IdempotencyKey: "key-1"}
	req := &bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: 1000}
	r1, _, err := b.Transfer(ctx, call, req)
	if err != nil {
		t.Fatal(err)
	}
	r2, _, err := b.Transfer(ctx, call, req)
	if err != nil || r2.Reference != r1.Reference {
		t.Errorf("retry: %+v, %v; want %+v", r2, err, r1)
	}
	if got := mustBalance(t, b, s, cur.ID); got != bal-1000 {
		t.Errorf("balance %v, want %v", got, bal-1000)
	}
}

func TestPaymentMFA(t *testing.T) {
	b, clock := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserTransferMFA)
	cur := mustAccounts(t, b, s)[0]
	wantInputs := []bankgate.UserInput{{ID: "otp", Index: 0, QueryType: "txt", Query: "Enter the code we sent to confirm this payment"}}
	right := []bankgate.UserInput{{ID: "otp", Answer: AnswerOTP}}
	wrong := []bankgate.UserInput{{ID: "otp", Answer: "000000"}}

	// Creating a beneficiary asks first; a wrong answer adds nothing.
	ben := &bankgate.Beneficiary{Name: "MFA Person", IBAN: externalIBAN}
	ch, err := b.CreateBeneficiary(ctx, &bank.Call{Session: s}, ben)
	if err != nil || ch == nil {
		t.Fatalf("CreateBeneficiary: %v, %v; want a challenge", ch, err)
	}
	if diff := cmp.Diff(wantInputs, ch.Inputs); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
	}
	_, err = b.CreateBeneficiary(ctx, &bank.Call{Session: s, State: ch.State, Answers: wrong}, nil)
	wantCode(t, "wrong answer", err, bankgate.InvalidMFA)
	// The resume gives no request: the state's is used. An answer by
	// index works too.
	if ch2, err := b.CreateBeneficiary(ctx, &bank.Call{Session: s, State: ch.State, Answers: []bankgate.UserInput{{Index: 0, Answer: AnswerOTP}}}, nil); err != nil || ch2 != nil {
		t.Fatalf("resume: %v, %v", ch2, err)
	}
	bens, _, _ := b.Beneficiaries(ctx, &bank.Call{Session: s})
	var bn bankgate.Beneficiary
	for _, x := range bens {
		if x.IBAN == externalIBAN {
			bn = x
		}
	}
	if bn.ID == "" {
		t.Fatalf("beneficiary not created: %+v", bens)
	}
	clock.Advance(7 * time.Hour)

	bal := mustBalance(t, b, s, cur.ID)
	req := &bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: bn.ID, Amount: 4200}
	res, ch, err := b.Transfer(ctx, &bank.Call{Session: s}, req)
	if err != nil || ch == nil || res != nil {
		t.Fatalf("Transfer: %v, %v, %v; want a challenge", res, ch, err)
	}
	if got := mustBalance(t, b, s, cur.ID); got != bal {
		t.Errorf("challenge moved money")
	}
	_, _, err = b.Transfer(ctx, &bank.Call{Session: s, State: ch.State, Answers: wrong}, req)
	wantCode(t, "wrong answer", err, bankgate.InvalidMFA)
	// The state's request wins over different arguments.
	res, ch2, err := b.Transfer(ctx, &bank.Call{Session: s, State: ch.State, Answers: right}, &bankgate.TransferRequest{})
	if err != nil || ch2 != nil || res == nil || res.Amount != 4200 {
		t.Fatalf("resume: %+v, %v, %v", res, ch2, err)
	}
	if got := mustBalance(t, b, s, cur.ID); got != bal-4200 {
		t.Errorf("balance %v, want %v", got, bal-4200)
	}
	// A state of another operation is refused.
	_, _, err = b.WireTransfer(ctx, &bank.Call{Session: s, State: ch.State, Answers: right}, req)
	wantCode(t, "state of another operation", err, bankgate.InvalidMFA)

	// Autoflow and wire calls ask too.
	auto := &bankgate.TransferRequest{SenderID: cur.ID, Amount: 1000, Beneficiary: &bankgate.Beneficiary{Name: "Auto", IBAN: makeIBAN("AE", "0970000002222222222")}}
	wire := &bankgate.TransferRequest{SenderID: cur.ID, Amount: 1000, Wire: &bankgate.WireBeneficiary{Name: "US Person", AccountNumber: "123456789", RoutingNumber: "021000021"}}
	for name, fn := range map[string]func(*bank.Call, *bankgate.TransferRequest) (*bankgate.TransferResult, *bank.Challenge, error){
		"autoflow": func(c *bank.Call, r *bankgate.TransferRequest) (*bankgate.TransferResult, *bank.Challenge, error) {
			return b.TransferAutoflow(ctx, c, r)
		},
		"wire autoflow": func(c *bank.Call, r *bankgate.TransferRequest) (*bankgate.TransferResult, *bank.Challenge, error) {
			return b.WireTransferAutoflow(ctx, c, r)
		},
	} {
		r := auto
		if name == "wire autoflow" {
			r = wire
		}
		_, ch, err := fn(&bank.Call{Session: s}, r)
		if err != nil || ch == nil {
			t.Fatalf("%s: %v, %v; want a challenge", name, ch, err)
		}
		res, ch2, err := fn(&bank.Call{Session: s, State: ch.State, Answers: right}, nil)
		if err != nil || ch2 != nil || res.Amount != 1000 {
			t.Errorf("%s resume: %+v, %v, %v", name, res, ch2, err)
		}
	}
	ch, err = b.CreateWireBeneficiary(ctx, &bank.Call{Session: s}, &bankgate.WireBeneficiary{Name: "W", AccountNumber: "1", RoutingNumber: "111000025"})
	if err != nil || ch == nil {
		t.Fatalf("CreateWireBeneficiary: %v, %v; want a challenge", ch, err)
	}
	// Reads never ask.
	if _, ch, err := b.Beneficiaries(ctx, &bank.Call{Session: s}); ch != nil || err != nil {
		t.Errorf("Beneficiaries: %v, %v", ch, err)
	}
}

func TestDataMFA(t *testing.T) {
	b, _ := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserDataMFA)
	right := []bankgate.UserInput{{ID: "otp", Answer: AnswerOTP}}
	accts, ch, err := b.Accounts(ctx, &bank.Call{Session: s})
	if err != nil || ch == nil || accts != nil {
		t.Fatalf("Accounts: %v, %v, %v; want a challenge", accts, ch, err)
	}
	_, _, err = b.Accounts(ctx, &bank.Call{Session: s, State: ch.State, Answers: []bankgate.UserInput{{ID: "otp", Answer: "1"}}})
	wantCode(t, "wrong answer", err, bankgate.InvalidMFA)
	accts, ch2, err := b.Accounts(ctx, &bank.Call{Session: s, State: ch.State, Answers: right})
	if err != nil || ch2 != nil || len(accts) == 0 {
		t.Fatalf("resume: %v, %v, %v", accts, ch2, err)
	}
	_, ch, err = b.Transactions(ctx, &bank.Call{Session: s}, accts[0].ID, time.Time{}, time.Time{})
	if err != nil || ch == nil {
		t.Fatalf("Transactions: %v, %v; want a challenge", ch, err)
	}
	txs, ch2, err := b.Transactions(ctx, &bank.Call{Session: s, State: ch.State, Answers: right}, accts[0].ID, time.Time{}, time.Time{})
	if err != nil || ch2 != nil || len(txs) == 0 {
		t.Fatalf("resume: %d, %v, %v", len(txs), ch2, err)
	}
	// Other reads do not ask.
	if _, ch, err := b.Identity(ctx, &bank.Call{Session: s}); ch != nil || err != nil {
		t.Errorf("Identity: %v, %v", ch, err)
	}
	if _, ch, err := b.Balance(ctx, &bank.Call{Session: s}, accts[0].ID); ch != nil || err != nil {
		t.Errorf("Balance: %v, %v", ch, err)
	}
}

// concurrencyFixture is a user with a known balance of 1,000.00.
const concurrencyFixture = `{"bankID":"SANDBOX_AE_ENBD","username":"race","password":"race-pass","identity":{"name":"Race Tester"},
"accounts":[{"id":"race-main","name":"Main","openingBalance":1000}]}`

func TestConcurrentTransfers(t *testing.T) {
	for name, newLog := range map[string]func(t *testing.T) eventLog{
		"memory": func(t *testing.T) eventLog { return memevents.New() },
		"sqlite": func(t *testing.T) eventLog { return mustSQLite(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := &testClock{t: testNow}
			log := &countingLog{eventLog: newLog(t)}
			// Several instances on one store: they serialise through the
			// store, not through a shared lock.
			banks := []*Connector{newBankOn(clock, log), newBankOn(clock, log), newBankOn(clock, log), newBankOn(clock, log)}
			if err := banks[0].AddFixture(ctx, "", []byte(concurrencyFixture)); err != nil {
				t.Fatal(err)
			}
			s := bank.Session{BankID: enbd, Data: []byte(`{"bank":"SANDBOX_AE_ENBD","user":"race"}`)}
			bn := mustBeneficiary(t, banks[0], s, bankgate.Beneficiary{Name: "Sink", IBAN: externalIBAN})
			call := &bank.Call{Session: s, Now: testNow.Add(7 * time.Hour)}
			for _, b := range banks {
				mustAccounts(t, b, s) // warm every instance's state
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[bankgate.Code]int{}
			for i := range 20 {
				wg.Go(func() {
					_, _, err := banks[i%len(banks)].Transfer(ctx, call, &bankgate.TransferRequest{SenderID: "race-main", ReceiverID: bn.ID, Amount: 60000})
					mu.Lock()
					codes[bankgate.ErrorCode(err)]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if want := map[bankgate.Code]int{"": 1, bankgate.InsufficientBalance: 19}; !cmp.Equal(want, codes) {
				t.Errorf("outcomes %v, want %v", codes, want)
			}
			t.Logf("%d appends lost the race for their seq", log.conflicts.Load())
			for _, b := range banks {
				a, _, err := b.Balance(ctx, call, "race-main")
				if err != nil || a.Balance != 40000 {
					t.Errorf("balance %+v, %v; want 400.00", a, err)
				}
			}
		})
	}
}

// countingLog counts the appends that meet a Conflict. If before is set,
// it runs once, before the first append to a user stream.
type countingLog struct {
	eventLog
	conflicts atomic.Int64
	before    func()
	ran       atomic.Bool
}

func (c *countingLog) AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error {
	if c.before != nil && strings.HasPrefix(stream, "sandbox/") && !c.ran.Swap(true) {
		c.before()
	}
	err := c.eventLog.AppendEvent(ctx, stream, seq, at, body)
	if bankgate.IsCode(err, bankgate.Conflict) {
		c.conflicts.Add(1)
	}
	return err
}

// TestConflictRechecks makes another instance's transfer land between
// one instance's checks and its append: the append meets a Conflict, and
// the checks made again refuse the overdraft.
func TestConflictRechecks(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: testNow}
	log := &countingLog{eventLog: memevents.New()}
	b1, b2 := newBankOn(clock, log), newBankOn(clock, log)
	if err := b1.AddFixture(ctx, "", []byte(concurrencyFixture)); err != nil {
		t.Fatal(err)
	}
	s := bank.Session{BankID: enbd, Data: []byte(`{"bank":"SANDBOX_AE_ENBD","user":"race"}`)}
	bn := mustBeneficiary(t, b2, s, bankgate.Beneficiary{Name: "Sink", IBAN: externalIBAN})
	clock.Advance(7 * time.Hour)
	req := &bankgate.TransferRequest{SenderID: "race-main", ReceiverID: bn.ID, Amount: 60000}
	mustAccounts(t, b1, s)
	var err2 error
	log.ran.Store(false)
	log.before = func() { _, _, err2 = b2.Transfer(ctx, &bank.Call{Session: s}, req) }
	_, _, err := b1.Transfer(ctx, &bank.Call{Session: s}, req)
	if err2 != nil {
		t.Fatalf("the other instance's transfer: %v", err2)
	}
	wantCode(t, "transfer after losing the race", err, bankgate.InsufficientBalance)
	if n := log.conflicts.Load(); n != 1 {
		t.Errorf("%d conflicts, want 1", n)
	}
	if got := mustBalance(t, b1, s, "race-main"); got != 40000 {
		t.Errorf("balance %v, want 400.00", got)
	}
}

func TestPersistence(t *testing.T) {
	ctx := context.Background()
	store := mustSQLite(t)
	clock := &testClock{t: testNow}
	b1 := New(Options{Now: clock.Now, Store: store})
	s := MustLogin(t, b1, enbd, UserGood)
	rs := MustLogin(t, b1, enbd, "persist_receiver")
	to := mustAccounts(t, b1, rs)[0]
	accts := mustAccounts(t, b1, s)
	bn := mustBeneficiary(t, b1, s, bankgate.Beneficiary{Name: "Receiver", IBAN: to.IBAN})
	mustBeneficiary(t, b1, s, bankgate.Beneficiary{Name: "External", IBAN: externalIBAN})
	clock.Advance(7 * time.Hour)
	mustTransfer(t, b1, s, bankgate.TransferRequest{SenderID: accts[0].ID, ReceiverID: bn.ID, Amount: 30000})
	if _, err := b1.CreateACHPull(ctx, &bank.Call{Session: s, OperationID: "op-1"}, &bankgate.ACHPullRequest{SenderID: accts[0].ID, Amount: 1500}); err != nil {
		t.Fatal(err)
	}
	if _, err := b1.CreateWireBeneficiary(ctx, &bank.Call{Session: s}, &bankgate.WireBeneficiary{Name: "US", AccountNumber: "1", RoutingNumber: "021000021"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(40 * 24 * time.Hour)
	snapshot := func(b *Connector) map[string]any {
		out := map[string]any{}
		for _, sess := range []bank.Session{s, rs} {
			for _, a := range mustAccounts(t, b, sess) {
				out[a.ID] = a
				out[a.ID+"/txs"] = allHistory(t, b, sess, a.ID, clock.Now())
			}
			bens, _, err := b.Beneficiaries(ctx, &bank.Call{Session: sess})
			if err != nil {
				t.Fatal(err)
			}
			out[string(sess.Data)+"/bens"] = bens
		}
		wires, _, _ := b.WireBeneficiaries(ctx, &bank.Call{Session: s})
		out["wires"] = wires
		pull, err := b.ACHPull(ctx, &bank.Call{Session: s}, "op-1")
		if err != nil {
			t.Fatal(err)
		}
		out["ach"] = pull
		return out
	}
	want := snapshot(b1)
	// A restart: a new Connector on the same database.
	b2 := New(Options{Now: clock.Now, Store: store})
	if diff := cmp.Diff(want, snapshot(b2)); diff != "" {
		t.Errorf("after restart (-before +after):\n%s", diff)
	}
}

func TestTransactionsDateRange(t *testing.T) {
	b, _ := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserGood)
	id := mustAccounts(t, b, s)[0].ID
	cards, _ := cardsAt(b, s, testNow)
	card := cards[0].ID
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name     string
		from, to time.Time
		code     bankgate.Code
	}{
		{"twelve months", testNow.AddDate(-1, 0, 0), testNow, ""},
		{"the whole range", testNow.AddDate(0, 0, -400), testNow, ""},
		{"past the range", testNow.AddDate(0, 0, -401), testNow, bankgate.InvalidDateRange},
		{"from after to", day(2026, 3, 2), day(2026, 3, 1), bankgate.InvalidDateRange},
		{"one day", day(2026, 3, 1), day(2026, 3, 1), ""},
		{"to in the future", day(2026, 3, 1), day(2027, 1, 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for what, fn := range map[string]func() ([]bankgate.Transaction, error){
				"account": func() ([]bankgate.Transaction, error) {
					txs, _, err := b.Transactions(ctx, &bank.Call{Session: s}, id, tt.from, tt.to)
					return txs, err
				},
				"card": func() ([]bankgate.Transaction, error) {
					txs, _, err := b.CardTransactions(ctx, &bank.Call{Session: s}, card, tt.from, tt.to)
					return txs, err
				},
			} {
				txs, err := fn()
				if bankgate.ErrorCode(err) != tt.code {
					t.Fatalf("%s: error %v, want %q", what, err, tt.code)
				}
				if err != nil {
					continue
				}
				lo := day(tt.from.Year(), tt.from.Month(), tt.from.Day())
				hi := day(tt.to.Year(), tt.to.Month(), tt.to.Day()).Add(24 * time.Hour)
				for _, tx := range txs {
					if tx.Date.Before(lo) || !tx.Date.Before(hi) || tx.Date.After(testNow) {
						t.Errorf("%s: transaction dated %v outside [%v, %v)", what, tx.Date, lo, hi)
					}
				}
			}
		})
	}
	// One whole day includes its last moment.
	all := allHistory(t, b, s, id, testNow)
	d := all[len(all)/2].Date
	txs, _, _ := b.Transactions(ctx, &bank.Call{Session: s}, id, d, d)
	var want []bankgate.Transaction
	for _, tx := range all {
		if tx.Date.Format(time.DateOnly) == d.Format(time.DateOnly) {
			want = append(want, tx)
		}
	}
	if diff := cmp.Diff(want, txs); diff != "" {
		t.Errorf("day %s (-want +got):\n%s", d.Format(time.DateOnly), diff)
	}
	_, _, err := b.CardTransactions(ctx, &bank.Call{Session: s}, id, time.Time{}, time.Time{})
	wantCode(t, "account ID as card", err, bankgate.InvalidCardID)
	_, _, err = b.Transactions(ctx, &bank.Call{Session: s}, card, time.Time{}, time.Time{})
	wantCode(t, "card ID as account", err, bankgate.InvalidAccountID)
}

func TestMetadata(t *testing.T) {
	b, _ := newTestBank(t)
	ctx := context.Background()
	for _, bk := range b.Banks() {
		m, err := b.Metadata(ctx, &bank.Call{Session: bank.Session{BankID: bk.ID}})
		if err != nil {
			t.Fatal(err)
		}
		cur := map[string]string{"AE": "AED", "SA": "SAR"}[bk.Country]
		if m.SwiftCode != bk.SwiftCode || m.BankName == "" || m.BranchName == "" || m.BranchAddress == "" || m.Address.Line1 == "" ||
			m.Country != (bankgate.Currency{Code: bk.Country, Name: bk.CountryName}) || !m.IsCreateBeneficiaryEndpointRequired ||
			!m.WillNewlyAddedBeneficiaryExistBeforeCoolDownPeriod {
			t.Errorf("%s: %+v", bk.ID, m)
		}
		wantCool := map[string]int{"AE": 6, "SA": 24}[bk.Country]
		if bk.ID == "SANDBOX_AE_FAB" {
			wantCool = 4
		}
		if bk.ID == "SANDBOX_SA_SNB" {
			wantCool = 12
		}
		if m.BeneficiaryCoolDownPeriod != (bankgate.Period{Value: wantCool, Unit: "hrs"}) {
			t.Errorf("%s: cool-down %+v", bk.ID, m.BeneficiaryCoolDownPeriod)
		}
		if m.TransactionRange.Unit != "days" || m.TransactionRange.Value < 365 {
			t.Errorf("%s: range %+v", bk.ID, m.TransactionRange)
		}
		wantBounds := []bankgate.TransferBound{
			{Minimum: 1, Currency: bankgate.Currencies[cur], Type: "same"},
			{Minimum: 1, Currency: bankgate.Currencies[cur], Type: "local"},
			{Minimum: 10, Currency: bankgate.Currencies[cur], Type: "intl"},
		}
		if diff := cmp.Diff(wantBounds, m.TransferBounds); diff != "" {
			t.Errorf("%s: bounds (-want +got):\n%s", bk.ID, diff)
		}
		if m.MaxTransferAmount != 10_000_000 || m.MinTransferAmount != 100 {
			t.Errorf("%s: max %v min %v", bk.ID, m.MaxTransferAmount, m.MinTransferAmount)
		}
		for _, typ := range []string{"local", "same"} {
			v := m.BeneficiaryValidators[typ]
			for _, f := range []string{"name", "nickname", "iban", "accountNumber", "swiftCode", "branchAddress", "branchName", "country", "phoneNumber", "sortCode", "address"} {
				if p, ok := v[f]; !ok || p.Length <= 0 || p.AllowedCharacters == "" || p.Required == p.Optional {
					t.Errorf("%s %s: validator %s = %+v", bk.ID, typ, f, p)
				}
			}
			if p := m.TransferValidators[typ]["remarks"]; p.Length <= 0 || p.AllowedCharacters == "" {
				t.Errorf("%s %s: remarks validator %+v", bk.ID, typ, p)
			}
		}
		if m.BeneficiaryValidators["local"]["name"].Length != maxNameLength {
			t.Errorf("%s: name length %d", bk.ID, m.BeneficiaryValidators["local"]["name"].Length)
		}
	}
	// The session's bank is used when the call names none.
	s := MustLogin(t, b, "SANDBOX_SA_RAJHI", UserGood)
	m, err := b.Metadata(ctx, &bank.Call{Session: bank.Session{Data: s.Data}})
	if err != nil || m.BankID != "SANDBOX_SA_RAJHI" {
		t.Errorf("metadata by session: %+v, %v", m, err)
	}
}

func TestWireAndACH(t *testing.T) {
	b, clock := newTestBank(t)
	ctx := context.Background()
	s := MustLogin(t, b, enbd, UserGood)
	cur := mustAccounts(t, b, s)[0]
	bal := mustBalance(t, b, s, cur.ID)

	for _, tt := range []struct {
		name string
		in   bankgate.WireBeneficiary
		code bankgate.Code
	}{
		{"no name", bankgate.WireBeneficiary{AccountNumber: "1", RoutingNumber: "021000021"}, bankgate.ParameterMissing},
		{"no account", bankgate.WireBeneficiary{Name: "A", RoutingNumber: "021000021"}, bankgate.ParameterMissing},
		{"short routing number", bankgate.WireBeneficiary{Name: "A", AccountNumber: "1", RoutingNumber: "02100002"}, bankgate.ParameterError},
		{"letters in routing number", bankgate.WireBeneficiary{Name: "A", AccountNumber: "1", RoutingNumber: "02100002X"}, bankgate.ParameterError},
	} {
		_, err := b.CreateWireBeneficiary(ctx, &bank.Call{Session: s}, &tt.in)
		wantCode(t, tt.name, err, tt.code)
	}
	in := bankgate.WireBeneficiary{Name: "John Doe", AccountNumber: "000123456789", RoutingNumber: "021000021", ReceiverType: "retail", ReceiverAccountType: "checking"}
	if _, err := b.CreateWireBeneficiary(ctx, &bank.Call{Session: s}, &in); err != nil {
		t.Fatal(err)
	}
	_, err := b.CreateWireBeneficiary(ctx, &bank.Call{Session: s}, &in)
	wantCode(t, "duplicate", err, bankgate.BeneficiaryExists)
	wires, _, _ := b.WireBeneficiaries(ctx, &bank.Call{Session: s})
	if len(wires) != 1 || wires[0].Name != "John Doe" || wires[0].Status != bankgate.BeneficiaryApproved || wires[0].ID == "" {
		t.Fatalf("wire beneficiaries %+v", wires)
	}
	req := &bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: wires[0].ID, Amount: 10000}
	_, _, err = b.WireTransfer(ctx, &bank.Call{Session: s}, req)
	wantCode(t, "wire in cool-down", err, bankgate.BeneficiaryCoolDown)
	_, _, err = b.WireTransfer(ctx, &bank.Call{Session: s}, &bankgate.TransferRequest{SenderID: cur.ID, ReceiverID: "nope", Amount: 10000})
	wantCode(t, "unknown wire beneficiary", err, bankgate.ParameterError)
	clock.Advance(6 * time.Hour)
	res, _, err := b.WireTransfer(ctx, &bank.Call{Session: s}, req)
	if err != nil || !refPattern.MatchString(res.Reference) || res.Currency.Code != "AED" {
		t.Fatalf("wire transfer: %+v, %v", res, err)
	}
	res2, _, err := b.WireTransferAutoflow(ctx, &bank.Call{Session: s}, &bankgate.TransferRequest{SenderID: cur.ID, Amount: 5000,
		Wire: &bankgate.WireBeneficiary{Name: "Jane Roe", AccountNumber: "987654321", RoutingNumber: "111000025"}})
	if err != nil || res2.Reference == res.Reference {
		t.Fatalf("wire autoflow: %+v, %v", res2, err)
	}
	if got := mustBalance(t, b, s, cur.ID); got != bal-15000 {
		t.Errorf("balance after wires %v, want %v", got, bal-15000)
	}

	// ACH pulls credit the account, once per operation ID.
	call := &bank.Call{Session: s, OperationID: "op-ach-1"}
	for range 2 {
		if ch, err := b.CreateACHPull(ctx, call, &bankgate.ACHPullRequest{SenderID: cur.ID, Amount: 77700, Description: "Top up"}); err != nil || ch != nil {
			t.Fatalf("CreateACHPull: %v, %v", ch, err)
		}
	}
	pull, err := b.ACHPull(ctx, &bank.Call{Session: s}, "op-ach-1")
	if err != nil {
		t.Fatal(err)
	}
	want := &bankgate.ACHPull{Reference: pull.Reference, Amount: 77700, Currency: bankgate.Currencies["AED"], Status: "succeeded"}
	if diff := cmp.Diff(want, pull); diff != "" || !refPattern.MatchString(pull.Reference) {
		t.Errorf("ACH pull (-want +got):\n%s", diff)
	}
	if got := mustBalance(t, b, s, cur.ID); got != bal-15000+77700 {
		t.Errorf("balance after ACH %v, want %v", got, bal-15000+77700)
	}
	_, err = b.ACHPull(ctx, &bank.Call{Session: s}, "nope")
	wantCode(t, "unknown pull", err, bankgate.ParameterError)
	_, err = b.CreateACHPull(ctx, &bank.Call{Session: s, OperationID: "op-ach-2"}, &bankgate.ACHPullRequest{SenderID: "nope", Amount: 1})
	wantCode(t, "unknown account", err, bankgate.InvalidAccountID)
	_, err = b.CreateACHPull(ctx, &bank.Call{Session: s, OperationID: "op-ach-3"}, &bankgate.ACHPullRequest{SenderID: cur.ID})
	wantCode(t, "zero amount", err, bankgate.ParameterError)
	checkChain(t, "after wires and ACH", allHistory(t, b, s, cur.ID, clock.Now()), mustBalance(t, b, s, cur.ID), cur.Currency)
}
