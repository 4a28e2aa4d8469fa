package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium for the test and returns its context.
// Without Chromium the test is skipped, unless BANKGATE_REQUIRE_BROWSER=1
// makes that a failure (CI sets it).
// extra adds to (or overrides) the browser's options.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if testing.Short() && os.Getenv("BANKGATE_REQUIRE_BROWSER") != "1" {
		t.Skip("skipping browser test in -short mode (CI runs it)")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("BANKGATE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("BANKGATE_REQUIRE_BROWSER=1 but Chromium is not at %s: %v (apt-get install chromium)", chromiumPath, err)
		}
		t.Skipf("skipping browser test: Chromium is not at %s (apt-get install chromium; BANKGATE_REQUIRE_BROWSER=1 turns this skip into a failure)", chromiumPath)
	}
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 860),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Do starts the browser and ties its life to ctx, so it gets
	// no timeout; each tab's actions have one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// tab is one browser tab with a watch on what its pages do: requests,
// console errors and uncaught exceptions.
type tab struct {
	t   *testing.T
	ctx context.Context // bounded by the test's timeout

	mu       sync.Mutex
	requests []string
	problems []string
}

// newTab opens a tab that closes at the end of the test. Every action on
// it must finish within timeout.
func newTab(t *testing.T, browser context.Context, timeout time.Duration) *tab {
	t.Helper()
	tabCtx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(tabCtx); err != nil { // opens the tab, without the timeout
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(tabCtx, timeout)
	t.Cleanup(cancelTimeout)
	tb := &tab{t: t, ctx: ctx}
	err := chromedp.Listen(tabCtx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			tb.requests = append(tb.requests, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			tb.problems = append(tb.problems, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				tb.problems = append(tb.problems, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
			}
		case *log.EventEntryAdded:
			e := ev.Entry
			if e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
				tb.problems = append(tb.problems, "log "+string(e.Source)+"/"+string(e.Level)+": "+e.Text+" "+e.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return tb
}

// do runs steps and fails the test on error.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v\npage problems: %v", what, err, tb.seenProblems())
	}
}

// eval evaluates a JavaScript expression in the top page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// poll waits until a JavaScript expression is truthy and returns its value.
func poll[T any](tb *tab, what, expr string, opts ...chromedp.PollOption) T {
	tb.t.Helper()
	opts = append([]chromedp.PollOption{chromedp.WithPollingInterval(25 * time.Millisecond)}, opts...)
	v, err := chromedp.Run(tb.ctx, chromedp.Poll[T](expr, opts...))
	if err != nil {
		tb.t.Fatalf("waiting for %s (%s): %v\npage problems: %v", what, expr, err, tb.seenProblems())
	}
	return v
}

func (tb *tab) seenProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.problems...)
}

// checkClean fails the test if a page threw, logged an error (a CSP
// violation, say), or asked for anything from an origin other than the
// allowed ones. allowed lists substrings of expected failures, like the
// 401 of a wrong password.
func (tb *tab) checkClean(origins []string, allowed ...string) {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
problems:
	for _, p := range tb.problems {
		for _, a := range allowed {
			if strings.Contains(p, a) {
				continue problems
			}
		}
		tb.t.Errorf("page problem: %s", p)
	}
	if len(tb.requests) == 0 {
		tb.t.Error("no requests recorded: the page monitor is not working")
	}
	for _, r := range tb.requests {
		if strings.HasPrefix(r, "data:") {
			continue
		}
		u, err := url.Parse(r)
		if err != nil {
			tb.t.Errorf("request to unparsable URL %q", r)
			continue
		}
		o := u.Scheme + "://" + u.Host
		ok := false
		for _, want := range origins {
			ok = ok || o == want
		}
		if !ok {
			tb.t.Errorf("request to a third party: %s", r)
		}
	}
}

// screenshots saves PNGs of the steps: into testdata/screenshots with
// BANKGATE_SCREENSHOTS=1, else into a temporary directory.
type screenshots struct {
	t   *testing.T
	dir string
}

func newScreenshots(t *testing.T) *screenshots {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("BANKGATE_SCREENSHOTS") == "1" {
		dir = filepath.Join("testdata", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &screenshots{t: t, dir: dir}
}

// take saves the visible part of the tab as name.png.
func (s *screenshots) take(tb *tab, name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}
