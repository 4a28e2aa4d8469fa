package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/bankgate/bankgate"
)

// A generated user's month is a pure function of the profile, the month's
// seed and the balances of the user's books as the month starts: its
// discretionary debits are skipped below a floor, and its sweeps, interest
// and card statements depend on the running balance. monthSim.run plays a
// month from those balances with amounts only (no strings, no allocation
// once its buffers have grown), which is how checkpoints of the balances
// are made; monthSim.transactions then builds one book's transactions from
// the same run when they are asked for.

// evKind is what a scheduled event does.
type evKind uint8

const (
	evDebit       evKind = iota // a purchase or bill paid from book from
	evCredit                    // money in to book to
	evTransfer                  // own-account transfer from -> to
	evCardPayment               // pays the card's statement from the current account
	evInterest                  // monthly savings interest
	evSweep                     // moves the current account's surplus to savings, or spends it on travel
)

// evText says how a posting's description and details are made.
type evText uint8

const (
	txtSalary   evText = iota // "Salary - employer"
	txtRent                   // "Rent - landlord"
	txtBill                   // "merchant Bill Payment"
	txtOwn                    // an own-account transfer or sweep, from -> to
	txtInterest               // "Interest Credit"
	txtTravel                 // a sweep spent on travel
	txtCardPay                // a card's statement paid from the current account
	txtPurchase               // a purchase from book from
	txtATM                    // an ATM withdrawal
)

// Transaction categories.
const (
	catSalary    = "Salary"
	catRent      = "Rent"
	catGroceries = "Groceries"
	catFuel      = "Fuel"
	catUtilities = "Utilities"
	catDining    = "Dining"
	catShopping  = "Shopping"
	catTransport = "Transport"
	catTransfers = "Transfers"
	catCash      = "Cash"
	catInterest  = "Interest"
	catTravel    = "Travel"
)

// event is one scheduled money movement in a month. Its texts are made
// from text, m and the books only when a transaction is built.
type event struct {
	at       int64 // Unix seconds
	amount   bankgate.Money
	m        *merchant
	category string
	kind     evKind
	text     evText
	disc     bool // discretionary: skipped if it would take from below its floor
	from, to int8 // book indexes; to is -1 for a sweep spent on travel
	card     int8 // card position for evCardPayment
}

// posting is one balance change of a month: one side of an event.
type posting struct {
	at     int64 // Unix seconds
	amount bankgate.Money
	after  bankgate.Money
	ev     int16 // index in monthSim.evs
	book   int8
	debit  bool
	toSide bool // the credit side of a transfer: the event's "from" texts
}

// monthSim plays generated months. It is not safe for concurrent use; get
// one from simPool.
type monthSim struct {
	pcg   rand.PCG
	r     *rand.Rand
	seed  []byte
	evs   []event  // in the order they were made
	keys  []uint64 // date order: second in the month << 16 | index in evs
	posts []posting
	start int64            // the month's first second, Unix
	owed  []bankgate.Money // per card: the statement, owed as the month started
	due   []int64          // per card: when the statement is paid, Unix seconds
}

func newMonthSim() *monthSim {
	s := &monthSim{seed: make([]byte, 0, 128), evs: make([]event, 0, 64), keys: make([]uint64, 0, 64), posts: make([]posting, 0, 80)}
	s.r = rand.New(&s.pcg)
	return s
}

var simPool = sync.Pool{New: func() any { return newMonthSim() }}

// reseed seeds s.r as seeded(bankID, user, "month", itoa(m)) would, without
// allocating.
func (s *monthSim) reseed(bankID, user string, m int) {
	b := append(s.seed[:0], bankID...)
	b = append(b, '|')
	b = append(b, user...)
	b = append(b, "|month|"...)
	b = strconv.AppendInt(b, int64(m), 10)
	s.seed = b
	sum := sha256.Sum256(b)
	s.pcg.Seed(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16]))
}

