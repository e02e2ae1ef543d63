package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
)

// sse is one event of GET /openqq/events.
type sse struct{ id, event, data string }

// sseClient is an open /openqq/events stream, read into events.
type sseClient struct {
	t      *testing.T
	events chan sse
	ended  chan error
}

// openEvents opens GET /openqq/events?query and checks it is a stream; it fails the test
// with the answer otherwise. It waits for the stream QQ_EVENTS, which the session creates
// with its first item, while the answer is 503.
func (e *env) openEvents(query string) *sseClient {
	e.t.Helper()
	resp, body := e.streamRequest(query)
	for deadline := time.Now().Add(10 * time.Second); resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		resp, body = e.streamRequest(query)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("GET /openqq/events?%s: HTTP %d %s %s", query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	c := &sseClient{t: e.t, events: make(chan sse, 1024), ended: make(chan error, 1)}
	go func() {
		br := bufio.NewReader(resp.Body)
		var ev sse
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				c.ended <- err
				return
			}
			line = strings.TrimSuffix(line, "\n")
			field, value, _ := strings.Cut(line, ": ")
			switch field {
			case "":
				if ev != (sse{}) {
					c.events <- ev
				}
				ev = sse{}
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data = value
			}
		}
	}()
	return c
}

// streamRequest sends GET /openqq/events?query with a client that does not time a stream
// out; a 200 answer's body is left open (closed when the test ends), another is read.
func (e *env) streamRequest(query string) (*http.Response, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/openqq/events?"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("GET /openqq/events: %v", err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// next waits for the next event named name.
func (c *sseClient) next(name string) sse {
	c.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-c.events:
			if ev.event == name {
				return ev
			}
		case err := <-c.ended:
			c.t.Fatalf("the stream ended (%v) before a %s event", err, name)
		case <-timeout:
			c.t.Fatalf("no %s event within 10s", name)
		}
	}
}

// lastStored is the last item stored on qq.events.<name>: its sequence and JSON.
func (e *env) lastStored(name string) (uint64, []byte) {
	e.t.Helper()
	js, err := jetstream.New(e.nc)
	if err != nil {
		e.t.Fatal(err)
	}
	stream, err := js.Stream(context.Background(), events.Subjects{}.Stream())
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := stream.GetLastMsgForSubject(context.Background(), events.Subjects{}.Event(name))
	if err != nil {
		e.t.Fatalf("last %s: %v", name, err)
	}
	return m.Sequence, m.Data
}

// A group message the account receives reaches an SSE client as an event named group_message
// carrying the report's JSON as stored, with the stream sequence as id.
func TestStreamGroupMessage(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := e.openEvents("")
	r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: friendID, Content: "流里见 <&>\n第二行"})
	if r.Code != 0 || r.ID == 0 {
		t.Fatalf("inject: %+v", r)
	}
	ev := c.next(events.GroupMessage)
	seq, data := e.lastStored(events.GroupMessage)
	if ev.id != strconv.FormatUint(seq, 10) || ev.data != string(data) {
		t.Errorf("event id=%s data=%s, want id=%d data=%s", ev.id, ev.data, seq, data)
	}
	m := object(t, []byte(ev.data))
	fields(t, "event", m, map[string]any{
		"post_type": "receive_message", "type": events.GroupMessage, "id": r.ID, "content": "流里见 <&>\n第二行",
		"group_id": perlGroupID, "sender_id": friendID,
	})
}

// replay=last shows the current state at once: the last state_change (running) and the
// last QR code, as the console wants them.
func TestStreamReplayLastState(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := e.openEvents("replay=last&filter=state_change,input_qrcode")
	qr := c.next(events.EventInputQRCode)
	state := c.next(events.EventStateChange)
	if p := object(t, []byte(state.data))["params"]; len(p.([]any)) != 2 || p.([]any)[1] != "running" {
		t.Errorf("last state_change %s", state.data)
	}
	qrSeq, err1 := strconv.ParseUint(qr.id, 10, 64)
	stateSeq, err2 := strconv.ParseUint(state.id, 10, 64)
	if err1 != nil || err2 != nil || qrSeq >= stateSeq {
		t.Errorf("input_qrcode id %q not before state_change id %q", qr.id, state.id)
	}
}

// With an access token, /openqq/events needs it like every route; an EventSource passes it
// as ?access_token=.
func TestStreamAccessToken(t *testing.T) {
	t.Parallel()
	// A login delay keeps start() from waiting with calls that have no token: the stream
	// shows when the client is running.
	e := start(t, func(s *session.Config, g *gateway.Config) {
		g.AccessToken = "令牌-s3cret"
		simConfig(s).LoginDelay = time.Millisecond
	})
	for _, q := range []string{"", "access_token=wrong"} {
		resp, body := e.streamRequest(q)
		var st events.Status
		if resp.StatusCode != http.StatusForbidden || json.Unmarshal(body, &st) != nil || st != *events.ErrAuthFailure {
			t.Errorf("?%s: HTTP %d %s, want 403 %s", q, resp.StatusCode, body, events.MustMarshal(events.ErrAuthFailure))
		}
	}
	c := e.openEvents("access_token=%E4%BB%A4%E7%89%8C-s3cret&replay=last&filter=state_change,group_message")
	for {
		ev := c.next(events.EventStateChange)
		if p, _ := object(t, []byte(ev.data))["params"].([]any); len(p) == 2 && p[1] == "running" {
			break
		}
	}
	r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: friendID, Content: "带令牌"})
	ev := c.next(events.GroupMessage)
	if m := object(t, []byte(ev.data)); m["id"] != num(r.ID) {
		t.Errorf("event %s, want the message %d", ev.data, r.ID)
	}
}
