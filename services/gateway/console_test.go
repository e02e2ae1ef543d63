package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

// The console is served from the binary: the page at /, its script and style under /console/.
func TestConsoleServed(t *testing.T) {
	g := newBare(t, Config{})
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html", "openqq 控制台"},
		{"/console/app.js", "javascript", "EventSource"},
		{"/console/app.css", "text/css", "--accent"},
	} {
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: %d %q %.60q", tc.path, rec.Code, rec.Header().Get("Content-Type"), body)
		}
	}
	// Anything else under /console/ that is not the console's is still the API's JSON 403.
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/../../etc/passwd", nil))
	if rec.Code != http.StatusForbidden || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("GET /console/../../etc/passwd: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// With a token, the console's files load without it (the page asks for it); the token buys
// an HttpOnly, SameSite=Strict cookie that opens the event streams and nothing else.
func TestConsoleSession(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{AccessToken: "s3cret"}, false, nil)
	for _, path := range []string{"/", "/console/app.js", "/console/app.css"} {
		if a := readAnswer(t, e.get(path, "")); a.status != http.StatusOK {
			t.Errorf("GET %s without the token: %d", path, a.status)
		}
	}
	js := string(readAnswer(t, e.get("/console/app.js", "")).body)
	if strings.Contains(js, "localStorage.setItem") || strings.Contains(js, "access_token=\" +") {
		t.Error("app.js stores the token or puts it in a URL")
	}
	post := func(kv ...string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, e.base+pathConsoleSession, nil)
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if a := readAnswer(t, post()); a.status != http.StatusForbidden || a.header.Get("Set-Cookie") != "" {
		t.Errorf("a session without the token: %d, cookie %q", a.status, a.header.Get("Set-Cookie"))
	}
	resp := post("Authorization", "Bearer s3cret")
	readAnswer(t, resp)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == consoleCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" ||
		strings.Contains(cookie.Value, "s3cret") {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not the token", cookie)
	}
	withCookie := []string{"Cookie", cookie.Name + "=" + cookie.Value}
	s := e.open("", withCookie...)
	s.want(e.publishN(1, events.GroupMessage))
	if a := readAnswer(t, e.get(pathReporters, "", withCookie...)); a.status == http.StatusForbidden {
		t.Errorf("reporters with the cookie: %d %s", a.status, a.body)
	}
	// The API itself is not opened by the cookie, nor the streams by another cookie.
	wantStatus(t, readAnswer(t, e.get("/openqq/get_user_info", "", withCookie...)), events.ErrAuthFailure)
	wantStatus(t, readAnswer(t, e.get(pathEvents, "", "Cookie", cookie.Name+"=x")), events.ErrAuthFailure)
}
