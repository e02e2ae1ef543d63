package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// Shared helpers of the themed e2e tests (routes, send, admin, events, client, http).

// More ids of the default roster.
const (
	friend2ID        = 2372843426 // 邵秀兰: a friend without markname, admin of openqq开发组
	friend2UID       = 456920
	devGroupUID      = 67891
	hikeGroupUID     = 67892
	perlOwnerUID     = 456789 + 16*131
	perlCardedID     = 2373025563 // 邱涛, card 测试-邱涛, a plain member of PERL学习交流
	perlCardedUID    = 459933
	devMemberID      = 2372851345 // 金敏, card 老司机-金敏, a plain member of openqq开发组
	devMemberUID     = 457051
	devMember2ID     = 2372859264 // 董涛, card 运维-董涛, a plain member of openqq开发组
	hikeOwnerID      = 2375527967
	hikeMemberID     = 2375543805 // 邵勇, a plain member of 周末爬山群
	discussMemberID  = 2375995188 // 魏雨桐: in 周末聚餐 only
	discussMemberUID = 509058
)

// with returns a copy of e whose helpers report to t (a subtest): a helper must never call
// FailNow on a parent test from a subtest's goroutine.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// with returns a view of the same items that reports to t.
func (it *items) with(t *testing.T) *items { return &items{t: t, ch: it.ch} }

// via is how a call carries its parameters.
type via string

const (
	viaGET  via = "GET"
	viaForm via = "POST form"
	viaJSON via = "POST JSON"
)

var vias = []via{viaGET, viaForm, viaJSON}

// call calls route with the key/value pairs kv, carried as v says (JSON: every value a string).
func (e *env) call(v via, route string, kv ...string) (int, []byte) {
	e.t.Helper()
	p := q(kv...)
	switch v {
	case viaGET:
		return e.get(route, p)
	case viaForm:
		return e.postForm(route, p)
	default:
		m := map[string]string{}
		for k := range p {
			m[k] = p.Get(k)
		}
		return e.postJSON(route, m)
	}
}

// raw sends req and returns the response (body already read and closed) and the body.
func (e *env) raw(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, body
}

// injectRaw sends data to qq.sim.inject as is.
func (e *env) injectRaw(data []byte) events.InjectReply {
	e.t.Helper()
	m, err := e.nc.Request(events.Subjects{}.SimInject(), data, 5*time.Second)
	if err != nil {
		e.t.Fatalf("inject %s: %v", data, err)
	}
	var r events.InjectReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		e.t.Fatalf("inject reply %s: %v", m.Data, err)
	}
	return r
}

// jsonValue decodes one JSON value, numbers as json.Number so that integers stay exact and
// "1" and 1 stay apart.
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if dec.More() {
		t.Fatalf("decode %s: data after the value", b)
	}
	return v
}

// object decodes a JSON object (numbers as json.Number).
func object(t *testing.T, b []byte) map[string]any {
	t.Helper()
	m, ok := jsonValue(t, b).(map[string]any)
	if !ok {
		t.Fatalf("want a JSON object, got %s", b)
	}
	return m
}

// array decodes a JSON array of objects (numbers as json.Number).
func array(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	list, ok := jsonValue(t, b).([]any)
	if !ok {
		t.Fatalf("want a JSON array, got %.300s", b)
	}
	out := make([]map[string]any, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			t.Fatalf("element %d is not an object: %.300s", i, b)
		}
		out[i] = m
	}
	return out
}

// sameJSON fails unless got and want are the same JSON value, key order aside.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	if !reflect.DeepEqual(jsonValue(t, got), jsonValue(t, []byte(want))) {
		t.Errorf("body %s, want %s", got, want)
	}
}

// num is an integer as jsonValue decodes it.
func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

// intOf returns m[key], failing unless it is a JSON integer.
func intOf(t *testing.T, m map[string]any, key string) int64 {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Errorf("no %q in %v", key, m)
		return 0
	}
	n, ok := v.(json.Number)
	if !ok {
		t.Errorf("%q is %T %v, want a JSON integer", key, v, v)
		return 0
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		t.Errorf("%q is %s, want a JSON integer", key, n)
	}
	return i
}

