package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

// Every route answers GET, HEAD and POST (form and JSON), and each call reaches qq.api.<route>
// with its parameters.
func TestEveryRouteReachesItsSubject(t *testing.T) {
	e := startEnv(t, Config{}, false)
	type variant struct {
		method, ct string
		query      func(rid string) string
		body       func(rid string) []byte
	}
	variants := map[string]variant{
		"GET query": {method: http.MethodGet,
			query: func(rid string) string { return "rid=" + rid + "&id=42&name=%E4%BD%A0" }},
		"HEAD query": {method: http.MethodHead,
			query: func(rid string) string { return "rid=" + rid + "&id=42&name=%E4%BD%A0" }},
		"POST form": {method: http.MethodPost, ct: "application/x-www-form-urlencoded",
			body: func(rid string) []byte { return []byte("rid=" + rid + "&id=42&name=%E4%BD%A0") }},
		"POST JSON": {method: http.MethodPost, ct: "application/json",
			body: func(rid string) []byte { return []byte(`{"rid":"` + rid + `","id":42,"name":"你"}`) }},
		"POST query only": {method: http.MethodPost,
			query: func(rid string) string { return "rid=" + rid + "&id=42&name=%E4%BD%A0" }},
	}
	for _, route := range events.Routes {
		for name, v := range variants {
			t.Run(route+"/"+name, func(t *testing.T) {
				rid := route + "/" + name
				c := call{method: v.method, path: "/openqq/" + route, ct: v.ct}
				if v.query != nil {
					c.query = v.query(url.QueryEscape(rid))
				}
				if v.body != nil {
					b := v.body(rid)
					if v.ct != "application/json" {
						b = v.body(url.QueryEscape(rid))
					}
					c.body = b
				}
				a := e.do(t, c)
				if a.status != http.StatusOK {
					t.Fatalf("HTTP %d: %s", a.status, a.body)
				}
				want := received{Subject: "qq.api." + route, Params: map[string]string{"rid": rid, "id": "42", "name": "你"}}
				got, ok := e.receivedBy(rid)
				if !ok {
					t.Fatalf("the session got no request")
				}
				if got.Subject != want.Subject || !equalParams(got.Params, want.Params) {
					t.Errorf("session got %+v, want %+v", got, want)
				}
				if v.method == http.MethodHead {
					if a.header.Get("Content-Length") == "" || a.header.Get("Content-Length") == "0" {
						t.Errorf("HEAD: Content-Length = %q, want the GET body's length", a.header.Get("Content-Length"))
					}
					return
				}
				// The reply is the session's data, unchanged.
				if echo := decodeEcho(t, a); echo.Subject != want.Subject || !equalParams(echo.Params, want.Params) {
					t.Errorf("reply %+v, want %+v", echo, want)
				}
				if n, err := strconv.Atoi(a.header.Get("Content-Length")); err != nil || n != len(a.body) {
					t.Errorf("Content-Length = %q, body has %d bytes", a.header.Get("Content-Length"), len(a.body))
				}
				if got := a.header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
				}
			})
		}
	}
}

