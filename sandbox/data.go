package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// sessionInfo is a decoded session.
type sessionInfo struct {
	bi   *bankInfo
	user string
}

// decodeSession decodes a session's data; data that does not decode, or
// names no user or an unknown bank, answers SessionInvalidated.
func decodeSession(data []byte) (sessionInfo, error) {
	var d sessionData
	if err := json.Unmarshal(data, &d); err != nil || d.User == "" {
		return sessionInfo{}, errSession()
	}
	bi, ok := bankByID[d.Bank]
	if !ok {
		return sessionInfo{}, errSession()
	}
	return sessionInfo{bi: bi, user: d.User}, nil
}

// session decodes a session. A session that does not decode, or names an
// unknown bank or another bank than s.BankID, answers SessionInvalidated.
func (b *Connector) session(s bank.Session) (*bankInfo, string, error) {
	si, ok := plainSession(s.Data)
	if !ok {
		var err error
		if si, err = decodeSession(s.Data); err != nil {
			return nil, "", err
		}
	}
	if s.BankID != "" && s.BankID != si.bi.bank.ID {
		return nil, "", errSession()
	}
	return si.bi, si.user, nil
}

// plainSession decodes, without allocating, a session as loggedIn writes
// it, {"bank":"<ID>","user":"<username>"} in printable ASCII with
// nothing escaped; it
// reports false for anything else, which decodeSession then reads. The
// username it returns shares data's bytes, which a session never changes.
func plainSession(data []byte) (sessionInfo, bool) {
	const pre, mid, end = `{"bank":"`, `","user":"`, `"}`
	rest, ok := bytes.CutPrefix(data, []byte(pre))
	if !ok {
		return sessionInfo{}, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return sessionInfo{}, false
	}
	bi, ok := bankByID[string(rest[:i])]
	if !ok || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return sessionInfo{}, false
	}
	user, ok := bytes.CutPrefix(rest[i:], []byte(mid))
	if !ok {
		return sessionInfo{}, false
	}
	user, ok = bytes.CutSuffix(user, []byte(end))
	if !ok || len(user) == 0 {
		return sessionInfo{}, false
	}
	for _, c := range user {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return sessionInfo{}, false
		}
	}
	return sessionInfo{bi: bi, user: unsafe.String(&user[0], len(user))}, true
}

func errSession() error {
	return bankgate.Errorf(bankgate.SessionInvalidated, "The bank session is no longer valid. Please log in again.")
}

func errAccount() error {
	return bankgate.Errorf(bankgate.InvalidAccountID, "The account ID is not valid.")
}

func errCard() error {
	return bankgate.Errorf(bankgate.InvalidCardID, "The card ID is not valid.")
}

func (b *Connector) clock(now time.Time) time.Time {
	if now.IsZero() {
		return b.now().UTC()
	}
	return now.UTC()
}

// access says what a call does with a user's state.
type access bool

const (
	readCached access = false // fn only reads: a fresh state will do
	catchUp    access = true  // catch up with the store first (writes, always)
)

// withUser runs fn on the session's user's state, holding its lock; then
// it delivers any transfer to another sandbox user still pending. For a
// write, and for a read unless the state is fresh (see fresh), the state
// is caught up with the store first.
func (b *Connector) withUser(ctx context.Context, call *bank.Call, acc access, fn func(st *userState, now time.Time) error) error {
	bi, user, err := b.session(call.Session)
	if err != nil {
		return err
	}
	now := b.clock(call.Now)
	var real time.Time // the feed's clock, read once for Refresh and fresh
	if acc == readCached && b.feed != nil {
		real = time.Now()
		b.feed.Refresh(ctx, real)
	}
	st := b.cache.get(call.Session.AppID, bi, user)
	st.mu.Lock()
	if acc == catchUp || !b.fresh(st, now, real) {
		err = b.sync(ctx, st, now)
	}
	if err == nil {
		if acc == catchUp {
			st.ev()
		}
		err = fn(st, now)
	}
	pending := st.stateEvents != nil && len(st.pending) > 0
	st.mu.Unlock()
	if pending {
		b.deliverPending(ctx, st, now)
	}
	return err
}

// dataInputs is what UserDataMFA's Accounts and Transactions ask.
var dataInputs = []bankgate.UserInput{
	{ID: "otp", Index: 0, QueryType: "txt", Query: "Enter the one-time password sent to your phone"},
}

// callState is the continuation state of a call that asked for input:
// the operation and, for payments, the request to carry out.
type callState struct {
	Op  string          `json:"op"`
	Req json.RawMessage `json:"req,omitempty"`
}

// otpAnswer returns the answer to input q: the one with q's ID, else the
// one at index 0.
func otpAnswer(answers []bankgate.UserInput, q bankgate.UserInput) string {
	for _, a := range answers {
		if a.ID == q.ID {
			return strings.TrimSpace(a.Answer)
		}
	}
	for _, a := range answers {
		if a.Index == 0 {
			return strings.TrimSpace(a.Answer)
		}
	}
	return ""
}