// run plays month m (0 <= m < maxMonths) of p from bal, one balance per
// book as the month starts, and leaves in bal the balances as it ends. It
// leaves the month's events in s.evs (in s.keys' order by date); the postings in
// s.posts; and each card's statement in s.owed and s.due. Its random draws
// are, one for one, those the month has always been generated with.
func (s *monthSim) run(p *profile, m int, bal []bankgate.Money) {
	s.evs, s.posts = s.evs[:0], s.posts[:0]
	s.owed, s.due = s.owed[:0], s.due[:0]
	if len(p.books) == 0 {
		return
	}
	bi := p.bank
	bankBrand := &bi.brand
	s.reseed(bi.bank.ID, p.user, m)
	r := s.r
	y, mo := epoch.Year(), epoch.Month()+time.Month(m)
	startT := time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
	start := startT.Unix()
	next := time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC).Unix()
	s.start = start
	dim := int((next - start) / 86400)
	at := func(day, hour int) int64 {
		return start + int64(min(day, dim)-1)*86400 + int64(hour)*3600 + int64(r.IntN(3600))
	}
	anyDay := func() int { return 1 + r.IntN(dim) }
	lvl := p.level
	evs := s.evs
	cur := int8(p.current)

	// Salary, with a yearly raise every January.
	salary := p.salary
	for range m / 12 {
		salary = round(salary+salary*bankgate.Money(p.raiseBP)/10000, 10)
	}
	evs = append(evs, event{at: at(int(p.payday), 3), kind: evCredit, to: cur, amount: salary, m: p.employer,
		text: txtSalary, category: catSalary})

	if p.landlord != nil {
		evs = append(evs, event{at: at(int(p.rentDay), 9), kind: evDebit, from: cur, amount: p.rent, m: p.landlord,
			text: txtRent, category: catRent})
	}

	// Utilities: power and water higher in the summer months.
	power := p.power
	if mo := startT.Month(); mo >= time.June && mo <= time.September {
		power = power * 17 / 10
	}
	power = power*bankgate.Money(85+r.IntN(30))/100 + bankgate.Money(r.IntN(100))
	evs = append(evs, event{at: at(8+r.IntN(5), 10), kind: evDebit, from: cur, amount: power, m: &p.city.Power,
		text: txtBill, category: catUtilities})
	evs = append(evs, event{at: at(15+r.IntN(4), 11), kind: evDebit, from: cur,
		amount: p.telecomAmt + bankgate.Money(r.IntN(5000)), m: p.telecom, text: txtBill, category: catUtilities})

	// Own-account transfers right after payday.
	if p.savings >= 0 {
		evs = append(evs, event{at: at(int(p.payday), 12), kind: evTransfer, disc: true, from: cur, to: int8(p.savings),
			amount: p.toSavings, m: bankBrand, text: txtOwn, category: catTransfers})
		evs = append(evs, event{at: next - 60, kind: evInterest, to: int8(p.savings),
			m: bankBrand, text: txtInterest, category: catInterest})
	}
	// The surplus above a buffer of two salaries leaves the current account
	// each month, so that its balance stays realistic.
	switch to := max(p.savings, p.current2); {
	case to >= 0:
		evs = append(evs, event{at: at(int(p.payday), 14), kind: evSweep, from: cur, to: int8(to), amount: 2 * salary,
			m: bankBrand, text: txtOwn, category: catTransfers})
	default:
		mc := &bi.country.Travel[r.IntN(len(bi.country.Travel))]
		evs = append(evs, event{at: at(int(p.payday)+1+r.IntN(3), 8+r.IntN(14)), kind: evSweep, from: cur, to: -1, amount: 2 * salary,
			m: mc, text: txtTravel, category: catTravel})
	}
	if p.current2 >= 0 {
		evs = append(evs, event{at: at(int(p.payday), 13), kind: evTransfer, disc: true, from: cur, to: int8(p.current2),
			amount: p.toCurrent2, m: bankBrand, text: txtOwn, category: catTransfers})
	}
	for ci, b := range p.cards {
		bk := &p.books[b]
		evs = append(evs, event{at: at(int(bk.payDay), 8), kind: evCardPayment, from: cur, to: int8(b), card: int8(ci),
			m: bankBrand, text: txtCardPay, category: catTransfers})
	}

	// Purchases, paid from the current account or one of the cards.
	payer := func() int8 {
		if len(p.cards) > 0 && r.Float64() < p.cardShare {
			return int8(p.cards[r.IntN(len(p.cards))])
		}
		return cur
	}
	buy := func(n int, ms []merchant, lo, hi float64, cat string) {
		for range n {
			mc := &ms[r.IntN(len(ms))]
			from := payer()
			evs = append(evs, event{at: at(anyDay(), 8+r.IntN(14)), kind: evDebit, disc: true, from: from,
				amount: money(r, lo*lvl, hi*lvl), m: mc, text: txtPurchase, category: cat})
		}
	}
	c := bi.country
	buy(4+r.IntN(5), c.Grocers, 60, 650, catGroceries)
	if p.hasCar {
		buy(2+r.IntN(3), c.Fuel, 80, 260, catFuel)
	}
	buy(3+r.IntN(7), c.Dining, 25, 320, catDining)
	buy(1+r.IntN(4), c.Shopping, 40, 1200, catShopping)
	buy(1+r.IntN(4), c.Transport, 20, 150, catTransport)
	for range r.IntN(3) {
		evs = append(evs, event{at: at(anyDay(), 8+r.IntN(14)), kind: evDebit, disc: true, from: cur,
			amount: bankgate.Money(2+r.IntN(14)) * 10000, m: bankBrand, text: txtATM, category: catCash})
	}
	if p.current2 >= 0 {
		for range 1 + r.IntN(4) {
			ms := c.Dining
			cat := catDining
			if r.IntN(2) == 0 {
				ms, cat = c.Shopping, catShopping
			}
			mc := &ms[r.IntN(len(ms))]
			evs = append(evs, event{at: at(anyDay(), 8+r.IntN(14)), kind: evDebit, disc: true, from: int8(p.current2),
				amount: money(r, 20*lvl, 300*lvl), m: mc, text: txtPurchase, category: cat})
		}
	}

	// Card statements: what each card owed as the month started.
	for ci, b := range p.cards {
		var due int64
		for i := range evs {
			if evs[i].kind == evCardPayment && int(evs[i].card) == ci {
				due = evs[i].at
			}
		}
		s.owed = append(s.owed, max(-bal[b], 0))
		s.due = append(s.due, due)
	}

	// Date order, events on the same second in the order they were made:
	// sort keys of the second in the month and the event's index.
	keys := s.keys[:0]
	for i := range evs {
		keys = append(keys, uint64(evs[i].at-start)<<16|uint64(i))
	}
	slices.Sort(keys)
	s.evs, s.keys = evs, keys

	posts := s.posts
	post := func(ev int, b int8, debit, toSide bool, amt bankgate.Money) {
		after := bal[b] + amt
		if debit {
			after = bal[b] - amt
		}
		bal[b] = after
		posts = append(posts, posting{at: evs[ev].at, amount: amt, after: after, ev: int16(ev), book: b, debit: debit, toSide: toSide})
	}
	for _, k := range keys {
		i := int(k & 0xffff)
		e := &evs[i]
		switch e.kind {
		case evDebit:
			if e.disc && bal[e.from]-e.amount < p.books[e.from].floor() {
				continue
			}
			post(i, e.from, true, false, e.amount)
		case evCredit:
			post(i, e.to, false, false, e.amount)
		case evTransfer:
			if e.disc && bal[e.from]-e.amount < p.books[e.from].floor() {
				continue
			}
			post(i, e.from, true, false, e.amount)
			post(i, e.to, false, true, e.amount)
		case evCardPayment:
			amt := s.owed[e.card]
			if amt <= 0 {
				continue
			}
			post(i, e.from, true, false, amt)
			post(i, e.to, false, true, amt)
		case evSweep:
			// e.amount is the buffer to keep; move or spend the rest, in
			// round thousands.
			amt := round(bal[e.from]-e.amount, 1000)
			if amt <= 0 {
				continue
			}
			post(i, e.from, true, false, amt)
			if e.to >= 0 {
				post(i, e.to, false, true, amt)
			}
		case evInterest:
			amt := bal[e.to] * bankgate.Money(p.books[e.to].interestBP) / 120000
			if amt <= 0 {
				continue
			}
			post(i, e.to, false, false, amt)
		}
	}
	s.posts = posts
}

