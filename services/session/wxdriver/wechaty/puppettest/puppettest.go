// Package puppettest runs Wechaty's real puppet service for tests: testdata/puppet/server.mjs
// of package wechaty (wechaty-puppet-service's PuppetServer over wechaty-puppet-mock's
// PuppetMock, installed by make wechaty-puppet), driven by its Mocker scenario's commands. A
// test that needs it is skipped, and listed in make test's banner of skipped suites
// (OPENQQ_SKIPPED), when node or the npm packages are missing.
package puppettest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Dir is the directory of server.mjs and its node_modules.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "puppet")
}

// RecordSkip skips t, appending a line for it to the file OPENQQ_SKIPPED names (make test's
// list of skipped suites, printed as a banner), if any.
func RecordSkip(t testing.TB, why string) {
	t.Helper()
	if path := os.Getenv("OPENQQ_SKIPPED"); path != "" {
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, _ = fmt.Fprintf(f, "%s: %s\n", t.Name(), why)
			f.Close()
		}
	}
	t.Skip(why)
}

// Service is server.mjs running on a free loopback port.
type Service struct {
	// Addr is its endpoint (host:port), for WECHATY_ENDPOINT; Token its token.
	Addr, Token string

	t     testing.TB
	stdin io.Writer
	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced at every line
}

// Start runs the service with token until t ends, and waits until it serves; mode is
// server.mjs's third argument ("tls": serve TLS with Wechaty's "insecure" certificate; none:
// no TLS). It skips t when node or the npm packages are missing.
func Start(t testing.TB, token string, mode ...string) *Service {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		RecordSkip(t, "node is not installed (Node 20 runs Wechaty's puppet service)")
	}
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "wechaty-puppet-service")); err != nil {
		RecordSkip(t, "the puppet service is not installed: make wechaty-puppet")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append([]string{"server.mjs", addr, token}, mode...)...)
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
	p := &Service{Addr: addr, Token: token, t: t, stdin: stdin, more: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		stdin.Close() // server.mjs stops its server and exits
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
	p.Wait("READY", func(l string) bool { return l == "READY" })
	return p
}

// Wait waits for a line that match accepts (any line so far counts), and returns it.
func (p *Service) Wait(what string, match func(string) bool) string {
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

// Prefixed waits for a line starting with prefix+" " whose rest match accepts, and returns
// the rest.
func (p *Service) Prefixed(prefix string, match func(rest string) bool) string {
	p.t.Helper()
	l := p.Wait(prefix, func(l string) bool {
		rest, ok := strings.CutPrefix(l, prefix+" ")
		return ok && match(rest)
	})
	return strings.TrimPrefix(l, prefix+" ")
}

// Do runs a command of the scenario (server.mjs's commands) and waits until it is done.
func (p *Service) Do(cmd string) {
	p.t.Helper()
	p.mu.Lock()
	from := len(p.lines)
	p.mu.Unlock()
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		p.t.Fatal(err)
	}
	name, _, _ := strings.Cut(cmd, " ")
	seen := 0
	l := p.Wait("OK "+name, func(l string) bool {
		seen++
		return seen > from && (l == "OK "+name || strings.HasPrefix(l, "ERR "+name+" "))
	})
	if strings.HasPrefix(l, "ERR ") {
		p.t.Fatalf("the puppet service: %s: %s", cmd, l)
	}
}

// IDs are the puppet ids of the scenario's contacts and room: user, wang, mei, wolf, room.
func (p *Service) IDs() map[string]string {
	p.t.Helper()
	p.Do("ids")
	var ids map[string]string
	if err := json.Unmarshal([]byte(p.Prefixed("IDS", func(string) bool { return true })), &ids); err != nil {
		p.t.Fatal(err)
	}
	return ids
}

// Started waits until a client started the puppet: its event stream is open.
func (p *Service) Started() {
	p.t.Helper()
	p.Wait("STARTED", func(l string) bool { return l == "STARTED" })
}

// File is a file the puppet saw in a message (FILE lines): its name and bytes.
type File struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// WaitFile waits for a file whose name and bytes match accepts.
func (p *Service) WaitFile(what string, match func(File) bool) File {
	p.t.Helper()
	var f File
	p.Prefixed("FILE", func(rest string) bool {
		var got File
		if json.Unmarshal([]byte(rest), &got) != nil {
			return false
		}
		f = got
		return match(got)
	})
	return f
}
