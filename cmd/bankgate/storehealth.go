package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bankgate/bankgate"
)

// writeProber is a store that can tell whether it takes writes again
// (both stores are).
type writeProber interface {
	ProbeWrite(ctx context.Context) error
}

// storeHealth follows whether the store refuses writes (a full disk, a
// read-only database). The first refused write logs one line and makes
// /readyz fail; while that lasts a probe write runs every interval, and
// the first that succeeds logs one line and makes /readyz pass again.
// Requests meanwhile are answered 503 TEMPORARILY_UNAVAILABLE (by the
// HTTP layer, through unavailable), each without a log line of its own.
type storeHealth struct {
	store    bankgate.Store
	log      *slog.Logger
	interval time.Duration
	// refused is the first refused write's error while the store
	// refuses writes, else nil.
	refused atomic.Pointer[refusal]
	wake    chan struct{}
}

type refusal struct {
	err   error
	since time.Time
}

func newStoreHealth(store bankgate.Store, log *slog.Logger, interval time.Duration) *storeHealth {
	return &storeHealth{store: store, log: log, interval: interval, wake: make(chan struct{}, 1)}
}

// unavailable is the HTTP layer's Unavailable: it reports whether err is
// answered 503, and notes a refused write.
func (h *storeHealth) unavailable(err error) bool {
	if errors.Is(err, bankgate.ErrWriteRefused) {
		if h.refused.CompareAndSwap(nil, &refusal{err: err, since: time.Now()}) {
			h.log.Error("the store refuses writes (disk full or read-only): writes are answered 503 TEMPORARILY_UNAVAILABLE and /readyz fails until a probe write succeeds; nothing refused was kept", "err", err)
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
		return true
	}
	return storeUnavailable(err)
}

// ready is part of /readyz: an error while the store refuses writes.
func (h *storeHealth) ready(context.Context) error {
	if r := h.refused.Load(); r != nil {
		return r.err
	}
	return nil
}

// run probes the store while it refuses writes, until ctx ends.
func (h *storeHealth) run(ctx context.Context) {
	p, ok := h.store.(writeProber)
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-t.C:
		}
		r := h.refused.Load()
		if r == nil {
			continue
		}
		if ok {
			if err := p.ProbeWrite(ctx); err != nil {
				if !errors.Is(err, bankgate.ErrWriteRefused) && ctx.Err() == nil {
					h.log.Debug("write probe", "err", err)
				}
				continue
			}
		}
		if h.refused.CompareAndSwap(r, nil) {
			h.log.Info("the store takes writes again", "refusedFor", time.Since(r.since).Round(time.Millisecond).String())
		}
	}
}