// How the query and the body merge into the parameters, and which are refused.
func TestParams(t *testing.T) {
	e := startEnv(t, Config{}, false)
	mpCT, mpBody := multipartBody(t, part{name: "id", value: "2"}, part{name: "content", value: "你好 & <b>"},
		part{name: "photo", value: "\xff\xfe binary", file: true})
	mpGBKCT, mpGBKBody := multipartBody(t, part{name: "name", value: "\xc4\xe3\xba\xc3"})
	mpCNCT, mpCNBody := multipartBody(t, part{name: "name", value: "你好"})
	mpRepCT, mpRepBody := multipartBody(t, part{name: "a", value: "1"}, part{name: "a", value: "2"})
	tests := []struct {
		name    string
		c       call
		want    map[string]string // the parameters the session gets
		wantErr string            // else: a 400 whose status contains this
	}{
		{name: "GET query", c: call{query: "id=1&uid=2"},
			want: map[string]string{"id": "1", "uid": "2"}},
		{name: "GET no parameters", c: call{},
			want: map[string]string{}},
		{name: "GET body is ignored", c: call{query: "id=1", ct: "application/json", body: []byte(`{"id":2,"x":"y"}`)},
			want: map[string]string{"id": "1"}},
		{name: "repeated key keeps the last", c: call{query: "a=1&a=2&a=3"},
			want: map[string]string{"a": "3"}},
		{name: "empty value is a parameter", c: call{query: "a=&b"},
			want: map[string]string{"a": "", "b": ""}},
		{name: "plus is a space, %2B a plus", c: call{query: "content=a+b%2Bc%26d%3D"},
			want: map[string]string{"content": "a b+c&d="}},
		{name: "UTF-8 Chinese in query", c: call{query: "name=%E4%BD%A0%E5%A5%BD"},
			want: map[string]string{"name": "你好"}},
		{name: "UTF-8 Chinese key", c: call{query: "%E4%BD%A0=1"},
			want: map[string]string{"你": "1"}},
		{name: "POST query and form merge, body wins",
			c: call{method: "POST", query: "id=1&q=only-query", ct: "application/x-www-form-urlencoded",
				body: []byte("id=2&b=only-body")},
			want: map[string]string{"id": "2", "q": "only-query", "b": "only-body"}},
		{name: "POST form with charset",
			c: call{method: "POST", ct: "application/x-www-form-urlencoded; charset=UTF-8",
				body: []byte("name=%E4%BD%A0%E5%A5%BD&content=a+b")},
			want: map[string]string{"name": "你好", "content": "a b"}},
		{name: "POST query and JSON merge, body wins",
			c: call{method: "POST", query: "id=1&q=only-query", ct: "application/json",
				body: []byte(`{"id":"2","b":"only-body"}`)},
			want: map[string]string{"id": "2", "q": "only-query", "b": "only-body"}},
		{name: "POST query and multipart merge, body wins, files are no parameters",
			c:    call{method: "POST", query: "id=1&q=only-query", ct: mpCT, body: mpBody},
			want: map[string]string{"id": "2", "q": "only-query", "content": "你好 & <b>"}},
		{name: "multipart repeated key keeps the last", c: call{method: "POST", ct: mpRepCT, body: mpRepBody},
			want: map[string]string{"a": "2"}},
		{name: "UTF-8 Chinese in multipart", c: call{method: "POST", ct: mpCNCT, body: mpCNBody},
			want: map[string]string{"name": "你好"}},
		{name: "JSON numbers, booleans, arrays and null arrive as strings",
			c: call{method: "POST", ct: "application/json", body: []byte(
				`{"id":123,"uid":1e3,"big":9007199254740993,"f":1.5,"neg":-7,"one":1.0,` +
					`"async":true,"no":false,"member_id":[1,"2",3.0,true],"empty":[],"gone":null,"s":"x"}`)},
			want: map[string]string{"id": "123", "uid": "1000", "big": "9007199254740993", "f": "1.5",
				"neg": "-7", "one": "1", "async": "1", "no": "0", "member_id": "1,2,3,1", "empty": "", "s": "x"}},
		{name: "JSON UTF-8 and escapes", c: call{method: "POST", ct: "application/json",
			body: []byte(`{"name":"你好","esc":"\u4f60\n<&>"}`)},
			want: map[string]string{"name": "你好", "esc": "你\n<&>"}},
		{name: "JSON without Content-Type", c: call{method: "POST", query: "q=1", body: []byte(" \n\t{\"id\":5}")},
			want: map[string]string{"id": "5", "q": "1"}},
		{name: "JSON with charset", c: call{method: "POST", ct: "application/json; charset=utf-8", body: []byte(`{"id":5}`)},
			want: map[string]string{"id": "5"}},
		{name: "JSON upper-case type", c: call{method: "POST", ct: "Application/JSON", body: []byte(`{"id":5}`)},
			want: map[string]string{"id": "5"}},
		{name: "text/json", c: call{method: "POST", ct: "text/json", body: []byte(`{"id":5}`)},
			want: map[string]string{"id": "5"}},
		{name: "+json type", c: call{method: "POST", ct: "application/vnd.openqq+json", body: []byte(`{"id":5}`)},
			want: map[string]string{"id": "5"}},
		{name: "empty JSON body", c: call{method: "POST", query: "id=1", ct: "application/json", body: []byte("  ")},
			want: map[string]string{"id": "1"}},
		{name: "empty JSON object", c: call{method: "POST", query: "id=1", ct: "application/json", body: []byte("{}")},
			want: map[string]string{"id": "1"}},
		{name: "empty body of another type", c: call{method: "POST", query: "id=1", ct: "text/plain", body: []byte{}},
			want: map[string]string{"id": "1"}},

		{name: "unsupported Content-Type", c: call{method: "POST", ct: "text/plain", body: []byte("id=1")},
			wantErr: "unsupported Content-Type"},
		{name: "XML body", c: call{method: "POST", ct: "application/xml", body: []byte("<id>1</id>")},
			wantErr: "unsupported Content-Type"},
		{name: "form-looking body without Content-Type", c: call{method: "POST", body: []byte("id=1")},
			wantErr: "unsupported Content-Type"},
		{name: "invalid Content-Type", c: call{method: "POST", ct: "application/json; =x", body: []byte(`{"id":1}`)},
			wantErr: "Content-Type"},
		{name: "malformed JSON", c: call{method: "POST", ct: "application/json", body: []byte(`{"id":`)},
			wantErr: "JSON"},
		{name: "malformed JSON without Content-Type", c: call{method: "POST", body: []byte(`{id:1}`)},
			wantErr: "JSON"},
		{name: "JSON array", c: call{method: "POST", ct: "application/json", body: []byte(`[{"id":1}]`)},
			wantErr: "JSON object"},
		{name: "JSON null", c: call{method: "POST", ct: "application/json", body: []byte(`null`)},
			wantErr: "JSON object"},
		{name: "JSON string", c: call{method: "POST", ct: "application/json", body: []byte(`"id"`)},
			wantErr: "JSON object"},
		{name: "JSON nested object", c: call{method: "POST", ct: "application/json", body: []byte(`{"id":{"a":1}}`)},
			wantErr: "want a string, number or boolean"},
		{name: "JSON nested array", c: call{method: "POST", ct: "application/json", body: []byte(`{"id":[[1]]}`)},
			wantErr: "want a string, number or boolean"},
		{name: "JSON trailing data", c: call{method: "POST", ct: "application/json", body: []byte(`{"id":1}{"id":2}`)},
			wantErr: "after the JSON object"},
		{name: "bad escape in GET query", c: call{query: "id=%zz"},
			wantErr: "query string"},
		{name: "bad escape in a query key", c: call{query: "%zz=1"},
			wantErr: "query string"},
		{name: "bad escape in POST query with a JSON body",
			c:       call{method: "POST", query: "id=%zz", ct: "application/json", body: []byte(`{"a":1}`)},
			wantErr: "query string"},
		{name: "bad escape in form body",
			c:       call{method: "POST", ct: "application/x-www-form-urlencoded", body: []byte("id=1&name=%zz")},
			wantErr: "form body"},
		{name: "truncated escape in form body",
			c:       call{method: "POST", ct: "application/x-www-form-urlencoded", body: []byte("name=%E4%BD%")},
			wantErr: "form body"},
		{name: "GBK in query", c: call{query: "name=%C4%E3%BA%C3"},
			wantErr: "UTF-8"},
		{name: "GBK key in query", c: call{query: "%C4%E3=1"},
			wantErr: "UTF-8"},
		{name: "GBK in form body",
			c:       call{method: "POST", ct: "application/x-www-form-urlencoded", body: []byte("name=%C4%E3%BA%C3")},
			wantErr: "UTF-8"},
		{name: "GBK in multipart body", c: call{method: "POST", ct: mpGBKCT, body: mpGBKBody},
			wantErr: "UTF-8"},
		{name: "GBK bytes in JSON body",
			c:       call{method: "POST", ct: "application/json", body: []byte("{\"name\":\"\xc4\xe3\xba\xc3\"}")},
			wantErr: "UTF-8"},
		{name: "multipart without boundary",
			c:       call{method: "POST", ct: "multipart/form-data", body: []byte("--x\r\n")},
			wantErr: "multipart"},
		{name: "broken multipart",
			c:       call{method: "POST", ct: "multipart/form-data; boundary=xyz", body: []byte("not multipart at all")},
			wantErr: "multipart"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rid := "params-" + strconv.Itoa(i)
			tc.c.path = "/openqq/" + events.RouteSearchFriend
			// The request id rides in the query, which every case may carry.
			if tc.c.query == "" {
				tc.c.query = "rid=" + rid
			} else {
				tc.c.query = "rid=" + rid + "&" + tc.c.query
			}
			a := e.do(t, tc.c)
			if tc.wantErr != "" {
				if a.status != http.StatusBadRequest {
					t.Fatalf("HTTP %d, want 400: %s", a.status, a.body)
				}
				st := decodeStatus(t, a.body)
				if st.Code != events.CodeBadRequest || !strings.HasPrefix(st.Status, "bad request: ") ||
					!strings.Contains(st.Status, tc.wantErr) {
					t.Errorf("reply %+v, want code %d and a status naming %q", st, events.CodeBadRequest, tc.wantErr)
				}
				if _, ok := e.receivedBy(rid); ok {
					t.Errorf("a refused call reached the session")
				}
				return
			}
			echo := decodeEcho(t, a)
			want := map[string]string{"rid": rid}
			for k, v := range tc.want {
				want[k] = v
			}
			if echo.Subject != "qq.api."+events.RouteSearchFriend || !equalParams(echo.Params, want) {
				t.Errorf("session got %s %q, want %q", echo.Subject, echo.Params, want)
			}
		})
	}
}

