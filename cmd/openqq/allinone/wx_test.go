package allinone

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events/wx"
	envcfg "github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
)

// configBoth is config with the WeChat account on too, as `make run` has it.
func configBoth(t *testing.T) Config {
	cfg := config(t)
	cfg.WX.Enabled = true
	cfg.WX.Session.Account = "wxbot"
	cfg.WX.Session.ControlDelay = 100 * time.Millisecond
	cfg.WX.Session.DriverConfig = &wxsim.Config{QRCodeDir: t.TempDir()}
	return cfg
}

// runBoth is one Run in the background, with every address it listens on.
type runBoth struct {
	*running
	addrs Addrs
}

// start runs cfg and waits until it listens.
func start(t *testing.T, cfg Config) *runBoth {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	r := &running{t: t, cancel: cancel, done: make(chan error, 1), client: &http.Client{Timeout: 10 * time.Second}}
	cfg.Ready = func(a Addrs) { ready <- a }
	go func() { r.done <- Run(ctx, cfg, natstest.Logger(t)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("Run still running 15s after the test")
		}
	})
	var a Addrs
	select {
	case a = <-ready:
	case err := <-r.done:
		r.done <- err // for the cleanup
		t.Fatalf("Run returned %v before it was ready", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run not ready within 10s")
	}
	r.base = "http://" + a.HTTP.String() + "/openqq/"
	return &runBoth{running: r, addrs: a}
}

// wx is the same run seen through /openwx/.
func (b *runBoth) wx() *running {
	w := *b.running
	w.base = strings.Replace(w.base, "/openqq/", "/openwx/", 1)
	return &w
}

// getJSON calls url and decodes its JSON reply into v.
func getJSON(t *testing.T, c *http.Client, url string, v any) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
	return resp.StatusCode
}

// Both accounts come up in one process: /openqq and /openwx answer on every address of
// HTTP_ADDR, and /readyz waits for both clients.
func TestBothAccounts(t *testing.T) {
	t.Parallel()
	cfg := configBoth(t)
	cfg.Gateway.Addr = freeAddr(t) + "," + freeAddr(t)
	b := start(t, cfg)
	b.waitRunning()
	b.wx().waitRunning()
	if len(b.addrs.HTTPAll) != 2 {
		t.Fatalf("listening on %v, want two addresses", b.addrs.HTTPAll)
	}
	for _, addr := range b.addrs.HTTPAll {
		base := "http://" + addr.String()
		var user map[string]any
		if code := getJSON(t, b.client, base+"/openqq/get_user_info", &user); code != 200 || user["id"] != float64(4072574066) {
			t.Errorf("%s /openqq/get_user_info: %d %v", addr, code, user)
		}
		var friends []map[string]any
		if code := getJSON(t, b.client, base+"/openwx/get_friend_info", &friends); code != 200 || len(friends) == 0 {
			t.Fatalf("%s /openwx/get_friend_info: %d %v", addr, code, friends)
		}
		for _, f := range friends {
			id, _ := f["id"].(string)
			if id == "" || f["displayname"] == nil {
				t.Errorf("%s /openwx/get_friend_info: a friend without a string id or displayname: %v", addr, f)
			}
		}
		var info map[string]any
		if code := getJSON(t, b.client, base+"/openwx/get_client_info", &info); code != 200 || info["account"] != "wxbot" {
			t.Errorf("%s /openwx/get_client_info: %d %v", addr, code, info)
		}
		var ready map[string]any
		if code := getJSON(t, b.client, base+"/readyz", &ready); code != 200 {
			t.Errorf("%s /readyz: %d %v", addr, code, ready)
		}
	}
}

// WX_ENABLED=false runs QQ alone: no WeChat session answers.
func TestWXDisabled(t *testing.T) {
	t.Parallel()
	cfg := configBoth(t)
	cfg.WX.Enabled = false
	b := start(t, cfg)
	b.waitRunning()
	var m map[string]any
	if code := getJSON(t, b.client, b.wx().base+"get_client_info", &m); code == 200 && m["account"] == "wxbot" {
		t.Fatalf("/openwx/get_client_info answered by a WeChat client with WX_ENABLED=false: %d %v", code, m)
	}
	// Nothing serves the WeChat API on NATS.
	nc := dial(t, b.addrs.NATS)
	if _, err := nc.Request("wx.api.get_client_info", nil, 2*time.Second); err == nil {
		t.Fatal("wx.api.get_client_info answered with WX_ENABLED=false")
	}
}

