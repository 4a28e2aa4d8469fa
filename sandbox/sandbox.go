package sandbox

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/feed"
	"github.com/bankgate/bankgate/internal/memevents"
)

var (
	_ bank.Connector          = (*Connector)(nil)
	_ bank.AccountsReader     = (*Connector)(nil)
	_ bank.BalanceReader      = (*Connector)(nil)
	_ bank.TransactionsReader = (*Connector)(nil)
	_ bank.CardsReader        = (*Connector)(nil)
	_ bank.MetadataReader     = (*Connector)(nil)
	_ bank.Payer              = (*Connector)(nil)
	_ bank.WirePayer          = (*Connector)(nil)
	_ bank.ACHPuller          = (*Connector)(nil)
)

// Lockout policy.
const (
	MaxFailedLogins = 5
	LockoutDuration = 15 * time.Minute
)

// DefaultCacheUsers is how many users' states (their events applied) a
// Connector keeps in memory unless Options.CacheUsers says otherwise. A state
// without events is a few hundred bytes (its generated data lives in the
// byte-bounded cache), so the working set of a large app fits.
const DefaultCacheUsers = 200_000

// DefaultCacheBytes is how many bytes of generated users' data (profile,
// balance checkpoints and the hot month's balances: about 1.3 KB a user by
// the cache's estimate, so some 100,000 users) a Connector keeps in memory
// unless Options.CacheBytes says otherwise.
const DefaultCacheBytes = 128 << 20

// DefaultReadStaleness is how long a Connector serves reads from a user's state
// in memory before it catches up with the store again, unless
// Options.ReadStaleness says otherwise. It is the bound bankgate's token
// cache keeps across instances.
const DefaultReadStaleness = 500 * time.Millisecond

// maxLockEntries bounds the failed-login table; past it, entries that no
// longer matter are swept.
const maxLockEntries = 10000

// Options configures a Connector.
type Options struct {
	// Now is the clock used where a request carries no time of its own.
	// Nil means time.Now.
	Now func() time.Time
	// CacheUsers is how many users' states (their events applied) to keep
	// in memory; 0 means DefaultCacheUsers.
	CacheUsers int
	// CacheBytes bounds, by an estimate of their size, the generated
	// users' data kept in memory, shared by every state that reads them;
	// 0 means DefaultCacheBytes. A user not cached costs one pass over
	// the months since epoch, amounts only, when next read.
	CacheBytes int64
	// Store keeps what users do (beneficiaries, payments, money received)
	// and the fixtures operators add, in its event streams; only its
	// AppendEvent and Events methods are used. Nil means an in-memory log
	// that dies with the Connector.
	Store bankgate.Store
	// ReadStaleness is how old, by the clock (call.Now, else Now), a
	// user's state in memory may be for a read (Identity, Accounts,
	// Balance, Transactions, the card and beneficiary lists, ACHPull) to
	// be answered from it without reading the store: a payment, a
	// beneficiary or a fixture version written through another Connector on
	// the same store (another bankgate instance) becomes visible to this
	// Connector's reads within ReadStaleness. What is written through this Connector
	// is visible to its reads at once, since its writes update the state
	// in memory; writes always catch up with the store first. 0 means
	// DefaultReadStaleness; a negative value makes every read catch up.
	ReadStaleness time.Duration
	// ChangeFeed, when Store has a change feed (bankgate.Store.Changes),
	// follows it so that a state in memory stays fresh for reads until
	// another writer changes that user (within ReadStaleness of real time
	// of the change), not merely for ReadStaleness after it caught up:
	// with many active users, reads then stay off the store.
	ChangeFeed bool
}

// Connector is the sandbox bank connector. It is safe for concurrent use, and
// several Connectors (in one process or many) may share one store: each keeps
// users' states in memory and catches them up from the store's event
// streams before every write, and before a read when the state was last
// caught up longer than Options.ReadStaleness ago.
//
// Everything it keeps for users (payments, beneficiaries, ACH pulls,
// failed-login counts and lockouts) belongs to the app the user's
// connection or login is for (bank.Session.AppID, bank.LoginRequest.AppID):
// the same bank and username under two apps are two independent users
// that start from the same deterministic data. Its failed-login counters
// and lockouts live in memory, per process: they are not shared between
// bankgate instances and are forgotten on restart.
type Connector struct {
	now       func() time.Time
	cache     *ledgerCache
	gen       *genCache     // generated users' data, by bank and username
	events    eventLog      // where users' states are kept: the store's event streams
	staleness time.Duration // < 0: reads always catch up
	feed      *feed.Feed    // nil without Options.ChangeFeed

	fmu      sync.Mutex
	fixtures map[string]*fixtureEntry // by bank ID + "\x00" + username
	// fixGen counts the changes to fixtures; a state caught up under an
	// older count is not fresh.
	fixGen atomic.Uint64

	mu       sync.Mutex
	failures map[lockKey]*failures // at most maxLockEntries
}

