// Where the sandbox keeps its state: the event log (the store's event
// streams, or memory in tests) and the names of its streams.

package sandbox

import (
	"context"
	"time"

	"github.com/bankgate/bankgate"
)

// eventLog is the part of bankgate.Store the sandbox keeps its state in.
type eventLog interface {
	AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error
	Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error)
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