// transactions appends to out the transactions of book b that the last run
// posted dated in [from, to] (Unix seconds), texts and references included,
// as the month has always generated them. Their strings share one
// allocation.
func (s *monthSim) transactions(p *profile, b int, from, to int64, out []bankgate.Transaction) []bankgate.Transaction {
	bk := p.book(b)
	n := 0
	for i := range s.posts {
		if ps := &s.posts[i]; int(ps.book) == b && ps.at >= from && ps.at <= to {
			n++
		}
	}
	if n == 0 {
		return out
	}
	out = slices.Grow(out, n)
	// Every string is built at the end of buf, and no byte of buf is
	// written twice (a growth copies it elsewhere), so the strings made of
	// it never change.
	buf := make([]byte, 0, n*80)
	str := func(parts ...string) string {
		k := len(buf)
		for _, x := range parts {
			buf = append(buf, x...)
		}
		if k == len(buf) {
			return ""
		}
		return unsafe.String(&buf[k], len(buf)-k)
	}
	seq := 0
	var month string
	for i := range s.posts {
		ps := &s.posts[i]
		if int(ps.book) != b {
			continue
		}
		seq++
		if ps.at < from || ps.at > to {
			continue
		}
		e := &s.evs[ps.ev]
		typ, before := "credit", ps.after-ps.amount
		if ps.debit {
			typ, before = "debit", ps.after+ps.amount
		}
		var desc, details string
		switch e.text {
		case txtSalary:
			desc, details = str("Salary - ", e.m.Name), str("SALARY TRANSFER ", e.m.Narrative)
		case txtRent:
			desc, details = str("Rent - ", e.m.Name), str("STANDING ORDER ", e.m.Narrative)
		case txtBill:
			desc, details = str(e.m.Name, " Bill Payment"), str("BILL PAYMENT ", e.m.Narrative)
		case txtOwn:
			if ps.toSide {
				desc, details = "Transfer from Current Account", str("OWN ACCOUNT TRANSFER FROM ", p.book(int(e.from)).number())
			} else {
				desc, details = str("Transfer to ", p.book(int(e.to)).name()), str("OWN ACCOUNT TRANSFER TO ", p.book(int(e.to)).number())
			}
		case txtInterest:
			if month == "" {
				month = time.Unix(s.start, 0).UTC().Format("Jan 2006")
			}
			desc, details = "Interest Credit", str("PROFIT / INTEREST CREDIT ", month)
		case txtTravel:
			desc, details = e.m.Name, str("POS PURCHASE ", e.m.Narrative)
		case txtCardPay:
			if ps.toSide {
				desc, details = "Payment Received - Thank You", str("PAYMENT RECEIVED FROM A/C ", p.book(int(e.from)).number())
			} else {
				desc, details = "Credit Card Payment", str("PAYMENT TO CARD ", p.book(int(e.to)).number())
			}
		case txtPurchase:
			k := len(buf)
			if bk := p.book(int(e.from)); bk.kind == kindCard {
				buf = append(append(append(buf, "CARD ENDING "...), bk.last4()...), ' ')
			} else {
				buf = append(buf, "POS PURCHASE "...)
			}
			buf = appendUpper(append(append(buf, e.m.Narrative...), ' '), p.city.Name)
			desc, details = e.m.Name, unsafe.String(&buf[k], len(buf)-k)
		case txtATM:
			desc, details = "ATM Withdrawal", str("ATM WITHDRAWAL ", upper(p.bank.bank.ShortName), " ", upper(p.area))
		}
		at := time.Unix(ps.at, 0).UTC()
		k := len(buf)
		buf = appendReference(buf, bk.kind, bk.refCode(), at, seq)
		ref := unsafe.String(&buf[k], len(buf)-k)
		out = append(out, bankgate.Transaction{
			Amount: ps.amount, Date: at, Type: typ, Description: desc, Details: details, Currency: *p.currency,
			BeforeAmount: before, AfterAmount: ps.after, Reference: ref,
			Category: e.category, BrandName: e.m.Name, BrandLogo: e.m.Logo,
		})
	}
	return out
}
