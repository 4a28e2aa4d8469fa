package http

import (
	"bytes"

	"encoding/json"
	"github.com/bankgate/bankgate"
	"math"
	"strconv"
)

// jsonAppender is a response that can write itself as JSON faster than
// encoding/json, byte for byte as writeJSON's encoder would (HTML not
// escaped, a newline at the end). appendJSON returns false, having
// appended nothing the caller keeps, for a value it leaves to
// encoding/json. FuzzFastJSON and FuzzTxsResponse check both agree.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, bool)
}

// appendJSONString appends s as encoding/json (HTML not escaped) encodes
// it: printable ASCII other than '"' and '\\' as it is, anything else
// through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return appendJSONSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendJSONSlow(b []byte, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // a string or a float64 in range: never fails
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}

// appendJSONFloat appends f as encoding/json encodes a float64.
func appendJSONFloat(b []byte, f float64) []byte {
	if abs := math.Abs(f); math.IsNaN(f) || math.IsInf(f, 0) || (abs != 0 && (abs < 1e-6 || abs >= 1e21)) {
		return appendJSONSlow(b, f)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendOpen appends the envelope's fields after an opening brace and
// reports false for an envelope with user inputs (left to
// encoding/json).
func (e *envelope) appendOpen(b []byte) ([]byte, bool) {
	if len(e.UserInputs) > 0 {
		return b, false
	}
	b = append(b, `{"success":`...)
	b = strconv.AppendBool(b, e.Success)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, e.Status)
	b = append(b, `,"operationID":`...)
	b = appendJSONString(b, e.OperationID)
	if e.Type != "" {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, e.Type)
	}
	if e.Msg != "" {
		b = append(b, `,"msg":`...)
		b = appendJSONString(b, e.Msg)
	}
	return b, true
}

func (r *accountBalanceResponse) appendJSON(b []byte) ([]byte, bool) {
	b, ok := r.envelope.appendOpen(b)
	if !ok {
		return b, false
	}
	b = append(b, `,"balance":{"amount":`...)
	b = appendJSONFloat(b, r.Balance.Amount)
	b = append(b, `,"currency":{"code":`...)
	b = appendJSONString(b, r.Balance.Currency.Code)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, r.Balance.Currency.Name)
	b = append(b, `},"accountNumber":`...)
	b = appendJSONString(b, r.Balance.AccountNumber)
	return append(b, "}}\n"...), true
}

// txsResponse is a transactions response rendered from the domain's
// transactions directly: no []wireTransaction and no date strings are
// made on the way (a month is ~40 transactions, several KB a request).
// Whatever appendJSON leaves to encoding/json goes through wire, so the
// bytes are the same either way (FuzzTxsResponse).
type txsResponse struct {
	env    envelope
	txs    []bankgate.Transaction
	detail txDetail
}

func (r *txsResponse) wire() *transactionsResponse {
	return &transactionsResponse{envelope: r.env, Transactions: toWireTransactions(r.txs, r.detail)}
}

// MarshalJSON encodes r as wire does, HTML characters not escaped (as
// writeJSON's encoder leaves them).
func (r *txsResponse) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeJSON(&buf, r.wire()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func (r *txsResponse) appendJSON(b []byte) ([]byte, bool) {
	b, ok := r.env.appendOpen(b)
	if !ok {
		return b, false
	}
	b = append(b, `,"transactions":[`...)
	for i := range r.txs {
		t := &r.txs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"amount":`...)
		b = appendJSONFloat(b, t.Amount.Float())
		b = append(b, `,"date":"`...)
		b = t.Date.UTC().AppendFormat(b, wireTimeLayout)
		b = append(b, `","type":`...)
		b = appendJSONString(b, t.Type)
		b = append(b, `,"description":`...)
		b = appendJSONString(b, t.Description)
		b = append(b, `,"details":`...)
		b = appendJSONString(b, t.Details)
		b = append(b, `,"currency":{"code":`...)
		b = appendJSONString(b, t.Currency.Code)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, t.Currency.Name)
		b = append(b, `},"beforeAmount":`...)
		b = appendJSONFloat(b, t.BeforeAmount.Float())
		b = append(b, `,"afterAmount":`...)
		b = appendJSONFloat(b, t.AfterAmount.Float())
		b = append(b, `,"reference":`...)
		b = appendJSONString(b, t.Reference)
		if r.detail >= txCategorized {
			b = append(b, `,"category":`...)
			b = appendJSONString(b, wireCategory(t))
		}
		if r.detail == txEnriched {
			b = append(b, `,"brandDetails":{"logo":`...)
			b = appendJSONString(b, t.BrandLogo)
			b = append(b, `,"name":`...)
			b = appendJSONString(b, wireBrandName(t))
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...), true
}
