package bankgate

import (
	"strconv"
	"time"
)

// Money is an amount in hundredths of the currency unit (fils, halalas,
// cents). Every currency bankgate serves has two decimals.
type Money int64

// Float returns the amount in currency units, as the wire wants it.
func (m Money) Float() float64 { return float64(m) / 100 }

// String formats the amount with two decimals.
func (m Money) String() string {
	neg := m < 0
	if neg {
		m = -m
	}
	s := strconv.FormatInt(int64(m/100), 10) + "." + strconv.FormatInt(int64(m%100)/10, 10) + strconv.FormatInt(int64(m%10), 10)
	if neg {
		return "-" + s
	}
	return s
}

// Currency is an ISO 4217 code with its name as Dapi spells it.
type Currency struct {
	Code string
	Name string
}

// Currencies bankgate knows, keyed by code.
var Currencies = map[string]Currency{
	"AED": {"AED", "UNITED ARAB EMIRATES DIRHAM"},
	"SAR": {"SAR", "SAUDI RIYAL"},
	"USD": {"USD", "US DOLLAR"},
	"EGP": {"EGP", "EGYPTIAN POUND"},
	"KWD": {"KWD", "KUWAITI DINAR"},
	"BHD": {"BHD", "BAHRAINI DINAR"},
	"QAR": {"QAR", "QATARI RIYAL"},
	"OMR": {"OMR", "OMANI RIAL"},
	"JOD": {"JOD", "JORDANIAN DINAR"},
	"GBP": {"GBP", "POUND STERLING"},
	"EUR": {"EUR", "EURO"},
}

// Bank is a bank a connector serves.
type Bank struct {
	ID             string
	Name           string
	ShortName      string
	Country        string // ISO 3166-1 alpha-2
	CountryName    string
	SwiftCode      string
	PrimaryColor   string
	SecondaryColor string
	Logo           string // URL or data URI; may be empty
	Sandbox        bool
}

// UserInput is one MFA prompt (or its answer, when Answer is set).
type UserInput struct {
	ID        string // otp, secret_question, captcha, pin, confirmation, token, multiple_choice
	Index     int
	Query     string
	QueryType string // txt | img
	Answer    string
	Choices   []InputChoice
}

// InputChoice is one option of a multiple_choice input.
type InputChoice struct {
	Index   int
	Type    string // txt | img
	Content string
}

// Identity is the account holder's identity as the bank reports it.
type Identity struct {
	Name            string
	Nationality     string
	DateOfBirth     string // YYYY-MM-DD
	EmailAddress    string
	Numbers         []PhoneNumber
	Address         Address
	Identifications []Identification
}

// PhoneNumber is one phone number of an identity.
type PhoneNumber struct {
	Type  string // mobile | home | office | fax
	Value string
}

// Address is a postal address.
type Address struct {
	Flat, Building, Full, Area, PoBox, City, State, Country, ZipCode string
}

// Identification is an identity document.
type Identification struct {
	Type  string // passport | national_id | visa_number
	Value string
}

// Account is a bank account.
type Account struct {
	ID          string
	Name        string
	Type        string // current | savings | loan | credit | deposit | other
	IBAN        string
	Number      string
	Currency    Currency
	IsFavourite bool
	Balance     Money
}

// Transaction is one posted account or card transaction. BeforeAmount and
// AfterAmount are the running balance around it.
type Transaction struct {
	Amount       Money // always positive; Type says the direction
	Date         time.Time
	Type         string // credit | debit
	Description  string
	Details      string
	Currency     Currency
	BeforeAmount Money
	AfterAmount  Money
	Reference    string
	Category     string
	BrandName    string
	BrandLogo    string
}

// Card is a payment card.
type Card struct {
	ID          string
	Name        string
	CardNumber  string // masked
	CreditLimit Money
	Currency    Currency
	Type        string // credit
	ExpiryDate  string
	Status      string // active | disabled | blocked
	Balance     CardBalance
}

// CardBalance is a card's balance.
type CardBalance struct {
	CardNumber         string
	AvailableBalance   Money
	OutstandingBalance Money
	AmountDue          Money
	DueDate            string
	Currency           Currency
}

// Period is a duration as Dapi writes it, e.g. {24 "hrs"} or {365 "days"}.
type Period struct {
	Value int
	Unit  string
}
