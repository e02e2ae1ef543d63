package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/embednats"
)

// fuzzRoutes are the Openwx routes the fuzz target calls: every one but stop_client (it would
// end the session the inputs share) and consult (a fuzzed timeout holds the call up to five
// minutes; its params have FuzzWxParams in the session and TestOpenwxConsultRefused here).
var fuzzRoutes = slices.DeleteFunc(slices.Clone(wx.Routes), func(r string) bool {
	return r == wx.RouteStopClient || r == wx.RouteConsult
})

// FuzzOpenwxHTTP: whatever the route, method, Content-Type, query and body of a call to
// /openwx/, through the gateway and the session: never a 500, never a hang; an answer is JSON
// (or an avatar's bytes, or Openwx's text 403); a refusal has a non-zero code; and the session
// is still running after it.
func FuzzOpenwxHTTP(f *testing.F) {
	const form = "application/x-www-form-urlencoded"
	seeds := []struct {
		route                   int
		method, ct, query, body string
	}{
		{0, "GET", "", "", ""},
		{1, "POST", form, "", "a=1"},
		{5, "GET", "", "account=ms-xiaoice", ""},
		{5, "POST", "application/json", "", `{"name":"小冰","category":"公众号"}`},
		{6, "GET", "", "displayname=%E4%BD%A0", ""},
		{7, "GET", "", "id=123:@abc", ""},
		{7, "POST", form, "", "id="},
		{8, "GET", "", "id=@nobody&content=x", ""},
		{8, "POST", form, "", "id=@all&content=&async=1"},
		{8, "POST", "application/json", "", `{"id":["@a"],"content":{"x":1}}`},
		{8, "POST", form, "", "markname=%E8%80%81%E7%8E%8B&media_data=aGVsbG8%3D"},
		{8, "POST", form, "", "markname=%E8%80%81%E7%8E%8B&media_path=file:///etc/passwd"},
		{8, "GET", "", "markname=%E8%80%81%E7%8E%8B&media_path=/etc/passwd", ""},
		{8, "GET", "", "markname=%E8%80%81%E7%8E%8B&media_id=x:3", ""},
		{9, "POST", "multipart/form-data; boundary=x", "", "--x\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.png\"\r\n\r\nabc\r\n--x--\r\n"},
		{10, "GET", "", "friends=@a,@b,,@a", ""},
		{11, "GET", "", "id=@@x&friend=", ""},
		{12, "POST", form, "", "displayname=openwx%E6%B5%8B%E8%AF%95%E7%BE%A4&members=@x"},
		{13, "GET", "", "id=@@x&new_displayname=", ""},
		{14, "GET", "", "id=filehelper&op=9", ""},
		{16, "GET", "", "id=@x&group_id=@@y&new_markname=z", ""},
		{18, "GET", "", "id=@x&verify=%ff", ""},
		{19, "GET", "", "id=filehelper", ""},
		{20, "GET", "", "id=@x&displayname=&ticket=", ""},
		{21, "GET", "", "datatype=jsonp&callback=alert(1)", ""},
		{22, "POST", form, "", "media_data=%21%21"},
		{22, "PUT", "application/json", "", `{"media_path":"http://127.0.0.1:1/x.png"}`},
		{4, "GET", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.route, s.method, s.ct, s.query, []byte(s.body))
	}
	// The fuzz target's inputs run in its own goroutines: nothing may log into f's log.
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embednats.Start(embednats.Config{Host: "127.0.0.1", Port: -1, StoreDir: f.TempDir()}, quiet)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Stop)
	w := startWXOn(f, srv, func(s *wxSetup) {
		s.log = quiet
		s.gw.CheckEventHold = 50 * time.Millisecond
		s.gw.APITimeout = 5 * time.Second
	})
	client := &http.Client{Timeout: 20 * time.Second}
	f.Fuzz(func(t *testing.T, route int, method, ct, query string, body []byte) {
		r := fuzzRoutes[(route%len(fuzzRoutes)+len(fuzzRoutes))%len(fuzzRoutes)]
		req, err := http.NewRequest(http.MethodGet, w.base+wx.APIPath(r), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		// Set after NewRequest, which refuses what it cannot parse; the client refuses the rest.
		req.Method = method
		req.URL.RawQuery = query
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := client.Do(req)
		if err != nil {
			if strings.Contains(err.Error(), "Client.Timeout") {
				t.Fatalf("%s %s: no answer in 20s", method, r)
			}
			return // a request the client would not send
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		rct := resp.Header.Get("Content-Type")
		switch {
		case resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusGatewayTimeout:
			t.Errorf("%s %s ?%s %q: HTTP %d %s", method, r, query, body, resp.StatusCode, b)
		case strings.HasPrefix(rct, "text/plain"):
			if resp.StatusCode != 403 || string(b) != "api not found" {
				t.Errorf("%s %s: text %d %q", method, r, resp.StatusCode, b)
			}
		case strings.HasPrefix(rct, "image/"):
			if r != wx.RouteGetAvatar || resp.StatusCode != 200 {
				t.Errorf("%s %s: bytes %q with HTTP %d", method, r, rct, resp.StatusCode)
			}
		case strings.HasPrefix(rct, "application/json"):
			if !json.Valid(b) && !jsonp(b) {
				t.Errorf("%s %s: not JSON: %q", method, r, b)
			}
			var m map[string]any
			if resp.StatusCode != http.StatusOK && (json.Unmarshal(b, &m) != nil || m["code"] == nil || m["code"] == 0.0) {
				t.Errorf("%s %s: HTTP %d with %s, want a non-zero code", method, r, resp.StatusCode, b)
			}
		case method == http.MethodOptions || method == http.MethodHead:
		default:
			t.Errorf("%s %s: HTTP %d, Content-Type %q: %q", method, r, resp.StatusCode, rct, b)
		}
		if err := w.sess.Ready(); err != nil {
			t.Fatalf("after %s %s ?%s %q the session is not running: %v", method, r, query, body, err)
		}
	})
}

// jsonp reports whether b is a JSONP call: name(JSON).
func jsonp(b []byte) bool {
	i := bytes.IndexByte(b, '(')
	return i > 0 && bytes.HasSuffix(b, []byte(")")) && json.Valid(b[i+1:len(b)-1])
}
