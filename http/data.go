package http

import (
	"context"
	"time"

	"github.com/bankgate/bankgate"
)

// registerDataRoutes registers the data, metadata, payment, wire, ACH and
// operation endpoints.
func (s *Server) registerDataRoutes() {
	s.handle("/data/completeAccounts/get", s.bearer(s.accountsGet))
	s.handle("/data/balance/get", bearerOf(s, s.balanceGet))
	s.handle("/data/transactions/get", bearerOf(s, s.transactionsGet(txPlain)))
	s.handle("/data/categorizedTransactions/get", bearerOf(s, s.transactionsGet(txCategorized)))
	s.handle("/data/enrichedTransactions/get", bearerOf(s, s.transactionsGet(txEnriched)))
	s.handle("/data/cards/get", s.bearer(s.cardsGet))
	s.handle("/metadata/accounts/get", s.bearer(s.metadataGet))
	s.handle("/payment/beneficiaries/get", s.bearer(s.beneficiariesGet))
	s.handle("/payment/beneficiaries/create", bearerOf(s, s.beneficiaryCreate))
	s.handle("/payment/transfer/create", bearerOf(s, s.transferCreate))
	s.handle("/payment/transfer/autoflow", bearerOf(s, s.transferAutoflow))
	s.handle("/wire/beneficiaries/get", s.bearer(s.usWireBeneficiariesGet))
	s.handle("/wire/beneficiaries/create", bearerOf(s, s.usWireBeneficiaryCreate))
	s.handle("/wire/transfer/create", bearerOf(s, s.usWireTransferCreate))
	s.handle("/wire/transfer/autoflow", bearerOf(s, s.usWireTransferAutoflow))
	s.handle("/ach/pull/create", bearerOf(s, s.achPullCreate))
	s.handle("/ach/pull/get", s.bearer(s.achPullGet))
	s.handle("/operation/status", s.operationStatus)
	s.handle("/operation/get", s.operationStatus)
}

// callOpts are the service call options of a request: the route names
// the operation; operationID and userInputs resume one.
func callOpts(c *request, base *baseRequest) bankgate.CallOptions {
	return bankgate.CallOptions{Endpoint: c.route.name, OperationID: base.OperationID, Answers: fromWireInputs(base.UserInputs),
		IdempotencyKey: c.idempotencyKey}
}

// respond renders a service call's outcome: a prompt for user input as
// Dapi's user_input_required envelope, a done value through render.
func respond[V any](o *bankgate.Outcome[V], err error) func(render func(env envelope, v V) any) (any, error) {
	return func(render func(env envelope, v V) any) (any, error) {
		if err != nil {
			return nil, err
		}
		if o.Prompting() {
			return &envelope{Success: true, Status: o.Status, OperationID: o.OperationID, UserInputs: toWireInputs(o.Inputs)}, nil
		}
		return render(done(o.OperationID), o.Value), nil
	}
}

type balanceRequest struct {
	baseRequest
	AccountID string `json:"accountID"`
	CardID    string `json:"cardID"`
}

type accountBalanceResponse struct {
	envelope
	Balance wireBalance `json:"balance"`
}

type cardBalanceResponse struct {
	envelope
	Balance *wireCardBalance `json:"balance"`
}

func (s *Server) balanceGet(ctx context.Context, c *request, p *bankgate.Principal, req *balanceRequest) (any, error) {
	base := &req.baseRequest
	if base.OperationID == "" && req.AccountID == "" && req.CardID == "" {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"accountID\" (or \"cardID\") is required.")
	}
	if req.CardID != "" {
		return respond(s.svc.CardBalance(ctx, p, callOpts(c, base), req.CardID))(func(env envelope, v *bankgate.CardBalance) any {
			return &cardBalanceResponse{envelope: env, Balance: toWireCardBalance(v)}
		})
	}
	return respond(s.svc.Balance(ctx, p, callOpts(c, base), req.AccountID))(func(env envelope, a *bankgate.Account) any {
		return &accountBalanceResponse{envelope: env, Balance: wireBalance{Amount: a.Balance.Float(), Currency: toWireCurrency(a.Currency), AccountNumber: a.Number}}
	})
}

type transactionsRequest struct {
	baseRequest
	AccountID string `json:"accountID"`
	CardID    string `json:"cardID"`
	FromDate  string `json:"fromDate"`
	ToDate    string `json:"toDate"`
}

type transactionsResponse struct {
	envelope
	Transactions []wireTransaction `json:"transactions"`
}

