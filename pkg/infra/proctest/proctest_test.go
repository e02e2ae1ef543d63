package proctest_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

func TestFreePortNeverForbiddenNorTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := proctest.MustFreePort(t)
		if proctest.ForbiddenPort(p) || seen[p] {
			t.Fatalf("port %d: forbidden or handed out twice", p)
		}
		seen[p] = true
	}
	for _, p := range []int{5000, 3000, 4222, 4223, 4224, 6222, 6224, 8222, 8224, 8081, 8189} {
		if !proctest.ForbiddenPort(p) {
			t.Errorf("port %d is not forbidden", p)
		}
	}
}

// FreePorts hands out runs of consecutive ports, each free, none forbidden, none twice.
func TestFreePortsConsecutive(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		base := proctest.MustFreePorts(t, 9)
		for p := base; p < base+9; p++ {
			if proctest.ForbiddenPort(p) || seen[p] {
				t.Fatalf("port %d of the run from %d: forbidden or handed out twice", p, base)
			}
			seen[p] = true
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				t.Fatalf("port %d of the run from %d is not free: %v", p, base, err)
			}
			ln.Close()
		}
		if p := proctest.MustFreePort(t); seen[p] {
			t.Fatalf("FreePort handed out %d, a port of a run", p)
		}
	}
}

