package poller

import (
	"errors"
	"maps"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

func TestCommand(t *testing.T) {
	base, _ := url.Parse("http://poll.example:8080/poll?client=a")
	tests := []struct {
		name     string
		location string
		route    string
		params   events.Params
	}{
		{"seed example", "http://127.0.0.1:5000/openqq/send_friend_message?id=1&content=hello",
			"send_friend_message", events.Params{"id": "1", "content": "hello"}},
		{"another host is mapped, not fetched", "https://evil.example/openqq/get_user_info",
			"get_user_info", events.Params{}},
		{"relative location", "/openqq/send_group_message?uid=67890&content=%E4%BD%A0%E5%A5%BD",
			"send_group_message", events.Params{"uid": "67890", "content": "你好"}},
		{"path-relative location", "../openqq/get_client_info", "get_client_info", events.Params{}},
		{"access_token never forwarded", "/openqq/get_user_info?access_token=x&a=1",
			"get_user_info", events.Params{"a": "1"}},
		{"last value wins", "/openqq/get_user_info?a=1&a=2", "get_user_info", events.Params{"a": "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			route, params, err := Command(base, tc.location)
			if err != nil {
				t.Fatalf("Command(%q): %v", tc.location, err)
			}
			if route != tc.route || len(params) != len(tc.params) {
				t.Fatalf("Command(%q) = %s %v, want %s %v", tc.location, route, params, tc.route, tc.params)
			}
			for k, v := range tc.params {
				if params[k] != v {
					t.Errorf("param %s = %q, want %q", k, params[k], v)
				}
			}
		})
	}
}

func TestCommandRefused(t *testing.T) {
	base, _ := url.Parse("http://poll.example/poll")
	for _, loc := range []string{
		"",
		"/etc/passwd",
		"file:///etc/passwd",
		"file:///openqq/get_user_info",
		"http://169.254.169.254/",
		"http://169.254.169.254/latest/meta-data/",
		"gopher://x/openqq/get_user_info",
		"javascript:alert(1)",
		"/openqq/",
		"/openqq/unknown_route",
		"/openqq/get_user_info/",
		"/openqq/get_user_info/../../etc/passwd",
		"/openqq/..%2Fetc%2Fpasswd",
		"/openqq/get%5Fuser%5Finfo",
		"/OPENQQ/get_user_info",
		"/api/openqq/get_user_info",
		"//169.254.169.254/openqq",
		"/openqq/get_user_info?a=%zz",
		"/openqq/get_user_info?a=%FF",    // not UTF-8: the gateway's 400
		"/openqq/get_user_info?%FF=1",    // a name that is not UTF-8
		"/openqq/get_user_info?a=%C0%AF", // overlong
		"http://[::1",
	} {
		t.Run(loc, func(t *testing.T) {
			route, _, err := Command(base, loc)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Command(%q) = %q, %v; want ErrRefused", loc, route, err)
			}
		})
	}
}

func FuzzCommand(f *testing.F) {
	for _, s := range []string{"/openqq/get_user_info?a=1", "http://h/openqq/send_friend_message?id=1",
		"file:///etc/passwd", "/etc/passwd", "%", "//x", "/openqq/%2e%2e",
		"/openqq/get_user_info?a=%FF", "/openqq/get_user_info?access_token=x&b=%E4%BD%A0"} {
		f.Add(s)
	}
	base, _ := url.Parse("http://poll.example/poll")
	f.Fuzz(func(t *testing.T, loc string) {
		route, params, err := Command(base, loc)
		if err != nil {
			return
		}
		if !events.IsRoute(route) {
			t.Fatalf("Command(%q) accepted unknown route %q", loc, route)
		}
		for k, v := range params {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("Command(%q) accepted a parameter that is not UTF-8: %q=%q", loc, k, v)
			}
		}
		if _, ok := params["access_token"]; ok {
			t.Fatalf("Command(%q) forwards access_token", loc)
		}
		u, perr := base.Parse(loc)
		if perr != nil || u.Path != "/openqq/"+route || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("Command(%q) accepted %v", loc, u)
		}
	})
}

