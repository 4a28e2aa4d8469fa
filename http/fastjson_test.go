package http

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
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

// FuzzTxsResponse checks that a transactions response written from the
// domain's transactions is what encoding/json writes of its wire form,
// at every level of detail, and that MarshalJSON (the fallback) agrees.
func FuzzTxsResponse(f *testing.F) {
	f.Add(2, int64(15025), int64(1793000000123456789), "debit", "Carrefour", "POS PURCHASE", "AED", "UAE DIRHAM", int64(100050), int64(85025), "FT1", "Groceries", "https://l/x.png", "Carrefour", uint8(2))
	f.Add(1, int64(-1), int64(-62135596800000000), "", "", "", "", "", int64(0), int64(0), "", "", "", "", uint8(1))
	f.Add(3, int64(1)<<62, int64(0), "\"<&>\"", "\\", "\x01", "\u2028", "ﷺ", int64(-1)<<62, int64(3), "r", "", "", "", uint8(0))
	f.Fuzz(func(t *testing.T, n int, amount, unixNano int64, typ, desc, details, code, name string, before, after int64, ref, cat, logo, brand string, detail uint8) {
		loc := time.FixedZone("X", 4*3600)
		r := &txsResponse{env: done("op"), detail: txDetail(detail % 3)}
		for range min(max(n, 0), 3) {
			r.txs = append(r.txs, bankgate.Transaction{Amount: bankgate.Money(amount), Date: time.Unix(0, unixNano).In(loc), Type: typ,
				Description: desc, Details: details, Currency: bankgate.Currency{Code: code, Name: name},
				BeforeAmount: bankgate.Money(before), AfterAmount: bankgate.Money(after), Reference: ref, Category: cat,
				BrandLogo: logo, BrandName: brand})
		}
		var want bytes.Buffer
		if err := encodeJSON(&want, r.wire()); err != nil {
			t.Fatal(err)
		}
		got, ok := r.appendJSON(nil)
		if !ok || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendJSON (%v):\n%s\nencoding/json:\n%s", ok, got, want.Bytes())
		}
		var viaMarshal bytes.Buffer
		if err := encodeJSON(&viaMarshal, r); err != nil || !bytes.Equal(viaMarshal.Bytes(), want.Bytes()) {
			t.Errorf("MarshalJSON (%v):\n%s\nwant:\n%s", err, viaMarshal.Bytes(), want.Bytes())
		}
	})
}
