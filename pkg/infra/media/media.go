// Package media is the one store of media bytes (images, voice, video, files) every openqq
// service shares: the session (sends with media, received media, upload_media), the gateway
// (multipart uploads and media_data, put here before a request crosses NATS) and the reporter
// (which reads the bytes back for post_api's media_data).
//
// The bytes live in a JetStream object store, one bucket per subject prefix
// (events.Subjects.MediaBucket: WX_MEDIA, QQ_MEDIA), which cuts them into chunks: no media ever
// crosses NATS as one message, and a report carries only the media's id. A media is known by
// its id "<key>:<code>", the shape of Mojo-Weixin's media_id ("@crypt_…:3"), where code is the
// WeChat message type of the media (3 image, 47 emoticon, 62 microvideo, 43 video, 34 voice,
// 6 file).
package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/natsconn"
)

// Config is the store's settings, read from the environment through pkg/infra/config like every
// service's: pass a *Config to cli.Main beside the service's own.
type Config struct {
	// Dir is the only directory a media_path may name a file in (symlinks and ".." resolved;
	// nothing outside it is ever opened). Empty: local paths are refused, URLs still work.
	Dir string `envconfig:"MEDIA_DIR"`
	// MaxBytes bounds one media, as Mojo-Weixin's 20 MB did (-1: no limit).
	MaxBytes int64 `envconfig:"MEDIA_MAX_BYTES" default:"20971520"`
	// TTL is how long the bucket keeps a media (-1s: for ever).
	TTL time.Duration `envconfig:"MEDIA_TTL" default:"168h"`
	// FetchTimeout bounds fetching a media_path URL, the body included.
	FetchTimeout time.Duration `envconfig:"MEDIA_FETCH_TIMEOUT" default:"5s"`
	// Replicas of the bucket (on a NATS cluster).
	Replicas int `envconfig:"MEDIA_REPLICAS" default:"1"`
}

// The media types of Openwx's media_type, and their codes (media_code, the suffix of a
// media_id): WeChat's message types.
const (
	TypeImage      = "image"
	TypeEmoticon   = "emoticon"
	TypeMicroVideo = "microvideo"
	TypeVideo      = "video"
	TypeVoice      = "voice"
	TypeFile       = "file"
)

var typeCodes = map[string]int{
	TypeImage:      3,
	TypeEmoticon:   47,
	TypeMicroVideo: 62,
	TypeVideo:      43,
	TypeVoice:      34,
	TypeFile:       6,
}

// CodeOf is the media code of a media type; false for a type Openwx does not know.
func CodeOf(mediaType string) (int, bool) {
	c, ok := typeCodes[mediaType]
	return c, ok
}

// The parameters that name or describe a media, in a send, a consult or upload_media.
const (
	ParamID    = "media_id"
	ParamData  = "media_data"
	ParamPath  = "media_path"
	ParamName  = "media_name"
	ParamMime  = "media_mime"
	ParamExt   = "media_ext"
	ParamType  = "media_type"
	ParamMtime = "media_mtime"
)

// Meta describes one stored media with Mojo-Weixin's media_* fields; as JSON it is
// upload_media's reply.
type Meta struct {
	ID    string `json:"media_id"`   // "<key>:<code>"
	Code  int    `json:"media_code"` // 3, 47, 62, 43, 34 or 6
	Type  string `json:"media_type"` // image, emoticon, microvideo, video, voice or file
	Path  string `json:"media_path"` // where it came from: the file or URL given, else its name
	Name  string `json:"media_name"`
	Size  int64  `json:"media_size"`
	Mime  string `json:"media_mime"`
	Mtime int64  `json:"media_mtime"` // Unix seconds
	Ext   string `json:"media_ext"`   // without the dot; "dat" when nothing tells
}

// PutHint is what a caller knows of a media before its bytes are read. Every field may be
// empty: the rest is found from the name and the bytes.
type PutHint struct {
	// Type is a media type the source says (a received voice message); empty: image for an
	// image/* mime, file for anything else, as Mojo-Weixin sends them.
	Type string
	// Mime is what the source says (Content-Type, media_mime); empty or
	// application/octet-stream: sniffed from the bytes, then from the extension.
	Mime  string
	Ext   string
	Path  string
	Mtime int64
}

// The kinds of failure; every error of the store is an *Error whose Kind is one of them (or
// none, for a fault of the store itself), and errors.As finds its *events.Status reply.
var (
	ErrNotFound = errors.New("media not found")
	ErrTooLarge = errors.New("media too large")
	ErrInvalid  = errors.New("invalid media")
	ErrFetch    = errors.New("media fetch failed")
)

