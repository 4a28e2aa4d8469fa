package modelbank

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/sandbox"
)

// sandboxPassword logs the PSUs in at DataBank (the PSU's own password
// is checked by the login page).
const sandboxPassword = sandbox.PasswordGood

// Consent statuses (OBExternalRequestStatus1Code).
const (
	StatusAwaiting   = "AwaitingAuthorisation"
	StatusAuthorised = "Authorised"
	StatusRejected   = "Rejected"
	StatusRevoked    = "Revoked"
)

// awaitingTTL is how long a consent may wait for the PSU's authorisation.
const awaitingTTL = time.Hour

// permissions the model bank grants (OBExternalPermissions1Code, the
// subset it serves).
var permissions = []string{
	"ReadAccountsBasic", "ReadAccountsDetail", "ReadBalances",
	"ReadTransactionsBasic", "ReadTransactionsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits",
	"ReadParty", "ReadPartyPSU",
}

type consent struct {
	ID               string
	ClientID         string
	User             string
	Status           string
	Permissions      []string
	Created, Updated time.Time
	Expiration       *time.Time
	TxFrom, TxTo     *time.Time
	expiredAt        time.Time // when ExpireConsent cut its life short
}

type consentStore struct {
	mu    sync.Mutex
	m     map[string]*consent
	order []string
}

func newConsentStore() *consentStore { return &consentStore{m: map[string]*consent{}} }

func (s *consentStore) add(c *consent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[c.ID] = c
	s.order = append(s.order, c.ID)
}

func (s *consentStore) get(id string) (consent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	if !ok {
		return consent{}, false
	}
	return *c, true
}

func (s *consentStore) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

func (c *consent) expired(now time.Time) bool {
	return c.Expiration != nil && !now.Before(*c.Expiration)
}

// awaiting reports whether id is a live consent of clientID awaiting
// authorisation.
func (s *consentStore) awaiting(id, clientID string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	return ok && c.ClientID == clientID && c.Status == StatusAwaiting && now.Sub(c.Created) < awaitingTTL && !c.expired(now)
}

// authorise moves a consent from AwaitingAuthorisation to Authorised by
// user.
func (s *consentStore) authorise(id, user string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	if !ok || c.Status != StatusAwaiting || c.expired(now) || now.Sub(c.Created) >= awaitingTTL {
		return false
	}
	c.Status, c.User, c.Updated = StatusAuthorised, user, now
	return true
}

func (s *consentStore) reject(id string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.m[id]; ok && c.Status == StatusAwaiting {
		c.Status, c.Updated = StatusRejected, now
	}
}

// revoke marks a consent Revoked (the TPP deleted it).
func (s *consentStore) revoke(id, clientID string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	if !ok || c.ClientID != clientID {
		return false
	}
	if c.Status != StatusRevoked {
		c.Status, c.Updated = StatusRevoked, now
	}
	return true
}

func (s *consentStore) expire(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	if ok {
		c.Expiration = &now
	}
	return ok
}

var (
	errConsentStatus  = errors.New("the consent is not authorised")
	errConsentExpired = errors.New("the consent has expired")
)

// usable checks a consent may be used to read data now.
func (s *consentStore) usable(id string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	switch {
	case !ok || c.Status != StatusAuthorised:
		return errConsentStatus
	case c.expired(now):
		return errConsentExpired
	}
	return nil
}

// The wire shapes of the Account and Transaction API v3.1.

type obLinks struct {
	Self  string `json:"Self"`
	First string `json:"First,omitempty"`
	Prev  string `json:"Prev,omitempty"`
	Next  string `json:"Next,omitempty"`
	Last  string `json:"Last,omitempty"`
}

type obMeta struct {
	TotalPages             int    `json:"TotalPages,omitempty"`
	FirstAvailableDateTime string `json:"FirstAvailableDateTime,omitempty"`
	LastAvailableDateTime  string `json:"LastAvailableDateTime,omitempty"`
}

type obAmount struct {
	Amount   string `json:"Amount"`
	Currency string `json:"Currency"`
}

