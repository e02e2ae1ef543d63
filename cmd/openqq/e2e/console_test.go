package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
)

// browser starts headless Chromium (Debian's, which `make test` installs) for one test. Without
// Chromium the test is skipped, except in CI, where that is a failure. A skip is also written to
// the file OPENQQ_SKIPPED names, so that `make test` can say so out loud: a skipped suite
// looks green.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not installed: `make test` installs it (make browser)")
		}
		recordSkip(t, "chromium not installed")
		t.Skip("chromium not installed; `make browser` installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// screenshot saves what the browser shows, as the test's artifact.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("OPENQQ_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "openqq-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// textOf reads an element's text.
func textOf(ctx context.Context, sel string) (string, error) {
	return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	var got string
	var seen []string // each text and error seen, when it was first seen: the story of a failure
	for time.Now().Before(deadline) {
		var err error
		got, err = textOf(ctx, sel)
		if err == nil && strings.Contains(got, want) {
			return
		}
		now := fmt.Sprintf("%q %v", got, err)
		if len(seen) == 0 || !strings.HasSuffix(seen[len(seen)-1], now) {
			seen = append(seen, fmt.Sprintf("%.2fs: %s", time.Since(start).Seconds(), now))
		}
		time.Sleep(50 * time.Millisecond)
	}
	screenshot(t, ctx, "failure-"+strings.ReplaceAll(t.Name(), "/", "_"))
	t.Fatalf("%s never showed %q; it shows %.300q; seen: %s", sel, want, got, strings.Join(seen, "; "))
}

// The console in a real browser: the client running, an injected message appearing live, a
// message sent with the form appearing as its send_message event.
func TestConsoleInBrowser(t *testing.T) {
	ctx := browser(t)
	e := start(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#state", "running")
	waitText(t, ctx, "#account", "小灰")
	waitText(t, ctx, "#groups", "PERL学习交流")

	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	in := "浏览器里看见我了吗 " + tag
	if r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: perlMemberID, Content: in}); r.Code != 0 {
		t.Fatalf("inject: %+v", r)
	}
	waitText(t, ctx, "#events", in)

	out := "来自控制台的问候 " + tag
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#kind"), "group"),
		chromedp.SetValue(chromedp.CSS("#target"), strconv.Itoa(perlGroupID)),
		chromedp.SendKeys(chromedp.CSS("#content"), out),
		chromedp.Click(chromedp.CSS("#send-button")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#send-result", "已发送")
	waitText(t, ctx, "#events", "我 → [PERL学习交流] "+out)
	screenshot(t, ctx, "console")
}

// During a slow login the console shows the QR code, and hides it once logged in.
func TestConsoleShowsQRDuringLogin(t *testing.T) {
	ctx := browser(t)
	// The browser first: it takes seconds to start, and the login must still be waiting.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	// Each login state lasts 5 s: the page must load and show scaning within that, on a CI
	// machine busy with every other test package (2 s was too short there).
	e := start(t, func(s *session.Config, _ *gateway.Config) { simConfig(s).LoginDelay = 5 * time.Second })
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#state", "scaning")
	var src string
	var visible bool
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !(visible && strings.HasPrefix(src, "data:image/png;base64,")) {
		visible, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("qr").hidden`))
		src, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("qrimg").src`))
		time.Sleep(50 * time.Millisecond)
	}
	if !visible || !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("QR view visible=%v src=%.40q", visible, src)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("qrimg").naturalWidth`))
	if err != nil || width == 0 {
		t.Fatalf("the QR image does not decode: width %d, %v", width, err)
	}
	screenshot(t, ctx, "console-qr")
	waitText(t, ctx, "#state", "running")
	deadline = time.Now().Add(5 * time.Second)
	hidden := false
	for time.Now().Before(deadline) && !hidden {
		hidden, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("qr").hidden`))
		time.Sleep(50 * time.Millisecond)
	}
	if !hidden {
		t.Fatalf("the QR view is still shown after login (%v)", err)
	}
}

// recordSkip appends a line for this test to the file OPENQQ_SKIPPED names (make test's list
// of skipped suites), if any.
func recordSkip(t *testing.T, why string) {
	t.Helper()
	path := os.Getenv("OPENQQ_SKIPPED")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Logf("recording the skip in %s: %v", path, err)
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintf(f, "%s: %s\n", t.Name(), why)
}

// With ACCESS_TOKEN the console asks for the token, keeps it in memory only (not in the
// address bar, not in storage, not in a cookie the page can read), and its event stream
// authenticates with the gateway's HttpOnly cookie.
func TestConsoleWithToken(t *testing.T) {
	ctx := browser(t)
	const token = "t0ken-e2e"
	e := start(t, func(s *session.Config, g *gateway.Config) {
		g.AccessToken = token
		simConfig(s).LoginDelay = time.Millisecond // start does not wait for running: it has no token
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#login-button"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#state", "running")
	waitText(t, ctx, "#conn", "●")
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	in := "令牌之后的消息 " + tag
	if r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: perlMemberID, Content: in}); r.Code != 0 {
		t.Fatalf("inject: %+v", r)
	}
	waitText(t, ctx, "#events", in)
	checkTokenNowhere(t, ctx, token)

	// Given once in the address, it leaves the address bar at once.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/?access_token="+url.QueryEscape(token))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#state", "running")
	checkTokenNowhere(t, ctx, token)
}

// checkTokenNowhere fails if the page shows the token in its address, keeps it in storage, or
// can read it from a cookie.
func checkTokenNowhere(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	read := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	href := read(`location.href`)
	cookies := read(`document.cookie`)
	stored := read(`JSON.stringify(Object.assign({}, localStorage, sessionStorage))`)
	for what, v := range map[string]string{"address": href, "readable cookies": cookies, "storage": stored} {
		if strings.Contains(v, token) || strings.Contains(v, url.QueryEscape(token)) || strings.Contains(v, "access_token") {
			t.Errorf("the token is in the %s: %q", what, v)
		}
	}
	if strings.Contains(cookies, "openqq_console") {
		t.Errorf("the session cookie is readable by the page: %q", cookies)
	}
}
