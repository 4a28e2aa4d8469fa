package http

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/bankgate/bankgate"
)

// This file holds the wire types: Dapi's JSON, byte for byte in shape.
// They are separate from the domain types; the converters are beside them.

// envelope is the flat Dapi response envelope. success, status and
// operationID are always present; the rest only when set.
type envelope struct {
	Success     bool              `json:"success"`
	Status      string            `json:"status"`
	OperationID string            `json:"operationID"`
	Type        string            `json:"type,omitempty"`
	Msg         string            `json:"msg,omitempty"`
	UserInputs  []wireUserInputIO `json:"userInputs,omitempty"`
}

func done(opID string) envelope {
	return envelope{Success: true, Status: bankgate.StatusDone, OperationID: opID}
}

type wireUserInputIO struct {
	ID           string       `json:"id"`
	Index        int          `json:"index"`
	Query        string       `json:"query"`
	QueryType    string       `json:"queryType,omitempty"`
	Answer       string       `json:"answer"`
	QueryOptions []wireChoice `json:"queryOptions,omitempty"`
	QueryChoices []wireChoice `json:"queryChoices,omitempty"`
}

type wireChoice struct {
	Index   int    `json:"index"`
	Type    string `json:"type"`
	Content string `json:"content"`
}

func toWireInputs(in []bankgate.UserInput) []wireUserInputIO {
	out := make([]wireUserInputIO, len(in))
	for i, u := range in {
		w := wireUserInputIO{ID: u.ID, Index: u.Index, Query: u.Query, QueryType: u.QueryType}
		if w.QueryType == "" {
			w.QueryType = "txt"
		}
		for _, c := range u.Choices {
			w.QueryOptions = append(w.QueryOptions, wireChoice{Index: c.Index, Type: c.Type, Content: c.Content})
		}
		w.QueryChoices = w.QueryOptions
		out[i] = w
	}
	return out
}

// flexString accepts a JSON string, boolean or number (MFA answers: a
// confirmation may come as true/false).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case bytes.Equal(b, []byte("null")):
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		*f = flexString(b)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return &json.UnmarshalTypeError{Value: "value", Type: reflectString}
		}
		*f = flexString(n)
	}
	return nil
}

// flexInt accepts a JSON number with an integral value (Java forwards
// indexes as doubles) or null.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || v != float64(int(v)) || v < 0 || v > 1000 {
		return &json.UnmarshalTypeError{Value: "number " + string(b), Type: reflectInt}
	}
	*f = flexInt(v)
	return nil
}

type wireUserInputIn struct {
	ID     string     `json:"id"`
	Index  flexInt    `json:"index"`
	Answer flexString `json:"answer"`
}

func fromWireInputs(in []wireUserInputIn) []bankgate.UserInput {
	if len(in) == 0 {
		return nil
	}
	out := make([]bankgate.UserInput, len(in))
	for i, u := range in {
		out[i] = bankgate.UserInput{ID: u.ID, Index: int(u.Index), Answer: string(u.Answer)}
	}
	return out
}

// baseRequest is the body every per-user call carries.
type baseRequest struct {
	AppSecret   string            `json:"appSecret"`
	UserSecret  string            `json:"userSecret"`
	OperationID string            `json:"operationID"`
	UserInputs  []wireUserInputIn `json:"userInputs"`
	TokenID     string            `json:"tokenID"`
}

type wireCurrency struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

func toWireCurrency(c bankgate.Currency) wireCurrency {
	return wireCurrency{Code: c.Code, Name: c.Name}
}

type wireIdentity struct {
	Name            string       `json:"name"`
	Nationality     string       `json:"nationality"`
	DateOfBirth     string       `json:"dateOfBirth"`
	EmailAddress    string       `json:"emailAddress"`
	Numbers         []wireNumber `json:"numbers"`
	Address         wireAddress  `json:"address"`
	Identification  []wireNumber `json:"identification"`
	Identifications []wireNumber `json:"identifications"`
}