// stop_client on the WeChat account stops it alone: QQ still answers, /readyz says the WeChat
// client is not ready; stopping QQ then ends the run.
func TestStopWXOnly(t *testing.T) {
	t.Parallel()
	b := start(t, configBoth(t))
	b.waitRunning()
	w := b.wx()
	w.waitRunning()
	if code, m := w.get("stop_client"); code != 200 || m["code"] != float64(0) {
		t.Fatalf("/openwx/stop_client: %d %v", code, m)
	}
	nc := dial(t, b.addrs.NATS)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The WeChat service is gone from NATS once its session has returned.
		if _, err := nc.Request("wx.api.get_client_info", nil, time.Second); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the WeChat session still answers 10s after its stop_client")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-b.done:
		t.Fatalf("the run ended (%v) when only the WeChat client was stopped", err)
	default:
	}
	if code, user := b.get("get_user_info"); code != 200 || user["id"] != float64(4072574066) {
		t.Fatalf("QQ after WeChat's stop: %d %v", code, user)
	}
	var ready map[string]any
	if code := getJSON(t, b.client, "http://"+b.addrs.HTTP.String()+"/readyz", &ready); code == 200 {
		t.Errorf("/readyz: 200 %v with the WeChat client stopped", ready)
	}
	if code, m := b.get("stop_client"); code != 200 || m["code"] != float64(0) {
		t.Fatalf("/openqq/stop_client: %d %v", code, m)
	}
	if err := b.waitReturn(10 * time.Second); err != nil {
		t.Errorf("Run returned %v once every client stopped, want nil", err)
	}
}

