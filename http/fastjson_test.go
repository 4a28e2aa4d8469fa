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
