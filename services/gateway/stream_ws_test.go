package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/openqq/openqq/pkg/events"
)

// wsMessage is one message of /openqq/ws.
type wsMessage struct {
	ID    uint64          `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// wsClient is an open WebSocket stream.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

// dialWS opens /openqq/ws?query. Once it returns, the client's consumer exists.
func (e *streamEnv) dialWS(query string, opts *websocket.DialOptions) *wsClient {
	e.t.Helper()
	u := strings.Replace(e.base, "http://", "ws://", 1) + pathWS
	if query != "" {
		u += "?" + query
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		e.t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		e.t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	c.SetReadLimit(-1)
	e.t.Cleanup(func() { _ = c.CloseNow() })
	return &wsClient{t: e.t, c: c}
}

// next reads the next message.
func (w *wsClient) next(within time.Duration) wsMessage {
	w.t.Helper()
	m, err := w.read(within)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return m
}

func (w *wsClient) read(within time.Duration) (wsMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return wsMessage{}, err
	}
	var m wsMessage
	if typ != websocket.MessageText {
		return m, fmt.Errorf("message type %v", typ)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("message %.200s: %w", b, err)
	}
	return m, nil
}

// want reads len(items) messages and checks they are items, in order.
func (w *wsClient) want(items []stored) {
	w.t.Helper()
	for i, it := range items {
		m := w.next(5 * time.Second)
		if m.ID != it.seq || m.Event != it.name || string(m.Data) != it.data {
			w.t.Fatalf("message %d: id=%d event=%s data=%.200s, want id=%d event=%s data=%.200s",
				i, m.ID, m.Event, m.Data, it.seq, it.name, it.data)
		}
	}
}

// Each item is one text message {"id","event","data"} with the item's JSON unchanged.
func TestWebSocketMessages(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	e.publishN(1, events.GroupMessage) // before the client: not sent
	w := e.dialWS("", nil)
	var items []stored
	for _, name := range []string{events.GroupMessage, events.EventStateChange, events.FriendMessage} {
		items = append(items, e.publishN(1, name)...)
	}
	big := `{"post_type":"event","event":"input_qrcode","params":["/tmp/qr.png","` + strings.Repeat("QUJD", 20000) + `"]}`
	items = append(items, stored{e.publish(events.EventInputQRCode, big), events.EventInputQRCode, big})
	w.want(items)
}

// since resumes after an item; a client that reconnects loses nothing.
func TestWebSocketSince(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	items := e.publishN(10, events.GroupMessage)
	w := e.dialWS("since=3", nil)
	w.want(items[3:])
	_ = w.c.Close(websocket.StatusNormalClosure, "")
	// (A read that times out closes the connection: the tests publish a last item instead of
	// waiting for nothing.)
	more := e.publishN(2, events.DiscussMessage)
	w = e.dialWS(fmt.Sprintf("since=%d", items[9].seq), nil)
	w.want(more)
	w.want(e.publishN(1, events.FriendMessage)) // and nothing before it
}

// filter and replay=last work as for Server-Sent Events.
func TestWebSocketFilter(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	var groups, states []stored
	for range 3 {
		groups = append(groups, e.publishN(1, events.GroupMessage)...)
		e.publishN(1, events.FriendMessage)
		states = append(states, e.publishN(1, events.EventStateChange)...)
	}
	w := e.dialWS("since=0&filter=group_message,state_change", nil)
	w.want([]stored{groups[0], states[0], groups[1], states[1], groups[2], states[2]})
	friend := e.publishN(1, events.FriendMessage)
	w.want(e.publishN(1, events.GroupMessage)) // and nothing before it

	w = e.dialWS("replay=last&filter=state_change,friend_message,new_friend", nil)
	// The last of each, in stream order, and then nothing before the next item.
	w.want([]stored{states[2], friend[0]})
	w.want(e.publishN(1, events.EventNewFriend))
}

// Pings come every heartbeat; a page of an origin in ALLOWED_ORIGINS may connect (others are
// refused: TestWebSocketOrigin).
func TestWebSocketPing(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{AllowedOrigins: []string{"elsewhere.example"}}, false, tuned(50*time.Millisecond))
	var pings atomic.Int32
	w := e.dialWS("", &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"https://elsewhere.example"}},
		OnPingReceived: func(context.Context, []byte) bool {
			pings.Add(1)
			return true
		},
	})
	// Reading answers the pings.
	go func() { _, _, _ = w.c.Read(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for pings.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d pings within 5s", pings.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client that falls too far behind is closed with 1008 and the reason.
func TestWebSocketTooSlow(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, func(s *streamer) {
		s.maxBehind = 5
		s.writeTimeout = 2 * time.Minute
		s.pull = 2
	})
	w := e.dialWS("", nil)
	first := e.publishN(1, events.GroupMessage)
	w.want(first)
	items := e.publishBig(48, 256<<10) // the client reads nothing meanwhile
	got := 0
	var err error
	for {
		var m wsMessage
		if m, err = w.read(30 * time.Second); err != nil {
			break
		}
		if m.ID != items[got].seq {
			t.Fatalf("message %d: id %d, want %d", got, m.ID, items[got].seq)
		}
		got++
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("read: %v, want a close", err)
	}
	var behind int
	_, err = fmt.Sscanf(ce.Reason, "too slow: %d items behind; reconnect with since=<last id> to resume", &behind)
	if ce.Code != websocket.StatusPolicyViolation || err != nil || behind <= 5 || behind > len(items)-got ||
		ce.Reason != fmt.Sprintf("too slow: %d items behind; reconnect with since=<last id> to resume", behind) {
		t.Errorf("closed with %d %q, want 1008 too slow: 6 to %d items behind", ce.Code, ce.Reason, len(items)-got)
	}
	if got >= len(items)-5 {
		t.Errorf("%d of %d items sent, want the client dropped far behind", got, len(items))
	}
}

// A shutdown closes the WebSockets with 1001 at once.
func TestWebSocketShutdown(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	w := e.dialWS("", nil)
	began := time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		e.stop()
	}()
	_, err := w.read(5 * time.Second)
	if st := websocket.CloseStatus(err); st != websocket.StatusGoingAway {
		t.Errorf("read: %v, want close 1001", err)
	}
	<-stopped
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("shutdown took %s with a WebSocket open", d)
	}
}

// /openqq/ws without an upgrade is a 400 JSON answer.
func TestWebSocketNoUpgrade(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	a := readAnswer(t, e.get(pathWS, ""))
	wantStatus(t, a, events.ErrBadRequest("/openqq/ws is a WebSocket: send an upgrade request"))
	checkCommon(t, http.MethodGet, a)
}