// A body over MaxBodyBytes is refused with 413 and JSON, whatever its type; one at the limit
// passes.
func TestBodyTooLarge(t *testing.T) {
	const limit = 1024
	e := startEnv(t, Config{MaxBodyBytes: limit}, false)
	big := strings.Repeat("x", 4*limit)
	mpCT, mpBody := multipartBody(t, part{name: "content", value: big})
	mpFileCT, mpFileBody := multipartBody(t, part{name: "f", value: big, file: true})
	atLimit := `{"content":"` + strings.Repeat("y", limit-len(`{"content":""}`)) + `"}`
	tests := []struct {
		name   string
		ct     string
		body   []byte
		wantOK bool
	}{
		{name: "form", ct: "application/x-www-form-urlencoded", body: []byte("content=" + big)},
		{name: "JSON", ct: "application/json", body: []byte(`{"content":"` + big + `"}`)},
		{name: "JSON without Content-Type", body: []byte(`{"content":"` + big + `"}`)},
		{name: "multipart", ct: mpCT, body: mpBody},
		{name: "multipart file", ct: mpFileCT, body: mpFileBody},
		{name: "unsupported type", ct: "text/plain", body: []byte(big)},
		{name: "huge form", ct: "application/x-www-form-urlencoded", body: []byte("content=" + strings.Repeat("z", 2<<20))},
		{name: "JSON at the limit", ct: "application/json", body: []byte(atLimit), wantOK: true},
		{name: "form at the limit", ct: "application/x-www-form-urlencoded",
			body: []byte("content=" + strings.Repeat("y", limit-len("content="))), wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, call{method: http.MethodPost, ct: tc.ct, body: tc.body})
			if tc.wantOK {
				if len(tc.body) != limit {
					t.Fatalf("test body has %d bytes, want %d", len(tc.body), limit)
				}
				echo := decodeEcho(t, a)
				if len(echo.Params["content"]) == 0 {
					t.Errorf("content did not arrive: %+v", echo)
				}
				return
			}
			wantStatus(t, a, events.ErrTooLarge)
		})
	}
}

