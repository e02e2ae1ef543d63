package media

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

const resolveLimit = 64 << 10

// mediaServer is a loopback HTTP server of media and of every way a fetch goes wrong.
func mediaServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/img.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT")
		_, _ = w.Write(pngHead)
	})
	mux.HandleFunc("/files/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(jpgHead)
	})
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	mux.HandleFunc("/big-length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(resolveLimit+1))
		_, _ = w.Write(randomBytes(resolveLimit + 1))
	})
	mux.HandleFunc("/big-body", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // chunked: no Content-Length to go by
		for range 4 {
			_, _ = w.Write(randomBytes(resolveLimit / 2))
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(pngHead)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/img.png", http.StatusFound) })
	mux.HandleFunc("/redirect-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/redirect-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1/x.png", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: the slow handlers return
	return srv
}

// mediaDir is a media directory with files, links and things that are not files, and a
// directory beside it that no media_path may reach.
func mediaDir(t *testing.T) (dir, outside string) {
	t.Helper()
	base := t.TempDir()
	dir, outside = filepath.Join(base, "media"), filepath.Join(base, "outside")
	for _, d := range []string{dir, outside, filepath.Join(dir, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "pic.png"), pngHead)
	write(filepath.Join(dir, "sub", "doc.txt"), []byte("a document"))
	write(filepath.Join(dir, "big.bin"), randomBytes(resolveLimit+1))
	write(filepath.Join(outside, "secret.txt"), []byte("not for bots"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"escape":      filepath.Join(outside, "secret.txt"),
		"escape-rel":  "../outside/secret.txt",
		"escape-dir":  outside,
		"inside-link": "pic.png",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, outside
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestResolve(t *testing.T) {
	dir, _ := mediaDir(t)
	link := filepath.Join(t.TempDir(), "media-link") // MEDIA_DIR may itself be a symlink
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	srv := mediaServer(t)
	s := newStore(t, Config{Dir: link, MaxBytes: resolveLimit, FetchTimeout: 2 * time.Second})
	ctx := context.Background()
	stored0, err := s.Put(ctx, "old.gif", bytes.NewReader(gifHead), PutHint{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		params events.Params
		data   []byte
		want   Meta // Name, Path, Mime, Type, Mtime when set
	}{
		{"media_id", events.Params{ParamID: stored0.ID, ParamData: "ignored"}, gifHead,
			Meta{Name: "old.gif", Path: "old.gif", Mime: "image/gif", Type: TypeImage}},
		{"media_data", events.Params{ParamData: b64(pngHead), ParamName: "p.png"}, pngHead,
			Meta{Name: "p.png", Path: "p.png", Mime: "image/png", Type: TypeImage}},
		{"media_data url-safe unpadded", events.Params{ParamData: base64.RawURLEncoding.EncodeToString(randomBytes(301))}, randomBytes(301),
			Meta{Mime: "application/octet-stream", Type: TypeFile}},
		{"media_data in lines", events.Params{ParamData: wrap(b64(randomBytes(200)), 76)}, randomBytes(200),
			Meta{Mime: "application/octet-stream", Type: TypeFile}},
		{"media_data as a data URI", events.Params{ParamData: "data:image/gif;base64," + b64(gifHead)}, gifHead,
			Meta{Mime: "image/gif", Type: TypeImage}},
		{"media_data with media_path as its label only", events.Params{ParamData: b64([]byte("hi")), ParamPath: "/nonexistent/dir/hi.txt"}, []byte("hi"),
			Meta{Name: "hi.txt", Path: "/nonexistent/dir/hi.txt", Mime: "text/plain", Type: TypeFile}},
		{"media_data with hints", events.Params{ParamData: b64(randomBytes(50)), ParamType: TypeVoice, ParamMime: "audio/amr", ParamMtime: "1600000000", ParamExt: "amr"}, randomBytes(50),
			Meta{Mime: "audio/amr", Type: TypeVoice, Mtime: 1600000000}},
		{"a file by its absolute path", events.Params{ParamPath: filepath.Join(link, "pic.png")}, pngHead,
			Meta{Name: "pic.png", Path: filepath.Join(link, "pic.png"), Mime: "image/png", Type: TypeImage}},
		{"a file by its real path", events.Params{ParamPath: filepath.Join(dir, "sub", "doc.txt")}, []byte("a document"),
			Meta{Name: "doc.txt", Path: filepath.Join(dir, "sub", "doc.txt"), Mime: "text/plain", Type: TypeFile}},
		{"a file relative to the directory", events.Params{ParamPath: "sub/../sub/doc.txt", ParamName: "renamed.txt"}, []byte("a document"),
			Meta{Name: "renamed.txt", Path: "sub/../sub/doc.txt", Mime: "text/plain", Type: TypeFile}},
		{"a symlink that stays inside", events.Params{ParamPath: "inside-link"}, pngHead,
			Meta{Name: "inside-link", Path: "inside-link", Mime: "image/png", Type: TypeImage}},
		{"an http URL", events.Params{ParamPath: srv.URL + "/img.png"}, pngHead,
			Meta{Name: "img.png", Path: srv.URL + "/img.png", Mime: "image/png", Type: TypeImage, Mtime: 1700000000}},
		{"a URL's escaped name, and the bytes over a generic mime", events.Params{ParamPath: srv.URL + "/files/%E5%9B%BE.jpg?x=1"}, jpgHead,
			Meta{Name: "图.jpg", Path: srv.URL + "/files/%E5%9B%BE.jpg?x=1", Mime: "image/jpeg", Type: TypeImage}},
		{"a URL's name is unescaped once", events.Params{ParamPath: srv.URL + "/files/100%25%7A.jpg"}, jpgHead,
			Meta{Name: "100%z.jpg", Mime: "image/jpeg", Type: TypeImage}},
		{"a redirect to http", events.Params{ParamPath: srv.URL + "/redirect"}, pngHead,
			Meta{Name: "img.png", Path: srv.URL + "/redirect", Mime: "image/png", Type: TypeImage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok, err := s.Resolve(ctx, tc.params)
			if err != nil || !ok {
				t.Fatalf("Resolve: %v, %v", ok, err)
			}
			got, bm, err := s.Bytes(ctx, m.ID)
			if err != nil || !bytes.Equal(got, tc.data) || bm != m {
				t.Fatalf("Bytes: %q (%v), meta %+v, Resolve's %+v; want %q", got, err, bm, m, tc.data)
			}
			check := func(field, got, want string) {
				if want != "" && got != want {
					t.Errorf("%s %q, want %q", field, got, want)
				}
			}
			check("name", m.Name, tc.want.Name)
			check("path", m.Path, tc.want.Path)
			check("mime", m.Mime, tc.want.Mime)
			check("type", m.Type, tc.want.Type)
			if tc.want.Mtime != 0 && m.Mtime != tc.want.Mtime {
				t.Errorf("mtime %d, want %d", m.Mtime, tc.want.Mtime)
			}
		})
	}
	t.Run("no media", func(t *testing.T) {
		for _, p := range []events.Params{nil, {}, {"content": "hi"}, {ParamID: "", ParamData: "", ParamPath: " ", ParamName: "x"}} {
			if _, ok, err := s.Resolve(ctx, p); ok || err != nil {
				t.Fatalf("%v: %v, %v; want no media", p, ok, err)
			}
		}
	})
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

func TestResolveRefuses(t *testing.T) {
	dir, outside := mediaDir(t)
	srv := mediaServer(t)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, Config{Dir: dir, MaxBytes: resolveLimit, FetchTimeout: 2 * time.Second})
	noDir := newStore(t, Config{MaxBytes: resolveLimit})
	ctx := context.Background()
	if _, err := s.Put(ctx, "kept.txt", bytes.NewReader([]byte("kept")), PutHint{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		store  *Store
		params events.Params
		code   int
		text   string // in the reply's status
	}{
		{"unknown media_id", s, events.Params{ParamID: "nosuchkey:3"}, events.CodeNotFound, "nosuchkey:3"},
		{"malformed media_id", s, events.Params{ParamID: "../../etc/passwd"}, events.CodeNotFound, "not found"},
		{"media_data not base64", s, events.Params{ParamData: "!!!!not base64!!!!"}, events.CodeBadRequest, "not base64"},
		{"media_data broken late", s, events.Params{ParamData: b64(randomBytes(3000)) + "$$$$"}, events.CodeBadRequest, "not base64"},
		{"media_data with a '+' turned into a space", s, events.Params{ParamData: "ab c"}, events.CodeBadRequest, "%2B"},
		{"media_data as a data URI without base64", s, events.Params{ParamData: "data:text/plain,hello"}, events.CodeBadRequest, "data: URI"},
		{"media_data over the limit", s, events.Params{ParamData: b64(randomBytes(resolveLimit + 1))}, events.CodeTooLarge, "limit"},
		{"media_data just over the limit, in lines", s, events.Params{ParamData: wrap(b64(randomBytes(resolveLimit+1)), 76)}, events.CodeTooLarge, "limit"},
		{"an unknown media_type", s, events.Params{ParamData: b64([]byte("x")), ParamType: "sticker"}, events.CodeBadRequest, "media_type"},
		{"a bad media_mtime", s, events.Params{ParamData: b64([]byte("x")), ParamMtime: "yesterday"}, events.CodeBadRequest, "media_mtime"},
		{"no such file", s, events.Params{ParamPath: filepath.Join(dir, "missing.png")}, events.CodeBadRequest, "no such file"},
		{"a directory", s, events.Params{ParamPath: filepath.Join(dir, "sub")}, events.CodeBadRequest, "not a regular file"},
		{"the directory itself", s, events.Params{ParamPath: dir}, events.CodeBadRequest, "not a regular file"},
		{"a FIFO", s, events.Params{ParamPath: "fifo"}, events.CodeBadRequest, "not a regular file"},
		{"a file over the limit", s, events.Params{ParamPath: "big.bin"}, events.CodeTooLarge, "limit"},
		{"an absolute path outside", s, events.Params{ParamPath: "/etc/passwd"}, events.CodeBadRequest, "outside"},
		{"a file beside the directory", s, events.Params{ParamPath: filepath.Join(outside, "secret.txt")}, events.CodeBadRequest, "outside"},
		{"climbing out with ..", s, events.Params{ParamPath: "../outside/secret.txt"}, events.CodeBadRequest, "outside"},
		{"climbing out with .. from inside", s, events.Params{ParamPath: "sub/../../outside/secret.txt"}, events.CodeBadRequest, "outside"},
		{"climbing out of an absolute path", s, events.Params{ParamPath: dir + "/../outside/secret.txt"}, events.CodeBadRequest, "outside"},
		{"a symlink out", s, events.Params{ParamPath: "escape"}, events.CodeBadRequest, "outside"},
		{"a relative symlink out", s, events.Params{ParamPath: filepath.Join(dir, "escape-rel")}, events.CodeBadRequest, "outside"},
		{"through a symlinked directory", s, events.Params{ParamPath: "escape-dir/secret.txt"}, events.CodeBadRequest, "outside"},
		{"local files without MEDIA_DIR", noDir, events.Params{ParamPath: "/etc/hostname"}, events.CodeBadRequest, "MEDIA_DIR"},
		{"file: URL", s, events.Params{ParamPath: "file:///etc/passwd"}, events.CodeBadRequest, "file: scheme"},
		{"file: URL into the directory", s, events.Params{ParamPath: "file://" + filepath.Join(dir, "pic.png")}, events.CodeBadRequest, "file: scheme"},
		{"ftp: URL", s, events.Params{ParamPath: "ftp://" + u.Host + "/x.png"}, events.CodeBadRequest, "ftp: scheme"},
		{"gopher: URL", s, events.Params{ParamPath: "gopher://" + u.Host + "/x"}, events.CodeBadRequest, "gopher: scheme"},
		{"data: URL", s, events.Params{ParamPath: "data:image/png;base64," + b64(pngHead)}, events.CodeBadRequest, "data: scheme"},
		{"javascript: URL", s, events.Params{ParamPath: "javascript:alert(1)"}, events.CodeBadRequest, "javascript: scheme"},
		{"an URL without a host", s, events.Params{ParamPath: "http:///x.png"}, events.CodeBadRequest, "no host"},
		{"404", s, events.Params{ParamPath: srv.URL + "/404"}, events.CodeMediaFetch, "404"},
		{"500", s, events.Params{ParamPath: srv.URL + "/500"}, events.CodeMediaFetch, "500"},
		{"too large by Content-Length", s, events.Params{ParamPath: srv.URL + "/big-length"}, events.CodeTooLarge, "Content-Length"},
		{"too large by its body", s, events.Params{ParamPath: srv.URL + "/big-body"}, events.CodeTooLarge, "limit"},
		{"no answer", s, events.Params{ParamPath: srv.URL + "/slow"}, events.CodeMediaFetch, "no answer within 2s"},
		{"a body that stops", s, events.Params{ParamPath: srv.URL + "/slow-body"}, events.CodeMediaFetch, "no answer within 2s"},
		{"a redirect to file:", s, events.Params{ParamPath: srv.URL + "/redirect-file"}, events.CodeMediaFetch, "file: URL"},
		{"a redirect to ftp:", s, events.Params{ParamPath: srv.URL + "/redirect-ftp"}, events.CodeMediaFetch, "ftp: URL"},
		{"endless redirects", s, events.Params{ParamPath: srv.URL + "/loop"}, events.CodeMediaFetch, "redirects"},
		{"nothing listens", s, events.Params{ParamPath: closedURL(t) + "/x.png"}, events.CodeMediaFetch, "could not be fetched"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objects, size := stored(t, tc.store)
			_, ok, err := tc.store.Resolve(ctx, tc.params)
			var st *events.Status
			if !ok || !errors.As(err, &st) {
				t.Fatalf("Resolve: %v, %v; want a refusal with a reply", ok, err)
			}
			if st.Code != tc.code || !strings.Contains(st.Status, tc.text) {
				t.Fatalf("reply %d %q, want %d naming %q", st.Code, st.Status, tc.code, tc.text)
			}
			if o, sz := stored(t, tc.store); o != objects || sz != size {
				t.Fatalf("the bucket went from %d objects (%d bytes) to %d (%d bytes)", objects, size, o, sz)
			}
		})
	}
}

func TestResolveUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads a file whatever its mode")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "locked.png"), pngHead, 0); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, Config{Dir: dir})
	_, ok, err := s.Resolve(context.Background(), events.Params{ParamPath: "locked.png"})
	var st *events.Status
	if !ok || !errors.As(err, &st) || st.Code != events.CodeBadRequest || !strings.Contains(st.Status, "cannot be read") {
		t.Fatalf("%v, %v; want code -7, cannot be read", ok, err)
	}
}

func TestNoLimit(t *testing.T) {
	s := newStore(t, Config{MaxBytes: -1})
	m, _, err := s.Resolve(context.Background(), events.Params{ParamData: b64(randomBytes(1000))})
	if err != nil || m.Size != 1000 {
		t.Fatalf("MEDIA_MAX_BYTES=-1: %+v, %v", m, err)
	}
}

func TestInline(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	in := events.Params{"id": "@abc", ParamData: b64(pngHead), ParamName: "p.png", ParamPath: "label/p.png"}
	out, err := s.Inline(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := out[ParamData]; has || out["id"] != "@abc" || out[ParamName] != "p.png" || in[ParamData] == "" {
		t.Fatalf("Inline: %v (from %v)", out, in)
	}
	m, ok, err := s.Resolve(ctx, out)
	if err != nil || !ok || m.Name != "p.png" || m.Path != "label/p.png" || m.Type != TypeImage {
		t.Fatalf("Resolve of the inlined params: %+v, %v, %v", m, ok, err)
	}
	if got, _, err := s.Bytes(ctx, out[ParamID]); err != nil || !bytes.Equal(got, pngHead) {
		t.Fatalf("the bytes: %q, %v", got, err)
	}
	for _, p := range []events.Params{{"content": "hi"}, {ParamID: "x:3", ParamData: "!!"}} {
		out, err := s.Inline(ctx, p)
		if _, has := out[ParamData]; err != nil || has || len(out) != 1 {
			t.Fatalf("Inline(%v): %v, %v", p, out, err)
		}
	}
	if o, _ := stored(t, s); o != 1 {
		t.Fatalf("%d objects stored, want the one media_data", o)
	}
	_, err = s.Inline(ctx, events.Params{ParamData: "!!!!"})
	var st *events.Status
	if !errors.As(err, &st) || st.Code != events.CodeBadRequest {
		t.Fatalf("Inline of bad media_data: %v", err)
	}
}

// closedURL is the address of a server that is gone.
func closedURL(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}