func (s *Server) transactionsGet(detail txDetail) func(ctx context.Context, c *request, p *bankgate.Principal, req *transactionsRequest) (any, error) {
	return func(ctx context.Context, c *request, p *bankgate.Principal, req *transactionsRequest) (any, error) {
		base := &req.baseRequest
		var from, to time.Time
		if base.OperationID == "" || req.FromDate != "" || req.ToDate != "" {
			if req.AccountID == "" && req.CardID == "" {
				return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"accountID\" (or \"cardID\") is required.")
			}
			if err := missing("fromDate", req.FromDate, "toDate", req.ToDate); err != nil {
				return nil, err
			}
			var err error
			if from, err = parseDate("fromDate", req.FromDate); err != nil {
				return nil, err
			}
			if to, err = parseDate("toDate", req.ToDate); err != nil {
				return nil, err
			}
			if to.Before(from) {
				return nil, bankgate.Errorf(bankgate.InvalidDateRange, "toDate is before fromDate.")
			}
		}
		render := func(env envelope, v []bankgate.Transaction) any {
			return &txsResponse{env: env, txs: v, detail: detail}
		}
		if req.CardID != "" {
			return respond(s.svc.CardTransactions(ctx, p, callOpts(c, base), req.CardID, from, to))(render)
		}
		return respond(s.svc.Transactions(ctx, p, callOpts(c, base), req.AccountID, from, to))(render)
	}
}

type cardsResponse struct {
	envelope
	Cards []wireCard `json:"cards"`
}

func (s *Server) cardsGet(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	return respond(s.svc.Cards(ctx, p, callOpts(c, base)))(func(env envelope, v []bankgate.Card) any {
		return &cardsResponse{envelope: env, Cards: toWireCards(v)}
	})
}

type metadataResponse struct {
	envelope
	AccountsMetadata *wireMetadata `json:"accountsMetadata"`
}

func (s *Server) metadataGet(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	return respond(s.svc.Metadata(ctx, p, callOpts(c, base)))(func(env envelope, v *bankgate.AccountsMetadata) any {
		return &metadataResponse{envelope: env, AccountsMetadata: toWireMetadata(v)}
	})
}

type beneficiariesResponse struct {
	envelope
	Beneficiaries []wireBeneficiary `json:"beneficiaries"`
}

func (s *Server) beneficiariesGet(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	return respond(s.svc.Beneficiaries(ctx, p, callOpts(c, base)))(func(env envelope, v []bankgate.Beneficiary) any {
		return &beneficiariesResponse{envelope: env, Beneficiaries: toWireBeneficiaries(v)}
	})
}

func envOnly(env envelope, _ bankgate.Done) any { return &env }

// beneficiaryCreateRequest is the body of payment/beneficiaries/create:
// the beneficiary's fields flattened into it.
type beneficiaryCreateRequest struct {
	baseRequest
	beneficiaryFields
}

// usWireBeneficiaryCreateRequest is the body of wire/beneficiaries/create.
type usWireBeneficiaryCreateRequest struct {
	baseRequest
	usWireBeneficiaryFields
}

func (s *Server) beneficiaryCreate(ctx context.Context, c *request, p *bankgate.Principal, req *beneficiaryCreateRequest) (any, error) {
	base := &req.baseRequest
	if base.OperationID == "" {
		if err := missing("name", req.Name); err != nil {
			return nil, err
		}
		if req.IBAN == "" && req.AccountNumber == "" {
			return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"iban\" (or \"accountNumber\") is required.")
		}
	}
	b := req.domain()
	return respond(s.svc.CreateBeneficiary(ctx, p, callOpts(c, base), b))(envOnly)
}

type transferCreateRequest struct {
	baseRequest
	SenderID      string    `json:"senderID"`
	Amount        flexMoney `json:"amount"`
	ReceiverID    string    `json:"receiverID"`
	Name          string    `json:"name"`
	IBAN          string    `json:"iban"`
	AccountNumber string    `json:"accountNumber"`
	Remark        string    `json:"remark"`
	Nickname      string    `json:"nickname"`
}

type transferResponse struct {
	envelope
	Reference      string      `json:"reference,omitempty"`
	CoolDownPeriod *wirePeriod `json:"coolDownPeriod,omitempty"`
}

func renderTransfer(env envelope, res *bankgate.TransferResult) any {
	out := &transferResponse{envelope: env, Reference: res.Reference}
	if res.CoolDown != nil {
		out.CoolDownPeriod = &wirePeriod{Value: res.CoolDown.Value, Unit: res.CoolDown.Unit}
	}
	return out
}