type obConsentData struct {
	ConsentID               string   `json:"ConsentId"`
	CreationDateTime        string   `json:"CreationDateTime"`
	Status                  string   `json:"Status"`
	StatusUpdateDateTime    string   `json:"StatusUpdateDateTime"`
	Permissions             []string `json:"Permissions"`
	ExpirationDateTime      string   `json:"ExpirationDateTime,omitempty"`
	TransactionFromDateTime string   `json:"TransactionFromDateTime,omitempty"`
	TransactionToDateTime   string   `json:"TransactionToDateTime,omitempty"`
}

type obConsentResponse struct {
	Data  obConsentData  `json:"Data"`
	Risk  map[string]any `json:"Risk"`
	Links obLinks        `json:"Links"`
	Meta  obMeta         `json:"Meta"`
}

type obError struct {
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
	Path      string `json:"Path,omitempty"`
}

type obErrorResponse struct {
	Code    string    `json:"Code"`
	ID      string    `json:"Id,omitempty"`
	Message string    `json:"Message"`
	Errors  []obError `json:"Errors"`
}

// isoTime is the ISODateTime the specification writes.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

func money(m bankgate.Money) string {
	if m < 0 {
		m = -m
	}
	return m.String()
}

func (b *Bank) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-fapi-interaction-id", interactionID(r))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (b *Bank) apiError(w http.ResponseWriter, r *http.Request, status int, code, errorCode, msg, path string) {
	b.writeJSON(w, r, status, obErrorResponse{Code: code, ID: randomID()[:12], Message: msg,
		Errors: []obError{{ErrorCode: errorCode, Message: msg, Path: path}}})
}

