package sandbox

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/logos"
	"github.com/google/go-cmp/cmp"
)

// usernames returns n test usernames plus the fixtures.
func usernames(n int) []string {
	users := []string{UserGood, UserMFA, UserMultiMFA, UserTransferMFA}
	for i := range n {
		users = append(users, fmt.Sprintf("user%03d", i))
	}
	return users
}

// userData is everything the sandbox reports about one user at one time.
type userData struct {
	Identity     *bankgate.Identity
	Accounts     []bankgate.Account
	Transactions map[string][]bankgate.Transaction
	Cards        []bankgate.Card
	CardTxs      map[string][]bankgate.Transaction
}

func mustUserData(tb testing.TB, b *Connector, bankID, user string, now time.Time) userData {
	tb.Helper()
	s := MustLogin(tb, b, bankID, user)
	ctx := context.Background()
	call := &bank.Call{Session: s, Now: now}
	var d userData
	var err error
	if d.Identity, _, err = b.Identity(ctx, call); err != nil {
		tb.Fatal(err)
	}
	if d.Accounts, _, err = b.Accounts(ctx, call); err != nil {
		tb.Fatal(err)
	}
	d.Transactions = map[string][]bankgate.Transaction{}
	for _, a := range d.Accounts {
		if d.Transactions[a.ID], err = txsAt(b, s, a.ID, time.Time{}, time.Time{}, now); err != nil {
			tb.Fatal(err)
		}
	}
	if d.Cards, err = cardsAt(b, s, now); err != nil {
		tb.Fatal(err)
	}
	d.CardTxs = map[string][]bankgate.Transaction{}
	for _, c := range d.Cards {
		if d.CardTxs[c.ID], err = cardTxsAt(b, s, c.ID, time.Time{}, time.Time{}, now); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

func TestDeterministic(t *testing.T) {
	t.Parallel() // CPU-bound and independent: uses both cores
	b1, _ := newTestBank(t)
	b2 := New(Options{CacheUsers: 1}) // a tiny cache: data regenerated after eviction
	n := 3
	if testing.Short() {
		n = 1
	}
	for _, bk := range b1.Banks() {
		for _, user := range usernames(n) {
			d1 := mustUserData(t, b1, bk.ID, user, testNow)
			d2 := mustUserData(t, b2, bk.ID, user, testNow)
			if diff := cmp.Diff(d1, d2); diff != "" {
				t.Errorf("%s %s: data differs between instances (-b1 +b2):\n%s", bk.ID, user, diff)
			}
			if again := mustUserData(t, b1, bk.ID, user, testNow); !cmp.Equal(d1, again) {
				t.Errorf("%s %s: data differs between calls", bk.ID, user)
			}
		}
	}
	// Different users and banks get different data.
	a := mustUserData(t, b1, "SANDBOX_AE_ENBD", "alice", testNow)
	if cmp.Equal(a, mustUserData(t, b1, "SANDBOX_AE_ENBD", "bob", testNow)) {
		t.Error("alice and bob have the same data")
	}
	if cmp.Equal(a.Identity, mustUserData(t, b1, "SANDBOX_AE_ADCB", "alice", testNow).Identity) {
		t.Error("alice has the same identity at two banks")
	}
}

// TestGolden pins a few generated values, so that an accidental change to
// the generator (which would change every user's data everywhere) is seen.
func TestGolden(t *testing.T) {
	b, _ := newTestBank(t)
	d := mustUserData(t, b, "SANDBOX_AE_ENBD", UserGood, testNow)
	got := fmt.Sprintf("%s|%s|%s|%s", d.Identity.Name, d.Identity.Identifications[0].Value, d.Accounts[0].IBAN, d.Accounts[0].ID)
	const want = "Faisal Mohammed Al Nuaimi|784-1977-4023291-9|AE380260001507540685546|ccnCooTkEMwAMGx-qVNAqZZgwjvFGzMp"
	if got != want {
		t.Errorf("user_good at SANDBOX_AE_ENBD = %s, want %s; the generator changed every user's data", got, want)
	}
	if len(d.Accounts) != 3 || len(d.Cards) != 2 {
		t.Errorf("user_good: %d accounts and %d cards, want 3 and 2", len(d.Accounts), len(d.Cards))
	}
	wantTypes := []string{"current", "savings", "credit"}
	var types []string
	for _, a := range d.Accounts {
		types = append(types, a.Type)
	}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("user_good account types (-want +got):\n%s", diff)
	}
}

func TestValidIBAN(t *testing.T) {
	tests := []struct {
		iban string
		want bool
	}{
		// Published examples (SWIFT IBAN registry, bank websites).
		{"AE070331234567890123456", true},
		{"AE07 0331 2345 6789 0123 456", true},
		{"SA0380000000608010167519", true},
		{"SA44 2000 0001 2345 6789 1234", true},
		{"GB29NWBK60161331926819", true},
		{"DE89370400440532013000", true},
		{"FR1420041010050500013M02606", true},
		{"BH67BMAG00001299123456", true},
		{"KW81CBKU0000000000001234560101", true},
		{"QA58DOHB00001234567890ABCDEFG", true},
		{"NL91ABNA0417164300", true},
		{"NO9386011117947", true},
		// Broken ones.
		{"AE070331234567890123457", false}, // check digits wrong
		{"AE07033123456789012345", false},  // too short for AE
		{"SA038000000060801016751", false}, // too short for SA
		{"ae070331234567890123456", false}, // lower case
		{"AE0703312345678901234-6", false}, // bad character
		{"A1070331234567890123456", false}, // bad country
		{"AEX70331234567890123456", false}, // bad check digits
		{"", false},
		{"GB29", false},
		{"XX" + strings.Repeat("1", 40), false},
	}
	for _, tt := range tests {
		if got := ValidIBAN(tt.iban); got != tt.want {
			t.Errorf("ValidIBAN(%q) = %v, want %v", tt.iban, got, tt.want)
		}
	}
	// makeIBAN agrees with the published examples.
	if got := makeIBAN("AE", "0331234567890123456"); got != "AE070331234567890123456" {
		t.Errorf("makeIBAN AE = %s", got)
	}
	if got := makeIBAN("SA", "80000000608010167519"); got != "SA0380000000608010167519" {
		t.Errorf("makeIBAN SA = %s", got)
	}
}

func FuzzValidIBAN(f *testing.F) {
	for _, s := range []string{"AE070331234567890123456", "SA0380000000608010167519", "GB29NWBK60161331926819", "", "AE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidIBAN(s) {
			c := strings.ReplaceAll(s, " ", "")
			if makeIBAN(c[:2], c[4:]) != c {
				t.Errorf("ValidIBAN(%q) but check digits differ from makeIBAN", s)
			}
		}
	})
}

