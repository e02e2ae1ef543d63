package e2e

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
)

const (
	allowMethods = "OPTIONS, HEAD, GET, POST"
	allowHeaders = "X-Requested-With, X-Auth-Token, Content-Type, Content-Length, Authorization"
	apiNotFound  = `{"code":-1,"status":"api not found"}`
)

func (e *env) request(method, path string, body string, header ...string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// Every reply, success or failure, lets any origin read it; a preflight on any path answers
// Mojo's CORS headers.
func TestCORS(t *testing.T) {
	t.Parallel()
	e := start(t)
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		header []string
		status int
	}{
		{"GET success", "GET", "/openqq/get_user_info", "", nil, 200},
		{"POST form success", "POST", "/openqq/send_friend_message", "id=2372835507&content=cors", []string{"Content-Type", form}, 200},
		{"POST JSON", "POST", "/openqq/search_friend", `{"uid":456789}`, []string{"Content-Type", "application/json"}, 200},
		{"API-level failure", "GET", "/openqq/send_friend_message?id=1&content=x", "", nil, 200},
		{"unknown route", "GET", "/openqq/nope", "", nil, 403},
		{"bad request", "POST", "/openqq/get_user_info", "\x00\x01", []string{"Content-Type", "application/octet-stream"}, 400},
		{"with an Origin", "GET", "/openqq/get_client_info", "", []string{"Origin", "https://bot.example"}, 200},
		{"HEAD", "HEAD", "/openqq/get_user_info", "", nil, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.raw(e.request(c.method, c.path, c.body, c.header...))
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin %q, want *", got)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	for _, path := range []string{"/openqq/send_friend_message", "/openqq/get_user_info", "/openqq/nope", "/", "/anything/else"} {
		t.Run("OPTIONS "+path, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.raw(e.request(http.MethodOptions, path, "",
				"Origin", "https://bot.example", "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "Content-Type"))
			if resp.StatusCode != 200 {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
			for h, want := range map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": allowMethods,
				"Access-Control-Allow-Headers": allowHeaders,
			} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s %q, want %q", h, got, want)
				}
			}
		})
	}
}

// datatype=jsonp wraps the reply in the callback, or in jsoncallback<epoch>().
func TestJSONP(t *testing.T) {
	t.Parallel()
	e := start(t)
	_, plain := e.get("get_user_info", nil)
	wrapped := regexp.MustCompile(`^(jsoncallback(\d+)|[A-Za-z_$][\w$.]*)\((.*)\)$`)
	cases := []struct {
		name   string
		v      via
		route  string
		kv     []string
		cb     string // "" for jsoncallback<epoch>
		inner  string // the body inside; "" for get_user_info's plain body
		status int
	}{
		{"GET with callback", viaGET, "get_user_info", []string{"datatype", "jsonp", "callback", "cb"}, "cb", "", 200},
		{"POST form with callback", viaForm, "get_user_info", []string{"datatype", "jsonp", "callback", "jQuery_123.done"}, "jQuery_123.done", "", 200},
		{"POST JSON with callback", viaJSON, "get_user_info", []string{"datatype", "jsonp", "callback", "cb"}, "cb", "", 200},
		{"without callback", viaGET, "get_user_info", []string{"datatype", "jsonp"}, "", "", 200},
		{"an API-level failure", viaGET, "send_friend_message", []string{"id", "1", "content", "x", "datatype", "jsonp", "callback", "cb"},
			"cb", `{"code":100,"id":null,"status":"friend not found"}`, 200},
		{"search_friend ignores datatype and callback", viaGET, "search_friend", []string{"uid", "456789", "datatype", "jsonp", "callback", "cb"},
			"cb", "", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			began := time.Now().Unix()
			code, body := e.with(t).call(c.v, c.route, c.kv...)
			if code != c.status {
				t.Fatalf("status %d: %s", code, body)
			}
			m := wrapped.FindSubmatch(body)
			if m == nil {
				t.Fatalf("body %.200s is not callback(...)", body)
			}
			if c.cb != "" && string(m[1]) != c.cb {
				t.Errorf("callback %s, want %s", m[1], c.cb)
			}
			if c.cb == "" {
				if len(m[2]) == 0 {
					t.Fatalf("callback %s, want jsoncallback<epoch>", m[1])
				}
				if epoch := intOf(t, map[string]any{"e": json.Number(m[2])}, "e"); epoch < began-1 || epoch > time.Now().Unix()+1 {
					t.Errorf("callback %s, want jsoncallback%d", m[1], began)
				}
			}
			switch {
			case c.route == "search_friend":
				if list := array(t, m[3]); len(list) != 1 || intOf(t, list[0], "id") != friendID {
					t.Errorf("search result %s", m[3])
				}
			case c.inner != "":
				sameJSON(t, m[3], c.inner)
			default:
				sameJSON(t, m[3], string(plain))
			}
		})
	}
	t.Run("datatype json is plain", func(t *testing.T) {
		code, body := e.with(t).get("get_user_info", q("datatype", "json", "callback", "cb"))
		if code != 200 || !bytes.Equal(body, plain) {
			t.Errorf("%d %.200s", code, body)
		}
	})
	t.Run("a callback that is not an identifier", func(t *testing.T) {
		code, body := e.with(t).get("get_user_info", q("datatype", "jsonp", "callback", "alert(document.cookie)"))
		if code != 400 || object(t, body)["code"] != num(-7) {
			t.Errorf("%d %s, want 400 with code -7", code, body)
		}
	})
}

