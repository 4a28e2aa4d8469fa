package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// Transfer limits, in currency units.
const (
	maxTransferUnits = 100_000
	maxNameLength    = 50
)

// minimumUnits is the smallest transfer of each beneficiary type.
var minimumUnits = map[string]int{"same": 1, "local": 1, "intl": 10}

// paymentInputs is what UserTransferMFA is asked before every payment and
// beneficiary creation.
var paymentInputs = []bankgate.UserInput{
	{ID: "otp", Index: 0, QueryType: "txt", Query: "Enter the code we sent to confirm this payment"},
}

// payment runs fn for a payment call of kind op, after the payment MFA of
// UserTransferMFA: on a first call it answers with a Challenge holding
// req; on the resume it checks the answer and runs fn with the stored
// request.
func payment[T any](b *Connector, ctx context.Context, call *bank.Call, op string, req T, fn func(st *userState, now time.Time, req T) error) (*bank.Challenge, error) {
	_, user, err := b.session(call.Session)
	if err != nil {
		return nil, err
	}
	req, ch, err := gate(call, user == UserTransferMFA, op, paymentInputs, req)
	if err != nil || ch != nil {
		return ch, err
	}
	return nil, b.withUser(ctx, call, catchUp, func(st *userState, now time.Time) error { return fn(st, now, req) })
}

// newRef returns a new transfer reference: BGT and 12 random upper-case
// letters and digits (60 random bits).
func newRef() string { return "BGT" + rand.Text()[:12] }

// newID returns a new opaque beneficiary ID.
func newID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func normIBAN(s string) string { return strings.ToUpper(strings.ReplaceAll(s, " ", "")) }

func paramError(msg string) error { return bankgate.Errorf(bankgate.ParameterError, "%s", msg) }
func paramMissing(msg string) error {
	return bankgate.Errorf(bankgate.ParameterMissing, "%s", msg)
}

// validBeneficiary checks a beneficiary to create and returns it
// normalised: name trimmed, IBAN without spaces, type defaulted to local.
func validBeneficiary(in *bankgate.Beneficiary) (bankgate.Beneficiary, error) {
	if in == nil {
		return bankgate.Beneficiary{}, paramMissing("The beneficiary is required.")
	}
	nb := *in
	nb.Name = strings.TrimSpace(nb.Name)
	nb.IBAN = normIBAN(strings.TrimSpace(nb.IBAN))
	nb.AccountNumber = strings.TrimSpace(nb.AccountNumber)
	switch {
	case nb.Name == "":
		return nb, paramMissing("The beneficiary name is required.")
	case !validName(nb.Name, maxNameLength):
		return nb, bankgate.Errorf(bankgate.BeneficiaryNameLimit, "The beneficiary name must be at most %d characters.", maxNameLength)
	case nb.IBAN != "" && !ValidIBAN(nb.IBAN):
		return nb, paramError("The IBAN is not valid.")
	case nb.IBAN == "" && nb.AccountNumber == "":
		return nb, paramMissing("Either the IBAN or the account number of the beneficiary is required.")
	}
	if nb.Type == "" {
		nb.Type = "local"
	}
	if _, ok := minimumUnits[nb.Type]; !ok {
		return nb, paramError("The beneficiary type must be same, local or intl.")
	}
	return nb, nil
}

// validWire checks a wire beneficiary to create and returns it
// normalised.
func validWire(in *bankgate.WireBeneficiary) (bankgate.WireBeneficiary, error) {
	if in == nil {
		return bankgate.WireBeneficiary{}, paramMissing("The wire beneficiary is required.")
	}
	w := *in
	w.Name = strings.TrimSpace(w.Name)
	w.AccountNumber = strings.TrimSpace(w.AccountNumber)
	w.RoutingNumber = strings.TrimSpace(w.RoutingNumber)
	switch {
	case w.Name == "":
		return w, paramMissing("The beneficiary name is required.")
	case !validName(w.Name, maxNameLength):
		return w, bankgate.Errorf(bankgate.BeneficiaryNameLimit, "The beneficiary name must be at most %d characters.", maxNameLength)
	case w.AccountNumber == "":
		return w, paramMissing("The account number is required.")
	case w.RoutingNumber == "":
		return w, paramMissing("The routing number is required.")
	case len(w.RoutingNumber) != 9 || !isDigits(w.RoutingNumber):
		return w, paramError("The routing number must be 9 digits.")
	}
	if w.Type == "" {
		w.Type = "local"
	}
	if _, ok := minimumUnits[w.Type]; !ok {
		return w, paramError("The beneficiary type must be same, local or intl.")
	}
	return w, nil
}