func FuzzSession(f *testing.F) {
	f.Add([]byte(`{"bank":"SANDBOX_AE_ENBD","user":"user_good"}`))
	f.Add([]byte(`{"bank":"SANDBOX_AE_ENBD","user":""}`))
	f.Add([]byte(`{"bank":"NOPE","user":"x"}`))
	f.Add([]byte(`not json`))
	b := New(Options{CacheUsers: 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		accts, _, err := b.Accounts(context.Background(), &bank.Call{Session: bank.Session{Data: data}, Now: testNow})
		if err != nil && !bankgate.IsCode(err, bankgate.SessionInvalidated) {
			t.Fatalf("Accounts(%q): %v", data, err)
		}
		for _, a := range accts {
			if a.Type != "credit" && !ValidIBAN(a.IBAN) {
				t.Fatalf("Accounts(%q): invalid IBAN %q", data, a.IBAN)
			}
		}
	})
}

func FuzzLoginResume(f *testing.F) {
	f.Add([]byte(`{"bank":"SANDBOX_AE_ENBD","user":"user_mfa","step":"otp"}`), "otp", AnswerOTP)
	f.Add([]byte(`{"bank":"SANDBOX_AE_ENBD","user":"user_multi_mfa","step":"multi"}`), "pin", AnswerPIN)
	f.Add([]byte(`{}`), "", "")
	b := New(Options{})
	f.Fuzz(func(t *testing.T, state []byte, id, answer string) {
		res, err := b.Login(context.Background(), bank.LoginRequest{BankID: "SANDBOX_AE_ENBD", State: state,
			Answers: []bankgate.UserInput{{ID: id, Answer: answer}}})
		if err != nil {
			if !bankgate.IsCode(err, bankgate.InvalidMFA) {
				t.Fatalf("resume: %v", err)
			}
			return
		}
		if res.Session == nil || res.UserKey == "" || answer == "" {
			t.Fatalf("resume succeeded with %+v for answer %q", res, answer)
		}
	})
}