// Anything that is not an API route is Mojo's 403, as JSON.
func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	e := start(t)
	cases := []struct{ method, path string }{
		{"GET", "/openqq/nope"},
		{"POST", "/openqq/nope"},
		{"GET", "/openqq/"},
		{"GET", "/openqq"},
		{"POST", "/"}, // GET / is the console
		{"GET", "/openwx"},
		{"GET", "/openqq/get_user_info/extra"},
		{"GET", "/OPENQQ/get_user_info"},
		{"GET", "/openqq/GET_USER_INFO"},
		{"PUT", "/openqq/get_user_info"},
		{"DELETE", "/openqq/send_friend_message"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.raw(e.request(c.method, c.path, ""))
			if resp.StatusCode != 403 {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
			sameJSON(t, body, apiNotFound)
		})
	}
	// Under /openwx/, Openwx's own catch-all: 403 with the text "api not found" (Openwx.pm),
	// for an unknown route and for a POST to a GET-only route; its routes are served.
	for _, c := range []struct{ method, path string }{{"GET", "/openwx/nope"}, {"POST", "/openwx/get_user_info"}} {
		t.Run("openwx "+c.method+" "+c.path, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.raw(e.request(c.method, c.path, ""))
			if resp.StatusCode != 403 || string(body) != "api not found" {
				t.Errorf("%d %q, want 403 \"api not found\"", resp.StatusCode, body)
			}
		})
	}
	t.Run("openwx route served", func(t *testing.T) {
		e := e.with(t)
		if resp, body := e.raw(e.request("GET", "/openwx/get_user_info", "")); resp.StatusCode == 403 {
			t.Errorf("GET /openwx/get_user_info: %d %s", resp.StatusCode, body)
		}
	})
}