// unauthorised answers 401, which the specification gives no body.
func (b *Bank) unauthorised(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="The access token is missing, invalid, expired or not bound to this client certificate."`)
	w.Header().Set("x-fapi-interaction-id", interactionID(r))
	w.WriteHeader(http.StatusUnauthorized)
}

// interactionID echoes the request's x-fapi-interaction-id, or makes one
// (an RFC 4122 UUID).
func interactionID(r *http.Request) string {
	if id := r.Header.Get("x-fapi-interaction-id"); id != "" && len(id) <= 64 {
		return id
	}
	u, _ := hex.DecodeString(randomID())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

func (b *Bank) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+APIPrefix+"/account-access-consents", b.createConsent)
	mux.HandleFunc("GET "+APIPrefix+"/account-access-consents/{id}", b.getConsent)
	mux.HandleFunc("DELETE "+APIPrefix+"/account-access-consents/{id}", b.deleteConsent)
	mux.HandleFunc("GET "+APIPrefix+"/accounts", b.psuCall(b.listAccounts, "ReadAccountsBasic", "ReadAccountsDetail"))
	mux.HandleFunc("GET "+APIPrefix+"/accounts/{id}", b.psuCall(b.oneAccount, "ReadAccountsBasic", "ReadAccountsDetail"))
	mux.HandleFunc("GET "+APIPrefix+"/accounts/{id}/balances", b.psuCall(b.balances, "ReadBalances"))
	mux.HandleFunc("GET "+APIPrefix+"/accounts/{id}/transactions", b.psuCall(b.transactions, "ReadTransactionsBasic", "ReadTransactionsDetail"))
	mux.HandleFunc("GET "+APIPrefix+"/accounts/{id}/parties", b.psuCall(b.parties, "ReadParty"))
	mux.HandleFunc("GET "+APIPrefix+"/party", b.psuCall(b.party, "ReadPartyPSU"))
}

// clientToken returns a client-credentials token of an API request.
func (b *Bank) clientToken(w http.ResponseWriter, r *http.Request) (*accessToken, bool) {
	t, ok := b.bearer(r)
	if !ok || t.consentID != "" || !slices.Contains(t.scopes, "accounts") {
		b.unauthorised(w, r)
		return nil, false
	}
	return t, true
}

func (b *Bank) consentResponse(r *http.Request, c consent) obConsentResponse {
	d := obConsentData{ConsentID: c.ID, CreationDateTime: isoTime(c.Created), Status: c.Status,
		StatusUpdateDateTime: isoTime(c.Updated), Permissions: c.Permissions}
	if c.Expiration != nil {
		d.ExpirationDateTime = isoTime(*c.Expiration)
	}
	if c.TxFrom != nil {
		d.TransactionFromDateTime = isoTime(*c.TxFrom)
	}
	if c.TxTo != nil {
		d.TransactionToDateTime = isoTime(*c.TxTo)
	}
	return obConsentResponse{Data: d, Risk: map[string]any{},
		Links: obLinks{Self: b.issuer + APIPrefix + "/account-access-consents/" + c.ID}, Meta: obMeta{TotalPages: 1}}
}

func (b *Bank) createConsent(w http.ResponseWriter, r *http.Request) {
	t, ok := b.clientToken(w, r)
	if !ok {
		return
	}
	var req struct {
		Data struct {
			Permissions             []string `json:"Permissions"`
			ExpirationDateTime      string   `json:"ExpirationDateTime"`
			TransactionFromDateTime string   `json:"TransactionFromDateTime"`
			TransactionToDateTime   string   `json:"TransactionToDateTime"`
		} `json:"Data"`
		Risk *json.RawMessage `json:"Risk"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.Risk == nil {
		b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Field.Invalid", "The body must be an OBReadConsent1 with Data and Risk.", "")
		return
	}
	if len(req.Data.Permissions) == 0 {
		b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Field.Missing", "Permissions are required.", "Data.Permissions")
		return
	}
	for _, p := range req.Data.Permissions {
		if !slices.Contains(permissions, p) {
			b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Field.Invalid", "The model bank does not offer the permission "+p+".", "Data.Permissions")
			return
		}
	}
	now := b.now()
	c := &consent{ID: "aac-" + randomID(), ClientID: t.clientID, Status: StatusAwaiting,
		Permissions: slices.Clone(req.Data.Permissions), Created: now, Updated: now}
	limit := now.Add(b.opts.ConsentTTL)
	c.Expiration = &limit
	parse := func(s, path string, dst **time.Time) bool {
		if s == "" {
			return true
		}
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Field.InvalidDate", "Not an ISO 8601 date-time: "+s, path)
			return false
		}
		*dst = &v
		return true
	}
	var exp *time.Time
	if !parse(req.Data.ExpirationDateTime, "Data.ExpirationDateTime", &exp) ||
		!parse(req.Data.TransactionFromDateTime, "Data.TransactionFromDateTime", &c.TxFrom) ||
		!parse(req.Data.TransactionToDateTime, "Data.TransactionToDateTime", &c.TxTo) {
		return
	}
	if exp != nil {
		if !exp.After(now) {
			b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Field.InvalidDate", "ExpirationDateTime is in the past.", "Data.ExpirationDateTime")
			return
		}
		if exp.Before(limit) {
			c.Expiration = exp
		}
	}
	b.consents.add(c)
	b.writeJSON(w, r, http.StatusCreated, b.consentResponse(r, *c))
}

func (b *Bank) getConsent(w http.ResponseWriter, r *http.Request) {
	t, ok := b.clientToken(w, r)
	if !ok {
		return
	}
	c, ok := b.consents.get(r.PathValue("id"))
	if !ok || c.ClientID != t.clientID {
		b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Resource.NotFound", "No such consent.", "ConsentId")
		return
	}
	b.writeJSON(w, r, http.StatusOK, b.consentResponse(r, c))
}

func (b *Bank) deleteConsent(w http.ResponseWriter, r *http.Request) {
	t, ok := b.clientToken(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !b.consents.revoke(id, t.clientID, b.now()) {
		b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Resource.NotFound", "No such consent.", "ConsentId")
		return
	}
	b.store.revokeConsent(id)
	w.Header().Set("x-fapi-interaction-id", interactionID(r))
	w.WriteHeader(http.StatusNoContent)
}

// psuCall is an API call on a PSU's consent: a live token bound to the
// request's certificate, an authorised unexpired consent holding one of
// the permissions.
func (b *Bank) psuCall(fn func(w http.ResponseWriter, r *http.Request, c consent), perms ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, ok := b.bearer(r)
		if !ok || t.consentID == "" {
			b.unauthorised(w, r)
			return
		}
		if err := b.consents.usable(t.consentID, b.now()); err != nil {
			code := "UK.OBIE.Resource.InvalidConsentStatus"
			b.apiError(w, r, http.StatusForbidden, "403 Forbidden", code, "The consent is "+map[bool]string{true: "expired", false: "not authorised"}[errors.Is(err, errConsentExpired)]+".", "")
			return
		}
		c, _ := b.consents.get(t.consentID)
		if !slices.ContainsFunc(perms, func(p string) bool { return slices.Contains(c.Permissions, p) }) {
			b.apiError(w, r, http.StatusForbidden, "403 Forbidden", "UK.OBIE.Resource.ConsentMismatch", "The consent does not grant this.", "")
			return
		}
		fn(w, r, c)
	}
}

