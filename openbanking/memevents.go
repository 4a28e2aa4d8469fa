package openbanking

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
)

// memEvents is an in-memory EventLog, for a Connector without a store.
type memEvents struct {
	mu      sync.Mutex
	streams map[string][]bankgate.Event
}

func newMemEvents() *memEvents { return &memEvents{streams: map[string][]bankgate.Event{}} }

func (m *memEvents) AppendEvent(_ context.Context, stream string, seq int64, at time.Time, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.streams[stream]
	switch {
	case seq >= 1 && seq <= int64(len(evs)):
		return bankgate.Errorf(bankgate.Conflict, "event %d of %s already exists", seq, stream)
	case seq != int64(len(evs))+1:
		return fmt.Errorf("openbanking: event %d of %s would leave a gap", seq, stream)
	}
	m.streams[stream] = append(evs, bankgate.Event{Seq: seq, At: at, Body: slices.Clone(body)})
	return nil
}

func (m *memEvents) Events(_ context.Context, stream string, after int64) ([]bankgate.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.streams[stream]
	if after >= int64(len(evs)) {
		return nil, nil
	}
	return slices.Clone(evs[max(after, 0):]), nil
}
