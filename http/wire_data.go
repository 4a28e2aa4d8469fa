package http

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/bankgate/bankgate"
)

// flexMoney accepts an amount written as a JSON number (10, 10.0, 10.5)
// with at most two decimals' worth of precision and converts it to Money.
type flexMoney struct {
	set bool
	v   bankgate.Money
}

func (f *flexMoney) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) == 0 || b[0] == '"' || b[0] == '[' || b[0] == '{' || b[0] == 't' || b[0] == 'f' {
		return &json.UnmarshalTypeError{Value: "amount", Type: reflectFloat}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12 {
		return &json.UnmarshalTypeError{Value: "number " + truncate(string(b), 32), Type: reflectFloat}
	}
	f.set, f.v = true, bankgate.Money(math.Round(v*100))
	return nil
}

type wireTransaction struct {
	Amount       float64           `json:"amount"`
	Date         string            `json:"date"`
	Type         string            `json:"type"`
	Description  string            `json:"description"`
	Details      string            `json:"details"`
	Currency     wireCurrency      `json:"currency"`
	BeforeAmount float64           `json:"beforeAmount"`
	AfterAmount  float64           `json:"afterAmount"`
	Reference    string            `json:"reference"`
	Category     string            `json:"category,omitempty"`
	BrandDetails *wireBrandDetails `json:"brandDetails,omitempty"`
}

type wireBrandDetails struct {
	Logo string `json:"logo"`
	Name string `json:"name"`
}

// txDetail says how much of a transaction to show.
type txDetail int

const (
	txPlain txDetail = iota
	txCategorized
	txEnriched
)

func toWireTransactions(in []bankgate.Transaction, d txDetail) []wireTransaction {
	out := make([]wireTransaction, len(in))
	for i, t := range in {
		w := wireTransaction{Amount: t.Amount.Float(), Date: wireTime(t.Date), Type: t.Type, Description: t.Description,
			Details: t.Details, Currency: toWireCurrency(t.Currency), BeforeAmount: t.BeforeAmount.Float(),
			AfterAmount: t.AfterAmount.Float(), Reference: t.Reference}
		if d >= txCategorized {
			w.Category = wireCategory(&t)
		}
		if d == txEnriched {
			w.BrandDetails = &wireBrandDetails{Logo: t.BrandLogo, Name: wireBrandName(&t)}
		}
		out[i] = w
	}
	return out
}

// wireCategory is a categorized transaction's category: "Other" when the
// bank gave none.
func wireCategory(t *bankgate.Transaction) string {
	if t.Category == "" {
		return "Other"
	}
	return t.Category
}

// wireBrandName is an enriched transaction's brand name: the description
// when the bank named no brand.
func wireBrandName(t *bankgate.Transaction) string {
	if t.BrandName == "" {
		return t.Description
	}
	return t.BrandName
}

type wireCardBalance struct {
	CardNumber         string       `json:"cardNumber"`
	AvailableBalance   float64      `json:"availableBalance"`
	OutstandingBalance float64      `json:"outstandingBalance"`
	AmountDue          float64      `json:"amountDue"`
	DueDate            string       `json:"dueDate"`
	Currency           wireCurrency `json:"currency"`
}

func toWireCardBalance(b *bankgate.CardBalance) *wireCardBalance {
	return &wireCardBalance{CardNumber: b.CardNumber, AvailableBalance: b.AvailableBalance.Float(), OutstandingBalance: b.OutstandingBalance.Float(),
		AmountDue: b.AmountDue.Float(), DueDate: b.DueDate, Currency: toWireCurrency(b.Currency)}
}

type wireCard struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	CardNumber  string          `json:"cardNumber"`
	CreditLimit float64         `json:"creditLimit"`
	Currency    wireCurrency    `json:"currency"`
	Type        string          `json:"type"`
	ExpiryDate  string          `json:"expiryDate"`
	Status      string          `json:"status"`
	Balance     wireCardBalance `json:"balance"`
}

func toWireCards(in []bankgate.Card) []wireCard {
	out := make([]wireCard, len(in))
	for i, c := range in {
		out[i] = wireCard{ID: c.ID, Name: c.Name, CardNumber: c.CardNumber, CreditLimit: c.CreditLimit.Float(), Currency: toWireCurrency(c.Currency),
			Type: c.Type, ExpiryDate: c.ExpiryDate, Status: c.Status, Balance: *toWireCardBalance(&c.Balance)}
	}
	return out
}

type wireLines struct {
	Line1 string `json:"line1"`
	Line2 string `json:"line2"`
	Line3 string `json:"line3"`
}

type wirePeriod struct {
	Value int    `json:"value"`
	Unit  string `json:"unit"`
}

type wireBound struct {
	Minimum  int          `json:"minimum"`
	Currency wireCurrency `json:"currency"`
	Type     string       `json:"type"`
}

type wireValidator struct {
	Required          bool   `json:"required"`
	Optional          bool   `json:"optional"`
	Length            int    `json:"length"`
	AllowedCharacters string `json:"allowedCharacters"`
	Attributes        []any  `json:"attributes"`
}

