package memevents

import (
	"context"
	"testing"
	"time"

	"github.com/bankgate/bankgate"
)

func TestLog(t *testing.T) {
	ctx := context.Background()
	l := New()
	body := []byte("a")
	if err := l.AppendEvent(ctx, "s", 1, time.Unix(1, 0), body); err != nil {
		t.Fatal(err)
	}
	body[0] = 'x' // the log kept a copy
	if err := l.AppendEvent(ctx, "s", 1, time.Unix(2, 0), []byte("b")); !bankgate.IsCode(err, bankgate.Conflict) {
		t.Fatalf("a taken seq: %v, want Conflict", err)
	}
	if err := l.AppendEvent(ctx, "s", 3, time.Unix(2, 0), []byte("c")); err == nil || bankgate.IsCode(err, bankgate.Conflict) {
		t.Fatalf("a gap: %v, want an error other than Conflict", err)
	}
	if err := l.AppendEvent(ctx, "s", 2, time.Unix(2, 0), []byte("b")); err != nil {
		t.Fatal(err)
	}
	evs, err := l.Events(ctx, "s", -1)
	if err != nil || len(evs) != 2 || string(evs[0].Body) != "a" || evs[1].Seq != 2 {
		t.Fatalf("Events: %+v, %v", evs, err)
	}
	if evs, _ := l.Events(ctx, "s", 2); evs != nil {
		t.Fatalf("after the last: %+v", evs)
	}
	if evs, _ := l.Events(ctx, "other", 0); evs != nil {
		t.Fatalf("an empty stream: %+v", evs)
	}
}
