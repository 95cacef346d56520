package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/local/emulator"
	"github.com/gatehouse/gatehouse/local/internal/syncbuf"
	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/internal/webpage"
	"github.com/gatehouse/gatehouse/local/twin"
)

// need fails under CI and skips elsewhere when a prerequisite is missing.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(what)
	}
	t.Skip(what)
}

// header reads a response header by name, whatever its case.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// servePage serves the built client with config as its config.json, on an
// origin of its own.
func servePage(t *testing.T, dist string, config map[string]string) string {
	t.Helper()
	files := webpage.Files(dist)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/config.json" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(config)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type atomicString struct {
	mu sync.Mutex
	s  string
}

func (a *atomicString) Store(s string) { a.mu.Lock(); a.s = s; a.mu.Unlock() }
func (a *atomicString) Load() string   { a.mu.Lock(); defer a.mu.Unlock(); return a.s }

// gatewayRequests lists "METHOD path status" of the gateway's access log
// lines.
func gatewayRequests(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		var e struct {
			Msg, Method, Path string
			Status            int
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "request" {
			out = append(out, fmt.Sprintf("%s %s %d", e.Method, e.Path, e.Status))
		}
	}
	return out
}

func contains(list []string, want string) bool {
	for _, x := range list {
		if x == want {
			return true
		}
	}
	return false
}

// buildCLI builds the gatehouse CLI, for the operator's part.
func buildCLI(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = filepath.Join(root, "client")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	return bin
}

