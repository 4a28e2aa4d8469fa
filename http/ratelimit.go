package http

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/bankgate/bankgate"
)

// Limits configures the server's rate limits. A zero Limit disables that
// limit; the zero Limits disables them all.
type Limits struct {
	// LoginPerUser bounds failed bank logins per app, bank and username
	// (login-user). While it is spent, every login of that user by that
	// app is refused, right password or not.
	LoginPerUser Limit
	// LoginFailuresPerIP bounds failed bank logins per client address
	// (login-ip). While it is spent, every login from that address is
	// refused.
	LoginFailuresPerIP Limit
	// ExchangeFailuresPerApp bounds failed ExchangeToken calls (a wrong
	// access code) per app (exchange-app).
	ExchangeFailuresPerApp Limit
	// AuthFailuresPerIP bounds failed checks of high-entropy credentials
	// (access token, appSecret, userSecret, access code) per client
	// address (auth-ip). Only requests whose credentials fail are
	// refused; a valid caller at the same address is served.
	AuthFailuresPerIP Limit
	// LoginsPerIP and LoginsPerApp bound successful bank logins (new
	// connections) per client address (login-ok-ip) and per app
	// (login-ok-app), so that the public appKey alone cannot make
	// connections without end. While one is spent, new logins are
	// refused; answering an MFA prompt is not a new login.
	LoginsPerIP  Limit
	LoginsPerApp Limit
}

// Limit is a token bucket: Events per Per on average, with Burst at
// once.
type Limit struct {
	Events int
	Per    time.Duration
	Burst  int
}

// PerDuration returns the limit of n events per d, with a burst of n.
func PerDuration(n int, d time.Duration) Limit {
	return Limit{Events: n, Per: d, Burst: n}
}

// Off reports whether the limit is disabled.
func (l Limit) Off() bool { return l.Events <= 0 || l.Per <= 0 || l.Burst <= 0 || l.every() <= 0 }

// every is the interval at which one event's token comes back.
func (l Limit) every() time.Duration {
	if l.Events <= 0 {
		return 0
	}
	return l.Per / time.Duration(l.Events)
}

// String formats the limit as ParseLimits reads it: "N/DURATION" when
// the burst is N, "N/DURATION/BURST" otherwise, or "off".
func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	s := strconv.Itoa(l.Events) + "/" + shortDuration(l.Per)
	if l.Burst != l.Events {
		s += "/" + strconv.Itoa(l.Burst)
	}
	return s
}

// shortDuration formats d without zero units: "1m" rather than "1m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// DefaultLimits are generous for applications and tight for guessing.
var DefaultLimits = Limits{
	LoginPerUser:           PerDuration(10, time.Minute),
	LoginFailuresPerIP:     PerDuration(30, time.Minute),
	ExchangeFailuresPerApp: Limit{Events: 120, Per: time.Minute, Burst: 200},
	AuthFailuresPerIP:      Limit{Events: 60, Per: time.Minute, Burst: 100},
	LoginsPerIP:            PerDuration(600, time.Minute),
	LoginsPerApp:           PerDuration(6000, time.Minute),
}

// limitNames are the names ParseLimits accepts, in the order they are
// listed.
var limitNames = []string{"login-user", "login-ip", "exchange-app", "auth-ip", "login-ok-ip", "login-ok-app"}

func (l *Limits) byName(name string) *Limit {
	switch name {
	case "login-user":
		return &l.LoginPerUser
	case "login-ip":
		return &l.LoginFailuresPerIP
	case "exchange-app":
		return &l.ExchangeFailuresPerApp
	case "auth-ip":
		return &l.AuthFailuresPerIP
	case "login-ok-ip":
		return &l.LoginsPerIP
	case "login-ok-app":
		return &l.LoginsPerApp
	}
	return nil
}