// lockKey names a username at a bank in an app's sandbox world: failed
// logins and lockouts in one app's world never touch another's.
type lockKey struct{ app, bank, user string }

// failures is the failed-login record of one username at one bank.
type failures struct {
	count       int
	last        time.Time
	lockedUntil time.Time // zero unless locked
}

// New returns a sandbox connector.
func New(opts Options) *Connector {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	size := opts.CacheUsers
	if size <= 0 {
		size = DefaultCacheUsers
	}
	genBytes := opts.CacheBytes
	if genBytes <= 0 {
		genBytes = DefaultCacheBytes
	}
	var events eventLog = memevents.New()
	if opts.Store != nil {
		events = opts.Store
	}
	staleness := opts.ReadStaleness
	if staleness == 0 {
		staleness = DefaultReadStaleness
	}
	b := &Connector{now: now, cache: newLedgerCache(size), gen: newGenCache(genBytes), events: events, staleness: staleness,
		fixtures: make(map[string]*fixtureEntry),
		failures: make(map[lockKey]*failures)}
	if cl, ok := events.(feed.Log); ok && opts.ChangeFeed && staleness > 0 {
		b.feed = feed.New(cl, nil, b.markStream)
	}
	return b
}

// Banks returns the sandbox banks, sorted by ID.
func (b *Connector) Banks() []bankgate.Bank { return slices.Clone(sortedBanks) }

