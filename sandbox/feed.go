package sandbox

import (
	"strings"
)

// markStream makes the state a changed stream belongs to catch up before
// its next read: a user's stream marks that user in that app's world; a
// fixture (template or an app's) marks every state, as AddFixture does.
func (b *Connector) markStream(stream string) {
	switch {
	case strings.HasPrefix(stream, "sandbox/"):
		rest := stream[len("sandbox/"):]
		app, rest, ok1 := strings.Cut(rest, "/")
		bankID, user, ok2 := strings.Cut(rest, "/")
		if !ok1 || !ok2 {
			return
		}
		if st := b.cache.peek(cacheKey{app, bankID, user}); st != nil {
			st.dirty.Store(true)
		}
	case strings.HasPrefix(stream, "sandbox-fixture/"):
		b.fixGen.Add(1)
	}
}
