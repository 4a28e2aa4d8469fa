package http

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/bankgate/bankgate"
)

// The batch product (used by @dapi-co/dapi-node only): bulk transfers
// from one account, run item by item by the service, and recorded per
// connection for batch/transfers/get and items/get. This file only
// decodes and renders.

func (s *Server) registerBatchRoutes() {
	s.handle("/batch/metadata/get", s.bearer(s.batchMetadata))
	s.handle("/batch/transfers/create", bearerOf(s, s.batchTransfersCreate))
	s.handle("/batch/file/create", bearerOf(s, s.batchFileCreate))
	s.handle("/batch/transfers/get", bearerOf(s, s.batchTransfersGet))
	s.handle("/batch/items/get", bearerOf(s, s.batchItemsGet))
}

type batchMetadataResponse struct {
	envelope
	Metadata struct {
		MaxTotalTransferAmount float64        `json:"maxTotalTransferAmount"`
		FilenameMaxChars       int            `json:"filenameMaxChars"`
		MinTotalTransferAmount float64        `json:"minTotalTransferAmount"`
		MaxBatchTransfers      int            `json:"maxBatchTransfers"`
		Validators             map[string]any `json:"validators"`
	} `json:"metadata"`
}

func (s *Server) batchMetadata(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	return respond(s.svc.Metadata(ctx, p, callOpts(c, base)))(func(env envelope, m *bankgate.AccountsMetadata) any {
		env.OperationID = "" // Dapi answers metadata without one
		out := &batchMetadataResponse{envelope: env}
		md := &out.Metadata
		md.MaxTotalTransferAmount, md.FilenameMaxChars = bankgate.MaxBatchTotalAmount, bankgate.BatchFilenameChars
		md.MinTotalTransferAmount, md.MaxBatchTransfers = bankgate.MinBatchTotalAmount, bankgate.MaxBatchItems
		v := toWireValidators(m.BeneficiaryValidators)
		md.Validators = map[string]any{"same": v["same"], "local": v["local"], "intl": v["local"]}
		return out
	})
}

type batchItem struct {
	Type        string    `json:"type"`
	Amount      flexMoney `json:"amount"`
	Currency    string    `json:"currency"`
	Remark      string    `json:"remark"`
	Beneficiary struct {
		AccountNumber string `json:"accountNumber"`
		IBAN          string `json:"iban"`
		Name          string `json:"name"`
		Nickname      string `json:"nickname"`
		Country       string `json:"country"`
		BankName      string `json:"bankName"`
		BranchName    string `json:"branchName"`
		SwiftCode     string `json:"swiftCode"`
	} `json:"beneficiary"`
}

type batchCreateRequest struct {
	baseRequest
	SenderID string `json:"senderID"`
	Sender   *struct {
		IBAN          string `json:"iban"`
		AccountNumber string `json:"accountNumber"`
	} `json:"sender"`
	Type   string      `json:"type"`
	Items  []batchItem `json:"items"`
	Remark string      `json:"remark"`
}

// wireSender is a batch's sender account.
type wireSender struct {
	IBAN          string `json:"iban"`
	AccountNumber string `json:"accountNumber"`
}

type wireBatchItemError struct {
	Msg   string `json:"msg"`
	Field string `json:"field"`
	Type  string `json:"type"`
}

type wireBatchItem struct {
	Status        string               `json:"status"`
	Errors        []wireBatchItemError `json:"errors"`
	Name          string               `json:"name"`
	Amount        float64              `json:"amount"`
	Currency      string               `json:"currency"`
	IBAN          string               `json:"iban"`
	AccountNumber string               `json:"accountNumber"`
	Reference     string               `json:"reference,omitempty"`
}

// wireBatch is a batch as Dapi reports it.
type wireBatch struct {
	Stage                string          `json:"stage"`
	Date                 string          `json:"date"`
	Sender               wireSender      `json:"sender"`
	Items                []wireBatchItem `json:"items"`
	NumFailedItems       int             `json:"numFailedItems"`
	NumPendingItems      int             `json:"numPendingItems"`
	NumSucceededItems    int             `json:"numSucceededItems"`
	TotalAmountRequested float64         `json:"totalAmountRequested"`
	TotalAmountSucceeded float64         `json:"totalAmountSucceeded"`
	Currency             string          `json:"currency"`
	Reference            string          `json:"reference"`
	FileName             string          `json:"fileName"`
}

// domain returns the service's batch request; id names the sender.
func (r *batchCreateRequest) domain(id string) *bankgate.BatchRequest {
	out := &bankgate.BatchRequest{SenderID: id, Type: r.Type, Remark: r.Remark}
	for _, it := range r.Items {
		b := it.Beneficiary
		out.Items = append(out.Items, bankgate.BatchItem{Type: it.Type, Amount: it.Amount.v, Remark: it.Remark,
			Beneficiary: bankgate.Beneficiary{Name: b.Name, Nickname: b.Nickname, IBAN: b.IBAN, AccountNumber: b.AccountNumber,
				SwiftCode: b.SwiftCode, Country: b.Country, BankName: b.BankName, BranchName: b.BranchName}})
	}
	return out
}

// amountsGiven reports whether every item has an amount (an absent one is
// not a zero amount: the service refuses both, with one message).
func (r *batchCreateRequest) amountsGiven() error {
	for i, it := range r.Items {
		if !it.Amount.set {
			return bankgate.Errorf(bankgate.ParameterError, "Item %d needs a positive amount.", i)
		}
	}
	return nil
}