// gate decides whether a call goes ahead. On a resume (call.State set) it
// checks the answer (InvalidMFA unless AnswerOTP) and returns the request
// the state holds, which wins over the one given. Otherwise, if ask, it
// returns a Challenge whose state holds req; else req.
func gate[T any](call *bank.Call, ask bool, op string, inputs []bankgate.UserInput, req T) (T, *bank.Challenge, error) {
	var zero T
	if call.State != nil {
		var cs callState
		if err := json.Unmarshal(call.State, &cs); err != nil || cs.Op != op {
			return zero, nil, errInvalidMFA()
		}
		if otpAnswer(call.Answers, inputs[0]) != AnswerOTP {
			return zero, nil, errInvalidMFA()
		}
		if len(cs.Req) > 0 && string(cs.Req) != "null" {
			var r T
			if err := json.Unmarshal(cs.Req, &r); err != nil {
				return zero, nil, errInvalidMFA()
			}
			return r, nil, nil
		}
		return req, nil, nil
	}
	if !ask {
		return req, nil, nil
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return zero, nil, err
	}
	state, err := json.Marshal(callState{Op: op, Req: raw})
	if err != nil {
		return zero, nil, err
	}
	return zero, &bank.Challenge{Inputs: slices.Clone(inputs), State: state}, nil
}

// dataGate asks UserDataMFA for a one-time password once per call of op.
func (b *Connector) dataGate(call *bank.Call, op string) (*bank.Challenge, error) {
	_, user, err := b.session(call.Session)
	if err != nil {
		return nil, err
	}
	_, ch, err := gate(call, user == UserDataMFA, op, dataInputs, struct{}{})
	return ch, err
}

// Identity returns the identity of the session's user. It never asks for
// input. A session that does not decode answers SessionInvalidated.
func (b *Connector) Identity(ctx context.Context, call *bank.Call) (*bankgate.Identity, *bank.Challenge, error) {
	var id bankgate.Identity
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		id = st.l.p.ident()
		id.Numbers = slices.Clone(id.Numbers)
		id.Identifications = slices.Clone(id.Identifications)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return &id, nil, nil
}

