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

// payment runs a payment: recorded for operation/status, with event's
// webhook event (nil for none) enqueued with the record of its final
// state.
func payment[C, V any](s *Service, ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions,
	fn func(c C, ctx context.Context, call *bank.Call) (V, *bank.Challenge, error), event eventFunc[V]) (*bankgate.Outcome[V], error) {
	opts.Record = true
	c, err := capability[C](s, p)
	if err != nil {
		return nil, err
	}
	out, err := runCallEvent(s, ctx, p, opts, func(ctx context.Context, call *bank.Call) (V, *bank.Challenge, error) {
		return fn(c, ctx, call)
	}, event)
	if err != nil || !out.Prompting() {
		s.auditPayment(ctx, p, opts.Endpoint, opIDOf(out), err)
	}
	return out, err
}

// transferEvent makes transfer.done or transfer.failed.
func transferEvent(p *bankgate.Principal, endpoint string) eventFunc[*bankgate.TransferResult] {
	return func(opID string, res *bankgate.TransferResult, err error, now time.Time) *bankgate.WebhookEvent {
		if err == nil && res != nil && res.CoolDown != nil {
			return nil // not made: the beneficiary is still cooling down
		}
		return transferWebhook(p.AppID, p.ConnectionID, p.BankID, opID, endpoint, res, err, now)
	}
}

// CreateBeneficiary adds a beneficiary. Once it is added, the connector's
// list of beneficiaries is read for when it becomes usable: the
// beneficiary.active event is due then.
func (s *Service) CreateBeneficiary(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, b *bankgate.Beneficiary) (*bankgate.Outcome[bankgate.Done], error) {
	out, err := payment(s, ctx, p, opts, func(r bank.Payer, ctx context.Context, call *bank.Call) (*bankgate.Beneficiary, *bank.Challenge, error) {
		ch, err := r.CreateBeneficiary(ctx, call, b)
		if ch != nil || err != nil {
			return nil, ch, err
		}
		return newestBeneficiary(ctx, r, call), nil, nil
	}, beneficiaryEvent(p))
	if err != nil {
		return nil, err
	}
	return &bankgate.Outcome[bankgate.Done]{OperationID: out.OperationID, Status: out.Status, Inputs: out.Inputs}, nil
}

// beneficiaryEvent makes beneficiary.active for a new beneficiary, due
// when its cool-down ends (ActiveAt is on the principal's clock).
func beneficiaryEvent(p *bankgate.Principal) eventFunc[*bankgate.Beneficiary] {
	return func(opID string, nb *bankgate.Beneficiary, err error, now time.Time) *bankgate.WebhookEvent {
		if err != nil || nb == nil {
			return nil
		}
		e := beneficiaryWebhook(p.AppID, p.ConnectionID, p.BankID, opID, nb, now)
		if wait := nb.ActiveAt.Sub(p.Now); wait > 0 {
			e.DueAt = now.Add(wait)
		}
		return e
	}
}

// newestBeneficiary is the most recently created of the user's
// beneficiaries, nil if they cannot be read without input.
func newestBeneficiary(ctx context.Context, r bank.Payer, call *bank.Call) *bankgate.Beneficiary {
	bs, ch, err := r.Beneficiaries(ctx, call)
	if err != nil || ch != nil {
		return nil
	}
	var newest *bankgate.Beneficiary
	for i := range bs {
		if newest == nil || bs[i].CreatedAt.After(newest.CreatedAt) {
			newest = &bs[i]
		}
	}
	return newest
}

// Transfer pays a beneficiary or a named receiver.
func (s *Service) Transfer(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return payment(s, ctx, p, opts, func(r bank.Payer, ctx context.Context, call *bank.Call) (*bankgate.TransferResult, *bank.Challenge, error) {
		return r.Transfer(ctx, call, tr)
	}, transferEvent(p, opts.Endpoint))
}

// TransferAutoflow adds the beneficiary if needed, then pays it.
func (s *Service) TransferAutoflow(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return payment(s, ctx, p, opts, func(r bank.Payer, ctx context.Context, call *bank.Call) (*bankgate.TransferResult, *bank.Challenge, error) {
		return r.TransferAutoflow(ctx, call, tr)
	}, transferEvent(p, opts.Endpoint))
}

// CreateWireBeneficiary adds a US wire beneficiary; like
// CreateBeneficiary, its beneficiary.active event is due when its
// cool-down ends.
func (s *Service) CreateWireBeneficiary(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, b *bankgate.WireBeneficiary) (*bankgate.Outcome[bankgate.Done], error) {
	out, err := payment(s, ctx, p, opts, func(r bank.WirePayer, ctx context.Context, call *bank.Call) (*bankgate.Beneficiary, *bank.Challenge, error) {
		ch, err := r.CreateWireBeneficiary(ctx, call, b)
		if ch != nil || err != nil {
			return nil, ch, err
		}
		ws, ch, err := r.WireBeneficiaries(ctx, call)
		if err != nil || ch != nil {
			return nil, nil, nil
		}
		var newest *bankgate.WireBeneficiary
		for i := range ws {
			if newest == nil || ws[i].CreatedAt.After(newest.CreatedAt) {
				newest = &ws[i]
			}
		}
		if newest == nil {
			return nil, nil, nil
		}
		return &bankgate.Beneficiary{ID: newest.ID, Name: newest.Name, AccountNumber: newest.AccountNumber, ActiveAt: newest.ActiveAt}, nil, nil
	}, beneficiaryEvent(p))
	if err != nil {
		return nil, err
	}
	return &bankgate.Outcome[bankgate.Done]{OperationID: out.OperationID, Status: out.Status, Inputs: out.Inputs}, nil
}

// WireTransfer pays a US wire beneficiary.
func (s *Service) WireTransfer(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return payment(s, ctx, p, opts, func(r bank.WirePayer, ctx context.Context, call *bank.Call) (*bankgate.TransferResult, *bank.Challenge, error) {
		return r.WireTransfer(ctx, call, tr)
	}, transferEvent(p, opts.Endpoint))
}

// WireTransferAutoflow adds the US wire beneficiary if needed, then pays
// it.
func (s *Service) WireTransferAutoflow(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, tr *bankgate.TransferRequest) (*bankgate.Outcome[*bankgate.TransferResult], error) {
	return payment(s, ctx, p, opts, func(r bank.WirePayer, ctx context.Context, call *bank.Call) (*bankgate.TransferResult, *bank.Challenge, error) {
		return r.WireTransferAutoflow(ctx, call, tr)
	}, transferEvent(p, opts.Endpoint))
}

// CreateACHPull pulls money in by ACH; the pull is known by the
// operation's ID.
func (s *Service) CreateACHPull(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, req *bankgate.ACHPullRequest) (*bankgate.Outcome[bankgate.Done], error) {
	return payment(s, ctx, p, opts, func(r bank.ACHPuller, ctx context.Context, call *bank.Call) (bankgate.Done, *bank.Challenge, error) {
		ch, err := r.CreateACHPull(ctx, call, req)
		return bankgate.Done{}, ch, err
	}, func(opID string, _ bankgate.Done, err error, now time.Time) *bankgate.WebhookEvent {
		return achWebhook(p.AppID, p.ConnectionID, p.BankID, opID, req, err, now)
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