// String formats the limits as a list ParseLimits reads back, e.g.
// "login-user=10/1m,login-ip=30/1m,exchange-app=120/1m/200,auth-ip=60/1m/100".
func (l Limits) String() string {
	parts := make([]string, len(limitNames))
	for i, n := range limitNames {
		parts[i] = n + "=" + l.byName(n).String()
	}
	return strings.Join(parts, ",")
}

// ParseLimits reads a rate-limit setting: "off" (no limits), "default"
// or "" (DefaultLimits), or a comma-separated list of NAME=N/DURATION
// items (N events per duration, a burst of N; NAME=N/DURATION/B for a
// burst of B; NAME=off disables one limit), where NAME is login-user,
// login-ip, exchange-app or auth-ip.
// Limits not named keep their defaults. On a bad item it returns an
// error quoting that item.
func ParseLimits(s string) (Limits, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "default":
		return DefaultLimits, nil
	case "off":
		return Limits{}, nil
	}
	out := DefaultLimits
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		l := out.byName(name)
		if l == nil {
			return Limits{}, fmt.Errorf("%q: unknown limit %q (known: %s)", item, name, strings.Join(limitNames, ", "))
		}
		if !ok {
			return Limits{}, fmt.Errorf("%q: want %s=N/DURATION (e.g. %s) or %s=off", item, name, DefaultLimits.byName(name), name)
		}
		val = strings.TrimSpace(val)
		if val == "off" {
			*l = Limit{}
			continue
		}
		f := strings.Split(val, "/")
		n, err := strconv.Atoi(strings.TrimSpace(f[0]))
		if len(f) < 2 || len(f) > 3 || err != nil || n <= 0 || n > 1_000_000 {
			return Limits{}, fmt.Errorf("%q: want %s=N/DURATION or N/DURATION/BURST with N a whole number from 1 to 1000000 (e.g. %s)", item, name, DefaultLimits.byName(name))
		}
		ds := strings.TrimSpace(f[1])
		if ds != "" && (ds[0] < '0' || ds[0] > '9') {
			ds = "1" + ds // "10/m" means 10 per minute
		}
		d, err := time.ParseDuration(ds)
		if err != nil || d <= 0 || d > 24*time.Hour || d/time.Duration(n) <= 0 {
			return Limits{}, fmt.Errorf("%q: %q is not a duration from 1ns to 24h (e.g. 1m, 30s)", item, ds)
		}
		burst := n
		if len(f) == 3 {
			burst, err = strconv.Atoi(strings.TrimSpace(f[2]))
			if err != nil || burst <= 0 || burst > 1_000_000 {
				return Limits{}, fmt.Errorf("%q: the burst %q is not a whole number from 1 to 1000000", item, f[2])
			}
		}
		*l = Limit{Events: n, Per: d, Burst: burst}
	}
	return out, nil
}

// limitKey identifies a bucket. It is a fixed-size digest (or a masked
// address), never client text, so a table's memory is bounded by its
// number of buckets whatever clients send.
type limitKey [16]byte

// digestKey returns the key for the given parts: a truncated SHA-256 of
// the parts, each prefixed with its length so that no two lists of parts
// share an encoding.
func digestKey(parts ...string) limitKey {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	var k limitKey
	copy(k[:], h.Sum(sum[:0]))
	return k
}

// clientKey returns the per-address key for a client address: the
// address itself for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6,
// since one subscriber or host commonly holds a whole /64. An address
// that does not parse is keyed by its digest.
func clientKey(host string) limitKey {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return digestKey("client", host)
	}
	a = a.WithZone("").Unmap()
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a.As16()
}

// maxLimiterKeys is the most buckets one limiter keeps.
const maxLimiterKeys = 100_000