// forEachUser calls fn for n generated users and the fixtures at every
// sandbox bank.
func forEachUser(t *testing.T, n int, fn func(t *testing.T, b *Connector, bk bankgate.Bank, user string, s bank.Session)) {
	b, _ := newTestBank(t)
	for _, bk := range b.Banks() {
		for _, user := range usernames(n) {
			fn(t, b, bk, user, MustLogin(t, b, bk.ID, user))
		}
	}
}

func TestAccounts(t *testing.T) {
	var sawSecondCurrent, sawCredit, sawNoSavings bool
	forEachUser(t, 300/6, func(t *testing.T, b *Connector, bk bankgate.Bank, user string, s bank.Session) {
		accts, ch, err := b.Accounts(context.Background(), &bank.Call{Session: s, Now: testNow})
		if err != nil || ch != nil {
			t.Fatalf("Accounts: %v, %v", ch, err)
		}
		if len(accts) < 2 || len(accts) > 4 {
			t.Errorf("%s %s: %d accounts, want 2 to 4", bk.ID, user, len(accts))
		}
		cur := map[string]string{"AE": "AED", "SA": "SAR"}[bk.Country]
		wantLen := map[string]int{"AE": 23, "SA": 24}[bk.Country]
		currents, savings := 0, 0
		ids := map[string]bool{}
		for i, a := range accts {
			if ids[a.ID] || a.ID == "" {
				t.Errorf("%s %s: account ID %q empty or repeated", bk.ID, user, a.ID)
			}
			ids[a.ID] = true
			if a.Currency != bankgate.Currencies[cur] {
				t.Errorf("%s %s: currency %v", bk.ID, user, a.Currency)
			}
			if (i == 0) != a.IsFavourite {
				t.Errorf("%s %s: account %d favourite = %v", bk.ID, user, i, a.IsFavourite)
			}
			switch a.Type {
			case "current", "savings":
				if a.Type == "current" {
					currents++
				} else {
					savings++
				}
				if !ValidIBAN(a.IBAN) || len(a.IBAN) != wantLen || a.IBAN[:2] != bk.Country {
					t.Errorf("%s %s: invalid IBAN %q", bk.ID, user, a.IBAN)
				}
				if code := bankByID[bk.ID].ibanCode; a.IBAN[4:4+len(code)] != code {
					t.Errorf("%s %s: IBAN %s lacks bank code %s", bk.ID, user, a.IBAN, code)
				}
				if !strings.HasSuffix(a.IBAN, a.Number) || len(a.Number) < 10 {
					t.Errorf("%s %s: number %q inconsistent with IBAN %q", bk.ID, user, a.Number, a.IBAN)
				}
			case "credit":
				sawCredit = true
				if a.IBAN != "" || !regexp.MustCompile(`^[45]XXX XXXX XXXX \d{4}$`).MatchString(a.Number) {
					t.Errorf("%s %s: credit account %+v", bk.ID, user, a)
				}
			default:
				t.Errorf("%s %s: account type %q", bk.ID, user, a.Type)
			}
		}
		if accts[0].Type != "current" || accts[0].Name != "Current Account" {
			t.Errorf("%s %s: first account %+v, want the current account", bk.ID, user, accts[0])
		}
		sawSecondCurrent = sawSecondCurrent || currents == 2
		sawNoSavings = sawNoSavings || savings == 0
	})
	if !sawSecondCurrent || !sawCredit || !sawNoSavings {
		t.Errorf("account mix lacks variety: second current %v, credit %v, no savings %v", sawSecondCurrent, sawCredit, sawNoSavings)
	}
}

func TestAccountIDsStable(t *testing.T) {
	b, _ := newTestBank(t)
	s := MustLogin(t, b, "SANDBOX_AE_ENBD", "stable")
	ctx := context.Background()
	a1, _, _ := b.Accounts(ctx, &bank.Call{Session: s, Now: testNow})
	a2, _, _ := b.Accounts(ctx, &bank.Call{Session: s, Now: testNow.AddDate(1, 0, 0)})
	id := func(a bankgate.Account) string { return a.ID }
	if diff := cmp.Diff(mapSlice(a1, id), mapSlice(a2, id)); diff != "" {
		t.Errorf("account IDs changed over time (-before +after):\n%s", diff)
	}
}

