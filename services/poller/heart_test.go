package poller

import (
	"net/url"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

// TestAccountHeart: an account's heartbeat from its spec: its POLL_API with client=NAME merged,
// its POLL_INTERVAL else the poller's; none without POLL_API; bad settings refused.
func TestAccountHeart(t *testing.T) {
	t.Parallel()
	p, err := New(nil, Config{PollInterval: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		settings map[string]string
		url      string
		interval time.Duration
		bad      bool
	}{
		{"none", nil, "", 0, false},
		{"blank", map[string]string{"POLL_API": "  "}, "", 0, false},
		{"own", map[string]string{"POLL_API": "http://h/poll?k=1"}, "http://h/poll?k=1&client=alice", 3 * time.Second, false},
		{"client replaced", map[string]string{"POLL_API": "https://h/p?client=bob", "POLL_INTERVAL": "7"}, "https://h/p?client=alice", 7 * time.Second, false},
		{"interval 0 is the poller's", map[string]string{"POLL_API": "http://h/", "POLL_INTERVAL": "0"}, "http://h/?client=alice", 3 * time.Second, false},
		{"not http", map[string]string{"POLL_API": "file:///etc/passwd"}, "", 0, true},
		{"bad interval", map[string]string{"POLL_API": "http://h/", "POLL_INTERVAL": "soon"}, "", 0, true},
	} {
		h, err := p.accountHeart(events.ClientSpec{Client: "alice", Settings: tc.settings})
		switch {
		case (err != nil) != tc.bad:
			t.Errorf("%s: err %v", tc.name, err)
		case err != nil:
		case tc.url == "" && h != nil:
			t.Errorf("%s: a heartbeat to %s", tc.name, h.pollURL)
		case tc.url != "" && (h == nil || h.pollURL.String() != tc.url || h.interval != tc.interval || h.client != "alice"):
			t.Errorf("%s: %+v, want %s every %s", tc.name, h, tc.url, tc.interval)
		}
	}
}

// FuzzAccountHeart: any settings give a heartbeat to an http(s) URL naming the account once, no
// heartbeat, or a refusal; never a panic.
func FuzzAccountHeart(f *testing.F) {
	p, err := New(nil, Config{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][2]string{{"http://h/p", "5"}, {"", ""}, {"https://h/?client=x&client=y", "1s"}, {"ftp://h", "-1"}, {"http://h/%zz", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, api, interval string) {
		h, err := p.accountHeart(events.ClientSpec{Client: "alice", Settings: map[string]string{"POLL_API": api, "POLL_INTERVAL": interval}})
		if err != nil || h == nil {
			return
		}
		if h.pollURL.Scheme != "http" && h.pollURL.Scheme != "https" || h.interval <= 0 {
			t.Fatalf("heartbeat %s every %s", h.pollURL, h.interval)
		}
		if q, err := url.ParseQuery(h.pollURL.RawQuery); err == nil && len(q[events.ParamClient]) != 1 {
			t.Fatalf("%s names the account %d times", h.pollURL, len(q[events.ParamClient]))
		}
	})
}
