package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/bankgate/bankgate"
)

// bookKind is the kind of a ledger a generated user holds.
type bookKind uint8

const (
	kindCurrent  bookKind = iota // the main current account, where salary lands
	kindSavings                  // a savings account fed monthly from the current account
	kindCurrent2                 // a second, lightly used current account
	kindCard                     // a credit card, paid in full monthly from the current account
)

// book is one ledger of a user: an account or a card. Every cached
// generated user holds a few, so it is kept small and holds no pointer
// to the user's other objects: its strings are packed into its
// profile's strs (at off, read through the profile's bookView: id, name,
// number, iban, refCode and expiry), its currency is shared, and what
// can be derived (floor, posPrefix, last4) is. The collector then finds
// nothing to follow in a user's books but the shared currencies: at
// 100,000 cached users each pointer to a user's own object costs it a
// span lookup that misses the CPU's caches.
type book struct {
	cur *bankgate.Currency

	opening bankgate.Money
	limit   bankgate.Money // cards: the credit limit

	off        uint32    // where the book's strings start in its profile's strs
	end        [6]uint16 // where id, name, number, iban, refCode and expiry end, from off
	interestBP int32     // savings: annual interest in basis points
	payDay     int8      // cards: day of the month the statement balance is paid
	kind       bookKind
}

// bookStrings are a book's strings before they are packed.
type bookStrings struct {
	id, name, number, iban, refCode, expiry string
}

// len returns the bytes x takes packed.
func (x *bookStrings) len() int {
	return len(x.id) + len(x.name) + len(x.number) + len(x.iban) + len(x.refCode) + len(x.expiry)
}

// maxBookStrings bounds the bytes of one book's strings (its ends are
// uint16); fixtures bound them far below that.
const maxBookStrings = 1<<16 - 1

// packStrings appends x to arena, sets bk's offset and ends to where
// they went, and returns arena. It panics when x is longer than
// maxBookStrings or the arena would pass 4 GiB, which no fixture or
// generated user comes near.
func (bk *book) packStrings(arena []byte, x bookStrings) []byte {
	if x.len() > maxBookStrings || uint64(len(arena))+uint64(x.len()) > 1<<32-1 {
		panic("sandbox: a book's strings are too long")
	}
	start := len(arena)
	bk.off = uint32(start)
	parts := [...]string{x.id, x.name, x.number, x.iban, x.refCode, x.expiry}
	for i, s := range parts {
		arena = append(arena, s...)
		bk.end[i] = uint16(len(arena) - start)
	}
	return arena
}

// bookView is a book with its strings, as a profile's book returns it.
type bookView struct {
	*book
	s string // the book's packed strings
}

// book returns book i of p with its strings.
func (p *profile) book(i int) bookView {
	bk := &p.books[i]
	return bookView{bk, p.strs[bk.off : bk.off+uint32(bk.end[5])]}
}

func (v bookView) id() string      { return v.s[:v.end[0]] }
func (v bookView) name() string    { return v.s[v.end[0]:v.end[1]] }
func (v bookView) number() string  { return v.s[v.end[1]:v.end[2]] }
func (v bookView) iban() string    { return v.s[v.end[2]:v.end[3]] } // empty for cards
func (v bookView) refCode() string { return v.s[v.end[3]:v.end[4]] } // 6 characters of the ID, for references
func (v bookView) expiry() string  { return v.s[v.end[4]:v.end[5]] } // cards: MM/YY

// currencyOf returns the shared Currency of a code bankgate knows, or a
// new one with only the code.
func currencyOf(code string) *bankgate.Currency {
	if c, ok := currencies[code]; ok {
		return c
	}
	return &bankgate.Currency{Code: code}
}

var currencies = func() map[string]*bankgate.Currency {
	m := make(map[string]*bankgate.Currency, len(bankgate.Currencies))
	for k, v := range bankgate.Currencies {
		m[k] = &v
	}
	return m
}()

// floor returns the balance below which discretionary debits are skipped,
// which keeps current accounts positive and cards within their limit.
func (bk *book) floor() bankgate.Money {
	if bk.kind == kindCard {
		return -bk.limit
	}
	return 0
}

