package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	bghttp "github.com/bankgate/bankgate/http"
	"github.com/bankgate/bankgate/secret"
)

// Config is bankgate's whole configuration. Each setting has a default in
// code, may be set in the environment (BANKGATE_*), and a flag beats both.
type Config struct {
	// ConfigFile is a YAML file of settings (serve's --config), below
	// flags and the environment.
	ConfigFile    string
	Addr          string
	DataDir       string
	AccessCodeTTL time.Duration
	// SecretKey is the server key file path, or an inline key written as
	// "hex:<64 hex characters>". Empty means <data-dir>/server.key,
	// generated on first start.
	SecretKey string
	LogLevel  string
	// DatabaseURL selects the PostgreSQL store (postgres://...); empty
	// means the embedded SQLite store in DataDir.
	DatabaseURL string
	// SandboxClock is "real" (default), "now", or a start time for a
	// virtual clock that POST /v2/sandbox/clock can advance.
	SandboxClock string
	// SandboxFixtures is a directory of sandbox user fixtures (*.json)
	// loaded on start.
	SandboxFixtures string
	// NoSandbox serves no sandbox banks at all (a production server).
	NoSandbox bool
	// BanksFile is a YAML file of open-banking (UK Open Banking v3.1)
	// banks to serve, with the TPP registration at each.
	BanksFile string
	// PublicURL is the server's public base URL, where banks send users
	// back to (PublicURL/connect/callback).
	PublicURL string
	// SandboxCacheMB bounds the sandbox's generated-data cache, in MiB.
	SandboxCacheMB int
	// MemoryLimit is the Go runtime's soft memory limit: off, auto (90%
	// of a cgroup limit) or a size (see memoryLimit).
	MemoryLimit string
	// TrustedProxies is a comma-separated list of CIDRs of load balancers
	// whose X-Forwarded-For is believed for per-IP rate limits.
	TrustedProxies string
	// RateLimits is "off", "default", or a list of NAME=N/DURATION items
	// (see bghttp.ParseLimits).
	RateLimits string
	// AdminAddr is the admin listener's address (admin API, console,
	// /metrics); empty or "off" turns it off.
	AdminAddr string
	// AdminTokenFile is a file (mode 0600) holding the admin token; empty
	// means BANKGATE_ADMIN_TOKEN, else a token generated on first start
	// whose digest is kept in <data-dir>/admin-token.digest.
	AdminTokenFile string
	// AccessLog writes one line per API request at level info (see
	// http.Server.logRequest); false turns it off.
	AccessLog bool
	// WebhookWorkers bounds the webhook deliveries this instance has in
	// flight; 0 delivers none here (other instances deliver the outbox).
	WebhookWorkers int
	// WebhookTimeout bounds one webhook delivery attempt.
	WebhookTimeout time.Duration
	// LogFormat is json (default) or text.
	LogFormat string
	// TLSCertFile and TLSKeyFile, both set, make the API listener serve
	// HTTPS (TLS 1.2+, HTTP/2); both files are read again on SIGHUP or
	// when they change.
	TLSCertFile, TLSKeyFile string
	// AdminTLSCertFile and AdminTLSKeyFile do the same for the admin
	// listener.
	AdminTLSCertFile, AdminTLSKeyFile string
	// The API listener's HTTP timeouts (http.Server's).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownDrain is how long /readyz answers 503 after SIGTERM while
	// requests are still served; ShutdownGrace then bounds how long
	// requests in flight may take to finish.
	ShutdownDrain, ShutdownGrace time.Duration
	// CacheStaleness bounds how stale a cached grant, app or sandbox
	// state may be after a change made on another instance.
	CacheStaleness time.Duration

	// wrapStore, set by tests only, wraps the opened store.
	wrapStore func(bankgate.Store) bankgate.Store
}

// setting describes one configuration field for flags, environment and
// help.
type setting struct {
	flag, env, help string
	bind            func(fs *flag.FlagSet, c *Config, def string)
}

