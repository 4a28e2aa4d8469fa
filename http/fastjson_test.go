package http

import (
	"bytes"
	"math"
	"testing"
)

// FuzzFastJSON checks that the hand-written encodings write what
// encoding/json writes for the same value.
func FuzzFastJSON(f *testing.F) {
	f.Add(true, "done", "EBILAEAD:3d0c8c2e-8f3e-4a7f-9d55-0e1a7a1f2b3c", "", "", 12738.78, "AED", "UNITED ARAB EMIRATES DIRHAM", "1507540685546")
	f.Add(false, "failed", "", "INVALID_TOKEN", `a "quoted" <msg> & \ back`, -0.01, "SAR", "ريال سعودي", "\u2028\x00\x7f\xff")
	f.Add(true, "done", "x", "", "", 1e21, "", "", "")
	f.Add(true, "done", "x", "", "", 1e-7, "", "", "")
	f.Add(true, "done", "x", "", "", math.Copysign(0, -1), "", "", "")
	f.Fuzz(func(t *testing.T, success bool, status, opID, typ, msg string, amount float64, code, name, number string) {
		if math.IsNaN(amount) || math.IsInf(amount, 0) {
			return // never a balance; encoding/json refuses them
		}
		v := &accountBalanceResponse{envelope: envelope{Success: success, Status: status, OperationID: opID, Type: typ, Msg: msg},
			Balance: wireBalance{Amount: amount, Currency: wireCurrency{code, name}, AccountNumber: number}}
		var want bytes.Buffer
		if err := encodeJSON(&want, v); err != nil {
			t.Fatal(err)
		}
		got, ok := v.appendJSON(nil)
		if !ok {
			t.Fatal("appendJSON refused an envelope without user inputs")
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendJSON:\n%s\nencoding/json:\n%s", got, want.Bytes())
		}
	})
}

// FuzzFastJSONTransactions is FuzzFastJSON for a transactions response.
func FuzzFastJSONTransactions(f *testing.F) {
	f.Add(2, 150.25, "2026-11-03T09:15:00.000Z", "debit", "Carrefour", "POS PURCHASE CARREFOUR DUBAI", "AED", "UNITED ARAB EMIRATES DIRHAM", 1000.5, 850.25, "FT261103ABCDEF0001", "Groceries", "https://logo/x.png", "Carrefour", true)
	f.Add(0, 0.0, "", "", "", "", "", "", 0.0, 0.0, "", "", "", "", false)
	f.Add(-1, 1e22, "\"<&>\"", "\\", "\x01", "\u2028", "ﷺ", "\xff", -1e-9, 3.0, "r", "", "", "", false)
	f.Fuzz(func(t *testing.T, n int, amount float64, date, typ, desc, details, code, name string, before, after float64, ref, cat, logo, brand string, hasBrand bool) {
		for _, v := range []float64{amount, before, after} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return
			}
		}
		r := &transactionsResponse{envelope: done("op")}
		if n >= 0 {
			r.Transactions = []wireTransaction{}
		}
		for range min(n, 3) {
			tx := wireTransaction{Amount: amount, Date: date, Type: typ, Description: desc, Details: details,
				Currency: wireCurrency{code, name}, BeforeAmount: before, AfterAmount: after, Reference: ref, Category: cat}
			if hasBrand {
				tx.BrandDetails = &wireBrandDetails{Logo: logo, Name: brand}
			}
			r.Transactions = append(r.Transactions, tx)
		}
		var want bytes.Buffer
		if err := encodeJSON(&want, r); err != nil {
			t.Fatal(err)
		}
		got, ok := r.appendJSON(nil)
		if !ok || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendJSON (%v):\n%s\nencoding/json:\n%s", ok, got, want.Bytes())
		}
	})
}