// Whatever is not GET, HEAD or POST on /openqq/<route> is Mojo's 403 "api not found", as JSON.
func TestAPINotFound(t *testing.T) {
	e := startEnv(t, Config{}, false)
	tests := []struct{ method, path string }{
		{http.MethodGet, "/openqq/no_such_route"},
		{http.MethodPost, "/openqq/no_such_route"},
		{http.MethodHead, "/openqq/no_such_route"},
		{http.MethodGet, "/openqq/GET_USER_INFO"},
		{http.MethodGet, "/openqq/get_user_info%00"},
		// GET / is the console (console_test.go); any other method on / is not a route.
		{http.MethodPost, "/"},
		{http.MethodGet, "/openqq"},
		{http.MethodGet, "/openqq/"},
		{http.MethodGet, "/other/path"},
		{http.MethodGet, "/openqq/get_user_info/extra"},
		{http.MethodGet, "/openqq/get_user_info/"},
		{http.MethodGet, "/api/get_user_info"},
		{http.MethodGet, "/favicon.ico"},
		{http.MethodPut, "/openqq/get_user_info"},
		{http.MethodDelete, "/openqq/get_user_info"},
		{http.MethodPatch, "/openqq/send_friend_message"},
		{"PROPFIND", "/openqq/get_user_info"},
		{http.MethodPut, "/other"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			a := e.do(t, call{method: tc.method, path: tc.path, query: "rid=" + url.QueryEscape(tc.method+tc.path)})
			if tc.method == http.MethodHead {
				if a.status != http.StatusForbidden {
					t.Errorf("HTTP %d, want 403", a.status)
				}
			} else {
				wantStatus(t, a, events.ErrAPINotFound)
			}
			if _, ok := e.receivedBy(tc.method + tc.path); ok {
				t.Errorf("the call reached the session")
			}
		})
	}
}

// Paths that are not clean (double slashes, dot segments) are no API path either: they must
// get a JSON answer, not gorilla/mux's bodiless 301 (which also turns a POST into a GET that
// drops the body in most clients).
func TestUncleanPathsAnswerJSON(t *testing.T) {
	e := startEnv(t, Config{}, false)
	for _, path := range []string{"/openqq//get_user_info", "/openqq/./get_user_info",
		"/x/../openqq/get_user_info"} {
		t.Run(path, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.base+"/", strings.NewReader("id=1"))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = path // sent as is, not cleaned by the client
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			if resp.StatusCode == http.StatusMovedPermanently {
				t.Fatalf("POST %s answers HTTP 301 Location %q, Content-Type %q, body %q (gorilla/mux path "+
					"cleaning; gateway.go routes() does not call SkipClean(true)); want a JSON reply such as 403 "+
					`{"code":-1,"status":"api not found"}`, path, resp.Header.Get("Location"),
					resp.Header.Get("Content-Type"), buf.Bytes())
			}
			checkCommon(t, http.MethodPost, answer{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()})
		})
	}
}

// OPTIONS on any path is the CORS preflight.
func TestPreflight(t *testing.T) {
	for _, token := range []string{"", "s3cret"} {
		t.Run("token="+token, func(t *testing.T) {
			e := startEnv(t, Config{AccessToken: token}, false)
			for _, path := range []string{"/openqq/get_user_info", "/openqq/no_such_route", "/", "/any/other/path", "/openqq/"} {
				t.Run(path, func(t *testing.T) {
					a := e.do(t, call{method: http.MethodOptions, path: path, query: "rid=options",
						header: map[string]string{
							"Origin":                         "https://bot.example",
							"Access-Control-Request-Method":  "POST",
							"Access-Control-Request-Headers": "Content-Type, Authorization",
						}})
					if a.status != http.StatusOK {
						t.Errorf("HTTP %d, want 200: %s", a.status, a.body)
					}
					if got := a.header.Get("Access-Control-Allow-Methods"); got != "OPTIONS, HEAD, GET, POST" {
						t.Errorf("Allow-Methods = %q", got)
					}
					if got := a.header.Get("Access-Control-Allow-Headers"); got !=
						"X-Requested-With, X-Auth-Token, Content-Type, Content-Length, Authorization" {
						t.Errorf("Allow-Headers = %q", got)
					}
					if _, ok := e.receivedBy("options"); ok {
						t.Errorf("a preflight reached the session")
					}
				})
			}
		})
	}
}

var defaultCallback = regexp.MustCompile(`^jsoncallback([0-9]+)$`)

