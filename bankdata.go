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
	// Redirect: the user logs in at the bank, by redirect (an open-banking
	// consent), not with a username and password given to bankgate.
	Redirect bool
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

// Beneficiary statuses.
const (
	BeneficiaryApproved = "approved"
	BeneficiaryWaiting  = "waiting_for_confirmation"
)

// Beneficiary is a payee registered at the user's bank for local, same-bank
// or international transfers.
type Beneficiary struct {
	ID            string
	Name          string
	Nickname      string
	IBAN          string
	AccountNumber string
	SwiftCode     string
	Type          string // same | local | intl | own
	Status        string
	Address       LinesAddress
	Country       string
	BranchAddress string
	BranchName    string
	BankName      string
	PhoneNumber   string
	SortCode      string
	RoutingNumber string
	CreatedAt     time.Time
	// ActiveAt is when the beneficiary's cool-down ends and it can receive
	// transfers.
	ActiveAt time.Time
}

// LinesAddress is a beneficiary address in three lines (street, city,
// country).
type LinesAddress struct {
	Line1, Line2, Line3 string
}

// WireBeneficiary is a US wire-transfer payee.
type WireBeneficiary struct {
	ID                  string
	Name                string
	Nickname            string
	FirstName           string
	LastName            string
	AccountNumber       string
	RoutingNumber       string
	BankName            string
	Type                string // same | local | intl
	Status              string
	ReceiverType        string // retail | corporate
	ReceiverAccountType string // checking | savings
	Address             LinesAddress
	Country             string
	City                string
	State               string
	ZipCode             string
	BranchAddress       string
	BranchName          string
	SortCode            string
	CreatedAt           time.Time
	ActiveAt            time.Time
}

// TransferRequest is a payment from one of the user's accounts. Either
// ReceiverID names an existing beneficiary, or Beneficiary describes one
// (autoflow: created first if it does not exist).
type TransferRequest struct {
	SenderID    string
	Amount      Money
	ReceiverID  string
	Beneficiary *Beneficiary
	Wire        *WireBeneficiary
	Remark      string
	// Name, IBAN and AccountNumber identify the receiver when the caller
	// gives them instead of ReceiverID (transfer/create variant).
	Name          string
	IBAN          string
	AccountNumber string
	Nickname      string
	// BankID is the autoflow body's bankID, informational.
	BankID string
}

// TransferResult is an accepted transfer.
type TransferResult struct {
	Reference string
	Amount    Money
	Currency  Currency
	// CoolDown is set when the transfer could not be made because the
	// beneficiary is new; see BeneficiaryCoolDown.
	CoolDown *Period
}

// ACHPullRequest asks to pull money from the user's account.
type ACHPullRequest struct {
	SenderID    string
	Amount      Money
	Description string
}

// ACHPull is the state of an ACH pull.
type ACHPull struct {
	Reference string
	Amount    Money
	Currency  Currency
	Status    string // pending | succeeded | failed
}

// ValidatorProps constrains one field of a request, as metadata reports
// it. AllowedCharacters is a regular expression that a whole allowed value
// matches, such as "[a-zA-Z0-9 ]+". For a beneficiary's "address" the
// props apply to the whole address; the wire splits them over its three
// lines.
type ValidatorProps struct {
	Required          bool
	Optional          bool
	Length            int
	AllowedCharacters string
}

// TransferBound is the minimum amount of one kind of transfer.
type TransferBound struct {
	Minimum  int
	Currency Currency
	Type     string // same | local | intl
}

// AccountsMetadata is what a bank tells about its accounts and payments.
type AccountsMetadata struct {
	BankID                                             string
	SwiftCode                                          string
	SortCode                                           string
	BankName                                           string
	BranchName                                         string
	BranchAddress                                      string
	Address                                            LinesAddress
	Country                                            Currency // {code, name} pair, e.g. AE / UNITED ARAB EMIRATES
	IsCreateBeneficiaryEndpointRequired                bool
	IsCreateWireBeneficiaryEndpointRequired            bool
	WillNewlyAddedBeneficiaryExistBeforeCoolDownPeriod bool
	TransferBounds                                     []TransferBound
	BeneficiaryCoolDownPeriod                          Period
	TransactionRange                                   Period
	// BeneficiaryValidators maps a beneficiary type (local, same) to its
	// field validators (name, nickname, iban, accountNumber, swiftCode,
	// address, ...).
	BeneficiaryValidators map[string]map[string]ValidatorProps
	// TransferValidators maps a transfer type to its field validators
	// (remarks).
	TransferValidators map[string]map[string]ValidatorProps
	// MaxTransferAmount and MinTransferAmount bound one transfer.
	MaxTransferAmount Money
	MinTransferAmount Money
}
