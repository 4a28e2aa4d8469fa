package connect

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/bankgate/bankgate"
)

// These tests drive the page in headless Chromium against a fake Connect
// JSON API, to reach what the sandbox bank does not ask: every user-input
// type, every error state, the production empty state and the native
// webview bridge. cmd/bankgate's browser tests cover the real server.

const chromium = "/usr/bin/chromium"

func startChromium(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() && os.Getenv("BANKGATE_REQUIRE_BROWSER") != "1" {
		t.Skip("skipping browser test in -short mode (CI runs it)")
	}
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("BANKGATE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("BANKGATE_REQUIRE_BROWSER=1 but Chromium is not at %s: %v", chromium, err)
		}
		t.Skipf("skipping browser test: Chromium is not at %s (apt-get install chromium; BANKGATE_REQUIRE_BROWSER=1 turns this skip into a failure)", chromium)
	}
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1000, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// openTab opens a tab whose actions must finish within 15 s; it records
// uncaught exceptions.
func openTab(t *testing.T, browser context.Context) (context.Context, func() []string) {
	t.Helper()
	tabCtx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var problems []string
	chromedp.Listen(tabCtx, func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			problems = append(problems, ev.ExceptionDetails.Text+" "+ev.ExceptionDetails.Exception.Description)
			mu.Unlock()
		}
	})
	ctx, cancelT := context.WithTimeout(tabCtx, 15*time.Second)
	t.Cleanup(cancelT)
	return ctx, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), problems...) }
}

func must(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("BANKGATE_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "cmd", "bankgate", "testdata", "screenshots")
		os.MkdirAll(dir, 0o755)
	}
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644)
}

// fakeAPI is the Connect JSON API of a bank that asks for everything.
type fakeAPI struct {
	t       *testing.T
	mu      sync.Mutex
	resumes [][]map[string]any // userInputs of each resume
	bodies  []map[string]any
}

