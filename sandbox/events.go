package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bankgate/bankgate"
)

// eventLog is the part of bankgate.Store the sandbox keeps its state in.
type eventLog interface {
	AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error
	Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error)
}

// memEvents is an in-memory eventLog, used when Options.Store is nil. It
// rejects a seq that is taken with Conflict, like the stores do, and one
// that would leave a gap with an error.
type memEvents struct {
	mu      sync.Mutex
	streams map[string][]bankgate.Event
}

func newMemEvents() *memEvents { return &memEvents{streams: make(map[string][]bankgate.Event)} }

func (m *memEvents) AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.streams[stream]
	switch {
	case seq >= 1 && seq <= int64(len(evs)):
		return bankgate.Errorf(bankgate.Conflict, "event %d of %s already exists", seq, stream)
	case seq != int64(len(evs))+1:
		return fmt.Errorf("sandbox: event %d of %s would leave a gap after %d", seq, stream, len(evs))
	}
	m.streams[stream] = append(evs, bankgate.Event{Seq: seq, At: at, Body: slices.Clone(body)})
	return nil
}

func (m *memEvents) Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.streams[stream]
	if after < 0 {
		after = 0
	}
	if after >= int64(len(evs)) {
		return nil, nil
	}
	return slices.Clone(evs[after:]), nil
}

// Stream names. Everything users do belongs to the app (its sandbox
// world) it happened in; operator fixtures are server-wide templates.
func userStream(app, bankID, user string) string { return "sandbox/" + app + "/" + bankID + "/" + user }
func ibanStream(app, iban string) string         { return "sandbox-iban/" + app + "/" + iban }
func fixtureStream(bankID, user string) string   { return "sandbox-fixture/" + bankID + "/" + user }
func appFixtureStream(app, bankID, user string) string {
	return "sandbox-fixture/" + app + "/" + bankID + "/" + user
}
func appUsersStream(app string) string { return "sandbox-users/" + app }

// Event types of a user stream.
const (
	etBeneficiary     = "beneficiary"      // a beneficiary was added
	etWireBeneficiary = "wire_beneficiary" // a wire beneficiary was added
	etTransfer        = "transfer"         // money left one of the user's accounts
	etCredit          = "credit"           // money from another sandbox user arrived
	etDelivered       = "delivered"        // a transfer's credit reached its receiver
	etACHPull         = "ach_pull"         // money was pulled in by ACH
)

// userEvent is one entry of a user stream, stored as JSON.
type userEvent struct {
	Type string    `json:"type"`
	Date time.Time `json:"date"`
	// Beneficiary and Wire are stored in the domain types' default JSON
	// form; Autoflow marks one made by an autoflow call, which skips the
	// cool-down.
	Beneficiary *bankgate.Beneficiary     `json:"beneficiary,omitempty"`
	Wire        *bankgate.WireBeneficiary `json:"wire,omitempty"`
	Autoflow    bool                      `json:"autoflow,omitempty"`
	Transfer    *transferRecord           `json:"transfer,omitempty"`
	Credit      *creditRecord             `json:"credit,omitempty"`
	ACH         *achRecord                `json:"ach,omitempty"`
	// Ref is the delivered transfer's reference.
	Ref string `json:"ref,omitempty"`
}

// owner is who holds a sandbox account, as the IBAN registry records it.
type owner struct {
	Bank     string `json:"bank"`
	User     string `json:"user"`
	Account  string `json:"account"`
	Currency string `json:"currency"`
}

// transferRecord is a payment out of one of the user's accounts.
type transferRecord struct {
	Ref            string         `json:"ref"`
	Account        string         `json:"account"`
	Amount         bankgate.Money `json:"amount"` // hundredths
	Currency       string         `json:"currency"`
	Wire           bool           `json:"wire,omitempty"`
	Beneficiary    string         `json:"beneficiaryID"`
	Name           string         `json:"name"`
	IBAN           string         `json:"iban,omitempty"`
	AccountNumber  string         `json:"accountNumber,omitempty"`
	Remark         string         `json:"remark,omitempty"`
	IdempotencyKey string         `json:"idempotencyKey,omitempty"`
	FromName       string         `json:"fromName"`
	FromIBAN       string         `json:"fromIBAN,omitempty"`
	// To is the receiving sandbox account, if the IBAN is one.
	To *owner `json:"to,omitempty"`
}

