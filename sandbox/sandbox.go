// Package sandbox is bankgate's built-in sandbox bank connector: a handful
// of fictional banks in the United Arab Emirates and Saudi Arabia whose
// users, accounts, cards and transactions are generated deterministically
// from the bank and the username, and whose logins act out fixed scenarios
// (MFA, lockout, bank errors). Tests, demos and users' own CI run against
// it; it does no I/O.
//
// Login scenarios, identical at every sandbox bank (password PasswordGood
// unless said otherwise):
//
//   - UserGood, UserTransferMFA, UserEmpty and any other username log in
//     without MFA. UserEmpty has no accounts and no cards.
//   - UserMFA asks for a one-time password ("otp", AnswerOTP).
//   - UserMultiMFA asks a secret question ("secret_question", index 0,
//     AnswerSecretQuestion) and a PIN ("pin", index 1, AnswerPIN) at once.
//   - A username "error_<TYPE>" fails with that error type if TYPE is one
//     of bankgate.Codes, else with INVALID_CREDENTIALS.
//   - Any other password fails with INVALID_CREDENTIALS. After
//     MaxFailedLogins failures in a row for one username at one bank, every
//     login of that username fails with ACCOUNT_LOCKED for LockoutDuration.
//
// Generated data is the same on every machine. Ledgers start on 2023-01-01
// with a deterministic opening balance and follow a calendar schedule, so a
// transaction on a given date is the same whatever the clock says; as the
// clock advances new transactions appear, and the balance at a time is the
// AfterAmount of the last transaction at or before it.
package sandbox

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

var (
	_ bank.Connector      = (*Bank)(nil)
	_ bank.AccountsReader = (*Bank)(nil)
)

// Lockout policy.
const (
	MaxFailedLogins = 5
	LockoutDuration = 15 * time.Minute
)

// DefaultCacheUsers is how many users' generated ledgers a Bank keeps in
// memory unless Options.CacheUsers says otherwise. A user's ledger takes
// about half a megabyte after four years of history; generating it again
// takes about a millisecond.
const DefaultCacheUsers = 64

// maxLockEntries bounds the failed-login table; past it, entries that no
// longer matter are swept.
const maxLockEntries = 10000

// Options configures a Bank.
type Options struct {
	// Now is the clock used where a request carries no time of its own.
	// Nil means time.Now.
	Now func() time.Time
	// CacheUsers is how many users' generated ledgers to keep in memory;
	// 0 means DefaultCacheUsers.
	CacheUsers int
}

// Bank is the sandbox bank connector. It is safe for concurrent use.
//
// Its failed-login counters and lockouts live in memory, per process: they
// are not shared between bankgate instances and are forgotten on restart.
type Bank struct {
	now   func() time.Time
	cache *ledgerCache

	mu       sync.Mutex
	failures map[string]*failures // by bank ID + "\x00" + username
}

// failures is the failed-login record of one username at one bank.
type failures struct {
	count       int
	last        time.Time
	lockedUntil time.Time // zero unless locked
}

// New returns a sandbox Bank.
func New(opts Options) *Bank {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	size := opts.CacheUsers
	if size <= 0 {
		size = DefaultCacheUsers
	}
	return &Bank{now: now, cache: newLedgerCache(size), failures: make(map[string]*failures)}
}

// Banks returns the sandbox banks, sorted by ID.
func (b *Bank) Banks() []bankgate.Bank { return slices.Clone(sortedBanks) }

// Bank returns the sandbox bank with the given ID, and whether there is one.
func (b *Bank) Bank(id string) (bankgate.Bank, bool) {
	bi, ok := bankByID[id]
	if !ok {
		return bankgate.Bank{}, false
	}
	return bi.bank, true
}

// sessionData is the connector session: who is logged in where. It never
// holds the password.
type sessionData struct {
	Bank string `json:"bank"`
	User string `json:"user"`
}

// loginState is the continuation state of a login that asked for input.
// It never holds the password.
type loginState struct {
	Bank string `json:"bank"`
	User string `json:"user"`
	Step string `json:"step"` // "otp" or "multi"
}

var (
	otpInputs = []bankgate.UserInput{
		{ID: "otp", Index: 0, QueryType: "txt", Query: "Enter the one-time password sent to your phone"},
	}
	multiInputs = []bankgate.UserInput{
		{ID: "secret_question", Index: 0, QueryType: "txt", Query: "What is the name of your first school?"},
		{ID: "pin", Index: 1, QueryType: "txt", Query: "Enter your 4-digit PIN"},
	}
)

func errInvalidCredentials() error {
	return bankgate.Errorf(bankgate.InvalidCredentials, "Your user entered invalid login credentials.")
}

