// Payments between sandbox users of one app's world: the IBAN registry and
// the delivery of credits to their receivers.

package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/bankgate/bankgate"
)

// ibanOwner returns who the app's registry says holds iban, and the
// registry stream's last seq.
func (b *Connector) ibanOwner(ctx context.Context, app, iban string) (*owner, int64, error) {
	evs, err := b.events.Events(ctx, ibanStream(app, iban), 0)
	if err != nil || len(evs) == 0 {
		return nil, 0, err
	}
	last := evs[len(evs)-1]
	var o owner
	if err := json.Unmarshal(last.Body, &o); err != nil {
		return nil, 0, fmt.Errorf("sandbox: iban registry %s: %w", iban, err)
	}
	return &o, last.Seq, nil
}

// registerIBANs records the base's IBANs in the registry. A generated
// account claims only an IBAN nobody holds; a fixture's takes it over.
func (b *Connector) registerIBANs(ctx context.Context, st *userState, now time.Time) error {
	p := st.l.p
	for i, a := range p.accounts {
		bk := p.book(int(a.book))
		if bk.iban() == "" {
			continue
		}
		o := owner{Bank: st.bi.bank.ID, User: st.user, Account: p.accountID(i), Currency: bk.cur.Code}
		for range maxAppendAttempts {
			cur, seq, err := b.ibanOwner(ctx, st.app, bk.iban())
			if err != nil {
				return err
			}
			if (cur != nil && *cur == o) || (cur != nil && st.fixture == nil) {
				break
			}
			body, _ := json.Marshal(o)
			err = b.events.AppendEvent(ctx, ibanStream(st.app, bk.iban()), seq+1, now, body)
			if err == nil {
				break
			}
			if !bankgate.IsCode(err, bankgate.Conflict) {
				return fmt.Errorf("sandbox: register %s: %w", bk.iban(), err)
			}
		}
	}
	return nil
}

// deliverPending credits the receivers of st's transfers to other sandbox
// users that are not yet marked delivered, then marks them. A failure
// leaves the transfer pending; the next use of the sender's state tries
// again, and the receiver applies a credit at most once per reference.
func (b *Connector) deliverPending(ctx context.Context, st *userState, now time.Time) {
	ctx = context.WithoutCancel(ctx)
	st.mu.Lock()
	var todo []*transferRecord
	for ref, t := range st.pending {
		if !st.delivering[ref] {
			st.delivering = put(st.delivering, ref, true)
			todo = append(todo, t)
		}
	}
	st.mu.Unlock()
	slices.SortFunc(todo, func(a, b *transferRecord) int { return compareStrings(a.Ref, b.Ref) })
	for _, t := range todo {
		_ = b.deliver(ctx, st, t, now)
	}
	st.mu.Lock()
	for _, t := range todo {
		delete(st.delivering, t.Ref)
	}
	st.mu.Unlock()
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// deliver appends t's credit to its receiver's stream unless it is there,
// then marks t delivered in the sender's stream. It holds one user's lock
// at a time.
func (b *Connector) deliver(ctx context.Context, sender *userState, t *transferRecord, now time.Time) error {
	bi, ok := bankByID[t.To.Bank]
	if !ok {
		return fmt.Errorf("sandbox: transfer %s to unknown bank %s", t.Ref, t.To.Bank)
	}
	var at time.Time
	sender.mu.Lock()
	for i := range sender.ev().events {
		if e := &sender.events[i]; e.Type == etTransfer && e.Transfer != nil && e.Transfer.Ref == t.Ref {
			at = e.Date
		}
	}
	sender.mu.Unlock()
	rst := b.cache.get(sender.app, bi, t.To.User)
	rst.mu.Lock()
	_, err := b.appendEvent(ctx, rst, now, func() (*userEvent, error) {
		if rst.credited[t.Ref] {
			return nil, nil
		}
		return &userEvent{Type: etCredit, Date: at, Credit: &creditRecord{Ref: t.Ref, Account: t.To.Account,
			Amount: t.Amount, FromName: t.FromName, FromIBAN: t.FromIBAN, Remark: t.Remark}}, nil
	})
	rst.mu.Unlock()
	if err != nil {
		return err
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	_, err = b.appendEvent(ctx, sender, now, func() (*userEvent, error) {
		if sender.pending[t.Ref] == nil {
			return nil, nil
		}
		return &userEvent{Type: etDelivered, Date: now, Ref: t.Ref}, nil
	})
	return err
}
