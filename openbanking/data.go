package openbanking

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// The wire shapes of the Account and Transaction API v3.1 the connector
// reads (OBReadConsentResponse1, OBReadAccount6, OBReadBalance1,
// OBReadTransaction6, OBReadParty2), the fields it uses.

type obLinks struct {
	Self string `json:"Self"`
	Next string `json:"Next"`
}

type obConsentResponse struct {
	Data struct {
		ConsentID          string   `json:"ConsentId"`
		Status             string   `json:"Status"`
		Permissions        []string `json:"Permissions"`
		ExpirationDateTime string   `json:"ExpirationDateTime"`
	} `json:"Data"`
}

type obAmount struct {
	Amount   string `json:"Amount"`
	Currency string `json:"Currency"`
}

type obAccount struct {
	AccountID      string `json:"AccountId"`
	Currency       string `json:"Currency"`
	AccountType    string `json:"AccountType"`
	AccountSubType string `json:"AccountSubType"`
	Nickname       string `json:"Nickname"`
	Account        []struct {
		SchemeName     string `json:"SchemeName"`
		Identification string `json:"Identification"`
		Name           string `json:"Name"`
	} `json:"Account"`
}

type obAccounts struct {
	Data struct {
		Account []obAccount `json:"Account"`
	} `json:"Data"`
	Links obLinks `json:"Links"`
}

type obBalance struct {
	AccountID            string   `json:"AccountId"`
	Amount               obAmount `json:"Amount"`
	CreditDebitIndicator string   `json:"CreditDebitIndicator"`
	Type                 string   `json:"Type"`
	DateTime             string   `json:"DateTime"`
}

type obBalances struct {
	Data struct {
		Balance []obBalance `json:"Balance"`
	} `json:"Data"`
}

type obTransaction struct {
	AccountID              string   `json:"AccountId"`
	TransactionID          string   `json:"TransactionId"`
	TransactionReference   string   `json:"TransactionReference"`
	CreditDebitIndicator   string   `json:"CreditDebitIndicator"`
	Status                 string   `json:"Status"`
	BookingDateTime        string   `json:"BookingDateTime"`
	TransactionInformation string   `json:"TransactionInformation"`
	Amount                 obAmount `json:"Amount"`
	Balance                *struct {
		Amount               obAmount `json:"Amount"`
		CreditDebitIndicator string   `json:"CreditDebitIndicator"`
	} `json:"Balance"`
	MerchantDetails *struct {
		MerchantName string `json:"MerchantName"`
	} `json:"MerchantDetails"`
	BankTransactionCode *struct {
		Code string `json:"Code"`
	} `json:"BankTransactionCode"`
}

type obTransactions struct {
	Data struct {
		Transaction []obTransaction `json:"Transaction"`
	} `json:"Data"`
	Links obLinks `json:"Links"`
}

type obAddress struct {
	AddressType        string   `json:"AddressType"`
	AddressLine        []string `json:"AddressLine"`
	StreetName         string   `json:"StreetName"`
	BuildingNumber     string   `json:"BuildingNumber"`
	PostCode           string   `json:"PostCode"`
	TownName           string   `json:"TownName"`
	CountrySubDivision string   `json:"CountrySubDivision"`
	Country            string   `json:"Country"`
}

type obParty struct {
	PartyID      string      `json:"PartyId"`
	Name         string      `json:"Name"`
	EmailAddress string      `json:"EmailAddress"`
	Phone        string      `json:"Phone"`
	Mobile       string      `json:"Mobile"`
	Address      []obAddress `json:"Address"`
}

type obPartyResponse struct {
	Data struct {
		Party *obParty `json:"Party"`
	} `json:"Data"`
}

// maxPages bounds the pages of one transactions read.
const maxPages = 200

func (c *Connector) base(call *bank.Call) (string, error) {
	_, cl, err := c.open(call)
	if err != nil {
		return "", err
	}
	return cl.cfg.APIBaseURL, nil
}

// parseAmount reads an OBActiveCurrencyAndAmount_SimpleType ("1230.5",
// up to 5 decimals) into hundredths, rounding half away from zero.
func parseAmount(s string) (bankgate.Money, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" || len(whole) > 13 || len(frac) > 5 || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, errors.New("bad amount")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, err
	}
	frac += "00000"
	f, err := strconv.ParseInt(frac[:5], 10, 64)
	if err != nil || strings.ContainsAny(frac, "+-") {
		return 0, errors.New("bad amount")
	}
	cents := f / 1000
	if f%1000 >= 500 {
		cents++
	}
	return bankgate.Money(w*100 + cents), nil
}