// wireAddressValidator is the nested validator of a beneficiary address:
// its total length and one validator per line.
type wireAddressValidator struct {
	Length int           `json:"length"`
	Line1  wireValidator `json:"line1"`
	Line2  wireValidator `json:"line2"`
	Line3  wireValidator `json:"line3"`
}

type wireMetadata struct {
	BankID                                             string                               `json:"bankID,omitempty"`
	SwiftCode                                          string                               `json:"swiftCode"`
	SortCode                                           string                               `json:"sortCode"`
	BankName                                           string                               `json:"bankName"`
	BranchName                                         string                               `json:"branchName"`
	BranchAddress                                      string                               `json:"branchAddress"`
	Address                                            wireLines                            `json:"address"`
	Country                                            wireCurrency                         `json:"country"`
	IsCreateBeneficiaryEndpointRequired                bool                                 `json:"isCreateBeneficiaryEndpointRequired"`
	IsCreateWireBeneficiaryEndpointRequired            bool                                 `json:"isCreateWireBeneficiaryEndpointRequired"`
	WillNewlyAddedBeneficiaryExistBeforeCoolDownPeriod bool                                 `json:"willNewlyAddedBeneficiaryExistBeforeCoolDownPeriod"`
	TransferBounds                                     []wireBound                          `json:"transferBounds"`
	BeneficiaryCoolDownPeriod                          wirePeriod                           `json:"beneficiaryCoolDownPeriod"`
	TransactionRange                                   wirePeriod                           `json:"transactionRange"`
	Validators                                         map[string]map[string]map[string]any `json:"validators"`
}

func toWireValidators(in map[string]map[string]bankgate.ValidatorProps) map[string]map[string]any {
	out := map[string]map[string]any{}
	for typ, fields := range in {
		m := map[string]any{}
		for name, v := range fields {
			w := wireValidator{Required: v.Required, Optional: v.Optional, Length: v.Length, AllowedCharacters: v.AllowedCharacters, Attributes: []any{}}
			if name == "address" {
				// {length, line1, line2, line3}, as the SDKs read it.
				line := w
				line.Length = (v.Length + 2) / 3
				m[name] = wireAddressValidator{Length: v.Length, Line1: line, Line2: line, Line3: line}
				continue
			}
			m[name] = w
		}
		out[typ] = m
	}
	return out
}

func toWireMetadata(m *bankgate.AccountsMetadata) *wireMetadata {
	w := &wireMetadata{
		BankID: m.BankID, SwiftCode: m.SwiftCode, SortCode: m.SortCode, BankName: m.BankName, BranchName: m.BranchName,
		BranchAddress: m.BranchAddress, Address: wireLines{m.Address.Line1, m.Address.Line2, m.Address.Line3},
		Country:                                            wireCurrency{Code: m.Country.Code, Name: m.Country.Name},
		IsCreateBeneficiaryEndpointRequired:                m.IsCreateBeneficiaryEndpointRequired,
		IsCreateWireBeneficiaryEndpointRequired:            m.IsCreateWireBeneficiaryEndpointRequired,
		WillNewlyAddedBeneficiaryExistBeforeCoolDownPeriod: m.WillNewlyAddedBeneficiaryExistBeforeCoolDownPeriod,
		TransferBounds:                                     []wireBound{},
		BeneficiaryCoolDownPeriod:                          wirePeriod{m.BeneficiaryCoolDownPeriod.Value, m.BeneficiaryCoolDownPeriod.Unit},
		TransactionRange:                                   wirePeriod{m.TransactionRange.Value, m.TransactionRange.Unit},
		Validators: map[string]map[string]map[string]any{
			"createBeneficiary": toWireValidators(m.BeneficiaryValidators),
			"createTransfer":    toWireValidators(m.TransferValidators),
		},
	}
	for _, b := range m.TransferBounds {
		w.TransferBounds = append(w.TransferBounds, wireBound{Minimum: b.Minimum, Currency: toWireCurrency(b.Currency), Type: b.Type})
	}
	return w
}

type wireBeneficiary struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Nickname      string     `json:"nickname,omitempty"`
	IBAN          string     `json:"iban"`
	AccountNumber string     `json:"accountNumber"`
	SwiftCode     string     `json:"swiftCode,omitempty"`
	Type          string     `json:"type"`
	Status        string     `json:"status"`
	BankName      string     `json:"bankName,omitempty"`
	Country       string     `json:"country,omitempty"`
	Address       *wireLines `json:"address,omitempty"`
}

func toWireBeneficiaries(in []bankgate.Beneficiary) []wireBeneficiary {
	out := make([]wireBeneficiary, len(in))
	for i, b := range in {
		w := wireBeneficiary{ID: b.ID, Name: b.Name, Nickname: b.Nickname, IBAN: b.IBAN, AccountNumber: b.AccountNumber, SwiftCode: b.SwiftCode,
			Type: b.Type, Status: b.Status, BankName: b.BankName, Country: b.Country}
		if b.Address != (bankgate.LinesAddress{}) {
			w.Address = &wireLines{b.Address.Line1, b.Address.Line2, b.Address.Line3}
		}
		out[i] = w
	}
	return out
}