func errInvalidMFA() error {
	return bankgate.Errorf(bankgate.InvalidMFA, "Your user entered an invalid answer to the bank's verification question.")
}

func errInvalidBank() error {
	return bankgate.Errorf(bankgate.InvalidBankID, "The bank ID is not valid.")
}

// Login checks the user's sandbox credentials or resumes a login that asked
// for input; see the package documentation for the scenarios. It returns
// InvalidBankID for an unknown bank, InvalidCredentials, AccountLocked or
// the error an "error_<TYPE>" username asks for on a first step, and
// InvalidMFA for wrong answers or a State it did not issue. The session of
// a finished login is {"bank":..., "user":...}; UserKey is the username.
func (b *Bank) Login(ctx context.Context, req bank.LoginRequest) (*bank.LoginResult, error) {
	bi, ok := bankByID[req.BankID]
	if !ok && (req.State == nil || req.BankID != "") {
		return nil, errInvalidBank()
	}
	if req.State != nil {
		return b.resume(req)
	}
	user := req.Username
	if user == "" || req.Password == "" {
		return nil, errInvalidCredentials()
	}
	if t, ok := strings.CutPrefix(user, "error_"); ok {
		return nil, simulatedError(t)
	}
	now := req.Now
	if now.IsZero() {
		now = b.now()
	}
	if err := b.checkPassword(bi.bank.ID, user, req.Password, now); err != nil {
		return nil, err
	}
	var inputs []bankgate.UserInput
	step := ""
	switch user {
	case UserMFA:
		inputs, step = otpInputs, "otp"
	case UserMultiMFA:
		inputs, step = multiInputs, "multi"
	default:
		return loggedIn(bi.bank.ID, user)
	}
	state, err := json.Marshal(loginState{Bank: bi.bank.ID, User: user, Step: step})
	if err != nil {
		return nil, err
	}
	return &bank.LoginResult{Challenge: &bank.Challenge{Inputs: slices.Clone(inputs), State: state}}, nil
}

func loggedIn(bankID, user string) (*bank.LoginResult, error) {
	s, err := json.Marshal(sessionData{Bank: bankID, User: user})
	if err != nil {
		return nil, err
	}
	return &bank.LoginResult{Session: s, UserKey: user}, nil
}

// resume finishes a login that asked for input.
func (b *Bank) resume(req bank.LoginRequest) (*bank.LoginResult, error) {
	var st loginState
	if err := json.Unmarshal(req.State, &st); err != nil || bankByID[st.Bank] == nil || st.User == "" {
		return nil, errInvalidMFA()
	}
	if req.BankID != "" && req.BankID != st.Bank {
		return nil, errInvalidMFA()
	}
	var ok bool
	switch st.Step {
	case "otp":
		ok = answer(req.Answers, otpInputs[0]) == AnswerOTP
	case "multi":
		ok = strings.EqualFold(answer(req.Answers, multiInputs[0]), AnswerSecretQuestion) &&
			answer(req.Answers, multiInputs[1]) == AnswerPIN
	}
	if !ok {
		return nil, errInvalidMFA()
	}
	return loggedIn(st.Bank, st.User)
}

// answer returns the trimmed answer to input q: the answer with q's ID, or
// else an answer without an ID at q's index.
func answer(answers []bankgate.UserInput, q bankgate.UserInput) string {
	for _, a := range answers {
		if a.ID == q.ID {
			return strings.TrimSpace(a.Answer)
		}
	}
	for _, a := range answers {
		if a.ID == "" && a.Index == q.Index {
			return strings.TrimSpace(a.Answer)
		}
	}
	return ""
}

// simulatedError is the error an "error_<TYPE>" username asks for.
func simulatedError(t string) error {
	code := bankgate.Code(t)
	if !slices.Contains(bankgate.Codes, code) {
		return errInvalidCredentials()
	}
	msg := map[bankgate.Code]string{
		bankgate.InvalidCredentials:     "Your user entered invalid login credentials.",
		bankgate.AccountLocked:          "Your user's bank account is locked. Please contact the bank.",
		bankgate.InactiveAccount:        "Your user's bank account is inactive.",
		bankgate.TemporarilyUnavailable: "The bank is temporarily unavailable. Please try again later.",
		bankgate.UnableToConnectToBank:  "Unable to connect to the bank. Please try again later.",
		bankgate.UserAlreadyLoggedIn:    "Your user is already logged in to the bank from another session.",
		bankgate.SessionExpired:         "The bank session has expired. Please log in again.",
		bankgate.SessionInvalidated:     "The bank session is no longer valid. Please log in again.",
		bankgate.InvalidMFA:             "Your user entered an invalid answer to the bank's verification question.",
	}[code]
	if msg == "" {
		msg = "The sandbox bank simulated the error " + string(code) + "."
	}
	return bankgate.Errorf(code, "%s", msg)
}

