package service

import (
	"regexp"
	"testing"
)

// TestOperationIDs: operation IDs are the bank's SWIFT code (or ID), a
// colon and a random version 4 UUID, never repeated.
func TestOperationIDs(t *testing.T) {
	s := &Service{}
	re := regexp.MustCompile(`^BANK:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 10000 {
		id := s.newOperationID("BANK")
		if !re.MatchString(id) {
			t.Fatalf("operation ID %q is not BANK:<uuid v4>", id)
		}
		if seen[id] {
			t.Fatalf("operation ID %q repeated", id)
		}
		seen[id] = true
	}
}
