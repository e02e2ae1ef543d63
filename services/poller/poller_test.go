package poller_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/poller"
)

// pollServer is a real poll_api on loopback: it answers each GET with the next scripted
// Location (or 204 once the script is done) and records when polls came and what was POSTed.
type pollServer struct {
	*httptest.Server
	mu      sync.Mutex
	script  []string
	polls   []time.Time
	reports []report
}

type report struct {
	route string
	body  string
}

func newPollServer(t *testing.T, script ...string) *pollServer {
	ps := &pollServer{script: script}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			ps.reports = append(ps.reports, report{r.Header.Get("X-Openqq-Route"), string(b)})
			return
		}
		ps.polls = append(ps.polls, time.Now())
		if len(ps.script) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Location", ps.script[0])
		ps.script = ps.script[1:]
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(ps.Close)
	return ps
}

func (ps *pollServer) pollTimes() []time.Time {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]time.Time(nil), ps.polls...)
}

// trap counts every request: a refused Location must never reach it.
func trap(t *testing.T) (*httptest.Server, func() int) {
	var mu sync.Mutex
	hits := 0
	s := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s, func() int { mu.Lock(); defer mu.Unlock(); return hits }
}

type env struct {
	nc *nats.Conn
}

func TestMain(m *testing.M) { proctest.Main(m) }

// start runs a session (the openqq-session binary) with the simulated account and a poller on a fresh NATS server.
func start(t *testing.T, pollURL string, interval, loginDelay time.Duration, report bool) *env {
	t.Helper()
	return startLog(t, pollURL, interval, loginDelay, report, natstest.Logger(t))
}

func startLog(t *testing.T, pollURL string, interval, loginDelay time.Duration, report bool, log *slog.Logger) *env {
	t.Helper()
	srv := natstest.Start(t)
	proctest.StartSession(t, srv.ClientURL(), map[string]string{"CONTROL_DELAY": "1ms", "SIM_LOGIN_DELAY": loginDelay.String()})
	ctx, cancel := context.WithCancel(context.Background())
	p, err := poller.New(natstest.Connect(t, srv), poller.Config{
		PollAPI: pollURL, PollInterval: interval, PollTimeout: 2 * time.Second, PollReport: report,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &env{nc: natstest.Connect(t, srv)}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A 302 to send_friend_message makes the message go out, through our own API, even though the
// Location names another host: that host is never contacted.
func TestRedirectBecomesAPICall(t *testing.T) {
	other, hits := trap(t)
	ps := newPollServer(t, other.URL+"/openqq/send_friend_message?id=2372835507&content=%E8%BD%AE%E8%AF%A2")
	e := start(t, ps.URL+"/poll", 50*time.Millisecond, 0, true)
	sent := make(chan *nats.Msg, 8)
	if _, err := e.nc.ChanSubscribe("qq.events.friend_message", sent); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sent:
		var msg events.Message
		if err := json.Unmarshal(m.Data, &msg); err != nil {
			t.Fatal(err)
		}
		if msg.Content != "轮询" || msg.Receiver == nil || msg.Receiver.ID != 2372835507 || msg.PostType != events.PostSendMessage {
			t.Fatalf("sent %s", m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the redirect's message was not sent")
	}
	if n := hits(); n != 0 {
		t.Errorf("the Location's host was contacted %d times", n)
	}
	// POLL_REPORT: the API's reply goes back to the poll server.
	waitFor(t, "poll report", func() bool {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		return len(ps.reports) > 0
	})
	ps.mu.Lock()
	r := ps.reports[0]
	ps.mu.Unlock()
	var reply events.SendReply
	if r.route != "send_friend_message" || json.Unmarshal([]byte(r.body), &reply) != nil || reply.Code != 0 || reply.ID == nil {
		t.Errorf("report %+v", r)
	}
}

// Locations that are not /openqq/<route> are refused: nothing is fetched, and polling goes on.
func TestHostileLocationsRefused(t *testing.T) {
	tr, hits := trap(t)
	ps := newPollServer(t, tr.URL+"/etc/passwd", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/",
		tr.URL+"/openqq/../etc/passwd", tr.URL+"/openqq/not_a_route")
	start(t, ps.URL+"/poll", 20*time.Millisecond, 0, false)
	waitFor(t, "polls past the hostile script", func() bool { return len(ps.pollTimes()) >= 7 })
	if n := hits(); n != 0 {
		t.Fatalf("a refused Location was fetched %d times", n)
	}
}

// No poll before the client is running; and after each answer, the interval passes before the
// next poll.
func TestPollsOnlyWhileRunningAndKeepsTheInterval(t *testing.T) {
	ps := newPollServer(t)
	const interval = 100 * time.Millisecond
	const login = 300 * time.Millisecond // per login state: running comes after 3 of them
	began := time.Now()
	start(t, ps.URL+"/poll", interval, login, false)
	waitFor(t, "4 polls", func() bool { return len(ps.pollTimes()) >= 4 })
	polls := ps.pollTimes()
	if first := polls[0].Sub(began); first < 3*login {
		t.Errorf("first poll %s after start, before the client could be running (%s)", first, 3*login)
	}
	for i := 1; i < len(polls); i++ {
		if gap := polls[i].Sub(polls[i-1]); gap < interval {
			t.Errorf("poll %d came %s after the previous one, under the %s interval", i, gap, interval)
		}
	}
}

func TestNewRefusesBadPollAPI(t *testing.T) {
	for _, u := range []string{"ftp://x/", "not a url", "http://", "/relative"} {
		if _, err := poller.New(nil, poller.Config{PollAPI: u}, nil); err == nil {
			t.Errorf("New accepted POLL_API %q", u)
		}
	}
}
