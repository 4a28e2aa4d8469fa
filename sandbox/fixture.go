package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// fixture is an operator's sandbox user, in the JSON form documented in
// doc.go. After validate it is normalised: every default is filled in.
// What the store keeps, and what a Connector holds in memory, is its JSON
// after hashSecrets: the password and MFA answers replaced by their
// salted hashes (see secret.go).
type fixture struct {
	BankID   string `json:"bankID"`
	Username string `json:"username"`
	// Password is the operator's, in clear; it is only ever set between
	// decoding an operator's fixture and hashSecrets, or in a version a
	// store kept before passwords were hashed.
	Password string `json:"password,omitempty"`
	// PasswordHash replaces Password in the store and in memory.
	PasswordHash  string               `json:"passwordHash,omitempty"`
	MFA           []fixtureInput       `json:"mfa,omitempty"`
	Identity      fixtureIdentity      `json:"identity"`
	Accounts      []fixtureAccount     `json:"accounts"`
	Beneficiaries []fixtureBeneficiary `json:"beneficiaries,omitempty"`
}

type fixtureInput struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
	Query string `json:"query"`
	// Answer is in clear, as Password is; AnswerHash replaces it.
	Answer     string `json:"answer,omitempty"`
	AnswerHash string `json:"answerHash,omitempty"`
}

type fixtureIdentity struct {
	Name            string         `json:"name"`
	Nationality     string         `json:"nationality,omitempty"`
	DateOfBirth     string         `json:"dateOfBirth,omitempty"`
	EmailAddress    string         `json:"emailAddress,omitempty"`
	Numbers         []fixtureTyped `json:"numbers,omitempty"`
	Address         fixtureAddress `json:"address"`
	Identification  []fixtureTyped `json:"identification,omitempty"`
	Identifications []fixtureTyped `json:"identifications,omitempty"` // accepted as a synonym, merged into Identification
}

type fixtureTyped struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type fixtureAddress struct {
	Flat     string `json:"flat,omitempty"`
	Building string `json:"building,omitempty"`
	Full     string `json:"full,omitempty"`
	Area     string `json:"area,omitempty"`
	PoBox    string `json:"poBox,omitempty"`
	City     string `json:"city,omitempty"`
	State    string `json:"state,omitempty"`
	Country  string `json:"country,omitempty"`
	ZipCode  string `json:"zipCode,omitempty"`
}

type fixtureAccount struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	Type           string      `json:"type"`
	Currency       string      `json:"currency"`
	IBAN           string      `json:"iban,omitempty"`
	Number         string      `json:"number,omitempty"`
	OpeningBalance float64     `json:"openingBalance"`
	Transactions   []fixtureTx `json:"transactions,omitempty"`
}

type fixtureTx struct {
	Date        string  `json:"date"`
	Amount      float64 `json:"amount"`
	Type        string  `json:"type"`
	Description string  `json:"description"`
	Details     string  `json:"details,omitempty"`
	Category    string  `json:"category,omitempty"`
	Reference   string  `json:"reference,omitempty"`
	BrandName   string  `json:"brandName,omitempty"`
	BrandLogo   string  `json:"brandLogo,omitempty"`
}

type fixtureBeneficiary struct {
	ID            string `json:"id,omitempty"`
	Name          string `json:"name"`
	Nickname      string `json:"nickname,omitempty"`
	IBAN          string `json:"iban,omitempty"`
	AccountNumber string `json:"accountNumber,omitempty"`
	SwiftCode     string `json:"swiftCode,omitempty"`
	BankName      string `json:"bankName,omitempty"`
	Type          string `json:"type,omitempty"`
}

// fixtureEntry is the latest fixture version of one user the Connector has
// read, its secrets hashed.
type fixtureEntry struct {
	seq int64
	fx  *fixture
	// legacy marks a version stored with its password or answers in
	// clear (before they were hashed): AddFixture replaces it by a hashed
	// version even when nothing else changed.
	legacy bool
}

var (
	accountTypes   = []string{"current", "savings", "loan", "credit", "deposit", "other"}
	mfaIDs         = []string{"otp", "secret_question", "captcha", "pin", "confirmation", "token"}
	phoneTypes     = []string{"mobile", "home", "office", "fax"}
	documentTypes  = []string{"passport", "national_id", "visa_number"}
	fixtureTxTypes = []string{"credit", "debit"}
)

