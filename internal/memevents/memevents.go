// Package memevents is an event log in memory, with the semantics of the
// stores' event streams (bankgate.Store's AppendEvent and Events): for a
// connector run without a store, and for tests.
package memevents

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
)

// Log keeps streams of events in memory. Like the stores, it rejects a seq
// that is taken with Conflict, and one that would leave a gap with an
// error. It copies what it is given and what it returns.
type Log struct {
	mu      sync.Mutex
	streams map[string][]bankgate.Event
}

// New returns an empty Log.
func New() *Log { return &Log{streams: make(map[string][]bankgate.Event)} }

// AppendEvent appends event seq (the stream's next) to stream.
func (m *Log) AppendEvent(_ context.Context, stream string, seq int64, at time.Time, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.streams[stream]
	switch {
	case seq >= 1 && seq <= int64(len(evs)):
		return bankgate.Errorf(bankgate.Conflict, "event %d of %s already exists", seq, stream)
	case seq != int64(len(evs))+1:
		return fmt.Errorf("event %d of %s would leave a gap after %d", seq, stream, len(evs))
	}
	m.streams[stream] = append(evs, bankgate.Event{Seq: seq, At: at, Body: slices.Clone(body)})
	return nil
}

// Events returns the events of stream after seq after, oldest first.
func (m *Log) Events(_ context.Context, stream string, after int64) ([]bankgate.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.streams[stream]
	after = max(after, 0)
	if after >= int64(len(evs)) {
		return nil, nil
	}
	return slices.Clone(evs[after:]), nil
}
