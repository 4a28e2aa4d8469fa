package http

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
)

// The batch product (used by @dapi-co/dapi-node only): bulk transfers
// from one account, run item by item through the connector's autoflow,
// and recorded per connection for batch/transfers/get and items/get.

// Batch limits reported by batch/metadata/get.
const (
	maxBatchTransfers   = 100
	batchFilenameChars  = 50
	maxBatchTotalAmount = 1_000_000
	minBatchTotalAmount = 1
)

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

func (s *Server) batchMetadata(ctx context.Context, c *call, p *service.Principal, base *baseRequest) (any, error) {
	r, err := service.Capability[bank.MetadataReader](s.svc, p)
	if err != nil {
		return nil, err
	}
	m, err := r.Metadata(ctx, &bank.Call{Session: p.Session, Now: p.Now})
	if err != nil {
		return nil, err
	}
	out := &batchMetadataResponse{envelope: done("")}
	md := &out.Metadata
	md.MaxTotalTransferAmount, md.FilenameMaxChars = maxBatchTotalAmount, batchFilenameChars
	md.MinTotalTransferAmount, md.MaxBatchTransfers = minBatchTotalAmount, maxBatchTransfers
	v := toWireValidators(m.BeneficiaryValidators)
	md.Validators = map[string]any{"same": v["same"], "local": v["local"], "intl": v["local"]}
	return out, nil
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

type wireTransferAccount struct {
	IBAN          string `json:"iban"`
	AccountNumber string `json:"accountNumber"`
}

type batchItemError struct {
	Msg   string `json:"msg"`
	Field string `json:"field"`
	Type  string `json:"type"`
}

type batchItemDetails struct {
	Status        string           `json:"status"`
	Errors        []batchItemError `json:"errors"`
	Name          string           `json:"name"`
	Amount        float64          `json:"amount"`
	Currency      string           `json:"currency"`
	IBAN          string           `json:"iban"`
	AccountNumber string           `json:"accountNumber"`
	Reference     string           `json:"reference,omitempty"`
}

// batchRecord is a batch as recorded and reported.
type batchRecord struct {
	Stage                string              `json:"stage"`
	Date                 string              `json:"date"`
	Sender               wireTransferAccount `json:"sender"`
	Items                []batchItemDetails  `json:"items"`
	NumFailedItems       int                 `json:"numFailedItems"`
	NumPendingItems      int                 `json:"numPendingItems"`
	NumSucceededItems    int                 `json:"numSucceededItems"`
	TotalAmountRequested float64             `json:"totalAmountRequested"`
	TotalAmountSucceeded float64             `json:"totalAmountSucceeded"`
	Currency             string              `json:"currency"`
	Reference            string              `json:"reference"`
	FileName             string              `json:"fileName"`
}

func checkBatchItems(items []batchItem) error {
	if len(items) == 0 {
		return bankgate.Errorf(bankgate.ParameterMissing, "The field \"items\" is required.")
	}
	if len(items) > maxBatchTransfers {
		return bankgate.Errorf(bankgate.ParameterError, "A batch holds at most %d items.", maxBatchTransfers)
	}
	for i, it := range items {
		if !it.Amount.set || it.Amount.v <= 0 {
			return bankgate.Errorf(bankgate.ParameterError, "Item %d needs a positive amount.", i)
		}
		if it.Beneficiary.IBAN == "" && it.Beneficiary.AccountNumber == "" {
			return bankgate.Errorf(bankgate.ParameterMissing, "Item %d needs a beneficiary iban or accountNumber.", i)
		}
	}
	return nil
}

func newBatch(items []batchItem, sender wireTransferAccount, currency string, now time.Time) *batchRecord {
	ref := "BGB" + strings.ToUpper(secret.Hex(6))
	b := &batchRecord{Stage: "pending", Date: wireTime(now), Sender: sender, Currency: currency, Reference: ref, FileName: "batch-" + ref + ".csv"}
	for _, it := range items {
		b.Items = append(b.Items, batchItemDetails{Status: "pending", Errors: []batchItemError{}, Name: it.Beneficiary.Name, Amount: it.Amount.v.Float(),
			Currency: currency, IBAN: it.Beneficiary.IBAN, AccountNumber: it.Beneficiary.AccountNumber})
		b.TotalAmountRequested += it.Amount.v.Float()
	}
	b.NumPendingItems = len(items)
	return b
}

// senderAccount finds the sender account among the user's accounts.
func (s *Server) senderAccount(ctx context.Context, p *service.Principal, id string) (*bankgate.Account, error) {
	r, err := service.Capability[bank.AccountsReader](s.svc, p)
	if err != nil {
		return nil, err
	}
	accts, _, err := r.Accounts(ctx, &bank.Call{Session: p.Session, Now: p.Now})
	if err != nil {
		return nil, err
	}
	for i := range accts {
		if accts[i].ID == id || (id != "" && (accts[i].IBAN == id || accts[i].Number == id)) {
			return &accts[i], nil
		}
	}
	return nil, bankgate.Errorf(bankgate.InvalidAccountID, "The senderID is not one of the user's accounts.")
}

type batchDetailsResponse struct {
	envelope
	Details *batchRecord `json:"details"`
}

// batchTransfersCreate pays each item with the connector's autoflow. An
// item whose bank asks for user input fails (batches do not prompt).
func (s *Server) batchTransfersCreate(ctx context.Context, c *call, p *service.Principal, req *batchCreateRequest) (any, error) {
	if err := missing("senderID", req.SenderID); err != nil {
		return nil, err
	}
	if err := checkBatchItems(req.Items); err != nil {
		return nil, err
	}
	payer, err := service.Capability[bank.Payer](s.svc, p)
	if err != nil {
		return nil, err
	}
	acct, err := s.senderAccount(ctx, p, req.SenderID)
	if err != nil {
		return nil, err
	}
	b := newBatch(req.Items, wireTransferAccount{IBAN: acct.IBAN, AccountNumber: acct.Number}, acct.Currency.Code, p.Now)
	for i, it := range req.Items {
		typ := it.Type
		if typ == "" {
			typ = req.Type
		}
		remark := it.Remark
		if remark == "" {
			remark = req.Remark
		}
		tr := &bankgate.TransferRequest{SenderID: acct.ID, Amount: it.Amount.v, Remark: remark, Beneficiary: &bankgate.Beneficiary{
			Name: it.Beneficiary.Name, Nickname: it.Beneficiary.Nickname, IBAN: it.Beneficiary.IBAN, AccountNumber: it.Beneficiary.AccountNumber,
			SwiftCode: it.Beneficiary.SwiftCode, Type: typ, Country: it.Beneficiary.Country, BankName: it.Beneficiary.BankName, BranchName: it.Beneficiary.BranchName}}
		res, ch, err := payer.TransferAutoflow(ctx, &bank.Call{Session: p.Session, Now: p.Now, OperationID: b.Reference + fmt.Sprintf(":%d", i)}, tr)
		item := &b.Items[i]
		b.NumPendingItems--
		switch {
		case err == nil && ch == nil:
			item.Status, item.Reference = "succeeded", res.Reference
			b.NumSucceededItems++
			b.TotalAmountSucceeded += item.Amount
		case ch != nil:
			item.Status = "failed"
			item.Errors = append(item.Errors, batchItemError{Msg: "The bank asks for user input, which batches cannot give.", Type: "USER_INPUT_REQUIRED"})
			b.NumFailedItems++
		default:
			_, typ, msg := wireError(err)
			if typ == bankgate.Unknown {
				return nil, err
			}
			item.Status = "failed"
			item.Errors = append(item.Errors, batchItemError{Msg: msg, Type: string(typ)})
			b.NumFailedItems++
		}
	}
	b.Stage = "done"
	if b.NumSucceededItems == 0 {
		b.Stage = "failed"
	}
	body, _ := json.Marshal(b)
	if err := s.svc.SaveBatch(ctx, p, body); err != nil {
		return nil, err
	}
	return &batchDetailsResponse{envelope: done(b.Reference), Details: b}, nil
}

type batchFileResponse struct {
	envelope
	FileContent   string       `json:"fileContent"`
	FileExtension string       `json:"fileExtension"`
	Details       *batchRecord `json:"details"`
}

// batchFileCreate prepares a bulk-payment file (CSV, base64) for the
// user to upload at the bank; nothing is paid.
func (s *Server) batchFileCreate(ctx context.Context, c *call, p *service.Principal, req *batchCreateRequest) (any, error) {
	if req.Sender == nil || (req.Sender.IBAN == "" && req.Sender.AccountNumber == "") {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"sender\" (iban or accountNumber) is required.")
	}
	if err := checkBatchItems(req.Items); err != nil {
		return nil, err
	}
	id := req.Sender.IBAN
	if id == "" {
		id = req.Sender.AccountNumber
	}
	acct, err := s.senderAccount(ctx, p, id)
	if err != nil {
		return nil, err
	}
	b := newBatch(req.Items, wireTransferAccount{IBAN: acct.IBAN, AccountNumber: acct.Number}, acct.Currency.Code, p.Now)
	var csv strings.Builder
	csv.WriteString("type,amount,currency,name,iban,accountNumber,swiftCode,country,remark\n")
	field := func(v string) string {
		v = strings.NewReplacer("\n", " ", "\r", " ").Replace(v)
		if strings.ContainsAny(v, ",\"") || strings.HasPrefix(v, "=") || strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") || strings.HasPrefix(v, "@") {
			return `"` + strings.ReplaceAll(strings.TrimLeft(v, "=+-@"), `"`, `""`) + `"`
		}
		return v
	}
	for _, it := range req.Items {
		typ := it.Type
		if typ == "" {
			typ = req.Type
		}
		fmt.Fprintf(&csv, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", field(typ), it.Amount.v.String(), acct.Currency.Code, field(it.Beneficiary.Name),
			field(it.Beneficiary.IBAN), field(it.Beneficiary.AccountNumber), field(it.Beneficiary.SwiftCode), field(it.Beneficiary.Country), field(it.Remark))
	}
	body, _ := json.Marshal(b)
	if err := s.svc.SaveBatch(ctx, p, body); err != nil {
		return nil, err
	}
	return &batchFileResponse{envelope: done(b.Reference), FileContent: base64.StdEncoding.EncodeToString([]byte(csv.String())), FileExtension: "csv", Details: b}, nil
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

