package requestid

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestValid(t *testing.T) {
	for _, id := range []string{"a", "3f2c9a1e-5b7d-4c1e-9f00-0123456789ab", "Root=1-67891233-abcdef012345678912345678", "abc+/=", "req_01H:x.y@z", strings.Repeat("x", MaxLen)} {
		if !Valid(id) {
			t.Errorf("Valid(%q) = false, want true", id)
		}
	}
	for _, id := range []string{"", strings.Repeat("x", MaxLen+1), "a b", "a\nb", "a\"b", "<script>", "é", "a,b", "a;b", "a\x00"} {
		if Valid(id) {
			t.Errorf("Valid(%q) = true, want false", id)
		}
	}
}

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if len(id) != Size || !Valid(id) || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("New() = %q: want %d lower-case hex digits", id, Size)
		}
		if seen[id] {
			t.Fatalf("New() repeated %q", id)
		}
		seen[id] = true
	}
	var b [Size]byte
	if n := testing.AllocsPerRun(100, func() { Fill(&b) }); n != 0 {
		t.Errorf("Fill allocates %v times, want 0", n)
	}
}

func TestContext(t *testing.T) {
	if got := FromContext(context.Background()); got != "" {
		t.Errorf("FromContext(Background) = %q", got)
	}
	type other struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), other{}, "v"))
	ctx := NewContext(parent, "abc")
	if got := FromContext(ctx); got != "abc" {
		t.Errorf("FromContext = %q, want abc", got)
	}
	if ctx.Value(other{}) != "v" {
		t.Error("the parent's values are lost")
	}
	// Contexts derived from it keep the ID and the parent's cancellation.
	child, stop := context.WithTimeout(ctx, time.Hour)
	defer stop()
	if got := FromContext(child); got != "abc" {
		t.Errorf("FromContext(child) = %q, want abc", got)
	}
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the parent did not reach the child")
	}
}
