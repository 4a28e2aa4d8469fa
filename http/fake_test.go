package http

import (
	"context"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
)

// fakeService is the Service the handler tests run against: each method
// records its call and returns the error set for it (errs, by method
// name), or a prompt for user input when prompt is set (methods whose
// outcome may prompt), or a fixed value.
type fakeService struct {
	mu     sync.Mutex
	calls  []string
	args   map[string][]any // the last call's arguments beyond ctx, by method
	errs   map[string]error
	prompt bool
	// stored is what BeginIdempotent answers; finished what
	// FinishIdempotent was given.
	stored   *bankgate.StoredResponse
	finished *bankgate.StoredResponse
	app      bankgate.App // what AppByKey and CheckLogin answer
	// lastCtx is the context Authenticate was last called with.
	lastCtx context.Context
}

var _ Service = (*fakeService)(nil)

func newFake() *fakeService {
	return &fakeService{
		args: map[string][]any{},
		errs: map[string]error{},
		app: bankgate.App{ID: "app-1", Key: "key-1", Name: "Fake app", BundleIDs: []string{"com.example.app"},
			AllowedOrigins: []string{"https://app.example.com"}, ServerURL: "https://api.example.com"},
	}
}

// enter records a call of method with its arguments and returns the
// error set for it.
func (f *fakeService) enter(method string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
	f.args[method] = args
	return f.errs[method]
}

func (f *fakeService) called(method string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c == method {
			return true
		}
	}
	return false
}

// fakePrompt is the input every prompting outcome asks for.
var fakePrompt = []bankgate.UserInput{{ID: "otp", Index: 0, Query: "Enter the code sent to your phone", Answer: ""}}

// outcome answers a connector call: the method's error, a prompt, or v.
func outcome[V any](f *fakeService, method string, v V, args ...any) (*bankgate.Outcome[V], error) {
	if err := f.enter(method, args...); err != nil {
		return nil, err
	}
	if f.prompt {
		return &bankgate.Outcome[V]{OperationID: "op-prompt", Status: bankgate.StatusUserInputRequired, Inputs: fakePrompt}, nil
	}
	return &bankgate.Outcome[V]{OperationID: "op-1", Status: bankgate.StatusDone, Value: v}, nil
}

// fakeAppKey is the app key the fake's principals carry.
const fakeAppKey = "0123456789abcdef0123456789abcdef"

var (
	aed       = bankgate.Currencies["AED"]
	fakeNow   = time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	fakeAcct  = bankgate.Account{ID: "acc-1", Name: "Current", Type: "current", IBAN: "AE070331234567890123456", Number: "1234567890", Currency: aed, Balance: 12345}
	fakeBatch = &bankgate.Batch{Reference: "BGB1", Stage: bankgate.BatchDone, CreatedAt: fakeNow, SenderIBAN: fakeAcct.IBAN, Currency: "AED", FileName: "batch-BGB1.csv",
		Items: []bankgate.BatchItem{{Type: "local", Amount: 1000, Status: bankgate.BatchSucceeded, Reference: "ref-1", Beneficiary: bankgate.Beneficiary{Name: "Bob", IBAN: "AE1"}}}}
)

func (f *fakeService) Ready(ctx context.Context) error { return f.enter("Ready") }

func (f *fakeService) AppByKey(ctx context.Context, appKey string) (*bankgate.App, error) {
	if err := f.enter("AppByKey", appKey); err != nil {
		return nil, err
	}
	app := f.app
	return &app, nil
}

func (f *fakeService) Banks(ctx context.Context, appKey string, countries []string) ([]bankgate.Bank, error) {
	if err := f.enter("Banks", appKey, countries); err != nil {
		return nil, err
	}
	return []bankgate.Bank{{ID: "SANDBOX_AE_ENBD", Name: "Emirates NBD", Country: "AE", SwiftCode: "EBILAEAD", Sandbox: true}}, nil
}

