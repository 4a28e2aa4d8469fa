package service

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
	"github.com/bankgate/bankgate/secret"
)

// Field lengths of a batch item, in characters.
var batchFieldMax = map[string]int{
	"type": 16, "remark": 140, "name": 100, "nickname": 100, "iban": 34, "accountNumber": 34,
	"swiftCode": 11, "country": 64, "bankName": 100, "branchName": 100,
}

// check validates a batch request before anything runs: ParameterMissing
// for what is missing, ParameterError for what is malformed or too long.
func checkBatch(r *bankgate.BatchRequest) error {
	if r.SenderID == "" {
		return bankgate.Errorf(bankgate.ParameterMissing, "The sender account is required.")
	}
	if len(r.Items) == 0 {
		return bankgate.Errorf(bankgate.ParameterMissing, "The field \"items\" is required.")
	}
	if len(r.Items) > bankgate.MaxBatchItems {
		return bankgate.Errorf(bankgate.ParameterError, "A batch holds at most %d items.", bankgate.MaxBatchItems)
	}
	if err := checkLen("senderID", r.SenderID, 64); err != nil {
		return err
	}
	if err := checkLen("type", r.Type, batchFieldMax["type"]); err != nil {
		return err
	}
	if err := checkLen("remark", r.Remark, batchFieldMax["remark"]); err != nil {
		return err
	}
	for i := range r.Items {
		it := &r.Items[i]
		if it.Amount <= 0 {
			return bankgate.Errorf(bankgate.ParameterError, "Item %d needs a positive amount.", i)
		}
		b := &it.Beneficiary
		if b.IBAN == "" && b.AccountNumber == "" {
			return bankgate.Errorf(bankgate.ParameterMissing, "Item %d needs a beneficiary iban or accountNumber.", i)
		}
		for _, f := range []struct{ name, v string }{
			{"type", it.Type}, {"remark", it.Remark}, {"name", b.Name}, {"nickname", b.Nickname}, {"iban", b.IBAN},
			{"accountNumber", b.AccountNumber}, {"swiftCode", b.SwiftCode}, {"country", b.Country},
			{"bankName", b.BankName}, {"branchName", b.BranchName},
		} {
			if err := checkLen(fmt.Sprintf("items[%d].%s", i, f.name), f.v, batchFieldMax[f.name]); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkLen(field, v string, n int) error {
	if len(v) > 4*n || utf8.RuneCountInString(v) > n {
		return bankgate.Errorf(bankgate.ParameterError, "The field %q is longer than %d characters.", field, n)
	}
	return nil
}

// batchState is the continuation state of a batch whose account lookup
// asked for input: the connector's state and the request to carry out.
type batchState struct {
	Conn []byte                 `json:"conn"`
	Req  *bankgate.BatchRequest `json:"req"`
}

// CreateBatch creates a batch from req: with file false it pays every item
// through the connector's autoflow, one by one (an item whose bank asks
// for input fails: a batch prompts once, for the account lookup, not per
// item); with file true it prepares a bulk-payment CSV and pays nothing.
// The account lookup may ask for input (user_input_required); its resume
// carries out the request given first. Errors: ParameterMissing and
// ParameterError for a bad request (nothing runs), InvalidAccountID when
// the sender is not one of the user's accounts, ParameterError when the
// connection already has MaxBatchesPerConnection batches.
func (s *Service) CreateBatch(ctx context.Context, p *bankgate.Principal, opts bankgate.CallOptions, req *bankgate.BatchRequest, file bool) (*bankgate.Outcome[*bankgate.BatchResult], error) {
	if opts.OperationID == "" {
		if err := checkBatch(req); err != nil {
			return nil, err
		}
	}
	accounts, err := capability[bank.AccountsReader](s, p)
	if err != nil {
		return nil, err
	}
	var payer bank.Payer
	if !file {
		if payer, err = capability[bank.Payer](s, p); err != nil {
			return nil, err
		}
	}
	return runCall(s, ctx, p, opts, func(ctx context.Context, call *bank.Call) (*bankgate.BatchResult, *bank.Challenge, error) {
		if call.Resuming() {
			var st batchState
			if err := json.Unmarshal(call.State, &st); err != nil || st.Req == nil {
				return nil, nil, bankgate.Errorf(bankgate.InvalidOperationID, "The operation is not a batch.")
			}
			req = st.Req
			call.State = st.Conn
			if call.State == nil {
				call.State = []byte{}
			}
		}
		accts, ch, err := accounts.Accounts(ctx, call)
		if err != nil {
			return nil, nil, err
		}
		if ch != nil {
			state, err := json.Marshal(batchState{Conn: ch.State, Req: req})
			if err != nil {
				return nil, nil, err
			}
			return nil, &bank.Challenge{Inputs: ch.Inputs, State: state}, nil
		}
		acct := senderAccount(accts, req.SenderID)
		if acct == nil {
			return nil, nil, bankgate.Errorf(bankgate.InvalidAccountID, "The sender is not one of the user's accounts.")
		}
		b := newBatch(req, acct, p.Now)
		res := &bankgate.BatchResult{Batch: b}
		if file {
			res.File = batchCSV(b)
		} else if err := s.payBatch(ctx, p, payer, acct, b); err != nil {
			return nil, nil, err
		}
		if err := s.saveBatch(ctx, p, b); err != nil {
			return nil, nil, err
		}
		return res, nil, nil
	})
}

// senderAccount finds the account named by its ID, IBAN or number.
func senderAccount(accts []bankgate.Account, id string) *bankgate.Account {
	for i := range accts {
		if accts[i].ID == id || (id != "" && (accts[i].IBAN == id || accts[i].Number == id)) {
			return &accts[i]
		}
	}
	return nil
}

func newBatch(req *bankgate.BatchRequest, acct *bankgate.Account, now time.Time) *bankgate.Batch {
	ref := "BGB" + strings.ToUpper(secret.Hex(6))
	b := &bankgate.Batch{Reference: ref, Stage: bankgate.BatchPending, CreatedAt: now.UTC(), SenderIBAN: acct.IBAN,
		SenderNumber: acct.Number, Currency: acct.Currency.Code, FileName: "batch-" + ref + ".csv"}
	for _, it := range req.Items {
		if it.Type == "" {
			it.Type = req.Type
		}
		if it.Remark == "" {
			it.Remark = req.Remark
		}
		it.Status, it.Reference, it.ErrorType, it.ErrorMsg = bankgate.BatchPending, "", "", ""
		b.Items = append(b.Items, it)
	}
	return b
}

// payBatch pays b's items in order and sets the batch's stage.
func (s *Service) payBatch(ctx context.Context, p *bankgate.Principal, payer bank.Payer, acct *bankgate.Account, b *bankgate.Batch) error {
	for i := range b.Items {
		it := &b.Items[i]
		ben := it.Beneficiary
		ben.Type = it.Type
		tr := &bankgate.TransferRequest{SenderID: acct.ID, Amount: it.Amount, Remark: it.Remark, Beneficiary: &ben}
		call := &bank.Call{Session: session(p), Now: p.Now, OperationID: fmt.Sprintf("%s:%d", b.Reference, i)}
		res, ch, err := payer.TransferAutoflow(ctx, call, tr)
		switch code := bankgate.ErrorCode(err); {
		case err == nil && ch == nil:
			it.Status, it.Reference = bankgate.BatchSucceeded, res.Reference
		case err == nil:
			it.Status, it.ErrorType = bankgate.BatchFailed, bankgate.StatusUserInputRequired
			it.ErrorMsg = "The bank asks for user input, which batch items cannot give."
		case code == bankgate.Unknown || code == bankgate.NotFound || code == bankgate.Conflict:
			return err
		default:
			it.Status, it.ErrorType, it.ErrorMsg = bankgate.BatchFailed, code, bankgate.ErrorMessage(err)
		}
	}
	b.Stage = bankgate.BatchDone
	if b.Count(bankgate.BatchSucceeded) == 0 {
		b.Stage = bankgate.BatchFailed
	}
	return nil
}

// batchCSV is the bulk-payment file of b. Cells that a spreadsheet would
// run as a formula are quoted and stripped of the leading sign.
func batchCSV(b *bankgate.Batch) []byte {
	var csv strings.Builder
	csv.WriteString("type,amount,currency,name,iban,accountNumber,swiftCode,country,remark\n")
	field := func(v string) string {
		v = strings.NewReplacer("\n", " ", "\r", " ").Replace(v)
		if strings.ContainsAny(v, ",\"") || strings.HasPrefix(v, "=") || strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") || strings.HasPrefix(v, "@") {
			return `"` + strings.ReplaceAll(strings.TrimLeft(v, "=+-@"), `"`, `""`) + `"`
		}
		return v
	}
	for _, it := range b.Items {
		fmt.Fprintf(&csv, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", field(it.Type), it.Amount.String(), b.Currency, field(it.Beneficiary.Name),
			field(it.Beneficiary.IBAN), field(it.Beneficiary.AccountNumber), field(it.Beneficiary.SwiftCode), field(it.Beneficiary.Country), field(it.Remark))
	}
	return []byte(csv.String())
}

func batchStream(p *bankgate.Principal) string { return "batch/" + p.AppID + "/" + p.ConnectionID }

// storedBatch is a batch as the store keeps it (JSON in the connection's
// batch stream); it reads the records of earlier builds too.
type storedBatch struct {
	Stage     string `json:"stage"`
	Date      string `json:"date"`
	Reference string `json:"reference"`
	FileName  string `json:"fileName"`
	Currency  string `json:"currency"`
	Sender    struct {
		IBAN          string `json:"iban"`
		AccountNumber string `json:"accountNumber"`
	} `json:"sender"`
	Items []storedBatchItem `json:"items"`
}

type storedBatchItem struct {
	Status        string  `json:"status"`
	Type          string  `json:"type,omitempty"`
	Remark        string  `json:"remark,omitempty"`
	Name          string  `json:"name"`
	Amount        float64 `json:"amount"`
	AmountMinor   int64   `json:"amountMinor,omitempty"`
	IBAN          string  `json:"iban"`
	AccountNumber string  `json:"accountNumber"`
	SwiftCode     string  `json:"swiftCode,omitempty"`
	Country       string  `json:"country,omitempty"`
	Reference     string  `json:"reference,omitempty"`
	Errors        []struct {
		Msg  string `json:"msg"`
		Type string `json:"type"`
	} `json:"errors"`
}

const storedTime = "2006-01-02T15:04:05.000Z"

func toStoredBatch(b *bankgate.Batch) *storedBatch {
	sb := &storedBatch{Stage: b.Stage, Date: b.CreatedAt.UTC().Format(storedTime), Reference: b.Reference, FileName: b.FileName, Currency: b.Currency}
	sb.Sender.IBAN, sb.Sender.AccountNumber = b.SenderIBAN, b.SenderNumber
	for _, it := range b.Items {
		si := storedBatchItem{Status: it.Status, Type: it.Type, Remark: it.Remark, Name: it.Beneficiary.Name, Amount: it.Amount.Float(),
			AmountMinor: int64(it.Amount), IBAN: it.Beneficiary.IBAN, AccountNumber: it.Beneficiary.AccountNumber,
			SwiftCode: it.Beneficiary.SwiftCode, Country: it.Beneficiary.Country, Reference: it.Reference}
		if it.ErrorType != "" {
			si.Errors = append(si.Errors, struct {
				Msg  string `json:"msg"`
				Type string `json:"type"`
			}{it.ErrorMsg, string(it.ErrorType)})
		}
		sb.Items = append(sb.Items, si)
	}
	return sb
}

func (sb *storedBatch) domain() *bankgate.Batch {
	t, _ := time.Parse(storedTime, sb.Date)
	b := &bankgate.Batch{Reference: sb.Reference, Stage: sb.Stage, CreatedAt: t, SenderIBAN: sb.Sender.IBAN,
		SenderNumber: sb.Sender.AccountNumber, Currency: sb.Currency, FileName: sb.FileName}
	for _, si := range sb.Items {
		amt := bankgate.Money(si.AmountMinor)
		if amt == 0 {
			amt = bankgate.Money(math.Round(si.Amount * 100))
		}
		it := bankgate.BatchItem{Type: si.Type, Amount: amt, Remark: si.Remark, Status: si.Status, Reference: si.Reference,
			Beneficiary: bankgate.Beneficiary{Name: si.Name, IBAN: si.IBAN, AccountNumber: si.AccountNumber, SwiftCode: si.SwiftCode, Country: si.Country}}
		if len(si.Errors) > 0 {
			it.ErrorType, it.ErrorMsg = bankgate.Code(si.Errors[0].Type), si.Errors[0].Msg
		}
		b.Items = append(b.Items, it)
	}
	return b
}

// batchSeqs remembers how many batches each connection's stream holds, so
// that saving a batch reads only what other instances appended since
// (O(1) in the connection's history), not the whole stream.
type batchSeqs struct {
	mu sync.Mutex
	m  map[string]int64
}

// saveBatch appends b to the connection's batch stream.
func (s *Service) saveBatch(ctx context.Context, p *bankgate.Principal, b *bankgate.Batch) error {
	stream := batchStream(p)
	body, err := json.Marshal(toStoredBatch(b))
	if err != nil {
		return err
	}
	s.batchSeq.mu.Lock()
	seq, known := s.batchSeq.m[stream]
	s.batchSeq.mu.Unlock()
	for attempt := 0; attempt < 10; attempt++ {
		if !known || attempt > 0 {
			evs, err := s.store.Events(ctx, stream, seq)
			if err != nil {
				return fmt.Errorf("save batch: %w", err)
			}
			seq += int64(len(evs))
			known = true
		}
		if seq >= bankgate.MaxBatchesPerConnection {
			return bankgate.Errorf(bankgate.ParameterError, "This connection has %d batches, the most it may keep.", bankgate.MaxBatchesPerConnection)
		}
		err = s.store.AppendEvent(ctx, stream, seq+1, s.Now(), body)
		if err == nil {
			s.batchSeq.mu.Lock()
			putCapped(s.batchSeq.m, stream, seq+1)
			s.batchSeq.mu.Unlock()
			return nil
		}
		if !bankgate.IsCode(err, bankgate.Conflict) {
			return fmt.Errorf("save batch: %w", err)
		}
	}
	return fmt.Errorf("save batch: too much contention")
}

// Batches returns the connection's batches, oldest first.
func (s *Service) Batches(ctx context.Context, p *bankgate.Principal) ([]*bankgate.Batch, error) {
	events, err := s.store.Events(ctx, batchStream(p), 0)
	if err != nil {
		return nil, err
	}
	out := make([]*bankgate.Batch, 0, len(events))
	for _, e := range events {
		var sb storedBatch
		if json.Unmarshal(e.Body, &sb) == nil {
			out = append(out, sb.domain())
		}
	}
	return out, nil
}

// Batch returns the connection's batch with the given reference, or
// ParameterError when there is none.
func (s *Service) Batch(ctx context.Context, p *bankgate.Principal, reference string) (*bankgate.Batch, error) {
	bs, err := s.Batches(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if b.Reference == reference {
			return b, nil
		}
	}
	return nil, bankgate.Errorf(bankgate.ParameterError, "No batch of this connection has that reference.")
}
