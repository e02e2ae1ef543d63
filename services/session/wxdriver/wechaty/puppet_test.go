package wechaty_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/internal/conformance"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty/puppettest"
)

// The driver against Wechaty's own puppet service (wechaty-puppet-service's PuppetServer
// over wechaty-puppet-mock): the login through the scan, the roster, messages both ways.
func TestRealPuppetService(t *testing.T) {
	const token = "insecure_openqq_real"
	p := puppettest.Start(t, token)
	ids := p.IDs()
	d, err := wechaty.New(wechaty.Config{Endpoint: p.Addr, Token: token, QRCodeDir: t.TempDir(), BackoffMax: 200 * time.Millisecond, CallTimeout: 10 * time.Second},
		wxdriver.Params{Account: "real"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s := newSink()
	r := conformance.Runner{Prefix: "wechaty", Fatal: wxdriver.ErrFatal, Run: func(ctx context.Context) error { return d.Run(ctx, s) }}
	r.Start(t)
	p.Started()
	p.Do("scan")
	s.Wait(t, "a QR code", func() bool { return len(s.QRCodes) > 0 })
	p.Do("login")
	l := s.Login(t, 1)
	if !l.Scanned {
		t.Error("the login after a scan says no QR code was scanned")
	}
	ro := l.Roster
	wang := ro.Friend("@" + ids["wang"])
	if wang == nil || wang.Markname != "老王" || wang.Name != "王大锤" {
		t.Fatalf("老王 in the roster: %+v (friends %+v)", wang, ro.Friends)
	}
	g := ro.Group("@@" + ids["room"])
	if g == nil || g.Name != "openqq 测试群" || len(g.Member) != 3 {
		t.Fatalf("the room in the roster: %+v", g)
	}
	if ro.User.ID != "@"+ids["user"] || ro.User.Name != "小明" {
		t.Errorf("the user: %+v", ro.User)
	}

	p.Do("say 你好 openqq")
	s.waitText(t, "你好 openqq")
	p.Do("roomsay 群里好")
	s.Wait(t, "the room message", func() bool {
		for _, in := range s.received {
			if in.Content == "群里好" && in.Type == wx.GroupMessage && in.GroupID == g.ID && in.SenderID == wang.ID {
				return true
			}
		}
		return false
	})

	pic := []byte("\x89PNG\r\n\x1a\nfrom the mock")
	p.Do("image cat.png " + base64.StdEncoding.EncodeToString(pic))
	defer func() {
		if t.Failed() {
			s.Snapshot(func() {
				for _, in := range s.received {
					t.Logf("received %s %s %q media %v", in.Type, in.Format, in.Content, in.Media != nil)
					if in.Media != nil {
						t.Logf("media %s %s %q", in.Media.Name, in.Media.Mime, in.Media.Data)
					}
				}
			})
		}
	}()
	s.Wait(t, "the picture from 老王", func() bool {
		for _, in := range s.received {
			if in.Format == wx.FormatMedia && in.SenderID == wang.ID && in.Media != nil && in.Media.Name == "cat.png" && bytes.Equal(in.Media.Data, pic) {
				return true
			}
		}
		return false
	})

	if _, err := d.Send(context.Background(), wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: wang.ID, Content: "openqq 发来"}); err != nil {
		t.Fatalf("send text: %v", err)
	}
	p.Wait("the text sent", func(l string) bool {
		return strings.HasPrefix(l, "MSG ") && strings.Contains(l, `"text":"openqq 发来"`) && strings.Contains(l, ids["user"])
	})
	png := "\x89PNG\r\n\x1a\nopenqq"
	if _, err := d.Send(context.Background(), wxdriver.Outgoing{Type: wx.GroupMessage, TargetID: g.ID, Media: media("e2e.png", "image/png", []byte(png))}); err != nil {
		t.Fatalf("send a picture: %v", err)
	}
	p.Wait("the picture sent", func(l string) bool {
		return strings.HasPrefix(l, "MSG ") && strings.Contains(l, ids["room"]) && !strings.Contains(l, "群里好")
	})
}

func media(name, mime string, data []byte) *wxdriver.Media {
	return &wxdriver.Media{Meta: wxdriver.MediaMeta{ID: name, Name: name, Mime: mime, Size: int64(len(data))},
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(string(data))), nil
		}}
}

// WECHATY_TLS=on against Wechaty's puppet service serving TLS as it does by default (its
// "insecure" certificate, signed by Wechaty's root CA; the server name is the token's SNI):
// the driver trusts Wechaty's CA and logs in.
func TestRealPuppetServiceTLS(t *testing.T) {
	const token = "insecure_openqq-tls"
	p := puppettest.Start(t, token, "tls")
	ids := p.IDs()
	d, err := wechaty.New(wechaty.Config{Endpoint: p.Addr, Token: token, TLS: wechaty.TLSOn, QRCodeDir: t.TempDir(),
		BackoffMax: 200 * time.Millisecond, CallTimeout: 10 * time.Second}, wxdriver.Params{Account: "tls"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s := newSink()
	r := conformance.Runner{Prefix: "wechaty", Fatal: wxdriver.ErrFatal, Run: func(ctx context.Context) error { return d.Run(ctx, s) }}
	r.Start(t)
	p.Started()
	p.Do("scan")
	p.Do("login")
	if l := s.Login(t, 1); l.Roster.Friend("@"+ids["wang"]) == nil {
		t.Fatalf("老王 is not in the roster over TLS: %+v", l.Roster.Friends)
	}
	p.Do("say 你好 TLS")
	s.waitText(t, "你好 TLS")

	// The certificate is for "insecure": another server name is refused.
	wrong, err := wechaty.New(wechaty.Config{Endpoint: p.Addr, Token: token, TLS: wechaty.TLSOn, ServerName: "gw.example.com",
		QRCodeDir: t.TempDir(), CallTimeout: 10 * time.Second}, wxdriver.Params{Account: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wrong.Close() })
	if err := wrong.Run(context.Background(), newSink()); err == nil || !strings.Contains(err.Error(), "gw.example.com") || !strings.Contains(err.Error(), "certificate is for") {
		t.Errorf("Run with another server name: %v, want the certificate refused", err)
	}
}