// With an access token configured, every call needs it: in the Authorization header or as the
// access_token parameter; without it, 403 {"code":-6,"status":"auth failure"}.
func TestAccessToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-令牌"
	// A login delay keeps start() from waiting with calls that have no token.
	e := start(t, func(s *session.Config, g *gateway.Config) {
		g.AccessToken = token
		simConfig(s).LoginDelay = time.Millisecond
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var info struct{ State string }
		resp, body := e.raw(e.request("GET", "/openqq/get_client_info", "", "Authorization", "Bearer "+token))
		if resp.StatusCode == 200 && json.Unmarshal(body, &info) == nil && info.State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not running after 10s: %d %s", resp.StatusCode, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	const authFailure = `{"code":-6,"status":"auth failure"}`
	form := "application/x-www-form-urlencoded"
	tokenQuery := "access_token=" + url.QueryEscape(token)
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		header []string
		ok     bool
	}{
		{"no token", "GET", "/openqq/get_user_info", "", nil, false},
		{"wrong bearer", "GET", "/openqq/get_user_info", "", []string{"Authorization", "Bearer nope"}, false},
		{"token without scheme", "GET", "/openqq/get_user_info", "", []string{"Authorization", token}, false},
		{"wrong query token", "GET", "/openqq/get_user_info?access_token=nope", "", nil, false},
		{"empty query token", "GET", "/openqq/get_user_info?access_token=", "", nil, false},
		{"wrong form token", "POST", "/openqq/get_user_info", "access_token=nope", []string{"Content-Type", form}, false},
		{"a prefix of the token", "GET", "/openqq/get_user_info?access_token=s3cret", "", nil, false},
		{"unknown route without token", "GET", "/openqq/nope", "", nil, false},
		{"bearer", "GET", "/openqq/get_user_info", "", []string{"Authorization", "Bearer " + token}, true},
		{"bearer lower case", "GET", "/openqq/get_user_info", "", []string{"Authorization", "bearer " + token}, true},
		{"query", "GET", "/openqq/get_user_info?" + tokenQuery, "", nil, true},
		{"form body", "POST", "/openqq/get_user_info", tokenQuery, []string{"Content-Type", form}, true},
		{"query of a POST with a JSON body", "POST", "/openqq/search_friend?" + tokenQuery, `{"uid":"456789"}`, []string{"Content-Type", "application/json"}, true},
		{"form body with a send", "POST", "/openqq/send_friend_message", tokenQuery + "&id=2372835507&content=" + url.QueryEscape("带令牌"),
			[]string{"Content-Type", form}, true},
		{"the token is no search filter", "GET", "/openqq/search_friend?uid=456789&" + tokenQuery, "", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.raw(e.request(c.method, c.path, c.body, c.header...))
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("no CORS header on %d", resp.StatusCode)
			}
			if !c.ok {
				if resp.StatusCode != 403 {
					t.Errorf("status %d, want 403: %s", resp.StatusCode, body)
				}
				sameJSON(t, body, authFailure)
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			switch v := jsonValue(t, body).(type) {
			case map[string]any:
				if v["code"] != nil && v["code"] != num(0) {
					t.Errorf("reply %s", body)
				}
			case []any:
				if len(v) != 1 {
					t.Errorf("reply %s", body)
				}
			}
		})
	}
	t.Run("preflight needs no token", func(t *testing.T) {
		e := e.with(t)
		resp, body := e.raw(e.request(http.MethodOptions, "/openqq/get_user_info", "", "Origin", "https://bot.example"))
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Methods") != allowMethods {
			t.Errorf("status %d %v: %s", resp.StatusCode, resp.Header, body)
		}
	})
	t.Run("JSON body token", func(t *testing.T) {
		// COMPAT.md: the token may come "as the access_token param", and openqq reads a JSON
		// object body as parameters everywhere else.
		e := e.with(t)
		resp, body := e.raw(e.request("POST", "/openqq/get_user_info", `{"access_token":"`+token+`"}`, "Content-Type", "application/json"))
		if resp.StatusCode != 200 {
			t.Fatalf("access_token in a JSON body is refused (%d %s) although JSON bodies are parameters (COMPAT.md HTTP surface, auth row)", resp.StatusCode, body)
		}
	})
}

// A body over MaxBodyBytes (64 KiB in these tests) is refused with 413, whatever its type; a
// body under it goes through.
func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	e := start(t)
	const tooLarge = `{"code":-8,"status":"request entity too large"}`
	big := strings.Repeat("大", 30000) // 90,000 bytes
	multipartBody := func(content string) (string, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.WriteField("id", "2372835507")
		_ = w.WriteField("content", content)
		_ = w.Close()
		return buf.String(), w.FormDataContentType()
	}
	jsonBody := func(content string) string {
		b, _ := json.Marshal(map[string]string{"id": "2372835507", "content": content})
		return string(b)
	}
	bigMultipart, bigMultipartType := multipartBody(big)
	okMultipart, okMultipartType := multipartBody(strings.Repeat("小", 10000))
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
	}{
		{"form", "id=2372835507&content=" + url.QueryEscape(big), "application/x-www-form-urlencoded", 413},
		{"JSON", jsonBody(big), "application/json", 413},
		{"multipart", bigMultipart, bigMultipartType, 413},
		{"no content type", jsonBody(big), "", 413},
		{"form under the limit", "id=2372835507&content=" + strings.Repeat("x", 60000), "application/x-www-form-urlencoded", 200},
		{"JSON under the limit", jsonBody(strings.Repeat("中", 20000)), "application/json", 200},
		{"multipart under the limit", okMultipart, okMultipartType, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			req := e.request("POST", "/openqq/send_friend_message", c.body)
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, body := e.raw(req)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, c.status, body)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("no CORS header")
			}
			if c.status == 413 {
				sameJSON(t, body, tooLarge)
				return
			}
			checkSendReply(t, resp.StatusCode, body)
		})
	}
}

