package sandbox

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// readCountingLog counts the reads of event streams.
type readCountingLog struct {
	eventLog
	reads atomic.Int64
}

func (c *readCountingLog) Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error) {
	c.reads.Add(1)
	return c.eventLog.Events(ctx, stream, after)
}

// TestReadStaleness checks the read path's cache: within
// Options.ReadStaleness of its last catch-up a read answers from memory
// without reading the store; a payment made through another instance on
// the same store shows once the window has passed; one made through this
// instance shows at once.
func TestReadStaleness(t *testing.T) {
	ctx := context.Background()
	store := mustSQLite(t)
	clock := &testClock{t: testNow}
	counting := &readCountingLog{eventLog: store}
	b1 := newBankOn(clock, counting) // this instance
	b2 := newBankOn(clock, store)    // another instance on the same store
	if b1.staleness != DefaultReadStaleness || DefaultReadStaleness != 500*time.Millisecond {
		t.Fatalf("staleness %v", b1.staleness)
	}
	s := MustLogin(t, b1, enbd, UserGood)
	rs := MustLogin(t, b1, enbd, "stale_receiver")
	accts := mustAccounts(t, b1, s)
	id := accts[0].ID
	to := mustAccounts(t, b1, rs)[0]
	bn := mustBeneficiary(t, b2, s, bankgate.Beneficiary{Name: "Sink", IBAN: externalIBAN})
	local := mustBeneficiary(t, b1, s, bankgate.Beneficiary{Name: "Receiver", IBAN: to.IBAN, Type: "same"})
	pull := &bankgate.ACHPullRequest{SenderID: id, Amount: 100}
	if _, err := b1.CreateACHPull(ctx, &bank.Call{Session: s, OperationID: "pull-1"}, pull); err != nil {
		t.Fatal(err)
	}
	clock.Advance(7 * time.Hour) // past the cool-down, and past the window
	before := mustBalance(t, b1, s, id)
	cards, _ := cardsAt(b1, s, clock.Now())
	mustBalance(t, b1, rs, to.ID) // the receiver's state, warm

	// (a) Within the window no read reaches the store.
	reads := counting.reads.Load()
	call := &bank.Call{Session: s}
	for name, read := range map[string]func() error{
		"Identity":     func() error { _, _, err := b1.Identity(ctx, call); return err },
		"Accounts":     func() error { _, _, err := b1.Accounts(ctx, call); return err },
		"Balance":      func() error { _, _, err := b1.Balance(ctx, call, id); return err },
		"Transactions": func() error { _, _, err := b1.Transactions(ctx, call, id, time.Time{}, time.Time{}); return err },
		"Cards":        func() error { _, _, err := b1.Cards(ctx, call); return err },
		"CardBalance":  func() error { _, _, err := b1.CardBalance(ctx, call, cards[0].ID); return err },
		"CardTransactions": func() error {
			_, _, err := b1.CardTransactions(ctx, call, cards[0].ID, time.Time{}, time.Time{})
			return err
		},
		"Beneficiaries":     func() error { _, _, err := b1.Beneficiaries(ctx, call); return err },
		"WireBeneficiaries": func() error { _, _, err := b1.WireBeneficiaries(ctx, call); return err },
		"Metadata":          func() error { _, err := b1.Metadata(ctx, call); return err },
		"ACHPull":           func() error { _, err := b1.ACHPull(ctx, call, "pull-1"); return err },
	} {
		if err := read(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if n := counting.reads.Load() - reads; n != 0 {
			t.Errorf("%s read the store %d times within the staleness window", name, n)
			reads = counting.reads.Load()
		}
	}

	// (b) Another instance pays: not seen within the window, seen after.
	mustTransfer(t, b2, s, bankgate.TransferRequest{SenderID: id, ReceiverID: bn.ID, Amount: 10000})
	clock.Advance(DefaultReadStaleness - time.Millisecond)
	if got := mustBalance(t, b1, s, id); got != before {
		t.Errorf("balance within the window %v, want the cached %v", got, before)
	}
	if n := counting.reads.Load() - reads; n != 0 {
		t.Errorf("%d store reads within the window", n)
	}
	clock.Advance(time.Millisecond)
	if got := mustBalance(t, b1, s, id); got != before-10000 {
		t.Errorf("balance after the window %v, want %v", got, before-10000)
	}
	if counting.reads.Load() == reads {
		t.Error("the read after the window did not catch up with the store")
	}
	// A call's own clock counts too, back as well as forward.
	for _, d := range []time.Duration{time.Second, -time.Second} {
		reads = counting.reads.Load()
		if _, _, err := b1.Balance(ctx, &bank.Call{Session: s, Now: clock.Now().Add(d)}, id); err != nil {
			t.Fatal(err)
		}
		if counting.reads.Load() == reads {
			t.Errorf("a read at the clock %+v did not catch up", d)
		}
	}

	// (c) A payment through this instance shows at once, for the receiver
	// on this instance too, without reading the store to answer.
	recv := mustBalance(t, b1, rs, to.ID)
	mustTransfer(t, b1, s, bankgate.TransferRequest{SenderID: id, ReceiverID: local.ID, Amount: 5000})
	reads = counting.reads.Load()
	if got := mustBalance(t, b1, s, id); got != before-15000 {
		t.Errorf("balance right after paying %v, want %v", got, before-15000)
	}
	if got, want := mustBalance(t, b1, rs, to.ID), recv+5000; got != want {
		t.Errorf("receiver's balance right after the payment %v, want %v", got, want)
	}
	txs, _, err := b1.Transactions(ctx, call, id, time.Time{}, time.Time{})
	if err != nil || len(txs) == 0 || !strings.HasPrefix(txs[len(txs)-1].Description, "Transfer to Receiver") {
		t.Errorf("last transaction %+v, %v", txs[len(txs)-1], err)
	}
	if n := counting.reads.Load() - reads; n != 0 {
		t.Errorf("%d store reads to see this instance's own payment", n)
	}

	// An ACH pull made through another instance is found at once: a pull
	// missing from memory is looked for in the store.
	if _, err := b2.CreateACHPull(ctx, &bank.Call{Session: s, OperationID: "pull-2"}, pull); err != nil {
		t.Fatal(err)
	}
	if p, err := b1.ACHPull(ctx, call, "pull-2"); err != nil || p.Amount != 100 {
		t.Errorf("other instance's pull: %+v, %v", p, err)
	}
	_, err = b1.ACHPull(ctx, call, "no-such-pull")
	wantCode(t, "missing pull", err, bankgate.ParameterError)

	// A negative ReadStaleness makes every read catch up.
	strict := New(Options{Now: clock.Now, ReadStaleness: -1})
	strictLog := &readCountingLog{eventLog: store}
	strict.events = strictLog
	mustBalance(t, strict, s, id)
	reads = strictLog.reads.Load()
	if got := mustBalance(t, strict, s, id); got != before-15000+100 {
		t.Errorf("strict balance %v", got)
	}
	if strictLog.reads.Load() == reads {
		t.Error("with a negative ReadStaleness a read did not catch up")
	}
}

// benchCached returns a Connector on a SQLite store, on the real clock, with
// UserGood logged in and its state warm, and a call for it.
func benchCached(b *testing.B) (*Connector, *bank.Call, string) {
	b.Helper()
	bk := New(Options{Store: mustSQLite(b)})
	s := MustLogin(b, bk, enbd, UserGood)
	call := &bank.Call{Session: s}
	accts, _, err := bk.Accounts(context.Background(), call)
	if err != nil {
		b.Fatal(err)
	}
	return bk, call, accts[0].ID
}

// BenchmarkBalanceCached measures Balance for a user whose state is warm,
// on a SQLite store and the real clock: the hot path of
// GET /v2/data/accounts/balance.
func BenchmarkBalanceCached(b *testing.B) {
	ctx := context.Background()
	bk, call, id := benchCached(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := bk.Balance(ctx, call, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAccountsCached measures Accounts as BenchmarkBalanceCached
// measures Balance.
func BenchmarkAccountsCached(b *testing.B) {
	ctx := context.Background()
	bk, call, _ := benchCached(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := bk.Accounts(ctx, call); err != nil {
			b.Fatal(err)
		}
	}
}
