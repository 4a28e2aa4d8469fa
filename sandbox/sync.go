// Keeping a user's state in step with the store: when a read may use it as
// it is, catching up, and appending an event at the next sequence number.

package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bankgate/bankgate"
)

// fresh reports whether a read at now (real: the same instant on the
// change feed's clock, time.Now) may use st as it is, without
// catching up with the store: st was caught up less than the read
// staleness ago (either way: a clock that jumps back further catches up
// too), and no fixture changed in this Connector since. The caller holds st.mu.
//
// With the change feed, a state older than that is fresh too while the
// feed has not marked it and covers it (see feed.Feed.Covers).
func (b *Connector) fresh(st *userState, now, real time.Time) bool {
	if b.staleness < 0 || st.l == nil || st.syncedAt.IsZero() || st.fixGen != b.fixGen.Load() {
		return false
	}
	if age := now.Sub(st.syncedAt); age < b.staleness && age > -b.staleness {
		return true
	}
	return b.feed != nil && !st.dirty.Load() && b.feed.Covers(st.syncedReal, b.staleness, real)
}

// sync brings st up to date with the store: the user's fixture (which
// replaces the base when it changes) and the events appended after the
// last one applied. On the state's first use it registers its IBANs. The
// caller holds st.mu.
func (b *Connector) sync(ctx context.Context, st *userState, now time.Time) error {
	gen := b.fixGen.Load()
	// Cleared before reading, so that a change the feed marks while the
	// catch-up runs is caught up next time.
	st.dirty.Store(false)
	began := time.Now()
	fx, fver, err := b.fixture(ctx, st.app, st.bi.bank.ID, st.user)
	if err != nil {
		return err
	}
	if st.l == nil || fver != st.fixVer {
		if fx != nil {
			st.l = fx.ledger(st.bi)
			if bens := fx.beneficiaries(st.bi, st.user); len(bens) > 0 || st.stateEvents != nil {
				st.ev().preBens = bens
			}
		} else {
			if st.gen == nil {
				st.gen = b.gen.ledger(st.bi, st.user)
			}
			st.l = st.gen
			if st.stateEvents != nil {
				st.preBens = nil
			}
		}
		st.fixture, st.fixVer, st.registered = fx, fver, false
		st.rebuild()
	}
	stream := userStream(st.app, st.bi.bank.ID, st.user)
	evs, err := b.events.Events(ctx, stream, st.seq)
	if err != nil {
		return fmt.Errorf("sandbox: read %s: %w", stream, err)
	}
	if len(evs) > 0 {
		st.ev()
	}
	for _, e := range evs {
		if e.Seq != st.seq+1 {
			return fmt.Errorf("sandbox: %s: event %d follows %d", stream, e.Seq, st.seq)
		}
		var ue userEvent
		if err := json.Unmarshal(e.Body, &ue); err != nil {
			return fmt.Errorf("sandbox: %s: event %d: %w", stream, e.Seq, err)
		}
		st.events = append(st.events, ue)
		st.apply(&st.events[len(st.events)-1])
		st.seq = e.Seq
	}
	if !st.registered {
		if err := b.registerIBANs(ctx, st, now); err != nil {
			return err
		}
		st.registered = true
	}
	st.syncedAt, st.fixGen, st.syncedReal = now, gen, began
	return nil
}

// maxAppendAttempts bounds the retries of an append that keeps losing
// the race for its seq.
const maxAppendAttempts = 100

// appendEvent catches st up, asks build for the event to append (which
// checks it against the current state), and appends it at the next seq.
// On a Conflict (another writer took the seq) it catches up and asks
// build again, so every check is made against the state the event lands
// on. build may return a nil event to append nothing. The caller holds
// st.mu.
func (b *Connector) appendEvent(ctx context.Context, st *userState, now time.Time, build func() (*userEvent, error)) (*userEvent, error) {
	stream := userStream(st.app, st.bi.bank.ID, st.user)
	for attempt := 0; ; attempt++ {
		if err := b.sync(ctx, st, now); err != nil {
			return nil, err
		}
		st.ev()
		ev, err := build()
		if err != nil || ev == nil {
			return nil, err
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		err = b.events.AppendEvent(ctx, stream, st.seq+1, now, body)
		if err == nil {
			var ue userEvent
			if err := json.Unmarshal(body, &ue); err != nil {
				return nil, err
			}
			st.events = append(st.events, ue)
			st.apply(&st.events[len(st.events)-1])
			st.seq++
			return &st.events[len(st.events)-1], nil
		}
		if !bankgate.IsCode(err, bankgate.Conflict) || attempt >= maxAppendAttempts {
			return nil, fmt.Errorf("sandbox: append to %s: %w", stream, err)
		}
	}
}