// hasKeys fails for each key m lacks.
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	var missing []string
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s lacks %v: %v", what, missing, m)
	}
}

// lacksKeys fails for each key m has.
func lacksKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := m[k]; ok {
			t.Errorf("%s has %q (%v), want it absent", what, k, v)
		}
	}
}

// fields fails for each key of want whose value in m differs (want's integers as json.Number;
// plain Go ints are converted).
func fields(t *testing.T, what string, m map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		switch x := w.(type) {
		case int:
			w = num(int64(x))
		case int64:
			w = num(x)
		}
		if got, ok := m[k]; !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %q = %#v, want %#v", what, k, got, w)
		}
	}
}

// Object fields as COMPAT.md lists them (Mojo's to_json_hash).
var (
	userKeys = []string{"id", "uid", "name", "face", "birthday", "phone", "mobile", "occupation",
		"allow", "college", "sex", "blood", "constel", "homepage", "state", "country", "city",
		"province", "personal", "shengxiao", "email", "client_type", "signature", "account"}
	friendKeys = []string{"id", "uid", "name", "markname", "category", "face", "flag", "is_vip",
		"vip_level", "state", "client_type"}
	groupKeys = []string{"id", "uid", "code", "name", "markname", "role", "memo", "createtime",
		"level", "owner_id", "owner_uid", "max_member", "max_admin", "admin_count", "member_count"}
	memberKeys = []string{"id", "uid", "name", "card", "sex", "province", "country", "city",
		"state", "client_type", "qage", "join_time", "last_speak_time", "level", "role", "bad_record"}
	discussKeys       = []string{"id", "name", "owner_id", "member"}
	discussMemberKeys = []string{"id", "uid", "name", "state", "client_type"}
)

// members returns a group's "member" array, failing if it is not one.
func members(t *testing.T, g map[string]any) []map[string]any {
	t.Helper()
	raw, ok := g["member"].([]any)
	if !ok {
		t.Fatalf("group %v: member is %T, want an array", g["id"], g["member"])
	}
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		m, ok := x.(map[string]any)
		if !ok {
			t.Fatalf("group %v: member %d is %T", g["id"], i, x)
		}
		out[i] = m
	}
	return out
}

// byID finds the object whose "id" is id.
func byID(list []map[string]any, id int64) map[string]any {
	i := slices.IndexFunc(list, func(m map[string]any) bool { return m["id"] == num(id) })
	if i < 0 {
		return nil
	}
	return list[i]
}

// groupInfo returns get_group_info's groups.
func (e *env) groupInfo() []map[string]any {
	e.t.Helper()
	code, body := e.get("get_group_info", nil)
	if code != 200 {
		e.t.Fatalf("get_group_info: %d %.300s", code, body)
	}
	return array(e.t, body)
}

// friendInfo returns get_friend_info's friends.
func (e *env) friendInfo() []map[string]any {
	e.t.Helper()
	code, body := e.get("get_friend_info", nil)
	if code != 200 {
		e.t.Fatalf("get_friend_info: %d %.300s", code, body)
	}
	return array(e.t, body)
}

// await waits up to 5s for the next item named name ("" for any) that match accepts (nil for
// any), skipping others, and returns its raw message.
func await(t *testing.T, it *items, name string, match func(m map[string]any) bool) *nats.Msg {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-it.ch:
			if name != "" && events.EventName(m.Subject) != name {
				continue
			}
			if match == nil || match(object(t, m.Data)) {
				return m
			}
		case <-timeout:
			t.Fatalf("no matching %q item within 5s", name)
			return nil
		}
	}
}

// awaitID waits for the message report of type typ whose id is id.
func awaitID(t *testing.T, it *items, typ string, id int64) map[string]any {
	t.Helper()
	m := await(t, it, typ, func(m map[string]any) bool { return m["id"] == num(id) })
	return object(t, m.Data)
}

// awaitContent waits for the message report of type typ whose content is content.
func awaitContent(t *testing.T, it *items, typ, content string) map[string]any {
	t.Helper()
	m := await(t, it, typ, func(m map[string]any) bool { return m["content"] == content })
	return object(t, m.Data)
}