func (f *fakeService) CheckLogin(ctx context.Context, req bankgate.LoginRequest) (*bankgate.App, error) {
	if err := f.enter("CheckLogin", req); err != nil {
		return nil, err
	}
	app := f.app
	return &app, nil
}

func (f *fakeService) Login(ctx context.Context, req bankgate.LoginRequest) (*bankgate.LoginResult, error) {
	if err := f.enter("Login", req); err != nil {
		return nil, err
	}
	if f.prompt {
		return &bankgate.LoginResult{OperationID: "op-prompt", Inputs: fakePrompt}, nil
	}
	if f.RedirectBank(req.BankID) && req.OperationID != "op-r-back" {
		return &bankgate.LoginResult{OperationID: "op-r", RedirectURL: fakeRedirectURL}, nil
	}
	return &bankgate.LoginResult{OperationID: "op-1", Connected: &bankgate.Connected{AccessCode: "ac_1", UserSecret: "us_1",
		ConnectionID: "conn-1", UserID: "user-1", TokenID: "tok-1", BankID: req.BankID}}, nil
}

// fakeRedirectBank logs users in by redirect.
const (
	fakeRedirectBank = "MODELBANK_AE_OB31"
	fakeRedirectURL  = "https://bank.example/authorize?client_id=c&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax"
)

func (f *fakeService) RedirectBank(bankID string) bool { return bankID == fakeRedirectBank }

func (f *fakeService) ExchangeToken(ctx context.Context, appSecret, accessCode, connectionID string, forwarded bool) (*bankgate.Exchanged, error) {
	if err := f.enter("ExchangeToken", appSecret, accessCode, connectionID, forwarded); err != nil {
		return nil, err
	}
	return &bankgate.Exchanged{AppKey: fakeAppKey, AccessToken: "at_1", TokenID: "tok-1", UserID: "user-1", ClientUserID: "client-1"}, nil
}

func (f *fakeService) OperationStatus(ctx context.Context, appSecret, operationID string) (*bankgate.Operation, error) {
	if err := f.enter("OperationStatus", appSecret, operationID); err != nil {
		return nil, err
	}
	return &bankgate.Operation{ID: operationID, Endpoint: "/payment/transfer/create", Status: bankgate.StatusFailed, ErrorType: string(bankgate.InsufficientBalance),
		CreatedAt: fakeNow, UpdatedAt: fakeNow.Add(time.Second)}, nil
}

func (f *fakeService) Authenticate(ctx context.Context, token, appSecret, userSecret string) (*bankgate.Principal, error) {
	f.mu.Lock()
	f.lastCtx = ctx
	f.mu.Unlock()
	if err := f.enter("Authenticate", token, appSecret, userSecret); err != nil {
		return nil, err
	}
	return &bankgate.Principal{AppID: "app-1", AppKey: fakeAppKey, ConnectionID: "conn-1", BankID: "SANDBOX_AE_ENBD", UserID: "user-1", TokenID: "tok-1", Now: fakeNow}, nil
}

func (f *fakeService) AuthenticateTokenID(ctx context.Context, tokenID, appSecret, userSecret string) (*bankgate.Principal, error) {
	if err := f.enter("AuthenticateTokenID", tokenID, appSecret, userSecret); err != nil {
		return nil, err
	}
	return &bankgate.Principal{AppID: "app-1", AppKey: fakeAppKey, ConnectionID: "conn-1", BankID: "SANDBOX_AE_ENBD", UserID: "user-1", TokenID: tokenID, Now: fakeNow}, nil
}

func (f *fakeService) Delink(ctx context.Context, p *bankgate.Principal) error {
	return f.enter("Delink", p)
}

func (f *fakeService) BeginIdempotent(ctx context.Context, p *bankgate.Principal, key, endpoint string, body []byte) (*bankgate.StoredResponse, error) {
	if err := f.enter("BeginIdempotent", key, endpoint, string(body)); err != nil {
		return nil, err
	}
	return f.stored, nil
}