// sandbox access: each PSU is the same username at DataBank in the
// model bank's own sandbox world.

const world = "modelbank"

func (b *Bank) call(ctx context.Context, user string) (*bank.Call, error) {
	res, err := b.data.Login(ctx, bank.LoginRequest{AppID: world, BankID: DataBank, Username: user, Password: sandboxPassword, Now: b.now()})
	if err != nil {
		return nil, err
	}
	return &bank.Call{Session: bank.Session{AppID: world, BankID: DataBank, ConnectionID: user, Data: res.Session}, Now: b.now()}, nil
}

func (b *Bank) accounts(ctx context.Context, user string) ([]bankgate.Account, error) {
	call, err := b.call(ctx, user)
	if err != nil {
		return nil, err
	}
	accts, _, err := b.data.Accounts(ctx, call)
	return accts, err
}

// accountID is the API's AccountId of a sandbox account: short, stable,
// opaque.
func accountID(user, id string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + id))
	return hex.EncodeToString(sum[:12])
}

// account finds the PSU's account by its API ID.
// pathAccount returns the consent's account the request's path names, or
// answers the request (the data error, or no such account) and returns nil.
func (b *Bank) pathAccount(w http.ResponseWriter, r *http.Request, c consent) *bankgate.Account {
	accts, err := b.accounts(r.Context(), c.User)
	if err != nil {
		b.dataError(w, r, err)
		return nil
	}
	id := r.PathValue("id")
	for i := range accts {
		if accountID(c.User, accts[i].ID) == id {
			return &accts[i]
		}
	}
	b.notFound(w, r)
	return nil
}

var subTypes = map[string]string{
	"current": "CurrentAccount", "savings": "Savings", "loan": "Loan", "credit": "CreditCard", "deposit": "Savings",
}

type obAccountID struct {
	SchemeName     string `json:"SchemeName"`
	Identification string `json:"Identification"`
	Name           string `json:"Name,omitempty"`
}

type obAccount struct {
	AccountID      string        `json:"AccountId"`
	Currency       string        `json:"Currency"`
	AccountType    string        `json:"AccountType"`
	AccountSubType string        `json:"AccountSubType"`
	Nickname       string        `json:"Nickname,omitempty"`
	Account        []obAccountID `json:"Account,omitempty"`
}

func (b *Bank) obAccount(user string, a *bankgate.Account, detail bool, holder string) obAccount {
	sub := subTypes[a.Type]
	if sub == "" {
		sub = "CurrentAccount"
	}
	o := obAccount{AccountID: accountID(user, a.ID), Currency: a.Currency.Code, AccountType: "Personal", AccountSubType: sub, Nickname: a.Name}
	switch {
	case !detail:
	case a.IBAN != "":
		o.Account = []obAccountID{{SchemeName: "UK.OBIE.IBAN", Identification: a.IBAN, Name: holder}}
	case a.Number != "":
		o.Account = []obAccountID{{SchemeName: "UK.OBIE.BBAN", Identification: a.Number, Name: holder}}
	}
	return o
}

func (b *Bank) holder(ctx context.Context, user string) string {
	call, err := b.call(ctx, user)
	if err != nil {
		return ""
	}
	id, _, err := b.data.Identity(ctx, call)
	if err != nil {
		return ""
	}
	return id.Name
}

