package allinone

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/reporter"
)

// stateLog collects the state_change and stop events of one output, in order.
type stateLog struct {
	mu    sync.Mutex
	items []string // "old→new" for a state_change, "stop" for stop
}

func (l *stateLog) add(body []byte) {
	var ev struct {
		PostType string            `json:"post_type"`
		Event    string            `json:"event"`
		Params   []json.RawMessage `json:"params"`
	}
	if json.Unmarshal(body, &ev) != nil || ev.PostType != "event" {
		return
	}
	var s string
	switch ev.Event {
	case "state_change":
		var from, to string
		if len(ev.Params) == 2 && json.Unmarshal(ev.Params[0], &from) == nil && json.Unmarshal(ev.Params[1], &to) == nil {
			s = from + "→" + to
		}
	case "stop":
		s = "stop"
	}
	if s != "" {
		l.mu.Lock()
		l.items = append(l.items, s)
		l.mu.Unlock()
	}
}

func (l *stateLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.items...)
}

// lines splits what the reporter printed.
func lines(s *proctest.SyncBuffer) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// checkChain says what is wrong with a sequence of state changes: each must start where the
// one before ended, the client must end running → stop, and stop must come last.
func checkChain(seq []string, reloginSeen bool) string {
	if len(seq) < 3 {
		return fmt.Sprintf("too short: %v", seq)
	}
	if seq[len(seq)-1] != "stop" || seq[len(seq)-2] != "running→stop" {
		return fmt.Sprintf("does not end with running→stop, then stop: %v", seq)
	}
	running := 0
	for i, s := range seq[:len(seq)-1] {
		if s == "stop" {
			return fmt.Sprintf("stop before the end: %v", seq)
		}
		from, to, _ := strings.Cut(s, "→")
		if i > 0 {
			_, prevTo, _ := strings.Cut(seq[i-1], "→")
			if from != prevTo {
				return fmt.Sprintf("#%d %s does not follow #%d %s: %v", i, s, i-1, seq[i-1], seq)
			}
		}
		if to == "running" {
			running++
		}
	}
	if reloginSeen && running < 2 {
		return fmt.Sprintf("the relogin's second login is missing: %v", seq)
	}
	return ""
}

// Login, relogin and stop_client, with a slow post_api receiver: the receiver gets the
// client's state changes exactly as they happened, stop last, and so does POST_STDOUT; and
// likewise when the run ends by its context (SIGTERM).
func TestLastWordsDelivered(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"stop_client", "sigterm"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			var posted stateLog
			rc := proctest.StartReceiver(t, proctest.ReceiverOptions{
				Respond: func(*proctest.Request) proctest.Answer { return proctest.Answer{Delay: 30 * time.Millisecond} }, // a slow receiver
				Observe: func(r proctest.Request) { posted.add(r.Body) },
				Discard: true, // posted is the record
			})
			out := &proctest.SyncBuffer{}
			cfg := config(t)
			cfg.Reporter = reporter.Config{
				SubjectPrefix: "qq", PostAPI: []string{rc.URL}, PostEvent: true,
				PostStdout: true, Stdout: out, PostConcurrency: 16,
				PostTimeout: 5 * time.Second, PostRetryMin: 50 * time.Millisecond, PostRetryMax: 500 * time.Millisecond,
				APITimeout: 2 * time.Second, PostDrainTimeout: 10 * time.Second,
			}
			r := runAllInOne(t, cfg)
			r.waitRunning()
			if code, m := r.get("relogin"); code != 200 || m["code"] != float64(0) {
				t.Fatalf("relogin: %d %v", code, m)
			}
			waitFor(t, 10*time.Second, "the relogin's second login", func() bool {
				n := 0
				for _, s := range posted.all() {
					if strings.HasSuffix(s, "→running") {
						n++
					}
				}
				return n >= 2
			})
			if how == "stop_client" {
				if code, m := r.get("stop_client"); code != 200 || m["code"] != float64(0) {
					t.Fatalf("stop_client: %d %v", code, m)
				}
			} else {
				r.cancel()
			}
			if err := r.waitReturn(15 * time.Second); err != nil {
				t.Errorf("run ended with %v", err)
			}
			got := posted.all()
			if p := checkChain(got, true); p != "" {
				t.Errorf("post_api: %s", p)
			}
			var printed stateLog
			for _, line := range lines(out) {
				printed.add(line)
			}
			if p := checkChain(printed.all(), true); p != "" {
				t.Errorf("stdout: %s", p)
			}
			if fmt.Sprint(printed.all()) != fmt.Sprint(got) {
				t.Errorf("stdout and post_api differ:\nstdout   %v\npost_api %v", printed.all(), got)
			}
		})
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
