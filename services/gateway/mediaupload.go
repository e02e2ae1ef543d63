package gateway

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
)

// An Openwx call that sends or uploads a media (send_friend_message, send_group_message,
// consult, upload_media) may carry its bytes: a multipart file part, or media_data in base64.
// The gateway puts them into the media store before the call crosses NATS and passes on the
// media_id instead, so that the request stays small whatever the media's size. A multipart or
// form body streams into the store, never held whole in memory, up to MEDIA_MAX_BYTES of media
// (in base64: uploadLimit); the other parameters of the body keep MAX_BODY_BYTES. A JSON body,
// a form body of MAX_BODY_BYTES at most and the query are read whole as for any call, their
// media_data stored the same way.

// uploadFields are the names a file part of a media call may have: Openwx reads media_path and
// media_data (Mojolicious's param() hands an upload under either name to the plugin); media is
// the obvious name a client gives a file.
var uploadFields = map[string]bool{"media": true, media.ParamData: true, media.ParamPath: true}

// statusError is a failure whose reply is its Status (a media the store refused, the store
// away).
type statusError struct {
	st  *events.Status
	err error
}

func (e *statusError) Error() string {
	if e.err != nil {
		return e.st.Error() + ": " + e.err.Error()
	}
	return e.st.Error()
}

func (e *statusError) Unwrap() error { return e.err }

// mediaStores opens each platform's media bucket on first use: a gateway that never sees an
// upload never binds it, and a bucket that could not be opened is tried again by the next call.
type mediaStores struct {
	mu     sync.Mutex
	stores map[string]*media.Store // by bucket
}

// store is pf's media store (events.Subjects.MediaBucket: WX_MEDIA).
func (g *Gateway) store(ctx context.Context, pf *platform) (*media.Store, error) {
	g.media.mu.Lock()
	defer g.media.mu.Unlock()
	bucket := pf.subj.MediaBucket()
	if s := g.media.stores[bucket]; s != nil {
		return s, nil
	}
	if g.nc == nil {
		return nil, &statusError{st: events.NewStatus(events.CodeUnavailable, "media store unavailable")}
	}
	js, err := jetstream.New(g.nc)
	if err != nil {
		return nil, &statusError{st: events.NewStatus(events.CodeUnavailable, "media store unavailable"), err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.APITimeout)
	defer cancel()
	s, err := media.Open(ctx, js, bucket, g.cfg.Config)
	if err != nil {
		g.log.Warn("media store unavailable", "bucket", bucket, "err", err)
		return nil, &statusError{st: events.NewStatus(events.CodeUnavailable, "media store %s unavailable", bucket), err: err}
	}
	if g.media.stores == nil {
		g.media.stores = map[string]*media.Store{}
	}
	g.media.stores[bucket] = s
	return s, nil
}

// streamsUpload reports whether the body of r streams into the media store: a POST to a media
// route of pf with a multipart body, or a form body that may be larger than MAX_BODY_BYTES. A
// form body known to be smaller is read whole, as for any call (its token too), and its
// media_data stored from memory.
func (g *Gateway) streamsUpload(pf *platform, route string, r *http.Request) bool {
	if !pf.media[route] || r.Method != http.MethodPost {
		return false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		return true
	case "application/x-www-form-urlencoded":
		return r.ContentLength < 0 || r.ContentLength > g.cfg.MaxBodyBytes
	}
	return false
}

// uploadLimit bounds the body of an upload: the largest media in base64, with room for line
// breaks and percent-encoding, plus MAX_BODY_BYTES for the other parameters.
func (g *Gateway) uploadLimit(max int64) int64 {
	const most = 1<<63 - 1
	if max < 0 || max > most/2 {
		return most
	}
	return (max+2)/3*4 + max/8 + g.cfg.MaxBodyBytes
}

// upload is the reading of one upload's body.
type upload struct {
	ctx    context.Context
	store  *media.Store
	vals   url.Values // the body's other parameters
	budget int64      // what is left of MAX_BODY_BYTES for them
	meta   *media.Meta
	log    *slog.Logger
}

// readUpload reads the parameters of a media call whose body streams (streamsUpload): the
// query's, then the body's, with the media stored and named by media_id.
func (g *Gateway) readUpload(w http.ResponseWriter, r *http.Request, pf *platform) (events.Params, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("query string: %w", err)
	}
	p := events.Params{}
	if err := events.MergeValues(p, q); err != nil {
		return nil, fmt.Errorf("query string: %w", err)
	}
	st, err := g.store(r.Context(), pf)
	if err != nil {
		return nil, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, g.uploadLimit(st.Config().MaxBytes))
	u := &upload{ctx: r.Context(), store: st, vals: url.Values{}, budget: g.cfg.MaxBodyBytes, log: g.log}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		err = u.multipart(r)
	} else {
		err = u.form(r.Body)
	}
	if err == nil {
		if err = events.MergeValues(p, u.vals); err != nil {
			err = fmt.Errorf("body: %w", err)
		}
	}
	if err != nil {
		u.discard()
		return nil, err
	}
	if u.meta != nil {
		named(p, *u.meta)
		return p, nil
	}
	return g.storeMediaData(r.Context(), pf, p)
}