// allBeneficiaries returns the pre-existing beneficiaries and those the
// user added, oldest first. The caller holds st.mu.
func (st *userState) allBeneficiaries() []bankgate.Beneficiary {
	pre := st.preBens
	if st.fixture == nil {
		pre = preBeneficiaries(st.bi, st.user)
	}
	out := make([]bankgate.Beneficiary, 0, len(pre)+len(st.bens))
	return append(append(out, pre...), st.bens...)
}

// findBeneficiary returns the beneficiary with the given IBAN or account
// number, or nil.
func (st *userState) findBeneficiary(iban, acct string) *bankgate.Beneficiary {
	iban = normIBAN(iban)
	for _, bn := range st.allBeneficiaries() {
		if (iban != "" && normIBAN(bn.IBAN) == iban) || (acct != "" && bn.AccountNumber == acct) {
			return &bn
		}
	}
	return nil
}

func (st *userState) findWire(acct, routing string) *bankgate.WireBeneficiary {
	for _, w := range st.wires {
		if w.AccountNumber == acct && w.RoutingNumber == routing {
			return &w
		}
	}
	return nil
}

// coolDownError is BeneficiaryCoolDown with the hours left, rounded up.
func coolDownError(left time.Duration) error {
	hrs := max(int(math.Ceil(left.Hours())), 1)
	e := bankgate.Errorf(bankgate.BeneficiaryCoolDown,
		"The beneficiary was added recently; transfers to it are possible in %d hours.", hrs)
	e.Data = map[string]any{"coolDownPeriod": map[string]any{"value": hrs, "unit": "hrs"}}
	return e
}

