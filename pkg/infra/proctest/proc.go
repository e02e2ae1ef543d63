package proctest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// productEnv are the prefixes of the variables openqq, Go's runtime and HTTP proxies read: a
// started process gets only the values its caller gives it, never the ones of the shell that
// runs the tests.
var productEnv = []string{
	"NATS_", "POST_", "HTTP_", "HTTPS_", "NO_PROXY", "ALL_PROXY", "HEALTH_", "API_", "SIM_",
	"POLL_", "LOG_", "STREAM_", "CHECK_EVENT", "OUTBOX_", "DRIVER", "ACCOUNT", "CONTROL_DELAY",
	"SUBJECT_PREFIX", "ACCESS_TOKEN", "MAX_BODY_BYTES", "SEND_", "ONEBOT_", "CPUPROFILE",
	"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "HOST_ID", "LEASE_TTL", "DEFAULT_CLIENT", "KV_REPLICAS",
}

// Env is the environment of a process: this one's without any product variable, plus set.
func Env(set map[string]string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range productEnv {
			if strings.HasPrefix(strings.ToUpper(k), p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// Group starts processes and keeps their logs, one file each, in its directory.
type Group struct {
	// Bin is where binaries named without a path are (Binaries' or Build's directory).
	Bin string
	// Dir is the processes' working directory; their logs go to Dir/logs.
	Dir string

	mu    sync.Mutex
	procs []*Proc
	seq   int
}

// NewGroup is a group running the binaries of bin in dir.
func NewGroup(bin, dir string) (*Group, error) {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	return &Group{Bin: bin, Dir: dir}, nil
}

// Start runs bin (a name in g.Bin, or a path) as name, with env on top of a clean environment
// (Env). The process is killed if this one dies.
func (g *Group) Start(name, bin string, env map[string]string, args ...string) (*Proc, error) {
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(g.Bin, bin)
	}
	g.mu.Lock()
	g.seq++
	logPath := filepath.Join(g.Dir, "logs", fmt.Sprintf("%03d-%s.log", g.seq, name))
	g.mu.Unlock()
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = Env(env)
	cmd.Dir = g.Dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p, nil
}

// Procs are the processes started so far, in order.
func (g *Group) Procs() []*Proc {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Proc(nil), g.procs...)
}

// StopAll stops every process, the latest started first.
func (g *Group) StopAll() {
	procs := g.Procs()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
}

// LogOutputs writes each process's output (its last lines lines) into the test's log: call it
// when a test failed.
func (g *Group) LogOutputs(t testing.TB, lines int) {
	t.Helper()
	for _, p := range g.Procs() {
		ended, err := p.Exited()
		state := "running"
		if ended {
			state = fmt.Sprintf("exit: %v", err)
		}
		t.Logf("---- output of %s (%s) ----\n%s", p.Name, state, TailLines(PrefixLines(p.Name, p.Output()), lines))
	}
}

// Proc is a process a Group started.
type Proc struct {
	Name    string
	LogPath string

	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	mu      sync.Mutex
	stopped bool
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process ended, and how, if it did.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Signal sends sig and waits up to timeout for the process to end; it reports whether it did.
func (p *Proc) Signal(sig syscall.Signal, timeout time.Duration) bool {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// StopWithin ends the process with SIGTERM, or SIGKILL after timeout; it reports whether
// SIGTERM was enough.
func (p *Proc) StopWithin(timeout time.Duration) bool {
	if p.Signal(syscall.SIGTERM, timeout) {
		return true
	}
	p.Signal(syscall.SIGKILL, 5*time.Second)
	return false
}

// Stop ends the process: SIGTERM, then SIGKILL after 5 s. It is safe to call twice.
func (p *Proc) Stop() { p.StopWithin(5 * time.Second) }

// Crashed is an error if the process ended without being signalled.
func (p *Proc) Crashed() error {
	p.mu.Lock()
	stopped := p.stopped
	p.mu.Unlock()
	if ended, err := p.Exited(); ended && !stopped {
		return fmt.Errorf("%s ended by itself (%v); log:\n%s", p.Name, err, p.Tail(3000))
	}
	return nil
}

// Output is everything the process wrote so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Contains reports whether the process wrote s.
func (p *Proc) Contains(s string) bool { return strings.Contains(p.Output(), s) }

// Tail is the last n bytes of the output.
func (p *Proc) Tail(n int) string {
	b := p.Output()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return b
}

// LogProblems counts the log lines at level ERROR and the panics, and returns a few of them.
func (p *Proc) LogProblems() (int, []string) {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return 0, nil
	}
	defer f.Close()
	n := 0
	var some []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "level=ERROR") || strings.HasPrefix(line, "panic:") || strings.Contains(line, "fatal error:") ||
			strings.Contains(line, "[ERR]") || strings.Contains(line, "Slow Consumer") {
			n++
			if len(some) < 3 {
				if len(line) > 300 {
					line = line[:300] + "…"
				}
				some = append(some, line)
			}
		}
	}
	return n, some
}

// PrefixLines puts "[name] " before every line of s.
func PrefixLines(name, s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(&b, "[%s] %s\n", name, sc.Text())
	}
	return b.String()
}

// TailLines keeps the last n lines of s.
func TailLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("... %d lines left out ...\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
}

// ---- waiting for a process ----

// HTTPClient never uses a proxy.
var HTTPClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}

// Get returns the status, body and header of a GET, or status 0 and the error's text.
func Get(url string, timeout time.Duration) (int, string, http.Header) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error(), nil
	}
	resp, err := HTTPClient.Do(req)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// ErrExited is returned by a wait whose process ended first.
var ErrExited = errors.New("the process ended")

// Poll calls ok every 20 ms until it holds, ctx ends, timeout passes or p (if not nil) ends.
// It is for what no event announces: a port that starts answering, a state another process
// reaches. last describes the latest attempt for the error.
func Poll(ctx context.Context, timeout time.Duration, p *Proc, ok func() bool, last func() string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var done <-chan struct{}
	if p != nil {
		done = p.done
	}
	for {
		if ok() {
			return nil
		}
		select {
		case <-done:
			_, err := p.Exited()
			return fmt.Errorf("%s: %w (%v); last: %s", p.Name, ErrExited, err, last())
		case <-ctx.Done():
			return fmt.Errorf("not within %s: %w; last: %s", timeout, ctx.Err(), last())
		case <-tick.C:
		}
	}
}

// WaitHTTP waits until url answers 200, failing when p ends or timeout passes.
func WaitHTTP(ctx context.Context, p *Proc, url string, timeout time.Duration) error {
	var status int
	var body string
	err := Poll(ctx, timeout, p, func() bool {
		status, body, _ = Get(url, time.Second)
		return status == http.StatusOK
	}, func() string { return fmt.Sprintf("%s: %d %s", url, status, body) })
	return err
}