// keyedLimiter is a bounded set of token buckets by key.
//
// A bucket that is full again, with no attempt in flight, is idle and
// carries no information, so it is dropped: by a sweep once a minute,
// and before the table grows past its cap. Live buckets (partly spent,
// or with an attempt in flight) are never dropped, so an attacker cannot
// erase the record of its own failures by making many more from
// elsewhere. When the table is at its cap and holds only live buckets,
// keys without a bucket share one overflow bucket of the same limit:
// failures keep being counted and refused (the limit fails closed for
// the keys that overflowed), at the cost that under such a flood,
// well-behaved clients new to the table share that bucket too. Sweeps
// are rate limited (at most one a second when full), so a full table
// does not cost a scan per request.
type keyedLimiter struct {
	lim      Limit
	max      int
	mu       sync.Mutex
	m        map[limitKey]*bucket
	overflow *bucket
	swept    time.Time
}

// bucket is one key's token bucket and its attempts in flight (see
// begin).
type bucket struct {
	l        rate.Limiter
	inFlight int
}

func newKeyedLimiter(l Limit, max int) *keyedLimiter {
	if l.Off() {
		return nil
	}
	return &keyedLimiter{lim: l, max: max, m: map[limitKey]*bucket{}, overflow: l.newBucket()}
}

func (l Limit) newBucket() *bucket {
	return &bucket{l: *rate.NewLimiter(rate.Every(l.every()), l.Burst)}
}

// lookup returns key's bucket, or the overflow bucket when key has none
// and the table is full; nil when key has none and there is room (a key
// with no bucket has its whole burst).
func (k *keyedLimiter) lookup(key limitKey) *bucket {
	if b := k.m[key]; b != nil {
		return b
	}
	if len(k.m) >= k.max {
		return k.overflow
	}
	return nil
}

// bucket returns key's bucket, creating it when there is room (after
// dropping idle buckets if needed), else the overflow bucket.
func (k *keyedLimiter) bucket(key limitKey, now time.Time) *bucket {
	if b := k.m[key]; b != nil {
		return b
	}
	if since := now.Sub(k.swept); since >= time.Minute || since < 0 || (len(k.m) >= k.max && since >= time.Second) {
		k.sweep(now)
	}
	if len(k.m) >= k.max {
		return k.overflow
	}
	b := k.lim.newBucket()
	k.m[key] = b
	return b
}

// sweep drops the buckets that are idle at now.
func (k *keyedLimiter) sweep(now time.Time) {
	k.swept = now
	for key, b := range k.m {
		if b.inFlight == 0 && b.l.TokensAt(now) >= float64(k.lim.Burst) {
			delete(k.m, key)
		}
	}
}

// left returns the tokens b has at now for new attempts.
func (b *bucket) left(now time.Time) float64 { return b.l.TokensAt(now) - float64(b.inFlight) }

// wait returns how long until b has a token for a new attempt.
func (k *keyedLimiter) wait(b *bucket, now time.Time) time.Duration {
	missing := 1 - b.left(now)
	return time.Duration(math.Ceil(missing * float64(k.lim.every())))
}