// creditRecord is money another sandbox user sent, keyed by the transfer's
// reference.
type creditRecord struct {
	Ref      string         `json:"ref"`
	Account  string         `json:"account"`
	Amount   bankgate.Money `json:"amount"`
	FromName string         `json:"fromName"`
	FromIBAN string         `json:"fromIBAN,omitempty"`
	Remark   string         `json:"remark,omitempty"`
}

// achRecord is an ACH pull into one of the user's accounts.
type achRecord struct {
	OperationID string         `json:"operationID"`
	Ref         string         `json:"ref"`
	Account     string         `json:"account"`
	Amount      bankgate.Money `json:"amount"`
	Currency    string         `json:"currency"`
	Description string         `json:"description,omitempty"`
}

// postedTx is a transaction that came from an event, with its signed
// effect on the balance. Its BeforeAmount and AfterAmount are filled in
// when it is read.
type postedTx struct {
	tx    bankgate.Transaction
	delta bankgate.Money
}

// userState is one user at one bank in one app's sandbox world: the base
// data (generated, or a fixture's) plus the user's events applied in
// order. Its fields are guarded by mu; the base ledger has its own lock,
// taken after mu.
type userState struct {
	app  string
	bi   *bankInfo
	user string

	ref atomic.Bool // read since the cache's hand last passed

	mu      sync.Mutex
	gen     *ledger // the generated ledger, kept once made
	l       *ledger // the base in use: gen or the fixture's
	fixture *fixture
	fixVer  fixVersion // the fixture version in use; zero for none
	seq     int64      // the last event of the user stream applied
	events  []userEvent
	// syncedAt is the clock reading of the last catch-up with the store
	// that succeeded, and fixGen the Bank's fixGen read before it.
	syncedAt time.Time
	fixGen   uint64
	// dirty is set by the change feed when another writer changed the
	// user's stream since the last catch-up, and syncedReal is when
	// (time.Now) that catch-up began.
	dirty      atomic.Bool
	syncedReal time.Time
	// registered is set once the base's IBANs are in the registry.
	registered bool
	// preBens are a fixture user's beneficiaries before any event; a
	// generated user's are derived when asked (preBeneficiaries), so
	// that a state kept per active user does not hold them.
	preBens []bankgate.Beneficiary

	// Derived from events; reset by rebuild. The maps stay nil until an
	// event needs them: most users never pay, and a state is kept per
	// active user.
	bens       []bankgate.Beneficiary
	wires      []bankgate.WireBeneficiary
	autoflow   map[string]bool // beneficiary IDs made by autoflow
	posted     [][]postedTx    // per book, by date then seq; nil until an event posts
	sent       map[string]*transferRecord
	idem       map[string]string // idempotency key -> transfer ref
	credited   map[string]bool   // credit refs applied
	pending    map[string]*transferRecord
	delivering map[string]bool // pending transfers this process is delivering
	ach        map[string]*achRecord
}

// rebuild resets what events derive and applies every event again, after
// the base changed.
func (st *userState) rebuild() {
	st.bens, st.wires = nil, nil
	st.autoflow, st.sent, st.idem, st.credited, st.pending, st.ach = nil, nil, nil, nil, nil, nil
	st.posted = nil
	for i := range st.events {
		st.apply(&st.events[i])
	}
}

// put sets m[k] = v, making m first if it is nil, and returns m.
func put[K comparable, V any](m map[K]V, k K, v V) map[K]V {
	if m == nil {
		m = make(map[K]V)
	}
	m[k] = v
	return m
}