var settings = []setting{
	{"config", "BANKGATE_CONFIG", "YAML file of settings, keys named as the flags (addr: 127.0.0.1:8080); a flag beats its environment variable, which beats the file, which beats the default. See docs/operations.md#configuration", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.ConfigFile, "config", def, "")
	}},
	{"addr", "BANKGATE_ADDR", "address to listen on (host:port)", func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(&c.Addr, "addr", def, "") }},
	{"data-dir", "BANKGATE_DATA_DIR", "directory for the SQLite database and the server key (created 0700)", func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(&c.DataDir, "data-dir", def, "") }},
	{"access-code-ttl", "BANKGATE_ACCESS_CODE_TTL", "lifetime of an access code (Go duration)", func(fs *flag.FlagSet, c *Config, def string) {
		d, _ := time.ParseDuration(def)
		fs.DurationVar(&c.AccessCodeTTL, "access-code-ttl", d, "")
	}},
	{"secret-key-file", "BANKGATE_SECRET_KEY", "server keys for digests and sealing: a file (mode 0600) holding 64 hex characters, or one \"ID HEX\" line per key with the primary first (see bankgate keys); or inline as hex:<64 hex>. Default <data-dir>/server.key, generated on first start; in production keep it outside the data dir", func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(&c.SecretKey, "secret-key-file", def, "") }},
	{"database-url", "BANKGATE_DATABASE_URL", "PostgreSQL URL (postgres://user@host:5432/db); selects the PostgreSQL store instead of the embedded SQLite one", func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(&c.DatabaseURL, "database-url", def, "") }},
	{"sandbox-clock", "BANKGATE_SANDBOX_CLOCK", "where every app's sandbox test clock starts: real, or a virtual clock (now, an RFC 3339 time or YYYY-MM-DD to start from); each app moves its own with POST /v2/sandbox/clock {appSecret, advance:\"36h\"}", func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(&c.SandboxClock, "sandbox-clock", def, "") }},
	{"sandbox-fixtures", "BANKGATE_SANDBOX_FIXTURES", "directory of sandbox user fixtures (*.json) to load on start", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.SandboxFixtures, "sandbox-fixtures", def, "")
	}},
	{"trusted-proxies", "BANKGATE_TRUSTED_PROXIES", "comma-separated CIDRs of load balancers whose X-Forwarded-For names the client for per-IP rate limits (default: none; the peer address is the client)", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.TrustedProxies, "trusted-proxies", def, "")
	}},
	{"rate-limits", "BANKGATE_RATE_LIMITS", "rate limits: off, default, or a comma list of NAME=N/DURATION (N events per duration, burst N; N/DURATION/B for a burst of B; NAME=off disables one; unnamed limits keep their defaults). login-user: failed bank logins per app, bank and username; login-ip: failed bank logins per client IP (while either is spent every login is refused); exchange-app: failed ExchangeToken calls (wrong access code) per app; auth-ip: failed token/appSecret/userSecret/access-code checks per client IP (only failing requests are refused). Defaults: " + bghttp.DefaultLimits.String(), func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.RateLimits, "rate-limits", def, "")
	}},
	{"sandbox-cache-mb", "BANKGATE_SANDBOX_CACHE_MB", "MiB of memory for the sandbox's users: the generated-data cache (about 1.3 KB a user) and as many user states as fit in 2 KB each; over it, users not read lately lose their entry (about 0.1 ms to make again, never a ledger regeneration)", func(fs *flag.FlagSet, c *Config, def string) {
		n, _ := strconv.Atoi(def)
		fs.IntVar(&c.SandboxCacheMB, "sandbox-cache-mb", n, "")
	}},
	{"memory-limit", "BANKGATE_MEMORY_LIMIT", "soft memory limit of the Go heap, at which the garbage collector works harder: auto (90% of the container's cgroup memory limit, if it has one), off, or a size such as 512MiB; keep it well above what the caches hold (--sandbox-cache-mb, about 0.5 KB per active token)", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.MemoryLimit, "memory-limit", def, "")
	}},
	{"no-sandbox", "BANKGATE_NO_SANDBOX", "serve no sandbox banks (a production server): banks/get lists none, logins and sandbox endpoints refuse them", func(fs *flag.FlagSet, c *Config, def string) {
		fs.BoolVar(&c.NoSandbox, "no-sandbox", def == "true" || def == "1", "")
	}},
	{"banks-file", "BANKGATE_BANKS_FILE", "YAML file of open-banking banks (UK Open Banking v3.1 and the standards built on it) to serve as production banks, with bankgate's registration at each: id, name, country, issuer, apiBaseURL, clientID, signingKeyFile, signingKeyID, tlsCertFile, tlsKeyFile, caFile (paths relative to the file); sandbox: true marks a bank's test environment (see docs/connectors/openbanking.md; bankgate modelbank writes one)", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.BanksFile, "banks-file", def, "")
	}},
	{"public-url", "BANKGATE_PUBLIC_URL", "the server's public base URL (https://host[:port]); banks that log users in by redirect send them back to <public-url>/connect/callback, the redirect URI registered at the bank. Default: the URL each Connect login request came in on", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.PublicURL, "public-url", def, "")
	}},
	{"admin-addr", "BANKGATE_ADMIN_ADDR", "address of the admin listener (admin API /admin/v1/, web console /admin/, /metrics); \"\" or off turns it off. Keep it private: it answers only with the admin token, but /metrics and /healthz need none", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.AdminAddr, "admin-addr", def, "")
	}},
	{"admin-token-file", "BANKGATE_ADMIN_TOKEN_FILE", "file (mode 0600) holding the admin token; default: the token in BANKGATE_ADMIN_TOKEN, else one generated on first start, printed once, and kept only as a digest in <data-dir>/admin-token.digest. Instances behind one load balancer share one token this way", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.AdminTokenFile, "admin-token-file", def, "")
	}},
	{"webhook-workers", "BANKGATE_WEBHOOK_WORKERS", "webhook deliveries this instance makes at once (each bounded in time and memory); 0 makes none here, leaving the outbox to other instances", func(fs *flag.FlagSet, c *Config, def string) {
		n, _ := strconv.Atoi(def)
		fs.IntVar(&c.WebhookWorkers, "webhook-workers", n, "")
	}},
	{"webhook-timeout", "BANKGATE_WEBHOOK_TIMEOUT", "time limit of one webhook delivery attempt, connecting to reading the answer (Go duration); a receiver slower than that is retried later", func(fs *flag.FlagSet, c *Config, def string) {
		d, _ := time.ParseDuration(def)
		fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", d, "")
	}},
	{"log-level", "BANKGATE_LOG_LEVEL", "log level: debug, info, warn or error", func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(&c.LogLevel, "log-level", def, "") }},
	{"access-log", "BANKGATE_ACCESS_LOG", "write an access log line (level info) for every request: request ID, client address, app key prefix, route, status, Dapi error type, operationID, dur_ms. It costs a few µs a request (a JSON line and a write); --access-log=false saves them under load", func(fs *flag.FlagSet, c *Config, def string) {
		fs.BoolVar(&c.AccessLog, "access-log", def == "true" || def == "1", "")
	}},
	{"log-format", "BANKGATE_LOG_FORMAT", "log format: json (one object a line) or text (key=value)", func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(&c.LogFormat, "log-format", def, "") }},
	{"tls-cert-file", "BANKGATE_TLS_CERT_FILE", "PEM certificate chain; with --tls-key-file the API listener serves HTTPS (TLS 1.2 or later, HTTP/2). Both files are read again on SIGHUP and when they change, without a restart", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.TLSCertFile, "tls-cert-file", def, "")
	}},
	{"tls-key-file", "BANKGATE_TLS_KEY_FILE", "PEM private key of --tls-cert-file", func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(&c.TLSKeyFile, "tls-key-file", def, "") }},
	{"admin-tls-cert-file", "BANKGATE_ADMIN_TLS_CERT_FILE", "PEM certificate chain; with --admin-tls-key-file the admin listener serves HTTPS (TLS 1.2 or later, HTTP/2), reloaded like --tls-cert-file (the same files may serve both)", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.AdminTLSCertFile, "admin-tls-cert-file", def, "")
	}},
	{"admin-tls-key-file", "BANKGATE_ADMIN_TLS_KEY_FILE", "PEM private key of --admin-tls-cert-file", func(fs *flag.FlagSet, c *Config, def string) {
		fs.StringVar(&c.AdminTLSKeyFile, "admin-tls-key-file", def, "")
	}},
	durationSetting("read-header-timeout", "BANKGATE_READ_HEADER_TIMEOUT", "how long a client may take to send a request's headers", func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }),
	durationSetting("read-timeout", "BANKGATE_READ_TIMEOUT", "how long a client may take to send a whole request", func(c *Config) *time.Duration { return &c.ReadTimeout }),
	durationSetting("write-timeout", "BANKGATE_WRITE_TIMEOUT", "how long the server may take to answer a request, from the end of its headers", func(c *Config) *time.Duration { return &c.WriteTimeout }),
	durationSetting("idle-timeout", "BANKGATE_IDLE_TIMEOUT", "how long an idle keep-alive connection stays open", func(c *Config) *time.Duration { return &c.IdleTimeout }),
	durationSetting("shutdown-drain", "BANKGATE_SHUTDOWN_DRAIN", "after SIGTERM, how long /readyz answers 503 while requests are still served, so that a load balancer stops sending new ones (set it above the balancer's health-check interval times its failure threshold)", func(c *Config) *time.Duration { return &c.ShutdownDrain }),
	durationSetting("shutdown-grace", "BANKGATE_SHUTDOWN_GRACE", "after the drain, how long requests in flight may take to finish before the server exits anyway", func(c *Config) *time.Duration { return &c.ShutdownGrace }),
	durationSetting("cache-staleness", "BANKGATE_CACHE_STALENESS", "how long a cached token, connection, app or sandbox user state is used before the store's change feed is consulted: a change made on another instance is enforced everywhere within it", func(c *Config) *time.Duration { return &c.CacheStaleness }),
}

