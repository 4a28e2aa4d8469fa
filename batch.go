package bankgate

import "time"

// Batch is a batch transfer of one connection (the Dapi Node SDK's batch
// product): payments from one account to many receivers, made item by
// item, or a bulk-payment file prepared for the user to upload at the
// bank, in which case nothing is paid and every item stays pending.
type Batch struct {
	Reference string
	Stage     string // BatchPending, BatchDone or BatchFailed
	CreatedAt time.Time
	// The sender account.
	SenderIBAN   string
	SenderNumber string
	Currency     string
	FileName     string
	Items        []BatchItem
}

// Batch stages and item statuses.
const (
	BatchPending   = "pending"
	BatchDone      = "done"
	BatchFailed    = "failed"
	BatchSucceeded = "succeeded" // an item's status
)

// BatchItem is one payment of a batch: what was asked, and how it went.
type BatchItem struct {
	Type        string // same | local | intl
	Amount      Money
	Remark      string
	Beneficiary Beneficiary // Name, Nickname, IBAN, AccountNumber, SwiftCode, Country, BankName, BranchName
	// Status is BatchPending, BatchSucceeded or BatchFailed; Reference is
	// the transfer's, ErrorType and ErrorMsg why it failed.
	Status    string
	Reference string
	ErrorType Code
	ErrorMsg  string
}

// Count returns how many of the batch's items have the given status.
func (b *Batch) Count(status string) int {
	n := 0
	for i := range b.Items {
		if b.Items[i].Status == status {
			n++
		}
	}
	return n
}

// Total returns the amount of the items with the given status, or of all
// items when status is empty.
func (b *Batch) Total(status string) Money {
	var t Money
	for i := range b.Items {
		if status == "" || b.Items[i].Status == status {
			t += b.Items[i].Amount
		}
	}
	return t
}

// Batch limits. MaxBatchItems and the amounts are what batch/metadata/get
// reports; the rest bound what one connection can store.
const (
	MaxBatchItems           = 100
	BatchFilenameChars      = 50
	MaxBatchTotalAmount     = 1_000_000
	MinBatchTotalAmount     = 1
	MaxBatchesPerConnection = 1000
)

// BatchRequest is a batch to create: items paid (or put in a file) from
// the sender account, named by its ID, IBAN or number. Type and Remark
// apply to items that give none.
type BatchRequest struct {
	SenderID string
	Type     string
	Remark   string
	Items    []BatchItem
}

// BatchResult is a created batch, and for a bulk-payment file its CSV.
type BatchResult struct {
	Batch *Batch
	File  []byte
}