// checkPassword applies the password check and the lockout policy. The
// MaxFailedLogins-th failure in a row still answers InvalidCredentials and
// starts the lock; every attempt during the lock, right password or not,
// answers AccountLocked and does not extend it. A success resets the count.
func (b *Bank) checkPassword(bankID, user, password string, now time.Time) error {
	key := bankID + "\x00" + user
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.failures[key]
	if f != nil && !f.lockedUntil.IsZero() {
		if now.Before(f.lockedUntil) {
			return bankgate.Errorf(bankgate.AccountLocked,
				"Your user's bank account is locked after too many failed login attempts. Please try again later.")
		}
		delete(b.failures, key)
		f = nil
	}
	if password == PasswordGood {
		delete(b.failures, key)
		return nil
	}
	if f == nil {
		if len(b.failures) >= maxLockEntries {
			b.sweep(now)
		}
		f = &failures{}
		b.failures[key] = f
	}
	f.count++
	f.last = now
	if f.count >= MaxFailedLogins {
		f.lockedUntil = now.Add(LockoutDuration)
	}
	return errInvalidCredentials()
}

// sweep drops failure records that no longer matter: expired locks, and
// counts whose last failure is older than LockoutDuration. The caller holds
// b.mu.
func (b *Bank) sweep(now time.Time) {
	for k, f := range b.failures {
		if (!f.lockedUntil.IsZero() && !now.Before(f.lockedUntil)) ||
			(f.lockedUntil.IsZero() && now.Sub(f.last) > LockoutDuration) {
			delete(b.failures, k)
		}
	}
}

// ledger decodes a session and returns the user's ledger. A session that
// does not decode, or names an unknown bank or another bank than
// s.BankID, answers SessionInvalidated.
func (b *Bank) ledger(s bank.Session) (*ledger, error) {
	var d sessionData
	if err := json.Unmarshal(s.Data, &d); err != nil || d.User == "" || (s.BankID != "" && s.BankID != d.Bank) {
		return nil, errSession()
	}
	bi, ok := bankByID[d.Bank]
	if !ok {
		return nil, errSession()
	}
	return b.cache.get(bi, d.User), nil
}

func errSession() error {
	return bankgate.Errorf(bankgate.SessionInvalidated, "The bank session is no longer valid. Please log in again.")
}

func (b *Bank) clock(now time.Time) time.Time {
	if now.IsZero() {
		return b.now()
	}
	return now
}

// Identity returns the identity of the session's user. It never asks for
// input. A session that does not decode answers SessionInvalidated.
func (b *Bank) Identity(ctx context.Context, call *bank.Call) (*bankgate.Identity, *bank.Challenge, error) {
	l, err := b.ledger(call.Session)
	if err != nil {
		return nil, nil, err
	}
	id := l.p.identity
	id.Numbers = slices.Clone(id.Numbers)
	id.Identifications = slices.Clone(id.Identifications)
	return &id, nil, nil
}

// Accounts returns the session's user's accounts with their balances at
// call.Now (the Bank's clock if zero). It never asks for input. A session
// that does not decode answers SessionInvalidated.
func (b *Bank) Accounts(ctx context.Context, call *bank.Call) ([]bankgate.Account, *bank.Challenge, error) {
	l, err := b.ledger(call.Session)
	if err != nil {
		return nil, nil, err
	}
	return l.accountsAt(b.clock(call.Now)), nil, nil
}

// accountsAt returns the accounts with their balances at now.
func (l *ledger) accountsAt(now time.Time) []bankgate.Account {
	p := l.p
	out := make([]bankgate.Account, 0, len(p.accounts))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.upTo(now)
	for _, a := range p.accounts {
		bk := p.books[a.book]
		out = append(out, bankgate.Account{
			ID: a.id, Name: a.name, Type: a.typ, IBAN: bk.iban, Number: bk.number,
			Currency: p.currency, IsFavourite: a.fav, Balance: l.balanceAt(a.book, now),
		})
	}
	return out
}

// Balance returns the account accountID of the session's user as it stands
// at now (the Bank's clock if zero); its Balance, Currency and Number are
// what the balance endpoint reports. It returns SessionInvalidated for a
// session that does not decode and InvalidAccountID for an account the user
// does not have.
func (b *Bank) Balance(session bank.Session, accountID string, now time.Time) (bankgate.Account, error) {
	l, err := b.ledger(session)
	if err != nil {
		return bankgate.Account{}, err
	}
	for _, a := range l.accountsAt(b.clock(now)) {
		if a.ID == accountID {
			return a, nil
		}
	}
	return bankgate.Account{}, errAccount()
}