func (f *fakeService) FinishIdempotent(ctx context.Context, p *bankgate.Principal, key string, resp bankgate.StoredResponse) error {
	f.mu.Lock()
	f.finished = &resp
	f.mu.Unlock()
	return f.enter("FinishIdempotent", key, resp)
}

func (f *fakeService) Identity(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[*bankgate.Identity], error) {
	return outcome(f, "Identity", &bankgate.Identity{Name: "Ann Example", EmailAddress: "ann@example.com"}, opts)
}

func (f *fakeService) Accounts(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Account], error) {
	return outcome(f, "Accounts", []bankgate.Account{fakeAcct}, opts)
}

func (f *fakeService) Balance(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, accountID string) (*bankgate.Outcome[*bankgate.Account], error) {
	a := fakeAcct
	return outcome(f, "Balance", &a, opts, accountID)
}

func (f *fakeService) CardBalance(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, cardID string) (*bankgate.Outcome[*bankgate.CardBalance], error) {
	return outcome(f, "CardBalance", &bankgate.CardBalance{CardNumber: "4111", AvailableBalance: 50000, Currency: aed}, opts, cardID)
}

var fakeTxs = []bankgate.Transaction{{Type: "debit", Amount: 2500, Date: fakeNow, Description: "Coffee", Currency: aed, Category: "Food"}}

func (f *fakeService) Transactions(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, accountID string, from, to time.Time) (*bankgate.Outcome[[]bankgate.Transaction], error) {
	return outcome(f, "Transactions", fakeTxs, opts, accountID, from, to)
}

func (f *fakeService) CardTransactions(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, cardID string, from, to time.Time) (*bankgate.Outcome[[]bankgate.Transaction], error) {
	return outcome(f, "CardTransactions", fakeTxs, opts, cardID, from, to)
}

func (f *fakeService) Cards(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Card], error) {
	return outcome(f, "Cards", []bankgate.Card{{ID: "card-1", Name: "Gold", CreditLimit: 1000000, Currency: aed}}, opts)
}

var fakeMetadata = &bankgate.AccountsMetadata{BankID: "SANDBOX_AE_ENBD", SwiftCode: "EBILAEAD", BankName: "Emirates NBD",
	Country: bankgate.Currency{Code: "AE", Name: "United Arab Emirates"}, TransactionRange: bankgate.Period{Value: 1, Unit: "year"},
	BeneficiaryValidators: map[string]map[string]bankgate.ValidatorProps{"local": {"iban": {Required: true, Length: 23}}}}

func (f *fakeService) Metadata(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[*bankgate.AccountsMetadata], error) {
	return outcome(f, "Metadata", fakeMetadata, opts)
}

func (f *fakeService) Beneficiaries(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Beneficiary], error) {
	return outcome(f, "Beneficiaries", []bankgate.Beneficiary{{ID: "ben-1", Name: "Bob", IBAN: "AE1", Type: "local", Status: "APPROVED"}}, opts)
}

func (f *fakeService) CreateBeneficiary(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, b *bankgate.Beneficiary) (*bankgate.Outcome[bankgate.Done], error) {
	return outcome(f, "CreateBeneficiary", bankgate.Done{}, opts, b)
}

var fakeTransfer = &bankgate.TransferResult{Reference: "ref-1", Amount: 1000, Currency: aed}

func (f *fakeService) Transfer(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return outcome(f, "Transfer", fakeTransfer, opts, tr)
}

func (f *fakeService) TransferAutoflow(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return outcome(f, "TransferAutoflow", &bankgate.TransferResult{Reference: "ref-2", CoolDown: &bankgate.Period{Value: 1, Unit: "hours"}}, opts, tr)
}

func (f *fakeService) WireBeneficiaries(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.WireBeneficiary], error) {
	return outcome(f, "WireBeneficiaries", []bankgate.WireBeneficiary{{ID: "wben-1", Name: "Carol", AccountNumber: "111", RoutingNumber: "021000021"}}, opts)
}

