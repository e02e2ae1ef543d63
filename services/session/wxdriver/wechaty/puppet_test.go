package wechaty_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/internal/conformance"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty"
)

// recordSkip appends a line for this test to the file OPENQQ_SKIPPED names (make test's list
// of skipped suites, printed as a banner), if any.
func recordSkip(t *testing.T, why string) {
	t.Helper()
	if path := os.Getenv("OPENQQ_SKIPPED"); path != "" {
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, _ = fmt.Fprintf(f, "%s: %s\n", t.Name(), why)
			f.Close()
		}
	}
	t.Skip(why)
}

// realPuppet is testdata/puppet/server.mjs: Wechaty's PuppetServer over PuppetMock.
type realPuppet struct {
	t     *testing.T
	addr  string
	stdin io.Writer
	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced at every line
}

func startRealPuppet(t *testing.T, token string) *realPuppet {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		recordSkip(t, "node is not installed (Node 20 runs Wechaty's puppet service)")
	}
	dir, _ := filepath.Abs("testdata/puppet")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "wechaty-puppet-service")); err != nil {
		recordSkip(t, "the puppet service is not installed: make wechaty-puppet")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "server.mjs", addr, token)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &realPuppet{t: t, addr: addr, stdin: stdin, more: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	p.wait("READY", func(l string) bool { return l == "READY" })
	return p
}

// wait waits for a line that match accepts, and returns it.
func (p *realPuppet) wait(what string, match func(string) bool) string {
	p.t.Helper()
	deadline := time.After(30 * time.Second)
	for i := 0; ; {
		p.mu.Lock()
		lines, more := p.lines, p.more
		p.mu.Unlock()
		for ; i < len(lines); i++ {
			if match(lines[i]) {
				return lines[i]
			}
		}
		select {
		case <-more:
		case <-deadline:
			p.t.Fatalf("the puppet service: no %s within 30s; it said %q", what, lines)
		}
	}
}

func (p *realPuppet) do(cmd string) {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		p.t.Fatal(err)
	}
	name, _, _ := strings.Cut(cmd, " ")
	p.wait("OK "+name, func(l string) bool { return l == "OK "+name || strings.HasPrefix(l, "ERR "+name) })
}

// The driver against Wechaty's own puppet service (wechaty-puppet-service's PuppetServer
// over wechaty-puppet-mock): the login through the scan, the roster, messages both ways.
func TestRealPuppetService(t *testing.T) {
	const token = "insecure_openqq_real"
	p := startRealPuppet(t, token)
	var ids map[string]string
	p.do("ids")
	idsLine := p.wait("IDS", func(l string) bool { return strings.HasPrefix(l, "IDS ") })
	if err := json.Unmarshal([]byte(strings.TrimPrefix(idsLine, "IDS ")), &ids); err != nil {
		t.Fatal(err)
	}
	d, err := wechaty.New(wechaty.Config{Endpoint: p.addr, Token: token, QRCodeDir: t.TempDir(), BackoffMax: 200 * time.Millisecond, CallTimeout: 10 * time.Second},
		wxdriver.Params{Account: "real"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s := newSink()
	r := conformance.Runner{Prefix: "wechaty", Fatal: wxdriver.ErrFatal, Run: func(ctx context.Context) error { return d.Run(ctx, s) }}
	r.Start(t)
	s.Wait(t, "the event stream", func() bool { return len(s.States) > 0 })
	p.do("scan")
	s.Wait(t, "a QR code", func() bool { return len(s.QRCodes) > 0 })
	p.do("login")
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

	p.do("say 你好 openqq")
	s.waitText(t, "你好 openqq")
	p.do("roomsay 群里好")
	s.Wait(t, "the room message", func() bool {
		for _, in := range s.received {
			if in.Content == "群里好" && in.Type == wx.GroupMessage && in.GroupID == g.ID && in.SenderID == wang.ID {
				return true
			}
		}
		return false
	})

	pic := []byte("\x89PNG\r\n\x1a\nfrom the mock")
	p.do("image cat.png " + base64.StdEncoding.EncodeToString(pic))
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
	p.wait("the text sent", func(l string) bool {
		return strings.HasPrefix(l, "MSG ") && strings.Contains(l, `"text":"openqq 发来"`) && strings.Contains(l, ids["user"])
	})
	png := "\x89PNG\r\n\x1a\nopenqq"
	if _, err := d.Send(context.Background(), wxdriver.Outgoing{Type: wx.GroupMessage, TargetID: g.ID, Media: media("e2e.png", "image/png", []byte(png))}); err != nil {
		t.Fatalf("send a picture: %v", err)
	}
	p.wait("the picture sent", func(l string) bool {
		return strings.HasPrefix(l, "MSG ") && strings.Contains(l, ids["room"]) && !strings.Contains(l, "群里好")
	})
}

func media(name, mime string, data []byte) *wxdriver.Media {
	return &wxdriver.Media{Meta: wxdriver.MediaMeta{ID: name, Name: name, Mime: mime, Size: int64(len(data))},
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(string(data))), nil
		}}
}