// account returns the index in p.accounts of the account with the given
// ID, or -1.
func (st *userState) account(id string) int {
	if id == "" {
		return -1
	}
	for i := range st.l.p.accounts {
		if st.l.p.accounts[i].id == id {
			return i
		}
	}
	return -1
}

// apply applies one event to the derived state. Events about accounts the
// base does not have (a fixture replaced) change no balance.
func (st *userState) apply(e *userEvent) {
	p := st.l.p
	brand := &st.bi.brand
	switch e.Type {
	case etBeneficiary:
		if e.Beneficiary != nil && !slices.ContainsFunc(st.bens, func(b bankgate.Beneficiary) bool { return b.ID == e.Beneficiary.ID }) {
			st.bens = append(st.bens, *e.Beneficiary)
			if e.Autoflow {
				st.autoflow = put(st.autoflow, e.Beneficiary.ID, true)
			}
		}
	case etWireBeneficiary:
		if e.Wire != nil && !slices.ContainsFunc(st.wires, func(b bankgate.WireBeneficiary) bool { return b.ID == e.Wire.ID }) {
			st.wires = append(st.wires, *e.Wire)
			if e.Autoflow {
				st.autoflow = put(st.autoflow, e.Wire.ID, true)
			}
		}
	case etTransfer:
		t := e.Transfer
		if t == nil || st.sent[t.Ref] != nil {
			return
		}
		st.sent = put(st.sent, t.Ref, t)
		if t.IdempotencyKey != "" {
			st.idem = put(st.idem, t.IdempotencyKey, t.Ref)
		}
		if a := st.account(t.Account); a >= 0 {
			to := t.IBAN
			if to == "" {
				to = t.AccountNumber
			}
			kind := "TRANSFER"
			if t.Wire {
				kind = "WIRE TRANSFER"
			}
			desc := "Transfer to " + t.Name
			details := kind + " TO " + upper(t.Name) + " " + to
			if t.Remark != "" {
				desc += " - " + t.Remark
				details += " " + upper(t.Remark)
			}
			st.post(int(p.accounts[a].book), "debit", t.Amount, desc, details, t.Ref, e.Date, brand)
		}
		if t.To != nil {
			if t.To.Bank == st.bi.bank.ID && t.To.User == st.user {
				st.applyCredit(e.Date, &creditRecord{Ref: t.Ref, Account: t.To.Account, Amount: t.Amount,
					FromName: t.FromName, FromIBAN: t.FromIBAN, Remark: t.Remark})
			} else {
				st.pending = put(st.pending, t.Ref, t)
			}
		}
	case etCredit:
		if e.Credit != nil {
			st.applyCredit(e.Date, e.Credit)
		}
	case etDelivered:
		delete(st.pending, e.Ref)
	case etACHPull:
		a := e.ACH
		if a == nil || st.ach[a.OperationID] != nil {
			return
		}
		st.ach = put(st.ach, a.OperationID, a)
		if i := st.account(a.Account); i >= 0 {
			desc := "ACH Pull"
			if a.Description != "" {
				desc += " - " + a.Description
			}
			st.post(int(p.accounts[i].book), "credit", a.Amount, desc, "ACH PULL "+a.Ref+" "+upper(a.Description), a.Ref, e.Date, brand)
		}
	}
}

// applyCredit posts a credit once per reference.
func (st *userState) applyCredit(at time.Time, c *creditRecord) {
	if st.credited[c.Ref] {
		return
	}
	st.credited = put(st.credited, c.Ref, true)
	i := st.account(c.Account)
	if i < 0 {
		return
	}
	desc := "Transfer from " + c.FromName
	details := "TRANSFER FROM " + upper(c.FromName) + " " + c.FromIBAN
	if c.Remark != "" {
		desc += " - " + c.Remark
		details += " " + upper(c.Remark)
	}
	st.post(int(st.l.p.accounts[i].book), "credit", c.Amount, desc, details, c.Ref, at, &st.bi.brand)
}