// toWireBatch renders a batch as Dapi reports it.
func toWireBatch(b *bankgate.Batch) *wireBatch {
	out := &wireBatch{Stage: b.Stage, Date: wireTime(b.CreatedAt), Sender: wireSender{IBAN: b.SenderIBAN, AccountNumber: b.SenderNumber},
		Items: []wireBatchItem{}, NumFailedItems: b.Count(bankgate.BatchFailed), NumPendingItems: b.Count(bankgate.BatchPending),
		NumSucceededItems: b.Count(bankgate.BatchSucceeded), TotalAmountRequested: b.Total("").Float(),
		TotalAmountSucceeded: b.Total(bankgate.BatchSucceeded).Float(), Currency: b.Currency, Reference: b.Reference, FileName: b.FileName}
	for _, it := range b.Items {
		d := wireBatchItem{Status: it.Status, Errors: []wireBatchItemError{}, Name: it.Beneficiary.Name, Amount: it.Amount.Float(),
			Currency: b.Currency, IBAN: it.Beneficiary.IBAN, AccountNumber: it.Beneficiary.AccountNumber, Reference: it.Reference}
		if it.ErrorType != "" {
			d.Errors = append(d.Errors, wireBatchItemError{Msg: it.ErrorMsg, Type: string(it.ErrorType)})
		}
		out.Items = append(out.Items, d)
	}
	return out
}

type batchDetailsResponse struct {
	envelope
	Details *wireBatch `json:"details"`
}

// batchTransfersCreate pays each item with the connector's autoflow.
func (s *Server) batchTransfersCreate(ctx context.Context, c *request, p *bankgate.Principal, req *batchCreateRequest) (any, error) {
	if req.OperationID == "" {
		if err := missing("senderID", req.SenderID); err != nil {
			return nil, err
		}
		if err := req.amountsGiven(); err != nil {
			return nil, err
		}
	}
	return respond(s.svc.CreateBatch(ctx, p, callOpts(c, &req.baseRequest), req.domain(req.SenderID), false))(func(env envelope, r *bankgate.BatchResult) any {
		env.OperationID = r.Batch.Reference
		return &batchDetailsResponse{envelope: env, Details: toWireBatch(r.Batch)}
	})
}

type batchFileResponse struct {
	envelope
	FileContent   string     `json:"fileContent"`
	FileExtension string     `json:"fileExtension"`
	Details       *wireBatch `json:"details"`
}

// batchFileCreate prepares a bulk-payment file (CSV, base64) for the
// user to upload at the bank; nothing is paid.
func (s *Server) batchFileCreate(ctx context.Context, c *request, p *bankgate.Principal, req *batchCreateRequest) (any, error) {
	var id string
	if req.OperationID == "" {
		if req.Sender == nil || (req.Sender.IBAN == "" && req.Sender.AccountNumber == "") {
			return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"sender\" (iban or accountNumber) is required.")
		}
		if err := req.amountsGiven(); err != nil {
			return nil, err
		}
	}
	if req.Sender != nil {
		if id = req.Sender.IBAN; id == "" {
			id = req.Sender.AccountNumber
		}
	}
	return respond(s.svc.CreateBatch(ctx, p, callOpts(c, &req.baseRequest), req.domain(id), true))(func(env envelope, r *bankgate.BatchResult) any {
		env.OperationID = r.Batch.Reference
		return &batchFileResponse{envelope: env, FileContent: base64.StdEncoding.EncodeToString(r.File), FileExtension: "csv", Details: toWireBatch(r.Batch)}
	})
}

type batchListRequest struct {
	baseRequest
	FromDate  string `json:"fromDate"`
	ToDate    string `json:"toDate"`
	Reference string `json:"reference"`
}

type batchSummary struct {
	Stage     string `json:"stage"`
	Date      string `json:"date"`
	Reference string `json:"reference"`
	FileName  string `json:"fileName"`
}

type batchTransfersResponse struct {
	envelope
	Transfers []batchSummary `json:"transfers"`
}

func (s *Server) batchTransfersGet(ctx context.Context, c *request, p *bankgate.Principal, req *batchListRequest) (any, error) {
	if err := missing("fromDate", req.FromDate, "toDate", req.ToDate); err != nil {
		return nil, err
	}
	from, err := parseDate("fromDate", req.FromDate)
	if err != nil {
		return nil, err
	}
	to, err := parseDate("toDate", req.ToDate)
	if err != nil {
		return nil, err
	}
	if to.Before(from) {
		return nil, bankgate.Errorf(bankgate.InvalidDateRange, "toDate is before fromDate.")
	}
	batches, err := s.svc.Batches(ctx, p)
	if err != nil {
		return nil, err
	}
	out := &batchTransfersResponse{envelope: done(""), Transfers: []batchSummary{}}
	for _, b := range batches {
		if d := b.CreatedAt.Truncate(time.Millisecond); d.Before(from) || !d.Before(to.AddDate(0, 0, 1)) {
			continue
		}
		out.Transfers = append(out.Transfers, batchSummary{Stage: b.Stage, Date: wireTime(b.CreatedAt), Reference: b.Reference, FileName: b.FileName})
	}
	return out, nil
}

type batchItemsResponse struct {
	envelope
	Transfers *wireBatch `json:"transfers"`
}

func (s *Server) batchItemsGet(ctx context.Context, c *request, p *bankgate.Principal, req *batchListRequest) (any, error) {
	if err := missing("reference", req.Reference); err != nil {
		return nil, err
	}
	b, err := s.svc.Batch(ctx, p, req.Reference)
	if err != nil {
		return nil, err
	}
	return &batchItemsResponse{envelope: done(req.Reference), Transfers: toWireBatch(b)}, nil
}
