package events

import (
	"net/url"
	"strings"
	"testing"
)

func TestClientURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, client, want string }{
		{"http://bot/post", "", "http://bot/post"},
		{"http://bot/post?x=1", DefaultClient, "http://bot/post?x=1"},
		{"http://bot/post", "alice", "http://bot/post?client=alice"},
		{"http://bot/post?", "alice", "http://bot/post?client=alice"},
		{"http://bot/post?token=a%20b&x=1", "alice", "http://bot/post?token=a%20b&x=1&client=alice"},
		{"http://bot/post?client=old&x=1&client=older", "bob-2", "http://bot/post?x=1&client=bob-2"},
		{"http://bot/post?cl%69ent=old", "bob", "http://bot/post?client=bob"},
		{"https://u:p@bot:8080/p/q?x#frag", "c_1", "https://u:p@bot:8080/p/q?x&client=c_1#frag"},
	} {
		got, err := ClientURL(tc.raw, tc.client)
		if err != nil || got != tc.want {
			t.Errorf("ClientURL(%q, %q) = %q, %v; want %q", tc.raw, tc.client, got, err, tc.want)
		}
	}
	for _, bad := range []struct{ raw, client string }{{"http://bot/", "a.b"}, {"http://bot/", "a b"}, {"http://[::1/", "alice"}} {
		if got, err := ClientURL(bad.raw, bad.client); err == nil {
			t.Errorf("ClientURL(%q, %q) = %q, want an error", bad.raw, bad.client, got)
		}
	}
}

// FuzzClientURL: whatever the URL, a named account's URL has exactly one client parameter,
// its name, and keeps every other parameter.
func FuzzClientURL(f *testing.F) {
	for _, s := range []string{"http://bot/post", "http://bot/?client=x&client=y", "http://bot/?a=1&&b=%zz", "http://h/?=&client", "http://h/?%63lient=1#f"} {
		f.Add(s, "alice")
	}
	f.Fuzz(func(t *testing.T, raw, client string) {
		got, err := ClientURL(raw, client)
		if err != nil {
			return
		}
		if IsDefaultClient(client) {
			if got != raw {
				t.Fatalf("default account's URL changed: %q → %q", raw, got)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%q → %q does not parse: %v", raw, got, err)
		}
		n := 0
		for part := range strings.SplitSeq(u.RawQuery, "&") {
			k, v, _ := strings.Cut(part, "=")
			if uk, err := url.QueryUnescape(k); err == nil && uk == ParamClient {
				n++
				if v != client {
					t.Fatalf("%q → %q: client=%q", raw, got, v)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%q → %q: %d client parameters", raw, got, n)
		}
	})
}
