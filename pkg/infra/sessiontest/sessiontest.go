// Package sessiontest runs the session service as a process (the openqq-session binary,
// built once per test binary), for the tests of modules that talk to it over NATS, the
// reporter and the poller, without importing it: their modules stay free of the session's.
package sessiontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// Main runs the tests and removes the binary afterwards; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds openqq-session from this checkout, once.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			binErr = fmt.Errorf("sessiontest: cannot find the checkout")
			return
		}
		module := filepath.Join(filepath.Dir(file), "..", "..", "..", "services", "session")
		if binDir, binErr = os.MkdirTemp("", "openqq-sessiontest-"); binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "openqq-session"), "./cmd/openqq-session")
		cmd.Dir = module
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("sessiontest: go build ./cmd/openqq-session (in %s): %w\n%s", module, err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "openqq-session")
}

// Session is a running openqq-session process.
type Session struct {
	cmd    *exec.Cmd
	done   chan error
	states chan string // the new state of every state_change, in order
	once   sync.Once
}

// Start runs openqq-session against the NATS server at natsURL, on the simulated account
// with its QR code in a temporary directory and its health port off; env adds or overrides
// variables (SUBJECT_PREFIX, CONTROL_DELAY, SIM_LOGIN_DELAY, LOG_LEVEL, ...). Its log goes to
// the test's. It stops when the test ends.
func Start(t testing.TB, natsURL string, env map[string]string) *Session {
	t.Helper()
	bin := binary(t)
	vars := map[string]string{
		"NATS_URL": natsURL, "DRIVER": "sim", "SIM_QRCODE_DIR": t.TempDir(), "HEALTH_ADDR": "",
		"SUBJECT_PREFIX": "qq",
	}
	for k, v := range env {
		vars[k] = v
	}
	// Watch the states from before the start: the first ones come quickly.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s := &Session{done: make(chan error, 1), states: make(chan string, 64)}
	if _, err := nc.Subscribe(vars["SUBJECT_PREFIX"]+".events.state_change", func(m *nats.Msg) {
		var ev struct{ Params []string }
		if json.Unmarshal(m.Data, &ev) == nil && len(ev.Params) == 2 {
			select {
			case s.states <- ev.Params[1]:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	s.cmd = exec.Command(bin)
	for k, v := range vars {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	log := &lineWriter{t: t}
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// WaitState waits until the session reports state (a state_change to it).
func (s *Session) WaitState(t testing.TB, state string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case st := <-s.states:
			if st == state {
				return
			}
		case err := <-s.done:
			s.done <- err
			t.Fatalf("sessiontest: openqq-session ended (%v) before state %s", err, state)
		case <-deadline:
			t.Fatalf("sessiontest: no state %s within %s", state, within)
		}
	}
}

// Stop stops the session as a service manager does (SIGTERM), waits for it, and fails the
// test unless it exits cleanly. It does it once; later calls do nothing.
func (s *Session) Stop(t testing.TB) {
	t.Helper()
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("sessiontest: openqq-session: %v", err)
			}
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			t.Errorf("sessiontest: openqq-session did not stop within 20s of SIGTERM")
		}
	})
}

// lineWriter writes the process's output into the test's log, a line at a time.
type lineWriter struct {
	t   testing.TB
	mu  sync.Mutex
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.t.Log("openqq-session: " + string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}