// Error is a failure of the store: the reply a caller answers with, what kind of failure it
// is, and its cause.
type Error struct {
	Kind   error          // ErrNotFound, ErrTooLarge, ErrInvalid, ErrFetch; nil: a fault of the store
	Status *events.Status // the reply: a non-zero code and a text naming the problem
	Err    error          // the cause, for the logs
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Status.Error() + ": " + e.Err.Error()
	}
	return e.Status.Error()
}

// Unwrap lets errors.As find the *events.Status and errors.Is the kind and the cause.
func (e *Error) Unwrap() []error {
	out := []error{e.Status}
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

func invalid(format string, a ...any) *Error {
	return &Error{Kind: ErrInvalid, Status: events.ErrBadRequest(format, a...)}
}

func notFound(id string) *Error {
	return &Error{Kind: ErrNotFound, Status: events.NewStatus(events.CodeNotFound, "media_id %q not found", id)}
}

func tooLarge(what string, max int64) *Error {
	return &Error{Kind: ErrTooLarge, Status: events.NewStatus(events.CodeTooLarge, "%s is over the media limit of %d bytes", what, max)}
}

func internal(err error) *Error {
	return &Error{Status: events.NewStatus(events.CodeInternal, "internal error: media store"), Err: err}
}

// Store is one bucket of media. It is safe for concurrent use.
type Store struct {
	obs     jetstream.ObjectStore
	cfg     Config
	max     int64  // MaxBytes, with -1 as the largest int64
	dir     string // Dir, absolute and clean ("" when local paths are refused)
	dirReal string // dir with its symlinks resolved
	client  *http.Client
}

// Open binds the bucket, creating it when it does not exist, and sets its TTL and replicas to
// cfg's when they differ (every service that opens a bucket should have the same MEDIA_*).
// Zero fields of cfg take their defaults.
func Open(ctx context.Context, js jetstream.JetStream, bucket string, cfg Config) (*Store, error) {
	return open(ctx, js, bucket, cfg, bind)
}

// Bind binds an existing bucket as it is, for a service that only reads media by id (the
// reporter): it neither creates the bucket nor changes its TTL or replicas, so the reader's
// MEDIA_TTL and MEDIA_REPLICAS cannot undo the writers' and its NATS user needs no right to
// change streams. ErrNotFound: no bucket yet (nothing was ever stored).
func Bind(ctx context.Context, js jetstream.JetStream, bucket string, cfg Config) (*Store, error) {
	return open(ctx, js, bucket, cfg, func(ctx context.Context, js jetstream.JetStream, bucket string, _ Config) (jetstream.ObjectStore, error) {
		obs, err := js.ObjectStore(ctx, bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("media: bucket %s: %w", bucket, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("media: bucket %s: %w", bucket, err)
		}
		return obs, nil
	})
}

type binder func(ctx context.Context, js jetstream.JetStream, bucket string, cfg Config) (jetstream.ObjectStore, error)

func open(ctx context.Context, js jetstream.JetStream, bucket string, cfg Config, bind binder) (*Store, error) {
	config.Defaults(&cfg)
	s := &Store{cfg: cfg, max: cfg.MaxBytes}
	if s.max < 0 {
		s.max = 1<<63 - 1
	}
	if cfg.Dir != "" {
		abs, err := filepath.Abs(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("media: MEDIA_DIR %q: %w", cfg.Dir, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("media: MEDIA_DIR %q: %w", cfg.Dir, err)
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("media: MEDIA_DIR %q is not a directory", cfg.Dir)
		}
		s.dir, s.dirReal = filepath.Clean(abs), real
	}
	s.client = newHTTPClient(cfg.FetchTimeout)
	obs, err := bind(ctx, js, bucket, cfg)
	if err != nil {
		return nil, err
	}
	s.obs = obs
	return s, nil
}

func bind(ctx context.Context, js jetstream.JetStream, bucket string, cfg Config) (jetstream.ObjectStore, error) {
	want := jetstream.ObjectStoreConfig{
		Bucket:      bucket,
		Description: "openqq media bytes (pkg/infra/media)",
		TTL:         max(cfg.TTL, 0),
		Replicas:    max(cfg.Replicas, 1),
		Storage:     jetstream.FileStorage,
	}
	// On a cluster, services starting together race to create the bucket.
	var (
		obs jetstream.ObjectStore
		st  jetstream.ObjectStoreStatus
	)
	err := natsconn.RetryAPI(ctx, func(ctx context.Context) error {
		var err error
		obs, err = js.ObjectStore(ctx, bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			obs, err = js.CreateObjectStore(ctx, want)
			if errors.Is(err, jetstream.ErrBucketExists) { // another service made it first
				obs, err = js.ObjectStore(ctx, bucket)
			}
		}
		if err != nil {
			return err
		}
		st, err = obs.Status(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("media: bucket %s: %w", bucket, err)
	}
	if st.TTL() != want.TTL || st.Replicas() != want.Replicas {
		// A reader without the right to change streams gets here only when its MEDIA_TTL or
		// MEDIA_REPLICAS differ from the bucket's: a configuration error worth failing on.
		if obs, err = js.UpdateObjectStore(ctx, want); err != nil {
			return nil, fmt.Errorf("media: bucket %s: setting TTL %s and %d replicas: %w", bucket, want.TTL, want.Replicas, err)
		}
	}
	return obs, nil
}

// Config is the store's configuration, defaults filled (the gateway bounds its uploads by
// MaxBytes).
func (s *Store) Config() Config { return s.cfg }

// The metadata keys of a stored object (its size is the object's own).
const (
	metaType  = "media_type"
	metaName  = "media_name"
	metaPath  = "media_path"
	metaMime  = "media_mime"
	metaExt   = "media_ext"
	metaMtime = "media_mtime"
)

// sniffLen is what http.DetectContentType reads.
const sniffLen = 512

// Put stores the bytes of r as a new media named name (its media_name; empty: one is made up)
// and describes it. It streams: r is read chunk by chunk into the bucket, never whole into
// memory. A media over MaxBytes (ErrTooLarge), an empty one or a failing r (ErrInvalid) leaves
// nothing stored.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, hint PutHint) (Meta, error) {
	if r == nil {
		return Meta{}, invalid("no media")
	}
	if hint.Type != "" {
		if _, ok := typeCodes[hint.Type]; !ok {
			return Meta{}, invalid("media_type %q is not one of image, emoticon, microvideo, video, voice, file", hint.Type)
		}
	}
	br := bufio.NewReaderSize(r, sniffLen)
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return Meta{}, readFailed(err)
	}
	if len(head) == 0 {
		return Meta{}, invalid("the media is empty")
	}
	key := nuid.Next()
	m := describe(key, name, head, hint)
	lr := &limitReader{r: br, max: s.max}
	info, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: key, Metadata: m.metadata()}, lr)
	switch {
	case lr.over:
		return Meta{}, tooLarge("the media", s.max)
	case lr.err != nil:
		return Meta{}, readFailed(lr.err)
	case err != nil:
		return Meta{}, internal(err)
	}
	m.Size = int64(info.Size)
	return m, nil
}

// readFailed is the error of a source that failed while it was read.
func readFailed(err error) *Error {
	return &Error{Kind: ErrInvalid, Status: events.ErrBadRequest("reading the media: %v", err), Err: err}
}

// limitReader reads r up to max bytes and fails, rather than stop silently, on the byte after.
// It remembers why it failed, since the object store only passes the error on.
type limitReader struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
	err  error // r's own failure
}

