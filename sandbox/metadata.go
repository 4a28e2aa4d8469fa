package sandbox

import (
	"context"
	"strings"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// Metadata returns the session's bank's account and payment metadata. It
// never asks for input; it returns SessionInvalidated for a session that
// names no sandbox bank.
func (b *Connector) Metadata(ctx context.Context, call *bank.Call) (*bankgate.AccountsMetadata, error) {
	bi, ok := bankByID[call.Session.BankID]
	if !ok {
		var err error
		if bi, _, err = b.session(call.Session); err != nil {
			return nil, err
		}
	}
	return metadata(bi), nil
}

// metadata returns bank bi's metadata.
func metadata(bi *bankInfo) *bankgate.AccountsMetadata {
	c := bi.country
	cur := bankgate.Currencies[c.Currency]
	ibanLen := ibanLengths[c.Code]
	numberLen := 13
	if c.Code == "SA" {
		numberLen = 14
	}
	const (
		// Regular expressions a whole allowed value matches, as the SDKs
		// use them (Node: value.match(re)[0] === value; Go: ^(re)*$).
		alnumSpace   = "[a-zA-Z0-9 ]+"
		upperAlnum   = "[A-Z0-9]+"
		digitsOnly   = "[0-9]+"
		addressChars = "[a-zA-Z0-9 /.-]+"
		upperSpace   = "[A-Z ]+"
		phoneChars   = "[0-9+]+"
	)
	beneficiary := func(same bool) map[string]bankgate.ValidatorProps {
		req := func(n int, chars string) bankgate.ValidatorProps {
			return bankgate.ValidatorProps{Required: true, Length: n, AllowedCharacters: chars}
		}
		opt := func(n int, chars string) bankgate.ValidatorProps {
			return bankgate.ValidatorProps{Optional: true, Length: n, AllowedCharacters: chars}
		}
		v := map[string]bankgate.ValidatorProps{
			"name":          req(maxNameLength, alnumSpace),
			"nickname":      opt(maxNameLength, alnumSpace),
			"iban":          req(ibanLen, upperAlnum),
			"accountNumber": req(numberLen, digitsOnly),
			"swiftCode":     req(11, upperAlnum),
			"branchAddress": req(100, addressChars),
			"branchName":    req(50, alnumSpace),
			"country":       req(50, upperSpace),
			"phoneNumber":   opt(15, phoneChars),
			"sortCode":      opt(6, digitsOnly),
			"address":       req(105, addressChars),
		}
		if same {
			// Within the bank, the account number is enough.
			v["iban"] = opt(ibanLen, upperAlnum)
			v["swiftCode"] = opt(11, upperAlnum)
			v["branchAddress"] = opt(100, addressChars)
			v["branchName"] = opt(50, alnumSpace)
			v["country"] = opt(50, upperSpace)
			v["address"] = opt(105, addressChars)
		}
		return v
	}
	remarks := map[string]bankgate.ValidatorProps{
		"remarks": {Optional: true, Length: 35, AllowedCharacters: alnumSpace},
	}
	var bounds []bankgate.TransferBound
	for _, t := range []string{"same", "local", "intl"} {
		bounds = append(bounds, bankgate.TransferBound{Minimum: minimumUnits[t], Currency: cur, Type: t})
	}
	return &bankgate.AccountsMetadata{
		BankID:                                  bi.bank.ID,
		SwiftCode:                               bi.bank.SwiftCode,
		BankName:                                strings.TrimSuffix(bi.bank.Name, " (Sandbox)"),
		BranchName:                              bi.branchName,
		BranchAddress:                           bi.branchAddress,
		Address:                                 bi.address,
		Country:                                 bankgate.Currency{Code: c.Code, Name: c.Name},
		IsCreateBeneficiaryEndpointRequired:     true,
		IsCreateWireBeneficiaryEndpointRequired: true,
		WillNewlyAddedBeneficiaryExistBeforeCoolDownPeriod: true,
		TransferBounds:            bounds,
		BeneficiaryCoolDownPeriod: bankgate.Period{Value: bi.coolDownHrs, Unit: "hrs"},
		TransactionRange:          bankgate.Period{Value: bi.rangeDays, Unit: "days"},
		BeneficiaryValidators:     map[string]map[string]bankgate.ValidatorProps{"local": beneficiary(false), "same": beneficiary(true)},
		TransferValidators:        map[string]map[string]bankgate.ValidatorProps{"local": remarks, "same": remarks},
		MaxTransferAmount:         maxTransferUnits * 100,
		MinTransferAmount:         bankgate.Money(minimumUnits["same"]) * 100,
	}
}
