package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/controller"
	"github.com/openqq/openqq/services/session/host"
	// Every driver the binaries offer: start_client opens the account's to check its settings.
	_ "github.com/openqq/openqq/services/session/drivers"
)

// accountHost is the id of the test's session host.
const accountHost = "e2e-host"

// startAccounts is start with what serves the accounts of a deployment: for each platform the
// Controller, as every session host serves it, and a session host (services/session/host)
// that runs the accounts the clients bucket holds and keeps their leases. The default account
// is start's own session, as before.
func startAccounts(t *testing.T, opts ...option) *env {
	t.Helper()
	e := start(t, opts...)
	serve := func(what string, run func(context.Context) error) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx) }()
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", what, err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("%s did not stop within 15s", what)
			}
		})
	}
	for _, platform := range []string{"qq", "wx"} {
		c, err := controller.New(natstest.Connect(t, e.srv),
			controller.Config{Session: session.Config{Platform: platform}, Host: accountHost}, natstest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		serve("controller "+platform, c.Serve)
		select {
		case <-c.Ready():
		case <-time.After(15 * time.Second):
			t.Fatalf("controller %s not ready", platform)
		}
	}
	base := session.Config{SubjectPrefix: "qq", Driver: "sim", DriverTimeout: 5 * time.Second, ControlDelay: 200 * time.Millisecond}
	h, err := host.New(natstest.Connect(t, e.srv), base, host.Config{ID: accountHost, DefaultClient: host.Off}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	serve("session host", h.Run)
	return e
}

// waitClientState polls get_client_info?client= until the account is in state st.
func (e *env) waitClientState(client string, st events.State) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var info events.ClientInfo
	for time.Now().Before(deadline) {
		if code, _ := e.getJSON("get_client_info", q("client", client), &info); code == 200 && info.State == st {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("%s not %s after 10s: %+v", client, st, info)
}

// controllerReply is the fields of a Controller reply the tests read.
type controllerReply struct {
	Code   int              `json:"code"`
	Status string           `json:"status"`
	Client json.RawMessage  `json:"client"`
	List   []map[string]any `json:"-"`
}

func (e *env) controller(api, route string, params url.Values) (int, controllerReply, []byte) {
	e.t.Helper()
	e.api = api
	defer func() { e.api = "" }()
	code, body := e.get(route, params)
	var r controllerReply
	if err := json.Unmarshal(body, &r); err != nil {
		e.t.Fatalf("%s%s: %s (%v)", api, route, body, err)
	}
	if route == events.RouteCheckClient && r.Code == 0 {
		if err := json.Unmarshal(r.Client, &r.List); err != nil {
			e.t.Fatalf("check_client: %s (%v)", body, err)
		}
	}
	return code, r, body
}

// clientsOf names the accounts of a check_client reply.
func clientsOf(r controllerReply) []string {
	var out []string
	for _, c := range r.List {
		if s, ok := c["client"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// The Controller's routes through the gateway, against the real Controller and a real session
// host, and client= routing to the named accounts it runs: start_client stores an account with
// its settings, the host runs it, its session answers the routes with client=, check_event with
// client= long-polls it alone, check_client lists it, stop_client removes it; a name nobody
// started is Mojo's "client not exists"; a bad name -7; the default account is untouched
// throughout.
func TestAccountsThroughGateway(t *testing.T) {
	const hold = 300 * time.Millisecond
	e := startAccounts(t, ceHold(hold))
	const qqAPI, wxAPI = "/openqq/", "/openwx/"

	code, r, body := e.controller(qqAPI, "start_client", q("client", "alice", "driver", "sim",
		"check_event_hold", hold.String(), "post_event", "1", "post_event_list", strings.Join(events.DefaultPostEventList, ",")))
	if code != 200 || r.Code != 0 || r.Status != "success" {
		t.Fatalf("start_client: %d %s", code, body)
	}
	if _, r, body = e.controller(qqAPI, "start_client", q("client", "alice", "driver", "sim")); r.Code != 0 || r.Status != events.StatusClientExists {
		t.Errorf("start_client again: %s", body)
	}
	e.waitClientState("alice", events.StateRunning)
	var info events.ClientInfo
	e.getJSON("get_client_info", q("client", "alice"), &info)
	if info.Account != "alice" {
		t.Errorf("get_client_info?client=alice: account %q", info.Account)
	}
	e.getJSON("get_client_info", nil, &info)
	if info.Account != "default" {
		t.Errorf("get_client_info: account %q, want the default account's", info.Account)
	}

	// An item of alice's reaches check_event?client=alice, not the default account's.
	in, _ := json.Marshal(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: friendID, Content: "to alice"})
	if _, err := e.nc.Request(events.Subjects{Client: "alice"}.SimInject(), in, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := e.get("check_event", q("client", "alice"))
		if bytes.Contains(body, []byte("to alice")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("check_event?client=alice never got alice's message: %s", body)
		}
	}
	if _, body := e.get("check_event", nil); bytes.Contains(body, []byte("to alice")) {
		t.Errorf("the default account's check_event got alice's message: %s", body)
	}

	// Names nobody started, names that are no name.
	if code, body := e.get("get_user_info", q("client", "ghost")); code != 200 || !bytes.Equal(body, events.MustMarshal(events.ErrClientNotExists)) {
		t.Errorf("client=ghost: %d %s", code, body)
	}
	if code, body := e.get("get_user_info", q("client", "a.b")); code != 400 || !bytes.Equal(body, events.MustMarshal(events.ErrBadClient("a.b"))) {
		t.Errorf("client=a.b: %d %s", code, body)
	}
	if _, r, body := e.controller(qqAPI, "start_client", nil); r.Code != events.CodeClient || r.Status != events.ErrClientNotFound.Status {
		t.Errorf("start_client without client: %s", body)
	}

	// A secret setting is stored, and never echoed.
	const secret = "e2e-onebot-s3cret"
	_, r, body = e.controller(qqAPI, "start_client", q("client", "bot1", "driver", "onebot", "onebot_url", "ws://127.0.0.1:9", "onebot_access_token", secret))
	if r.Code != 0 || bytes.Contains(body, []byte(secret)) {
		t.Errorf("start_client with a token: %s", body)
	}

	// Openwx's Controller is its own: its accounts, its list.
	if _, r, body := e.controller(wxAPI, "start_client", q("client", "w1", "driver", "sim")); r.Code != 0 {
		t.Errorf("/openwx/start_client: %s", body)
	}
	_, r, _ = e.controller(qqAPI, "check_client", nil)
	if got := strings.Join(clientsOf(r), ","); !strings.Contains(got, "alice") || !strings.Contains(got, "bot1") || strings.Contains(got, "w1") {
		t.Errorf("/openqq/check_client lists %s", got)
	}
	_, r, _ = e.controller(wxAPI, "check_client", nil)
	if got := strings.Join(clientsOf(r), ","); got != "w1" {
		t.Errorf("/openwx/check_client lists %s, want w1", got)
	}

	// GET only.
	req := e.newRequest(http.MethodPost, "start_client", q("client", "carol"), nil)
	if code, body := e.do(req); code != http.StatusForbidden || !bytes.Equal(body, events.MustMarshal(events.ErrAPINotFound)) {
		t.Errorf("POST start_client: %d %s", code, body)
	}

	// stop_client?client= is the Controller's; the account is gone from the list.
	if _, r, body := e.controller(qqAPI, "stop_client", q("client", "alice")); r.Code != 0 || r.Status != "success" {
		t.Errorf("stop_client?client=alice: %s", body)
	}
	if _, r, body := e.controller(qqAPI, "check_client", q("client", "alice")); r.Code != events.CodeClient || r.Status != events.ErrClientNotExists.Status {
		t.Errorf("check_client?client=alice after the stop: %s", body)
	}
	// The default account never moved.
	e.waitState(events.StateRunning)
}

// get_qrcode through the gateway: the Controller asks the engine of the account waiting for a
// scan, and the gateway answers its image's bytes as they came (Mojo's type, no-cache); 404
// and no body for an account with none.
func TestAccountQRCode(t *testing.T) {
	e := startAccounts(t)
	if _, r, body := e.controller("/openqq/", "start_client", q("client", "qrw", "driver", "sim", "sim_login_delay", "30s")); r.Code != 0 {
		t.Fatalf("start_client: %s", body)
	}
	e.waitClientState("qrw", events.StateScaning)
	get := func(client string) (*http.Response, []byte) {
		resp, err := e.http.Get(e.base + "/openqq/get_qrcode?client=" + client)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, img := get("qrw")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Cache-Control") != "no-cache" ||
		!bytes.HasPrefix(img, []byte("\x89PNG")) {
		t.Errorf("get_qrcode?client=qrw: %d %q %q %.8q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), img)
	}
	if _, r, body := e.controller("/openqq/", "start_client", q("client", "idle", "driver", "sim")); r.Code != 0 {
		t.Fatalf("start_client: %s", body)
	}
	e.waitClientState("idle", events.StateRunning)
	if resp, b := get("idle"); resp.StatusCode != http.StatusNotFound || len(b) != 0 {
		t.Errorf("get_qrcode of an account logged in: %d %q", resp.StatusCode, b)
	}
}

// The console's accounts in a real browser, against the real Controller: an account started
// from the form is listed, with its state and, once its host runs it, the host's name and its
// QR code while it waits for a scan; its stop button stops it and it leaves the list.
func TestConsoleAccounts(t *testing.T) {
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	e := startAccounts(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	waitEval(t, ctx, `!document.getElementById("accounts-panel").hidden`)
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#start-platform"), "qq"),
		chromedp.SendKeys(chromedp.CSS("#start-client"), "carol"),
		chromedp.SetValue(chromedp.CSS("#start-settings"), "driver=sim\nsim_login_delay=30s"),
		chromedp.Click(chromedp.CSS("#start-button")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#start-result", "已启动 carol")
	waitText(t, ctx, "#accounts", "carol")
	// Its host takes it: the console shows where it runs, and its QR code while it waits.
	waitText(t, ctx, `#accounts tr[data-client="qq/carol"]`, accountHost)
	waitText(t, ctx, `#accounts tr[data-client="qq/carol"]`, "scaning")
	waitEval(t, ctx, `(document.querySelector('#account-qrs figure[data-client="qq/carol"] img') || {}).naturalWidth > 0`)
	screenshot(t, ctx, "console-accounts")

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#accounts tr[data-client="qq/carol"] button.stop`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#start-result", "已停止 carol")
	waitEval(t, ctx, `!document.querySelector('#accounts tr[data-client="qq/carol"]')`)
	if _, r, body := e.controller("/openqq/", "check_client", q("client", "carol")); r.Code != events.CodeClient {
		t.Errorf("check_client?client=carol after the console stopped it: %s", body)
	}
}

// waitEval waits until the JavaScript expression is true in the page.
func waitEval(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	screenshot(t, ctx, "failure-"+strings.ReplaceAll(t.Name(), "/", "_"))
	t.Fatalf("never true: %s", expr)
}
