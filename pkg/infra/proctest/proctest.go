// Package proctest is the one process harness of openqq's tests and benchmarks: it builds the
// binaries once, hands out free loopback ports, starts and stops processes with their output
// captured, runs a real post_api receiver that records every request, makes the simulated
// account receive things over NATS, runs the session as a process for the modules that must
// not import it (StartSession), and writes a throw-away PKI. deploy's cluster tests, the bench
// scenarios and the reporter's and poller's tests use it.
package proctest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// ---- ports ----

var (
	portsMu sync.Mutex
	used    = map[int]bool{}
)

// ForbiddenPort are the ports `make run` and `make run-cluster` use (the API on 5000 and 3000;
// NATS on 4222, and the cluster's three nodes on 4222-4224, their routes on 6222-6224 and
// their monitoring on 8222-8224; the health servers from 8081 to 8189): a test never takes
// one, so that it runs next to them.
func ForbiddenPort(p int) bool {
	return p == 5000 || p == 3000 || (p >= 4222 && p <= 4224) || (p >= 6222 && p <= 6224) ||
		(p >= 8222 && p <= 8224) || (p >= 8081 && p <= 8189)
}

// FreePort is a loopback port nobody listens on, never a forbidden one and never one this
// process handed out before (a process started later will listen on it).
func FreePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if ForbiddenPort(p) || used[p] {
			continue
		}
		used[p] = true
		return p, nil
	}
	return 0, errors.New("proctest: no free port")
}

// FreePorts is the first of n consecutive loopback ports nobody listens on, none forbidden
// and none handed out before: for a program that takes a base port and counts up from it
// (scripts/run-cluster.sh).
func FreePorts(n int) (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
next:
	for range 200 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		base := ln.Addr().(*net.TCPAddr).Port
		held := []net.Listener{ln}
		release := func() {
			for _, l := range held {
				_ = l.Close()
			}
		}
		if base+n > 65535 {
			release()
			continue
		}
		for p := base; p < base+n; p++ {
			if ForbiddenPort(p) || used[p] {
				release()
				continue next
			}
			if p == base {
				continue
			}
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				release()
				continue next
			}
			held = append(held, l)
		}
		release()
		for p := base; p < base+n; p++ {
			used[p] = true
		}
		return base, nil
	}
	return 0, fmt.Errorf("proctest: no %d consecutive free ports", n)
}

// MustFreePorts is FreePorts for a test.
func MustFreePorts(t testing.TB, n int) int {
	t.Helper()
	p, err := FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// MustFreePort is FreePort for a test.
func MustFreePort(t testing.TB) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Listen listens on a free loopback port in this process.
func Listen() (net.Listener, error) {
	for range 200 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		if ForbiddenPort(ln.Addr().(*net.TCPAddr).Port) {
			_ = ln.Close()
			continue
		}
		return ln, nil
	}
	return nil, errors.New("proctest: no free port")
}

// ---- output ----

// SyncBuffer is an io.Writer that many goroutines may write to (a logger's, a process's
// output) while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ---- the repository ----

// FindRepo walks up from dir to the directory holding go.work: the repository's root.
func FindRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work not found above the working directory: run from the openqq repository")
		}
		dir = parent
	}
}