func TestJSONP(t *testing.T) {
	e := startEnv(t, Config{}, false)
	tests := []struct {
		name    string
		c       call
		wantCB  string // "" with wantErr false: not wrapped; "default": jsoncallback<unix>
		wantErr bool
	}{
		{name: "callback given", c: call{query: "datatype=jsonp&callback=cb&id=1"}, wantCB: "cb"},
		{name: "dotted callback", c: call{query: "datatype=jsonp&callback=jQuery.fn_1%24x&id=1"}, wantCB: "jQuery.fn_1$x"},
		{name: "default callback", c: call{query: "datatype=jsonp&id=1"}, wantCB: "default"},
		{name: "empty callback is the default", c: call{query: "datatype=jsonp&callback=&id=1"}, wantCB: "default"},
		{name: "callback in a form body", c: call{method: "POST", ct: "application/x-www-form-urlencoded",
			body: []byte("datatype=jsonp&callback=fromBody&id=1")}, wantCB: "fromBody"},
		{name: "callback in a JSON body", c: call{method: "POST", ct: "application/json",
			body: []byte(`{"datatype":"jsonp","callback":"fromJSON","id":1}`)}, wantCB: "fromJSON"},
		{name: "no datatype: callback ignored", c: call{query: "callback=cb&id=1"}},
		{name: "datatype json: callback ignored", c: call{query: "datatype=json&callback=cb&id=1"}},
		{name: "datatype JSONP is case-sensitive", c: call{query: "datatype=JSONP&callback=cb&id=1"}},
		{name: "script in callback", c: call{query: "datatype=jsonp&callback=" + url.QueryEscape("alert(1)//")}, wantErr: true},
		{name: "leading digit", c: call{query: "datatype=jsonp&callback=1abc"}, wantErr: true},
		{name: "space", c: call{query: "datatype=jsonp&callback=a+b"}, wantErr: true},
		{name: "trailing dot", c: call{query: "datatype=jsonp&callback=a."}, wantErr: true},
		{name: "html", c: call{query: "datatype=jsonp&callback=" + url.QueryEscape("<script>")}, wantErr: true},
		{name: "too long", c: call{query: "datatype=jsonp&callback=" + strings.Repeat("a", 129)}, wantErr: true},
		{name: "longest allowed", c: call{query: "datatype=jsonp&id=1&callback=" + strings.Repeat("a", 128)}, wantCB: strings.Repeat("a", 128)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Unix()
			a := e.do(t, tc.c)
			after := time.Now().Unix()
			if tc.wantErr {
				if a.status != http.StatusBadRequest {
					t.Fatalf("HTTP %d, want 400: %s", a.status, a.body)
				}
				st := decodeStatus(t, a.body)
				if st.Code != events.CodeBadRequest || !strings.Contains(st.Status, "callback") {
					t.Errorf("reply %+v, want code -7 naming the callback", st)
				}
				return
			}
			if a.status != http.StatusOK {
				t.Fatalf("HTTP %d: %s", a.status, a.body)
			}
			if tc.wantCB == "" {
				if !json.Valid(a.body) {
					t.Errorf("reply %q is wrapped, want plain JSON", a.body)
				}
				return
			}
			cb, inner, ok := unwrapJSONP(a.body)
			if !ok {
				t.Fatalf("reply %q is not cb(JSON)", a.body)
			}
			if tc.wantCB == "default" {
				m := defaultCallback.FindStringSubmatch(cb)
				if m == nil {
					t.Fatalf("callback %q, want jsoncallback<unix>", cb)
				}
				if n, _ := strconv.ParseInt(m[1], 10, 64); n < before || n > after {
					t.Errorf("callback %q: time %d not in [%d, %d]", cb, n, before, after)
				}
			} else if cb != tc.wantCB {
				t.Errorf("callback %q, want %q", cb, tc.wantCB)
			}
			var echo received
			if err := json.Unmarshal(inner, &echo); err != nil || echo.Params["id"] != "1" {
				t.Errorf("wrapped reply %q is not the session's echo: %v", inner, err)
			}
		})
	}
}

// A JSONP reply is run by a browser as a <script>: "X-Content-Type-Options: nosniff" on a
// non-JavaScript type makes every browser refuse to run it (Fetch: "should response to request
// be blocked due to nosniff"), which would leave JSONP, whose only client is a browser, dead.
func TestJSONPRunnableAsScript(t *testing.T) {
	e := startEnv(t, Config{}, false)
	a := e.do(t, call{query: "datatype=jsonp&callback=cb&id=1"})
	if a.status != http.StatusOK || !strings.HasPrefix(string(a.body), "cb(") {
		t.Fatalf("HTTP %d %s, want 200 cb(...)", a.status, a.body)
	}
	ct := a.header.Get("Content-Type")
	jsType := strings.HasPrefix(ct, "application/javascript") || strings.HasPrefix(ct, "text/javascript")
	if a.header.Get("X-Content-Type-Options") == "nosniff" && !jsType {
		t.Fatalf("JSONP reply (GET ?datatype=jsonp&callback=cb) has Content-Type %q together with "+
			"X-Content-Type-Options: nosniff, so browsers block it as a script; want no nosniff on JSONP "+
			"replies (api.go write() sets it on every reply) or a JavaScript type", ct)
	}
	// And a plain JSON reply keeps nosniff.
	if a := e.do(t, call{query: "id=1"}); a.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("JSON reply without nosniff")
	}
}

// JSONP wraps the gateway's own failures too, so a browser's callback sees the code.
func TestJSONPWrapsSessionFailure(t *testing.T) {
	e := startEnv(t, Config{}, true)
	a := e.do(t, call{query: "datatype=jsonp&callback=cb"})
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("HTTP %d, want 503", a.status)
	}
	if want := "cb(" + string(events.MustMarshal(events.ErrUnavailable)) + ")"; string(a.body) != want {
		t.Errorf("body %s, want %s", a.body, want)
	}
}