var errOverLimit = errors.New("over the media limit")

func (l *limitReader) Read(p []byte) (int, error) {
	if room := l.max - l.n + 1; int64(len(p)) > room && room > 0 {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		l.over = true
		return 0, errOverLimit
	}
	if err != nil && !errors.Is(err, io.EOF) {
		l.err = err
	}
	return n, err
}

// describe fills a new media's fields but its size.
func describe(key, name string, head []byte, hint PutHint) Meta {
	name = baseName(name)
	ext := cleanExt(hint.Ext)
	if ext == "" {
		ext = cleanExt(filepath.Ext(name))
	}
	mime := sniffMime(hint.Mime, head, ext)
	if ext == "" {
		ext = extOf(mime)
	}
	if name == "" {
		name = key + "." + ext
	}
	typ := hint.Type
	if typ == "" {
		typ = TypeFile
		if strings.HasPrefix(mime, "image/") {
			typ = TypeImage
		}
	}
	code := typeCodes[typ]
	mtime := hint.Mtime
	if mtime <= 0 {
		mtime = time.Now().Unix()
	}
	path := hint.Path
	if path == "" {
		path = name
	}
	// The fields are kept as JSON, which would turn invalid UTF-8 into U+FFFD on the way: do it
	// now, so that Info answers what Put did.
	utf8 := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	return Meta{
		ID: key + ":" + strconv.Itoa(code), Code: code, Type: typ, Path: utf8(path),
		Name: utf8(name), Mime: utf8(mime), Mtime: mtime, Ext: utf8(ext),
	}
}

// baseName keeps the last element of a name a client sent (a multipart file name may carry a
// path, with either slash), at most 255 bytes of it.
func baseName(name string) string {
	name = strings.TrimSpace(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "." || name == ".." {
		return ""
	}
	if len(name) > 255 {
		name = name[len(name)-255:]
	}
	return name
}

// cleanExt is an extension a client gave, without its dot, if it is one: up to 16 letters and
// digits, since whoever writes the media to a file may name it by its extension.
func cleanExt(ext string) string {
	ext = strings.TrimPrefix(strings.TrimSpace(ext), ".")
	if ext == "" || len(ext) > 16 {
		return ""
	}
	for _, r := range ext {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return ""
		}
	}
	return ext
}