// check reports whether key has a token left at now, without taking
// one; when not, it also returns how long until one is.
func (k *keyedLimiter) check(key limitKey, now time.Time) (bool, time.Duration) {
	if k == nil {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.lookup(key)
	if b == nil || b.left(now) >= 1 {
		return true, 0
	}
	return false, k.wait(b, now)
}

// take takes a token for key at now (records a failure). When none is
// left it returns false and how long until one is.
func (k *keyedLimiter) take(key limitKey, now time.Time) (bool, time.Duration) {
	if k == nil {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.bucket(key, now)
	if b.left(now) >= 1 && b.l.AllowN(now, 1) {
		return true, 0
	}
	return false, k.wait(b, now)
}

// attempt is an attempt begun on a bucket; see begin.
type attempt struct {
	k *keyedLimiter
	b *bucket
}

// begin starts an attempt whose failure will cost a token: it holds one
// of key's tokens while the attempt runs, so concurrent attempts cannot
// together exceed the limit, and refuses (returning how long to wait)
// when none is left. The caller must call end.
func (k *keyedLimiter) begin(key limitKey, now time.Time) (attempt, bool, time.Duration) {
	if k == nil {
		return attempt{}, true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.bucket(key, now)
	if b.left(now) < 1 {
		return attempt{}, false, k.wait(b, now)
	}
	b.inFlight++
	return attempt{k: k, b: b}, true, 0
}

// end finishes an attempt begun at now: a failure spends the token it
// held, anything else gives it back.
func (a attempt) end(now time.Time, failed bool) {
	if a.k == nil {
		return
	}
	a.k.mu.Lock()
	defer a.k.mu.Unlock()
	a.b.inFlight--
	if failed {
		a.b.l.AllowN(now, 1)
	}
}

// size returns the number of buckets kept.
func (k *keyedLimiter) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// retryAfter formats a wait as whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}

// limiters are the server's rate limiters. They run on real time (the
// server's base clock), never on a sandbox's virtual clock.
type limiters struct {
	now          func() time.Time
	loginUser    *keyedLimiter
	loginFailIP  *keyedLimiter
	exchangeFail *keyedLimiter
	authFailIP   *keyedLimiter
	loginIP      *keyedLimiter
	loginApp     *keyedLimiter
}

func newLimiters(l Limits, now func() time.Time) *limiters {
	if now == nil {
		now = time.Now
	}
	return &limiters{
		now:          now,
		loginUser:    newKeyedLimiter(l.LoginPerUser, maxLimiterKeys),
		loginFailIP:  newKeyedLimiter(l.LoginFailuresPerIP, maxLimiterKeys),
		exchangeFail: newKeyedLimiter(l.ExchangeFailuresPerApp, maxLimiterKeys),
		authFailIP:   newKeyedLimiter(l.AuthFailuresPerIP, maxLimiterKeys),
		loginIP:      newKeyedLimiter(l.LoginsPerIP, maxLimiterKeys),
		loginApp:     newKeyedLimiter(l.LoginsPerApp, maxLimiterKeys),
	}
}

// retryError is a RATE_LIMIT_EXCEEDED error that knows its Retry-After.
type retryError struct {
	err   *bankgate.Error
	after time.Duration
	// cause is the failure that was refused, if any.
	cause error
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func limited(after time.Duration) error {
	return &retryError{err: bankgate.Errorf(bankgate.RateLimited, "Too many attempts; retry after %s seconds.", retryAfter(after)), after: after}
}

// guessing reports whether err is a failed check of a high-entropy
// credential: what an attacker guessing secrets would cause.
func guessing(err error) bool {
	switch bankgate.ErrorCode(err) {
	case bankgate.InvalidToken, bankgate.InvalidAppCredentials, bankgate.InvalidUserSecret, bankgate.InvalidAccessCode:
		return true
	}
	return false
}

// loginFailure reports whether err is a failed bank login (a wrong
// password or MFA answer, or a locked account).
func loginFailure(err error) bool {
	switch bankgate.ErrorCode(err) {
	case bankgate.InvalidCredentials, bankgate.InvalidMFA, bankgate.AccountLocked:
		return true
	}
	return false
}

// refuseFailure records a failed high-entropy credential check for key
// in lim. It returns err while the key has tokens left and a
// RATE_LIMIT_EXCEEDED error (with Retry-After) once it has none: a
// failing request is refused, a valid one never reaches here.
func (s *Server) refuseFailure(lim *keyedLimiter, key limitKey, err error) error {
	if ok, wait := lim.take(key, s.limits.now()); !ok {
		re := limited(wait).(*retryError)
		re.cause = err
		return re
	}
	return err
}

// failure returns the credential failure behind err: err itself, or the
// failure a RATE_LIMIT_EXCEEDED error refused.
func failure(err error) error {
	if re, ok := err.(*retryError); ok && re.cause != nil {
		return re.cause
	}
	return err
}
