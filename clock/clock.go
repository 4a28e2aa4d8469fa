// Package clock is bankgate's injectable time source. The server runs on
// real time by default; a Virtual clock lets sandbox users and tests move
// time forward (new sandbox transactions appear, cool-downs and access
// codes expire) without waiting.
package clock

import (
	"errors"
	"sync/atomic"
	"time"
)

// Virtual is real time shifted by an adjustable offset. It is safe for
// concurrent use. Time never moves backwards through Advance.
type Virtual struct {
	base   func() time.Time
	offset atomic.Int64 // nanoseconds
}

// NewVirtual returns a virtual clock over base (time.Now when nil) that
// reads start now; a zero start means no initial shift.
func NewVirtual(base func() time.Time, start time.Time) *Virtual {
	if base == nil {
		base = time.Now
	}
	v := &Virtual{base: base}
	if !start.IsZero() {
		v.offset.Store(int64(start.Sub(base())))
	}
	return v
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	return v.base().Add(time.Duration(v.offset.Load())).UTC()
}

// MaxAdvance bounds one Advance call.
const MaxAdvance = 400 * 24 * time.Hour

// Advance moves the clock forward by d and returns the new time.
func (v *Virtual) Advance(d time.Duration) (time.Time, error) {
	if d <= 0 || d > MaxAdvance {
		return time.Time{}, errors.New("clock: advance must be positive and at most 400 days")
	}
	v.offset.Add(int64(d))
	return v.Now(), nil
}

// Parse reads a --sandbox-clock value: "" or "real" for real time (nil
// clock), "now" for a virtual clock starting at the real time, or an
// RFC 3339 time or YYYY-MM-DD date to start from.
func Parse(s string, base func() time.Time) (*Virtual, error) {
	switch s {
	case "", "real":
		return nil, nil
	case "now":
		return NewVirtual(base, time.Time{}), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse("2006-01-02", s)
	}
	if err != nil {
		return nil, errors.New(`clock: want "real", "now", an RFC 3339 time or a YYYY-MM-DD date`)
	}
	return NewVirtual(base, t), nil
}
