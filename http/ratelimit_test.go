package http

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseLimits(t *testing.T) {
	custom := DefaultLimits
	custom.AuthFailuresPerIP = Limit{Events: 3, Per: time.Minute, Burst: 3}
	custom.LoginPerUser = Limit{}
	tests := []struct {
		in   string
		want Limits
	}{
		{"", DefaultLimits},
		{"default", DefaultLimits},
		{" off ", Limits{}},
		{"login-user=10/1m,login-ip=30/1m,exchange-app=120/1m/200,auth-ip=60/1m/100,login-ok-ip=600/1m,login-ok-app=6000/1m", DefaultLimits},
		{"exchange-app=120/60s/200", DefaultLimits},
		{"auth-ip=3/1m,login-user=off", custom},
		{"auth-ip = 3/m , login-user=off,", custom},
		{"login-ip=5/10s", Limits{LoginPerUser: DefaultLimits.LoginPerUser, LoginFailuresPerIP: Limit{Events: 5, Per: 10 * time.Second, Burst: 5}, ExchangeFailuresPerApp: DefaultLimits.ExchangeFailuresPerApp, AuthFailuresPerIP: DefaultLimits.AuthFailuresPerIP,
			LoginsPerIP: DefaultLimits.LoginsPerIP, LoginsPerApp: DefaultLimits.LoginsPerApp}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLimits(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseLimits(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	for _, bad := range []string{"on", "auth-ip", "auth-ip=", "auth-ip=abc", "auth-ip=10", "auth-ip=0/1m", "auth-ip=-1/1m", "auth-ip=10/0s", "auth-ip=10/-1m", "auth-ip=10/1x", "auth-ip=10/48h", "auth-ip=2000000/1m", "auth-ip=10/1m/0", "auth-ip=10/1m/x", "auth-ip=10/1m/5/5", "nope=1/1s", "login-user=10/1m,bogus"} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, err := ParseLimits(bad)
			if err == nil {
				t.Fatalf("ParseLimits(%q) accepted", bad)
			}
			item := bad[strings.LastIndex(bad, ",")+1:]
			if !strings.Contains(err.Error(), `"`+item+`"`) {
				t.Errorf("error %q does not quote the bad item %q", err, item)
			}
		})
	}
}

func TestLimitsString(t *testing.T) {
	const want = "login-user=10/1m,login-ip=30/1m,exchange-app=120/1m/200,auth-ip=60/1m/100,login-ok-ip=600/1m,login-ok-app=6000/1m"
	if got := DefaultLimits.String(); got != want {
		t.Fatalf("DefaultLimits.String() = %q, want %q", got, want)
	}
	if got := (Limits{}).String(); got != "login-user=off,login-ip=off,exchange-app=off,auth-ip=off,login-ok-ip=off,login-ok-app=off" {
		t.Fatalf("Limits{}.String() = %q", got)
	}
	back, err := ParseLimits(want)
	if err != nil || back != DefaultLimits {
		t.Fatalf("round trip: %v, %v", back, err)
	}
}

func TestClientKey(t *testing.T) {
	same := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"2001:db8:1:2::1", "2001:db8:1:2:abcd::7%eth0"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
	}
	for _, p := range same {
		if clientKey(p[0]) != clientKey(p[1]) {
			t.Errorf("%s and %s have different keys; want one /64 (or one IPv4 address)", p[0], p[1])
		}
	}
	differ := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
		{"192.0.2.1", "::"},
		{"not-an-ip", "also-not"},
		{"not-an-ip", "::"},
	}
	for _, p := range differ {
		if clientKey(p[0]) == clientKey(p[1]) {
			t.Errorf("%s and %s share a key", p[0], p[1])
		}
	}
}

func TestDigestKey(t *testing.T) {
	if digestKey("a", "bc") == digestKey("ab", "c") {
		t.Fatal("parts are not delimited")
	}
	if digestKey("app", "bank", "user") != digestKey("app", "bank", "user") {
		t.Fatal("not deterministic")
	}
}