func (b *Bank) dataError(w http.ResponseWriter, r *http.Request, err error) {
	b.log.Error("modelbank: data", "err", err)
	b.apiError(w, r, http.StatusInternalServerError, "500 InternalServerError", "UK.OBIE.UnexpectedError", "The bank could not read the data.", "")
}

func (b *Bank) writeAccounts(w http.ResponseWriter, r *http.Request, c consent, accts []bankgate.Account) {
	detail := slices.Contains(c.Permissions, "ReadAccountsDetail")
	holder := ""
	if detail {
		holder = b.holder(r.Context(), c.User)
	}
	out := []obAccount{}
	for i := range accts {
		out = append(out, b.obAccount(c.User, &accts[i], detail, holder))
	}
	b.writeJSON(w, r, http.StatusOK, map[string]any{"Data": map[string]any{"Account": out},
		"Links": obLinks{Self: b.issuer + r.URL.RequestURI()}, "Meta": obMeta{TotalPages: 1}})
}

func (b *Bank) listAccounts(w http.ResponseWriter, r *http.Request, c consent) {
	accts, err := b.accounts(r.Context(), c.User)
	if err != nil {
		b.dataError(w, r, err)
		return
	}
	b.writeAccounts(w, r, c, accts)
}

func (b *Bank) notFound(w http.ResponseWriter, r *http.Request) {
	b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Field.Invalid", "No such account.", "AccountId")
}

func (b *Bank) oneAccount(w http.ResponseWriter, r *http.Request, c consent) {
	a := b.pathAccount(w, r, c)
	if a == nil {
		return
	}
	b.writeAccounts(w, r, c, []bankgate.Account{*a})
}

type obBalance struct {
	AccountID            string   `json:"AccountId"`
	Amount               obAmount `json:"Amount"`
	CreditDebitIndicator string   `json:"CreditDebitIndicator"`
	Type                 string   `json:"Type"`
	DateTime             string   `json:"DateTime"`
}

func indicator(m bankgate.Money) string {
	if m < 0 {
		return "Debit"
	}
	return "Credit"
}

func (b *Bank) balances(w http.ResponseWriter, r *http.Request, c consent) {
	a := b.pathAccount(w, r, c)
	if a == nil {
		return
	}
	id, now := accountID(c.User, a.ID), isoTime(b.now())
	amt := obAmount{Amount: money(a.Balance), Currency: a.Currency.Code}
	bals := []obBalance{
		{AccountID: id, Amount: amt, CreditDebitIndicator: indicator(a.Balance), Type: "InterimAvailable", DateTime: now},
		{AccountID: id, Amount: amt, CreditDebitIndicator: indicator(a.Balance), Type: "InterimBooked", DateTime: now},
	}
	b.writeJSON(w, r, http.StatusOK, map[string]any{"Data": map[string]any{"Balance": bals},
		"Links": obLinks{Self: b.issuer + r.URL.RequestURI()}, "Meta": obMeta{TotalPages: 1}})
}

type obTxBalance struct {
	Amount               obAmount `json:"Amount"`
	CreditDebitIndicator string   `json:"CreditDebitIndicator"`
	Type                 string   `json:"Type"`
}

type obMerchant struct {
	MerchantName         string `json:"MerchantName,omitempty"`
	MerchantCategoryCode string `json:"MerchantCategoryCode,omitempty"`
}

type obTransaction struct {
	AccountID              string       `json:"AccountId"`
	TransactionID          string       `json:"TransactionId"`
	TransactionReference   string       `json:"TransactionReference,omitempty"`
	CreditDebitIndicator   string       `json:"CreditDebitIndicator"`
	Status                 string       `json:"Status"`
	BookingDateTime        string       `json:"BookingDateTime"`
	ValueDateTime          string       `json:"ValueDateTime,omitempty"`
	TransactionInformation string       `json:"TransactionInformation,omitempty"`
	Amount                 obAmount     `json:"Amount"`
	Balance                *obTxBalance `json:"Balance,omitempty"`
	MerchantDetails        *obMerchant  `json:"MerchantDetails,omitempty"`
}