func (s *Server) loadBatches(ctx context.Context, p *service.Principal) ([]batchRecord, error) {
	raw, err := s.svc.Batches(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]batchRecord, 0, len(raw))
	for _, r := range raw {
		var b batchRecord
		if json.Unmarshal(r, &b) == nil {
			out = append(out, b)
		}
	}
	return out, nil
}

func (s *Server) batchTransfersGet(ctx context.Context, c *call, p *service.Principal, req *batchListRequest) (any, error) {
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
	batches, err := s.loadBatches(ctx, p)
	if err != nil {
		return nil, err
	}
	out := &batchTransfersResponse{envelope: done(""), Transfers: []batchSummary{}}
	for _, b := range batches {
		d, err := time.Parse("2006-01-02T15:04:05.000Z", b.Date)
		if err != nil || d.Before(from) || !d.Before(to.AddDate(0, 0, 1)) {
			continue
		}
		out.Transfers = append(out.Transfers, batchSummary{Stage: b.Stage, Date: b.Date, Reference: b.Reference, FileName: b.FileName})
	}
	return out, nil
}

type batchItemsResponse struct {
	envelope
	Transfers *batchRecord `json:"transfers"`
}

func (s *Server) batchItemsGet(ctx context.Context, c *call, p *service.Principal, req *batchListRequest) (any, error) {
	if err := missing("reference", req.Reference); err != nil {
		return nil, err
	}
	batches, err := s.loadBatches(ctx, p)
	if err != nil {
		return nil, err
	}
	for i := range batches {
		if batches[i].Reference == req.Reference {
			return &batchItemsResponse{envelope: done(req.Reference), Transfers: &batches[i]}, nil
		}
	}
	return nil, bankgate.Errorf(bankgate.ParameterError, "No batch of this connection has that reference.")
}
