package sandbox

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
)

// This file keeps the generator as it was before generated data was
// computed from monthly checkpoints: every month generated in full, with
// strings, and kept. It is the oracle the checkpointed generator is
// compared with (TestGeneratedMatchesReference).

// refLedger is the generated history of one user, extended month by month as
// the clock advances.
type refLedger struct {
	p *profile

	mu      sync.Mutex
	through int                      // last generated month index; -1 for none
	txs     [][]bankgate.Transaction // per book, oldest first
	bal     []bankgate.Money         // per book, after the last generated month
	stmts   [][]statement            // per card (in p.cards order), per month
}

func newRefLedger(p *profile) *refLedger {
	l := &refLedger{p: p, through: -1, txs: make([][]bankgate.Transaction, len(p.books)),
		bal: make([]bankgate.Money, len(p.books)), stmts: make([][]statement, len(p.cards))}
	for i, bk := range p.books {
		l.bal[i] = bk.opening
	}
	return l
}

// upTo makes sure every month up to now's is generated. The caller holds
// l.mu.
func (l *refLedger) upTo(now time.Time) {
	for m := l.through + 1; m <= monthIndex(now); m++ {
		l.month(m)
		l.through = m
	}
}

// balanceAt returns book i's balance at now. The caller holds l.mu and has
// called upTo(now).
func (l *refLedger) balanceAt(i int, now time.Time) bankgate.Money {
	txs := l.txs[i]
	n := refCountUpTo(txs, now)
	if n == 0 {
		return l.p.books[i].opening
	}
	return txs[n-1].AfterAmount
}

// countUpTo returns how many of txs are dated at or before t.
func refCountUpTo(txs []bankgate.Transaction, t time.Time) int {
	n, _ := slices.BinarySearchFunc(txs, t, func(tx bankgate.Transaction, t time.Time) int {
		if tx.Date.After(t) {
			return 1
		}
		return -1
	})
	return n
}

// countBefore returns how many of txs are dated strictly before t.
func refCountBefore(txs []bankgate.Transaction, t time.Time) int {
	n, _ := slices.BinarySearchFunc(txs, t, func(tx bankgate.Transaction, t time.Time) int {
		if tx.Date.Before(t) {
			return -1
		}
		return 1
	})
	return n
}

// between returns a copy of book i's transactions dated in [from, to]. The
// caller holds l.mu and has generated through to.
func (l *refLedger) between(i int, from, to time.Time) []bankgate.Transaction {
	txs := l.txs[i]
	lo, hi := refCountBefore(txs, from), refCountUpTo(txs, to)
	if lo >= hi {
		return []bankgate.Transaction{}
	}
	return slices.Clone(txs[lo:hi])
}

// refEvent is one scheduled money movement in a month.
type refEvent struct {
	at       time.Time
	kind     evKind
	disc     bool // discretionary: skipped if it would take from below its floor
	from, to int  // book indexes
	card     int  // card position for evCardPayment
	amount   bankgate.Money
	m        *merchant
	desc     string
	details  string
	category string
	// For transfers, the credit side's texts.
	toDesc, toDetails string
}

