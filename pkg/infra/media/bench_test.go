package media

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkMedia compares the store with the object store it is built on, in the same run and
// on the same server: Put+Bytes of 1 MB against PutBytes+GetBytes (the ratio of their ns/op is
// the store's cost), and a 10 MB Put from a stream against a 10 MB PutBytes (B/op shows that
// Put streams: it holds a chunk, not the media; both include the embedded server's own
// allocations, which run in this process).
//
// With MEDIA_BENCH_NATS_URL set (a nats-server of its own, -js), the server's allocations stay
// out of this process and B/op is the client's alone.
func BenchmarkMedia(b *testing.B) {
	var s *Store
	if u := os.Getenv("MEDIA_BENCH_NATS_URL"); u != "" {
		nc, err := nats.Connect(u)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		_ = js.DeleteObjectStore(context.Background(), testBucket)
		if s, err = Open(context.Background(), js, testBucket, Config{}); err != nil {
			b.Fatal(err)
		}
	} else {
		s = newStore(b, Config{})
	}
	ctx := context.Background()
	oneMB := randomBytes(1 << 20)
	tenMB := randomBytes(10 << 20)

	b.Run("raw-PutBytes+GetBytes-1MB", func(b *testing.B) {
		b.SetBytes(int64(len(oneMB)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			name := "raw" + strconv.Itoa(i)
			if _, err := s.obs.PutBytes(ctx, name, oneMB); err != nil {
				b.Fatal(err)
			}
			got, err := s.obs.GetBytes(ctx, name)
			if err != nil || len(got) != len(oneMB) {
				b.Fatal(len(got), err)
			}
			b.StopTimer()
			_ = s.obs.Delete(ctx, name)
			b.StartTimer()
		}
	})
	b.Run("store-Put+Bytes-1MB", func(b *testing.B) {
		b.SetBytes(int64(len(oneMB)))
		b.ReportAllocs()
		for b.Loop() {
			m, err := s.Put(ctx, "a.bin", bytes.NewReader(oneMB), PutHint{})
			if err != nil {
				b.Fatal(err)
			}
			got, _, err := s.Bytes(ctx, m.ID)
			if err != nil || len(got) != len(oneMB) {
				b.Fatal(len(got), err)
			}
			b.StopTimer()
			_ = s.obs.Delete(ctx, m.ID[:len(m.ID)-2])
			b.StartTimer()
		}
	})
	b.Run("raw-PutBytes-10MB", func(b *testing.B) {
		b.SetBytes(int64(len(tenMB)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			name := "raw10-" + strconv.Itoa(i)
			if _, err := s.obs.PutBytes(ctx, name, tenMB); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = s.obs.Delete(ctx, name)
			b.StartTimer()
		}
	})
	b.Run("store-Put-10MB-stream", func(b *testing.B) {
		b.SetBytes(int64(len(tenMB)))
		b.ReportAllocs()
		for b.Loop() {
			// onlyReader hides bytes.Reader's WriterTo, so that nothing but Read is used
			m, err := s.Put(ctx, "big.bin", onlyReader{bytes.NewReader(tenMB)}, PutHint{})
			if err != nil || m.Size != int64(len(tenMB)) {
				b.Fatal(m.Size, err)
			}
			b.StopTimer()
			_ = s.obs.Delete(ctx, m.ID[:len(m.ID)-2])
			b.StartTimer()
		}
	})
}

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