// sniffMime decides a media's mime: what the source said, unless it said nothing useful; then
// what the bytes look like, unless they look like nothing in particular; then the extension.
func sniffMime(said string, head []byte, ext string) string {
	said = cleanMime(said)
	if said != "" && said != "application/octet-stream" && said != "binary/octet-stream" {
		return said
	}
	sniffed := cleanMime(http.DetectContentType(head))
	if sniffed != "application/octet-stream" && sniffed != "text/plain" {
		return sniffed
	}
	if m, ok := extMimes[strings.ToLower(ext)]; ok {
		return m
	}
	return sniffed
}

func cleanMime(m string) string {
	m, _, _ = strings.Cut(m, ";")
	return strings.ToLower(strings.TrimSpace(m))
}

// extMimes are the media kinds a chat carries that the bytes alone do not tell; a table of our
// own, since the system's mime.types differs from machine to machine.
var extMimes = map[string]string{
	"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
	"bmp": "image/bmp", "webp": "image/webp", "mp4": "video/mp4", "mov": "video/quicktime",
	"mp3": "audio/mpeg", "amr": "audio/amr", "silk": "audio/silk", "wav": "audio/wav",
	"txt": "text/plain", "pdf": "application/pdf", "zip": "application/zip",
}

// mimeExts are the extensions of the mimes Mojo-Weixin names (its _get_media), and a few more.
var mimeExts = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/bmp": "bmp", "image/gif": "gif",
	"image/webp": "webp", "text/plain": "txt", "text/html": "html", "application/json": "json",
	"video/mp4": "mp4", "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/amr": "amr",
	"audio/wav": "wav", "audio/wave": "wav", "application/pdf": "pdf", "application/zip": "zip",
}

func extOf(mime string) string {
	if e, ok := mimeExts[mime]; ok {
		return e
	}
	return "dat"
}

func (m Meta) metadata() map[string]string {
	return map[string]string{
		metaType: m.Type, metaName: m.Name, metaPath: m.Path, metaMime: m.Mime,
		metaExt: m.Ext, metaMtime: strconv.FormatInt(m.Mtime, 10),
	}
}

// parseID splits a media_id into its object key and code. A key is what nuid makes: letters
// and digits.
func parseID(id string) (key string, code int, ok bool) {
	key, c, found := strings.Cut(id, ":")
	if key == "" || len(key) > 64 || !found {
		return "", 0, false
	}
	for _, r := range key {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", 0, false
		}
	}
	code, err := strconv.Atoi(c)
	if err != nil || strconv.Itoa(code) != c {
		return "", 0, false
	}
	return key, code, true
}

func metaOf(key string, info *jetstream.ObjectInfo) Meta {
	md := info.Metadata
	mtime, _ := strconv.ParseInt(md[metaMtime], 10, 64)
	code := typeCodes[md[metaType]]
	return Meta{
		ID: key + ":" + strconv.Itoa(code), Code: code, Type: md[metaType], Path: md[metaPath],
		Name: md[metaName], Size: int64(info.Size), Mime: md[metaMime], Mtime: mtime, Ext: md[metaExt],
	}
}

// Info describes the media id names (ErrNotFound: no such media, or it expired).
func (s *Store) Info(ctx context.Context, id string) (Meta, error) {
	key, code, ok := parseID(id)
	if !ok {
		return Meta{}, notFound(id)
	}
	info, err := s.obs.GetInfo(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return Meta{}, notFound(id)
		}
		return Meta{}, internal(err)
	}
	m := metaOf(key, info)
	if info.Deleted || m.Code != code {
		return Meta{}, notFound(id)
	}
	return m, nil
}

// Open reads the bytes of the media id names, streaming from the bucket; the caller closes
// the reader, and ctx must last while it reads.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, Meta, error) {
	key, code, ok := parseID(id)
	if !ok {
		return nil, Meta{}, notFound(id)
	}
	res, err := s.obs.Get(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, Meta{}, notFound(id)
		}
		return nil, Meta{}, internal(err)
	}
	info, err := res.Info()
	if err != nil {
		_ = res.Close()
		return nil, Meta{}, internal(err)
	}
	m := metaOf(key, info)
	if m.Code != code {
		_ = res.Close()
		return nil, Meta{}, notFound(id)
	}
	return res, m, nil
}

// Bytes reads the whole media id names into memory (for media_data in a report).
func (s *Store) Bytes(ctx context.Context, id string) ([]byte, Meta, error) {
	rc, m, err := s.Open(ctx, id)
	if err != nil {
		return nil, Meta{}, err
	}
	defer rc.Close()
	b := make([]byte, m.Size)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, Meta{}, internal(fmt.Errorf("reading media %s: %w", id, err))
	}
	return b, m, nil
}