// TestKeyedLimiterBounded: the table never grows past its cap, idle
// (full) buckets are dropped to make room, live buckets are never
// dropped, and keys that find no room share the overflow bucket, so
// failures past the cap are still limited.
func TestKeyedLimiterBounded(t *testing.T) {
	now := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	k := newKeyedLimiter(Limit{Events: 1, Per: time.Minute, Burst: 2}, 4)
	key := func(i int) limitKey { return digestKey("k", string(rune('a'+i))) }

	// The victim's bucket is spent.
	victim := key(0)
	k.take(victim, now)
	k.take(victim, now)
	if ok, _ := k.check(victim, now); ok {
		t.Fatal("victim not limited")
	}
	// Three more live buckets fill the table.
	for i := 1; i <= 3; i++ {
		k.take(key(i), now)
	}
	if n := k.size(); n != 4 {
		t.Fatalf("size %d, want 4", n)
	}
	// New keys find no room: they share the overflow bucket (burst 2).
	if ok, _ := k.take(key(10), now); !ok {
		t.Fatal("first overflow failure refused")
	}
	if ok, _ := k.take(key(11), now); !ok {
		t.Fatal("second overflow failure refused")
	}
	if ok, wait := k.take(key(12), now); ok || wait <= 0 {
		t.Fatalf("third overflow failure: ok %v, wait %v; want refused", ok, wait)
	}
	if ok, _ := k.check(key(13), now); ok {
		t.Fatal("an unknown key is not checked against the spent overflow bucket")
	}
	if n := k.size(); n != 4 {
		t.Fatalf("size %d after overflow, want 4", n)
	}
	// The victim's record survived.
	if ok, _ := k.check(victim, now); ok {
		t.Fatal("victim's spent bucket was dropped")
	}
	// Once buckets refill they are idle and make room; the victim's, refilled too,
	// carries nothing to forget.
	later := now.Add(2 * time.Minute)
	if ok, _ := k.take(key(20), later); !ok {
		t.Fatal("new key refused after the table drained")
	}
	if n := k.size(); n != 1 {
		t.Fatalf("size %d after sweep, want 1 (only key 20)", n)
	}
}

// TestKeyedLimiterKeepsLiveUnderFlood: a flood of new keys never evicts
// a live bucket, however long it lasts.
func TestKeyedLimiterKeepsLiveUnderFlood(t *testing.T) {
	now := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	k := newKeyedLimiter(PerDuration(10, time.Minute), 100)
	victim := digestKey("victim")
	for i := 0; i < 10; i++ {
		k.take(victim, now)
	}
	for i := 0; i < 10_000; i++ {
		at := now.Add(time.Duration(i) * time.Millisecond) // 10 s in all
		k.take(digestKey("flood", string(rune(i))), at)
		if n := k.size(); n > 100 {
			t.Fatalf("size %d > cap", n)
		}
	}
	// 10 s on, the victim has one token back (6 s each), not ten.
	at := now.Add(10 * time.Second)
	if ok, _ := k.check(victim, at); !ok {
		t.Fatal("victim should have one token after 10 s")
	}
	k.take(victim, at)
	if ok, _ := k.check(victim, at); ok {
		t.Fatal("victim's bucket was reset by the flood")
	}
}

func TestOffLimiter(t *testing.T) {
	l := newLimiters(Limits{}, nil)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.authFailIP.take(limitKey{}, time.Now()); !ok {
			t.Fatal("off limiter refused")
		}
	}
}

// TestKeyedLimiterAttempts: attempts in flight hold tokens, so
// concurrent attempts cannot exceed the limit; a failure spends its
// token, anything else gives it back.
func TestKeyedLimiterAttempts(t *testing.T) {
	now := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	k := newKeyedLimiter(PerDuration(3, time.Minute), 10)
	key := digestKey("user")
	var tries []attempt
	for i := 0; i < 3; i++ {
		a, ok, _ := k.begin(key, now)
		if !ok {
			t.Fatalf("attempt %d refused", i)
		}
		tries = append(tries, a)
	}
	if _, ok, wait := k.begin(key, now); ok || wait <= 0 {
		t.Fatalf("fourth concurrent attempt: ok %v wait %v; want refused", ok, wait)
	}
	// The table is not swept of a bucket with attempts in flight.
	k.sweep(now.Add(time.Hour))
	if k.size() != 1 {
		t.Fatal("bucket with attempts in flight was swept")
	}
	tries[0].end(now, false) // a success gives its token back
	tries[1].end(now, true)  // a failure spends it
	tries[2].end(now, true)
	a, ok, _ := k.begin(key, now)
	if !ok {
		t.Fatal("token of the successful attempt not given back")
	}
	a.end(now, true)
	if _, ok, _ := k.begin(key, now); ok {
		t.Fatal("three failures did not spend the bucket")
	}
	var off *keyedLimiter
	a, ok, _ = off.begin(key, now)
	a.end(now, true)
	if !ok {
		t.Fatal("off limiter refused")
	}
}