// checkTransfer validates the fields every transfer needs.
func checkTransfer(senderID string, amount flexMoney) error {
	if err := missing("senderID", senderID); err != nil {
		return err
	}
	if !amount.set {
		return bankgate.Errorf(bankgate.ParameterMissing, "The field \"amount\" is required.")
	}
	if amount.v <= 0 {
		return bankgate.Errorf(bankgate.ParameterError, "The amount must be positive.")
	}
	return nil
}

func (s *Server) transferCreate(ctx context.Context, c *request, p *bankgate.Principal, req *transferCreateRequest) (any, error) {
	base := &req.baseRequest
	if base.OperationID == "" {
		if err := checkTransfer(req.SenderID, req.Amount); err != nil {
			return nil, err
		}
		if req.ReceiverID == "" && req.IBAN == "" && req.AccountNumber == "" {
			return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"receiverID\" (or \"iban\"/\"accountNumber\") is required.")
		}
	}
	tr := &bankgate.TransferRequest{SenderID: req.SenderID, Amount: req.Amount.v, ReceiverID: req.ReceiverID, Name: req.Name,
		IBAN: req.IBAN, AccountNumber: req.AccountNumber, Remark: req.Remark, Nickname: req.Nickname}
	return respond(s.svc.Transfer(ctx, p, callOpts(c, base), tr))(renderTransfer)
}

type autoflowRequest struct {
	baseRequest
	SenderID    string             `json:"senderID"`
	Amount      flexMoney          `json:"amount"`
	Beneficiary *beneficiaryFields `json:"beneficiary"`
	BankID      string             `json:"bankID"`
	Remark      string             `json:"remark"`
}

func (s *Server) transferAutoflow(ctx context.Context, c *request, p *bankgate.Principal, req *autoflowRequest) (any, error) {
	base := &req.baseRequest
	if base.OperationID == "" {
		if err := checkTransfer(req.SenderID, req.Amount); err != nil {
			return nil, err
		}
		if req.Beneficiary == nil || req.Beneficiary.empty() {
			return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"beneficiary\" is required.")
		}
	}
	tr := &bankgate.TransferRequest{SenderID: req.SenderID, Amount: req.Amount.v, Remark: req.Remark, BankID: req.BankID}
	if req.Beneficiary != nil {
		tr.Beneficiary = req.Beneficiary.domain()
	}
	return respond(s.svc.TransferAutoflow(ctx, p, callOpts(c, base), tr))(renderTransfer)
}

type usWireBeneficiariesResponse struct {
	envelope
	Beneficiaries []wireUSWireBeneficiary `json:"beneficiaries"`
}

func (s *Server) usWireBeneficiariesGet(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	return respond(s.svc.WireBeneficiaries(ctx, p, callOpts(c, base)))(func(env envelope, v []bankgate.WireBeneficiary) any {
		return &usWireBeneficiariesResponse{envelope: env, Beneficiaries: toWireUSWireBeneficiaries(v)}
	})
}

func (s *Server) usWireBeneficiaryCreate(ctx context.Context, c *request, p *bankgate.Principal, req *usWireBeneficiaryCreateRequest) (any, error) {
	base := &req.baseRequest
	if base.OperationID == "" {
		if err := missing("name", req.Name, "accountNumber", req.AccountNumber, "routingNumber", req.RoutingNumber); err != nil {
			return nil, err
		}
	}
	b := req.domain()
	return respond(s.svc.CreateWireBeneficiary(ctx, p, callOpts(c, base), b))(envOnly)
}

type usWireTransferRequest struct {
	baseRequest
	SenderID    string                   `json:"senderID"`
	Amount      flexMoney                `json:"amount"`
	ReceiverID  string                   `json:"receiverID"`
	Beneficiary *usWireBeneficiaryFields `json:"beneficiary"`
	Remark      string                   `json:"remark"`
}

func (s *Server) usWireTransferCreate(ctx context.Context, c *request, p *bankgate.Principal, req *usWireTransferRequest) (any, error) {
	base := &req.baseRequest
	if base.OperationID == "" {
		if err := checkTransfer(req.SenderID, req.Amount); err != nil {
			return nil, err
		}
		if err := missing("receiverID", req.ReceiverID); err != nil {
			return nil, err
		}
	}
	tr := &bankgate.TransferRequest{SenderID: req.SenderID, Amount: req.Amount.v, ReceiverID: req.ReceiverID, Remark: req.Remark}
	return respond(s.svc.WireTransfer(ctx, p, callOpts(c, base), tr))(renderTransfer)
}