// month generates month m's transactions for every book, in date order.
func (l *refLedger) month(m int) {
	p := l.p
	if len(p.books) == 0 {
		return
	}
	bi := p.bank
	bankBrand := &bi.brand
	r := seeded(bi.bank.ID, p.user, "month", itoa(m))
	start := time.Date(epoch.Year(), epoch.Month()+time.Month(m), 1, 0, 0, 0, 0, time.UTC)
	dim := start.AddDate(0, 1, -1).Day()
	at := func(day, hour int) time.Time {
		return start.Add(time.Duration(min(day, dim)-1)*24*time.Hour + time.Duration(hour)*time.Hour +
			time.Duration(r.IntN(3600))*time.Second)
	}
	anyDay := func() int { return 1 + r.IntN(dim) }
	lvl := p.level
	evs := make([]refEvent, 0, 48)
	cur := int(p.current)

	// Salary, with a yearly raise every January.
	salary := p.salary
	for range m / 12 {
		salary = round(salary+salary*bankgate.Money(p.raiseBP)/10000, 10)
	}
	evs = append(evs, refEvent{at: at(int(p.payday), 3), kind: evCredit, to: cur, amount: salary, m: p.employer,
		desc: "Salary - " + p.employer.Name, details: "SALARY TRANSFER " + p.employer.Narrative, category: catSalary})

	if p.landlord != nil {
		evs = append(evs, refEvent{at: at(int(p.rentDay), 9), kind: evDebit, from: cur, amount: p.rent, m: p.landlord,
			desc: "Rent - " + p.landlord.Name, details: "STANDING ORDER " + p.landlord.Narrative, category: catRent})
	}

	// Utilities: power and water higher in the summer months.
	power := p.power
	if mo := start.Month(); mo >= time.June && mo <= time.September {
		power = power * 17 / 10
	}
	power = power*bankgate.Money(85+r.IntN(30))/100 + bankgate.Money(r.IntN(100))
	evs = append(evs, refEvent{at: at(8+r.IntN(5), 10), kind: evDebit, from: cur, amount: power, m: &p.city.Power,
		desc: p.city.Power.Name + " Bill Payment", details: "BILL PAYMENT " + p.city.Power.Narrative, category: catUtilities})
	evs = append(evs, refEvent{at: at(15+r.IntN(4), 11), kind: evDebit, from: cur,
		amount: p.telecomAmt + bankgate.Money(r.IntN(5000)), m: p.telecom,
		desc: p.telecom.Name + " Bill Payment", details: "BILL PAYMENT " + p.telecom.Narrative, category: catUtilities})

	// Own-account transfers right after payday.
	if p.savings >= 0 {
		s := p.book(int(p.savings))
		evs = append(evs, refEvent{at: at(int(p.payday), 12), kind: evTransfer, disc: true, from: cur, to: int(p.savings), amount: p.toSavings,
			m: bankBrand, desc: "Transfer to Savings Account", details: "OWN ACCOUNT TRANSFER TO " + s.number(),
			category: catTransfers, toDesc: "Transfer from Current Account", toDetails: "OWN ACCOUNT TRANSFER FROM " + p.book(cur).number()})
		evs = append(evs, refEvent{at: start.AddDate(0, 1, 0).Add(-time.Minute), kind: evInterest, to: int(p.savings),
			m: bankBrand, desc: "Interest Credit", details: "PROFIT / INTEREST CREDIT " + start.Format("Jan 2006"), category: catInterest})
	}
	// The surplus above a buffer of two salaries leaves the current account
	// each month, so that its balance stays realistic.
	switch to := int(max(p.savings, p.current2)); {
	case to >= 0:
		name := p.book(to).name()
		evs = append(evs, refEvent{at: at(int(p.payday), 14), kind: evSweep, from: cur, to: to, amount: 2 * salary,
			m: bankBrand, desc: "Transfer to " + name, details: "OWN ACCOUNT TRANSFER TO " + p.book(to).number(),
			category: catTransfers, toDesc: "Transfer from Current Account", toDetails: "OWN ACCOUNT TRANSFER FROM " + p.book(cur).number()})
	default:
		mc := &bi.country.Travel[r.IntN(len(bi.country.Travel))]
		evs = append(evs, refEvent{at: at(int(p.payday)+1+r.IntN(3), 8+r.IntN(14)), kind: evSweep, from: cur, to: -1, amount: 2 * salary,
			m: mc, desc: mc.Name, details: "POS PURCHASE " + mc.Narrative, category: catTravel})
	}
	if p.current2 >= 0 {
		c2 := p.book(int(p.current2))
		evs = append(evs, refEvent{at: at(int(p.payday), 13), kind: evTransfer, disc: true, from: cur, to: int(p.current2), amount: p.toCurrent2,
			m: bankBrand, desc: "Transfer to Everyday Current Account", details: "OWN ACCOUNT TRANSFER TO " + c2.number(),
			category: catTransfers, toDesc: "Transfer from Current Account", toDetails: "OWN ACCOUNT TRANSFER FROM " + p.book(cur).number()})
	}
	for ci, b := range p.cards {
		bk := p.book(int(b))
		evs = append(evs, refEvent{at: at(int(bk.payDay), 8), kind: evCardPayment, from: cur, to: int(b), card: ci,
			m: bankBrand, desc: "Credit Card Payment", details: "PAYMENT TO CARD " + bk.number(),
			category: catTransfers, toDesc: "Payment Received - Thank You", toDetails: "PAYMENT RECEIVED FROM A/C " + p.book(cur).number()})
	}

	// Purchases, paid from the current account or one of the cards.
	payer := func() int {
		if len(p.cards) > 0 && r.Float64() < p.cardShare {
			return int(p.cards[r.IntN(len(p.cards))])
		}
		return cur
	}
	buy := func(n int, ms []merchant, lo, hi float64, cat string) {
		for range n {
			mc := &ms[r.IntN(len(ms))]
			from := payer()
			evs = append(evs, refEvent{at: at(anyDay(), 8+r.IntN(14)), kind: evDebit, disc: true, from: from,
				amount: money(r, lo*lvl, hi*lvl), m: mc, desc: mc.Name,
				details: p.book(from).posPrefix() + mc.Narrative + " " + strings.ToUpper(p.city.Name), category: cat})
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
		evs = append(evs, refEvent{at: at(anyDay(), 8+r.IntN(14)), kind: evDebit, disc: true, from: cur,
			amount: bankgate.Money(2+r.IntN(14)) * 10000, m: bankBrand, desc: "ATM Withdrawal",
			details: "ATM WITHDRAWAL " + upper(bi.bank.ShortName) + " " + upper(p.area), category: catCash})
	}
	if p.current2 >= 0 {
		for range 1 + r.IntN(4) {
			ms := c.Dining
			cat := catDining
			if r.IntN(2) == 0 {
				ms, cat = c.Shopping, catShopping
			}
			mc := &ms[r.IntN(len(ms))]
			evs = append(evs, refEvent{at: at(anyDay(), 8+r.IntN(14)), kind: evDebit, disc: true, from: int(p.current2),
				amount: money(r, 20*lvl, 300*lvl), m: mc, desc: mc.Name,
				details: "POS PURCHASE " + mc.Narrative + " " + strings.ToUpper(p.city.Name), category: cat})
		}
	}

	// Card statements: what each card owed as the month started.
	for ci, b := range p.cards {
		owed := max(-l.bal[b], 0)
		var due time.Time
		for i := range evs {
			if evs[i].kind == evCardPayment && evs[i].card == ci {
				due = evs[i].at
			}
		}
		l.stmts[ci] = append(l.stmts[ci], statement{amount: owed, due: due})
	}

	slices.SortStableFunc(evs, func(a, b refEvent) int { return a.at.Compare(b.at) })

	seq := make([]int, len(p.books))
	post := func(b int, typ string, amt bankgate.Money, desc, details, cat string, mc *merchant, at time.Time) {
		before := l.bal[b]
		after := before + amt
		if typ == "debit" {
			after = before - amt
		}
		l.bal[b] = after
		seq[b]++
		bk := p.book(b)
		l.txs[b] = append(l.txs[b], bankgate.Transaction{
			Amount: amt, Date: at, Type: typ, Description: desc, Details: details, Currency: *p.currency,
			BeforeAmount: before, AfterAmount: after, Reference: reference(bk.kind, bk.refCode(), at, seq[b]),
			Category: cat, BrandName: mc.Name, BrandLogo: mc.Logo,
		})
	}
	for i := range evs {
		e := &evs[i]
		switch e.kind {
		case evDebit:
			if e.disc && l.bal[e.from]-e.amount < p.books[e.from].floor() {
				continue
			}
			post(e.from, "debit", e.amount, e.desc, e.details, e.category, e.m, e.at)
		case evCredit:
			post(e.to, "credit", e.amount, e.desc, e.details, e.category, e.m, e.at)
		case evTransfer:
			if e.disc && l.bal[e.from]-e.amount < p.books[e.from].floor() {
				continue
			}
			post(e.from, "debit", e.amount, e.desc, e.details, e.category, e.m, e.at)
			post(e.to, "credit", e.amount, e.toDesc, e.toDetails, e.category, e.m, e.at)
		case evCardPayment:
			amt := l.stmts[e.card][m].amount
			if amt <= 0 {
				continue
			}
			post(e.from, "debit", amt, e.desc, e.details, e.category, e.m, e.at)
			post(e.to, "credit", amt, e.toDesc, e.toDetails, e.category, e.m, e.at)
		case evSweep:
			// e.amount is the buffer to keep; move or spend the rest, in
			// round thousands.
			amt := round(l.bal[e.from]-e.amount, 1000)
			if amt <= 0 {
				continue
			}
			post(e.from, "debit", amt, e.desc, e.details, e.category, e.m, e.at)
			if e.to >= 0 {
				post(e.to, "credit", amt, e.toDesc, e.toDetails, e.category, e.m, e.at)
			}
		case evInterest:
			amt := l.bal[e.to] * bankgate.Money(p.books[e.to].interestBP) / 120000
			if amt <= 0 {
				continue
			}
			post(e.to, "credit", amt, e.desc, e.details, e.category, e.m, e.at)
		}
	}
}
