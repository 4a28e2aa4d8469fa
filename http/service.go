package http

import (
	"context"
	"time"

	"github.com/bankgate/bankgate"
)

// Service is what the server asks of the application layer (package
// service, whose *Service implements it): it decodes a request, calls one
// of these, and renders the answer. The handler tests give it a fake.
type Service interface {
	// Ready reports whether the store answers.
	Ready(ctx context.Context) error

	// The Connect layer and the token exchange.
	AppByKey(ctx context.Context, appKey string) (*bankgate.App, error)
	Banks(ctx context.Context, appKey string, countries []string) ([]bankgate.Bank, error)
	CheckLogin(ctx context.Context, req bankgate.LoginRequest) (*bankgate.App, error)
	Login(ctx context.Context, req bankgate.LoginRequest) (*bankgate.LoginResult, error)
	// RedirectBank reports whether bankID logs users in at the bank (by
	// redirect): its login takes no username and password.
	RedirectBank(bankID string) bool
	ExchangeToken(ctx context.Context, appSecret, accessCode, connectionID string, forwarded bool) (*bankgate.Exchanged, error)
	OperationStatus(ctx context.Context, appSecret, operationID string) (*bankgate.Operation, error)

	// Per-user calls: authentication, then one call per endpoint.
	Authenticate(ctx context.Context, token, appSecret, userSecret string) (*bankgate.Principal, error)
	AuthenticateTokenID(ctx context.Context, tokenID, appSecret, userSecret string) (*bankgate.Principal, error)
	Delink(ctx context.Context, p *bankgate.Principal) error
	BeginIdempotent(ctx context.Context, p *bankgate.Principal, key, endpoint string, body []byte) (*bankgate.StoredResponse, error)
	FinishIdempotent(ctx context.Context, p *bankgate.Principal, key string, resp bankgate.StoredResponse) error

	Identity(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[*bankgate.Identity], error)
	Accounts(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Account], error)
	Balance(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, accountID string) (*bankgate.Outcome[*bankgate.Account], error)
	CardBalance(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, cardID string) (*bankgate.Outcome[*bankgate.CardBalance], error)
	Transactions(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, accountID string, from, to time.Time) (*bankgate.Outcome[[]bankgate.Transaction], error)
	CardTransactions(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, cardID string, from, to time.Time) (*bankgate.Outcome[[]bankgate.Transaction], error)
	Cards(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Card], error)
	Metadata(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[*bankgate.AccountsMetadata], error)
	Beneficiaries(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Beneficiary], error)
	CreateBeneficiary(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, b *bankgate.Beneficiary) (*bankgate.Outcome[bankgate.Done], error)
	Transfer(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error)
	TransferAutoflow(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error)
	WireBeneficiaries(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.WireBeneficiary], error)
	CreateWireBeneficiary(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, b *bankgate.WireBeneficiary) (*bankgate.Outcome[bankgate.Done], error)
	WireTransfer(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error)
	WireTransferAutoflow(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error)
	CreateACHPull(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, req *bankgate.ACHPullRequest) (*bankgate.Outcome[bankgate.Done], error)
	ACHPull(ctx context.Context, p *bankgate.Principal, operationID string) (*bankgate.ACHPull, error)

	CreateBatch(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, req *bankgate.BatchRequest, file bool) (*bankgate.Outcome[*bankgate.BatchResult], error)
	Batches(ctx context.Context, p *bankgate.Principal) ([]*bankgate.Batch, error)
	Batch(ctx context.Context, p *bankgate.Principal, reference string) (*bankgate.Batch, error)

	// The sandbox's own endpoints.
	AdvanceClock(ctx context.Context, appSecret, advance string) (*bankgate.SandboxClock, error)
	CreateSandboxUser(ctx context.Context, appSecret, bankID string, fixture []byte) (*bankgate.SandboxUser, error)
	SandboxUsers(ctx context.Context, appSecret string) ([]bankgate.SandboxUser, error)
	DeleteSandboxUser(ctx context.Context, appSecret, bankID, username string) error
	// FireSandboxWebhook enqueues a sample webhook event of type typ for
	// the sandbox app and returns its webhook-id.
	FireSandboxWebhook(ctx context.Context, appSecret, typ string) (string, error)
}