func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

func TestUserEmpty(t *testing.T) {
	b, _ := newTestBank(t)
	for _, bk := range b.Banks() {
		s := MustLogin(t, b, bk.ID, UserEmpty)
		call := &bank.Call{Session: s, Now: testNow}
		accts, _, err := b.Accounts(context.Background(), call)
		if err != nil || len(accts) != 0 {
			t.Errorf("%s: accounts %v, %v; want none", bk.ID, accts, err)
		}
		cards, err := cardsAt(b, s, testNow)
		if err != nil || len(cards) != 0 {
			t.Errorf("%s: cards %v, %v; want none", bk.ID, cards, err)
		}
		id, _, err := b.Identity(context.Background(), call)
		if err != nil || id.Name == "" {
			t.Errorf("%s: identity %+v, %v", bk.ID, id, err)
		}
	}
}

func TestIdentity(t *testing.T) {
	emiratesID := regexp.MustCompile(`^784-(\d{4})-\d{7}-\d$`)
	saudiID := regexp.MustCompile(`^[12]\d{9}$`)
	email := regexp.MustCompile(`^[a-z]+\.[a-z]+\d*@example\.(com|net|org)$`)
	forEachUser(t, 40, func(t *testing.T, b *Connector, bk bankgate.Bank, user string, s bank.Session) {
		id, ch, err := b.Identity(context.Background(), &bank.Call{Session: s, Now: testNow})
		if err != nil || ch != nil {
			t.Fatalf("Identity: %v, %v", ch, err)
		}
		c := bankByID[bk.ID].country
		if id.Name == "" || len(strings.Fields(id.Name)) < 2 || id.Nationality == "" || id.Nationality != strings.ToUpper(id.Nationality) {
			t.Errorf("%s %s: name %q, nationality %q", bk.ID, user, id.Name, id.Nationality)
		}
		dob, err := time.Parse(time.DateOnly, id.DateOfBirth)
		if err != nil || dob.Year() < 1960 || dob.Year() > 2005 {
			t.Errorf("%s %s: date of birth %q", bk.ID, user, id.DateOfBirth)
		}
		if !email.MatchString(id.EmailAddress) {
			t.Errorf("%s %s: email %q", bk.ID, user, id.EmailAddress)
		}
		if len(id.Numbers) == 0 || id.Numbers[0].Type != "mobile" || !strings.HasPrefix(id.Numbers[0].Value, c.Dial+"5") ||
			len(id.Numbers[0].Value) != len(c.Dial)+9 {
			t.Errorf("%s %s: numbers %+v", bk.ID, user, id.Numbers)
		}
		if id.Address.Country != bk.CountryName || !slices.ContainsFunc(c.Cities, func(ct city) bool { return ct.Name == id.Address.City }) ||
			id.Address.Full == "" || id.Address.Area == "" || id.Address.State == "" {
			t.Errorf("%s %s: address %+v", bk.ID, user, id.Address)
		}
		types := map[string]string{}
		for _, doc := range id.Identifications {
			types[doc.Type] = doc.Value
		}
		nid := types["national_id"]
		switch bk.Country {
		case "AE":
			m := emiratesID.FindStringSubmatch(nid)
			if m == nil || m[1] != id.DateOfBirth[:4] {
				t.Errorf("%s %s: Emirates ID %q (born %s)", bk.ID, user, nid, id.DateOfBirth)
			} else if d := strings.ReplaceAll(nid, "-", ""); luhnDigit(d[:14]) != d[14] {
				t.Errorf("%s %s: Emirates ID %q fails its check digit", bk.ID, user, nid)
			}
		case "SA":
			if !saudiID.MatchString(nid) || luhnDigit(nid[:9]) != nid[9] {
				t.Errorf("%s %s: Saudi ID %q", bk.ID, user, nid)
			}
			if (nid[0] == '1') != (id.Nationality == "SAUDI ARABIA") {
				t.Errorf("%s %s: ID %q for nationality %s", bk.ID, user, nid, id.Nationality)
			}
		}
		if types["passport"] == "" {
			t.Errorf("%s %s: no passport in %+v", bk.ID, user, id.Identifications)
		}
	})
}

