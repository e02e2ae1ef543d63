package deploy

// deploy/nats-users.conf, the NATS users of the README's "NATS permissions": nats-server runs
// with it, every service with its own user, and everything the services do works with no
// permissions violation; what a user must not do (the gateway or a bot reading the clients
// bucket, where the tokens are; a reporter writing it; the gateway serving the API) is refused.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// natsUsers are the users of deploy/nats-users.conf, by the word in their name and password
// variable (openqq-session, OPENQQ_SESSION_PASSWORD).
var natsUsers = []string{"session", "gateway", "reporter", "poller", "bot", "admin"}

func TestNATSPermissions(t *testing.T) {
	needCluster(t)
	qqRecv := proctest.StartReceiver(t, proctest.ReceiverOptions{Respond: func(r *proctest.Request) proctest.Answer {
		// post_api's answer to one message: the reporter applies it (the answers bucket, the API).
		if m := r.JSON(); m != nil && m["content"] == "answer-me" {
			return proctest.Answer{ContentType: "application/json", Body: `{"reply":"收到"}`}
		}
		return proctest.Answer{}
	}})
	wxRecv := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	pollRecv := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	c := newCluster(t, retryEnv)
	c.env["WX_SIM_QRCODE_DIR"] = c.env["SIM_QRCODE_DIR"]

	// nats-server with the users: deploy/nats-users.conf next to a configuration that includes
	// it (nats-server includes relative to the including file).
	pw := map[string]string{}
	serverEnv := map[string]string{}
	for _, u := range natsUsers {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		pw[u] = hex.EncodeToString(b)
		serverEnv["OPENQQ_"+strings.ToUpper(u)+"_PASSWORD"] = pw[u]
	}
	users, err := os.ReadFile("nats-users.conf")
	if err != nil {
		t.Fatal(err)
	}
	confDir := filepath.Join(c.dir, "conf")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(confDir, "nats-users.conf"), users, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("host: 127.0.0.1\nport: %d\nhttp_port: %d\njetstream { store_dir: %q }\ninclude \"nats-users.conf\"\n",
		c.natsPort, c.natsHTTP, filepath.Join(c.dir, "nats"))
	if err := os.WriteFile(filepath.Join(confDir, "nats.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c.nats = c.start("nats", "nats-server", []string{"--config", filepath.Join(confDir, "nats.conf")}, serverEnv)
	c.waitHTTP(c.nats, fmt.Sprintf("http://127.0.0.1:%d/healthz", c.natsHTTP), 20*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", c.natsPort)
	c.natsURL = fmt.Sprintf("nats://openqq-admin:%s@%s", pw["admin"], addr) // the test's own connection

	as := func(user string, env map[string]string) map[string]string {
		out := map[string]string{"NATS_USER": "openqq-" + user, "NATS_PASSWORD": pw[user]}
		for k, v := range env {
			out[k] = v
		}
		return out
	}
	c.startService("session", "session", as("session", nil))
	c.startService("gateway", "gateway", as("gateway", map[string]string{"WX_SUBJECT_PREFIX": "wx"}))
	for i := 1; i <= 2; i++ {
		c.startService(fmt.Sprintf("reporter-%d", i), "reporter", as("reporter", map[string]string{"POST_API": qqRecv.URL, "POST_PARTITIONS": "2"}))
	}
	c.startService("poller", "poller", as("poller", map[string]string{"POLL_API": pollRecv.URL, "POLL_INTERVAL": "100ms"}))
	c.startService("session-wx", "session", as("session", wxServiceEnv()))
	c.startService("reporter-wx", "reporter", as("reporter", wxServiceEnv("POST_API", wxRecv.URL)))
	c.startService("poller-wx", "poller", as("poller", wxServiceEnv("POLL_API", pollRecv.URL, "POLL_INTERVAL", "100ms")))
	c.waitReady(30*time.Second, c.names()...)
	c.waitAPI(10 * time.Second)

	// ---- what the services do works ----

	in := &injector{nc: c.connect()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := in.injectRange(ctx, 0, 20, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := in.inject(ctx, "answer-me"); err != nil {
		t.Fatal(err)
	}
	// A QQ picture: the session stores it in the media store.
	r, err := proctest.Inject(in.nc, events.Injection{Type: events.FriendMessage, SenderID: 2372835507, Content: "看图",
		MediaData: "iVBORw0KGgo=", MediaName: "a.png", MediaMime: "image/png"}, 10*time.Second)
	if err != nil || r.Code != 0 {
		t.Fatalf("inject a picture: %+v %v", r, err)
	}
	ids := append(in.ids(), r.ID)
	// Every message at post_api, the answer applied: its send_message report comes too.
	if got, ok := qqRecv.Wait(30*time.Second, func(rs []proctest.Request) bool {
		seen := map[string]bool{}
		answered := false
		for _, r := range rs {
			if m := r.JSON(); m != nil {
				seen[fmt.Sprint(m["id"])] = true
				answered = answered || m["post_type"] == "send_message" && m["content"] == "收到"
			}
		}
		for _, id := range ids {
			if !seen[fmt.Sprint(id)] {
				return false
			}
		}
		return answered
	}); !ok {
		t.Errorf("post_api did not get the %d messages and the answer's report (%d requests)", len(ids), len(got))
	}

	for _, route := range []string{"openqq/check_event", "openqq/send_friend_message?id=2372835507&content=hi", "openwx/get_user_info", "console/reporters"} {
		url := fmt.Sprintf("http://127.0.0.1:%d/%s", c.httpPort, route)
		if status, body, _ := get(url, 10*time.Second); status != http.StatusOK {
			t.Errorf("GET /%s: %d %s", route, status, body)
		}
	}

	// WeChat: an image through session-wx's media store to reporter-wx, which reads it back.
	var friends []map[string]any
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/openwx/get_friend_info", c.httpPort), &friends)
	sender := ""
	for _, f := range friends {
		if id, _ := f["id"].(string); strings.HasPrefix(id, "@") && f["category"] == wx.CategoryFriend {
			sender = id
		}
	}
	inj, _ := json.Marshal(wx.Injection{Type: "friend_message", SenderID: sender, Format: "media",
		MediaType: "image", MediaName: "cat.png", MediaMime: "image/png", MediaData: []byte("\x89PNG\r\n\x1a\nperm")})
	msg, err := in.nc.Request("wx.sim.inject", inj, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var wrep wx.InjectReply
	if err := json.Unmarshal(msg.Data, &wrep); err != nil || wrep.Code != 0 {
		t.Fatalf("wx inject: %v %s", err, msg.Data)
	}
	if _, ok := wxRecv.Wait(20*time.Second, func(rs []proctest.Request) bool {
		for _, r := range rs {
			if m := r.JSON(); m != nil && m["id"] == wrep.ID && m["media_data"] != nil {
				return true
			}
		}
		return false
	}); !ok {
		t.Error("the WeChat image did not reach post_api with its media_data")
	}
	if _, ok := pollRecv.Wait(10*time.Second, func(rs []proctest.Request) bool { return len(rs) >= 2 }); !ok {
		t.Error("the pollers never asked POLL_API")
	}

	// Nothing was refused on the way.
	if c.nats.Contains("Violation") {
		t.Errorf("nats-server refused a service something:\n%s", grepLines(c.nats.Output(), "Violation", 20))
	}
	for _, n := range c.names() {
		if p := c.service(n); p.Contains("ermissions violation") || p.Contains("Authorization") {
			t.Errorf("%s:\n%s", n, grepLines(p.Output(), "ermission", 10))
		}
	}

	// ---- what they must not do is refused ----

	// A refused JetStream call is never answered: each one waits a few seconds at most.
	ctx = context.Background()
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		t.Cleanup(cancel)
		return c
	}

	// The clients bucket, with a token in an account's settings, as a session host stores it.
	const token = "s3cret-onebot-token"
	spec, _ := json.Marshal(events.ClientSpec{Client: "alice", Settings: map[string]string{"DRIVER": "onebot", "ONEBOT_ACCESS_TOKEN": token}})
	sess := dialAs(t, addr, "session", pw)
	kv, err := sess.js.CreateOrUpdateKeyValue(short(), jetstream.KeyValueConfig{Bucket: events.ClientsBucketName})
	if err != nil {
		t.Fatalf("the session user cannot create the clients bucket: %v", err)
	}
	if _, err := kv.Put(short(), "alice", spec); err != nil {
		t.Fatalf("the session user cannot write the clients bucket: %v", err)
	}
	// The reporter and the poller read it (each account's post_api and poll_api), never write.
	for _, u := range []string{"reporter", "poller"} {
		d := dialAs(t, addr, u, pw)
		e, err := d.kv(short(), events.ClientsBucketName).Get(short(), "alice")
		if err != nil || !strings.Contains(string(e.Value()), token) {
			t.Errorf("%s cannot read the clients bucket: %v", u, err)
		}
		if _, err := d.kv(short(), events.ClientsBucketName).Put(short(), "mallory", spec); err == nil {
			t.Errorf("%s could write the clients bucket", u)
		}
	}
	// The gateway and a bot cannot read it by any way: the bucket, the stream, a consumer.
	for _, u := range []string{"gateway", "bot"} {
		d := dialAs(t, addr, u, pw)
		if _, err := d.js.KeyValue(short(), events.ClientsBucketName); err == nil {
			t.Errorf("%s could open the clients bucket", u)
		}
		if m, err := d.nc.RequestWithContext(short(), "$JS.API.DIRECT.GET.KV_QQ_CLIENTS.$KV.QQ_CLIENTS.alice", nil); err == nil && strings.Contains(string(m.Data), token) {
			t.Errorf("%s read the token with a direct get", u)
		}
		if _, err := d.js.OrderedConsumer(short(), "KV_"+events.ClientsBucketName, jetstream.OrderedConsumerConfig{}); err == nil {
			t.Errorf("%s could consume the clients bucket's stream", u)
		}
		if !d.violated(5 * time.Second) {
			t.Errorf("%s: no permissions violation reported", u)
		}
	}
	// Nobody but the session serves the API or takes injections.
	for _, u := range []string{"gateway", "reporter", "poller", "bot"} {
		d := dialAs(t, addr, u, pw)
		if _, err := d.nc.Subscribe("qq.api.get_user_info", func(*nats.Msg) {}); err == nil {
			if !d.violated(5 * time.Second) {
				t.Errorf("%s could subscribe to qq.api.get_user_info", u)
			}
		}
	}
	bot := dialAs(t, addr, "bot", pw)
	_ = bot.nc.Publish(events.Subjects{Prefix: events.DefaultPrefix}.SimInject(), []byte(`{}`))
	if !bot.violated(5 * time.Second) {
		t.Error("a bot could publish to qq.sim.inject")
	}
}

// natsUser is a connection as one of deploy/nats-users.conf's users, which records the
// permissions violations the server reports to it.
type natsUser struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	violates chan struct{}
}

func dialAs(t *testing.T, addr, user string, pw map[string]string) *natsUser {
	t.Helper()
	u := &natsUser{violates: make(chan struct{}, 100)}
	nc, err := nats.Connect("nats://"+addr, nats.UserInfo("openqq-"+user, pw[user]), nats.Name("test-as-"+user),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				select {
				case u.violates <- struct{}{}:
				default:
				}
			}
		}))
	if err != nil {
		t.Fatalf("connect as openqq-%s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	u.nc = nc
	if u.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return u
}

// kv binds bucket without looking it up (its info may be refused while its keys are not).
func (u *natsUser) kv(ctx context.Context, bucket string) kvGetPut {
	kv, err := u.js.KeyValue(ctx, bucket)
	if err != nil {
		return brokenKV{err}
	}
	return kv
}

// violated waits up to timeout for a permissions violation.
func (u *natsUser) violated(timeout time.Duration) bool {
	select {
	case <-u.violates:
		return true
	case <-time.After(timeout):
		return false
	}
}

// kvGetPut is what the test does with a bucket.
type kvGetPut interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// brokenKV is a bucket that could not be bound: every call fails with why.
type brokenKV struct{ err error }

func (b brokenKV) Get(context.Context, string) (jetstream.KeyValueEntry, error) { return nil, b.err }
func (b brokenKV) Put(context.Context, string, []byte) (uint64, error)          { return 0, b.err }

// grepLines are up to n lines of s that contain sub.
func grepLines(s, sub string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