// toMoney converts an amount in currency units with at most two decimals.
func toMoney(x float64) (bankgate.Money, bool) {
	c := math.Round(x * 100)
	if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(c-x*100) > 1e-6*math.Max(1, math.Abs(x)) || math.Abs(c) > 1e15 {
		return 0, false
	}
	return bankgate.Money(c), true
}

// parseFixtureDate accepts YYYY-MM-DD (midnight UTC) or RFC 3339.
func parseFixtureDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t.UTC(), nil
}

// decodeFixture decodes one fixture strictly: unknown fields and trailing
// data are errors.
func decodeFixture(data []byte) (*fixture, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fixture
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode: data after the fixture object")
	}
	return &f, nil
}

// validate checks f and fills in its defaults: the bank's currency,
// account IDs, IBANs and numbers, transaction references and details.
// Transactions are sorted by date, stably.
func (f *fixture) validate() error {
	bi, ok := bankByID[f.BankID]
	switch {
	case f.BankID == "":
		return errors.New("bankID is required")
	case !ok:
		return fmt.Errorf("bankID %q is not a sandbox bank", f.BankID)
	case f.Username == "":
		return errors.New("username is required")
	case len(f.Username) > 100 || strings.ContainsFunc(f.Username, func(r rune) bool { return r <= ' ' || r == '/' }):
		return fmt.Errorf("username %q must be at most 100 characters without spaces, control characters or slashes", f.Username)
	case f.Password == "" && f.PasswordHash == "":
		return errors.New("password is required")
	}
	if f.PasswordHash != "" {
		if _, err := parseHash(f.PasswordHash); err != nil {
			return fmt.Errorf("passwordHash: %w", err)
		}
	}
	for i, in := range f.MFA {
		where := fmt.Sprintf("mfa[%d]", i)
		switch {
		case !slices.Contains(mfaIDs, in.ID):
			return fmt.Errorf("%s.id %q must be one of %s", where, in.ID, strings.Join(mfaIDs, ", "))
		case in.Index != i:
			return fmt.Errorf("%s.index is %d, want %d (inputs are numbered in order from 0)", where, in.Index, i)
		case in.Query == "":
			return fmt.Errorf("%s.query is required", where)
		case strings.TrimSpace(in.Answer) == "" && in.AnswerHash == "":
			return fmt.Errorf("%s.answer is required", where)
		}
		if in.AnswerHash != "" {
			if _, err := parseHash(in.AnswerHash); err != nil {
				return fmt.Errorf("%s.answerHash: %w", where, err)
			}
		}
		f.MFA[i].Answer = strings.TrimSpace(in.Answer)
	}
	id := &f.Identity
	if strings.TrimSpace(id.Name) == "" {
		return errors.New("identity.name is required")
	}
	if id.DateOfBirth != "" {
		if _, err := time.Parse(time.DateOnly, id.DateOfBirth); err != nil {
			return fmt.Errorf("identity.dateOfBirth %q must be YYYY-MM-DD", id.DateOfBirth)
		}
	}
	for i, n := range id.Numbers {
		if !slices.Contains(phoneTypes, n.Type) || n.Value == "" {
			return fmt.Errorf("identity.numbers[%d] needs a type (%s) and a value", i, strings.Join(phoneTypes, ", "))
		}
	}
	id.Identification = append(id.Identification, id.Identifications...)
	id.Identifications = nil
	for i, d := range id.Identification {
		if !slices.Contains(documentTypes, d.Type) || d.Value == "" {
			return fmt.Errorf("identity.identification[%d] needs a type (%s) and a value", i, strings.Join(documentTypes, ", "))
		}
	}
	c := bi.country
	ids, ibans := map[string]bool{}, map[string]bool{}
	if len(f.Accounts) > maxFixtureAccounts {
		return fmt.Errorf("a user has at most %d accounts, not %d", maxFixtureAccounts, len(f.Accounts))
	}
	for i := range f.Accounts {
		a := &f.Accounts[i]
		where := fmt.Sprintf("accounts[%d]", i)
		for _, x := range []struct{ name, v string }{{"id", a.ID}, {"name", a.Name}, {"number", a.Number}, {"iban", a.IBAN}} {
			if len(x.v) > maxFixtureAccountField {
				return fmt.Errorf("%s.%s is longer than %d bytes", where, x.name, maxFixtureAccountField)
			}
		}
		if strings.TrimSpace(a.Name) == "" {
			return fmt.Errorf("%s.name is required", where)
		}
		if a.Type == "" {
			a.Type = "current"
		}
		if !slices.Contains(accountTypes, a.Type) {
			return fmt.Errorf("%s.type %q must be one of %s", where, a.Type, strings.Join(accountTypes, ", "))
		}
		if a.Currency == "" {
			a.Currency = c.Currency
		}
		if _, ok := bankgate.Currencies[a.Currency]; !ok {
			return fmt.Errorf("%s.currency %q is not a currency bankgate knows", where, a.Currency)
		}
		if a.ID == "" {
			a.ID = opaqueID(f.BankID, f.Username, "fixture/account/"+strconv.Itoa(i))
		}
		if ids[a.ID] {
			return fmt.Errorf("%s.id %q is repeated", where, a.ID)
		}
		ids[a.ID] = true
		if a.Number != "" && !isDigits(a.Number) {
			return fmt.Errorf("%s.number %q must be digits", where, a.Number)
		}
		a.IBAN = strings.ReplaceAll(a.IBAN, " ", "")
		switch {
		case a.IBAN != "":
			if !ValidIBAN(a.IBAN) {
				return fmt.Errorf("%s.iban %q is not a valid IBAN", where, a.IBAN)
			}
			if a.Number == "" {
				a.Number = strings.TrimLeft(a.IBAN[max(4, len(a.IBAN)-13):], "0")
			}
		case a.Type == "credit":
			if a.Number == "" {
				a.Number = accountNumber(seeded(f.BankID, f.Username, "fixture", strconv.Itoa(i)), c.Code)
			}
		default:
			if a.Number == "" {
				a.Number = accountNumber(seeded(f.BankID, f.Username, "fixture", strconv.Itoa(i)), c.Code)
			}
			width := map[string]int{"AE": 16, "SA": 18}[c.Code]
			if len(a.Number) > width {
				return fmt.Errorf("%s.number %q is too long to make an IBAN from; give the iban", where, a.Number)
			}
			a.IBAN = accountIBAN(c.Code, bi.ibanCode, a.Number)
		}
		if a.IBAN != "" {
			if ibans[a.IBAN] {
				return fmt.Errorf("%s.iban %s is repeated", where, a.IBAN)
			}
			ibans[a.IBAN] = true
		}
		if _, ok := toMoney(a.OpeningBalance); !ok {
			return fmt.Errorf("%s.openingBalance %v must have at most two decimals", where, a.OpeningBalance)
		}
		dates := make([]time.Time, len(a.Transactions))
		for j := range a.Transactions {
			tx := &a.Transactions[j]
			where := fmt.Sprintf("%s.transactions[%d]", where, j)
			t, err := parseFixtureDate(tx.Date)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			dates[j] = t
			if m, ok := toMoney(tx.Amount); !ok || m <= 0 {
				return fmt.Errorf("%s.amount %v must be positive with at most two decimals", where, tx.Amount)
			}
			if !slices.Contains(fixtureTxTypes, tx.Type) {
				return fmt.Errorf("%s.type %q must be credit or debit", where, tx.Type)
			}
			if strings.TrimSpace(tx.Description) == "" {
				return fmt.Errorf("%s.description is required", where)
			}
			if tx.Details == "" {
				tx.Details = upper(tx.Description)
			}
			if tx.Category == "" {
				tx.Category = "Other"
			}
			if tx.BrandName == "" {
				tx.BrandName = tx.Description
			}
		}
		idx := make([]int, len(a.Transactions))
		for j := range idx {
			idx[j] = j
		}
		slices.SortStableFunc(idx, func(x, y int) int { return dates[x].Compare(dates[y]) })
		sorted := make([]fixtureTx, len(idx))
		refs := map[string]bool{}
		for j, k := range idx {
			sorted[j] = a.Transactions[k]
			sorted[j].Date = dates[k].Format(time.RFC3339Nano)
			if sorted[j].Reference == "" {
				sorted[j].Reference = reference(kindCurrent, refCode(a.ID), dates[k], j+1)
			}
			if refs[sorted[j].Reference] {
				return fmt.Errorf("%s: transaction reference %q is repeated", where, sorted[j].Reference)
			}
			refs[sorted[j].Reference] = true
		}
		if len(sorted) == 0 {
			sorted = nil
		}
		a.Transactions = sorted
	}
	for i := range f.Beneficiaries {
		fb := &f.Beneficiaries[i]
		where := fmt.Sprintf("beneficiaries[%d]", i)
		nb, err := validBeneficiary(&bankgate.Beneficiary{Name: fb.Name, IBAN: fb.IBAN, AccountNumber: fb.AccountNumber, Type: fb.Type})
		if err != nil {
			return fmt.Errorf("%s: %s", where, bankgate.ErrorMessage(err))
		}
		fb.Name, fb.IBAN, fb.AccountNumber, fb.Type = nb.Name, nb.IBAN, nb.AccountNumber, nb.Type
		if fb.ID == "" {
			fb.ID = opaqueID(f.BankID, f.Username, "fixture/beneficiary/"+strconv.Itoa(i))
		}
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// inputs returns the fixture's MFA prompts; nil for a nil fixture.
func (f *fixture) inputs() []bankgate.UserInput {
	if f == nil {
		return nil
	}
	out := make([]bankgate.UserInput, len(f.MFA))
	for i, in := range f.MFA {
		out[i] = bankgate.UserInput{ID: in.ID, Index: in.Index, Query: in.Query, QueryType: "txt"}
	}
	return out
}

// A fixture's accounts are bounded so that a book's packed strings stay
// small (see book.packStrings).
const (
	maxFixtureAccounts     = 50
	maxFixtureAccountField = 256
)

// ledger returns the fixture's data as a ledger that never generates:
// its accounts with their transactions chained from the opening balances.
func (f *fixture) ledger(bi *bankInfo) *ledger {
	fi := f.Identity
	id := bankgate.Identity{Name: fi.Name, Nationality: fi.Nationality, DateOfBirth: fi.DateOfBirth, EmailAddress: fi.EmailAddress,
		Address: bankgate.Address{Flat: fi.Address.Flat, Building: fi.Address.Building, Full: fi.Address.Full, Area: fi.Address.Area,
			PoBox: fi.Address.PoBox, City: fi.Address.City, State: fi.Address.State, Country: fi.Address.Country, ZipCode: fi.Address.ZipCode}}
	for _, n := range fi.Numbers {
		id.Numbers = append(id.Numbers, bankgate.PhoneNumber{Type: n.Type, Value: n.Value})
	}
	for _, d := range fi.Identification {
		id.Identifications = append(id.Identifications, bankgate.Identification{Type: d.Type, Value: d.Value})
	}
	p := &profile{bank: bi, user: f.Username, currency: currencyOf(bi.country.Currency), fixed: &id, area: id.Address.Area,
		current: -1, savings: -1, current2: -1}
	l := &ledger{p: p, through: maxMonths - 1}
	strs := make([]bookStrings, 0, len(f.Accounts))
	for i, a := range f.Accounts {
		opening, _ := toMoney(a.OpeningBalance)
		cur := bankgate.Currencies[a.Currency]
		p.books = append(p.books, book{kind: kindCurrent, opening: opening, cur: currencyOf(a.Currency)})
		strs = append(strs, bookStrings{id: a.ID, name: a.Name, number: a.Number, iban: a.IBAN, refCode: refCode(a.ID)})
		p.accounts = append(p.accounts, accountRef{name: a.Name, kind: uint8(slices.Index(accountTypes, a.Type)), book: int8(i), fav: i == 0})
		bal := opening
		var txs []bankgate.Transaction
		for _, ft := range a.Transactions {
			amt, _ := toMoney(ft.Amount)
			at, _ := time.Parse(time.RFC3339Nano, ft.Date)
			before := bal
			if ft.Type == "debit" {
				bal -= amt
			} else {
				bal += amt
			}
			txs = append(txs, bankgate.Transaction{Amount: amt, Date: at.UTC(), Type: ft.Type, Description: ft.Description,
				Details: ft.Details, Currency: cur, BeforeAmount: before, AfterAmount: bal, Reference: ft.Reference,
				Category: ft.Category, BrandName: ft.BrandName, BrandLogo: ft.BrandLogo})
		}
		l.txs = append(l.txs, txs)
		l.bal = append(l.bal, bal)
	}
	p.packStrings(strs, "", false)
	return l
}

// beneficiaries returns the fixture's beneficiaries, active from the
// start of the sandbox's history.
func (f *fixture) beneficiaries(bi *bankInfo, user string) []bankgate.Beneficiary {
	var out []bankgate.Beneficiary
	for _, fb := range f.Beneficiaries {
		out = append(out, bankgate.Beneficiary{ID: fb.ID, Name: fb.Name, Nickname: fb.Nickname, IBAN: fb.IBAN,
			AccountNumber: fb.AccountNumber, SwiftCode: fb.SwiftCode, BankName: fb.BankName, Type: fb.Type,
			Status: bankgate.BeneficiaryApproved, CreatedAt: epoch, ActiveAt: epoch})
	}
	return out
}

// hasClearSecrets reports whether f holds its password or an MFA answer
// in clear.
func (f *fixture) hasClearSecrets() bool {
	return f.Password != "" || slices.ContainsFunc(f.MFA, func(in fixtureInput) bool { return in.Answer != "" })
}

// hashSecrets replaces f's password and MFA answers in clear by their
// salted hashes; those already hashed stay as they are.
func (f *fixture) hashSecrets() error {
	if f.Password != "" {
		h, err := hashSecret(f.Password)
		if err != nil {
			return err
		}
		f.Password, f.PasswordHash = "", h
	}
	for i := range f.MFA {
		if in := &f.MFA[i]; in.Answer != "" {
			h, err := hashSecret(in.Answer)
			if err != nil {
				return err
			}
			in.Answer, in.AnswerHash = "", h
		}
	}
	return nil
}

// withoutSecrets returns f's JSON without its password, answers and
// their hashes.
func (f *fixture) withoutSecrets() ([]byte, error) {
	g := *f
	g.Password, g.PasswordHash = "", ""
	g.MFA = slices.Clone(f.MFA)
	for i := range g.MFA {
		g.MFA[i].Answer, g.MFA[i].AnswerHash = "", ""
	}
	return json.Marshal(&g)
}

// sameAs reports whether f, an operator's fixture with its secrets in
// clear, says what stored, whose secrets are hashed, says: the same data,
// and a password and answers that match the hashes.
func (f *fixture) sameAs(stored *fixture) (bool, error) {
	a, err := f.withoutSecrets()
	if err != nil {
		return false, err
	}
	b, err := stored.withoutSecrets()
	if err != nil || !bytes.Equal(a, b) || len(f.MFA) != len(stored.MFA) {
		return false, err
	}
	if !checkSecret(stored.PasswordHash, f.Password) {
		return false, nil
	}
	for i, in := range f.MFA {
		if !checkSecret(stored.MFA[i].AnswerHash, in.Answer) {
			return false, nil
		}
	}
	return true, nil
}

// fixVersion identifies the fixture a user's base data comes from: the
// version of the app's own fixture (0 for none) and of the server-wide
// template (0 for none, or when the app's own one is in use).
type fixVersion struct{ app, tmpl int64 }

// fixture returns the fixture user at bankID has in app's sandbox world:
// the app's own (see CreateSandboxUser) unless it has none or deleted it,
// else the operator's server-wide template (see AddFixture), else nil.
// Versions newer than the ones it has are read from the store. The
// fixture's secrets are hashed.
func (b *Connector) fixture(ctx context.Context, app, bankID, user string) (*fixture, fixVersion, error) {
	var v fixVersion
	if app != "" {
		e, err := b.fixtureEntry(ctx, appFixtureStream(app, bankID, user))
		if err != nil {
			return nil, v, err
		}
		if e != nil {
			v.app = e.seq
			if e.fx != nil {
				return e.fx, v, nil
			}
		}
	}
	e, err := b.fixtureEntry(ctx, fixtureStream(bankID, user))
	if e == nil || err != nil {
		return nil, v, err
	}
	v.tmpl = e.seq
	return e.fx, v, nil
}

// deletedFixture is the body of a fixture version that deletes the user.
const deletedFixture = "null"

// fixtureEntry returns the latest version of a fixture stream, or nil if
// the stream is empty. An entry whose fx is nil is a deletion.
func (b *Connector) fixtureEntry(ctx context.Context, stream string) (*fixtureEntry, error) {
	b.fmu.Lock()
	e := b.fixtures[stream]
	b.fmu.Unlock()
	var seq int64
	if e != nil {
		seq = e.seq
	}
	evs, err := b.events.Events(ctx, stream, seq)
	if err != nil {
		return nil, fmt.Errorf("sandbox: read %s: %w", stream, err)
	}
	if len(evs) > 0 {
		last := evs[len(evs)-1]
		ne := &fixtureEntry{seq: last.Seq}
		if string(last.Body) != deletedFixture {
			fx, err := decodeFixture(last.Body)
			if err == nil {
				err = fx.validate()
			}
			legacy := err == nil && fx.hasClearSecrets()
			if legacy {
				// A version stored before secrets were hashed: hash them
				// now, so that memory holds no secret in clear either.
				err = fx.hashSecrets()
			}
			if err != nil {
				return nil, fmt.Errorf("sandbox: %s version %d: %w", stream, last.Seq, err)
			}
			ne.fx, ne.legacy = fx, legacy
		}
		b.fmu.Lock()
		if cur := b.fixtures[stream]; cur == nil || cur.seq < ne.seq {
			b.fixtures[stream] = ne
			// Cached user states made with an older fixture are no longer
			// fresh (see Connector.fresh).
			b.fixGen.Add(1)
		}
		e = b.fixtures[stream]
		b.fmu.Unlock()
	}
	return e, nil
}

// AddFixture adds or replaces the sandbox user that the JSON fixture data
// describes (its format is in the package documentation) at bank bankID,
// as a server-wide template: every app's world starts from it. bankID may
// be empty when the fixture names its bank, and must match it when both
// are given. The fixture is validated strictly (unknown fields are
// errors) and kept in the store's stream
// sandbox-fixture/<bankID>/<username>, a new version appended only when
// it differs from the latest, so every Connector on the store serves it. The
// stored version holds salted hashes of the password and MFA answers,
// never them in clear (see secret.go); a fixture given again with the
// same data, password and answers adds no version. From then on the user
// logs in with the fixture's password and MFA, and its identity, accounts
// and transactions are the fixture's plus whatever payments it makes or
// receives in each app's world; a fixture user takes precedence over the
// generated user of the same name, and an app's own fixture (see
// CreateSandboxUser) over both.
func (b *Connector) AddFixture(ctx context.Context, bankID string, data []byte) error {
	f, err := parseFixture(bankID, data)
	if err != nil {
		return err
	}
	return b.putFixture(ctx, fixtureStream(f.BankID, f.Username), f)
}

// parseFixture decodes and validates an operator's or app's fixture for
// bankID (see AddFixture).
func parseFixture(bankID string, data []byte) (*fixture, error) {
	f, err := decodeFixture(data)
	if err != nil {
		return nil, fmt.Errorf("sandbox fixture: %w", err)
	}
	switch {
	case f.BankID == "":
		f.BankID = bankID
	case bankID != "" && bankID != f.BankID:
		return nil, fmt.Errorf("sandbox fixture %s: bankID %q differs from the bank %q it is added to", f.Username, f.BankID, bankID)
	}
	if f.PasswordHash != "" || slices.ContainsFunc(f.MFA, func(in fixtureInput) bool { return in.AnswerHash != "" }) {
		return nil, fmt.Errorf("sandbox fixture %s/%s: passwordHash and answerHash are bankgate's; give the password and answers", f.BankID, f.Username)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("sandbox fixture %s/%s: %w", f.BankID, f.Username, err)
	}
	return f, nil
}

// putFixture appends f to the fixture stream unless its latest version
// is the same.
func (b *Connector) putFixture(ctx context.Context, stream string, f *fixture) error {
	same := func(e *fixtureEntry) (bool, error) {
		if e == nil || e.legacy || e.fx == nil {
			return false, nil
		}
		return f.sameAs(e.fx)
	}
	return b.appendVersion(ctx, stream, same, func() ([]byte, error) {
		h := *f
		h.MFA = slices.Clone(f.MFA)
		if err := h.hashSecrets(); err != nil {
			return nil, fmt.Errorf("sandbox fixture %s/%s: %w", f.BankID, f.Username, err)
		}
		return json.Marshal(&h)
	})
}

// appendVersion appends a version to a fixture stream at the seq after
// its latest, unless done reports that the latest version (nil for an
// empty stream) already is what would be appended; body makes the
// version's bytes, once. When another writer takes the seq first, it
// reads the stream again and asks done again. On success the Connector's entry
// is brought up to date.
func (b *Connector) appendVersion(ctx context.Context, stream string, done func(*fixtureEntry) (bool, error), body func() ([]byte, error)) error {
	var raw []byte
	for range maxAppendAttempts {
		e, err := b.fixtureEntry(ctx, stream)
		if err != nil {
			return err
		}
		if ok, err := done(e); err != nil || ok {
			return err
		}
		var seq int64
		if e != nil {
			seq = e.seq
		}
		if raw == nil {
			if raw, err = body(); err != nil {
				return err
			}
		}
		err = b.events.AppendEvent(ctx, stream, seq+1, b.now().UTC(), raw)
		if err == nil {
			_, err = b.fixtureEntry(ctx, stream)
			return err
		}
		if !bankgate.IsCode(err, bankgate.Conflict) {
			return fmt.Errorf("sandbox: append to %s: %w", stream, err)
		}
	}
	return fmt.Errorf("sandbox: append to %s: too many conflicts", stream)
}

// LoadFixtureDir adds every *.json file in dir as AddFixture does, in
// name order. A file holds one fixture object or an array of them; each
// names its bank. It stops at the first error, which names the file.
func (b *Connector) LoadFixtureDir(ctx context.Context, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		var items []json.RawMessage
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
			if err := json.Unmarshal(t, &items); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		} else {
			items = []json.RawMessage{data}
		}
		for i, item := range items {
			if err := b.AddFixture(ctx, "", item); err != nil {
				if len(items) > 1 {
					return fmt.Errorf("%s: fixture %d: %w", name, i, err)
				}
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

// validName reports whether s has at most n characters.
func validName(s string, n int) bool { return utf8.RuneCountInString(s) <= n }

// Limits of the sandbox users an app makes for itself (CreateSandboxUser).
const (
	// MaxAppFixtureBytes bounds one fixture's JSON.
	MaxAppFixtureBytes = 256 << 10
	// MaxAppFixtures bounds how many users one app's world holds at once.
	MaxAppFixtures = 1000
)

var _ bank.SandboxUsers = (*Connector)(nil)

// appUserEvent is one entry of an app's user list stream.
type appUserEvent struct {
	Bank    string `json:"bank"`
	User    string `json:"user"`
	Deleted bool   `json:"deleted,omitempty"`
}

// CreateSandboxUser (bank.SandboxUsers) creates or replaces, in app's sandbox world only, the
// sandbox user that the JSON fixture data describes (the format of
// AddFixture) at bankID. Other apps, and the operator's templates, are
// untouched; in app's world the user takes precedence over a template or
// generated user of the same name, and its payments and other state carry
// over to the new data. Errors: ParameterError for a fixture that is too
// large, malformed, or names another bank (the message says what is
// wrong), InvalidBankID for an unknown bank, and ParameterError when app
// already has MaxAppFixtures users.
func (b *Connector) CreateSandboxUser(ctx context.Context, app, bankID string, data []byte) (*bankgate.SandboxUser, error) {
	if app == "" {
		return nil, errors.New("sandbox: CreateSandboxUser needs an app")
	}
	if _, ok := bankByID[bankID]; !ok {
		return nil, errInvalidBank()
	}
	if len(data) > MaxAppFixtureBytes {
		return nil, paramError(fmt.Sprintf("The fixture must be at most %d KiB of JSON.", MaxAppFixtureBytes>>10))
	}
	f, err := parseFixture(bankID, data)
	if err != nil {
		return nil, paramError(strings.TrimPrefix(err.Error(), "sandbox fixture: ") + ".")
	}
	users, seq, err := b.appUsers(ctx, app)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(users, func(u appUserEvent) bool { return u.Bank == f.BankID && u.User == f.Username }) {
		if len(users) >= MaxAppFixtures {
			return nil, paramError(fmt.Sprintf("An app may have at most %d sandbox users; delete some first.", MaxAppFixtures))
		}
		// The list first: a crash before the fixture lands leaves a name
		// that SandboxUsers skips, never a user that is not listed.
		if err := b.appendAppUser(ctx, app, seq, appUserEvent{Bank: f.BankID, User: f.Username}); err != nil {
			return nil, err
		}
	}
	if err := b.putFixture(ctx, appFixtureStream(app, f.BankID, f.Username), f); err != nil {
		return nil, err
	}
	return &bankgate.SandboxUser{BankID: f.BankID, Username: f.Username, Accounts: len(f.Accounts), MFA: len(f.MFA)}, nil
}

// DeleteSandboxUser (bank.SandboxUsers) deletes the sandbox user app made at bankID: in app's
// world the username is again the template or generated user, with the
// state it had. It returns NotFound when app has no such user.
func (b *Connector) DeleteSandboxUser(ctx context.Context, app, bankID, username string) error {
	users, seq, err := b.appUsers(ctx, app)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(users, func(u appUserEvent) bool { return u.Bank == bankID && u.User == username }) {
		return bankgate.Errorf(bankgate.NotFound, "no such sandbox user")
	}
	deleted := func(e *fixtureEntry) (bool, error) { return e != nil && e.fx == nil, nil }
	tombstone := func() ([]byte, error) { return []byte(deletedFixture), nil }
	if err := b.appendVersion(ctx, appFixtureStream(app, bankID, username), deleted, tombstone); err != nil {
		return err
	}
	return b.appendAppUser(ctx, app, seq, appUserEvent{Bank: bankID, User: username, Deleted: true})
}

// SandboxUsers (bank.SandboxUsers) lists the sandbox users app made, by bank and username.
func (b *Connector) SandboxUsers(ctx context.Context, app string) ([]bankgate.SandboxUser, error) {
	users, _, err := b.appUsers(ctx, app)
	if err != nil {
		return nil, err
	}
	out := make([]bankgate.SandboxUser, 0, len(users))
	for _, u := range users {
		e, err := b.fixtureEntry(ctx, appFixtureStream(app, u.Bank, u.User))
		if err != nil {
			return nil, err
		}
		if e == nil || e.fx == nil {
			continue
		}
		out = append(out, bankgate.SandboxUser{BankID: u.Bank, Username: u.User, Accounts: len(e.fx.Accounts), MFA: len(e.fx.MFA)})
	}
	return out, nil
}

// appUsers returns the users on app's list, sorted by bank and username,
// and the list stream's last seq.
func (b *Connector) appUsers(ctx context.Context, app string) ([]appUserEvent, int64, error) {
	stream := appUsersStream(app)
	evs, err := b.events.Events(ctx, stream, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("sandbox: read %s: %w", stream, err)
	}
	live := map[appUserEvent]bool{}
	var seq int64
	for _, e := range evs {
		var u appUserEvent
		if err := json.Unmarshal(e.Body, &u); err != nil {
			return nil, 0, fmt.Errorf("sandbox: %s: event %d: %w", stream, e.Seq, err)
		}
		deleted := u.Deleted
		u.Deleted = false
		if deleted {
			delete(live, u)
		} else {
			live[u] = true
		}
		seq = e.Seq
	}
	out := make([]appUserEvent, 0, len(live))
	for u := range live {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b appUserEvent) int {
		if c := strings.Compare(a.Bank, b.Bank); c != 0 {
			return c
		}
		return strings.Compare(a.User, b.User)
	})
	return out, seq, nil
}

// appendAppUser appends u to app's user list at seq+1; another writer
// having taken that seq answers Conflict, which the caller reports as a
// retryable failure.
func (b *Connector) appendAppUser(ctx context.Context, app string, seq int64, u appUserEvent) error {
	body, _ := json.Marshal(u)
	err := b.events.AppendEvent(ctx, appUsersStream(app), seq+1, b.now().UTC(), body)
	if bankgate.IsCode(err, bankgate.Conflict) {
		return bankgate.Errorf(bankgate.TemporarilyUnavailable, "The app's sandbox users changed at the same time; try again.")
	}
	return err
}