// last4 returns a card's last four digits.
func (bk bookView) last4() string { n := bk.number(); return n[len(n)-4:] }

// posPrefix returns what starts the Details of a purchase paid from bk.
func (bk bookView) posPrefix() string {
	switch bk.kind {
	case kindCard:
		return "CARD ENDING " + bk.last4() + " "
	case kindCurrent, kindCurrent2:
		return "POS PURCHASE "
	}
	return ""
}

// accountRef is one entry of the user's account list.
type accountRef struct {
	name string // a constant for a generated user
	// A card's credit account has an ID of its own, at idOff in the
	// profile's strs (idLen bytes); every other account's ID is its
	// book's (idLen 0). Read it through profile.accountID.
	idOff uint32
	idLen uint8
	book  int8
	fav   bool
	kind  uint8 // its type: an index into accountTypes
}

// accountID returns the ID of account i.
func (p *profile) accountID(i int) string {
	if a := &p.accounts[i]; a.idLen > 0 {
		return p.strs[a.idOff : a.idOff+uint32(a.idLen)]
	}
	return p.book(int(p.accounts[i].book)).id()
}

// packStrings sets p.strs to the strings of p's books (one per book, in
// order), if creditID is not empty the ID of p's credit account, and if
// user the username (p.user then points into it), in one allocation.
func (p *profile) packStrings(strs []bookStrings, creditID string, user bool) {
	n := len(creditID)
	if user {
		n += len(p.user)
	}
	for i := range strs {
		n += strs[i].len()
	}
	arena := make([]byte, 0, n)
	for i := range strs {
		arena = p.books[i].packStrings(arena, strs[i])
	}
	if creditID != "" {
		for i := range p.accounts {
			if a := &p.accounts[i]; a.kind == typeCredit {
				a.idOff, a.idLen = uint32(len(arena)), uint8(len(creditID))
				arena = append(arena, creditID...)
			}
		}
	}
	var userAt int
	if user {
		userAt = len(arena)
		arena = append(arena, p.user...)
	}
	if len(arena) > 0 {
		p.strs = unsafe.String(&arena[0], len(arena))
	}
	if user {
		p.user = p.strs[userAt:]
	}
}

// typ is the account's type, one of accountTypes.
func (a *accountRef) typ() string { return accountTypes[a.kind] }

// Indexes into accountTypes of the types generated accounts have.
const (
	typeCurrent uint8 = 0
	typeSavings uint8 = 1
	typeCredit  uint8 = 3
)

// profile is everything about a user that does not change with time:
// identity, accounts, cards and, for a generated user, monthly habits. A
// generated user's is a pure function of the bank and the username. A
// cache entry holds one per generated user, so the identity, which few
// calls read, is made again when asked (ident) instead of kept.
type profile struct {
	bank     *bankInfo
	user     string
	currency *bankgate.Currency
	fixed    *bankgate.Identity // a fixture's identity; nil for a generated user
	city     *city
	area     string // the identity's address area, which ATM withdrawals name

	books    []book
	accounts []accountRef
	cards    []int8 // indexes into books, in card order
	// strs are the books' strings, the credit account's ID and, for a
	// generated user, the username (user points into it), packed (see
	// book and accountRef): one allocation, the one pointer a user's
	// books and accounts need.
	strs string

	employer   *merchant
	salary     bankgate.Money // in the first year
	landlord   *merchant
	rent       bankgate.Money
	telecom    *merchant
	telecomAmt bankgate.Money
	power      bankgate.Money // average monthly bill
	toSavings  bankgate.Money
	toCurrent2 bankgate.Money
	cardShare  float64 // share of purchases paid by card, when there are cards
	level      float64 // spending level relative to a 15,000 salary

	// Small numbers last, packed: every cached user holds a profile.
	raiseBP  int32 // yearly raise in basis points
	current  int8  // index of the main current account, -1 for none
	savings  int8  // -1 for none
	current2 int8  // -1 for none
	payday   int8
	rentDay  int8
	hasCar   bool
}

