package media

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
)

// maxRedirects a media_path URL may take.
const maxRedirects = 3

// Resolve finds the media a call's parameters name and stores it if it is new: media_id (a
// media already stored), else media_data (the bytes in base64, or a data: URI with base64;
// media_path then only names it), else media_path (a file under Dir, or an http(s) URL fetched
// within FetchTimeout). media_name, media_mime, media_ext, media_type and media_mtime describe
// new bytes where the source does not. An empty value counts as absent (a blank form field);
// false when no media is named. Every error answers errors.As with an *events.Status naming the
// problem, and leaves nothing stored.
func (s *Store) Resolve(ctx context.Context, p events.Params) (Meta, bool, error) {
	id, data, loc := p[ParamID], p[ParamData], strings.TrimSpace(p[ParamPath])
	if id == "" && data == "" && loc == "" {
		return Meta{}, false, nil
	}
	if id != "" {
		m, err := s.Info(ctx, id)
		return m, true, err
	}
	hint, name, err := hintOf(p)
	if err != nil {
		return Meta{}, true, err
	}
	var m Meta
	switch {
	case data != "":
		if name == "" && loc != "" {
			name = baseName(loc)
		}
		hint.Path = loc
		m, err = s.putData(ctx, name, data, hint)
	case isURL(loc):
		m, err = s.fetch(ctx, name, loc, hint)
	default:
		m, err = s.putFile(ctx, name, loc, hint)
	}
	if err != nil {
		return Meta{}, true, err
	}
	return m, true, nil
}

// Inline stores the media_data of a call's parameters and answers the parameters with a
// media_id in its place, so that the request that crosses NATS carries an id, not the bytes
// (the gateway's job). Parameters without media_data come back as they are; with a media_id
// too, media_data is dropped unread, as Resolve would ignore it. p is not changed.
func (s *Store) Inline(ctx context.Context, p events.Params) (events.Params, error) {
	if p[ParamData] == "" {
		return p, nil
	}
	out := make(events.Params, len(p))
	for k, v := range p {
		if k != ParamData {
			out[k] = v
		}
	}
	if p[ParamID] != "" {
		return out, nil
	}
	m, _, err := s.Resolve(ctx, events.Params{
		ParamData: p[ParamData], ParamPath: p[ParamPath], ParamName: p[ParamName],
		ParamMime: p[ParamMime], ParamExt: p[ParamExt], ParamType: p[ParamType], ParamMtime: p[ParamMtime],
	})
	if err != nil {
		return nil, err
	}
	out[ParamID] = m.ID
	return out, nil
}

// hintOf reads the parameters that describe new bytes.
func hintOf(p events.Params) (PutHint, string, error) {
	h := PutHint{Type: p[ParamType], Mime: p[ParamMime], Ext: p[ParamExt]}
	if h.Type != "" {
		if _, ok := typeCodes[h.Type]; !ok {
			return PutHint{}, "", invalid("media_type %q is not one of image, emoticon, microvideo, video, voice, file", h.Type)
		}
	}
	if v := p[ParamMtime]; v != "" {
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil || t < 0 {
			return PutHint{}, "", invalid("media_mtime %q is not a Unix time in seconds", v)
		}
		h.Mtime = t
	}
	return h, p[ParamName], nil
}

// isURL tells a media_path that has a scheme (a URL, whichever scheme) from a file path.
func isURL(loc string) bool {
	i := strings.IndexByte(loc, ':')
	if i < 1 {
		return false
	}
	for j, r := range loc[:i] {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || j > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')
		if !ok {
			return false
		}
	}
	return true
}

// putData stores media_data.
func (s *Store) putData(ctx context.Context, name, data string, hint PutHint) (Meta, error) {
	data = strings.TrimSpace(data)
	if rest, ok := strings.CutPrefix(data, "data:"); ok {
		head, payload, found := strings.Cut(rest, ",")
		mime, isB64 := strings.CutSuffix(head, ";base64")
		if !found || !isB64 {
			return Meta{}, invalid("media_data: a data: URI must be base64 (data:<mime>;base64,<data>)")
		}
		if hint.Mime == "" {
			hint.Mime = mime
		}
		data = payload
	}
	if strings.ContainsAny(data, " \t") {
		return Meta{}, invalid("media_data is not base64: it has spaces (a '+' sent in a URL must be written %%2B)")
	}
	// Refused before anything is stored when the text alone says so; the stream's limit
	// catches the rest.
	if chars := len(data) - strings.Count(data, "\n") - strings.Count(data, "\r"); int64(chars/4)*3-3 > s.max {
		return Meta{}, tooLarge("media_data", s.max)
	}
	m, err := s.Put(ctx, name, base64.NewDecoder(encodingOf(data), strings.NewReader(data)), hint)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return Meta{}, &Error{Kind: ErrInvalid, Status: events.ErrBadRequest("media_data is not base64 (at byte %d)", int64(ce)), Err: err}
		}
		return Meta{}, err
	}
	return m, nil
}

// encodingOf picks the base64 alphabet and padding data is written in: the standard one, or the
// URL-safe one, each with or without '=' padding.
func encodingOf(data string) *base64.Encoding {
	enc := base64.StdEncoding
	if strings.ContainsAny(data, "-_") {
		enc = base64.URLEncoding
	}
	n := len(data) - strings.Count(data, "\n") - strings.Count(data, "\r")
	if !strings.HasSuffix(strings.TrimRight(data, "\r\n"), "=") && n%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc
}