// durationSetting is a setting holding a Go duration.
func durationSetting(name, env, help string, field func(*Config) *time.Duration) setting {
	return setting{name, env, help + " (Go duration)", func(fs *flag.FlagSet, c *Config, def string) {
		d, _ := time.ParseDuration(def)
		fs.DurationVar(field(c), name, d, "")
	}}
}

// secretSettings redact the values of the settings that may hold a
// secret, for `bankgate config print`.
var secretSettings = map[string]func(string) string{
	// An inline key is the key itself; a path is not secret.
	"secret-key-file": func(v string) string {
		if strings.HasPrefix(v, "hex:") {
			return "hex:REDACTED"
		}
		return v
	},
	// A URL's password.
	"database-url": func(v string) string {
		u, err := url.Parse(v)
		if err != nil {
			if v == "" {
				return v
			}
			return "REDACTED"
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "REDACTED")
			u.RawQuery = q.Encode()
		}
		return u.String()
	},
}

var defaults = map[string]string{
	"config":              "",
	"addr":                "127.0.0.1:8080",
	"data-dir":            "./bankgate-data",
	"access-code-ttl":     "30m",
	"secret-key-file":     "",
	"log-level":           "info",
	"database-url":        "",
	"sandbox-clock":       "real",
	"sandbox-fixtures":    "",
	"trusted-proxies":     "",
	"rate-limits":         "default",
	"no-sandbox":          "false",
	"banks-file":          "",
	"public-url":          "",
	"sandbox-cache-mb":    "256",
	"memory-limit":        "auto",
	"admin-addr":          "127.0.0.1:8081",
	"admin-token-file":    "",
	"access-log":          "true",
	"webhook-workers":     "8",
	"webhook-timeout":     "10s",
	"log-format":          "json",
	"tls-cert-file":       "",
	"tls-key-file":        "",
	"admin-tls-cert-file": "",
	"admin-tls-key-file":  "",
	// The timeouts are generous for a JSON API: a slow client cannot hold
	// a connection long, and no answer takes minutes.
	"read-header-timeout": "10s",
	"read-timeout":        "30s",
	"write-timeout":       "5m",
	"idle-timeout":        "2m",
	// No drain by default: a server without a load balancer in front
	// stops at once.
	"shutdown-drain":  "0s",
	"shutdown-grace":  "30s",
	"cache-staleness": "500ms",
}