type wireUSWireAddress struct {
	Building string `json:"building"`
	Area     string `json:"area"`
	City     string `json:"city"`
	Country  string `json:"country"`
	Flat     string `json:"flat"`
	Full     string `json:"full"`
	PoBox    string `json:"poBox"`
	State    string `json:"state"`
	ZipCode  string `json:"zipCode"`
}

type wireUSWireBeneficiary struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Nickname      string            `json:"nickname,omitempty"`
	AccountNumber string            `json:"accountNumber"`
	RoutingNumber string            `json:"routingNumber"`
	BankName      string            `json:"bankName"`
	Address       wireUSWireAddress `json:"address"`
	Type          string            `json:"type"`
	Status        string            `json:"status"`
}

func toWireUSWireBeneficiaries(in []bankgate.WireBeneficiary) []wireUSWireBeneficiary {
	out := make([]wireUSWireBeneficiary, len(in))
	for i, b := range in {
		full := b.Address.Line1
		for _, l := range []string{b.Address.Line2, b.Address.Line3} {
			if l != "" {
				if full != "" {
					full += ", "
				}
				full += l
			}
		}
		out[i] = wireUSWireBeneficiary{ID: b.ID, Name: b.Name, Nickname: b.Nickname, AccountNumber: b.AccountNumber, RoutingNumber: b.RoutingNumber,
			BankName: b.BankName, Type: b.Type, Status: b.Status,
			Address: wireUSWireAddress{Full: full, City: b.City, State: b.State, Country: b.Country, ZipCode: b.ZipCode}}
	}
	return out
}

// beneficiaryFields are the beneficiary fields of create and autoflow
// requests (§5.6); address may come as "address" or "linesAddress".
type beneficiaryFields struct {
	Name          string     `json:"name"`
	Nickname      string     `json:"nickname"`
	AccountNumber string     `json:"accountNumber"`
	IBAN          string     `json:"iban"`
	SwiftCode     string     `json:"swiftCode"`
	Type          string     `json:"type"`
	Address       *wireLines `json:"address"`
	LinesAddress  *wireLines `json:"linesAddress"`
	Country       string     `json:"country"`
	BranchAddress string     `json:"branchAddress"`
	BranchName    string     `json:"branchName"`
	BankName      string     `json:"bankName"`
	PhoneNumber   string     `json:"phoneNumber"`
	SortCode      string     `json:"sortCode"`
	RoutingNumber string     `json:"routingNumber"`
}

func (f *beneficiaryFields) domain() *bankgate.Beneficiary {
	b := &bankgate.Beneficiary{Name: f.Name, Nickname: f.Nickname, AccountNumber: f.AccountNumber, IBAN: f.IBAN, SwiftCode: f.SwiftCode,
		Type: f.Type, Country: f.Country, BranchAddress: f.BranchAddress, BranchName: f.BranchName, BankName: f.BankName,
		PhoneNumber: f.PhoneNumber, SortCode: f.SortCode, RoutingNumber: f.RoutingNumber}
	a := f.Address
	if a == nil {
		a = f.LinesAddress
	}
	if a != nil {
		b.Address = bankgate.LinesAddress{Line1: a.Line1, Line2: a.Line2, Line3: a.Line3}
	}
	return b
}

func (f *beneficiaryFields) empty() bool {
	return f.Name == "" && f.IBAN == "" && f.AccountNumber == ""
}

// usWireBeneficiaryFields are the fields of a US wire beneficiary (§5.7).
type usWireBeneficiaryFields struct {
	beneficiaryFields
	FirstName           string `json:"firstName"`
	LastName            string `json:"lastName"`
	ReceiverType        string `json:"receiverType"`
	ReceiverAccountType string `json:"receiverAccountType"`
	ZipCode             string `json:"zipCode"`
	State               string `json:"state"`
	City                string `json:"city"`
}

func (f *usWireBeneficiaryFields) domain() *bankgate.WireBeneficiary {
	b := f.beneficiaryFields.domain()
	return &bankgate.WireBeneficiary{Name: b.Name, Nickname: b.Nickname, FirstName: f.FirstName, LastName: f.LastName,
		AccountNumber: b.AccountNumber, RoutingNumber: b.RoutingNumber, BankName: b.BankName, Type: b.Type,
		ReceiverType: f.ReceiverType, ReceiverAccountType: f.ReceiverAccountType, Address: b.Address, Country: b.Country,
		City: f.City, State: f.State, ZipCode: f.ZipCode, BranchAddress: b.BranchAddress, BranchName: b.BranchName, SortCode: b.SortCode}
}

// parseDate reads a YYYY-MM-DD date field.
func parseDate(field, s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, bankgate.Errorf(bankgate.InvalidDateRange, "The field %q must be a date written YYYY-MM-DD.", field)
	}
	return t, nil
}
