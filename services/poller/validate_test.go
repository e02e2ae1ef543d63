package poller_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
)

// syncBuf is a log writer safe for the poller's goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A Location's parameters pass the gateway's checks: %FF (not UTF-8) is refused, never sent as
// "\uFFFD"; and a huge refused Location makes a short log line.
func TestLocationParamsValidated(t *testing.T) {
	const friend = "2372835507"
	huge := "/openqq/not_a_route?" + strings.Repeat("a", 1<<20)
	ps := newPollServer(t,
		"/openqq/send_friend_message?id="+friend+"&content=%FF",
		"/openqq/send_friend_message?id="+friend+"&content=ok&%FF=1",
		huge,
		"/openqq/send_friend_message?id="+friend+"&content=last")
	logs := &syncBuf{}
	e := startLog(t, ps.URL+"/poll", 20*time.Millisecond, 0, false,
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	sent := make(chan *nats.Msg, 16)
	if _, err := e.nc.ChanSubscribe("qq.events.friend_message", sent); err != nil {
		t.Fatal(err)
	}
	// Commands run in order: once "last" is out, the others were refused or sent.
	deadline := time.After(15 * time.Second)
	for done := false; !done; {
		select {
		case m := <-sent:
			var msg events.Message
			if err := json.Unmarshal(m.Data, &msg); err != nil {
				t.Fatal(err)
			}
			if msg.Content != "last" {
				t.Errorf("sent %q: a Location the gateway would refuse went through", msg.Content)
			}
			done = msg.Content == "last"
		case <-deadline:
			t.Fatal("the last command was not sent")
		}
	}
	refused := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if len(line) > 2000 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
		if strings.Contains(line, "poll redirect refused") {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("%d refusals logged, want 3", refused)
	}
}