func (f *fakeService) CreateWireBeneficiary(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, b *bankgate.WireBeneficiary) (*bankgate.Outcome[bankgate.Done], error) {
	return outcome(f, "CreateWireBeneficiary", bankgate.Done{}, opts, b)
}

func (f *fakeService) WireTransfer(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return outcome(f, "WireTransfer", fakeTransfer, opts, tr)
}

func (f *fakeService) WireTransferAutoflow(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return outcome(f, "WireTransferAutoflow", fakeTransfer, opts, tr)
}

func (f *fakeService) CreateACHPull(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, req *bankgate.ACHPullRequest) (*bankgate.Outcome[bankgate.Done], error) {
	return outcome(f, "CreateACHPull", bankgate.Done{}, opts, req)
}

func (f *fakeService) ACHPull(ctx context.Context, p *bankgate.Principal, operationID string) (*bankgate.ACHPull, error) {
	if err := f.enter("ACHPull", operationID); err != nil {
		return nil, err
	}
	return &bankgate.ACHPull{Reference: operationID, Amount: 4200, Currency: bankgate.Currencies["USD"], Status: "pending"}, nil
}

func (f *fakeService) CreateBatch(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, req *bankgate.BatchRequest, file bool) (*bankgate.Outcome[*bankgate.BatchResult], error) {
	res := &bankgate.BatchResult{Batch: fakeBatch}
	if file {
		res.File = []byte("type,amount\n")
	}
	return outcome(f, "CreateBatch", res, opts, req, file)
}

func (f *fakeService) Batches(ctx context.Context, p *bankgate.Principal) ([]*bankgate.Batch, error) {
	if err := f.enter("Batches"); err != nil {
		return nil, err
	}
	old := *fakeBatch
	old.Reference, old.CreatedAt = "BGB0", fakeNow.AddDate(0, -2, 0)
	return []*bankgate.Batch{&old, fakeBatch}, nil
}

func (f *fakeService) Batch(ctx context.Context, p *bankgate.Principal, reference string) (*bankgate.Batch, error) {
	if err := f.enter("Batch", reference); err != nil {
		return nil, err
	}
	return fakeBatch, nil
}

func (f *fakeService) AdvanceClock(ctx context.Context, appSecret, advance string) (*bankgate.SandboxClock, error) {
	if err := f.enter("AdvanceClock", appSecret, advance); err != nil {
		return nil, err
	}
	return &bankgate.SandboxClock{Now: fakeNow.Add(36 * time.Hour), Offset: 36 * time.Hour}, nil
}

func (f *fakeService) CreateSandboxUser(ctx context.Context, appSecret, bankID string, fixture []byte) (*bankgate.SandboxUser, error) {
	if err := f.enter("CreateSandboxUser", appSecret, bankID, string(fixture)); err != nil {
		return nil, err
	}
	return &bankgate.SandboxUser{BankID: bankID, Username: "ci_user", Accounts: 2, MFA: 1}, nil
}

func (f *fakeService) SandboxUsers(ctx context.Context, appSecret string) ([]bankgate.SandboxUser, error) {
	if err := f.enter("SandboxUsers", appSecret); err != nil {
		return nil, err
	}
	return []bankgate.SandboxUser{{BankID: "SANDBOX_AE_ENBD", Username: "ci_user", Accounts: 2}}, nil
}

func (f *fakeService) FireSandboxWebhook(ctx context.Context, appSecret, typ string) (string, error) {
	if err := f.enter("FireSandboxWebhook", appSecret, typ); err != nil {
		return "", err
	}
	return "msg_fake", nil
}

func (f *fakeService) DeleteSandboxUser(ctx context.Context, appSecret, bankID, username string) error {
	return f.enter("DeleteSandboxUser", appSecret, bankID, username)
}