func (s *Server) usWireTransferAutoflow(ctx context.Context, c *request, p *bankgate.Principal, req *usWireTransferRequest) (any, error) {
	base := &req.baseRequest
	if base.OperationID == "" {
		if err := checkTransfer(req.SenderID, req.Amount); err != nil {
			return nil, err
		}
		if req.Beneficiary == nil || req.Beneficiary.empty() {
			return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"beneficiary\" is required.")
		}
	}
	tr := &bankgate.TransferRequest{SenderID: req.SenderID, Amount: req.Amount.v, Remark: req.Remark}
	if req.Beneficiary != nil {
		tr.Wire = req.Beneficiary.domain()
	}
	return respond(s.svc.WireTransferAutoflow(ctx, p, callOpts(c, base), tr))(renderTransfer)
}

type achCreateRequest struct {
	baseRequest
	Transfer *struct {
		SenderID    string    `json:"senderID"`
		Amount      flexMoney `json:"amount"`
		Description string    `json:"description"`
	} `json:"transfer"`
}

func (s *Server) achPullCreate(ctx context.Context, c *request, p *bankgate.Principal, req *achCreateRequest) (any, error) {
	base := &req.baseRequest
	var ar bankgate.ACHPullRequest
	if base.OperationID == "" {
		if req.Transfer == nil {
			return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"transfer\" is required.")
		}
		if err := checkTransfer(req.Transfer.SenderID, req.Transfer.Amount); err != nil {
			return nil, err
		}
	}
	if req.Transfer != nil {
		ar = bankgate.ACHPullRequest{SenderID: req.Transfer.SenderID, Amount: req.Transfer.Amount.v, Description: req.Transfer.Description}
	}
	return respond(s.svc.CreateACHPull(ctx, p, callOpts(c, base), &ar))(envOnly)
}

type achGetResponse struct {
	envelope
	Transfer struct {
		Amount   float64      `json:"amount"`
		Currency wireCurrency `json:"currency"`
		Status   string       `json:"status"`
	} `json:"transfer"`
}

// achPullGet reads a pull by the operationID of the call that created it;
// here operationID names the pull, it does not resume a prompt.
func (s *Server) achPullGet(ctx context.Context, c *request, p *bankgate.Principal, base *baseRequest) (any, error) {
	if base.OperationID == "" {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "The field \"operationID\" (of the ACH pull) is required.")
	}
	pull, err := s.svc.ACHPull(ctx, p, base.OperationID)
	if err != nil {
		return nil, err
	}
	out := &achGetResponse{envelope: done(base.OperationID)}
	out.Transfer.Amount, out.Transfer.Currency, out.Transfer.Status = pull.Amount.Float(), toWireCurrency(pull.Currency), pull.Status
	return out, nil
}

type operationRequest struct {
	AppSecret   string `json:"appSecret"`
	OperationID string `json:"operationID"`
}

type opInfo struct {
	StartDate string `json:"startDate"`
	EndDate   string `json:"endDate,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Status    string `json:"status"`
	Type      string `json:"type"`
}

type operationResponse struct {
	envelope
	OpInfo opInfo `json:"opInfo"`
}

// operationStatus serves operation/status (Node SDK: {operationID,
// appSecret}, no Authorization) and operation/get (docs/PHP, may add
// userSecret, appKey and a Bearer token, which are not needed).
func (s *Server) operationStatus(ctx context.Context, c *request) (any, error) {
	var req operationRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if err := missing("operationID", req.OperationID); err != nil {
		return nil, err
	}
	if req.AppSecret == "" {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "The appSecret is missing.")
	}
	op, err := s.svc.OperationStatus(ctx, req.AppSecret, req.OperationID)
	if err != nil {
		return nil, err
	}
	info := opInfo{StartDate: wireTime(op.CreatedAt), ErrorType: op.ErrorType, Status: op.Status, Type: op.Endpoint}
	if op.Status == bankgate.StatusDone || op.Status == bankgate.StatusFailed {
		info.EndDate = wireTime(op.UpdatedAt)
	}
	// The envelope reports the lookup (done); opInfo.status reports the
	// operation, so a failed operation never yields success:true with
	// status "failed".
	return &operationResponse{envelope: done(op.ID), OpInfo: info}, nil
}
