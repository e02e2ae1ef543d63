package media

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

// FuzzResolve: whatever the media parameters, Resolve answers media it can read back or a
// reply with a non-zero code, never a panic or a hang, and only ever fetches from the test's own
// loopback server.
func FuzzResolve(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pic.png"), pngHead, 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "out")); err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/redirect":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		default:
			_, _ = w.Write(gifHead)
		}
	}))
	f.Cleanup(srv.Close)
	local, err := url.Parse(srv.URL)
	if err != nil {
		f.Fatal(err)
	}
	s := newStore(f, Config{Dir: dir, MaxBytes: 4096, FetchTimeout: 5 * time.Second})
	ctx := context.Background()
	known, err := s.Put(ctx, "k.gif", strings.NewReader(string(gifHead)), PutHint{})
	if err != nil {
		f.Fatal(err)
	}

	for _, seed := range [][7]string{
		{known.ID, "", "", "", "", "", ""},
		{"nosuch:3", "", "", "", "", "", ""},
		{"", b64(pngHead), "", "p.png", "", "", ""},
		{"", "data:image/gif;base64," + b64(gifHead), "", "", "", "", ""},
		{"", "!!!!", "", "", "", "", ""},
		{"", "ab c", "", "", "", "", ""},
		{"", b64([]byte("x")), "", "", "text/plain", "voice", "1600000000"},
		{"", b64([]byte("x")), "", "", "", "sticker", "-1"},
		{"", "", "pic.png", "", "", "", ""},
		{"", "", "../../etc/passwd", "", "", "", ""},
		{"", "", "out", "", "", "", ""},
		{"", "", "/etc/passwd", "", "", "", ""},
		{"", "", "file:///etc/passwd", "", "", "", ""},
		{"", "", "gopher://x/y", "", "", "", ""},
		{"", "", "http://example.com/a.gif", "", "", "", ""},
		{"", "", "http://example.com/404", "", "", "", ""},
		{"", "", "http://example.com/redirect?to=file:///etc/passwd", "", "", "", ""},
		{"", "", "https://[::1]:0/x", "", "", "", ""},
		{"", "", "http:///x", "", "", "", ""},
		{" ", " ", " ", "", "", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6])
	}
	f.Fuzz(func(t *testing.T, id, data, loc, name, mime, typ, mtime string) {
		loc = pinToLoopback(loc, local.Host)
		p := events.Params{}
		for k, v := range map[string]string{ParamID: id, ParamData: data, ParamPath: loc, ParamName: name, ParamMime: mime, ParamType: typ, ParamMtime: mtime} {
			if v != "" {
				p[k] = v
			}
		}
		m, ok, err := s.Resolve(ctx, p)
		if !ok {
			if err != nil || id != "" || data != "" || strings.TrimSpace(loc) != "" {
				t.Fatalf("%v: no media (%v)", p, err)
			}
			return
		}
		if err != nil {
			var st *events.Status
			if !errors.As(err, &st) || st.Code == 0 || st.Status == "" {
				t.Fatalf("%v: %v is no reply", p, err)
			}
			return
		}
		if code, known := CodeOf(m.Type); !known || code != m.Code || m.Size <= 0 || m.Size > 4096 {
			t.Fatalf("%v: %+v", p, m)
		}
		if got, err := s.Info(ctx, m.ID); err != nil || got != m {
			t.Fatalf("%v: Info %+v (%v), Resolve %+v", p, got, err, m)
		}
	})
}

// pinToLoopback points an http(s) URL at the test's server, whatever host it named, so that
// the fuzzer never reaches the network; anything else is left as it is.
func pinToLoopback(loc, host string) string {
	if !isURL(strings.TrimSpace(loc)) {
		return loc
	}
	u, err := url.Parse(strings.TrimSpace(loc))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return loc
	}
	u.Scheme, u.Host, u.User = "http", host, nil
	if to := u.Query().Get("to"); to != "" {
		q := u.Query()
		q.Set("to", pinToLoopback(to, host))
		u.RawQuery = q.Encode()
	}
	return u.String()
}
