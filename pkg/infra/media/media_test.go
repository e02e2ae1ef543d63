package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/config/configtest"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

const testBucket = "TEST_MEDIA"

// newStore opens a store on a fresh embedded server.
func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, _ := newStoreConn(t, cfg)
	return s
}

// newStoreConn opens a store on a fresh embedded server and answers its connection too.
func newStoreConn(t testing.TB, cfg Config) (*Store, *nats.Conn) {
	t.Helper()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), js, testBucket, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, nc
}

// randomBytes are bytes no sniffer recognises (a fixed seed: the same each run).
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if n > 0 {
		b[0] = 0xfe // no known magic starts with it
	}
	return b
}

// stored is what the bucket holds: its objects and its bytes.
func stored(t testing.TB, s *Store) (objects int, size uint64) {
	t.Helper()
	ctx := context.Background()
	list, err := s.obs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		t.Fatal(err)
	}
	st, err := s.obs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return len(list), st.Size()
}

func TestConfigDefinedOnce(t *testing.T) {
	configtest.DefinedOnce(t, "", func(c *Config) { config.Defaults(c) })
	var c Config
	configtest.FromEmptyEnv(t, "", &c)
	if c.MaxBytes != 20<<20 || c.TTL != 168*time.Hour || c.FetchTimeout != 5*time.Second || c.Replicas != 1 || c.Dir != "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestRoundTrip(t *testing.T) {
	const limit = 3<<20 + 5
	s := newStore(t, Config{MaxBytes: limit})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		size int
	}{
		{"one byte", 1},
		{"1 MB", 1 << 20},
		{"just under the limit", limit - 1},
		{"at the limit", limit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(tc.size)
			m, err := s.Put(ctx, "blob.bin", bytes.NewReader(data), PutHint{})
			if err != nil {
				t.Fatal(err)
			}
			if m.Size != int64(tc.size) {
				t.Fatalf("Put: size %d, want %d", m.Size, tc.size)
			}
			got, bm, err := s.Bytes(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("Bytes: %d bytes differ from the %d put", len(got), len(data))
			}
			if bm != m {
				t.Fatalf("Bytes' meta %+v, Put's %+v", bm, m)
			}
			rc, om, err := s.Open(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			streamed, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil || !bytes.Equal(streamed, data) || om != m {
				t.Fatalf("Open: %d bytes, meta %+v, err %v", len(streamed), om, err)
			}
			im, err := s.Info(ctx, m.ID)
			if err != nil || im != m {
				t.Fatalf("Info: %+v, %v; Put said %+v", im, err, m)
			}
		})
	}
	t.Run("just over the limit", func(t *testing.T) {
		objects, size := stored(t, s)
		_, err := s.Put(ctx, "big.bin", bytes.NewReader(randomBytes(limit+1)), PutHint{})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err %v, want ErrTooLarge", err)
		}
		var st *events.Status
		if !errors.As(err, &st) || st.Code != events.CodeTooLarge {
			t.Fatalf("reply %+v, want code %d", st, events.CodeTooLarge)
		}
		if o, sz := stored(t, s); o != objects || sz != size {
			t.Fatalf("the bucket went from %d objects (%d bytes) to %d (%d bytes): a refused media was stored", objects, size, o, sz)
		}
	})
}

var (
	pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")
	gifHead = []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	jpgHead = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")
	mp4Head = []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
)