func TestAccessToken(t *testing.T) {
	const token = "s3cret"
	e := startEnv(t, Config{AccessToken: token}, false)
	mpCT, mpBody := multipartBody(t, part{name: "id", value: "1"})
	tests := []struct {
		name string
		c    call
		ok   bool
	}{
		{name: "missing", c: call{query: "id=1"}},
		{name: "missing on POST form", c: call{method: "POST", ct: "application/x-www-form-urlencoded", body: []byte("id=1")}},
		{name: "missing on POST JSON", c: call{method: "POST", ct: "application/json", body: []byte(`{"id":1}`)}},
		{name: "missing on multipart", c: call{method: "POST", ct: mpCT, body: mpBody}},
		{name: "missing on HEAD", c: call{method: http.MethodHead, query: "id=1"}},
		{name: "wrong bearer", c: call{query: "id=1", header: map[string]string{"Authorization": "Bearer nope"}}},
		{name: "prefix of the token", c: call{query: "id=1", header: map[string]string{"Authorization": "Bearer s3cre"}}},
		{name: "token plus more", c: call{query: "id=1", header: map[string]string{"Authorization": "Bearer s3crett"}}},
		{name: "no scheme", c: call{query: "id=1", header: map[string]string{"Authorization": token}}},
		{name: "basic scheme", c: call{query: "id=1", header: map[string]string{"Authorization": "Basic " + token}}},
		{name: "wrong query", c: call{query: "id=1&access_token=nope"}},
		{name: "empty query", c: call{query: "id=1&access_token="}},
		{name: "wrong form", c: call{method: "POST", ct: "application/x-www-form-urlencoded", body: []byte("id=1&access_token=nope")}},
		{name: "wrong header beats right query",
			c: call{query: "id=1&access_token=" + token, header: map[string]string{"Authorization": "Bearer nope"}}},
		{name: "bearer", c: call{query: "id=1", header: map[string]string{"Authorization": "Bearer " + token}}, ok: true},
		{name: "bearer lower case", c: call{query: "id=1", header: map[string]string{"Authorization": "bearer " + token}}, ok: true},
		{name: "bearer with spaces", c: call{query: "id=1", header: map[string]string{"Authorization": "Bearer  " + token + " "}}, ok: true},
		{name: "Token scheme", c: call{query: "id=1", header: map[string]string{"Authorization": "Token " + token}}, ok: true},
		{name: "bearer on POST JSON", c: call{method: "POST", ct: "application/json", body: []byte(`{"id":1}`),
			header: map[string]string{"Authorization": "Bearer " + token}}, ok: true},
		{name: "bearer on multipart", c: call{method: "POST", ct: mpCT, body: mpBody,
			header: map[string]string{"Authorization": "Bearer " + token}}, ok: true},
		{name: "query", c: call{query: "id=1&access_token=" + token}, ok: true},
		{name: "query on HEAD", c: call{method: http.MethodHead, query: "id=1&access_token=" + token}, ok: true},
		{name: "query on POST JSON", c: call{method: "POST", query: "access_token=" + token, ct: "application/json",
			body: []byte(`{"id":1,"access_token":"also-in-body"}`)}, ok: true},
		{name: "form body", c: call{method: "POST", ct: "application/x-www-form-urlencoded",
			body: []byte("id=1&access_token=" + token)}, ok: true},
		{name: "form body with query", c: call{method: "POST", query: "id=0&q=1", ct: "application/x-www-form-urlencoded",
			body: []byte("access_token=" + token + "&id=1")}, ok: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rid := "auth-" + strconv.Itoa(i)
			if tc.c.query == "" {
				tc.c.query = "rid=" + rid
			} else {
				tc.c.query = "rid=" + rid + "&" + tc.c.query
			}
			a := e.do(t, tc.c)
			got, reached := e.receivedBy(rid)
			if !tc.ok {
				if tc.c.method == http.MethodHead {
					if a.status != http.StatusForbidden {
						t.Errorf("HTTP %d, want 403", a.status)
					}
				} else {
					wantStatus(t, a, events.ErrAuthFailure)
				}
				if reached {
					t.Errorf("an unauthorized call reached the session: %+v", got)
				}
				return
			}
			if a.status != http.StatusOK {
				t.Fatalf("HTTP %d, want 200: %s", a.status, a.body)
			}
			if !reached {
				t.Fatalf("the call did not reach the session")
			}
			if v, ok := got.Params["access_token"]; ok {
				t.Errorf("access_token %q was forwarded to the session", v)
			}
			if got.Params["id"] != "1" {
				t.Errorf("session got %q, want id=1", got.Params)
			}
		})
	}

	t.Run("unknown route without token", func(t *testing.T) {
		wantStatus(t, e.do(t, call{path: "/openqq/nope"}), events.ErrAuthFailure)
	})
	t.Run("unknown route with token", func(t *testing.T) {
		wantStatus(t, e.do(t, call{path: "/openqq/nope", query: "access_token=" + token}), events.ErrAPINotFound)
	})
	t.Run("PUT with token", func(t *testing.T) {
		wantStatus(t, e.do(t, call{method: http.MethodPut, header: map[string]string{"Authorization": "Bearer " + token}}),
			events.ErrAPINotFound)
	})
	t.Run("bad query with token", func(t *testing.T) {
		a := e.do(t, call{query: "access_token=" + token + "&name=%zz"})
		if st := decodeStatus(t, a.body); a.status != http.StatusBadRequest || st.Code != events.CodeBadRequest {
			t.Errorf("HTTP %d %s, want 400 code -7", a.status, a.body)
		}
	})
	t.Run("GBK form with token in body", func(t *testing.T) {
		a := e.do(t, call{method: "POST", ct: "application/x-www-form-urlencoded",
			body: []byte("access_token=" + token + "&name=%C4%E3%BA%C3")})
		if st := decodeStatus(t, a.body); a.status != http.StatusBadRequest || !strings.Contains(st.Status, "UTF-8") {
			t.Errorf("HTTP %d %s, want 400 naming UTF-8", a.status, a.body)
		}
	})
	// A form body that carries the right token but cannot be read is answered as without a
	// token: the reader learns what is wrong with the body, not that its token is.
	for _, tc := range []struct {
		name, body string
		want       int
		wantText   string
	}{
		{name: "bad escape in form with token in body", body: "access_token=" + token + "&name=%zz&id=1",
			want: http.StatusBadRequest, wantText: "form body"},
		{name: "too large form with token in body", body: "access_token=" + token + "&content=" + strings.Repeat("x", 2<<20),
			want: http.StatusRequestEntityTooLarge, wantText: "request entity too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, call{method: "POST", ct: "application/x-www-form-urlencoded", body: []byte(tc.body)})
			if a.status != tc.want {
				shown := tc.body
				if len(shown) > 60 {
					shown = shown[:60] + "…"
				}
				t.Fatalf("with ACCESS_TOKEN set, POST form body %q answers HTTP %d %s; want HTTP %d naming %q "+
					"as when the token is in the header. middleware.go auth() discards what r.ParseForm() read "+
					"whenever it returns an error (url.ParseQuery / MaxBytesReader), so the right token is "+
					"reported as an auth failure", shown, a.status, a.body, tc.want, tc.wantText)
			}
			if st := decodeStatus(t, a.body); !strings.Contains(st.Status, tc.wantText) {
				t.Errorf("HTTP %d %s, want a status naming %q", a.status, a.body, tc.wantText)
			}
		})
	}
}