func (b *Bank) transactions(w http.ResponseWriter, r *http.Request, c consent) {
	ctx := r.Context()
	a := b.pathAccount(w, r, c)
	if a == nil {
		return
	}
	q := r.URL.Query()
	var from, to time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"fromBookingDateTime", &from}, {"toBookingDateTime", &to}} {
		if s := q.Get(p.name); s != "" {
			v, err := parseBookingTime(s)
			if err != nil {
				b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Field.InvalidDate", "Not an ISODateTime: "+s, p.name)
				return
			}
			*p.dst = v
		}
	}
	now := b.now()
	if c.TxFrom != nil && (from.IsZero() || from.Before(*c.TxFrom)) {
		from = *c.TxFrom
	}
	if c.TxTo != nil && (to.IsZero() || to.After(*c.TxTo)) {
		to = *c.TxTo
	}
	earliest := now.AddDate(0, 0, -365)
	if from.IsZero() || from.Before(earliest) {
		from = earliest
	}
	if to.IsZero() || to.After(now) {
		to = now
	}
	page := 1
	if s := q.Get("page"); s != "" {
		var err error
		if page, err = strconv.Atoi(s); err != nil || page < 1 {
			b.apiError(w, r, http.StatusBadRequest, "400 BadRequest", "UK.OBIE.Field.Invalid", "page must be a positive integer.", "page")
			return
		}
	}
	var txs []bankgate.Transaction
	if !from.After(to) {
		call, err := b.call(ctx, c.User)
		if err != nil {
			b.dataError(w, r, err)
			return
		}
		txs, _, err = b.data.Transactions(ctx, call, a.ID, from, to)
		if err != nil {
			b.dataError(w, r, err)
			return
		}
	}
	// The sandbox's days are inclusive; keep what the instants say.
	txs = slices.DeleteFunc(txs, func(t bankgate.Transaction) bool { return t.Date.Before(from) || t.Date.After(to) })
	// Newest first, as banks list them.
	sort.SliceStable(txs, func(i, j int) bool { return txs[i].Date.After(txs[j].Date) })
	pages := max(1, (len(txs)+b.pageSize-1)/b.pageSize)
	start := min((page-1)*b.pageSize, len(txs))
	end := min(start+b.pageSize, len(txs))
	detail := slices.Contains(c.Permissions, "ReadTransactionsDetail")
	credits := slices.Contains(c.Permissions, "ReadTransactionsCredits")
	debits := slices.Contains(c.Permissions, "ReadTransactionsDebits")
	id := accountID(c.User, a.ID)
	out := []obTransaction{}
	for i, t := range txs[start:end] {
		ind := "Credit"
		if t.Type == "debit" {
			ind = "Debit"
		}
		if (ind == "Credit" && !credits) || (ind == "Debit" && !debits) {
			continue
		}
		o := obTransaction{AccountID: id, TransactionID: txID(id, t, start+i), TransactionReference: t.Reference,
			CreditDebitIndicator: ind, Status: "Booked", BookingDateTime: isoTime(t.Date), ValueDateTime: isoTime(t.Date),
			Amount: obAmount{Amount: money(t.Amount), Currency: t.Currency.Code}}
		if detail {
			o.TransactionInformation = t.Description
			o.Balance = &obTxBalance{Amount: obAmount{Amount: money(t.AfterAmount), Currency: t.Currency.Code},
				CreditDebitIndicator: indicator(t.AfterAmount), Type: "InterimBooked"}
			if t.BrandName != "" {
				o.MerchantDetails = &obMerchant{MerchantName: t.BrandName}
			}
		}
		out = append(out, o)
	}
	link := func(p int) string {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		return b.issuer + r.URL.Path + "?" + v.Encode()
	}
	links := obLinks{Self: link(page), First: link(1), Last: link(pages)}
	if page < pages {
		links.Next = link(page + 1)
	}
	if page > 1 {
		links.Prev = link(page - 1)
	}
	b.writeJSON(w, r, http.StatusOK, map[string]any{"Data": map[string]any{"Transaction": out}, "Links": links,
		"Meta": obMeta{TotalPages: pages, FirstAvailableDateTime: isoTime(earliest), LastAvailableDateTime: isoTime(now)}})
}