func errAccount() error {
	return bankgate.Errorf(bankgate.InvalidAccountID, "The account ID is not valid.")
}

func errCard() error {
	return bankgate.Errorf(bankgate.InvalidCardID, "The card ID is not valid.")
}

// Transactions returns the transactions of account accountID dated from
// from to to, both inclusive, oldest first, as seen at now (the Bank's
// clock if zero): nothing after now is returned. A zero from means from the
// start of the history (2023-01-01); a zero to means now. It returns
// SessionInvalidated for a session that does not decode, InvalidAccountID
// for an account the user does not have, and InvalidDateRange if to is
// before from. The result is never nil and is the caller's to modify.
func (b *Bank) Transactions(session bank.Session, accountID string, from, to, now time.Time) ([]bankgate.Transaction, error) {
	l, err := b.ledger(session)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(l.p.accounts, func(a accountRef) bool { return a.id == accountID })
	if i < 0 {
		return nil, errAccount()
	}
	return b.history(l, l.p.accounts[i].book, from, to, now)
}

func (b *Bank) history(l *ledger, book int, from, to, now time.Time) ([]bankgate.Transaction, error) {
	now = b.clock(now)
	if !to.IsZero() && !from.IsZero() && to.Before(from) {
		return nil, bankgate.Errorf(bankgate.InvalidDateRange, "The end date must not be before the start date.")
	}
	if to.IsZero() || to.After(now) {
		to = now
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.upTo(now)
	return l.between(book, from, to), nil
}

// Cards returns the session's user's credit cards, zero to two, with their
// balances at now (the Bank's clock if zero). It returns
// SessionInvalidated for a session that does not decode.
func (b *Bank) Cards(session bank.Session, now time.Time) ([]bankgate.Card, error) {
	l, err := b.ledger(session)
	if err != nil {
		return nil, err
	}
	now = b.clock(now)
	p := l.p
	out := make([]bankgate.Card, 0, len(p.cards))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.upTo(now)
	for ci, bi := range p.cards {
		bk := p.books[bi]
		out = append(out, bankgate.Card{
			ID: bk.id, Name: bk.name, CardNumber: bk.number, CreditLimit: bk.limit, Currency: p.currency,
			Type: "credit", ExpiryDate: bk.expiry, Status: "active", Balance: l.cardBalance(ci, now),
		})
	}
	return out, nil
}

// CardBalance returns the balance of card cardID at now (the Bank's clock
// if zero). It returns SessionInvalidated for a session that does not
// decode and InvalidCardID for a card the user does not have.
func (b *Bank) CardBalance(session bank.Session, cardID string, now time.Time) (bankgate.CardBalance, error) {
	cards, err := b.Cards(session, now)
	if err != nil {
		return bankgate.CardBalance{}, err
	}
	for _, c := range cards {
		if c.ID == cardID {
			return c.Balance, nil
		}
	}
	return bankgate.CardBalance{}, errCard()
}

// cardBalance returns card ci's balance at now. The amount due is the
// statement balance owed at the start of now's month until its payment
// date passes, then zero until the next statement. The caller holds l.mu
// and has called upTo(now).
func (l *ledger) cardBalance(ci int, now time.Time) bankgate.CardBalance {
	p := l.p
	b := p.cards[ci]
	bk := p.books[b]
	outstanding := max(-l.balanceAt(b, now), 0)
	cb := bankgate.CardBalance{
		CardNumber:         bk.number,
		AvailableBalance:   bk.limit - outstanding,
		OutstandingBalance: outstanding,
		Currency:           p.currency,
	}
	m := monthIndex(now)
	dueDay := func(m int) string {
		return time.Date(epoch.Year(), epoch.Month()+time.Month(m), bk.payDay, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	switch {
	case m < 0:
		cb.DueDate = dueDay(0)
	case m < len(l.stmts[ci]) && now.Before(l.stmts[ci][m].due):
		cb.AmountDue = l.stmts[ci][m].amount
		cb.DueDate = dueDay(m)
	default:
		cb.DueDate = dueDay(m + 1)
	}
	return cb
}

// CardTransactions returns the transactions of card cardID as Transactions
// does for an account. It returns InvalidCardID for a card the user does
// not have.
func (b *Bank) CardTransactions(session bank.Session, cardID string, from, to, now time.Time) ([]bankgate.Transaction, error) {
	l, err := b.ledger(session)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(l.p.cards, func(bi int) bool { return l.p.books[bi].id == cardID })
	if i < 0 {
		return nil, errCard()
	}
	return b.history(l, l.p.cards[i], from, to, now)
}
