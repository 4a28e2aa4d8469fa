// The events of a user stream, as stored (JSON).

package sandbox

import (
	"time"

	"github.com/bankgate/bankgate"
)

// Event types of a user stream.
const (
	etBeneficiary     = "beneficiary"      // a beneficiary was added
	etWireBeneficiary = "wire_beneficiary" // a wire beneficiary was added
	etTransfer        = "transfer"         // money left one of the user's accounts
	etCredit          = "credit"           // money from another sandbox user arrived
	etDelivered       = "delivered"        // a transfer's credit reached its receiver
	etACHPull         = "ach_pull"         // money was pulled in by ACH
)

// userEvent is one entry of a user stream, stored as JSON.
type userEvent struct {
	Type string    `json:"type"`
	Date time.Time `json:"date"`
	// Beneficiary and Wire are stored in the domain types' default JSON
	// form; Autoflow marks one made by an autoflow call, which skips the
	// cool-down.
	Beneficiary *bankgate.Beneficiary     `json:"beneficiary,omitempty"`
	Wire        *bankgate.WireBeneficiary `json:"wire,omitempty"`
	Autoflow    bool                      `json:"autoflow,omitempty"`
	Transfer    *transferRecord           `json:"transfer,omitempty"`
	Credit      *creditRecord             `json:"credit,omitempty"`
	ACH         *achRecord                `json:"ach,omitempty"`
	// Ref is the delivered transfer's reference.
	Ref string `json:"ref,omitempty"`
}

// owner is who holds a sandbox account, as the IBAN registry records it.
type owner struct {
	Bank     string `json:"bank"`
	User     string `json:"user"`
	Account  string `json:"account"`
	Currency string `json:"currency"`
}

// transferRecord is a payment out of one of the user's accounts.
type transferRecord struct {
	Ref            string         `json:"ref"`
	Account        string         `json:"account"`
	Amount         bankgate.Money `json:"amount"` // hundredths
	Currency       string         `json:"currency"`
	Wire           bool           `json:"wire,omitempty"`
	Beneficiary    string         `json:"beneficiaryID"`
	Name           string         `json:"name"`
	IBAN           string         `json:"iban,omitempty"`
	AccountNumber  string         `json:"accountNumber,omitempty"`
	Remark         string         `json:"remark,omitempty"`
	IdempotencyKey string         `json:"idempotencyKey,omitempty"`
	FromName       string         `json:"fromName"`
	FromIBAN       string         `json:"fromIBAN,omitempty"`
	// To is the receiving sandbox account, if the IBAN is one.
	To *owner `json:"to,omitempty"`
}

// creditRecord is money another sandbox user sent, keyed by the transfer's
// reference.
type creditRecord struct {
	Ref      string         `json:"ref"`
	Account  string         `json:"account"`
	Amount   bankgate.Money `json:"amount"`
	FromName string         `json:"fromName"`
	FromIBAN string         `json:"fromIBAN,omitempty"`
	Remark   string         `json:"remark,omitempty"`
}

// achRecord is an ACH pull into one of the user's accounts.
type achRecord struct {
	OperationID string         `json:"operationID"`
	Ref         string         `json:"ref"`
	Account     string         `json:"account"`
	Amount      bankgate.Money `json:"amount"`
	Currency    string         `json:"currency"`
	Description string         `json:"description,omitempty"`
}
