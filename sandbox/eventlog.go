// Where the sandbox keeps its state: the event log (the store's event
// streams, or memory in tests) and the names of its streams.

package sandbox

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
)

// eventLog is the part of bankgate.Store the sandbox keeps its state in.
type eventLog interface {
	AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error
	Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error)
}

// memEvents is an in-memory eventLog, used when Options.Store is nil. It
// rejects a seq that is taken with Conflict, like the stores do, and one
// that would leave a gap with an error.
type memEvents struct {
	mu      sync.Mutex
	streams map[string][]bankgate.Event
}

func newMemEvents() *memEvents { return &memEvents{streams: make(map[string][]bankgate.Event)} }

func (m *memEvents) AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.streams[stream]
	switch {
	case seq >= 1 && seq <= int64(len(evs)):
		return bankgate.Errorf(bankgate.Conflict, "event %d of %s already exists", seq, stream)
	case seq != int64(len(evs))+1:
		return fmt.Errorf("sandbox: event %d of %s would leave a gap after %d", seq, stream, len(evs))
	}
	m.streams[stream] = append(evs, bankgate.Event{Seq: seq, At: at, Body: slices.Clone(body)})
	return nil
}

func (m *memEvents) Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.streams[stream]
	if after < 0 {
		after = 0
	}
	if after >= int64(len(evs)) {
		return nil, nil
	}
	return slices.Clone(evs[after:]), nil
}

// Stream names. Everything users do belongs to the app (its sandbox
// world) it happened in; operator fixtures are server-wide templates.
func userStream(app, bankID, user string) string { return "sandbox/" + app + "/" + bankID + "/" + user }
func ibanStream(app, iban string) string         { return "sandbox-iban/" + app + "/" + iban }
func fixtureStream(bankID, user string) string   { return "sandbox-fixture/" + bankID + "/" + user }
func appFixtureStream(app, bankID, user string) string {
	return "sandbox-fixture/" + app + "/" + bankID + "/" + user
}
func appUsersStream(app string) string { return "sandbox-users/" + app }