// ident returns the user's identity: a fixture's, or the generated one,
// made again from the seed (the first draws a profile is made with).
func (p *profile) ident() bankgate.Identity {
	if p.fixed != nil {
		return *p.fixed
	}
	id, _ := newIdentity(seeded(p.bank.bank.ID, p.user), p.bank.country)
	return id
}

// seeded returns a PCG generator seeded with the SHA-256 of the parts joined
// with "|".
func seeded(parts ...string) *rand.Rand {
	sum := sha256.Sum256([]byte(strings.Join(parts, "|")))
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])))
}

// opaqueID returns a stable, opaque identifier for a user's account or card.
func opaqueID(bankID, user, label string) string {
	sum := sha256.Sum256([]byte("bankgate-sandbox|" + bankID + "|" + user + "|" + label))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// digits returns n random decimal digits.
func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// money returns a random amount between lo and hi currency units, with
// fils or halalas.
func money(r *rand.Rand, lo, hi float64) bankgate.Money {
	l, h := int64(lo*100), int64(hi*100)
	if h <= l {
		return bankgate.Money(l)
	}
	return bankgate.Money(l + r.Int64N(h-l))
}

// round returns m rounded down to a multiple of unit currency units.
func round(m bankgate.Money, unit int64) bankgate.Money {
	u := bankgate.Money(unit * 100)
	return m / u * u
}

// luhnDigit returns the Luhn check digit of the decimal string s.
func luhnDigit(s string) byte {
	sum := 0
	double := true
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// Well-known sandbox usernames. Every other username with PasswordGood logs
// in without MFA and gets generated data too.
const (
	UserGood        = "user_good"         // logs in without MFA; has savings, a credit card account and two cards
	UserMFA         = "user_mfa"          // asks for a one-time password (AnswerOTP)
	UserMultiMFA    = "user_multi_mfa"    // asks a secret question (AnswerSecretQuestion) and a PIN (AnswerPIN) at once
	UserTransferMFA = "user_transfer_mfa" // logs in without MFA; every payment and new beneficiary asks for AnswerOTP
	UserEmpty       = "user_empty"        // logs in without MFA; has no accounts and no cards
	UserDataMFA     = "user_data_mfa"     // logs in without MFA; Accounts and Transactions ask for AnswerOTP on every call

	PasswordGood         = "pass_good"
	AnswerOTP            = "123456"
	AnswerSecretQuestion = "sandbox"
	AnswerPIN            = "1234"
)

// refYear is the year ages are computed against, so that identities do not
// change as time passes.
const refYear = 2024

// maxAccounts bounds the account list of a generated user: a current
// account, savings, a second current account and a credit card account.
const maxAccounts = 4

// generated is a generated user's ledger handle and profile in one
// allocation, with room for the most accounts and cards a generated user
// has; its books are one more allocation and all of their strings one
// more (pointer-free). The cache holds these per user it keeps, and the
// garbage collector's work grows with the objects it marks, much more so
// past 512 bytes: Go's collector scans objects up to 512 bytes a span at
// a time and larger ones one by one, about five times slower each (a
// forced collection over 100,000 users: 19.5 ms for 864-byte objects,
// 3.6 ms for 512-byte ones). Both stay under that size (480 and 320
// bytes); TestGeneratedObjectSizes checks it.
type generated struct {
	l        ledger
	p        profile
	accounts [maxAccounts]accountRef
	cards    [2]int8
}

// maxScanObject is the largest object Go's collector scans with its span
// at once.
const maxScanObject = 512

// generate makes the profile of user at bank bi in a new generated whose
// ledger handle is left for the caller to fill in.
func generate(bi *bankInfo, user string) *generated {
	r := seeded(bi.bank.ID, user)
	c := bi.country
	g := &generated{p: profile{bank: bi, user: user, currency: currencyOf(c.Currency), current: -1, savings: -1, current2: -1}}
	p := &g.p
	var id bankgate.Identity
	id, p.city = newIdentity(r, c)
	p.area = id.Address.Area

	// Habits. Every draw happens whatever the branches, so that adding a
	// fixture override never shifts the rest of the data.
	switch x := r.IntN(10); {
	case x < 4:
		p.salary = money(r, 8000, 15000)
	case x < 8:
		p.salary = money(r, 15000, 30000)
	default:
		p.salary = money(r, 30000, 60000)
	}
	p.salary = round(p.salary, 100)
	p.level = min(max(float64(p.salary)/1_200_000, 0.7), 3.5)
	p.raiseBP = int32(r.Int64N(500))
	p.employer = &c.Employers[r.IntN(len(c.Employers))]
	p.payday = int8(24 + r.IntN(5))
	hasRent := r.IntN(10) < 8
	p.landlord = &c.Landlords[r.IntN(len(c.Landlords))]
	p.rent = round(p.salary*bankgate.Money(20+r.IntN(12))/100, 50)
	p.rentDay = int8(1 + r.IntN(5))
	if !hasRent {
		p.landlord = nil
	}
	p.telecom = &c.Telecom[r.IntN(len(c.Telecom))]
	p.telecomAmt = money(r, 150, 550)
	p.power = money(r, 250, 900)
	p.hasCar = r.IntN(10) < 7
	p.toSavings = round(p.salary*bankgate.Money(8+r.IntN(10))/100, 100)
	p.toCurrent2 = round(p.salary*bankgate.Money(3+r.IntN(5))/100, 50)
	p.cardShare = 0.3 + r.Float64()*0.3

	hasSavings := r.IntN(100) < 80
	nCards := 0
	switch x := r.IntN(100); {
	case x < 35:
	case x < 80:
		nCards = 1
	default:
		nCards = 2
	}
	hasCredit := r.IntN(2) == 0
	hasCurrent2 := r.IntN(4) == 0
	switch user {
	case UserGood:
		hasSavings, nCards, hasCredit, hasCurrent2 = true, 2, true, false
	case UserEmpty:
		hasSavings, nCards, hasCredit, hasCurrent2 = false, 0, false, false
	}
	if nCards == 0 {
		hasCredit = false
	}
	if !hasSavings && !hasCredit && !hasCurrent2 {
		hasSavings = true
	}

	// Accounts and cards. Their numbers are drawn whether or not the user
	// has them, for the same reason as above.
	numbers := make([]string, 3)
	for i := range numbers {
		numbers[i] = accountNumber(r, c.Code)
	}
	type cardDraw struct {
		last4, expiry, name string
		limit               bankgate.Money
		payDay              int
	}
	cards := make([]cardDraw, 2)
	for i := range cards {
		cards[i] = cardDraw{
			last4:  digits(r, 4),
			expiry: twoDigits(1+r.IntN(12)) + "/" + twoDigits(27+r.IntN(4)),
			name:   bi.cardNames[(r.IntN(len(bi.cardNames))+i)%len(bi.cardNames)],
			limit:  round(p.salary*bankgate.Money(2+r.IntN(3)), 1000),
			payDay: 10 + r.IntN(14),
		}
	}
	interest := 100 + r.Int64N(300)
	current2Opening := money(r, 500, 8000)
	currentOpening := p.salary/2 + money(r, 0, float64(p.salary)/100)
	savingsOpening := money(r, 2000, 150000)
	if user == UserEmpty {
		return g
	}

	nBooks, nAccounts := 1+nCards, 1
	for _, has := range []bool{hasSavings, hasCurrent2} {
		if has {
			nBooks, nAccounts = nBooks+1, nAccounts+1
		}
	}
	if hasCredit {
		nAccounts++
	}
	p.books = make([]book, 0, nBooks)
	p.accounts = g.accounts[:0:nAccounts]
	p.cards = g.cards[:0:nCards]
	// The books' strings, packed into one allocation at the end.
	var strs [maxBooks]bookStrings
	addAccount := func(kind bookKind, label, bookName, number string, opening bankgate.Money, name string, typ uint8, fav bool) *book {
		id := opaqueID(bi.bank.ID, user, label)
		strs[len(p.books)] = bookStrings{id: id, name: bookName, number: number, iban: accountIBAN(c.Code, bi.ibanCode, number), refCode: refCode(id)}
		p.books = append(p.books, book{kind: kind, opening: opening, cur: p.currency})
		p.accounts = append(p.accounts, accountRef{name: name, kind: typ, book: int8(len(p.books) - 1), fav: fav})
		return &p.books[len(p.books)-1]
	}
	p.current = 0
	addAccount(kindCurrent, "account/current", "", numbers[0], currentOpening, "Current Account", typeCurrent, true)
	if hasSavings {
		p.savings = int8(len(p.books))
		bk := addAccount(kindSavings, "account/savings", "Savings Account", numbers[1], savingsOpening, "Savings Account", typeSavings, false)
		bk.interestBP = int32(interest)
	}
	if hasCurrent2 {
		p.current2 = int8(len(p.books))
		addAccount(kindCurrent2, "account/current2", "Everyday Current Account", numbers[2], current2Opening, "Everyday Current Account", typeCurrent, false)
	}
	for i := range nCards {
		d := cards[i]
		scheme := "4"
		if strings.Contains(d.name, "Mastercard") {
			scheme = "5"
		}
		id := opaqueID(bi.bank.ID, user, "card/"+strconv.Itoa(i))
		strs[len(p.books)] = bookStrings{id: id, name: d.name, number: scheme + "XXX XXXX XXXX " + d.last4, refCode: refCode(id), expiry: d.expiry}
		p.cards = append(p.cards, int8(len(p.books)))
		p.books = append(p.books, book{kind: kindCard, limit: max(d.limit, 500000), payDay: int8(d.payDay), cur: p.currency})
	}
	var creditID string
	if hasCredit {
		creditID = opaqueID(bi.bank.ID, user, "account/credit")
		p.accounts = append(p.accounts, accountRef{name: "Credit Card", kind: typeCredit, book: p.cards[0]})
	}
	// One allocation for every book's strings and the credit account's ID.
	p.packStrings(strs[:len(p.books)], creditID, true)
	return g
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10%10), byte('0' + n%10)})
}