func TestReceiverRecordsAndAnswers(t *testing.T) {
	r := proctest.StartReceiver(t, proctest.ReceiverOptions{Respond: func(req *proctest.Request) proctest.Answer {
		if req.Method == http.MethodGet {
			return proctest.Answer{Status: http.StatusTeapot}
		}
		return proctest.Answer{ContentType: "application/json", Body: `{"reply":"hi"}`, Delay: 10 * time.Millisecond}
	}})
	req, _ := http.NewRequest(http.MethodPost, r.URL+"?token=x", strings.NewReader(`{"id":1795459194540835}`))
	req.Header.Set("X-Openqq-Attempt", "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"reply":"hi"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("answer: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, err = http.Get(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("GET answered %d", resp.StatusCode)
	}
	got, ok := r.Wait(5*time.Second, func(rs []proctest.Request) bool { return len(rs) == 2 })
	if !ok {
		t.Fatalf("recorded %d requests, want 2", len(got))
	}
	p := got[0]
	if p.Method != http.MethodPost || p.Path != "/post_api" || p.RawQuery != "token=x" || p.Header.Get("X-Openqq-Attempt") != "2" ||
		p.Status != 200 || p.Abandoned || p.ContentLength != int64(len(p.Body)) {
		t.Errorf("recorded %+v", p)
	}
	if id := p.JSON()["id"]; id == nil || id.(interface{ String() string }).String() != "1795459194540835" {
		t.Errorf("JSON id %v", id)
	}
	if got[1].Status != http.StatusTeapot {
		t.Errorf("GET recorded with status %d", got[1].Status)
	}
}

func TestReceiverHoldsAndSeesHangUps(t *testing.T) {
	observed := make(chan proctest.Request, 2)
	r := proctest.StartReceiver(t, proctest.ReceiverOptions{Observe: func(req proctest.Request) { observed <- req }})
	r.Hold()
	client := &http.Client{Timeout: 200 * time.Millisecond}
	if resp, err := client.Post(r.URL, "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
		t.Fatal("a held answer came back")
	}
	if req := <-observed; !req.Abandoned {
		t.Errorf("the caller hung up, but the request is not abandoned: %+v", req)
	}
	done := make(chan int)
	go func() {
		resp, err := http.Post(r.URL, "application/json", strings.NewReader("{}"))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for r.Inflight() == 0 {
		select {
		case <-done:
			t.Fatal("answered while held")
		case <-time.After(time.Millisecond):
		}
	}
	r.Release()
	if code := <-done; code != 200 {
		t.Errorf("released answer: %d", code)
	}
}

// A receiver that goes down refuses connections on its port, and comes back on the same one
// with what it recorded.
func TestReceiverDownAndUp(t *testing.T) {
	r := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	client := &http.Client{Timeout: 5 * time.Second}
	post := func() error {
		resp, err := client.Post(r.URL, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := post(); err != nil {
		t.Fatal(err)
	}
	r.Down()
	if post() == nil {
		t.Fatal("a receiver that is down answered")
	}
	if err := r.Up(); err != nil {
		t.Fatal(err)
	}
	if err := post(); err != nil {
		t.Fatalf("after Up: %v", err)
	}
	if n := len(r.Requests()); n != 2 {
		t.Errorf("recorded %d requests, want 2", n)
	}
}

func TestEnvKeepsOnlyWhatIsSet(t *testing.T) {
	t.Setenv("POST_API", "http://elsewhere")
	t.Setenv("HTTP_PROXY", "http://proxy")
	t.Setenv("PROCTEST_OTHER", "kept")
	env := strings.Join(proctest.Env(map[string]string{"NATS_URL": "nats://127.0.0.1:1"}), "\n")
	if strings.Contains(env, "elsewhere") || strings.Contains(env, "proxy") {
		t.Errorf("the caller's settings leak: %s", env)
	}
	if !strings.Contains(env, "PROCTEST_OTHER=kept") || !strings.Contains(env, "NATS_URL=nats://127.0.0.1:1") {
		t.Errorf("env lacks what it should have")
	}
}

func TestGroupStartsAndStops(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	g, err := proctest.NewGroup(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.StopAll)
	p, err := g.Start("echo", sh, map[string]string{"LOG_LEVEL": "warn"}, "-c", `echo "level=$LOG_LEVEL"; exec sleep 60`)
	if err != nil {
		t.Fatal(err)
	}
	if err := proctest.Poll(t.Context(), 5*time.Second, p, func() bool { return p.Contains("level=warn") }, p.Output); err != nil {
		t.Fatal(err)
	}
	if !p.Signal(syscall.SIGTERM, 5*time.Second) {
		t.Fatal("did not stop on SIGTERM")
	}
	if err := p.Crashed(); err != nil {
		t.Errorf("a signalled process counts as crashed: %v", err)
	}
	q, err := g.Start("fails", sh, nil, "-c", "exit 3")
	if err != nil {
		t.Fatal(err)
	}
	<-q.Done()
	if q.Crashed() == nil {
		t.Error("a process that ended by itself does not count as crashed")
	}
	if _, err := os.Stat(q.LogPath); err != nil {
		t.Errorf("no log file: %v", err)
	}
}

func TestInject(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	sub, err := nc.Subscribe(proctest.InjectSubject, func(m *nats.Msg) {
		if strings.Contains(string(m.Data), `"content":"hi"`) {
			_ = m.Respond([]byte(`{"code":0,"id":42,"status":"success"}`))
			return
		}
		_ = m.Respond([]byte(`{"code":100,"status":"refused"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	r, err := proctest.Inject(nc, proctest.GroupMessage(1, 2, "hi"), 5*time.Second)
	if err != nil || r.Code != 0 || r.ID != 42 {
		t.Errorf("Inject: %+v, %v", r, err)
	}
	r, err = proctest.Inject(nc, []byte(`{"content":"no"}`), 5*time.Second)
	if err != nil || r.Code != 100 {
		t.Errorf("a refusal: %+v, %v", r, err)
	}
}

func TestStartSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds openqq-session (skipped with -short)")
	}
	srv := natstest.Start(t)
	s := proctest.StartSession(t, srv.ClientURL(), map[string]string{"CONTROL_DELAY": "1ms", "SUBJECT_PREFIX": "other"})
	s.WaitState(t, "running", 15*time.Second)
	// It answers on the prefix it was given: the injection endpoint is there.
	nc := natstest.Connect(t, srv)
	if _, err := nc.Request("other.sim.inject", []byte(`{"type":"friend_message","sender_id":2372835507,"content":"hi"}`), 5*time.Second); err != nil {
		t.Fatalf("no injection endpoint under the prefix: %v", err)
	}
	s.Stop(t)
	if ended, err := s.Exited(); !ended || err != nil {
		t.Errorf("after Stop: ended %v, %v", ended, err)
	}
	if s.Output() == "" {
		t.Error("the session's output was not captured")
	}
}

func TestMain(m *testing.M) { proctest.Main(m) }