func TestInfoFields(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	id := regexp.MustCompile(`^[A-Za-z0-9]+:(\d+)$`)
	for _, tc := range []struct {
		name  string
		data  []byte
		file  string
		hint  PutHint
		want  Meta // ID, Size and (when zero) Mtime are checked apart
		named bool // Name is "<key>.<ext>"
	}{
		{name: "png by its bytes", data: pngHead, file: "cat.png", hint: PutHint{Mtime: 1700000000},
			want: Meta{Code: 3, Type: TypeImage, Name: "cat.png", Path: "cat.png", Mime: "image/png", Ext: "png", Mtime: 1700000000}},
		{name: "gif is an image, as Mojo-Weixin sends it", data: gifHead, file: "x.gif",
			want: Meta{Code: 3, Type: TypeImage, Name: "x.gif", Path: "x.gif", Mime: "image/gif", Ext: "gif"}},
		{name: "jpeg without a name", data: jpgHead,
			want: Meta{Code: 3, Type: TypeImage, Mime: "image/jpeg", Ext: "jpg"}, named: true},
		{name: "mp4 is sent as a file", data: mp4Head, file: "clip.mp4",
			want: Meta{Code: 6, Type: TypeFile, Name: "clip.mp4", Path: "clip.mp4", Mime: "video/mp4", Ext: "mp4"}},
		{name: "unknown bytes take the extension's mime", data: randomBytes(64), file: "hello.amr",
			want: Meta{Code: 6, Type: TypeFile, Name: "hello.amr", Path: "hello.amr", Mime: "audio/amr", Ext: "amr"}},
		{name: "the caller's type and path win", data: randomBytes(64), file: "v.amr", hint: PutHint{Type: TypeVoice, Path: "/tmp/v.amr"},
			want: Meta{Code: 34, Type: TypeVoice, Name: "v.amr", Path: "/tmp/v.amr", Mime: "audio/amr", Ext: "amr"}},
		{name: "the caller's mime wins over the bytes", data: pngHead, file: "e", hint: PutHint{Mime: "image/webp; q=1", Type: TypeEmoticon},
			want: Meta{Code: 47, Type: TypeEmoticon, Name: "e", Path: "e", Mime: "image/webp", Ext: "webp"}},
		{name: "a generic mime is sniffed", data: gifHead, file: "g", hint: PutHint{Mime: "application/octet-stream"},
			want: Meta{Code: 3, Type: TypeImage, Name: "g", Path: "g", Mime: "image/gif", Ext: "gif"}},
		{name: "nothing known: dat", data: []byte{0xfe, 0, 1, 2, 3},
			want: Meta{Code: 6, Type: TypeFile, Mime: "application/octet-stream", Ext: "dat"}, named: true},
		{name: "text", data: []byte("hello"), file: "../../etc/note.txt",
			want: Meta{Code: 6, Type: TypeFile, Name: "note.txt", Path: "note.txt", Mime: "text/plain", Ext: "txt"}},
		{name: "an extension that is no extension is not kept", data: pngHead, file: "x.png", hint: PutHint{Ext: "../../sh"},
			want: Meta{Code: 3, Type: TypeImage, Name: "x.png", Path: "x.png", Mime: "image/png", Ext: "png"}},
		{name: "a client's path is cut to its name", data: []byte("x"), file: `C:\Users\me\a.dat`,
			want: Meta{Code: 6, Type: TypeFile, Name: "a.dat", Path: "a.dat", Mime: "text/plain", Ext: "dat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Unix()
			m, err := s.Put(ctx, tc.file, bytes.NewReader(tc.data), tc.hint)
			if err != nil {
				t.Fatal(err)
			}
			sub := id.FindStringSubmatch(m.ID)
			if sub == nil || sub[1] != strconv.Itoa(tc.want.Code) {
				t.Fatalf("id %q, want <key>:%d", m.ID, tc.want.Code)
			}
			key := m.ID[:len(m.ID)-len(sub[1])-1]
			if m.Size != int64(len(tc.data)) {
				t.Fatalf("size %d, want %d", m.Size, len(tc.data))
			}
			want := tc.want
			want.ID, want.Size = m.ID, m.Size
			if want.Mtime == 0 {
				if m.Mtime < before {
					t.Fatalf("mtime %d, before the Put (%d)", m.Mtime, before)
				}
				want.Mtime = m.Mtime
			}
			if tc.named {
				want.Name = key + "." + want.Ext
				want.Path = want.Name
			}
			if m != want {
				t.Fatalf("Put:\n got %+v\nwant %+v", m, want)
			}
			if got, err := s.Info(ctx, m.ID); err != nil || got != want {
				t.Fatalf("Info:\n got %+v (%v)\nwant %+v", got, err, want)
			}
		})
	}
}

func TestPutRefuses(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		r    io.Reader
		hint PutHint
		kind error
	}{
		{"no reader", nil, PutHint{}, ErrInvalid},
		{"empty", bytes.NewReader(nil), PutHint{}, ErrInvalid},
		{"unknown type", bytes.NewReader([]byte("x")), PutHint{Type: "sticker"}, ErrInvalid},
		{"a failing reader", io.MultiReader(bytes.NewReader(randomBytes(300<<10)), iotestErr{}), PutHint{}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Put(ctx, "x", tc.r, tc.hint)
			var st *events.Status
			if !errors.Is(err, tc.kind) || !errors.As(err, &st) || st.Code == 0 || st.Status == "" {
				t.Fatalf("err %v, want %v with a reply", err, tc.kind)
			}
			if o, sz := stored(t, s); o != 0 || sz != 0 {
				t.Fatalf("the bucket holds %d objects, %d bytes", o, sz)
			}
		})
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestUnknownIDs(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	m, err := s.Put(ctx, "a.txt", bytes.NewReader([]byte("hello")), PutHint{})
	if err != nil {
		t.Fatal(err)
	}
	key := m.ID[:len(m.ID)-2]
	for _, id := range []string{"", "abc", ":3", "abc:3", key + ":47", key, key + ":", key + ":06", "../" + key + ":6", "a.b:3", "*:3", key + ":6:6"} {
		t.Run(id, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				var st *events.Status
				if !errors.Is(err, ErrNotFound) || !errors.As(err, &st) || st.Code != events.CodeNotFound {
					t.Fatalf("%s(%q): %v, want ErrNotFound with code %d", what, id, err, events.CodeNotFound)
				}
			}
			_, err := s.Info(ctx, id)
			check("Info", err)
			_, _, err = s.Bytes(ctx, id)
			check("Bytes", err)
			_, _, err = s.Open(ctx, id)
			check("Open", err)
		})
	}
}