// params decodes an event report and returns its params, failing unless it is the event name
// with n params.
func params(t *testing.T, raw *nats.Msg, name string, n int) []json.RawMessage {
	t.Helper()
	ev := object(t, raw.Data)
	if ev["post_type"] != "event" || ev["event"] != name {
		t.Fatalf("event report %s, want post_type event, event %s", raw.Data, name)
	}
	var e events.Event
	if err := json.Unmarshal(raw.Data, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Params) != n {
		t.Fatalf("%s: %d params, want %d: %s", name, len(e.Params), n, raw.Data)
	}
	return e.Params
}

// sentinel injects a message and waits for its report: every item published before it (on the
// session's connection, in order) has then been read from it, so what it skipped did not come.
func sentinel(t *testing.T, e *env, it *items) []*nats.Msg {
	t.Helper()
	content := fmt.Sprintf("sentinel %d", time.Now().UnixNano())
	r := e.with(t).inject(events.Injection{Type: events.FriendMessage, SenderID: friend2ID, Content: content})
	if r.Code != 0 {
		t.Fatalf("sentinel inject: %+v", r)
	}
	var before []*nats.Msg
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-it.ch:
			if events.EventName(m.Subject) == events.FriendMessage && object(t, m.Data)["content"] == content {
				return before
			}
			before = append(before, m)
		case <-timeout:
			t.Fatal("sentinel not seen within 5s")
			return nil
		}
	}
}

// launched is an openqq started the way start() starts one, but with qq.events.> subscribed
// before the session runs (so the login's first events are seen) and the session's Run result
// kept for the test.
type launched struct {
	*env
	all     *items        // every item since before the session started
	stopped chan struct{} // closed when the session's Run returned
	runErr  error         // Run's result, once stopped is closed
}

// launch starts NATS, subscribes to every event, then starts the session and the gateway. It
// does not wait for the login.
func launch(t *testing.T, opts ...option) *launched {
	t.Helper()
	srv := natstest.Start(t)
	e := &env{t: t, srv: srv, nc: natstest.Connect(t, srv), http: &http.Client{Timeout: 30 * time.Second}}
	l := &launched{env: e, all: e.subscribe(""), stopped: make(chan struct{})}
	scfg := session.Config{
		SubjectPrefix: "qq", Account: "default", Driver: "sim", DriverTimeout: 5 * time.Second,
		ControlDelay: 200 * time.Millisecond, LogLevel: "info",
		DriverConfig: &sim.Config{QRCodeDir: t.TempDir()},
	}
	gcfg := gateway.Config{SubjectPrefix: "qq", APITimeout: 2 * time.Second, MaxBodyBytes: 64 << 10}
	for _, o := range opts {
		o(&scfg, &gcfg)
	}
	log := natstest.Logger(t)
	sess, err := session.New(natstest.Connect(t, srv), scfg, log)
	if err != nil {
		t.Fatal(err)
	}
	e.sess = sess
	gw, err := gateway.New(natstest.Connect(t, srv), gcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	gwDone := make(chan error, 1)
	go func() { gwDone <- gw.Serve(ctx, ln) }()
	go func() {
		l.runErr = sess.Run(ctx)
		close(l.stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-gwDone:
			if err != nil {
				t.Errorf("gateway ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("gateway did not stop within 10s")
		}
		select {
		case <-l.stopped:
			if l.runErr != nil {
				t.Errorf("session ended with %v", l.runErr)
			}
		case <-time.After(10 * time.Second):
			t.Error("session did not stop within 10s")
		}
	})
	return l
}

// waitStopped waits up to d for the session's Run to return and returns its result.
func (l *launched) waitStopped(d time.Duration) error {
	l.t.Helper()
	select {
	case <-l.stopped:
		return l.runErr
	case <-time.After(d):
		l.t.Fatalf("session's Run did not return within %s", d)
		return nil
	}
}

// stateChange is a state_change's params.
func stateChange(t *testing.T, raw *nats.Msg) [2]events.State {
	t.Helper()
	p := params(t, raw, events.EventStateChange, 2)
	var out [2]events.State
	for i := range out {
		if err := json.Unmarshal(p[i], &out[i]); err != nil {
			t.Fatalf("state_change param %d %s: %v", i, p[i], err)
		}
	}
	return out
}