// newFlagSet returns a flag set for a command with the named settings
// bound to cfg: default from code, overridden by the environment, then by
// flags when parsed.
func newFlagSet(name, usage string, cfg *Config, env func(string) string, stderr io.Writer, names ...string) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bound []setting
	for _, n := range names {
		for _, st := range settings {
			if st.flag != n {
				continue
			}
			def := defaults[n]
			if v := env(st.env); v != "" {
				def = v
				if _, isDur := durationDefault(n); isDur {
					if _, err := time.ParseDuration(v); err != nil {
						return nil, fmt.Errorf("%s: %q is not a Go duration", st.env, v)
					}
				}
			}
			st.bind(fs, cfg, def)
			bound = append(bound, st)
		}
	}
	fs.Usage = func() {
		order := "a flag beats its environment variable, which beats the default"
		if fs.Lookup("config") != nil {
			order = "a flag beats its environment variable, which beats the --config file, which beats the default"
		}
		fmt.Fprintf(stderr, "Usage: bankgate %s\n\n%s\n\nFlags (%s):\n", name, usage, order)
		for _, st := range bound {
			def := defaults[st.flag]
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(stderr, "  --%s (env %s, default %s)\n      %s\n", st.flag, st.env, def, st.help)
		}
		extra := false
		fs.VisitAll(func(f *flag.Flag) {
			for _, st := range bound {
				if st.flag == f.Name {
					return
				}
			}
			if !extra {
				extra = true
			}
			fmt.Fprintf(stderr, "  --%s\n      %s\n", f.Name, f.Usage)
		})
	}
	return fs, nil
}