// A session slower than the gateway's API timeout: 504 {"code":-4,"status":"session timeout"},
// within a bounded time.
func TestSessionTimeout(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		timeout time.Duration // 0: the harness's 2s
		sleep   time.Duration // how long the responder takes; 0: it never answers
	}{
		{"responder slower than 2s", 0, 3 * time.Second},
		{"responder that never answers", 300 * time.Millisecond, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, noSession, func(_ *session.Config, g *gateway.Config) {
				if c.timeout > 0 {
					g.APITimeout = c.timeout
				}
			})
			limit := 2 * time.Second
			if c.timeout > 0 {
				limit = c.timeout
			}
			done := make(chan struct{})
			t.Cleanup(func() { close(done) })
			sub, err := e.nc.Subscribe("qq.api.get_user_info", func(m *nats.Msg) {
				if c.sleep == 0 {
					return
				}
				select {
				case <-time.After(c.sleep):
					_ = m.Respond([]byte(`{"id":1}`))
				case <-done:
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sub.Unsubscribe() })
			if err := e.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			code, body := e.get("get_user_info", nil)
			took := time.Since(began)
			if code != 504 {
				t.Errorf("status %d, want 504: %s", code, body)
			}
			sameJSON(t, body, `{"code":-4,"status":"session timeout"}`)
			if took < limit || took > limit+3*time.Second {
				t.Errorf("answered after %s, want the %s time-out", took, limit)
			}
		})
	}
}

// Parameters: the query string and the body merge (the body wins); multipart forms work; text
// that is not UTF-8 is refused rather than silently matching nothing.
func TestParameterSources(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	form := "application/x-www-form-urlencoded"
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	_ = w.WriteField("uid", "456789")
	_ = w.WriteField("content", "多部分")
	_ = w.Close()
	cases := []struct {
		name    string
		path    string
		body    string
		ctype   string
		content string // the message sent; "" for a refusal
		status  int
	}{
		{"query only", "/openqq/send_friend_message?id=2372835507&content=" + url.QueryEscape("查询"), "", "", "查询", 200},
		{"query target, form content", "/openqq/send_friend_message?id=2372835507", "content=" + url.QueryEscape("表单"), form, "表单", 200},
		{"the form wins over the query", "/openqq/send_friend_message?id=1&content=x", "id=2372835507&content=" + url.QueryEscape("表单赢"), form, "表单赢", 200},
		{"the JSON body wins over the query", "/openqq/send_friend_message?id=1&content=x", `{"id":2372835507,"content":"JSON赢"}`, "application/json", "JSON赢", 200},
		{"JSON with a charset", "/openqq/send_friend_message", `{"uid":"456789","content":"字符集"}`, "application/json; charset=utf-8", "字符集", 200},
		{"JSON without a content type", "/openqq/send_friend_message", `{"uid":"456789","content":"无类型"}`, "", "无类型", 200},
		{"multipart", "/openqq/send_friend_message", mp.String(), w.FormDataContentType(), "多部分", 200},
		{"GBK percent-encoding", "/openqq/send_friend_message?id=2372835507&content=%C4%E3%BA%C3", "", "", "", 400},
		{"a JSON array body", "/openqq/send_friend_message", `["id",2372835507]`, "application/json", "", 400},
		{"a nested JSON object", "/openqq/send_friend_message", `{"id":{"x":1},"content":"x"}`, "application/json", "", 400},
		{"JSON that is cut off", "/openqq/send_friend_message", `{"id":2372835507,`, "application/json", "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			method := "GET"
			if c.body != "" {
				method = "POST"
			}
			req := e.request(method, c.path, c.body)
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, body := e.raw(req)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.status != 200 {
				if object(t, body)["code"] != num(-7) {
					t.Errorf("reply %s, want code -7", body)
				}
				return
			}
			id := checkSendReply(t, resp.StatusCode, body)
			m := awaitID(t, reports.with(t), "friend_message", id)
			fields(t, "report", m, map[string]any{"content": c.content, "receiver_id": friendID})
		})
	}
}
