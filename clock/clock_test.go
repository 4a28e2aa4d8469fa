package clock

import (
	"testing"
	"time"
)

func TestVirtual(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := base
	v := NewVirtual(func() time.Time { return now }, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	if got := v.Now(); !got.Equal(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("start = %v", got)
	}
	now = now.Add(time.Hour)
	if got := v.Now(); !got.Equal(time.Date(2025, 6, 1, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("virtual time does not flow: %v", got)
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"", "real"} {
		if v, err := Parse(s, nil); v != nil || err != nil {
			t.Errorf("Parse(%q) = %v, %v", s, v, err)
		}
	}
	for _, s := range []string{"now", "2026-01-02", "2026-01-02T03:04:05Z"} {
		if v, err := Parse(s, nil); v == nil || err != nil {
			t.Errorf("Parse(%q) = %v, %v", s, v, err)
		}
	}
	for _, s := range []string{"yesterday", "1999-12-31", "2100-01-01", "9999-12-31T00:00:00Z", "0001-01-01"} {
		if _, err := Parse(s, nil); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}