// Without a configured token, an access_token parameter is still a secret: never forwarded.
func TestAccessTokenNeverForwarded(t *testing.T) {
	e := startEnv(t, Config{}, false)
	mpCT, mpBody := multipartBody(t, part{name: "access_token", value: "t"}, part{name: "id", value: "1"})
	for name, c := range map[string]call{
		"query":     {query: "access_token=t&id=1"},
		"form":      {method: "POST", ct: "application/x-www-form-urlencoded", body: []byte("access_token=t&id=1")},
		"JSON":      {method: "POST", ct: "application/json", body: []byte(`{"access_token":"t","id":1}`)},
		"multipart": {method: "POST", ct: mpCT, body: mpBody},
		"empty":     {query: "access_token=&id=1"},
	} {
		t.Run(name, func(t *testing.T) {
			echo := decodeEcho(t, e.do(t, c))
			if _, ok := echo.Params["access_token"]; ok || echo.Params["id"] != "1" {
				t.Errorf("session got %q, want id=1 and no access_token", echo.Params)
			}
		})
	}
}

func TestSessionUnavailable(t *testing.T) {
	e := startEnv(t, Config{}, true)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			start := time.Now()
			a := e.do(t, call{method: method, path: "/openqq/" + events.RouteGetClientInfo})
			wantStatus(t, a, events.ErrUnavailable)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("no responders took %s; want an answer at once", d)
			}
		})
	}
}

// When NATS itself is away the gateway still answers JSON, within its time-out.
func TestNATSAway(t *testing.T) {
	t.Run("connection closed", func(t *testing.T) {
		e := startEnv(t, Config{}, false)
		e.g.nc.Close()
		wantStatus(t, e.do(t, call{}), events.ErrUnavailable)
	})
	t.Run("server down", func(t *testing.T) {
		const timeout = 500 * time.Millisecond
		e := startEnv(t, Config{APITimeout: timeout}, false)
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		start := time.Now()
		a := e.do(t, call{})
		if d := time.Since(start); d > timeout+3*time.Second {
			t.Errorf("answered after %s, want within the time-out %s", d, timeout)
		}
		st := decodeStatus(t, a.body)
		if !(a.status == http.StatusServiceUnavailable && st == *events.ErrUnavailable ||
			a.status == http.StatusGatewayTimeout && st == *events.ErrTimeout) {
			t.Errorf("HTTP %d %s, want 503 session unavailable or 504 session timeout", a.status, a.body)
		}
	})
}

func TestSessionTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e := startEnv(t, Config{APITimeout: timeout}, false)
	start := time.Now()
	a := e.do(t, call{query: "mode=" + modeSilent})
	d := time.Since(start)
	wantStatus(t, a, events.ErrTimeout)
	if d < timeout || d > timeout+3*time.Second {
		t.Errorf("time-out after %s, want about %s", d, timeout)
	}
	// A slow answer within the time-out still arrives.
	e2 := startEnv(t, Config{APITimeout: slowDelay + 2*time.Second}, false)
	if echo := decodeEcho(t, e2.do(t, call{query: "mode=" + modeSlow + "&id=7"})); echo.Params["id"] != "7" {
		t.Errorf("slow echo %+v", echo)
	}
}

