package service

import (
	"context"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// The data and payment calls. Each runs one connector capability through
// run, so MFA prompts, resumes and operation records are handled the same
// way everywhere; opts.Endpoint names the operation. Payments are always
// recorded for operation/status.

// Identity reads the user's identity.
func (s *Service) Identity(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[*bankgate.Identity], error) {
	return run(s, ctx, p, opts, bank.AccountsReader.Identity)
}

// Accounts reads the user's accounts.
func (s *Service) Accounts(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Account], error) {
	return run(s, ctx, p, opts, bank.AccountsReader.Accounts)
}

// Balance reads an account's balance.
func (s *Service) Balance(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, accountID string) (*bankgate.Outcome[*bankgate.Account], error) {
	return run(s, ctx, p, opts, func(r bank.BalanceReader, ctx context.Context, call *bank.Call) (*bankgate.Account, *bank.Challenge, error) {
		return r.Balance(ctx, call, accountID)
	})
}

// CardBalance reads a card's balance.
func (s *Service) CardBalance(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, cardID string) (*bankgate.Outcome[*bankgate.CardBalance], error) {
	return run(s, ctx, p, opts, func(r bank.CardsReader, ctx context.Context, call *bank.Call) (*bankgate.CardBalance, *bank.Challenge, error) {
		return r.CardBalance(ctx, call, cardID)
	})
}

// Transactions reads an account's transactions between two dates.
func (s *Service) Transactions(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, accountID string, from, to time.Time) (*bankgate.Outcome[[]bankgate.Transaction], error) {
	return run(s, ctx, p, opts, func(r bank.TransactionsReader, ctx context.Context, call *bank.Call) ([]bankgate.Transaction, *bank.Challenge, error) {
		return r.Transactions(ctx, call, accountID, from, to)
	})
}

// CardTransactions reads a card's transactions between two dates.
func (s *Service) CardTransactions(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, cardID string, from, to time.Time) (*bankgate.Outcome[[]bankgate.Transaction], error) {
	return run(s, ctx, p, opts, func(r bank.CardsReader, ctx context.Context, call *bank.Call) ([]bankgate.Transaction, *bank.Challenge, error) {
		return r.CardTransactions(ctx, call, cardID, from, to)
	})
}

// Cards reads the user's cards.
func (s *Service) Cards(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Card], error) {
	return run(s, ctx, p, opts, bank.CardsReader.Cards)
}

// Metadata reads the bank's account and payment metadata.
func (s *Service) Metadata(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[*bankgate.AccountsMetadata], error) {
	return run(s, ctx, p, opts, func(r bank.MetadataReader, ctx context.Context, call *bank.Call) (*bankgate.AccountsMetadata, *bank.Challenge, error) {
		return single(r.Metadata(ctx, call))
	})
}

// Beneficiaries reads the user's beneficiaries.
func (s *Service) Beneficiaries(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.Beneficiary], error) {
	return run(s, ctx, p, opts, bank.Payer.Beneficiaries)
}

// WireBeneficiaries reads the user's US wire beneficiaries.
func (s *Service) WireBeneficiaries(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions) (*bankgate.Outcome[[]bankgate.WireBeneficiary], error) {
	return run(s, ctx, p, opts, bank.WirePayer.WireBeneficiaries)
}

// payment runs a payment: recorded for operation/status.
func payment[C, V any](s *Service, ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions,
	fn func(c C, ctx context.Context, call *bank.Call) (V, *bank.Challenge, error)) (*bankgate.Outcome[V], error) {
	opts.Record = true
	out, err := run(s, ctx, p, opts, fn)
	if err != nil || !out.Prompting() {
		s.auditPayment(ctx, p, opts.Endpoint, opIDOf(out), err)
	}
	return out, err
}

// CreateBeneficiary adds a beneficiary.
func (s *Service) CreateBeneficiary(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, b *bankgate.Beneficiary) (*bankgate.Outcome[bankgate.Done], error) {
	return payment(s, ctx, p, opts, func(r bank.Payer, ctx context.Context, call *bank.Call) (bankgate.Done, *bank.Challenge, error) {
		ch, err := r.CreateBeneficiary(ctx, call, b)
		return bankgate.Done{}, ch, err
	})
}

// Transfer pays a beneficiary or a named receiver.
func (s *Service) Transfer(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return payment(s, ctx, p, opts, func(r bank.Payer, ctx context.Context, call *bank.Call) (*bankgate.TransferResult, *bank.Challenge, error) {
		return r.Transfer(ctx, call, tr)
	})
}

// TransferAutoflow adds the beneficiary if needed, then pays it.
func (s *Service) TransferAutoflow(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return payment(s, ctx, p, opts, func(r bank.Payer, ctx context.Context, call *bank.Call) (*bankgate.TransferResult, *bank.Challenge, error) {
		return r.TransferAutoflow(ctx, call, tr)
	})
}

// CreateWireBeneficiary adds a US wire beneficiary.
func (s *Service) CreateWireBeneficiary(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, b *bankgate.WireBeneficiary) (*bankgate.Outcome[bankgate.Done], error) {
	return payment(s, ctx, p, opts, func(r bank.WirePayer, ctx context.Context, call *bank.Call) (bankgate.Done, *bank.Challenge, error) {
		ch, err := r.CreateWireBeneficiary(ctx, call, b)
		return bankgate.Done{}, ch, err
	})
}

// WireTransfer pays a US wire beneficiary.
func (s *Service) WireTransfer(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return payment(s, ctx, p, opts, func(r bank.WirePayer, ctx context.Context, call *bank.Call) (*bankgate.TransferResult, *bank.Challenge, error) {
		return r.WireTransfer(ctx, call, tr)
	})
}

// WireTransferAutoflow adds the US wire beneficiary if needed, then pays
// it.
func (s *Service) WireTransferAutoflow(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return payment(s, ctx, p, opts, func(r bank.WirePayer, ctx context.Context, call *bank.Call) (*bankgate.TransferResult, *bank.Challenge, error) {
		return r.WireTransferAutoflow(ctx, call, tr)
	})
}

// CreateACHPull pulls money in by ACH; the pull is known by the
// operation's ID.
func (s *Service) CreateACHPull(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, req *bankgate.ACHPullRequest) (*bankgate.Outcome[bankgate.Done], error) {
	return payment(s, ctx, p, opts, func(r bank.ACHPuller, ctx context.Context, call *bank.Call) (bankgate.Done, *bank.Challenge, error) {
		ch, err := r.CreateACHPull(ctx, call, req)
		return bankgate.Done{}, ch, err
	})
}

// ACHPull reads the ACH pull made by the operation with the given ID.
// It never asks for input and records nothing: operationID names the
// pull, it resumes nothing.
func (s *Service) ACHPull(ctx context.Context, p *bankgate.Principal, operationID string) (*bankgate.ACHPull, error) {
	r, err := capability[bank.ACHPuller](s, p)
	if err != nil {
		return nil, err
	}
	return r.ACHPull(ctx, &bank.Call{Session: session(p), Now: p.Now, OperationID: operationID}, operationID)
}