// post adds an event's transaction to book i, after every posted
// transaction dated at or before it.
func (st *userState) post(i int, typ string, amt bankgate.Money, desc, details, ref string, at time.Time, m *merchant) {
	delta := amt
	if typ == "debit" {
		delta = -amt
	}
	at = at.UTC()
	if st.posted == nil {
		st.posted = make([][]postedTx, len(st.l.p.books))
	}
	ps := st.posted[i]
	n := countPostedUpTo(ps, at)
	tx := bankgate.Transaction{Amount: amt, Date: at, Type: typ, Description: desc, Details: details,
		Currency: *st.l.p.books[i].cur, Reference: ref, Category: catTransfers, BrandName: m.Name, BrandLogo: m.Logo}
	st.posted[i] = slices.Insert(ps, n, postedTx{tx: tx, delta: delta})
}

// postedOf returns what events posted to book i, oldest first.
func (st *userState) postedOf(i int) []postedTx {
	if st.posted == nil {
		return nil
	}
	return st.posted[i]
}

// countPostedUpTo returns how many of ps are dated at or before t.
func countPostedUpTo(ps []postedTx, t time.Time) int {
	n, _ := slices.BinarySearchFunc(ps, t, func(p postedTx, t time.Time) int {
		if p.tx.Date.After(t) {
			return 1
		}
		return -1
	})
	return n
}

// balance returns book i's balance at t: the base's plus every posted
// transaction dated at or before t. The caller holds st.mu.
func (st *userState) balance(i int, t time.Time) bankgate.Money {
	bal := st.l.balanceAt(i, t)
	for _, p := range st.postedOf(i) {
		if p.tx.Date.After(t) {
			break
		}
		bal += p.delta
	}
	return bal
}

// available returns what book i can pay at now: its balance, less any
// debit posted after now (another instance's clock may run ahead), plus
// the credit limit of a card.
func (st *userState) available(i int, now time.Time) bankgate.Money {
	bal := st.balance(i, now)
	for _, p := range st.postedOf(i) {
		if p.tx.Date.After(now) && p.delta < 0 {
			bal += p.delta
		}
	}
	return bal + st.l.p.books[i].limit
}

// history returns book i's transactions dated in [from, to], base and
// posted interleaved by date (a base transaction first on a tie), with
// BeforeAmount and AfterAmount chained through both. The caller holds
// st.mu.
func (st *userState) history(i int, from, to time.Time) []bankgate.Transaction {
	gen, base := st.l.between(i, from, to)
	ps := st.postedOf(i)
	if len(ps) == 0 {
		return gen // fresh, and never nil
	}
	out := make([]bankgate.Transaction, 0, len(gen)+len(ps))
	var cum bankgate.Money
	k := 0
	for k < len(ps) && ps[k].tx.Date.Before(from) {
		cum += ps[k].delta
		k++
	}
	g := 0
	for {
		evOK := k < len(ps) && !ps[k].tx.Date.After(to)
		switch {
		case g < len(gen) && (!evOK || !gen[g].Date.After(ps[k].tx.Date)):
			tx := gen[g]
			base = tx.AfterAmount
			tx.BeforeAmount += cum
			tx.AfterAmount += cum
			out = append(out, tx)
			g++
		case evOK:
			tx := ps[k].tx
			tx.BeforeAmount = base + cum
			tx.AfterAmount = tx.BeforeAmount + ps[k].delta
			cum += ps[k].delta
			out = append(out, tx)
			k++
		default:
			return out
		}
	}
}

// fresh reports whether a read at now may use st as it is, without
// catching up with the store: st was caught up less than the read
// staleness ago (either way: a clock that jumps back further catches up
// too), and no fixture changed in this Bank since. The caller holds st.mu.
//
// With the change feed, a state older than that is fresh too while the
// feed has not marked it and covers it (see feed.Feed.Covers).
func (b *Bank) fresh(st *userState, now time.Time) bool {
	if b.staleness < 0 || st.l == nil || st.syncedAt.IsZero() || st.fixGen != b.fixGen.Load() {
		return false
	}
	if age := now.Sub(st.syncedAt); age < b.staleness && age > -b.staleness {
		return true
	}
	return b.feed != nil && !st.dirty.Load() && b.feed.Covers(st.syncedReal, b.staleness)
}

