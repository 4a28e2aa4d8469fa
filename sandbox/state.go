// A user's state: the base data plus the user's events applied in order,
// and what reads ask of it (balances, history).

package sandbox

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/bankgate/bankgate"
)

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
	user string // in userIn when it fits (see newUserState)
	// userIn holds a username of up to its length: the cache compares
	// the user on every lookup, and a name in the state itself costs no
	// cache miss and the collector no object of its own.
	userIn [userInline]byte

	ref atomic.Bool // read since the cache's hand last passed

	mu      sync.Mutex
	gen     *ledger // the generated ledger, kept once made
	l       *ledger // the base in use: gen or the fixture's
	fixture *fixture
	fixVer  fixVersion // the fixture version in use; zero for none
	seq     int64      // the last event of the user stream applied
	// syncedAt is the clock reading of the last catch-up with the store
	// that succeeded, and fixGen the Connector's fixGen read before it.
	syncedAt time.Time
	fixGen   uint64
	// dirty is set by the change feed when another writer changed the
	// user's stream since the last catch-up, and syncedReal is when
	// (time.Now) that catch-up began.
	dirty      atomic.Bool
	syncedReal time.Time
	// registered is set once the base's IBANs are in the registry.
	registered bool

	// The user's events and what they derive, nil until the user has an
	// event or a fixture's beneficiaries: most users never pay, and a
	// state is kept per active user. Writes, and reads of what events
	// derive, call ev first; data reads go through postedOf.
	*stateEvents
}

// userInline is the longest username a userState holds in itself; the
// generated usernames apps use are well under it.
const userInline = 32

// newUserState returns the state of user at bank bi in app's world, with
// nothing read yet.
func newUserState(app string, bi *bankInfo, user string) *userState {
	st := &userState{app: app, bi: bi, user: user}
	if n := copy(st.userIn[:], user); n == len(user) && n > 0 {
		st.user = unsafe.String(&st.userIn[0], n)
	}
	return st
}

// stateEvents are a user's events and what they derive.
type stateEvents struct {
	events []userEvent
	// preBens are a fixture user's beneficiaries before any event; a
	// generated user's are derived when asked (preBeneficiaries).
	preBens []bankgate.Beneficiary

	// Derived from events; reset by rebuild. The maps stay nil until an
	// event needs them.
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

// ev returns the state's events, making them if it has none yet.
func (st *userState) ev() *stateEvents {
	if st.stateEvents == nil {
		st.stateEvents = &stateEvents{}
	}
	return st.stateEvents
}

// rebuild resets what events derive and applies every event again, after
// the base changed.
func (st *userState) rebuild() {
	if st.stateEvents == nil {
		return
	}
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
		if st.l.p.accountID(i) == id {
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
	st.ev()
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
	if st.stateEvents == nil || st.posted == nil {
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