// Accounts returns the session's user's accounts with their balances at
// call.Now (the Connector's clock if zero), payments included. UserDataMFA is
// asked a one-time password first; others never are. A session that does
// not decode answers SessionInvalidated.
func (b *Connector) Accounts(ctx context.Context, call *bank.Call) ([]bankgate.Account, *bank.Challenge, error) {
	if ch, err := b.dataGate(call, "accounts"); ch != nil || err != nil {
		return nil, ch, err
	}
	var out []bankgate.Account
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		out = st.accounts(now)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// accounts returns the accounts with their balances at now. The caller
// holds st.mu.
func (st *userState) accounts(now time.Time) []bankgate.Account {
	out := make([]bankgate.Account, len(st.l.p.accounts))
	for i := range out {
		out[i] = st.accountAt(i, now)
	}
	return out
}

// accountAt returns account i (an index in p.accounts) with its balance at
// now. The caller holds st.mu.
func (st *userState) accountAt(i int, now time.Time) bankgate.Account {
	p := st.l.p
	a := &p.accounts[i]
	bk := p.book(int(a.book))
	return bankgate.Account{
		ID: p.accountID(i), Name: a.name, Type: a.typ(), IBAN: bk.iban(), Number: bk.number(),
		Currency: *bk.cur, IsFavourite: a.fav, Balance: st.balance(int(a.book), now),
	}
}

// Balance returns the account accountID of the session's user as it
// stands at call.Now (the Connector's clock if zero), payments included; its
// Balance, Currency and Number are what the balance endpoint reports. It
// returns SessionInvalidated for a session that does not decode and
// InvalidAccountID for an account the user does not have.
func (b *Connector) Balance(ctx context.Context, call *bank.Call, accountID string) (*bankgate.Account, *bank.Challenge, error) {
	var out *bankgate.Account
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		i := st.account(accountID)
		if i < 0 {
			return errAccount()
		}
		out = new(bankgate.Account)
		*out = st.accountAt(i, now)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// dateRange turns the inclusive days [from, to] into instants, as seen at
// now: from is the start of its day (zero: the earliest day the bank
// serves), to the end of its day (zero: now), clipped to now. It returns
// InvalidDateRange if from is after to or reaches further back than the
// bank's transaction range.
func dateRange(bi *bankInfo, from, to, now time.Time) (time.Time, time.Time, error) {
	day := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	earliest := day(now).AddDate(0, 0, -bi.rangeDays)
	if from.IsZero() {
		from = earliest
	} else {
		from = day(from)
	}
	if to.IsZero() {
		to = now
	} else {
		to = day(to).Add(24*time.Hour - time.Nanosecond)
	}
	if from.After(to) {
		return from, to, bankgate.Errorf(bankgate.InvalidDateRange, "The start date must not be after the end date.")
	}
	if from.Before(earliest) {
		return from, to, bankgate.Errorf(bankgate.InvalidDateRange,
			"The bank serves the transactions of the last %d days only.", bi.rangeDays)
	}
	if to.After(now) {
		to = now
	}
	return from, to, nil
}

// Transactions returns the transactions of account accountID dated in the
// days from to to, both inclusive, oldest first, payments included, as
// seen at call.Now (the Connector's clock if zero): nothing after now is
// returned. A zero from means the earliest day the bank serves (its
// transaction range back from now); a zero to means now. UserDataMFA is
// asked a one-time password first. It returns SessionInvalidated for a
// session that does not decode, InvalidAccountID for an account the user
// does not have, and InvalidDateRange if from is after to or further back
// than the bank's transaction range. The result is never nil and is the
// caller's to modify.
func (b *Connector) Transactions(ctx context.Context, call *bank.Call, accountID string, from, to time.Time) ([]bankgate.Transaction, *bank.Challenge, error) {
	if ch, err := b.dataGate(call, "transactions"); ch != nil || err != nil {
		return nil, ch, err
	}
	var out []bankgate.Transaction
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		i := st.account(accountID)
		if i < 0 {
			return errAccount()
		}
		f, t, err := dateRange(st.bi, from, to, now)
		if err != nil {
			return err
		}
		out = st.history(int(st.l.p.accounts[i].book), f, t)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// Cards returns the session's user's credit cards, zero to two, with their
// balances at call.Now (the Connector's clock if zero). It returns
// SessionInvalidated for a session that does not decode.
func (b *Connector) Cards(ctx context.Context, call *bank.Call) ([]bankgate.Card, *bank.Challenge, error) {
	var out []bankgate.Card
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		out = st.cards(now)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// cards returns the cards with their balances at now. The caller holds
// st.mu.
func (st *userState) cards(now time.Time) []bankgate.Card {
	p := st.l.p
	out := make([]bankgate.Card, 0, len(p.cards))
	for ci, bi := range p.cards {
		bk := p.book(int(bi))
		out = append(out, bankgate.Card{
			ID: bk.id(), Name: bk.name(), CardNumber: bk.number(), CreditLimit: bk.limit, Currency: *bk.cur,
			Type: "credit", ExpiryDate: bk.expiry(), Status: "active", Balance: st.cardBalance(ci, now),
		})
	}
	return out
}

// CardBalance returns the balance of card cardID at call.Now (the Connector's
// clock if zero). It returns SessionInvalidated for a session that does
// not decode and InvalidCardID for a card the user does not have.
func (b *Connector) CardBalance(ctx context.Context, call *bank.Call, cardID string) (*bankgate.CardBalance, *bank.Challenge, error) {
	var out *bankgate.CardBalance
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		ci := st.card(cardID)
		if ci < 0 {
			return errCard()
		}
		out = new(bankgate.CardBalance)
		*out = st.cardBalance(ci, now)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// card returns the position in p.cards of the card with the given ID, or
// -1. The caller holds st.mu.
func (st *userState) card(id string) int {
	p := st.l.p
	for ci, bi := range p.cards {
		if id != "" && p.book(int(bi)).id() == id {
			return ci
		}
	}
	return -1
}

// cardBalance returns card ci's balance at now. The amount due is the
// statement balance owed at the start of now's month until its payment
// date passes, then zero until the next statement. The caller holds
// st.mu.
func (st *userState) cardBalance(ci int, now time.Time) bankgate.CardBalance {
	p := st.l.p
	b := int(p.cards[ci])
	bk := p.book(b)
	outstanding := max(-st.balance(b, now), 0)
	cb := bankgate.CardBalance{
		CardNumber:         bk.number(),
		AvailableBalance:   bk.limit - outstanding,
		OutstandingBalance: outstanding,
		Currency:           *bk.cur,
	}
	m := monthIndex(now)
	dueDay := func(m int) string {
		return time.Date(epoch.Year(), epoch.Month()+time.Month(m), int(bk.payDay), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	if m < 0 {
		cb.DueDate = dueDay(0)
	} else if s := st.l.statement(ci, m); now.Before(s.due) {
		cb.AmountDue = min(s.amount, outstanding)
		cb.DueDate = dueDay(m)
	} else {
		cb.DueDate = dueDay(m + 1)
	}
	return cb
}

// CardTransactions returns the transactions of card cardID as Transactions
// does for an account. It returns InvalidCardID for a card the user does
// not have.
func (b *Connector) CardTransactions(ctx context.Context, call *bank.Call, cardID string, from, to time.Time) ([]bankgate.Transaction, *bank.Challenge, error) {
	var out []bankgate.Transaction
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		i := st.card(cardID)
		if i < 0 {
			return errCard()
		}
		f, t, err := dateRange(st.bi, from, to, now)
		if err != nil {
			return err
		}
		out = st.history(int(st.l.p.cards[i]), f, t)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}
