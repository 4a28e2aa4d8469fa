package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bankgate.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFilePrecedence: a flag beats its environment variable, which
// beats the config file, which beats the default; a list is a comma list.
func TestConfigFilePrecedence(t *testing.T) {
	file := writeConfig(t, `# every key is a flag's name
addr: 0.0.0.0:9000
read-timeout: 20s
idle-timeout: 3m
write-timeout: 1m
log-format: text
no-sandbox: true
sandbox-cache-mb: 64
trusted-proxies:
  - 10.0.0.0/8
  - 192.168.1.1
`)
	env := map[string]string{"BANKGATE_READ_TIMEOUT": "25s", "BANKGATE_WRITE_TIMEOUT": "2m"}
	cfg, _, fromFile, err := parseServe("serve", []string{"--config", file, "--idle-timeout", "45s", "--write-timeout", "90s"}, func(k string) string { return env[k] }, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"addr (file)", cfg.Addr, "0.0.0.0:9000"},
		{"read-timeout (env over file)", cfg.ReadTimeout, 25 * time.Second},
		{"idle-timeout (flag over file)", cfg.IdleTimeout, 45 * time.Second},
		{"write-timeout (flag over env over file)", cfg.WriteTimeout, 90 * time.Second},
		{"read-header-timeout (default)", cfg.ReadHeaderTimeout, 10 * time.Second},
		{"shutdown-grace (default)", cfg.ShutdownGrace, 30 * time.Second},
		{"log-format (file)", cfg.LogFormat, "text"},
		{"no-sandbox (file)", cfg.NoSandbox, true},
		{"sandbox-cache-mb (file)", cfg.SandboxCacheMB, 64},
		{"trusted-proxies (file list)", cfg.TrustedProxies, "10.0.0.0/8,192.168.1.1"},
		{"data-dir (default)", cfg.DataDir, "./bankgate-data"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !fromFile["addr"] || fromFile["read-timeout"] || fromFile["idle-timeout"] {
		t.Errorf("settings taken from the file: %v", fromFile)
	}
	// The environment names the file too.
	cfg, _, _, err = parseServe("serve", nil, func(k string) string { return map[string]string{"BANKGATE_CONFIG": file}[k] }, os.Stderr)
	if err != nil || cfg.Addr != "0.0.0.0:9000" {
		t.Fatalf("BANKGATE_CONFIG: addr %q, err %v", cfg.Addr, err)
	}
}

// TestConfigFileErrors: an unknown key, a bad value, a file that is not a
// mapping are each refused with the file, line and key named.
func TestConfigFileErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"addr: 127.0.0.1:0\nadress: 0.0.0.0:80\n", `line 2: unknown key "adress"`},
		{"config: other.yaml\n", `unknown key "config": it cannot be set in a config file`},
		{"read-timeout: soon\n", `line 1: read-timeout: parse error`},
		{"sandbox-cache-mb: [1, 2]\n", `line 1: sandbox-cache-mb: parse error`},
		{"no-sandbox: maybe\n", `line 1: no-sandbox: parse error`},
		{"log-format: xml\n", `--log-format: "xml" is not json or text`},
		{"tls-cert-file: c.pem\n", `--tls-cert-file and --tls-key-file go together`},
		{"- addr\n", "not a YAML mapping"},
		{"addr: a\naddr: b\n", `"addr" is set twice`},
		{"admin: {addr: x}\n", "must be a plain value or a list"},
	} {
		_, _, _, err := parseServe("serve", []string{"--config", writeConfig(t, c.text)}, func(string) string { return "" }, os.Stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want it to contain %q", c.text, err, c.want)
		}
	}
	// An empty file is no settings.
	if _, _, _, err := parseServe("serve", []string{"--config", writeConfig(t, "")}, func(string) string { return "" }, os.Stderr); err != nil {
		t.Errorf("empty file: %v", err)
	}
	if _, _, _, err := parseServe("serve", []string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, func(string) string { return "" }, os.Stderr); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("missing file: %v", err)
	}
}

// TestConfigPrint: the effective configuration with each value's source,
// secrets redacted, and its output is a config file serve accepts.
func TestConfigPrint(t *testing.T) {
	file := writeConfig(t, "database-url: postgres://bank:s3cret@db.internal:5432/bankgate?sslmode=require\nread-timeout: 20s\n")
	env := map[string]string{"BANKGATE_SECRET_KEY": "hex:" + strings.Repeat("ab", 32), "BANKGATE_ADDR": "127.0.0.1:9999"}
	var out, errb syncBuffer
	if err := run(t.Context(), []string{"config", "print", "--config", file, "--idle-timeout", "1m"}, func(k string) string { return env[k] }, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	got := out.String()
	for _, want := range []string{
		"addr: 127.0.0.1:9999 # environment",
		"read-timeout: 20s # config file",
		"idle-timeout: 1m0s # flag",
		"write-timeout: 5m0s # default",
		"database-url: postgres://bank:REDACTED@db.internal:5432/bankgate?sslmode=require # config file",
		"secret-key-file: hex:REDACTED # environment",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, secret := range []string{"s3cret", strings.Repeat("ab", 32)} {
		if strings.Contains(got, secret) {
			t.Errorf("secret %q printed:\n%s", secret, got)
		}
	}
	// What it prints is a config file (less the redacted secrets).
	printed := writeConfig(t, strings.ReplaceAll(strings.ReplaceAll(got, "hex:REDACTED", ""), "REDACTED", "x"))
	if _, _, _, err := parseServe("serve", []string{"--config", printed}, func(string) string { return "" }, os.Stderr); err != nil {
		t.Errorf("printed config not accepted: %v", err)
	}
}

// TestServeConfigFile: serve runs on what its config file says (here the
// log format and the staleness bound), a flag still beating the file.
func TestServeConfigFile(t *testing.T) {
	file := writeConfig(t, "log-format: text\nlog-level: warn\ncache-staleness: 250ms\nshutdown-grace: 5s\n")
	ts := startServer(t, serverOpts{args: []string{"--config", file}}) // the harness's --log-level debug beats the file
	key, _ := ts.newApp("cfg")
	ts.login(key, "user_good")
	logs := ts.Stderr.String()
	if !strings.Contains(logs, `level=INFO msg="bankgate listening"`) || strings.Contains(logs, `{"time"`) {
		t.Fatalf("want text lines at info level (the flag's debug beats the file's warn):\n%s", logs)
	}
}
