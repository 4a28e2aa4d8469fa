package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
)

// refusingStore refuses every write while full is set, as a store on a
// full disk does (the stores' own classification of SQLITE_FULL,
// SQLITE_READONLY, 53100 and 25006 is tested in their packages).
type refusingStore struct {
	bankgate.Store
	full    atomic.Bool
	refused atomic.Int64
}

func (s *refusingStore) refuse() error {
	if !s.full.Load() {
		return nil
	}
	s.refused.Add(1)
	return bankgate.WriteRefused(errors.New("database or disk is full (SQLITE_FULL)"))
}

func (s *refusingStore) CreateConnection(ctx context.Context, c *bankgate.Connection, code *bankgate.AccessCode) error {
	if err := s.refuse(); err != nil {
		return err
	}
	return s.Store.CreateConnection(ctx, c, code)
}

func (s *refusingStore) ExchangeAccessCode(ctx context.Context, ex *bankgate.Exchange) error {
	if err := s.refuse(); err != nil {
		return err
	}
	return s.Store.ExchangeAccessCode(ctx, ex)
}

func (s *refusingStore) AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error {
	if err := s.refuse(); err != nil {
		return err
	}
	return s.Store.AppendEvent(ctx, stream, seq, at, body)
}

func (s *refusingStore) ProbeWrite(ctx context.Context) error {
	if err := s.refuse(); err != nil {
		return err
	}
	return s.Store.(writeProber).ProbeWrite(ctx)
}

// TestStoreFull: while the store refuses writes (a full disk), writes are
// answered 503 TEMPORARILY_UNAVAILABLE (never 500 UNKNOWN_ERROR), reads
// still work, /readyz fails, and one line is logged; once the store takes
// writes again /readyz passes, the refused calls succeed when retried, and
// what was written before (a token) still works.
func TestStoreFull(t *testing.T) {
	st := &refusingStore{}
	ts := startServer(t, serverOpts{probeEvery: 20 * time.Millisecond, wrapStore: func(s bankgate.Store) bankgate.Store {
		st.Store = s
		return st
	}})
	key, sec := ts.newApp("full")
	before := ts.login(key, "user_good")
	ts.exchange(sec, before)
	// A user's first read registers its accounts' IBANs (a write); later
	// reads write nothing.
	wantOK(t, ts.data("/v2/data/accounts/get", sec, before, nil))
	pending := ts.login(key, "user_good") // its code is exchanged while full
	readyz := func() int {
		res, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := readyz(); s != 200 {
		t.Fatalf("readyz before: %d", s)
	}
	beneficiary := map[string]any{"name": "Full Disk", "iban": "AE070331234567890123456", "accountNumber": "1234567890123456", "swiftCode": "BOMLAEAD",
		"type": "local", "country": "UNITED ARAB EMIRATES", "address": map[string]any{"line1": "Street 1", "line2": "Dubai", "line3": "UAE"}}

	st.full.Store(true)
	for range 3 {
		wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": key, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"}), 503, "TEMPORARILY_UNAVAILABLE")
	}
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": sec, "accessCode": pending.AccessCode, "connectionID": pending.ConnectionID}), 503, "TEMPORARILY_UNAVAILABLE")
	wantFail(t, ts.data("/v2/payment/beneficiaries/create", sec, before, beneficiary), 503, "TEMPORARILY_UNAVAILABLE")
	// Reads go on.
	wantOK(t, ts.data("/v2/data/accounts/get", sec, before, nil))
	if s := readyz(); s != 503 {
		t.Fatalf("readyz while the store refuses writes: %d", s)
	}
	if st.refused.Load() < 5 {
		t.Fatalf("only %d writes refused", st.refused.Load())
	}
	logs := ts.Stderr.String()
	if n := strings.Count(logs, `"msg":"the store refuses writes`); n != 1 {
		t.Errorf("%d log lines about the refused writes, want 1:\n%s", n, logs)
	}
	for _, bad := range []string{"internal error", `"msg":"store unavailable"`, "UNKNOWN_ERROR"} {
		if strings.Contains(logs, bad) {
			t.Errorf("log has %q:\n%s", bad, logs)
		}
	}

	// Space returns.
	st.full.Store(false)
	for deadline := time.Now().Add(5 * time.Second); readyz() != 200; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("readyz still failing after the store takes writes again:\n%s", ts.Stderr.String())
		}
	}
	if !strings.Contains(ts.Stderr.String(), "the store takes writes again") {
		t.Errorf("recovery not logged:\n%s", ts.Stderr.String())
	}
	ts.exchange(sec, pending) // the refused exchange, retried
	wantOK(t, ts.data("/v2/payment/beneficiaries/create", sec, before, beneficiary))
	wantOK(t, ts.data("/v2/data/accounts/get", sec, before, nil))
	wantOK(t, ts.data("/v2/data/accounts/get", sec, pending, nil))
	ts.login(key, "user_good")
}