var captchaPNG = func() string {
	img := image.NewRGBA(image.Rect(0, 0, 120, 40))
	for x := 0; x < 120; x++ {
		for y := 0; y < 40; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 5), 160, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return base64.StdEncoding.EncodeToString(b.Bytes())
}()

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	if r.Header.Get("Cookie") != "" || r.Header.Get("Referer") != "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		f.t.Errorf("API request headers: %v", r.Header)
	}
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, typ, msg string) {
		reply(status, map[string]any{"success": false, "status": "failed", "operationID": "", "type": typ, "msg": msg})
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	switch r.URL.Path {
	case "/v2/connect/banks/get":
		banks := []map[string]any{
			{"bankID": "TEST_AE_ALPHA", "name": "Alpha Bank (Sandbox)", "shortName": "Alpha", "country": "AE", "countryName": "UNITED ARAB EMIRATES",
				"primaryColor": "#7A1F5C", "secondaryColor": "#FFFFFF", "logo": "https://logos.example.com/alpha.png", "sandbox": true},
		}
		if body["appKey"] != "key-empty" {
			banks = append(banks, map[string]any{"bankID": "LIVE_AE_BETA", "name": "Beta Bank", "shortName": "Beta", "country": "AE",
				"countryName": "United Arab Emirates", "primaryColor": "javascript:alert(1)", "logo": "https://logos.example.com/beta.png", "sandbox": false})
		}
		reply(200, map[string]any{"success": true, "status": "done", "operationID": "", "banks": banks})
	case "/v2/connect/login":
		op, _ := body["operationID"].(string)
		if op != "" {
			ins, _ := body["userInputs"].([]any)
			var got []map[string]any
			for _, in := range ins {
				got = append(got, in.(map[string]any))
			}
			f.mu.Lock()
			f.resumes = append(f.resumes, got)
			f.mu.Unlock()
		}
		switch op {
		case "":
			switch body["username"] {
			case "all_inputs":
				reply(200, map[string]any{"success": true, "status": "user_input_required", "operationID": "OP:1", "userInputs": []map[string]any{
					{"id": "pin", "index": 4, "query": "Enter your 4-digit PIN", "queryType": "txt", "answer": ""},
					{"id": "captcha", "index": 0, "query": captchaPNG, "queryType": "img", "answer": ""},
					{"id": "multiple_choice", "index": 1, "query": "Which card do you hold?", "queryType": "txt", "answer": "",
						"queryOptions": []map[string]any{{"index": 0, "type": "txt", "content": "Visa ending 1234"}, {"index": 1, "type": "txt", "content": "Mastercard ending 9876"}}},
					{"id": "token", "index": 2, "query": "Enter the code from your hardware token", "queryType": "txt", "answer": ""},
					{"id": "secret_question", "index": 3, "query": "What was the name of your first school?", "queryType": "txt", "answer": ""},
				}})
			case "mfa":
				reply(200, map[string]any{"success": true, "status": "user_input_required", "operationID": "OP:OTP", "userInputs": []map[string]any{
					{"id": "otp", "index": 0, "query": "Enter the code we sent to your phone", "queryType": "txt", "answer": ""}}})
			case "locked":
				fail(403, "ACCOUNT_LOCKED", "The account is locked after too many failed login attempts.")
			case "down":
				fail(503, "TEMPORARILY_UNAVAILABLE", "The bank is temporarily unavailable.")
			case "busy":
				w.Header().Set("Retry-After", "30")
				fail(429, "RATE_LIMIT_EXCEEDED", "Too many login attempts; try again in 30 seconds.")
			default:
				fail(401, "INVALID_CREDENTIALS", "Your user entered invalid login credentials.")
			}
		case "OP:1":
			reply(200, map[string]any{"success": true, "status": "user_input_required", "operationID": "OP:2", "userInputs": []map[string]any{
				{"id": "confirmation", "index": 0, "query": "Allow Acme Budget to read account AE07 0331 2345 6789 0123 456 (balance AED 12,345.67)?", "queryType": "txt", "answer": ""}}})
		case "OP:2":
			reply(200, map[string]any{"success": true, "status": "done", "operationID": "OP:2", "accessCode": "ac_1", "userSecret": "us_1",
				"connectionID": "conn1", "userID": "user1", "tokenID": "tok1", "bankID": "TEST_AE_ALPHA"})
		case "OP:OTP":
			fail(401, "INVALID_MFA", "The one-time password is wrong.")
		default:
			fail(400, "INVALID_OPERATION_ID", "The operationID is unknown.")
		}
	default:
		http.NotFound(w, r)
	}
}

func startFakeServer(t *testing.T) (*httptest.Server, *fakeAPI) {
	t.Helper()
	api := &fakeAPI{t: t}
	apps := &fakeApps{apps: map[string]*bankgate.App{
		"key-web":   {Key: "key-web", Name: "Acme Budget"},
		"key-empty": {Key: "key-empty", Name: "Acme Budget"},
	}}
	pages := New(Config{Apps: apps})
	mux := http.NewServeMux()
	mux.Handle("/v2/", api)
	mux.Handle("/", pages)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, api
}

