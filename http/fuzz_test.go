package http

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/bankgate/bankgate"
)

// The fuzz targets below cover every request decoder and the token
// parser; their seed corpora in testdata/fuzz run as ordinary tests.

// fuzzDecode checks that decoding arbitrary bytes into T never panics and
// fails only with PARAMETER_ERROR.
func fuzzDecode[T any](f *testing.F) {
	for _, s := range []string{`{}`, `{"appSecret":"x","userSecret":"y"}`, `[]`, `null`, `{"amount":1e400}`, `{"userInputs":[{"index":-1}]}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v T
		if err := decode(b, &v); err != nil && !bankgate.IsCode(err, bankgate.ParameterError) {
			t.Fatalf("decode error with code %s: %v", bankgate.ErrorCode(err), err)
		}
	})
}

func FuzzDecodeBase(f *testing.F)            { fuzzDecode[baseRequest](f) }
func FuzzDecodeBanks(f *testing.F)           { fuzzDecode[banksRequest](f) }
func FuzzDecodeLogin(f *testing.F)           { fuzzDecode[loginRequest](f) }
func FuzzDecodeExchange(f *testing.F)        { fuzzDecode[exchangeRequest](f) }
func FuzzDecodeBalance(f *testing.F)         { fuzzDecode[balanceRequest](f) }
func FuzzDecodeTransactions(f *testing.F)    { fuzzDecode[transactionsRequest](f) }
func FuzzDecodeBeneficiary(f *testing.F)     { fuzzDecode[beneficiaryFields](f) }
func FuzzDecodeWireBeneficiary(f *testing.F) { fuzzDecode[usWireBeneficiaryFields](f) }
func FuzzDecodeTransfer(f *testing.F)        { fuzzDecode[transferCreateRequest](f) }
func FuzzDecodeAutoflow(f *testing.F)        { fuzzDecode[autoflowRequest](f) }
func FuzzDecodeWireTransfer(f *testing.F)    { fuzzDecode[usWireTransferRequest](f) }
func FuzzDecodeACH(f *testing.F)             { fuzzDecode[achCreateRequest](f) }
func FuzzDecodeOperation(f *testing.F)       { fuzzDecode[operationRequest](f) }
func FuzzDecodeSDKConfig(f *testing.F)       { fuzzDecode[sdkConfigRequest](f) }
func FuzzDecodeClock(f *testing.F)           { fuzzDecode[clockRequest](f) }
func FuzzDecodeForward(f *testing.F)         { fuzzDecode[ddRequest](f) }
func FuzzDecodeBatch(f *testing.F)           { fuzzDecode[batchCreateRequest](f) }
func FuzzDecodeBatchList(f *testing.F)       { fuzzDecode[batchListRequest](f) }

// FuzzParseBearer: the Authorization parser and the token shape check
// never panic, and only well-formed tokens pass.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"", "Bearer ", "bearer bgat_" + strings.Repeat("A", 43), "Basic abc", "Bearer  x y", "Bearer\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok := parseBearer(h)
		if tok == "" {
			return
		}
		if !strings.HasSuffix(strings.TrimSpace(h), tok) || tok != strings.TrimSpace(tok) {
			t.Fatalf("%q parsed to %q, not the header's trimmed credentials", h, tok)
		}
		if !strings.EqualFold(strings.TrimSpace(h)[:7], "bearer ") {
			t.Fatalf("%q is not a bearer header but gave %q", h, tok)
		}
	})
}

// FuzzNormalizePath: path normalisation is idempotent and never panics.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/v2/users/DelinkUser", "users/delinkuser", "//V2//x/", "", "/", "\xff/v2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := normalizePath(p)
		if normalizePath(n) != n || !strings.HasPrefix(n, "/") {
			t.Fatalf("normalizePath(%q) = %q, not stable", p, n)
		}
	})
}

// FuzzDecodeFlat: whenever the fast path accepts a body, encoding/json
// decodes it without error to the same value.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range []string{`{}`, `{"appSecret":"a","userSecret":"b","accountID":"c"}`, ` { "APPSECRET" : "x" , "appSecret":"y", "x":null } `,
		`{"a":"b"}x`, `{"accountID":"é"}`, `{"accountID":"a\"b"}`, `{"operationID":null}`, `{"fromDate":"2026-01-01","toDate":"2026-01-31","cardID":"c"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow transactionsRequest
		if !decodeFlat(b, &fast) {
			return
		}
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted %q that encoding/json rejects: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, slow)
		}
	})
}