// checkChain checks that txs chain before and after amounts exactly, are
// oldest first, have unique references and end at balance.
func checkChain(t *testing.T, what string, txs []bankgate.Transaction, balance bankgate.Money, cur bankgate.Currency) {
	t.Helper()
	refs := make(map[string]bool, len(txs))
	for i, tx := range txs {
		if tx.Amount <= 0 {
			t.Errorf("%s: tx %d amount %v", what, i, tx.Amount)
		}
		want := tx.BeforeAmount + tx.Amount
		if tx.Type == "debit" {
			want = tx.BeforeAmount - tx.Amount
		} else if tx.Type != "credit" {
			t.Errorf("%s: tx %d type %q", what, i, tx.Type)
		}
		if tx.AfterAmount != want {
			t.Fatalf("%s: tx %d %s %v: before %v after %v", what, i, tx.Type, tx.Amount, tx.BeforeAmount, tx.AfterAmount)
		}
		if i > 0 {
			if tx.BeforeAmount != txs[i-1].AfterAmount {
				t.Fatalf("%s: tx %d before %v != previous after %v", what, i, tx.BeforeAmount, txs[i-1].AfterAmount)
			}
			if tx.Date.Before(txs[i-1].Date) {
				t.Fatalf("%s: tx %d dated %v before tx %d at %v", what, i, tx.Date, i-1, txs[i-1].Date)
			}
		}
		if tx.Date.Location() != time.UTC {
			t.Errorf("%s: tx %d date not UTC: %v", what, i, tx.Date)
		}
		if refs[tx.Reference] || tx.Reference == "" {
			t.Fatalf("%s: tx %d reference %q empty or repeated", what, i, tx.Reference)
		}
		refs[tx.Reference] = true
		if tx.Currency != cur || tx.Description == "" || tx.Details == "" || tx.Category == "" || tx.BrandName == "" ||
			!validBrandLogo(tx.BrandLogo) {
			t.Errorf("%s: tx %d incomplete: %+v", what, i, tx)
		}
	}
	if len(txs) > 0 && txs[len(txs)-1].AfterAmount != balance {
		t.Errorf("%s: last after %v != balance %v", what, txs[len(txs)-1].AfterAmount, balance)
	}
}