// storeMediaData puts a media_data parameter that came in the query or a body read whole
// (under MAX_BODY_BYTES) into the store, as an upload is (media.Store.Inline: an empty one
// counts as absent, a media_id given wins).
func (g *Gateway) storeMediaData(ctx context.Context, pf *platform, p events.Params) (events.Params, error) {
	if p[media.ParamData] == "" {
		return p, nil
	}
	st, err := g.store(ctx, pf)
	if err != nil {
		return nil, err
	}
	out, err := st.Inline(ctx, p)
	if err != nil {
		return nil, mediaError(err)
	}
	return out, nil
}

// named replaces the media's bytes in p by its id, keeping what the caller said of it.
func named(p events.Params, m media.Meta) {
	delete(p, media.ParamData)
	p[media.ParamID] = m.ID
	if p[media.ParamName] == "" && m.Name != "" {
		p[media.ParamName] = m.Name
	}
	if p[media.ParamMime] == "" && m.Mime != "" {
		p[media.ParamMime] = m.Mime
	}
}

// put stores one media.
func put(ctx context.Context, st *media.Store, name, mimeType string, r io.Reader) (media.Meta, error) {
	m, err := st.Put(ctx, name, r, media.PutHint{Mime: mimeType})
	if err != nil {
		return m, mediaError(err)
	}
	return m, nil
}

// mediaError is the reply to a media the store refused: its own (too large, empty), a body
// over its limit (413), base64 or a form that does not decode (400).
func mediaError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		return &statusError{st: events.ErrBadRequest("media_data is not base64 (at byte %d)", int64(ce)), err: err}
	}
	var fe *formError
	if errors.As(err, &fe) {
		return fe
	}
	var s *events.Status
	if errors.As(err, &s) {
		return &statusError{st: s, err: err}
	}
	return &statusError{st: events.NewStatus(events.CodeInternal, "media store: %v", err), err: err}
}

// base64Reader decodes media_data as the store does (media.Resolve): the standard or the
// URL-safe alphabet, with or without '=' padding, line breaks allowed. Streaming, it cannot
// look at the whole first, so it reads the URL-safe letters as their standard twins and
// drops the padding.
func base64Reader(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.RawStdEncoding, &base64Spellings{r: r})
}

// base64Spellings maps the URL-safe alphabet onto the standard one and drops '='.
type base64Spellings struct{ r io.Reader }

func (b *base64Spellings) Read(p []byte) (int, error) {
	for {
		n, err := b.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			switch c {
			case '=':
				continue
			case '-':
				c = '+'
			case '_':
				c = '/'
			}
			p[k] = c
			k++
		}
		if k > 0 || err != nil || n == 0 {
			return k, err
		}
	}
}

// discard deletes the media of a call refused after it was stored: a refused call stores
// nothing.
func (u *upload) discard() {
	if u.meta == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), 5*time.Second)
	defer cancel()
	if err := u.store.Delete(ctx, u.meta.ID); err != nil {
		u.log.Warn("upload of a refused call left in the media store", "media_id", u.meta.ID, "err", err)
	}
	u.meta = nil
}

// onlyOne refuses a second media in one call.
func (u *upload) onlyOne() error {
	if u.meta != nil {
		return errors.New("one media per call")
	}
	return nil
}

func (u *upload) put(name, mimeType string, r io.Reader) error {
	if err := u.onlyOne(); err != nil {
		return err
	}
	if name == "" {
		name = u.vals.Get(media.ParamName)
	}
	if mimeType == "" || mimeType == "application/octet-stream" {
		if m := u.vals.Get(media.ParamMime); m != "" {
			mimeType = m
		}
	}
	m, err := put(u.ctx, u.store, name, mimeType, r)
	if err != nil {
		return err
	}
	u.meta = &m
	return nil
}