// addBeneficiary appends a new beneficiary, after checking it is not a
// duplicate. The caller holds st.mu.
func (b *Connector) addBeneficiary(ctx context.Context, st *userState, now time.Time, in *bankgate.Beneficiary, autoflow bool) (*bankgate.Beneficiary, error) {
	nb, err := validBeneficiary(in)
	if err != nil {
		return nil, err
	}
	var out bankgate.Beneficiary
	_, err = b.appendEvent(ctx, st, now, func() (*userEvent, error) {
		if st.findBeneficiary(nb.IBAN, nb.AccountNumber) != nil {
			return nil, bankgate.Errorf(bankgate.BeneficiaryExists, "A beneficiary with this IBAN or account number already exists.")
		}
		out = nb
		out.ID = newID()
		out.Status = bankgate.BeneficiaryApproved
		out.CreatedAt = now
		out.ActiveAt = now.Add(time.Duration(st.bi.coolDownHrs) * time.Hour)
		return &userEvent{Type: etBeneficiary, Date: now, Beneficiary: &out, Autoflow: autoflow}, nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// addWire appends a new wire beneficiary. The caller holds st.mu.
func (b *Connector) addWire(ctx context.Context, st *userState, now time.Time, in *bankgate.WireBeneficiary, autoflow bool) (*bankgate.WireBeneficiary, error) {
	w, err := validWire(in)
	if err != nil {
		return nil, err
	}
	var out bankgate.WireBeneficiary
	_, err = b.appendEvent(ctx, st, now, func() (*userEvent, error) {
		if st.findWire(w.AccountNumber, w.RoutingNumber) != nil {
			return nil, bankgate.Errorf(bankgate.BeneficiaryExists, "A wire beneficiary with this account and routing number already exists.")
		}
		out = w
		out.ID = newID()
		out.Status = bankgate.BeneficiaryApproved
		out.CreatedAt = now
		out.ActiveAt = now.Add(time.Duration(st.bi.coolDownHrs) * time.Hour)
		return &userEvent{Type: etWireBeneficiary, Date: now, Wire: &out, Autoflow: autoflow}, nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// payee is who a transfer goes to.
type payee struct {
	id, name, iban, acct, typ string
	activeAt                  time.Time
}

// payee resolves a transfer's receiver: the beneficiary (or, for wire,
// the wire beneficiary) named by ReceiverID, or else the beneficiary with
// the IBAN or account number given. The caller holds st.mu.
func (st *userState) payee(req *bankgate.TransferRequest, wire bool) (payee, error) {
	if wire {
		if req.ReceiverID == "" {
			return payee{}, paramMissing("The receiverID is required.")
		}
		for _, w := range st.wires {
			if w.ID == req.ReceiverID {
				return payee{id: w.ID, name: w.Name, acct: w.AccountNumber, typ: w.Type, activeAt: w.ActiveAt}, nil
			}
		}
		return payee{}, paramError("The wire beneficiary was not found.")
	}
	var bn *bankgate.Beneficiary
	switch {
	case req.ReceiverID != "":
		for _, x := range st.allBeneficiaries() {
			if x.ID == req.ReceiverID {
				bn = &x
				break
			}
		}
	case req.IBAN != "" || req.AccountNumber != "":
		bn = st.findBeneficiary(req.IBAN, strings.TrimSpace(req.AccountNumber))
	default:
		return payee{}, paramMissing("The receiverID is required.")
	}
	if bn == nil {
		return payee{}, paramError("The beneficiary was not found.")
	}
	return payee{id: bn.ID, name: bn.Name, iban: normIBAN(bn.IBAN), acct: bn.AccountNumber, typ: bn.Type, activeAt: bn.ActiveAt}, nil
}

// receiver returns the sandbox account a payee's IBAN belongs to, or nil.
// An account number alone names an account at the sender's bank for a
// same-bank beneficiary.
func (b *Connector) receiver(ctx context.Context, st *userState, pe payee) (*owner, error) {
	iban := pe.iban
	if iban == "" && pe.typ == "same" && isDigits(pe.acct) {
		c := st.bi.country.Code
		if len(pe.acct) <= map[string]int{"AE": 16, "SA": 18}[c] {
			iban = accountIBAN(c, st.bi.ibanCode, pe.acct)
		}
	}
	if iban == "" {
		return nil, nil
	}
	o, _, err := b.ibanOwner(ctx, st.app, iban)
	return o, err
}

// pay makes a transfer or wire transfer from the state's user. Every check
// is made against the state the transfer event lands on, so concurrent
// payments cannot overdraw. The caller holds st.mu.
func (b *Connector) pay(ctx context.Context, st *userState, call *bank.Call, now time.Time, req *bankgate.TransferRequest, wire bool) (*bankgate.TransferResult, error) {
	if req == nil {
		return nil, paramMissing("The transfer is required.")
	}
	var res *bankgate.TransferResult
	owners := map[string]*owner{}
	_, err := b.appendEvent(ctx, st, now, func() (*userEvent, error) {
		res = nil
		if k := call.IdempotencyKey; k != "" {
			if ref := st.idem[k]; ref != "" {
				t := st.sent[ref]
				res = &bankgate.TransferResult{Reference: ref, Amount: t.Amount, Currency: bankgate.Currencies[t.Currency]}
				return nil, nil
			}
		}
		ai := st.account(req.SenderID)
		if ai < 0 {
			return nil, errAccount()
		}
		if req.Amount <= 0 {
			return nil, paramError("The amount must be greater than zero.")
		}
		pe, err := st.payee(req, wire)
		if err != nil {
			return nil, err
		}
		if now.Before(pe.activeAt) && !st.autoflow[pe.id] {
			return nil, coolDownError(pe.activeAt.Sub(now))
		}
		ref := st.l.p.accounts[ai]
		refID := st.l.p.accountID(ai)
		bk := st.l.p.book(int(ref.book))
		minimum := minimumUnits[pe.typ]
		if minimum == 0 {
			minimum = 1
		}
		switch {
		case req.Amount < bankgate.Money(minimum)*100:
			return nil, bankgate.Errorf(bankgate.ParameterError, "The amount must be at least %d %s for a %s transfer.", minimum, bk.cur.Code, pe.typ)
		case req.Amount > maxTransferUnits*100:
			return nil, bankgate.Errorf(bankgate.ParameterError, "The amount must be at most %d %s.", maxTransferUnits, bk.cur.Code)
		case req.Amount > st.available(int(ref.book), now):
			return nil, bankgate.Errorf(bankgate.InsufficientBalance, "The account does not have enough balance for this transfer.")
		}
		to, seen := owners[pe.id]
		if !seen {
			if to, err = b.receiver(ctx, st, pe); err != nil {
				return nil, err
			}
			owners[pe.id] = to
		}
		if to != nil && (to.Currency != bk.cur.Code || wire) {
			to = nil // not a sandbox account we can credit
		}
		if to != nil && to.Bank == st.bi.bank.ID && to.User == st.user {
			if to.Account == refID {
				return nil, paramError("The sender and receiver accounts must differ.")
			}
			if st.account(to.Account) < 0 {
				to = nil
			}
		}
		t := &transferRecord{Ref: newRef(), Account: refID, Amount: req.Amount, Currency: bk.cur.Code, Wire: wire,
			Beneficiary: pe.id, Name: pe.name, IBAN: pe.iban, AccountNumber: pe.acct, Remark: strings.TrimSpace(req.Remark),
			IdempotencyKey: call.IdempotencyKey, FromName: st.l.p.ident().Name, FromIBAN: bk.iban(), To: to}
		res = &bankgate.TransferResult{Reference: t.Ref, Amount: t.Amount, Currency: *bk.cur}
		return &userEvent{Type: etTransfer, Date: now, Transfer: t}, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Beneficiaries returns the user's beneficiaries, oldest first: one or two
// that were there before, then those added. It never asks for input.
func (b *Connector) Beneficiaries(ctx context.Context, call *bank.Call) ([]bankgate.Beneficiary, *bank.Challenge, error) {
	var out []bankgate.Beneficiary
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		st.ev()
		out = st.allBeneficiaries()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// CreateBeneficiary adds a beneficiary, approved and active after the
// bank's cool-down period. It returns ParameterMissing without a name or
// an IBAN or account number, BeneficiaryNameLimit for a name over 50
// characters, ParameterError for an invalid IBAN or type, and
// BeneficiaryExists for a duplicate IBAN or account number.
// UserTransferMFA is asked a code first.
func (b *Connector) CreateBeneficiary(ctx context.Context, call *bank.Call, in *bankgate.Beneficiary) (*bank.Challenge, error) {
	return payment(b, ctx, call, "beneficiary", in, func(st *userState, now time.Time, in *bankgate.Beneficiary) error {
		_, err := b.addBeneficiary(ctx, st, now, in, false)
		return err
	})
}

// Transfer pays a beneficiary from one of the user's accounts, in the
// account's currency; see bank.Payer. A receiver whose IBAN is a sandbox
// account is credited too. UserTransferMFA is asked a code first.
func (b *Connector) Transfer(ctx context.Context, call *bank.Call, req *bankgate.TransferRequest) (*bankgate.TransferResult, *bank.Challenge, error) {
	var res *bankgate.TransferResult
	ch, err := payment(b, ctx, call, "transfer", req, func(st *userState, now time.Time, req *bankgate.TransferRequest) error {
		var err error
		res, err = b.pay(ctx, st, call, now, req, false)
		return err
	})
	return res, ch, err
}

// TransferAutoflow pays req.Beneficiary (or the receiver named by Name,
// IBAN and AccountNumber), creating it first unless a beneficiary with its
// IBAN or account number exists. A beneficiary created this way skips the
// cool-down, so the payment is made in the same call.
func (b *Connector) TransferAutoflow(ctx context.Context, call *bank.Call, req *bankgate.TransferRequest) (*bankgate.TransferResult, *bank.Challenge, error) {
	var res *bankgate.TransferResult
	ch, err := payment(b, ctx, call, "transfer_autoflow", req, func(st *userState, now time.Time, req *bankgate.TransferRequest) error {
		if req == nil {
			return paramMissing("The transfer is required.")
		}
		bn := req.Beneficiary
		if bn == nil {
			bn = &bankgate.Beneficiary{Name: req.Name, Nickname: req.Nickname, IBAN: req.IBAN, AccountNumber: req.AccountNumber}
		}
		if st.account(req.SenderID) < 0 {
			return errAccount()
		}
		if req.Amount <= 0 {
			return paramError("The amount must be greater than zero.")
		}
		existing := st.findBeneficiary(bn.IBAN, strings.TrimSpace(bn.AccountNumber))
		if existing == nil {
			var err error
			if existing, err = b.addBeneficiary(ctx, st, now, bn, true); err != nil {
				return err
			}
		}
		r := *req
		r.ReceiverID = existing.ID
		var err error
		res, err = b.pay(ctx, st, call, now, &r, false)
		return err
	})
	return res, ch, err
}

// WireBeneficiaries returns the user's wire beneficiaries, oldest first.
func (b *Connector) WireBeneficiaries(ctx context.Context, call *bank.Call) ([]bankgate.WireBeneficiary, *bank.Challenge, error) {
	var out []bankgate.WireBeneficiary
	err := b.withUser(ctx, call, readCached, func(st *userState, now time.Time) error {
		out = slices.Clone(st.ev().wires)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if out == nil {
		out = []bankgate.WireBeneficiary{}
	}
	return out, nil, nil
}

// CreateWireBeneficiary adds a US wire beneficiary. It needs a name, an
// account number and a 9-digit routing number, and returns
// BeneficiaryExists for a duplicate account and routing number.
func (b *Connector) CreateWireBeneficiary(ctx context.Context, call *bank.Call, in *bankgate.WireBeneficiary) (*bank.Challenge, error) {
	return payment(b, ctx, call, "wire_beneficiary", in, func(st *userState, now time.Time, in *bankgate.WireBeneficiary) error {
		_, err := b.addWire(ctx, st, now, in, false)
		return err
	})
}

// WireTransfer pays the wire beneficiary req.ReceiverID, in the sender
// account's currency, under the same rules as Transfer.
func (b *Connector) WireTransfer(ctx context.Context, call *bank.Call, req *bankgate.TransferRequest) (*bankgate.TransferResult, *bank.Challenge, error) {
	var res *bankgate.TransferResult
	ch, err := payment(b, ctx, call, "wire_transfer", req, func(st *userState, now time.Time, req *bankgate.TransferRequest) error {
		var err error
		res, err = b.pay(ctx, st, call, now, req, true)
		return err
	})
	return res, ch, err
}

// WireTransferAutoflow pays the wire beneficiary req.Wire describes,
// creating it first unless one with its account and routing number
// exists; one created this way skips the cool-down.
func (b *Connector) WireTransferAutoflow(ctx context.Context, call *bank.Call, req *bankgate.TransferRequest) (*bankgate.TransferResult, *bank.Challenge, error) {
	var res *bankgate.TransferResult
	ch, err := payment(b, ctx, call, "wire_transfer_autoflow", req, func(st *userState, now time.Time, req *bankgate.TransferRequest) error {
		if req == nil || req.Wire == nil {
			return paramMissing("The wire beneficiary is required.")
		}
		if st.account(req.SenderID) < 0 {
			return errAccount()
		}
		if req.Amount <= 0 {
			return paramError("The amount must be greater than zero.")
		}
		existing := st.findWire(strings.TrimSpace(req.Wire.AccountNumber), strings.TrimSpace(req.Wire.RoutingNumber))
		if existing == nil {
			var err error
			if existing, err = b.addWire(ctx, st, now, req.Wire, true); err != nil {
				return err
			}
		}
		r := *req
		r.ReceiverID = existing.ID
		var err error
		res, err = b.pay(ctx, st, call, now, &r, true)
		return err
	})
	return res, ch, err
}

// CreateACHPull pulls req.Amount into account req.SenderID, keyed by
// call.OperationID: a second call with the same operation ID changes
// nothing. The pull succeeds at once. It returns ParameterMissing without
// an operation ID, InvalidAccountID and ParameterError for an amount that
// is not positive or over the transfer maximum.
func (b *Connector) CreateACHPull(ctx context.Context, call *bank.Call, req *bankgate.ACHPullRequest) (*bank.Challenge, error) {
	if call.OperationID == "" {
		return nil, paramMissing("The operation ID is required.")
	}
	if req == nil {
		return nil, paramMissing("The ACH pull is required.")
	}
	return nil, b.withUser(ctx, call, catchUp, func(st *userState, now time.Time) error {
		_, err := b.appendEvent(ctx, st, now, func() (*userEvent, error) {
			if st.ach[call.OperationID] != nil {
				return nil, nil
			}
			ai := st.account(req.SenderID)
			if ai < 0 {
				return nil, errAccount()
			}
			if req.Amount <= 0 || req.Amount > maxTransferUnits*100 {
				return nil, bankgate.Errorf(bankgate.ParameterError, "The amount must be greater than zero and at most %d.", maxTransferUnits)
			}
			bk := st.l.p.books[st.l.p.accounts[ai].book]
			return &userEvent{Type: etACHPull, Date: now, ACH: &achRecord{OperationID: call.OperationID, Ref: newRef(),
				Account: req.SenderID, Amount: req.Amount, Currency: bk.cur.Code, Description: strings.TrimSpace(req.Description)}}, nil
		})
		return err
	})
}

// ACHPull returns the ACH pull made by the call with the given operation
// ID, or ParameterError if there is none. A pull the state in memory does
// not have is looked for in the store before the answer is no: it may be
// another instance's, made within the read staleness.
func (b *Connector) ACHPull(ctx context.Context, call *bank.Call, operationID string) (*bankgate.ACHPull, error) {
	var out *bankgate.ACHPull
	read := func(st *userState, now time.Time) error {
		a := st.ev().ach[operationID]
		if a == nil || operationID == "" {
			return paramError("The ACH pull was not found.")
		}
		out = &bankgate.ACHPull{Reference: a.Ref, Amount: a.Amount, Currency: bankgate.Currencies[a.Currency], Status: "succeeded"}
		return nil
	}
	err := b.withUser(ctx, call, readCached, read)
	if operationID != "" && bankgate.IsCode(err, bankgate.ParameterError) {
		err = b.withUser(ctx, call, catchUp, read)
	}
	return out, err
}

// preBeneficiaries returns the one or two beneficiaries a generated user
// had before the sandbox's history starts: people at other banks of the
// same country, active since then.
func preBeneficiaries(bi *bankInfo, user string) []bankgate.Beneficiary {
	r := seeded(bi.bank.ID, user, "beneficiaries")
	c := bi.country
	n := 1 + r.IntN(2)
	out := make([]bankgate.Beneficiary, 0, n)
	for i := range n {
		ppl := &c.Peoples[r.IntN(len(c.Peoples))]
		name := pick(r, ppl.Male)
		if r.IntN(2) == 0 {
			name = pick(r, ppl.Female)
		}
		name += " " + pick(r, ppl.Family)
		number := accountNumber(r, c.Code)
		// A bank code no sandbox bank uses, so the IBAN is no sandbox
		// user's.
		code := twoDigits(40 + r.IntN(50))
		if c.Code == "AE" {
			code = "0" + code
		}
		out = append(out, bankgate.Beneficiary{
			ID: opaqueID(bi.bank.ID, user, "beneficiary/"+strconv.Itoa(i)), Name: name,
			IBAN: accountIBAN(c.Code, code, number), AccountNumber: number, Type: "local",
			Status: bankgate.BeneficiaryApproved, Country: c.Name, Address: bankgate.LinesAddress{Line3: c.Name},
			CreatedAt: epoch, ActiveAt: epoch,
		})
	}
	return out
}