// Bank returns the sandbox bank with the given ID, and whether there is one.
func (b *Connector) Bank(id string) (bankgate.Bank, bool) {
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
	Step string `json:"step"` // "otp", "multi" or "fixture"
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

func errLocked() error {
	return bankgate.Errorf(bankgate.AccountLocked,
		"Your user's bank account is locked after too many failed login attempts. Please try again later.")
}

func errInvalidMFA() error {
	return bankgate.Errorf(bankgate.InvalidMFA, "Your user entered an invalid answer to the bank's verification question.")
}

func errInvalidBank() error {
	return bankgate.Errorf(bankgate.InvalidBankID, "The bank ID is not valid.")
}

// Login checks the user's sandbox credentials or resumes a login that asked
// for input; see the package documentation for the scenarios. A fixture
// user (see AddFixture) logs in with the fixture's password and MFA. It returns
// InvalidBankID for an unknown bank, InvalidCredentials, AccountLocked or
// the error an "error_<TYPE>" username asks for on a first step, and
// InvalidMFA for wrong answers or a State it did not issue. The session of
// a finished login is {"bank":..., "user":...}; UserKey is the username.
func (b *Connector) Login(ctx context.Context, req bank.LoginRequest) (*bank.LoginResult, error) {
	bi, ok := bankByID[req.BankID]
	if !ok && (req.State == nil || req.BankID != "") {
		return nil, errInvalidBank()
	}
	if req.State != nil {
		return b.resume(ctx, req)
	}
	user := req.Username
	if user == "" || req.Password == "" {
		return nil, errInvalidCredentials()
	}
	fx, _, err := b.fixture(ctx, req.AppID, bi.bank.ID, user)
	if err != nil {
		return nil, err
	}
	if t, ok := strings.CutPrefix(user, "error_"); ok && fx == nil {
		return nil, simulatedError(t)
	}
	now := req.Now
	if now.IsZero() {
		now = b.now()
	}
	check := func() bool { return req.Password == PasswordGood }
	if fx != nil {
		check = func() bool { return checkSecret(fx.PasswordHash, req.Password) }
	}
	if err := b.checkPassword(lockKey{req.AppID, bi.bank.ID, user}, check, now); err != nil {
		return nil, err
	}
	var inputs []bankgate.UserInput
	step := ""
	switch {
	case fx != nil:
		if len(fx.MFA) == 0 {
			return b.loggedIn(ctx, req.AppID, bi, user, now)
		}
		inputs, step = fx.inputs(), "fixture"
	case user == UserMFA:
		inputs, step = otpInputs, "otp"
	case user == UserMultiMFA:
		inputs, step = multiInputs, "multi"
	default:
		return b.loggedIn(ctx, req.AppID, bi, user, now)
	}
	state, err := json.Marshal(loginState{Bank: bi.bank.ID, User: user, Step: step})
	if err != nil {
		return nil, err
	}
	return &bank.LoginResult{Challenge: &bank.Challenge{Inputs: slices.Clone(inputs), State: state}}, nil
}

// loggedIn finishes a login and returns the session. It leaves the
// user's state alone: a state is built (and its IBANs registered) by the
// first call that reads it, so logins of users never read cost no
// memory.
func (b *Connector) loggedIn(_ context.Context, _ string, bi *bankInfo, user string, _ time.Time) (*bank.LoginResult, error) {
	s, err := json.Marshal(sessionData{Bank: bi.bank.ID, User: user})
	if err != nil {
		return nil, err
	}
	return &bank.LoginResult{Session: s, UserKey: user}, nil
}

// resume finishes a login that asked for input.
func (b *Connector) resume(ctx context.Context, req bank.LoginRequest) (*bank.LoginResult, error) {
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
	case "fixture":
		fx, _, err := b.fixture(ctx, req.AppID, st.Bank, st.User)
		if err != nil {
			return nil, err
		}
		ok = fx != nil && len(fx.MFA) > 0
		for i, in := range fx.inputs() {
			// Every answer is checked, right or wrong, so that the time
			// taken does not tell which one was wrong.
			good := checkSecret(fx.MFA[i].AnswerHash, answer(req.Answers, in))
			ok = ok && good
		}
	}
	if !ok {
		return nil, errInvalidMFA()
	}
	return b.loggedIn(ctx, req.AppID, bankByID[st.Bank], st.User, b.clock(req.Now))
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

// checkPassword applies the password check (check reports whether the
// password is right) and the lockout policy. The MaxFailedLogins-th
// failure in a row still answers InvalidCredentials and starts the lock;
// every attempt during the lock, right password or not, answers
// AccountLocked and does not extend it. A success resets the count. check
// runs without b.mu held: a fixture's takes milliseconds.
func (b *Connector) checkPassword(key lockKey, check func() bool, now time.Time) error {
	if b.locked(key, now) {
		return errLocked()
	}
	ok := check()
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.failures[key]
	if f != nil && !f.lockedUntil.IsZero() {
		// Locked by a concurrent attempt while the check ran.
		if now.Before(f.lockedUntil) {
			return errLocked()
		}
		delete(b.failures, key)
		f = nil
	}
	if ok {
		delete(b.failures, key)
		return nil
	}
	if f == nil {
		if len(b.failures) >= maxLockEntries {
			b.sweep(now)
		}
		// Still full: the table is bounded, so drop counts that have not
		// locked anyone yet (a guesser loses a few counted failures),
		// then, if every entry is a live lock, the lock that ends first.
		for k, f := range b.failures {
			if len(b.failures) < maxLockEntries {
				break
			}
			if f.lockedUntil.IsZero() {
				delete(b.failures, k)
			}
		}
		if len(b.failures) >= maxLockEntries {
			var first lockKey
			var until time.Time
			for k, f := range b.failures {
				if until.IsZero() || f.lockedUntil.Before(until) {
					first, until = k, f.lockedUntil
				}
			}
			delete(b.failures, first)
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

// locked reports whether key is locked at now, forgetting a lock that
// expired.
func (b *Connector) locked(key lockKey, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.failures[key]
	if f == nil || f.lockedUntil.IsZero() {
		return false
	}
	if now.Before(f.lockedUntil) {
		return true
	}
	delete(b.failures, key)
	return false
}

// sweep drops failure records that no longer matter: expired locks, and
// counts whose last failure is older than LockoutDuration. The caller holds
// b.mu.
func (b *Connector) sweep(now time.Time) {
	for k, f := range b.failures {
		if (!f.lockedUntil.IsZero() && !now.Before(f.lockedUntil)) ||
			(f.lockedUntil.IsZero() && now.Sub(f.last) > LockoutDuration) {
			delete(b.failures, k)
		}
	}
}