// TestBrowserClient signs up in a real browser, calls the API from the
// page (cross-origin, so preflighted), reads the answers from the DOM,
// shows the user's roles and the admin call going from 403 to 200 once an
// operator sets the claim (gatehouse claims set) and the page refreshes
// the token,
// shows that a page from an origin the gateway does not allow is blocked
// by the browser, and that a signed-out call gets the gateway's 401. The
// page works within the Content-Security-Policy its server sends (no
// violation reported), refuses a gatewayUrl over plain http to another
// machine, and does not follow a gateway's redirect with the token.
func TestBrowserClient(t *testing.T) {
	start := time.Now()
	wd, _ := os.Getwd()
	root, err := testenv.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(root, ".cache", "web", "dist")
	_, statErr := os.Stat(filepath.Join(dist, "app.js"))
	need(t, statErr == nil, "the browser client is not built: run `make web` (part of make test)")
	chromium, lookErr := exec.LookPath("chromium")
	need(t, lookErr == nil, "Chromium is not installed: run local/browser/chromium.sh (part of make test)")

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var gwLog, childLog syncbuf.Buffer
	tw, err := twin.Start(ctx, twin.Config{RepoRoot: root, Emulator: true, Web: &twin.Web{Dir: dist},
		Log: &childLog, Logger: slog.New(slog.NewJSONHandler(&gwLog, nil))})
	if err != nil {
		t.Fatalf("start twin: %v\n%s", err, childLog.String())
	}
	defer tw.Stop()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	var mu sync.Mutex
	var preflights, corsBlocked, cspViolations []string
	requests := map[network.RequestID]string{}
	documents := map[string]network.Headers{} // the pages' response headers, by URL
	if err := chromedp.Listen(browser, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if strings.Contains(e.Entry.Text, "Content Security Policy") {
				cspViolations = append(cspViolations, e.Entry.Text)
			}
		case *network.EventResponseReceived:
			if e.Type == network.ResourceTypeDocument {
				documents[e.Response.URL] = e.Response.Headers
			}
		case *network.EventRequestWillBeSent:
			requests[e.RequestID] = e.Request.Method + " " + strings.TrimPrefix(e.Request.URL, tw.GatewayURL)
			if e.Type == network.ResourceTypePreflight || e.Request.Method == "OPTIONS" {
				preflights = append(preflights, e.Request.Method+" "+e.Request.URL)
			}
		case *network.EventLoadingFailed:
			if e.CorsErrorStatus != nil {
				corsBlocked = append(corsBlocked, fmt.Sprintf("%s %s", requests[e.RequestID], e.CorsErrorStatus.CorsError))
			}
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if _, err := chromedp.Call(browser, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the browser log: %v", err)
	}

	email, password := fmt.Sprintf("browser-%d@example.com", time.Now().UnixNano()), "correct horse battery"
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	signIn := func(button string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.WaitVisible(css(`#status[data-state="signed-out"]`)),
			chromedp.SendKeys(css("#email"), email),
			chromedp.SendKeys(css("#password"), password),
			chromedp.Click(css(button)),
			chromedp.WaitVisible(css(`#status[data-state="signed-in"]`)),
		)
	}
	text := func(sel string) (string, error) { return chromedp.Run(browser, chromedp.Text(css(sel))) }
	if err := chromedp.Do(browser, chromedp.Navigate(tw.WebURL), signIn("#signup")); err != nil {
		t.Fatalf("sign up: %v\ngateway log:\n%s", err, gwLog.String())
	}
	status, _ := text("#status")
	if err := chromedp.Do(browser, chromedp.Click(css("#hello")), chromedp.WaitVisible(css(`#result[data-status="200"]`))); err != nil {
		t.Fatalf("/v1/hello: %v\ngateway log:\n%s", err, gwLog.String())
	}
	hello, _ := text("#result")
	if err := chromedp.Do(browser, chromedp.Click(css("#me")), chromedp.WaitVisible(css(`#result[data-status="200"]`)), chromedp.Sleep(200*time.Millisecond)); err != nil {
		t.Fatalf("/v1/me: %v", err)
	}
	me, _ := text("#result")
	shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if status != "signed in as "+email {
		t.Errorf("status %q", status)
	}
	if !strings.Contains(hello, "200 OK") || !strings.Contains(hello, "Hello, "+email+"!") {
		t.Errorf("/v1/hello in the page: %q", hello)
	}
	if !strings.Contains(me, `"email": "`+email+`"`) || !strings.Contains(me, `"uid"`) {
		t.Errorf("/v1/me in the page: %q", me)
	}
	artifacts := filepath.Join(root, ".cache", "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(artifacts, "browser-signed-in.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the signed-in page: %s", png)

	// Roles: the page shows the token's roles (none yet) and the admin
	// call is refused (403, readable: the backend's answer carries CORS
	// headers); an operator sets the claim with the CLI; after Refresh
	// token the page shows admin and the same call answers 200.
	cli := buildCLI(t, root)
	if err := chromedp.Do(browser, chromedp.WaitVisible(css(`#roles[data-roles=""]`)),
		chromedp.Click(css("#admin")), chromedp.WaitVisible(css(`#result[data-status="403"]`))); err != nil {
		shown, _ := text("#roles")
		t.Fatalf("roles before any claim (shown %q) and the admin call: %v\ngateway log:\n%s", shown, err, gwLog.String())
	}
	noRoles, _ := text("#roles")
	refused, _ := text("#result")
	claimsSet := exec.Command(cli, "claims", "set", email, `{"roles":["admin"]}`)
	claimsSet.Env = []string{"FIREBASE_AUTH_EMULATOR_HOST=" + tw.AuthHost, "PATH=/usr/bin:/bin", "GATEHOUSE_CREDENTIALS=" + filepath.Join(t.TempDir(), "operator.json")}
	if out, err := claimsSet.CombinedOutput(); err != nil {
		t.Fatalf("gatehouse claims set: %v\n%s", err, out)
	}
	if err := chromedp.Do(browser, chromedp.Click(css("#refresh")), chromedp.WaitVisible(css(`#roles[data-roles="admin"]`)),
		chromedp.Click(css("#admin")), chromedp.WaitVisible(css(`#result[data-status="200"]`))); err != nil {
		shown, _ := text("#roles")
		result, _ := text("#result")
		t.Fatalf("after claims set and Refresh token (roles shown %q, result %q): %v", shown, result, err)
	}
	adminRoles, _ := text("#roles")
	admitted, _ := text("#result")
	if noRoles != "none" || adminRoles != "admin" {
		t.Errorf("roles shown: %q before the claim, %q after it and a refresh; want none, then admin", noRoles, adminRoles)
	}
	if !strings.Contains(refused, "403") || !strings.Contains(refused, "needs the role admin") {
		t.Errorf("admin call without the role shows %q, want the backend's 403", refused)
	}
	if !strings.Contains(admitted, "200 OK") || !strings.Contains(admitted, "You hold the admin role.") {
		t.Errorf("admin call with the role shows %q", admitted)
	}
	if shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(artifacts, "browser-admin.png"), shot, 0o644)
	}

	// The calls were cross-origin with an Authorization header: the browser
	// preflighted them, and the gateway passed the preflight on.
	reqs := gatewayRequests(gwLog.String())
	for _, want := range []string{"OPTIONS /v1/hello 204", "GET /v1/hello 200", "OPTIONS /v1/me 204", "GET /v1/me 200",
		"OPTIONS /v1/admin/hello 204", "GET /v1/admin/hello 403", "GET /v1/admin/hello 200"} {
		if !contains(reqs, want) {
			t.Errorf("the gateway saw no %s (it saw %v)", want, reqs)
		}
	}
	mu.Lock()
	for _, want := range []string{"OPTIONS " + tw.GatewayURL + "/v1/hello", "OPTIONS " + tw.GatewayURL + "/v1/me"} {
		if !contains(preflights, want) {
			t.Errorf("the browser reported no preflight %s (it reported %v)", want, preflights)
		}
	}
	mu.Unlock()

	// The same page from an origin the gateway does not allow (localhost is
	// another origin than 127.0.0.1): the browser blocks the call.
	other := strings.Replace(tw.WebURL, "127.0.0.1", "localhost", 1)
	if err := chromedp.Do(browser,
		chromedp.Navigate(other),
		signIn("#signin"),
		chromedp.Click(css("#hello")),
		chromedp.WaitVisible(css(`#result[data-status="network-error"]`)),
	); err != nil {
		t.Fatalf("disallowed origin: %v", err)
	}
	blocked, _ := text("#result")
	if !strings.Contains(blocked, "not in gatehouse:corsOrigins") {
		t.Errorf("blocked call shows %q", blocked)
	}

	// Signed out, the page calls without a token: the gateway's 401.
	if err := chromedp.Do(browser,
		chromedp.Navigate(tw.WebURL),
		chromedp.WaitVisible(css(`#status[data-state="signed-in"]`)),
		chromedp.Click(css("#signout")),
		chromedp.WaitVisible(css(`#status[data-state="signed-out"]`)),
		chromedp.Click(css("#hello")),
		chromedp.WaitVisible(css(`#result[data-status="network-error"]`)),
	); err != nil {
		t.Fatalf("signed out: %v", err)
	}
	signedOut, _ := text("#result")
	if !strings.Contains(signedOut, "without a token") {
		t.Errorf("signed-out call shows %q", signedOut)
	}
	// The gateway answered 401 (the browser saw the status, then hid the
	// body from the page: the reply has no CORS headers, as ESPv2's do not).
	if reqs := gatewayRequests(gwLog.String()); !contains(reqs, "GET /v1/hello 401") {
		t.Errorf("the gateway gave no 401 for the signed-out call: %v", reqs)
	}
	// The page as its server sends it: a Content-Security-Policy that no
	// other site may frame it under, which the page works within (no
	// violation reported while signing up, calling and signing out).
	mu.Lock()
	csp := header(documents[tw.WebURL+"/"], "Content-Security-Policy")
	violations := append([]string(nil), cspViolations...)
	mu.Unlock()
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "connect-src 'self' " + tw.GatewayURL} {
		if !strings.Contains(csp, want) {
			t.Errorf("the page's Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if len(violations) > 0 {
		t.Errorf("the page broke its Content-Security-Policy: %q", violations)
	}

	// A gatewayUrl over plain http to another machine: the page refuses it
	// (it would send the ID token in clear).
	insecure := servePage(t, dist, map[string]string{"apiKey": "emulator-any-key", "projectId": emulator.DefaultProject,
		"gatewayUrl": "http://gateway.example:8080", "authEmulatorHost": tw.AuthHost})
	stepCtx, cancelStep := context.WithTimeout(browser, 30*time.Second)
	err = chromedp.Do(stepCtx, chromedp.Navigate(insecure), chromedp.WaitVisible(css(`#status[data-state="error"]`)))
	cancelStep()
	if err != nil {
		shown, _ := text("#status")
		t.Fatalf("non-https gatewayUrl: %v (the page shows status %q)", err, shown)
	}
	if refused, _ := text("#status"); !strings.Contains(refused, "not https") {
		t.Errorf("non-https gatewayUrl: status %q", refused)
	}

	// A gateway that redirects: the page does not follow with the token.
	var stolen atomicString
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Headers", "authorization")
		switch {
		case r.Method == http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/v1/hello":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		default:
			carried := "without the token"
			if r.Header.Get("Authorization") != "" {
				carried = "with the token in Authorization" // the value is a secret: not logged
			}
			stolen.Store(r.Method + " " + r.URL.Path + " " + carried)
			_, _ = io.WriteString(w, `{"message":"followed"}`)
		}
	}))
	defer trap.Close()
	redirecting := servePage(t, dist, map[string]string{"apiKey": "emulator-any-key", "projectId": emulator.DefaultProject,
		"gatewayUrl": trap.URL, "authEmulatorHost": tw.AuthHost})
	stepCtx, cancelStep = context.WithTimeout(browser, 30*time.Second)
	err = chromedp.Do(stepCtx, chromedp.Navigate(redirecting), signIn("#signin"), chromedp.Click(css("#hello")),
		chromedp.WaitVisible(css(`#result[data-status="redirect"]`)))
	cancelStep()
	if s := stolen.Load(); s != "" {
		t.Errorf("the page followed the gateway's redirect with the token: %s", s)
	}
	if err != nil {
		shown, _ := text("#result")
		t.Fatalf("redirecting gateway: %v (the page shows %q)", err, shown)
	}

	mu.Lock()
	t.Logf("calls the browser blocked for CORS: %v", corsBlocked)
	if len(corsBlocked) < 2 {
		t.Errorf("the browser reported %d CORS blocks, want the disallowed origin's and the signed-out call's: %v", len(corsBlocked), corsBlocked)
	}
	mu.Unlock()
	t.Logf("browser test wall time: %v", time.Since(start).Round(100*time.Millisecond))
}