// TestBrowserConnectInputs answers every user-input type in a native
// webview and checks the answers the page sends and the link message the
// native bridge receives.
func TestBrowserConnectInputs(t *testing.T) {
	browser := startChromium(t)
	srv, api := startFakeServer(t)
	ctx, problems := openTab(t, browser)

	// A mobile app's webview injects its message handler before the page runs.
	_, err := chromedp.Run(ctx, chromedp.Action[cdppage.AddScriptToEvaluateOnNewDocumentResult](func(ctx context.Context, tg *chromedp.Target) (cdppage.AddScriptToEvaluateOnNewDocumentResult, error) {
		return cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__native = []; window.ReactNativeWebView = { postMessage: function (m) { window.__native.push(JSON.parse(m)); } };`,
		})
	}))
	if err != nil {
		t.Fatal(err)
	}
	must(t, ctx, "open", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(srv.URL+"/connect?appKey=key-web&environment=sandbox&isWebview=true&clientUserID=cu-7"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-bank-id="TEST_AE_ALPHA"]`)))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("button.bank").length`)); n != 1 {
		t.Errorf("sandbox environment lists %d banks, want only the sandbox one", n)
	}
	if ready, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`__native.some(function (m) { return m.type === "ready"; })`)); !ready {
		t.Error("the native bridge got no ready message")
	}
	must(t, ctx, "log in",
		chromedp.Click(chromedp.CSS(`button[data-bank-id="TEST_AE_ALPHA"]`)),
		chromedp.SendKeys(chromedp.CSS("#bg-username"), "all_inputs"),
		chromedp.SendKeys(chromedp.CSS("#bg-password"), "secret"),
		chromedp.Click(chromedp.CSS(".toggle")),
	)
	if typ, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("bg-password").type`)); typ != "text" {
		t.Errorf("Show did not reveal the password (type %q)", typ)
	}
	must(t, ctx, "submit", chromedp.Click(chromedp.CSS("#bg-submit")), chromedp.WaitVisible(chromedp.CSS("img.captcha")))
	if w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector("img.captcha").naturalWidth`)); w != 120 {
		t.Errorf("captcha image width %d, want 120 (blocked?)", w)
	}
	// Inputs are shown in index order: captcha, choice, token, question, PIN.
	must(t, ctx, "answer",
		chromedp.SendKeys(chromedp.CSS("#bg-in-0"), "x7k2p"),
		chromedp.Click(chromedp.CSS(`input[name="bg-in-1"][value="1"]`)),
		chromedp.SendKeys(chromedp.CSS("#bg-in-2"), "884422"),
		chromedp.SendKeys(chromedp.CSS("#bg-in-3"), "Al Noor"),
		chromedp.SendKeys(chromedp.CSS("#bg-in-4"), "9999"),
	)
	if typ, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("bg-in-4").type`)); typ != "password" {
		t.Errorf("PIN input type %q, want password", typ)
	}
	shot(t, ctx, "connect-mfa-all-inputs")
	must(t, ctx, "continue", chromedp.Click(chromedp.CSS("#bg-submit")), chromedp.WaitVisible(chromedp.CSS(`button[name="confirm"][value="true"]`)))
	shot(t, ctx, "connect-mfa-confirmation")
	// The bank's IBAN and amount are isolated left to right.
	isolated, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.prototype.map.call(document.querySelectorAll("legend bdi[dir=ltr]"), function (b) { return b.textContent; })`))
	if diff := cmp.Diff([]string{"AE07 0331 2345 6789 0123 456", "AED 12,345.67"}, isolated); diff != "" {
		t.Errorf("isolated runs in the confirmation (-want +got):\n%s", diff)
	}
	must(t, ctx, "confirm", chromedp.Click(chromedp.CSS(`button[name="confirm"][value="true"]`)), chromedp.WaitVisible(chromedp.CSS("#bg-success")))

	raw, err := chromedp.Run(ctx, chromedp.Poll[json.RawMessage](`__native.filter(function (m) { return m.type === "link"; })[0]`, chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	var link map[string]string
	json.Unmarshal(raw, &link)
	want := map[string]string{"type": "link", "accessCode": "ac_1", "userSecret": "us_1", "connectionID": "conn1", "userID": "user1", "tokenID": "tok1", "bankID": "TEST_AE_ALPHA"}
	if diff := cmp.Diff(want, link); diff != "" {
		t.Errorf("link message (-want +got):\n%s", diff)
	}

	api.mu.Lock()
	defer api.mu.Unlock()
	wantResumes := [][]map[string]any{
		{{"id": "captcha", "index": 0.0, "answer": "x7k2p"}, {"id": "multiple_choice", "index": 1.0, "answer": "1"},
			{"id": "token", "index": 2.0, "answer": "884422"}, {"id": "secret_question", "index": 3.0, "answer": "Al Noor"},
			{"id": "pin", "index": 4.0, "answer": "9999"}},
		{{"id": "confirmation", "index": 0.0, "answer": "true"}},
	}
	if diff := cmp.Diff(wantResumes, api.resumes); diff != "" {
		t.Errorf("answers sent (-want +got):\n%s", diff)
	}
	for _, b := range api.bodies {
		if b["username"] != nil && b["clientUserID"] != "cu-7" || b["operationID"] != nil && b["clientUserID"] != "cu-7" {
			t.Errorf("a login request lacks the clientUserID: %v", b)
		}
	}
	if p := problems(); len(p) != 0 {
		t.Errorf("exceptions: %v", p)
	}
}

// TestBrowserConnectErrorStates shows each failure with the server's
// message, and the production empty state.
func TestBrowserConnectErrorStates(t *testing.T) {
	browser := startChromium(t)
	srv, _ := startFakeServer(t)
	ctx, problems := openTab(t, browser)
	must(t, ctx, "open", chromedp.Navigate(srv.URL+"/connect?appKey=key-web&environment=sandbox"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-bank-id="TEST_AE_ALPHA"]`)))
	// The end user reads what happened and what to do, never the
	// developer's message (devMsg), which goes to the app only.
	for _, tc := range []struct {
		user, title, msg, devMsg, shot string
	}{
		{"someone", "Incorrect username or password", "don't match your Alpha online banking login. Check them and try again.",
			"Your user entered invalid login credentials.", ""},
		{"locked", "Your account is locked", "Contact Alpha to unlock it, or try again later.",
			"The account is locked after too many failed login attempts.", "connect-error-locked"},
		{"down", "Alpha is unavailable right now", "please try again in a few minutes.", "The bank is temporarily unavailable.", "connect-error-unavailable"},
		{"busy", "Too many attempts", "please wait a minute before trying again.", "Too many login attempts; try again in 30 seconds.", "connect-error-rate-limited"},
		{"mfa", "That answer wasn't accepted", "Log in again to get a new code.", "The one-time password is wrong.", "connect-error-wrong-mfa"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			must(t, ctx, "log in",
				chromedp.Evaluate[chromedp.Void](`document.getElementById("bg-username") || document.querySelector('button[data-bank-id="TEST_AE_ALPHA"]').click()`),
				chromedp.WaitVisible(chromedp.CSS("#bg-username")),
				chromedp.Clear(chromedp.CSS("#bg-username")),
				chromedp.SendKeys(chromedp.CSS("#bg-username"), tc.user),
				chromedp.SendKeys(chromedp.CSS("#bg-password"), "pw"),
				chromedp.Click(chromedp.CSS("#bg-submit")),
			)
			if tc.user == "mfa" {
				must(t, ctx, "wrong OTP", chromedp.WaitVisible(chromedp.CSS("#bg-in-0")),
					chromedp.SendKeys(chromedp.CSS("#bg-in-0"), "000000"), chromedp.Click(chromedp.CSS("#bg-submit")))
			}
			// Wait for this attempt's error, not the previous one still shown.
			titleJSON, _ := json.Marshal(tc.title)
			must(t, ctx, "error", chromedp.WaitVisible(chromedp.CSS("#bg-error")))
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`((document.getElementById("bg-error")||{}).textContent||"").includes(`+string(titleJSON)+`)`,
				chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				t.Fatalf("the error for %s never showed: %v", tc.user, err)
			}
			text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#bg-error")))
			if !strings.Contains(text, tc.title) || !strings.Contains(text, tc.msg) || strings.Contains(text, tc.devMsg) {
				t.Errorf("error box says %q, want %q and %q and not the developer's %q", text, tc.title, tc.msg, tc.devMsg)
			}
			if f, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); f != "bg-error" {
				t.Errorf("focus on %q, want the error", f)
			}
			if u, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#bg-username"))); u != tc.user {
				t.Errorf("username not kept: %q", u)
			}
			if p, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#bg-password"))); p != "" {
				t.Error("password kept after a failure")
			}
			if tc.shot != "" {
				shot(t, ctx, tc.shot)
			}
		})
	}

	t.Run("empty fields", func(t *testing.T) {
		must(t, ctx, "submit empty", chromedp.Clear(chromedp.CSS("#bg-username")), chromedp.Click(chromedp.CSS("#bg-submit")))
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#bg-problem")))
		inv, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#bg-username"), "aria-invalid"))
		if !strings.Contains(text, "username") || inv.Value != "true" {
			t.Errorf("empty username: problem %q aria-invalid %q", text, inv.Value)
		}
	})

	// The same failures in Arabic, with the bank's name where it has none
	// in the catalogue.
	t.Run("arabic", func(t *testing.T) {
		must(t, ctx, "open", chromedp.Navigate(srv.URL+"/connect?appKey=key-web&environment=sandbox&locale=ar"),
			chromedp.WaitVisible(chromedp.CSS(`button[data-bank-id="TEST_AE_ALPHA"]`)))
		for _, tc := range []struct{ user, title, msg string }{
			{"someone", "اسم المستخدم أو كلمة المرور غير صحيحة", "لدى Alpha. يُرجى التحقق منها والمحاولة مرة أخرى."},
			{"locked", "حسابك مقفل", "يُرجى التواصل مع Alpha لإعادة تفعيله"},
			{"down", "Alpha غير متاح حاليًا", "يُرجى المحاولة مرة أخرى بعد بضع دقائق."},
			{"busy", "محاولات كثيرة جدًا", "يُرجى الانتظار دقيقة"},
		} {
			titleJSON, _ := json.Marshal(tc.title)
			must(t, ctx, "log in as "+tc.user,
				chromedp.Evaluate[chromedp.Void](`document.getElementById("bg-username") || document.querySelector('button[data-bank-id="TEST_AE_ALPHA"]').click()`),
				chromedp.WaitVisible(chromedp.CSS("#bg-username")),
				chromedp.Clear(chromedp.CSS("#bg-username")),
				chromedp.SendKeys(chromedp.CSS("#bg-username"), tc.user),
				chromedp.SendKeys(chromedp.CSS("#bg-password"), "pw"),
				chromedp.Click(chromedp.CSS("#bg-submit")),
			)
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`((document.getElementById("bg-error")||{}).textContent||"").includes(`+string(titleJSON)+`)`,
				chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				t.Fatalf("the error for %s never showed: %v", tc.user, err)
			}
			text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#bg-error")))
			if !strings.Contains(text, tc.msg) {
				t.Errorf("%s: error box says %q, want %q", tc.user, text, tc.msg)
			}
		}
	})

	t.Run("production lists no sandbox banks", func(t *testing.T) {
		must(t, ctx, "open", chromedp.Navigate(srv.URL+"/connect?appKey=key-web"), chromedp.WaitVisible(chromedp.CSS(`button[data-bank-id="LIVE_AE_BETA"]`)))
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("button.bank").length`)); n != 1 {
			t.Errorf("production lists %d banks, want the live one only", n)
		}
		// A colour that is not a colour is ignored.
		bg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".tile")).backgroundColor`))
		if bg != "rgb(52, 64, 84)" {
			t.Errorf("tile background %q, want the default", bg)
		}
		must(t, ctx, "empty", chromedp.Navigate(srv.URL+"/connect?appKey=key-empty&environment=production"), chromedp.WaitVisible(chromedp.CSS(".state h1")))
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".state")))
		if !strings.Contains(text, "No banks available") || !strings.Contains(text, "environment=sandbox") {
			t.Errorf("empty state says %q", text)
		}
		shot(t, ctx, "connect-production-empty")
	})
	if p := problems(); len(p) != 0 {
		t.Errorf("exceptions: %v", p)
	}
}
