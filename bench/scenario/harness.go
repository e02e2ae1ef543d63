package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// Harness builds the binaries once and starts, watches and stops the processes of a run
// (proctest's group: each process's output goes to Tmp/logs).
type Harness struct {
	Cfg  Config
	Repo string // the repository root (where go.work is)
	Bin  string // the built binaries
	Tmp  string // stores, rosters, logs: removed by Close
	// Log receives progress lines.
	Log io.Writer
	// ProfileDir, when set (BENCH_PROFILE=1), is where the hosts scenario writes CPU profiles
	// of its many-accounts processes under its API and events loads.
	ProfileDir string

	group *proctest.Group
	mu    sync.Mutex
	seq   int
}

// Binaries of a run, in Harness.Bin.
const (
	binAllInOne = proctest.BinAllInOne
	binSession  = proctest.BinSession
	binGateway  = proctest.BinGateway
	binReporter = proctest.BinReporter
	binNATS     = proctest.BinNATS
	binProfiled = proctest.BinProfiled
)

// NewHarness builds every binary into a new temporary directory. Close removes it.
func NewHarness(ctx context.Context, cfg Config, repo string, log io.Writer) (*Harness, error) {
	if log == nil {
		log = io.Discard
	}
	tmp, err := os.MkdirTemp("", "openqq-bench-")
	if err != nil {
		return nil, err
	}
	h := &Harness{Cfg: cfg, Repo: repo, Bin: filepath.Join(tmp, "bin"), Tmp: tmp, Log: log}
	if h.group, err = proctest.NewGroup(h.Bin, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	h.logf("building into %s", h.Bin)
	start := time.Now()
	if err := proctest.Build(ctx, repo, h.Bin, binAllInOne, binSession, binGateway, binReporter, binNATS); err != nil {
		h.Close()
		return nil, err
	}
	h.logf("built in %s", time.Since(start).Round(time.Millisecond))
	return h, nil
}

// BuildProfiled builds openqq-profiled, the all-in-one with a CPU profile (CPUPROFILE).
func (h *Harness) BuildProfiled(ctx context.Context) error {
	return proctest.Build(ctx, h.Repo, h.Bin, binProfiled)
}

// Close stops every process still running and removes the temporary directory, unless
// BENCH_KEEP=1 asks to keep it (the processes' logs are in its logs/).
func (h *Harness) Close() {
	h.StopAll()
	if os.Getenv("BENCH_KEEP") == "1" {
		h.logf("kept %s (BENCH_KEEP=1)", h.Tmp)
		return
	}
	_ = os.RemoveAll(h.Tmp)
}

// StopAll stops every process still running, the latest first.
func (h *Harness) StopAll() { h.group.StopAll() }

func (h *Harness) logf(format string, a ...any) {
	fmt.Fprintf(h.Log, "[bench] "+format+"\n", a...)
}

// Dir makes a new directory under the run's temporary directory.
func (h *Harness) Dir(name string) string {
	h.mu.Lock()
	h.seq++
	n := h.seq
	h.mu.Unlock()
	d := filepath.Join(h.Tmp, fmt.Sprintf("%s-%d", name, n))
	_ = os.MkdirAll(d, 0o755)
	return d
}

// ---- processes ----

// Proc is a process the harness started. Its output goes to a log file.
type Proc = proctest.Proc

// Start runs a binary of h.Bin (or an absolute path) with env on top of a clean environment;
// its log level is warn and its health server off unless env says otherwise.
func (h *Harness) Start(name, bin string, env map[string]string, args ...string) (*Proc, error) {
	set := map[string]string{"LOG_LEVEL": "warn", "HEALTH_ADDR": ""}
	for k, v := range env {
		set[k] = v
	}
	return h.group.Start(name, bin, set, args...)
}

// RSS is a process's resident set in bytes (VmRSS).
func RSS(p *Proc) (int64, error) { return rssOf(p.Pid()) }

func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// PeakRSS samples a process's RSS every 50 ms until stop is called, which returns the highest.
func PeakRSS(p *Proc) (stop func() int64) {
	var (
		mu   sync.Mutex
		peak int64
	)
	sample := func() {
		if r, err := RSS(p); err == nil {
			mu.Lock()
			peak = max(peak, r)
			mu.Unlock()
		}
	}
	sample()
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() int64 {
		close(quit)
		<-done
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// ---- ports ----

// ---- topologies ----

// System is a running openqq: its API URL, its NATS URL and its processes.
type System struct {
	API  string // http://127.0.0.1:port
	NATS string // nats://127.0.0.1:port
	// Main is the process that holds the session (the all-in-one, or openqq-session).
	Main  *Proc
	Procs []*Proc
	// Ready is the API path polled until the system answers (with an "account"): QQ's
	// get_user_info unless set.
	Ready string
	mu    sync.Mutex
}

func (s *System) add(p *Proc) {
	s.mu.Lock()
	s.Procs = append(s.Procs, p)
	s.mu.Unlock()
}

func (s *System) procs() []*Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Proc(nil), s.Procs...)
}

// Stop stops the system's processes, the latest started first.
func (s *System) Stop() {
	procs := s.procs()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
}

// Crashed is an error if a process of the system ended by itself.
func (s *System) Crashed() error {
	var errs []error
	for _, p := range s.procs() {
		errs = append(errs, p.Crashed())
	}
	return errors.Join(errs...)
}

// Problems sums the error lines of the system's logs.
func (s *System) Problems() (int, []string) {
	total := 0
	var some []string
	for _, p := range s.procs() {
		n, lines := p.LogProblems()
		total += n
		for _, l := range lines {
			some = append(some, p.Name+": "+l)
		}
	}
	return total, some
}

// AllInOne starts the all-in-one binary with env on top of the harness's settings and waits
// until get_user_info answers.
func (h *Harness) AllInOne(ctx context.Context, env map[string]string) (*System, error) {
	return h.allInOne(ctx, binAllInOne, env)
}

func (h *Harness) allInOne(ctx context.Context, bin string, env map[string]string) (*System, error) {
	natsPort, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	set := map[string]string{
		"NATS_PORT":      strconv.Itoa(natsPort),
		"NATS_STORE_DIR": h.Dir("nats"),
		"HTTP_ADDR":      "127.0.0.1:" + strconv.Itoa(httpPort),
		"SIM_QRCODE_DIR": h.Dir("qrcode"),
		// The QQ rows measure one account, as before Openwx; the Openwx rows switch it on.
		"WX_ENABLED": "false",
	}
	for k, v := range env {
		set[k] = v
	}
	p, err := h.Start("openqq", bin, set)
	if err != nil {
		return nil, err
	}
	s := &System{
		API: "http://127.0.0.1:" + strconv.Itoa(httpPort), NATS: "nats://127.0.0.1:" + strconv.Itoa(natsPort),
		Main: p, Procs: []*Proc{p},
	}
	if err := waitAPI(ctx, s, 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// NATSServer starts nats-server as deploy/nats.conf configures it (max_payload 64MB,
// max_pending 256MB, JetStream on a file store) on a free port.
func (h *Harness) NATSServer(ctx context.Context) (*Proc, string, error) {
	return h.natsServer(ctx, "", "")
}

// natsServer is NATSServer with more lines at the top of its configuration and in its
// jetstream block.
func (h *Harness) natsServer(ctx context.Context, top, jetstream string) (*Proc, string, error) {
	port, err := proctest.FreePort()
	if err != nil {
		return nil, "", err
	}
	dir := h.Dir("nats-server")
	conf := fmt.Sprintf("host: 127.0.0.1\nport: %d\nmax_payload: 64MB\nmax_pending: 256MB\n%sjetstream {\n  store_dir: %q\n%s}\n", port, top, filepath.Join(dir, "store"), jetstream)
	confPath := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	p, err := h.Start("nats-server", binNATS, nil, "--config", confPath)
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p, "nats://" + addr, nil
		}
		if ended, _ := p.Exited(); ended || time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop()
			return nil, "", fmt.Errorf("nats-server not listening on %s: %v; log:\n%s", addr, err, p.Tail(2000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bothSystems starts the all-in-one and the multi-process system (with its gateway), the two
// topologies the API rows compare; on an error nothing is left running.
func (h *Harness) bothSystems(ctx context.Context) (aio, multi *System, err error) {
	if aio, err = h.AllInOne(ctx, nil); err != nil {
		return nil, nil, err
	}
	if multi, err = h.Cluster(ctx, true, nil); err != nil {
		aio.Stop()
		return nil, nil, err
	}
	return aio, multi, nil
}

// Cluster starts nats-server, openqq-session, and (with gateway) openqq-gateway, each its own
// process, and waits until the session answers (through the gateway, or over NATS).
func (h *Harness) Cluster(ctx context.Context, gateway bool, sessionEnv map[string]string) (*System, error) {
	ns, natsURL, err := h.NATSServer(ctx)
	if err != nil {
		return nil, err
	}
	s := &System{NATS: natsURL, Procs: []*Proc{ns}}
	set := map[string]string{"NATS_URL": natsURL, "SIM_QRCODE_DIR": h.Dir("qrcode")}
	for k, v := range sessionEnv {
		set[k] = v
	}
	sess, err := h.Start("openqq-session", binSession, set)
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.Main = sess
	s.add(sess)
	if gateway {
		port, err := proctest.FreePort()
		if err != nil {
			s.Stop()
			return nil, err
		}
		gw, err := h.Start("openqq-gateway", binGateway, map[string]string{
			"NATS_URL": natsURL, "HTTP_ADDR": "127.0.0.1:" + strconv.Itoa(port),
		})
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.add(gw)
		s.API = "http://127.0.0.1:" + strconv.Itoa(port)
		s.Ready = readyPath(sessionEnv)
		if err := waitAPI(ctx, s, 30*time.Second); err != nil {
			s.Stop()
			return nil, err
		}
		return s, nil
	}
	if err := waitSessionNATS(ctx, s, 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// readyPath is the get_user_info of the platform a session's env names.
func readyPath(env map[string]string) string {
	if env["PLATFORM"] == wx.Prefix {
		return wx.APIPath(wx.RouteGetUserInfo)
	}
	return events.APIPath(events.RouteGetUserInfo)
}

// Reporter starts one openqq-reporter against the system's NATS, and waits until it is
// connected (its /readyz).
func (h *Harness) Reporter(ctx context.Context, s *System, env map[string]string) (*Proc, error) {
	port, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	set := map[string]string{"NATS_URL": s.NATS, "HEALTH_ADDR": "127.0.0.1:" + strconv.Itoa(port)}
	for k, v := range env {
		set[k] = v
	}
	p, err := h.Start("openqq-reporter", binReporter, set)
	if err != nil {
		return nil, err
	}
	s.add(p)
	url := "http://" + set["HEALTH_ADDR"] + "/readyz"
	if err := pollHTTP(ctx, url, 30*time.Second, p, func(status int, _ []byte) bool { return status == 200 }); err != nil {
		return nil, err
	}
	return p, nil
}