// The WeChat platform's redirects name /openwx/<route> of an Openwx route; QQ's path, and QQ's
// routes, are refused there, as /openwx/ is for QQ.
func TestCommandForWX(t *testing.T) {
	base, _ := url.Parse("http://poll.example:8080/poll")
	for _, tc := range []struct {
		platform, location, route string
		params                    events.Params
	}{
		{events.PlatformWX, "http://127.0.0.1:3000/openwx/send_friend_message?id=%40abc&content=hello",
			wx.RouteSendFriendMessage, events.Params{"id": "@abc", "content": "hello"}},
		{events.PlatformWX, "/openwx/consult?id=%40abc&content=q&timeout=5", wx.RouteConsult,
			events.Params{"id": "@abc", "content": "q", "timeout": "5"}},
		{events.PlatformWX, "/openwx/send_group_message?id=%40%40grp&media_path=https%3A%2F%2Fx%2Fa.jpg",
			wx.RouteSendGroupMessage, events.Params{"id": "@@grp", "media_path": "https://x/a.jpg"}},
		{events.PlatformWX, "../openwx/get_friend_info?access_token=t", wx.RouteGetFriendInfo, events.Params{}},
		{events.PlatformQQ, "/openqq/get_user_info", "get_user_info", events.Params{}},
	} {
		route, params, err := CommandFor(tc.platform, base, tc.location)
		if err != nil {
			t.Errorf("%s: CommandFor(%q): %v", tc.platform, tc.location, err)
			continue
		}
		if route != tc.route || !maps.Equal(params, tc.params) {
			t.Errorf("%s: CommandFor(%q) = %s %v, want %s %v", tc.platform, tc.location, route, params, tc.route, tc.params)
		}
	}
	for _, tc := range []struct{ platform, location string }{
		{events.PlatformWX, "/openqq/send_friend_message?id=1&content=x"}, // QQ's path
		{events.PlatformWX, "/openwx/send_discuss_message?id=1"},          // QQ's route, Openwx lacks it
		{events.PlatformWX, "/openwx/shutup_group_member"},
		{events.PlatformWX, "/openwx/unknown"},
		{events.PlatformWX, "/openwx/"},
		{events.PlatformWX, "/OPENWX/get_user_info"},
		{events.PlatformWX, "/openwx/..%2Fetc%2Fpasswd"},
		{events.PlatformWX, "file:///openwx/get_user_info"},
		{events.PlatformQQ, "/openwx/get_user_info"},
		{events.PlatformQQ, "/openqq/consult"}, // Openwx's route, QQ lacks it
	} {
		if route, _, err := CommandFor(tc.platform, base, tc.location); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: CommandFor(%q) = %q, %v; want ErrRefused", tc.platform, tc.location, route, err)
		}
	}
}

func FuzzWXCommand(f *testing.F) {
	for _, s := range []string{"/openwx/get_user_info?a=1", "http://h/openwx/send_friend_message?id=%40a",
		"/openqq/get_user_info", "file:///etc/passwd", "/openwx/%2e%2e", "/openwx/consult?timeout=%FF",
		"/openwx/send_group_message?access_token=x&id=%40%40g"} {
		f.Add(s)
	}
	base, _ := url.Parse("http://poll.example/poll")
	f.Fuzz(func(t *testing.T, loc string) {
		route, params, err := CommandFor(events.PlatformWX, base, loc)
		if err != nil {
			return
		}
		if !wx.IsRoute(route) {
			t.Fatalf("CommandFor(wx, %q) accepted unknown route %q", loc, route)
		}
		for k, v := range params {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("CommandFor(wx, %q) accepted a parameter that is not UTF-8: %q=%q", loc, k, v)
			}
		}
		if _, ok := params["access_token"]; ok {
			t.Fatalf("CommandFor(wx, %q) forwards access_token", loc)
		}
		u, perr := base.Parse(loc)
		if perr != nil || u.Path != wx.APIPathPrefix+route || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("CommandFor(wx, %q) accepted %v", loc, u)
		}
	})
}