// parseBookingTime reads a booking-date filter: the specification's
// ISODateTime, with or without a zone (no zone means UTC).
func parseBookingTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("bad time")
}

func txID(accountID string, t bankgate.Transaction, i int) string {
	sum := sha256.Sum256([]byte(accountID + "\x00" + t.Reference + "\x00" + t.Date.String() + "\x00" + t.Amount.String() + "\x00" + t.Description))
	return hex.EncodeToString(sum[:12])
}

type obAddress struct {
	AddressType string   `json:"AddressType,omitempty"`
	AddressLine []string `json:"AddressLine,omitempty"`
	TownName    string   `json:"TownName,omitempty"`
	PostCode    string   `json:"PostCode,omitempty"`
	Country     string   `json:"Country,omitempty"`
}

type obParty struct {
	PartyID      string      `json:"PartyId"`
	PartyType    string      `json:"PartyType,omitempty"`
	Name         string      `json:"Name,omitempty"`
	EmailAddress string      `json:"EmailAddress,omitempty"`
	Phone        string      `json:"Phone,omitempty"`
	Mobile       string      `json:"Mobile,omitempty"`
	Address      []obAddress `json:"Address,omitempty"`
}

func (b *Bank) obParty(ctx context.Context, user string) (*obParty, error) {
	call, err := b.call(ctx, user)
	if err != nil {
		return nil, err
	}
	id, _, err := b.data.Identity(ctx, call)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte("party\x00" + user))
	p := &obParty{PartyID: hex.EncodeToString(sum[:8]), PartyType: "Sole", Name: id.Name, EmailAddress: id.EmailAddress}
	for _, n := range id.Numbers {
		v := phone(n.Value)
		switch {
		case v == "":
		case n.Type == "mobile" && p.Mobile == "":
			p.Mobile = v
		case n.Type != "mobile" && p.Phone == "":
			p.Phone = v
		}
	}
	addr := obAddress{AddressType: "Residential", TownName: id.Address.City, PostCode: id.Address.ZipCode, Country: id.Address.Country}
	for _, l := range []string{id.Address.Flat, id.Address.Building, id.Address.Area} {
		if l != "" {
			addr.AddressLine = append(addr.AddressLine, l)
		}
	}
	if len(addr.Country) != 2 {
		// The sandbox writes the country's name; the PSUs live where
		// DataBank is.
		addr.Country = "AE"
	}
	p.Address = []obAddress{addr}
	return p, nil
}

// callingCodes are the country calling codes phone numbers are split at.
var callingCodes = []string{"971", "966", "965", "974", "973", "968", "962", "20", "44", "1"}

// phone writes an international number as the specification's
// PhoneNumber wants it: +<calling code>-<number>; "" if it cannot.
func phone(s string) string {
	digits, ok := strings.CutPrefix(strings.ReplaceAll(s, " ", ""), "+")
	if !ok || len(digits) < 4 || strings.Trim(digits, "0123456789") != "" {
		return ""
	}
	for _, c := range callingCodes {
		if rest, ok := strings.CutPrefix(digits, c); ok {
			return "+" + c + "-" + rest
		}
	}
	return "+" + digits[:3] + "-" + digits[3:]
}

func (b *Bank) party(w http.ResponseWriter, r *http.Request, c consent) {
	p, err := b.obParty(r.Context(), c.User)
	if err != nil {
		b.dataError(w, r, err)
		return
	}
	b.writeJSON(w, r, http.StatusOK, map[string]any{"Data": map[string]any{"Party": p},
		"Links": obLinks{Self: b.issuer + r.URL.RequestURI()}, "Meta": obMeta{TotalPages: 1}})
}

func (b *Bank) parties(w http.ResponseWriter, r *http.Request, c consent) {
	a := b.pathAccount(w, r, c)
	if a == nil {
		return
	}
	p, err := b.obParty(r.Context(), c.User)
	if err != nil {
		b.dataError(w, r, err)
		return
	}
	b.writeJSON(w, r, http.StatusOK, map[string]any{"Data": map[string]any{"Party": []*obParty{p}},
		"Links": obLinks{Self: b.issuer + r.URL.RequestURI()}, "Meta": obMeta{TotalPages: 1}})
}