// A reply with the micro error header goes out with that HTTP status; its data unchanged.
func TestSessionErrorHeader(t *testing.T) {
	e := startEnv(t, Config{}, false)
	tests := []struct {
		name, code, desc, body string
		wantStatus             int
		wantBody               string
	}{
		{name: "400", code: "400", desc: "bad", body: `{"code":-7,"status":"bad request: id"}`,
			wantStatus: 400, wantBody: `{"code":-7,"status":"bad request: id"}`},
		{name: "500", code: "500", desc: "boom", body: `{"code":-9,"status":"internal error"}`,
			wantStatus: 500, wantBody: `{"code":-9,"status":"internal error"}`},
		{name: "503", code: "503", desc: "down", body: `{"code":-3,"status":"session unavailable"}`,
			wantStatus: 503, wantBody: `{"code":-3,"status":"session unavailable"}`},
		{name: "404 copied", code: "404", desc: "x", body: `{"code":100,"status":"object not found"}`,
			wantStatus: 404, wantBody: `{"code":100,"status":"object not found"}`},
		{name: "not a number", code: "abc", desc: "x", body: `{"code":-9,"status":"x"}`,
			wantStatus: 500, wantBody: `{"code":-9,"status":"x"}`},
		{name: "below 400", code: "200", desc: "x", body: `{"code":-9,"status":"x"}`,
			wantStatus: 500, wantBody: `{"code":-9,"status":"x"}`},
		{name: "above 599", code: "600", desc: "x", body: `{"code":-9,"status":"x"}`,
			wantStatus: 500, wantBody: `{"code":-9,"status":"x"}`},
		{name: "no body", code: "500", desc: "handler failed <&>",
			wantStatus: 500, wantBody: `{"code":-9,"status":"handler failed <&>"}`},
		{name: "no body 400", code: "400", desc: "",
			wantStatus: 400, wantBody: `{"code":-9,"status":""}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"mode": {modeError}, "code": {tc.code}, "desc": {tc.desc}, "body": {tc.body}}
			a := e.do(t, call{method: http.MethodPost, ct: "application/x-www-form-urlencoded", body: []byte(q.Encode())})
			if a.status != tc.wantStatus || string(a.body) != tc.wantBody {
				t.Errorf("HTTP %d %s, want %d %s", a.status, a.body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

// The session's data is written as it came: no re-encoding, key order, spacing and UTF-8 kept.
func TestReplyUnchanged(t *testing.T) {
	e := startEnv(t, Config{}, false)
	for _, raw := range []string{
		`{"z":1, "a":"<b>&amp;</b>", "content":"你好😀","id":null}`,
		`[{"id":1},{"id":2}]`,
		`{"id":1,"code":0,"status":"发送成功","info":"发送正常"}`,
		"{\n  \"pretty\": true\n}",
	} {
		a := e.do(t, call{method: http.MethodPost, ct: "application/json",
			body: events.MustMarshal(map[string]string{"mode": modeRaw, "raw": raw})})
		if a.status != http.StatusOK || string(a.body) != raw {
			t.Errorf("HTTP %d %q, want 200 %q", a.status, a.body, raw)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	ok := Config{SubjectPrefix: "qq", APITimeout: time.Second, MaxBodyBytes: 1}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{name: "valid", mod: func(*Config) {}},
		{name: "custom prefix", mod: func(c *Config) { c.SubjectPrefix = "acct1" }},
		{name: "dotted prefix", mod: func(c *Config) { c.SubjectPrefix = "org.acct-1_x" }},
		{name: "empty prefix is the default", mod: func(c *Config) { c.SubjectPrefix = "" }},
		{name: "trailing dot", mod: func(c *Config) { c.SubjectPrefix = "qq." }, wantErr: "SUBJECT_PREFIX"},
		{name: "leading dot", mod: func(c *Config) { c.SubjectPrefix = ".qq" }, wantErr: "SUBJECT_PREFIX"},
		{name: "double dot", mod: func(c *Config) { c.SubjectPrefix = "a..b" }, wantErr: "SUBJECT_PREFIX"},
		{name: "star", mod: func(c *Config) { c.SubjectPrefix = "*" }, wantErr: "SUBJECT_PREFIX"},
		{name: "gt", mod: func(c *Config) { c.SubjectPrefix = "qq.>" }, wantErr: "SUBJECT_PREFIX"},
		{name: "space", mod: func(c *Config) { c.SubjectPrefix = "q q" }, wantErr: "SUBJECT_PREFIX"},
		{name: "non-ASCII", mod: func(c *Config) { c.SubjectPrefix = "企鹅" }, wantErr: "SUBJECT_PREFIX"},
		{name: "zero timeout is the default", mod: func(c *Config) { c.APITimeout = 0 }},
		{name: "negative timeout", mod: func(c *Config) { c.APITimeout = -time.Second }, wantErr: "API_TIMEOUT"},
		{name: "zero body is the default", mod: func(c *Config) { c.MaxBodyBytes = 0 }},
		{name: "negative body", mod: func(c *Config) { c.MaxBodyBytes = -1 }, wantErr: "MAX_BODY_BYTES"},
		{name: "zero hold", mod: func(c *Config) { c.CheckEventHold = 0 }},
		{name: "negative hold", mod: func(c *Config) { c.CheckEventHold = -time.Second }, wantErr: "CHECK_EVENT_HOLD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			g, err := New(nil, cfg, nil)
			if tc.wantErr == "" {
				if err != nil || g == nil || g.Handler() == nil {
					t.Fatalf("New(%+v) = %v, %v; want a gateway", cfg, g, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New(%+v) error = %v, want one naming %s", cfg, err, tc.wantErr)
			}
			if g != nil {
				t.Errorf("New returned a gateway with an error")
			}
		})
	}
}

// A gateway with SubjectPrefix acct1 talks to its own session only.
func TestCustomSubjectPrefix(t *testing.T) {
	e := startEnv(t, Config{SubjectPrefix: "acct1"}, false)
	for _, route := range events.Routes {
		echo := decodeEcho(t, e.do(t, call{path: "/openqq/" + route, query: "id=1"}))
		if echo.Subject != "acct1.api."+route {
			t.Errorf("%s: subject %q, want acct1.api.%s", route, echo.Subject, route)
		}
	}
	// Nobody answers on qq.api.> here, and the gateway does not ask there.
	e2 := startEnv(t, Config{SubjectPrefix: "org.acct2"}, false)
	if echo := decodeEcho(t, e2.do(t, call{})); echo.Subject != "org.acct2.api.get_user_info" {
		t.Errorf("subject %q, want org.acct2.api.get_user_info", echo.Subject)
	}
}

// Many calls at once each get their own answer.
func TestConcurrentCalls(t *testing.T) {
	e := startEnv(t, Config{}, false)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			route := events.Routes[i%len(events.Routes)]
			var req *http.Request
			var err error
			if i%2 == 0 {
				req, err = http.NewRequest(http.MethodGet, fmt.Sprintf("%s/openqq/%s?n=%d", e.base, route, i), nil)
			} else {
				req, err = http.NewRequest(http.MethodPost, e.base+"/openqq/"+route, strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
				if req != nil {
					req.Header.Set("Content-Type", "application/json")
				}
			}
			if err != nil {
				errs <- err.Error()
				return
			}
			resp, err := e.client.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var echo received
			if err := json.NewDecoder(resp.Body).Decode(&echo); err != nil {
				errs <- err.Error()
				return
			}
			if echo.Subject != "qq.api."+route || echo.Params["n"] != strconv.Itoa(i) {
				errs <- fmt.Sprintf("call %d got %+v", i, echo)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