// sync brings st up to date with the store: the user's fixture (which
// replaces the base when it changes) and the events appended after the
// last one applied. On the state's first use it registers its IBANs. The
// caller holds st.mu.
func (b *Bank) sync(ctx context.Context, st *userState, now time.Time) error {
	gen := b.fixGen.Load()
	// Cleared before reading, so that a change the feed marks while the
	// catch-up runs is caught up next time.
	st.dirty.Store(false)
	began := time.Now()
	fx, fver, err := b.fixture(ctx, st.app, st.bi.bank.ID, st.user)
	if err != nil {
		return err
	}
	if st.l == nil || fver != st.fixVer {
		if fx != nil {
			st.l = fx.ledger(st.bi)
			st.preBens = fx.beneficiaries(st.bi, st.user)
		} else {
			if st.gen == nil {
				st.gen = b.gen.ledger(st.bi, st.user)
			}
			st.l = st.gen
			st.preBens = nil
		}
		st.fixture, st.fixVer, st.registered = fx, fver, false
		st.rebuild()
	}
	stream := userStream(st.app, st.bi.bank.ID, st.user)
	evs, err := b.log.Events(ctx, stream, st.seq)
	if err != nil {
		return fmt.Errorf("sandbox: read %s: %w", stream, err)
	}
	for _, e := range evs {
		if e.Seq != st.seq+1 {
			return fmt.Errorf("sandbox: %s: event %d follows %d", stream, e.Seq, st.seq)
		}
		var ue userEvent
		if err := json.Unmarshal(e.Body, &ue); err != nil {
			return fmt.Errorf("sandbox: %s: event %d: %w", stream, e.Seq, err)
		}
		st.events = append(st.events, ue)
		st.apply(&st.events[len(st.events)-1])
		st.seq = e.Seq
	}
	if !st.registered {
		if err := b.registerIBANs(ctx, st, now); err != nil {
			return err
		}
		st.registered = true
	}
	st.syncedAt, st.fixGen, st.syncedReal = now, gen, began
	return nil
}

// maxAppendAttempts bounds the retries of an append that keeps losing
// the race for its seq.
const maxAppendAttempts = 100

