package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"
)

var adminListenLine = regexp.MustCompile(`bankgate admin listening on (http://\S+) `)

// adminURLOf returns the admin listener's URL a process printed.
func adminURLOf(t *testing.T, p *bankgateProc) string {
	t.Helper()
	m := adminListenLine.FindStringSubmatch(p.Stdout.String())
	if m == nil {
		t.Fatalf("%s printed no admin listener:\n%s", p.name, p.Stdout.String())
	}
	return m[1]
}

// TestPostgresAdminTwoProcesses runs two bankgate processes on one
// PostgreSQL database sharing one admin token: the kill switch pulled on
// A's admin API makes a token B had just served fail on B within 1 s;
// an app disabled on A is refused on B within 1 s and served again once
// enabled; a rotation with a short overlap lets both secrets work on B
// until the window ends, then only the new one.
//
// Measure the revocation delay with:
//
//	BANKGATE_TEST_DATABASE_URL=postgres://... go test -run TestPostgresAdminTwoProcesses -v ./cmd/bankgate
func TestPostgresAdminTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two processes")
	}
	dbURL := pgSchemaURL(t)
	key := newKeyArg()
	tokFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokFile, []byte(testAdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := func() []string {
		return []string{"--addr", "127.0.0.1:0", "--database-url", dbURL, "--data-dir", t.TempDir(), "--secret-key-file", key,
			"--admin-token-file", tokFile, "--log-level", "warn"}
	}
	pa := startProcAsync(t, "A", flags()...)
	pb := startProcAsync(t, "B", flags()...)
	pa.waitReady()
	pb.waitReady()
	a, b := pa.client(t), pb.client(t)
	a.AdminURL, b.AdminURL = adminURLOf(t, pa), adminURLOf(t, pb)

	r := a.admin("POST", "/admin/v1/apps", map[string]any{"name": "two"})
	wantAdmin(t, r, 201)
	appKey, appSecret := r.Body["app"].(map[string]any)["appKey"].(string), r.str("appSecret")
	// The other instance knows the same admin token and sees the app.
	wantAdmin(t, b.admin("GET", "/admin/v1/apps/"+appKey, nil), 200)

	t.Run("kill switch on A, token refused on B within 1s", func(t *testing.T) {
		a.t, b.t = t, t
		var delays []time.Duration
		for trial := range 5 {
			u := a.login(appKey, "user_good")
			a.exchange(appSecret, u)
			// Both instances cache the grant just before: the worst case.
			wantOK(t, a.data("/v2/data/accounts/get", appSecret, u, nil))
			wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
			start := time.Now()
			r := a.admin("POST", "/admin/v1/apps/"+appKey+"/revoke-tokens", map[string]any{"reason": "trial"})
			wantAdmin(t, r, 200)
			if r.Body["revoked"] != float64(1) {
				t.Fatalf("trial %d: revoked %v tokens, want 1", trial, r.Body["revoked"])
			}
			wantFail(t, a.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_TOKEN")
			served := 0
			d := pollUntil(t, time.Second, "B refuses the revoked token", func() bool {
				r := b.data("/v2/data/accounts/get", appSecret, u, nil)
				if r.Status == 200 {
					served++
					return false
				}
				wantFail(t, r, 401, "INVALID_TOKEN")
				return true
			})
			d = time.Since(start)
			if d > time.Second {
				t.Fatalf("trial %d: B refused the token only after %v", trial, d)
			}
			delays = append(delays, d)
			t.Logf("trial %d: kill switch on A → token refused on B after %v (%d requests served from B's cache meanwhile)", trial, d.Round(time.Millisecond), served)
		}
		sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
		t.Logf("revocation delay across two instances over %d trials: min %v, median %v, max %v",
			len(delays), delays[0].Round(time.Millisecond), delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond))
	})

	t.Run("disable on A refused on B, enable served again", func(t *testing.T) {
		a.t, b.t = t, t
		u := a.login(appKey, "user_good")
		a.exchange(appSecret, u)
		wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
		start := time.Now()
		wantAdmin(t, a.admin("POST", "/admin/v1/apps/"+appKey+"/disable", map[string]any{"reason": "trial"}), 200)
		pollUntil(t, time.Second, "B refuses the disabled app", func() bool {
			return b.data("/v2/data/accounts/get", appSecret, u, nil).Status == 401
		})
		wantFail(t, b.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, b.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"}), 401, "INVALID_APP_CREDENTIALS")
		t.Logf("disable on A → refused on B after %v", time.Since(start).Round(time.Millisecond))
		wantAdmin(t, a.admin("POST", "/admin/v1/apps/"+appKey+"/enable", nil), 200)
		pollUntil(t, time.Second, "B serves the enabled app", func() bool {
			return b.data("/v2/data/accounts/get", appSecret, u, nil).Status == 200
		})
	})

	t.Run("rotation with overlap on A, both secrets on B until it ends", func(t *testing.T) {
		a.t, b.t = t, t
		u := a.login(appKey, "user_good")
		a.exchange(appSecret, u)
		wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
		r := a.admin("POST", "/admin/v1/apps/"+appKey+"/rotate-secret", map[string]any{"overlap": "2s"})
		wantAdmin(t, r, 200)
		newSecret := r.str("appSecret")
		until, _ := time.Parse(time.RFC3339Nano, r.str("previousSecretValidUntil"))
		for time.Until(until) > 300*time.Millisecond {
			wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
			wantOK(t, b.data("/v2/data/accounts/get", newSecret, u, nil))
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Until(until) + 50*time.Millisecond)
		wantFail(t, b.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, a.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_APP_CREDENTIALS")
		wantOK(t, b.data("/v2/data/accounts/get", newSecret, u, nil))
	})
}