// A WeChat message with an image injected on wx.sim.inject reaches WX_POST_API with its bytes
// in media_data; QQ's POST_API gets nothing of WeChat's.
func TestWXInjectedImageReachesPostAPI(t *testing.T) {
	t.Parallel()
	wxRecv := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	qqRecv := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	cfg := configBoth(t)
	cfg.Reporter.PostAPI = []string{qqRecv.URL}
	cfg.WX.Reporter.PostAPI = []string{wxRecv.URL}
	cfg.WX.Reporter.PostMediaData = true
	b := start(t, cfg)
	w := b.wx()
	w.waitRunning()
	var friends []map[string]any
	if code := getJSON(t, b.client, w.base+"get_friend_info", &friends); code != 200 {
		t.Fatalf("get_friend_info: %d", code)
	}
	var sender string
	for _, f := range friends {
		if id, _ := f["id"].(string); strings.HasPrefix(id, "@") && f["category"] == wx.CategoryFriend {
			sender = id
			break
		}
	}
	if sender == "" {
		t.Fatalf("no friend with an @ id in %v", friends)
	}
	img := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("openwx"), 1000)...)
	inj, err := json.Marshal(wx.Injection{Type: "friend_message", SenderID: sender, Format: "media",
		MediaType: "image", MediaName: "cat.png", MediaMime: "image/png", MediaData: img})
	if err != nil {
		t.Fatal(err)
	}
	nc := dial(t, b.addrs.NATS)
	msg, err := nc.Request("wx.sim.inject", inj, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep wx.InjectReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Code != 0 || rep.ID == "" {
		t.Fatalf("inject: %v %s", err, msg.Data)
	}
	got, ok := wxRecv.Wait(10*time.Second, func(rs []proctest.Request) bool {
		for _, r := range rs {
			if m := r.JSON(); m != nil && m["id"] == rep.ID {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("the injected image did not reach WX_POST_API; got %d requests", len(got))
	}
	for _, r := range got {
		m := r.JSON()
		if m == nil || m["id"] != rep.ID {
			continue
		}
		if m["post_type"] != "receive_message" || m["format"] != "media" || m["media_type"] != "image" || m["sender_id"] != sender {
			t.Errorf("report: %v", m)
		}
		b64, _ := m["media_data"].(string)
		data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(b64, "\n", ""))
		if err != nil || !bytes.Equal(data, img) {
			t.Errorf("media_data: %d bytes (%v), want the %d injected", len(data), err, len(img))
		}
	}
	for _, r := range qqRecv.Requests() {
		if m := r.JSON(); m != nil && m["id"] == rep.ID {
			t.Errorf("QQ's POST_API got WeChat's message: %v", m)
		}
	}
}

// The WeChat account's variables are WX_-prefixed and never QQ's: POST_API alone starts no
// WeChat reporter, WX_SUBJECT_PREFIX moves the session and the gateway's /openwx together.
func TestWXConfigFromEnv(t *testing.T) {
	t.Setenv("POST_API", "http://127.0.0.1:1/qq")
	t.Setenv("ACCOUNT", "qqbot")
	t.Setenv("WX_ACCOUNT", "wxbot")
	t.Setenv("WX_SUBJECT_PREFIX", "wx2")
	var cfg Config
	for _, s := range cfg.Specs() {
		if err := envcfg.ProcessSpec(s); err != nil {
			t.Fatal(err)
		}
	}
	if !cfg.WX.Enabled {
		t.Fatal("WX_ENABLED defaults to false")
	}
	cfg.qqAccount()
	if err := cfg.wxAccount(); err != nil {
		t.Fatal(err)
	}
	if cfg.WX.Reporter.Enabled() || cfg.WX.Session.Account != "wxbot" || cfg.Session.Account != "qqbot" {
		t.Errorf("WX reporter enabled %v, accounts %q, %q", cfg.WX.Reporter.Enabled(), cfg.WX.Session.Account, cfg.Session.Account)
	}
	if cfg.WX.Session.SubjectPrefix != "wx2" || cfg.Gateway.WxSubjectPrefix != "wx2" || cfg.WX.Reporter.SubjectPrefix != "wx2" || cfg.WX.Poller.SubjectPrefix != "wx2" {
		t.Errorf("prefixes: session %q gateway %q reporter %q poller %q", cfg.WX.Session.SubjectPrefix, cfg.Gateway.WxSubjectPrefix, cfg.WX.Reporter.SubjectPrefix, cfg.WX.Poller.SubjectPrefix)
	}
	if cfg.WX.Session.Platform != "wx" || cfg.WX.Reporter.Platform != "wx" || cfg.WX.Poller.Platform != "wx" || cfg.Session.Platform != "qq" {
		t.Errorf("platforms: %q %q %q, QQ's %q", cfg.WX.Session.Platform, cfg.WX.Reporter.Platform, cfg.WX.Poller.Platform, cfg.Session.Platform)
	}
	t.Setenv("WX_ENABLED", "false")
	cfg = Config{}
	for _, s := range cfg.Specs() {
		if err := envcfg.ProcessSpec(s); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.WX.Enabled {
		t.Error("WX_ENABLED=false: enabled")
	}
}

// dial connects to the run's NATS server.
func dial(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// freeAddr is a loopback address with a port free a moment ago (HTTP_ADDR refuses the same
// address twice, so two ":0" cannot be listed).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// --help lists the WeChat account's variables: every session, reporter and poller setting
// with WX_, but for those the all-in-one sets itself (its platform, the media store, QQ's rate
// limit).
func TestWXVariablesListed(t *testing.T) {
	var cfg Config
	listed := map[string]bool{}
	for _, s := range cfg.Specs() {
		if p, ok := s.(envcfg.Prefixed); ok {
			for _, k := range p.Keys() {
				listed[k] = true
			}
		}
	}
	for _, k := range []string{"WX_ENABLED", "WX_ACCOUNT", "WX_DRIVER", "WX_SUBJECT_PREFIX", "WX_CONSULT_MAX", "WX_POST_API", "WX_POST_EVENT_LIST",
		"WX_POST_STDOUT", "WX_POST_MEDIA_DATA", "WX_POST_PARTITIONS", "WX_POLL_API", "WX_POLL_INTERVAL", "WX_STREAM_MAX_AGE"} {
		if !listed[k] {
			t.Errorf("%s not listed", k)
		}
	}
	for _, k := range []string{"WX_PLATFORM", "WX_MEDIA_MAX_BYTES", "WX_SEND_INTERVAL", "WX_LOG_LEVEL"} {
		if listed[k] {
			t.Errorf("%s listed: the all-in-one sets it itself", k)
		}
	}
}

// DRIVER=wechaty make run: a WeChat driver named by DRIVER is the WeChat account's.
func TestWXDriverFromDRIVER(t *testing.T) {
	tests := []struct {
		name               string
		driver, wxDriver   string
		wxEnabled          bool
		wantQQ, wantWX     string
		wantMoved, wantErr bool
	}{
		{"a QQ driver stays QQ's", "onebot", "sim", true, "onebot", "sim", false, false},
		{"sim is both platforms': QQ's", "sim", "sim", true, "sim", "sim", false, false},
		{"a WeChat driver goes to WeChat", "wechaty", "sim", true, "sim", "wechaty", true, false},
		{"WX_DRIVER unset", "ilink", "", true, "sim", "ilink", true, false},
		{"WX_DRIVER names another", "wechaty", "ilink", true, "", "", false, true},
		{"no WeChat account", "wechaty", "sim", false, "", "", false, true},
		{"unknown everywhere: the session says so", "icq", "sim", true, "icq", "sim", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg Config
			cfg.Session.Driver, cfg.WX.Session.Driver, cfg.WX.Enabled = tt.driver, tt.wxDriver, tt.wxEnabled
			moved, err := cfg.wxDriverFromDRIVER()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if moved != tt.wantMoved || cfg.Session.Driver != tt.wantQQ || cfg.WX.Session.Driver != tt.wantWX {
				t.Errorf("moved %v, QQ %q, WeChat %q; want %v, %q, %q", moved, cfg.Session.Driver, cfg.WX.Session.Driver, tt.wantMoved, tt.wantQQ, tt.wantWX)
			}
		})
	}
}