// appendEvent catches st up, asks build for the event to append (which
// checks it against the current state), and appends it at the next seq.
// On a Conflict (another writer took the seq) it catches up and asks
// build again, so every check is made against the state the event lands
// on. build may return a nil event to append nothing. The caller holds
// st.mu.
func (b *Bank) appendEvent(ctx context.Context, st *userState, now time.Time, build func() (*userEvent, error)) (*userEvent, error) {
	stream := userStream(st.app, st.bi.bank.ID, st.user)
	for attempt := 0; ; attempt++ {
		if err := b.sync(ctx, st, now); err != nil {
			return nil, err
		}
		ev, err := build()
		if err != nil || ev == nil {
			return nil, err
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		err = b.log.AppendEvent(ctx, stream, st.seq+1, now, body)
		if err == nil {
			var ue userEvent
			if err := json.Unmarshal(body, &ue); err != nil {
				return nil, err
			}
			st.events = append(st.events, ue)
			st.apply(&st.events[len(st.events)-1])
			st.seq++
			return &st.events[len(st.events)-1], nil
		}
		if !bankgate.IsCode(err, bankgate.Conflict) || attempt >= maxAppendAttempts {
			return nil, fmt.Errorf("sandbox: append to %s: %w", stream, err)
		}
	}
}

// ibanOwner returns who the app's registry says holds iban, and the
// registry stream's last seq.
func (b *Bank) ibanOwner(ctx context.Context, app, iban string) (*owner, int64, error) {
	evs, err := b.log.Events(ctx, ibanStream(app, iban), 0)
	if err != nil || len(evs) == 0 {
		return nil, 0, err
	}
	last := evs[len(evs)-1]
	var o owner
	if err := json.Unmarshal(last.Body, &o); err != nil {
		return nil, 0, fmt.Errorf("sandbox: iban registry %s: %w", iban, err)
	}
	return &o, last.Seq, nil
}

// registerIBANs records the base's IBANs in the registry. A generated
// account claims only an IBAN nobody holds; a fixture's takes it over.
func (b *Bank) registerIBANs(ctx context.Context, st *userState, now time.Time) error {
	p := st.l.p
	for _, a := range p.accounts {
		bk := p.books[a.book]
		if bk.iban() == "" {
			continue
		}
		o := owner{Bank: st.bi.bank.ID, User: st.user, Account: a.id, Currency: bk.cur.Code}
		for range maxAppendAttempts {
			cur, seq, err := b.ibanOwner(ctx, st.app, bk.iban())
			if err != nil {
				return err
			}
			if (cur != nil && *cur == o) || (cur != nil && st.fixture == nil) {
				break
			}
			body, _ := json.Marshal(o)
			err = b.log.AppendEvent(ctx, ibanStream(st.app, bk.iban()), seq+1, now, body)
			if err == nil {
				break
			}
			if !bankgate.IsCode(err, bankgate.Conflict) {
				return fmt.Errorf("sandbox: register %s: %w", bk.iban(), err)
			}
		}
	}
	return nil
}

// deliverPending credits the receivers of st's transfers to other sandbox
// users that are not yet marked delivered, then marks them. A failure
// leaves the transfer pending; the next use of the sender's state tries
// again, and the receiver applies a credit at most once per reference.
func (b *Bank) deliverPending(ctx context.Context, st *userState, now time.Time) {
	ctx = context.WithoutCancel(ctx)
	st.mu.Lock()
	var todo []*transferRecord
	for ref, t := range st.pending {
		if !st.delivering[ref] {
			st.delivering = put(st.delivering, ref, true)
			todo = append(todo, t)
		}
	}
	st.mu.Unlock()
	slices.SortFunc(todo, func(a, b *transferRecord) int { return compareStrings(a.Ref, b.Ref) })
	for _, t := range todo {
		_ = b.deliver(ctx, st, t, now)
	}
	st.mu.Lock()
	for _, t := range todo {
		delete(st.delivering, t.Ref)
	}
	st.mu.Unlock()
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// deliver appends t's credit to its receiver's stream unless it is there,
// then marks t delivered in the sender's stream. It holds one user's lock
// at a time.
func (b *Bank) deliver(ctx context.Context, sender *userState, t *transferRecord, now time.Time) error {
	bi, ok := bankByID[t.To.Bank]
	if !ok {
		return fmt.Errorf("sandbox: transfer %s to unknown bank %s", t.Ref, t.To.Bank)
	}
	var at time.Time
	sender.mu.Lock()
	for i := range sender.events {
		if e := &sender.events[i]; e.Type == etTransfer && e.Transfer != nil && e.Transfer.Ref == t.Ref {
			at = e.Date
		}
	}
	sender.mu.Unlock()
	rst := b.cache.get(sender.app, bi, t.To.User)
	rst.mu.Lock()
	_, err := b.appendEvent(ctx, rst, now, func() (*userEvent, error) {
		if rst.credited[t.Ref] {
			return nil, nil
		}
		return &userEvent{Type: etCredit, Date: at, Credit: &creditRecord{Ref: t.Ref, Account: t.To.Account,
			Amount: t.Amount, FromName: t.FromName, FromIBAN: t.FromIBAN, Remark: t.Remark}}, nil
	})
	rst.mu.Unlock()
	if err != nil {
		return err
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	_, err = b.appendEvent(ctx, sender, now, func() (*userEvent, error) {
		if sender.pending[t.Ref] == nil {
			return nil, nil
		}
		return &userEvent{Type: etDelivered, Date: now, Ref: t.Ref}, nil
	})
	return err
}