type wireNumber struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type wireAddress struct {
	Flat     string `json:"flat"`
	Building string `json:"building"`
	Full     string `json:"full"`
	Area     string `json:"area"`
	PoBox    string `json:"poBox"`
	City     string `json:"city"`
	State    string `json:"state"`
	Country  string `json:"country"`
	ZipCode  string `json:"zipCode,omitempty"`
}

func toWireIdentity(id *bankgate.Identity) *wireIdentity {
	w := &wireIdentity{
		Name: id.Name, Nationality: id.Nationality, DateOfBirth: id.DateOfBirth, EmailAddress: id.EmailAddress,
		Numbers:        []wireNumber{},
		Identification: []wireNumber{},
		Address: wireAddress{Flat: id.Address.Flat, Building: id.Address.Building, Full: id.Address.Full, Area: id.Address.Area,
			PoBox: id.Address.PoBox, City: id.Address.City, State: id.Address.State, Country: id.Address.Country, ZipCode: id.Address.ZipCode},
	}
	for _, n := range id.Numbers {
		w.Numbers = append(w.Numbers, wireNumber{Type: n.Type, Value: n.Value})
	}
	for _, n := range id.Identifications {
		w.Identification = append(w.Identification, wireNumber{Type: n.Type, Value: n.Value})
	}
	w.Identifications = w.Identification
	return w
}

type wireBalance struct {
	Amount        float64      `json:"amount"`
	Currency      wireCurrency `json:"currency"`
	AccountNumber string       `json:"accountNumber"`
}

type wireAccount struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Type        string       `json:"type"`
	IBAN        string       `json:"iban,omitempty"`
	Number      string       `json:"number"`
	Currency    wireCurrency `json:"currency"`
	IsFavourite bool         `json:"isFavourite"`
	Balance     wireBalance  `json:"balance"`
}

func toWireAccounts(in []bankgate.Account) []wireAccount {
	out := make([]wireAccount, len(in))
	for i, a := range in {
		cur := toWireCurrency(a.Currency)
		out[i] = wireAccount{ID: a.ID, Name: a.Name, Type: a.Type, IBAN: a.IBAN, Number: a.Number, Currency: cur,
			IsFavourite: a.IsFavourite, Balance: wireBalance{Amount: a.Balance.Float(), Currency: cur, AccountNumber: a.Number}}
	}
	return out
}

type wireBank struct {
	BankID         string `json:"bankID"`
	Name           string `json:"name"`
	ShortName      string `json:"shortName,omitempty"`
	Country        string `json:"country"`
	CountryName    string `json:"countryName,omitempty"`
	SwiftCode      string `json:"swiftCode,omitempty"`
	PrimaryColor   string `json:"primaryColor,omitempty"`
	SecondaryColor string `json:"secondaryColor,omitempty"`
	Logo           string `json:"logo,omitempty"`
	Sandbox        bool   `json:"sandbox"`
	// Redirect is bankgate's addition: the user logs in at the bank
	// (Connect login answers redirect_required).
	Redirect bool `json:"redirect,omitempty"`
}

func toWireBanks(in []bankgate.Bank) []wireBank {
	out := make([]wireBank, len(in))
	for i, b := range in {
		out[i] = wireBank{BankID: b.ID, Name: b.Name, ShortName: b.ShortName, Country: b.Country, CountryName: b.CountryName,
			SwiftCode: b.SwiftCode, PrimaryColor: b.PrimaryColor, SecondaryColor: b.SecondaryColor, Logo: b.Logo, Sandbox: b.Sandbox, Redirect: b.Redirect}
	}
	return out
}

// wireTime formats a time as Dapi's ISO-8601 UTC with milliseconds.
func wireTime(t time.Time) string { return t.UTC().Format(wireTimeLayout) }

// wireTimeLayout is how Dapi writes an instant: UTC, milliseconds.
const wireTimeLayout = "2006-01-02T15:04:05.000Z"