// durationDefault reports whether the named setting is a duration, and
// its default.
func durationDefault(name string) (time.Duration, bool) {
	// A duration's default has a unit ("30m", "0s"); no other setting's
	// does.
	d, err := time.ParseDuration(defaults[name])
	return d, err == nil
}

// validate checks the configuration after parsing.
func (c *Config) validate() error {
	if c.AccessCodeTTL <= 0 {
		return errors.New("--access-code-ttl must be positive")
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if c.WebhookWorkers < 0 || c.WebhookWorkers > 1024 {
		return errors.New("--webhook-workers must be from 0 to 1024")
	}
	if c.WebhookTimeout < 0 || c.WebhookTimeout > 5*time.Minute {
		return errors.New("--webhook-timeout must be positive and at most 5m")
	}
	if c.SandboxCacheMB < 0 || c.SandboxCacheMB > 1<<20 {
		return errors.New("--sandbox-cache-mb must be from 1 to 1048576")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return errors.New("--database-url must start with postgres:// or postgresql://")
	}
	return nil
}

// ensureDataDir creates the data directory (or tightens an existing one)
// with 0700 permissions.
func (c *Config) ensureDataDir() error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// The directory holds the server key and the database: keep it private
	// even when it existed before.
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir permissions: %w", err)
	}
	return nil
}

// loadKeys returns the server keys: inline, from the configured key file,
// or from <data-dir>/server.key, generating that file (0600) if it does
// not exist yet. It also returns the key file's path ("" for an inline
// key). A key file readable or writable by group or others is refused.
func (c *Config) loadKeys() ([]secret.Key, string, error) {
	if strings.HasPrefix(c.SecretKey, "hex:") {
		keys, err := secret.ParseKeys(c.SecretKey)
		return keys, "", err
	}
	path := c.SecretKey
	if path == "" {
		path = filepath.Join(c.DataDir, "server.key")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			key, err := c.generateKey(path)
			if err != nil {
				return nil, "", err
			}
			return []secret.Key{{ID: secret.OriginalKeyID, Secret: key}}, path, nil
		}
	}
	keys, err := readKeyFile(path)
	return keys, path, err
}

// readKeyFile reads a key file after checking that only its owner may
// read or write it.
func readKeyFile(path string) ([]secret.Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read server key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("server key file %s is open to group or others (mode %04o): whoever reads it can forge and open what the server keeps; run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read server key: %w", err)
	}
	keys, err := secret.ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("server key file %s: %w", path, err)
	}
	return keys, nil
}

// writeKeyFile replaces the key file at path with keys, atomically (a
// 0600 file beside it, renamed into place).
func writeKeyFile(path string, keys []secret.Key) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".server.key-*")
	if err != nil {
		return fmt.Errorf("write server key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(secret.FormatKeys(keys)); err != nil {
		tmp.Close()
		return fmt.Errorf("write server key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("install server key file: %w", err)
	}
	return nil
}

// generateKey makes the original server key and writes it to path, unless
// another process won the race to do so (then it reads that one).
func (c *Config) generateKey(path string) ([]byte, error) {
	// Write the new key beside its final name, then link it into place:
	// the link fails if another process won the race, and nobody ever
	// reads a half-written key.
	key := secret.NewKey()
	tmp, err := os.CreateTemp(c.DataDir, ".server.key-*")
	if err != nil {
		return nil, fmt.Errorf("create server key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := fmt.Fprintf(tmp, "%x\n", key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write server key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("install server key: %w", err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read server key: %w", err)
		}
		return secret.ParseKey(string(b))
	}
	return key, nil
}

// limits parses RateLimits; the error names the flag and the bad item.
func (c *Config) limits() (bghttp.Limits, error) {
	l, err := bghttp.ParseLimits(c.RateLimits)
	if err != nil {
		return l, fmt.Errorf("--rate-limits (or BANKGATE_RATE_LIMITS): %w", err)
	}
	return l, nil
}

// proxies parses TrustedProxies.
func (c *Config) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is not a CIDR or address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
