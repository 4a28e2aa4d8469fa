// Package clock is bankgate's injectable time source. The server runs on
// real time by default; a Virtual clock starts every app's sandbox test
// clock at another time (--sandbox-clock), from which each app moves its
// own forward.
package clock

import (
	"errors"
	"time"
)

// Virtual is real time shifted by a fixed offset: the server's sandbox
// time, from which every app's test clock moves on by its own offset (see
// bankgate.App.ClockOffset). It is safe for concurrent use.
type Virtual struct {
	base   func() time.Time
	offset time.Duration
}

// NewVirtual returns a virtual clock over base (time.Now when nil) that
// reads start now; a zero start means no initial shift.
func NewVirtual(base func() time.Time, start time.Time) *Virtual {
	if base == nil {
		base = time.Now
	}
	v := &Virtual{base: base}
	if !start.IsZero() {
		v.offset = start.Sub(base())
	}
	return v
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	return v.base().Add(v.offset).UTC()
}

// The range a virtual clock may start in: far enough from
// time.Duration's limits (about 292 years from now) that no offset
// overflows.
var (
	minStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxStart = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

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
	if t.Before(minStart) || !t.Before(maxStart) {
		return nil, errors.New("clock: a start time must be in the years 2000 to 2099")
	}
	return NewVirtual(base, t), nil
}
