package main

import (
	"context"
	"strings"
	"testing"
)

// TestAppsSetAndSDKConfig: registrations made with `apps set` drive the
// client SDK config endpoint.
func TestAppsSetAndSDKConfig(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, _ := ts.newApp("sdk")
	var out, errb syncBuffer
	args := []string{"apps", "set", "--app-key", appKey, "--data-dir", ts.DataDir, "--allowed-origin", "https://App.Example.com",
		"--redirect-uri", "https://app.example.com/callback", "--bundle-id", "com.example.app", "--server-url", "https://api.example.com/dapi"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("apps set: %v %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "https://app.example.com") {
		t.Fatalf("apps set output: %s", out.String())
	}
	for _, bad := range [][]string{
		{"--allowed-origin", "https://app.example.com/path"},
		{"--allowed-origin", "javascript:alert(1)"},
		{"--redirect-uri", "not a url"},
		{"--server-url", "ftp://x"},
	} {
		if err := run(context.Background(), append([]string{"apps", "set", "--app-key", appKey, "--data-dir", ts.DataDir}, bad...), func(string) string { return "" }, &out, &errb); err == nil {
			t.Errorf("apps set %v accepted", bad)
		}
	}
	ts.Clock.Advance(2e9)
	r := ts.post("/v2/sdk/apps/configs/get", "", map[string]any{"appKey": appKey, "bundleID": "com.example.app"})
	wantOK(t, r)
	cfg := r.Body["appConfig"].(map[string]any)
	if cfg["serverURL"] != "https://api.example.com/dapi" || cfg["maxTransferAmount"].(float64) <= 0 {
		t.Fatalf("appConfig = %v", cfg)
	}
	wantFail(t, ts.post("/v2/sdk/apps/configs/get", "", map[string]any{"appKey": appKey, "bundleID": "com.evil.app"}), 401, "INVALID_APP_CREDENTIALS")
	wantFail(t, ts.post("/v2/sdk/apps/configs/get", "", map[string]any{"appKey": appKey}), 422, "PARAMETER_MISSING")
}