func TestOpenBindsAndUpdates(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := Open(ctx, js, "WX_MEDIA", Config{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Put(ctx, "a", bytes.NewReader([]byte("shared")), PutHint{})
	if err != nil {
		t.Fatal(err)
	}
	// A second service binds the same bucket and reads what the first stored.
	b, err := Open(ctx, js, "WX_MEDIA", Config{TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := b.Bytes(ctx, m.ID); err != nil || string(got) != "shared" {
		t.Fatalf("second store: %q, %v", got, err)
	}
	st, err := b.obs.Status(ctx)
	if err != nil || st.TTL() != 2*time.Hour {
		t.Fatalf("TTL %v (%v), want the second store's 2h", st.TTL(), err)
	}
	if _, err := Open(ctx, js, "WX_MEDIA", Config{Dir: "/nonexistent/media/dir"}); err == nil {
		t.Fatal("a MEDIA_DIR that does not exist was accepted")
	}
	if _, err := Open(ctx, js, "bad.bucket", Config{}); err == nil {
		t.Fatal("a bucket name with a dot was accepted")
	}
}

// Bind is a reader's: it finds no bucket where none was made, and binds an existing one as it
// is, whatever its own MEDIA_TTL says.
func TestBindLeavesTheBucket(t *testing.T) {
	srv := natstest.Start(t)
	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := Bind(ctx, js, "WX_MEDIA", Config{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Bind before any bucket: %v, want ErrNotFound", err)
	}
	if _, err := js.ObjectStore(ctx, "WX_MEDIA"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("Bind made the bucket: %v", err)
	}
	w, err := Open(ctx, js, "WX_MEDIA", Config{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.Put(ctx, "a", bytes.NewReader([]byte("shared")), PutHint{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Bind(ctx, js, "WX_MEDIA", Config{TTL: 5 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := r.Bytes(ctx, m.ID); err != nil || string(got) != "shared" {
		t.Fatalf("reader: %q, %v", got, err)
	}
	if st, err := r.obs.Status(ctx); err != nil || st.TTL() != time.Hour {
		t.Fatalf("TTL %v (%v), want the writer's 1h kept", st.TTL(), err)
	}
}

func TestMediaBucket(t *testing.T) {
	for prefix, want := range map[string]string{"": "QQ_MEDIA", "qq": "QQ_MEDIA", "wx": "WX_MEDIA", "qq.acct-1": "QQ_ACCT_1_MEDIA"} {
		if got := (events.Subjects{Prefix: prefix}).MediaBucket(); got != want {
			t.Errorf("prefix %q: %s, want %s", prefix, got, want)
		}
	}
}

// Put streams: the bucket holds the media's first chunks while the source has not given the
// rest yet. A Put that read the whole source before storing would never see a chunk arrive,
// and its source gives up (the test fails, it does not hang).
func TestPutStreams(t *testing.T) {
	s, nc := newStoreConn(t, Config{})
	chunk := make(chan struct{})
	sub, err := nc.Subscribe("$O."+testBucket+".C.>", func(*nats.Msg) {
		select {
		case chunk <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(4 << 20)
	src := &gatedReader{data: data, gate: 1 << 20, open: chunk}
	m, err := s.Put(context.Background(), "big.bin", src, PutHint{})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, _, err := s.Bytes(context.Background(), m.ID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Bytes: %d bytes, %v", len(got), err)
	}
}

// gatedReader gives its first gate bytes, then waits for a chunk to reach the bucket.
type gatedReader struct {
	data []byte
	off  int
	gate int
	open chan struct{}
	done bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.off >= len(g.data) {
		return 0, io.EOF
	}
	if g.off >= g.gate && !g.done {
		select {
		case <-g.open:
			g.done = true
		case <-time.After(30 * time.Second):
			return 0, errors.New("no chunk reached the bucket while the source was being read: Put does not stream")
		}
	}
	end := len(g.data)
	if !g.done {
		end = g.gate
	}
	n := copy(p, g.data[g.off:end])
	g.off += n
	return n, nil
}

// One store serves every handler of a service at once.
func TestConcurrentUse(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			data := randomBytes(100<<10 + i)
			m, err := s.Put(ctx, "c.bin", bytes.NewReader(data), PutHint{})
			if err == nil {
				var got []byte
				got, _, err = s.Bytes(ctx, m.ID)
				if err == nil && !bytes.Equal(got, data) {
					err = errors.New("the bytes read back differ")
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if o, _ := stored(t, s); o != 8 {
		t.Fatalf("%d objects, want 8", o)
	}
}
