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
	got, err := v.Advance(48 * time.Hour)
	if err != nil || !got.Equal(time.Date(2025, 6, 3, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("Advance = %v, %v", got, err)
	}
	for _, d := range []time.Duration{0, -time.Hour, MaxAdvance + 1} {
		if _, err := v.Advance(d); err == nil {
			t.Errorf("Advance(%v) accepted", d)
		}
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
	if _, err := Parse("yesterday", nil); err == nil {
		t.Error("bad value accepted")
	}
}