func TestTransactionsChain(t *testing.T) {
	t.Parallel() // CPU-bound and independent: uses both cores
	var negative, total int
	forEachUser(t, 300/6, func(t *testing.T, b *Connector, bk bankgate.Bank, user string, s bank.Session) {
		ctx := context.Background()
		now := testNow.Add(time.Duration(len(user)) * 97 * time.Hour) // a spread of clock readings
		accts, _, err := b.Accounts(ctx, &bank.Call{Session: s, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accts {
			txs, err := txsAt(b, s, a.ID, time.Time{}, time.Time{}, now)
			if err != nil {
				t.Fatal(err)
			}
			what := bk.ID + " " + user + " " + a.Name
			checkChain(t, what, txs, a.Balance, a.Currency)
			if len(txs) == 0 || txs[0].Date.After(now.AddDate(-1, 0, 0)) || txs[len(txs)-1].Date.After(now) {
				t.Errorf("%s: %d transactions, not 12 months before %v", what, len(txs), now)
			}
			bal, err := balanceAt(b, s, a.ID, now)
			if err != nil || bal != a {
				t.Errorf("%s: Balance = %+v, %v; want %+v", what, bal, err, a)
			}
			if a.Type == "current" && a.Name == "Current Account" {
				for _, tx := range txs {
					total++
					if tx.AfterAmount < 0 {
						negative++
					}
				}
			}
		}
		cards, err := cardsAt(b, s, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cards {
			txs, err := cardTxsAt(b, s, c.ID, time.Time{}, time.Time{}, now)
			if err != nil {
				t.Fatal(err)
			}
			var last bankgate.Money
			if len(txs) > 0 {
				last = txs[len(txs)-1].AfterAmount
			}
			checkChain(t, bk.ID+" "+user+" "+c.Name, txs, last, c.Currency)
			if c.Balance.OutstandingBalance != max(-last, 0) || c.Balance.AvailableBalance != c.CreditLimit-c.Balance.OutstandingBalance {
				t.Errorf("%s %s: card balance %+v, last after %v, limit %v", bk.ID, user, c.Balance, last, c.CreditLimit)
			}
			if c.Balance.AvailableBalance < 0 {
				t.Errorf("%s %s: card over its limit: %+v", bk.ID, user, c.Balance)
			}
		}
	})
	if negative*20 > total {
		t.Errorf("%d of %d current account balances negative, want under 5%%", negative, total)
	}
}

func TestHistoryContent(t *testing.T) {
	b, _ := newTestBank(t)
	for _, bk := range b.Banks() {
		s := MustLogin(t, b, bk.ID, UserGood)
		accts, _, _ := b.Accounts(context.Background(), &bank.Call{Session: s, Now: testNow})
		txs, err := txsAt(b, s, accts[0].ID, time.Time{}, time.Time{}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		cats := map[string]int{}
		months := map[string]bool{}
		brands := map[string]bool{}
		for _, tx := range txs {
			cats[tx.Category]++
			months[tx.Date.Format("2006-01")] = true
			brands[tx.BrandName] = true
		}
		for _, c := range []string{catSalary, catGroceries, catUtilities, catDining, catShopping, catTransfers} {
			if cats[c] == 0 {
				t.Errorf("%s: no %s transactions in %v", bk.ID, c, cats)
			}
		}
		for m := 1; m <= 12; m++ {
			if mo := testNow.AddDate(0, -m, 0).Format("2006-01"); !months[mo] {
				t.Errorf("%s: no transactions in %s", bk.ID, mo)
			}
		}
		want := map[string][]string{"AE": {"Carrefour", "Lulu Hypermarket", "Spinneys"}, "SA": {"Panda", "Danube", "Tamimi Markets"}}[bk.Country]
		if !slices.ContainsFunc(want, func(s string) bool { return brands[s] }) {
			t.Errorf("%s: none of the grocers %v in %v", bk.ID, want, brands)
		}
		// Salary arrives every month.
		if cats[catSalary] < len(months)-1 {
			t.Errorf("%s: %d salaries in %d months", bk.ID, cats[catSalary], len(months))
		}
	}
}

func TestClockAdvances(t *testing.T) {
	t.Parallel() // CPU-bound and independent: uses both cores
	b, _ := newTestBank(t)
	fresh := New(Options{})
	users := usernames(2)
	if testing.Short() {
		users = []string{UserGood, "user000"} // a fixture and a generated user; CI checks all
	}
	for _, bk := range b.Banks() {
		for _, user := range users {
			s := MustLogin(t, b, bk.ID, user)
			t1 := testNow
			t2 := t1.Add(40*24*time.Hour + 5*time.Hour)
			// Read at t1 first so the cache holds a ledger generated to t1,
			// then extend it to t2.
			before := mustUserData(t, b, bk.ID, user, t1)
			after := mustUserData(t, b, bk.ID, user, t2)
			if diff := cmp.Diff(after, mustUserData(t, fresh, bk.ID, user, t2)); diff != "" {
				t.Fatalf("%s %s: extended ledger differs from a fresh one (-extended +fresh):\n%s", bk.ID, user, diff)
			}
			from := t1.AddDate(0, -6, 0)
			for _, a := range after.Accounts {
				old, err := txsAt(b, s, a.ID, from, time.Time{}, t1)
				if err != nil {
					t.Fatal(err)
				}
				cur, err := txsAt(b, s, a.ID, from, time.Time{}, t2)
				if err != nil {
					t.Fatal(err)
				}
				if n := len(before.Transactions[a.ID]); n == 0 || n > len(cur)+1000 {
					t.Errorf("%s %s %s: %d transactions at t1", bk.ID, user, a.Name, n)
				}
				if len(cur) <= len(old) {
					t.Errorf("%s %s %s: %d transactions at t2, %d at t1", bk.ID, user, a.Name, len(cur), len(old))
				}
				if diff := cmp.Diff(old, cur[:min(len(old), len(cur))]); diff != "" {
					t.Errorf("%s %s %s: history before t1 changed (-t1 +t2):\n%s", bk.ID, user, a.Name, diff)
				}
				// The same range asked at t2 gives the same answer.
				txs, err := txsAt(b, s, a.ID, from, t1, t2)
				txs = slices.DeleteFunc(txs, func(tx bankgate.Transaction) bool { return tx.Date.After(t1) })
				if err != nil || !cmp.Equal(old, txs) {
					t.Errorf("%s %s %s: range up to t1 seen at t2 differs (%v)", bk.ID, user, a.Name, err)
				}
			}
		}
	}
}

func TestTransactionsRange(t *testing.T) {
	b, _ := newTestBank(t)
	s := MustLogin(t, b, "SANDBOX_SA_SNB", UserGood)
	accts, _, _ := b.Accounts(context.Background(), &bank.Call{Session: s, Now: testNow})
	id := accts[0].ID
	all, _ := txsAt(b, s, id, time.Time{}, time.Time{}, testNow)
	from, to := all[10].Date, all[20].Date
	got, err := txsAt(b, s, id, from, to, testNow)
	if err != nil {
		t.Fatal(err)
	}
	// The range is of whole days.
	dayFrom := from.Truncate(24 * time.Hour)
	dayTo := to.Truncate(24 * time.Hour).Add(24 * time.Hour)
	var want []bankgate.Transaction
	for _, tx := range all {
		if !tx.Date.Before(dayFrom) && tx.Date.Before(dayTo) {
			want = append(want, tx)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("range [%v, %v] (-want +got):\n%s", from, to, diff)
	}
	if future, err := txsAt(b, s, id, testNow.AddDate(0, 0, 1), testNow.AddDate(1, 0, 0), testNow); err != nil || len(future) != 0 {
		t.Errorf("future range = %d transactions, %v; want none", len(future), err)
	}
	if _, err := txsAt(b, s, id, to, from, testNow); !bankgate.IsCode(err, bankgate.InvalidDateRange) {
		t.Errorf("reversed range: %v", err)
	}
	if _, err := txsAt(b, s, "nope", time.Time{}, time.Time{}, testNow); !bankgate.IsCode(err, bankgate.InvalidAccountID) {
		t.Errorf("unknown account: %v", err)
	}
	if _, err := balanceAt(b, s, "nope", testNow); !bankgate.IsCode(err, bankgate.InvalidAccountID) {
		t.Errorf("unknown account balance: %v", err)
	}
	if _, err := cardTxsAt(b, s, id, time.Time{}, time.Time{}, testNow); !bankgate.IsCode(err, bankgate.InvalidCardID) {
		t.Errorf("account ID as card: %v", err)
	}
	if _, err := cardBalanceAt(b, s, "nope", testNow); !bankgate.IsCode(err, bankgate.InvalidCardID) {
		t.Errorf("unknown card balance: %v", err)
	}
	// Before the history starts there is nothing, and the balance is the
	// opening balance.
	early := epoch.Add(-time.Hour)
	ea, _, _ := b.Accounts(context.Background(), &bank.Call{Session: s, Now: early})
	first, _ := txsAt(b, s, id, time.Time{}, time.Time{}, epoch.AddDate(0, 1, 0))
	if txs, _ := txsAt(b, s, id, time.Time{}, time.Time{}, early); len(txs) != 0 || len(first) == 0 || ea[0].Balance != first[0].BeforeAmount {
		t.Errorf("before epoch: %d transactions, balance %v, want 0 and the opening balance", len(txs), ea[0].Balance)
	}
	// Returned slices are the caller's.
	got[0].Description = "changed"
	if again, _ := txsAt(b, s, id, from, to, testNow); again[0].Description == "changed" {
		t.Error("Transactions returned the cached ledger")
	}
}

func TestCards(t *testing.T) {
	b, _ := newTestBank(t)
	s := MustLogin(t, b, "SANDBOX_AE_ENBD", UserGood)
	cards, err := cardsAt(b, s, testNow)
	if err != nil || len(cards) != 2 {
		t.Fatalf("cards = %+v, %v; want 2", cards, err)
	}
	accts, _, _ := b.Accounts(context.Background(), &bank.Call{Session: s, Now: testNow})
	credit := accts[len(accts)-1]
	if credit.Type != "credit" || credit.Number != cards[0].CardNumber || credit.Balance != -cards[0].Balance.OutstandingBalance {
		t.Errorf("credit account %+v does not match card %+v", credit, cards[0])
	}
	masked := regexp.MustCompile(`^[45]XXX XXXX XXXX \d{4}$`)
	for _, c := range cards {
		if !masked.MatchString(c.CardNumber) || c.Type != "credit" || c.Status != "active" || c.CreditLimit <= 0 ||
			!regexp.MustCompile(`^(0[1-9]|1[0-2])/\d\d$`).MatchString(c.ExpiryDate) || c.Balance.CardNumber != c.CardNumber ||
			c.Currency.Code != "AED" || c.Name == "" {
			t.Errorf("card %+v", c)
		}
		// Over one month: the amount due is the statement until it is paid
		// on the due date, then zero until the next month.
		var paidOnce bool
		for d := range 31 {
			now := time.Date(2026, time.April, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, d)
			cb, err := cardBalanceAt(b, s, c.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			due, err := time.Parse(time.DateOnly, cb.DueDate)
			if err != nil {
				t.Fatalf("due date %q", cb.DueDate)
			}
			if due.Before(now.Truncate(24 * time.Hour)) {
				t.Errorf("%v: due date %s passed", now, cb.DueDate)
			}
			if cb.AmountDue > cb.OutstandingBalance {
				t.Errorf("%v: amount due %v over outstanding %v", now, cb.AmountDue, cb.OutstandingBalance)
			}
			if cb.AmountDue == 0 && due.Month() == time.May {
				paidOnce = true
			}
		}
		if !paidOnce {
			t.Errorf("card %s never paid in April", c.Name)
		}
		txs, _ := cardTxsAt(b, s, c.ID, time.Time{}, time.Time{}, testNow)
		if len(txs) < 50 {
			t.Errorf("card %s: only %d transactions", c.Name, len(txs))
		}
	}
}

func TestCacheBounded(t *testing.T) {
	b := New(Options{CacheUsers: 3})
	for _, user := range usernames(10) {
		s := MustLogin(t, b, "SANDBOX_AE_FAB", user)
		if _, _, err := b.Accounts(context.Background(), &bank.Call{Session: s, Now: testNow}); err != nil {
			t.Fatal(err)
		}
	}
	b.cache.mu.Lock()
	n, m := b.cache.x.len(), len(b.cache.x.pos)
	b.cache.mu.Unlock()
	if n != 3 || m != 3 {
		t.Errorf("cache holds %d (%d) users, want 3", n, m)
	}
}

func TestConcurrent(t *testing.T) {
	b, _ := newTestBank(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				user := fmt.Sprintf("user%d", i%4)
				res, err := b.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_AE_ENBD", Username: user, Password: PasswordGood})
				if err != nil {
					t.Error(err)
					return
				}
				s := bank.Session{BankID: "SANDBOX_AE_ENBD", Data: res.Session}
				now := testNow.AddDate(0, g, i)
				accts, _, err := b.Accounts(ctx, &bank.Call{Session: s, Now: now})
				if err != nil {
					t.Error(err)
					return
				}
				for _, a := range accts {
					txs, err := txsAt(b, s, a.ID, time.Time{}, time.Time{}, now)
					if err != nil || (len(txs) > 0 && txs[len(txs)-1].AfterAmount != a.Balance) {
						t.Errorf("%s %s at %v: balance mismatch (%v)", user, a.Name, now, err)
					}
				}
				_, _ = b.Login(ctx, bank.LoginRequest{BankID: "SANDBOX_AE_ENBD", Username: fmt.Sprintf("bad%d", i), Password: "bad", Now: now})
			}
		})
	}
	wg.Wait()
}

// BenchmarkAccounts measures Accounts for a user whose ledger is cached
// (warm) and for a new user each time (cold: the full generation of a
// user's data).
func BenchmarkAccounts(b *testing.B) {
	ctx := context.Background()
	b.Run("warm", func(b *testing.B) {
		bk := New(Options{})
		s := MustLogin(b, bk, "SANDBOX_AE_ENBD", UserGood)
		call := &bank.Call{Session: s, Now: testNow}
		for b.Loop() {
			if _, _, err := bk.Accounts(ctx, call); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		bk := New(Options{})
		i := 0
		for b.Loop() {
			i++
			s := bank.Session{BankID: "SANDBOX_AE_ENBD", Data: fmt.Appendf(nil, `{"bank":"SANDBOX_AE_ENBD","user":"bench%d"}`, i)}
			if _, _, err := bk.Accounts(ctx, &bank.Call{Session: s, Now: testNow}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// validBrandLogo reports whether a transaction's brand logo is a
// merchant's logo URL or a sandbox bank's logo, which bankgate serves.
func validBrandLogo(u string) bool {
	if strings.HasPrefix(u, logos.Prefix) {
		return strings.HasSuffix(u, ".svg")
	}
	return strings.HasPrefix(u, "https://logos.bankgate.dev/") && strings.HasSuffix(u, ".png")
}