func signed(a obAmount, indicator string) (bankgate.Money, error) {
	m, err := parseAmount(a.Amount)
	if err != nil {
		return 0, err
	}
	if indicator == "Debit" {
		m = -m
	}
	return m, nil
}

func currency(code string) bankgate.Currency {
	if c, ok := bankgate.Currencies[code]; ok {
		return c
	}
	return bankgate.Currency{Code: code, Name: code}
}

// accountTypes maps OBExternalAccountSubType1Code to Dapi's account types.
var accountTypes = map[string]string{
	"CurrentAccount": "current", "Savings": "savings", "Loan": "loan", "Mortgage": "loan",
	"CreditCard": "credit", "ChargeCard": "credit", "EMoney": "other", "PrePaidCard": "other",
}

func mapAccount(a obAccount) bankgate.Account {
	out := bankgate.Account{ID: a.AccountID, Name: a.Nickname, Type: accountTypes[a.AccountSubType], Currency: currency(a.Currency)}
	if out.Type == "" {
		out.Type = "other"
	}
	for _, id := range a.Account {
		switch id.SchemeName {
		case "UK.OBIE.IBAN", "IBAN":
			out.IBAN = id.Identification
			if out.Number == "" {
				out.Number = id.Identification
			}
		default:
			out.Number = id.Identification
		}
		if out.Name == "" {
			out.Name = id.Name
		}
	}
	if out.Name == "" {
		out.Name = a.AccountSubType
	}
	return out
}

// Identity reads the PSU's party (GET /party).
func (c *Connector) Identity(ctx context.Context, call *bank.Call) (*bankgate.Identity, *bank.Challenge, error) {
	base, err := c.base(call)
	if err != nil {
		return nil, nil, err
	}
	var out obPartyResponse
	if err := c.get(ctx, call, base+"/party", &out); err != nil {
		return nil, nil, dataError(err)
	}
	id := &bankgate.Identity{}
	if p := out.Data.Party; p != nil {
		id.Name, id.EmailAddress = p.Name, p.EmailAddress
		if p.Mobile != "" {
			id.Numbers = append(id.Numbers, bankgate.PhoneNumber{Type: "mobile", Value: p.Mobile})
		}
		if p.Phone != "" {
			id.Numbers = append(id.Numbers, bankgate.PhoneNumber{Type: "home", Value: p.Phone})
		}
		if len(p.Address) > 0 {
			a := p.Address[0]
			lines := append([]string{}, a.AddressLine...)
			if a.BuildingNumber != "" || a.StreetName != "" {
				lines = append(lines, strings.TrimSpace(a.BuildingNumber+" "+a.StreetName))
			}
			id.Address = bankgate.Address{Building: a.BuildingNumber, City: a.TownName, State: a.CountrySubDivision,
				Country: a.Country, ZipCode: a.PostCode}
			full := append(lines, a.TownName, a.PostCode, a.Country)
			id.Address.Full = strings.Join(nonEmpty(full), ", ")
			if len(a.AddressLine) > 0 {
				id.Address.Area = strings.Join(a.AddressLine, ", ")
			}
		}
	}
	return id, nil, nil
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// dataError turns a bank's 400/404 into InvalidAccountID (the only input
// of these calls) and passes other errors on.
func dataError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound {
			return bankgate.Errorf(bankgate.InvalidAccountID, "The account ID is not valid.")
		}
		return errBank("%d %v", ae.Status, ae.Codes)
	}
	return err
}

// Accounts reads the PSU's accounts (GET /accounts) and their balances.
func (c *Connector) Accounts(ctx context.Context, call *bank.Call) ([]bankgate.Account, *bank.Challenge, error) {
	base, err := c.base(call)
	if err != nil {
		return nil, nil, err
	}
	var out obAccounts
	if err := c.get(ctx, call, base+"/accounts", &out); err != nil {
		return nil, nil, dataError(err)
	}
	accts := make([]bankgate.Account, 0, len(out.Data.Account))
	for _, a := range out.Data.Account {
		acc := mapAccount(a)
		if bal, err := c.balance(ctx, call, base, a.AccountID); err == nil {
			acc.Balance = bal
		} else {
			return nil, nil, err
		}
		accts = append(accts, acc)
	}
	return accts, nil, nil
}

// balancePreference is the order a balance is chosen in: what the user can
// spend now first (Dapi's balance is the available one).
var balancePreference = []string{"InterimAvailable", "Expected", "ClosingAvailable", "OpeningAvailable", "InterimBooked", "ClosingBooked", "OpeningBooked", "ForwardAvailable", "PreviouslyClosedBooked"}

func pickBalance(bals []obBalance) (*obBalance, bool) {
	for _, t := range balancePreference {
		for i := range bals {
			if bals[i].Type == t {
				return &bals[i], true
			}
		}
	}
	return nil, false
}