// putFile stores a local media_path: a regular file under Dir, opened through an os.Root, so
// that neither ".." nor a symlink leads out of it.
func (s *Store) putFile(ctx context.Context, name, loc string, hint PutHint) (Meta, error) {
	if s.dir == "" {
		return Meta{}, invalid("media_path %q: local files are not allowed (MEDIA_DIR is not set); give an http(s) URL, media_data or media_id", loc)
	}
	rel, ok := s.relative(loc)
	if !ok {
		return Meta{}, invalid("media_path %q is outside the media directory", loc)
	}
	if real, err := filepath.EvalSymlinks(filepath.Join(s.dirReal, rel)); err == nil && !within(s.dirReal, real) {
		return Meta{}, invalid("media_path %q leads outside the media directory", loc)
	}
	root, err := os.OpenRoot(s.dirReal)
	if err != nil {
		return Meta{}, internal(err)
	}
	defer root.Close()
	fi, err := root.Stat(rel)
	if err != nil {
		return Meta{}, fileError(loc, err)
	}
	if !fi.Mode().IsRegular() {
		return Meta{}, invalid("media_path %q is not a regular file", loc)
	}
	if fi.Size() > s.max {
		return Meta{}, tooLarge(fmt.Sprintf("media_path %q (%d bytes)", loc, fi.Size()), s.max)
	}
	// O_NONBLOCK: a FIFO swapped in after the Stat must not block the open.
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return Meta{}, fileError(loc, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return Meta{}, invalid("media_path %q is not a regular file", loc)
	}
	if name == "" {
		name = filepath.Base(rel)
	}
	hint.Path = loc
	if hint.Mtime == 0 {
		hint.Mtime = fi.ModTime().Unix()
	}
	return s.Put(ctx, name, f, hint)
}

func fileError(loc string, err error) *Error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Kind: ErrInvalid, Status: events.ErrBadRequest("media_path %q: no such file", loc), Err: err}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Kind: ErrInvalid, Status: events.ErrBadRequest("media_path %q cannot be read", loc), Err: err}
	default:
		// os.Root's refusal of a path that escapes it lands here
		return &Error{Kind: ErrInvalid, Status: events.ErrBadRequest("media_path %q cannot be read inside the media directory", loc), Err: err}
	}
}

// relative is loc relative to the media directory, if it is inside it: an absolute path under
// Dir (as given or with its symlinks resolved), or a relative one that does not climb out.
func (s *Store) relative(loc string) (string, bool) {
	if loc == "" {
		return "", false
	}
	if !filepath.IsAbs(loc) {
		rel := filepath.Clean(loc)
		return rel, filepath.IsLocal(rel)
	}
	clean := filepath.Clean(loc)
	for _, base := range []string{s.dir, s.dirReal} {
		if rel, err := filepath.Rel(base, clean); err == nil && filepath.IsLocal(rel) {
			return rel, true
		}
	}
	return "", false
}

// within reports whether path is dir or under it (both clean and absolute).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

// newHTTPClient fetches media_path URLs: straight to the URL's host (no proxy from the
// environment), within timeout for the whole exchange, following at most maxRedirects
// redirects and only to http(s).
func newHTTPClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConns:          8,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("a redirect to a %s: URL", req.URL.Scheme)
			}
			return nil
		},
	}
}

// fetch stores the body of an http(s) media_path.
func (s *Store) fetch(ctx context.Context, name, loc string, hint PutHint) (Meta, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return Meta{}, invalid("media_path %q is not a valid URL", config.MaskURL(loc))
	}
	shown := config.MaskURL(loc)
	if u.Scheme != "http" && u.Scheme != "https" {
		return Meta{}, invalid("media_path: the %s: scheme is not allowed; give an http(s) URL or a file under the media directory", strings.ToLower(u.Scheme))
	}
	if u.Host == "" {
		return Meta{}, invalid("media_path %q has no host", shown)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Meta{}, invalid("media_path %q is not a valid URL", shown)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return Meta{}, s.fetchFailed(shown, config.MaskURLError(err, loc))
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return Meta{}, &Error{Kind: ErrFetch, Status: events.NewStatus(events.CodeMediaFetch, "media_path %s answered %s", shown, res.Status)}
	}
	if res.ContentLength > s.max {
		return Meta{}, tooLarge(fmt.Sprintf("media_path %s (Content-Length %d)", shown, res.ContentLength), s.max)
	}
	if name == "" {
		name = path.Base(res.Request.URL.Path) // Path is unescaped already
		if name == "/" || name == "." {
			name = ""
		}
	}
	if hint.Mime == "" {
		hint.Mime = res.Header.Get("Content-Type")
	}
	if hint.Mtime == 0 {
		if t, err := http.ParseTime(res.Header.Get("Last-Modified")); err == nil {
			hint.Mtime = t.Unix()
		}
	}
	hint.Path = loc
	m, err := s.Put(ctx, name, res.Body, hint)
	var me *Error
	if errors.As(err, &me) && me.Kind == ErrInvalid && me.Err != nil {
		// the body failed while it was read: the fetch failed, not the caller
		return Meta{}, s.fetchFailed(shown, config.MaskURLError(me.Err, loc))
	}
	return m, err
}

func (s *Store) fetchFailed(shown string, err error) *Error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: ErrFetch, Status: events.NewStatus(events.CodeMediaFetch, "media_path %s: no answer within %s", shown, s.cfg.FetchTimeout), Err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Kind: ErrFetch, Status: events.NewStatus(events.CodeMediaFetch, "media_path %s could not be fetched: %v", shown, err), Err: err}
}

var _ io.Reader = (*limitReader)(nil)