// multipart reads a multipart body part by part: a file part (media, media_data or
// media_path) or a media_data field streams into the store, the other fields are parameters.
func (u *upload) multipart(r *http.Request) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return fmt.Errorf("multipart body: %w", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return bodyErr("multipart body", err)
		}
		name := part.FormName()
		switch {
		case part.FileName() != "":
			if !uploadFields[name] {
				return fmt.Errorf("multipart body: file part %q: send the media as media (or media_data)", name)
			}
			err = u.put(part.FileName(), part.Header.Get("Content-Type"), part)
		case name == media.ParamData:
			br := bufio.NewReader(part)
			if _, perr := br.Peek(1); perr != nil {
				break // empty: absent, as the store reads a blank field
			}
			err = u.put("", "", base64Reader(br))
		default:
			var v []byte
			v, err = io.ReadAll(io.LimitReader(part, u.budget+1))
			if err == nil {
				if u.budget -= int64(len(v)); u.budget < 0 {
					return errTooLarge
				}
				u.vals.Add(name, string(v))
			}
		}
		_ = part.Close()
		if err != nil {
			return bodyErr("multipart body", err)
		}
	}
}

// formError is a form body that is not x-www-form-urlencoded.
type formError struct{ msg string }

func (e *formError) Error() string { return "form body: " + e.msg }

// form reads an x-www-form-urlencoded body pair by pair: media_data's value streams through
// percent-decoding and base64 into the store, the other pairs are parameters.
func (u *upload) form(body io.Reader) error {
	br := bufio.NewReader(body)
	for {
		key, sep, err := u.token(br, true)
		if err != nil {
			return err
		}
		if key == "" && sep != '=' {
			if sep == 0 {
				return nil // the end
			}
			continue // an empty pair: "a=1&&b=2"
		}
		k, err := url.QueryUnescape(key)
		if err != nil {
			return &formError{msg: err.Error()}
		}
		if k == media.ParamData && sep == '=' {
			if c, err := br.Peek(1); err != nil || c[0] == '&' {
				continue // empty: absent, as the store reads a blank field
			}
			if err := u.put("", "", base64Reader(&formValue{br: br})); err != nil {
				return err
			}
			continue
		}
		var v string
		if sep == '=' {
			if v, sep, err = u.token(br, false); err != nil {
				return err
			}
			if v, err = url.QueryUnescape(v); err != nil {
				return &formError{msg: err.Error()}
			}
		}
		u.vals.Add(k, v)
		if sep == 0 {
			return nil
		}
	}
}

// token reads up to the next '&' (or '=' in a key) or the end, out of the budget; sep is the
// byte that ended it, 0 at the end of the body.
func (u *upload) token(br *bufio.Reader, key bool) (string, byte, error) {
	var b strings.Builder
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return b.String(), 0, nil
		}
		if err != nil {
			return "", 0, bodyErr("form body", err)
		}
		if c == '&' || key && c == '=' {
			return b.String(), c, nil
		}
		if u.budget--; u.budget < 0 {
			return "", 0, errTooLarge
		}
		b.WriteByte(c)
	}
}

// formValue reads one percent-encoded value up to the next '&' or the end, decoded. '+' stays
// '+' rather than a space: in base64 a space is never meant, and a client that did not encode
// the '+' of its media_data still gets its bytes.
type formValue struct {
	br   *bufio.Reader
	done bool
}

func (f *formValue) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && !f.done {
		c, err := f.br.ReadByte()
		if errors.Is(err, io.EOF) {
			f.done = true
			break
		}
		if err != nil {
			return n, err
		}
		switch c {
		case '&':
			f.done = true
			continue
		case '%':
			var hex [2]byte
			if _, err := io.ReadFull(f.br, hex[:]); err != nil {
				return n, &formError{msg: "media_data: a '%' without two hex digits"}
			}
			hi, ok1 := unhex(hex[0])
			lo, ok2 := unhex(hex[1])
			if !ok1 || !ok2 {
				return n, &formError{msg: fmt.Sprintf("media_data: %%%s is no escape", hex[:])}
			}
			c = hi<<4 | lo
		}
		p[n] = c
		n++
	}
	if n == 0 && f.done {
		return 0, io.EOF
	}
	return n, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