func (c *Connector) balance(ctx context.Context, call *bank.Call, base, accountID string) (bankgate.Money, error) {
	var out obBalances
	if err := c.get(ctx, call, base+"/accounts/"+url.PathEscape(accountID)+"/balances", &out); err != nil {
		return 0, dataError(err)
	}
	b, ok := pickBalance(out.Data.Balance)
	if !ok {
		return 0, errBank("no balance for the account")
	}
	m, err := signed(b.Amount, b.CreditDebitIndicator)
	if err != nil {
		return 0, errBank("balance amount %q", b.Amount.Amount)
	}
	return m, nil
}

// Balance reads one account (GET /accounts/{id}) and its balance.
func (c *Connector) Balance(ctx context.Context, call *bank.Call, accountID string) (*bankgate.Account, *bank.Challenge, error) {
	base, err := c.base(call)
	if err != nil {
		return nil, nil, err
	}
	if accountID == "" || len(accountID) > 40 {
		return nil, nil, bankgate.Errorf(bankgate.InvalidAccountID, "The account ID is not valid.")
	}
	var out obAccounts
	if err := c.get(ctx, call, base+"/accounts/"+url.PathEscape(accountID), &out); err != nil {
		return nil, nil, dataError(err)
	}
	if len(out.Data.Account) != 1 {
		return nil, nil, bankgate.Errorf(bankgate.InvalidAccountID, "The account ID is not valid.")
	}
	acc := mapAccount(out.Data.Account[0])
	if acc.Balance, err = c.balance(ctx, call, base, accountID); err != nil {
		return nil, nil, err
	}
	return &acc, nil, nil
}

func obTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

func parseOBTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("bad time")
}

// Transactions reads an account's booked transactions between two days,
// inclusive, following Links.Next, oldest first.
func (c *Connector) Transactions(ctx context.Context, call *bank.Call, accountID string, from, to time.Time) ([]bankgate.Transaction, *bank.Challenge, error) {
	base, err := c.base(call)
	if err != nil {
		return nil, nil, err
	}
	if accountID == "" || len(accountID) > 40 {
		return nil, nil, bankgate.Errorf(bankgate.InvalidAccountID, "The account ID is not valid.")
	}
	q := url.Values{}
	if !from.IsZero() {
		y, m, d := from.UTC().Date()
		q.Set("fromBookingDateTime", obTime(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)))
	}
	if !to.IsZero() {
		y, m, d := to.UTC().Date()
		q.Set("toBookingDateTime", obTime(time.Date(y, m, d, 23, 59, 59, 0, time.UTC)))
	}
	u := base + "/accounts/" + url.PathEscape(accountID) + "/transactions"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	out := []bankgate.Transaction{}
	seen := map[string]bool{}
	for page := 0; u != ""; page++ {
		if page == maxPages {
			return nil, nil, errBank("more than %d pages of transactions", maxPages)
		}
		var res obTransactions
		if err := c.get(ctx, call, u, &res); err != nil {
			return nil, nil, dataError(err)
		}
		for _, t := range res.Data.Transaction {
			if t.Status != "" && t.Status != "Booked" {
				continue
			}
			if t.TransactionID != "" {
				if seen[t.TransactionID] {
					continue
				}
				seen[t.TransactionID] = true
			}
			tx, err := mapTransaction(t)
			if err != nil {
				return nil, nil, errBank("transaction %s: %v", t.TransactionID, err)
			}
			out = append(out, tx)
		}
		next := res.Links.Next
		if next == u {
			break
		}
		u = next
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	return out, nil, nil
}

func mapTransaction(t obTransaction) (bankgate.Transaction, error) {
	amt, err := parseAmount(t.Amount.Amount)
	if err != nil {
		return bankgate.Transaction{}, err
	}
	date, err := parseOBTime(t.BookingDateTime)
	if err != nil {
		return bankgate.Transaction{}, err
	}
	tx := bankgate.Transaction{Amount: amt, Date: date.UTC(), Type: "credit", Description: t.TransactionInformation,
		Details: t.TransactionInformation, Currency: currency(t.Amount.Currency), Reference: t.TransactionReference}
	if t.CreditDebitIndicator == "Debit" {
		tx.Type = "debit"
	}
	if t.MerchantDetails != nil {
		tx.BrandName = t.MerchantDetails.MerchantName
	}
	if t.Balance != nil {
		after, err := signed(t.Balance.Amount, t.Balance.CreditDebitIndicator)
		if err != nil {
			return bankgate.Transaction{}, err
		}
		tx.AfterAmount = after
		if tx.Type == "debit" {
			tx.BeforeAmount = after + amt
		} else {
			tx.BeforeAmount = after - amt
		}
	}
	return tx, nil
}