// refCode derives the 6 upper-case characters a book puts in its
// transaction references.
func refCode(id string) string {
	sum := sha256.Sum256([]byte(id))
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = alphabet[sum[i]%32]
	}
	return string(b)
}

// accountNumber returns a random account number as the country's banks
// print it: 13 digits in AE, 14 in SA.
func accountNumber(r *rand.Rand, country string) string {
	if country == "SA" {
		return "6" + digits(r, 13)
	}
	return "1" + digits(r, 12)
}

// accountIBAN returns the IBAN of an account number at the bank with the
// given IBAN bank code: AE = 3-digit bank code + 16-digit account number,
// SA = 2-digit bank code + 18-character account number, both zero-padded.
func accountIBAN(country, bankCode, number string) string {
	width := 16
	if country == "SA" {
		width = 18
	}
	return makeIBAN(country, bankCode+strings.Repeat("0", width-len(number))+number)
}

// newIdentity generates an identity living in country c.
func newIdentity(r *rand.Rand, c *country) (bankgate.Identity, *city) {
	total := 0
	for _, p := range c.Peoples {
		total += p.Weight
	}
	w := r.IntN(total)
	ppl := &c.Peoples[0]
	for i := range c.Peoples {
		if w < c.Peoples[i].Weight {
			ppl = &c.Peoples[i]
			break
		}
		w -= c.Peoples[i].Weight
	}
	female := r.IntN(100) < 40
	first := pick(r, ppl.Male)
	if female {
		first = pick(r, ppl.Female)
	}
	father := pick(r, ppl.Male)
	family := pick(r, ppl.Family)
	name := first + " " + family
	if ppl.Arabic {
		name = first + " " + father + " " + family
	}
	national := ppl.Nationality == c.Name

	year := refYear - 22 - r.IntN(38)
	month, day := 1+r.IntN(12), 1+r.IntN(28)
	dob := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)

	domain := pick(r, []string{"example.com", "example.net", "example.org"})
	email := emailPart(first) + "." + emailPart(family)
	if r.IntN(2) == 0 {
		email += twoDigits(r.IntN(100))
	}
	email += "@" + domain

	mobile := c.Dial + pick(r, c.MobilePrefixes) + digits(r, 7)

	ct := &c.Cities[r.IntN(len(c.Cities))]
	area := pick(r, ct.Areas)
	building := pick(r, ct.Buildings)
	flat := strconv.Itoa(1+r.IntN(30)) + twoDigits(1+r.IntN(20))
	addr := bankgate.Address{Flat: flat, Building: building, Area: area, City: ct.Name, State: ct.State, Country: c.Name}
	countryTitle := titleCase(c.Name)
	if c.Code == "SA" {
		addr.ZipCode = ct.Zip + digits(r, 3)
		addr.Full = "Building " + building + ", Unit " + flat + ", " + area + " District, " + ct.Name + " " + addr.ZipCode + ", " + countryTitle
	} else {
		addr.PoBox = strconv.Itoa(1000 + r.IntN(499000))
		addr.Full = "Flat " + flat + ", " + building + ", " + area + ", " + ct.Name + ", " + countryTitle
	}

	var ids []bankgate.Identification
	body := digits(r, 7)
	switch c.Code {
	case "AE":
		// Emirates ID: 784-YYYY-NNNNNNN-C, YYYY the year of birth, C a
		// Luhn check digit over the first 14 digits.
		payload := "784" + strconv.Itoa(year) + body
		ids = append(ids, bankgate.Identification{Type: "national_id",
			Value: "784-" + strconv.Itoa(year) + "-" + body + "-" + string(luhnDigit(payload))})
	case "SA":
		// Saudi national ID (1...) or resident iqama (2...): 10 digits, the
		// last a Luhn check digit.
		lead := "2"
		if national {
			lead = "1"
		}
		payload := lead + body + digits(r, 1)
		ids = append(ids, bankgate.Identification{Type: "national_id", Value: payload + string(luhnDigit(payload))})
	}
	passport := string(rune('A'+r.IntN(26))) + digits(r, 7)
	if ppl.Nationality == "UNITED KINGDOM" {
		passport = digits(r, 9)
	}
	ids = append(ids, bankgate.Identification{Type: "passport", Value: passport})
	visaYear := strconv.Itoa(2019 + r.IntN(5))
	visa := digits(r, 7)
	if c.Code == "AE" && !national {
		emirate := map[string]string{"Dubai": "201", "Abu Dhabi": "101", "Sharjah": "301"}[ct.Name]
		ids = append(ids, bankgate.Identification{Type: "visa_number", Value: emirate + "/" + visaYear + "/" + visa})
	}

	return bankgate.Identity{
		Name:            name,
		Nationality:     ppl.Nationality,
		DateOfBirth:     dob,
		EmailAddress:    email,
		Numbers:         []bankgate.PhoneNumber{{Type: "mobile", Value: mobile}},
		Address:         addr,
		Identifications: ids,
	}, ct
}

// emailPart lower-cases s and keeps only its letters.
func emailPart(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}

// titleCase turns "UNITED ARAB EMIRATES" into "United Arab Emirates".
func titleCase(s string) string {
	words := strings.Fields(strings.ToLower(s))
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// size estimates the bytes p takes, strings shared with the country
// tables excluded, for the cache of generated data.
func (p *profile) size() int {
	n := len(p.strs)
	if len(p.user) > len(p.strs) || unsafe.StringData(p.user) != unsafe.StringData(p.strs[len(p.strs)-len(p.user):]) {
		n += len(p.user) // not packed with the strings
	}
	if p.fixed == nil {
		n += int(unsafe.Sizeof(generated{})) + cap(p.books)*int(unsafe.Sizeof(book{})) // the ledger handle, profile, accounts and cards; the books
	} else {
		n += int(unsafe.Sizeof(*p)) + cap(p.books)*int(unsafe.Sizeof(book{})) + cap(p.accounts)*int(unsafe.Sizeof(accountRef{})) + cap(p.cards)
	}
	if p.fixed != nil {
		n += int(unsafe.Sizeof(*p.fixed)) // fixtures are not in the cache; a rough count will do
	}
	return n
}
