package http

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/bankgate/bankgate"
)

// Limits configures the server's rate limits. A zero Rate disables a
// limit.
type Limits struct {
	// LoginPerUser bounds login attempts per bank and username.
	LoginPerUser Limit
	// LoginFailuresPerIP bounds failed logins per client IP.
	LoginFailuresPerIP Limit
	// ExchangeFailuresPerApp bounds failed ExchangeToken calls per app
	// (per client IP when the app is unknown).
	ExchangeFailuresPerApp Limit
	// AuthFailuresPerIP bounds failed bearer checks (and failed
	// exchanges) per client IP.
	AuthFailuresPerIP Limit
}

// Limit is a token bucket: Burst events at once, refilled at Per one
// event per interval.
type Limit struct {
	Burst int
	Every time.Duration
}

// DefaultLimits are generous for applications and tight for guessing.
var DefaultLimits = Limits{
	LoginPerUser:           Limit{Burst: 10, Every: 6 * time.Second},  // 10 per minute
	LoginFailuresPerIP:     Limit{Burst: 30, Every: 2 * time.Second},  // 30 per minute
	ExchangeFailuresPerApp: Limit{Burst: 200, Every: time.Second / 2}, // 120 per minute
	AuthFailuresPerIP:      Limit{Burst: 100, Every: time.Second},     // 60 per minute
}

// keyedLimiter is a set of token buckets by key. Idle buckets are dropped
// once they are full again, so memory stays bounded by active keys.
type keyedLimiter struct {
	lim   Limit
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	clean time.Time
}

func newKeyedLimiter(l Limit) *keyedLimiter {
	if l.Burst <= 0 || l.Every <= 0 {
		return nil
	}
	return &keyedLimiter{lim: l, m: map[string]*rate.Limiter{}}
}

// maxLimiterKeys caps the buckets kept; past it, full buckets are swept.
const maxLimiterKeys = 100_000

func (k *keyedLimiter) get(key string, now time.Time) *rate.Limiter {
	l := k.m[key]
	if l == nil {
		if len(k.m) >= maxLimiterKeys || now.Sub(k.clean) > time.Minute {
			k.sweep(now)
		}
		l = rate.NewLimiter(rate.Every(k.lim.Every), k.lim.Burst)
		k.m[key] = l
	}
	return l
}

func (k *keyedLimiter) sweep(now time.Time) {
	k.clean = now
	for key, l := range k.m {
		if l.TokensAt(now) >= float64(k.lim.Burst) {
			delete(k.m, key)
		}
	}
	if len(k.m) >= maxLimiterKeys {
		clear(k.m)
	}
}

// allow takes one token for key at now. When none is left it returns
// false and how long until one is.
func (k *keyedLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if k == nil {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.get(key, now)
	if l.AllowN(now, 1) {
		return true, 0
	}
	return false, k.wait(l, now)
}

// check reports whether key has a token left at now, without taking it.
func (k *keyedLimiter) check(key string, now time.Time) (bool, time.Duration) {
	if k == nil {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.m[key]
	if !ok || l.TokensAt(now) >= 1 {
		return true, 0
	}
	return false, k.wait(l, now)
}

// spend takes a token for key at now (recording a failure).
func (k *keyedLimiter) spend(key string, now time.Time) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.get(key, now).AllowN(now, 1)
}

func (k *keyedLimiter) wait(l *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - l.TokensAt(now)
	return time.Duration(math.Ceil(missing * float64(k.lim.Every)))
}

// retryAfter formats a wait as whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}

// limiters are the server's rate limiters.
type limiters struct {
	loginUser    *keyedLimiter
	loginFailIP  *keyedLimiter
	exchangeFail *keyedLimiter
	authFailIP   *keyedLimiter
}

func newLimiters(l Limits) *limiters {
	return &limiters{
		loginUser:    newKeyedLimiter(l.LoginPerUser),
		loginFailIP:  newKeyedLimiter(l.LoginFailuresPerIP),
		exchangeFail: newKeyedLimiter(l.ExchangeFailuresPerApp),
		authFailIP:   newKeyedLimiter(l.AuthFailuresPerIP),
	}
}

// retryError is a RATE_LIMIT_EXCEEDED error that knows its Retry-After.
type retryError struct {
	err   *bankgate.Error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func limited(after time.Duration) error {
	return &retryError{err: bankgate.Errorf(bankgate.RateLimited, "Too many attempts; retry after %s seconds.", retryAfter(after)), after: after}
}

// guessing reports whether err is a failure an attacker guessing secrets
// would cause.
func guessing(err error) bool {
	switch bankgate.ErrorCode(err) {
	case bankgate.InvalidToken, bankgate.InvalidAppCredentials, bankgate.InvalidUserSecret, bankgate.InvalidAccessCode:
		return true
	}
	return false
}

// loginFailure reports whether err is a failed login attempt.
func loginFailure(err error) bool {
	switch bankgate.ErrorCode(err) {
	case bankgate.InvalidCredentials, bankgate.InvalidMFA, bankgate.AccountLocked, bankgate.InvalidAppCredentials:
		return true
	}
	return false
}
