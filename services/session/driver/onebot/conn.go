package onebot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Errors of a connection. errAuth is a refused access token; errGone is the peer that went
// away (or went silent) while a call waited.
var (
	errAuth    = errors.New("access token refused")
	errGone    = errors.New("connection to the OneBot implementation lost")
	errTimeout = errors.New("no answer in time")
)

// CallError is a call the implementation answered with a failure. Implementations disagree on
// retcodes (go-cqhttp 100, NapCat 1400/1200, ...), so only the status says failure.
type CallError struct {
	Action  string
	Retcode int64
	Message string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s failed: retcode %d: %s", e.Action, e.Retcode, e.Message)
}

// envelope reads any frame: an API response (echo, status, retcode) or an event (post_type).
// Unknown fields are ignored, since every implementation adds its own. Fields that are text
// in an answer but not in an event (an event's status and message are objects and arrays)
// are read as loosely as they come.
type envelope struct {
	PostType string          `json:"post_type"`
	Echo     json.RawMessage `json:"echo"`
	Status   loose           `json:"status"`
	Retcode  *int64          `json:"retcode"`
	Data     json.RawMessage `json:"data"`
	Message  loose           `json:"message"`
	Wording  loose           `json:"wording"`
	Msg      loose           `json:"msg"`
	Stream   loose           `json:"stream"`

	MetaEventType string `json:"meta_event_type"`
	Interval      num    `json:"interval"`
}

// loose is a string field that may hold anything else, which then reads as "".
type loose string

func (l *loose) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*l = loose(s)
	}
	return nil
}

// text is the implementation's explanation of a failure, wherever it put it.
func (e *envelope) text() string {
	for _, s := range []loose{e.Wording, e.Message, e.Msg} {
		if s != "" {
			return string(s)
		}
	}
	return string(e.Status)
}

// partial tells a NapCat stream action's intermediate packet, which shares the final
// answer's echo.
func (e *envelope) partial() bool {
	if e.Stream != "stream-action" {
		return false
	}
	var d struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(e.Data, &d)
	return d.Type == "stream" || d.Type == "reset"
}

// conn is one WebSocket to a OneBot implementation, forward or reverse, on which the driver
// calls actions and receives events.
type conn struct {
	ws       *websocket.Conn
	log      *slog.Logger
	timeout  time.Duration // per call
	idle     time.Duration // liveness window while no heartbeat said otherwise
	events   *queue
	seq      atomic.Uint64
	lastSeen atomic.Int64  // unix nanos of the last frame or pong
	interval atomic.Int64  // the last heartbeat's interval, nanos; 0: none seen
	retime   chan struct{} // tells watch that the interval changed

	mu      sync.Mutex
	pending map[string]chan *envelope

	done      chan struct{} // closed once the connection is over
	closeOnce sync.Once
	cause     error
}

// readLimit bounds one frame: a big group's member list runs to megabytes.
const readLimit = 256 << 20

func newConn(ws *websocket.Conn, log *slog.Logger, timeout, idle time.Duration) *conn {
	ws.SetReadLimit(readLimit)
	c := &conn{
		ws: ws, log: log, timeout: timeout, idle: idle, events: newQueue(),
		pending: map[string]chan *envelope{}, done: make(chan struct{}), retime: make(chan struct{}, 1),
	}
	c.touch()
	go c.read()
	go c.watch()
	return c
}

func (c *conn) touch() { c.lastSeen.Store(time.Now().UnixNano()) }

// fail ends the connection for cause; the first cause wins.
func (c *conn) fail(cause error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.cause = cause
		c.mu.Unlock()
		_ = c.ws.CloseNow()
		c.events.close()
		close(c.done)
	})
}

// err is why the connection ended (nil while it lives).
func (c *conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// close says goodbye properly, for a stop of our own.
func (c *conn) close() {
	go func() { _ = c.ws.Close(websocket.StatusNormalClosure, "openqq stopping") }()
	c.fail(errors.New("closed by openqq"))
}

// read takes every frame: answers go to their caller, events to the queue, anything else is
// logged and skipped, since one bad frame must not cost the connection.
func (c *conn) read() {
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.fail(fmt.Errorf("%w: %w", errGone, err))
			return
		}
		c.touch()
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			c.log.Warn("onebot: skipped a frame that is not JSON", "bytes", len(data), "start", preview(data), "err", err)
			continue
		}
		switch {
		case env.PostType != "":
			if env.PostType == "meta_event" && env.MetaEventType == "heartbeat" && env.Interval > 0 {
				iv := int64(time.Duration(env.Interval) * time.Millisecond)
				if c.interval.Swap(iv) != iv {
					select {
					case c.retime <- struct{}{}:
					default:
					}
				}
			}
			c.events.push(data)
		case env.Retcode != nil || env.Status != "":
			c.answer(&env)
		default:
			c.log.Warn("onebot: skipped a frame that is neither an answer nor an event", "bytes", len(data), "start", preview(data))
		}
	}
}

// answer hands a response to the call that waits for its echo. NapCat answers a bad token
// with a failure that names no call (and then closes): that is the refusal.
func (c *conn) answer(env *envelope) {
	var echo string
	if err := json.Unmarshal(env.Echo, &echo); err != nil || echo == "" {
		if env.Status == "failed" && env.Retcode != nil && (*env.Retcode == 1401 || *env.Retcode == 1403) {
			c.fail(fmt.Errorf("%w: %s", errAuth, env.text()))
			return
		}
		c.log.Warn("onebot: skipped an answer to no call", "echo", string(env.Echo), "retcode", env.Retcode)
		return
	}
	if env.partial() {
		return
	}
	c.mu.Lock()
	ch, ok := c.pending[echo]
	delete(c.pending, echo)
	c.mu.Unlock()
	if !ok {
		// A second packet for an answered call, or one for a call that timed out.
		c.log.Debug("onebot: answer to no waiting call", "echo", echo)
		return
	}
	ch <- env
}

// watch ends a connection that went silent. Heartbeats say how often to expect them; without
// them, a WebSocket ping probes a peer that has said nothing for a while.
func (c *conn) watch() {
	var pinging atomic.Bool
	for {
		every := c.idle / 3
		if iv := time.Duration(c.interval.Load()); iv > 0 {
			every = iv
		}
		t := time.NewTimer(max(every/2, 5*time.Millisecond))
		select {
		case <-c.done:
			t.Stop()
			return
		case <-c.retime: // the first heartbeat may come long before the idle-based tick
			t.Stop()
			continue
		case <-t.C:
		}
		silent := time.Since(time.Unix(0, c.lastSeen.Load()))
		if silent > 3*every {
			c.fail(fmt.Errorf("%w: nothing heard for %s", errGone, silent.Round(time.Millisecond)))
			return
		}
		if silent > every && pinging.CompareAndSwap(false, true) {
			go func() {
				defer pinging.Store(false)
				ctx, cancel := context.WithTimeout(context.Background(), every)
				defer cancel()
				if c.ws.Ping(ctx) == nil {
					c.touch()
				}
			}()
		}
	}
}

// call runs an action and decodes its data into out (if not nil). It never retries: a send
// that timed out may have been delivered.
func (c *conn) call(ctx context.Context, action string, params any, out any) error {
	echo := "openqq-" + strconv.FormatUint(c.seq.Add(1), 10)
	req, err := json.Marshal(struct {
		Action string `json:"action"`
		Params any    `json:"params,omitempty"`
		Echo   string `json:"echo"`
	}{action, params, echo})
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	ch := make(chan *envelope, 1)
	c.mu.Lock()
	if c.cause != nil {
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", action, c.cause)
	}
	c.pending[echo] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, echo)
		c.mu.Unlock()
	}()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, req); err != nil {
		c.fail(fmt.Errorf("%w: write: %w", errGone, err))
		return fmt.Errorf("%s: %w", action, c.err())
	}
	select {
	case env := <-ch:
		if env.Status != "ok" {
			var code int64
			if env.Retcode != nil {
				code = *env.Retcode
			}
			return &CallError{Action: action, Retcode: code, Message: env.text()}
		}
		if out == nil || len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
			return nil
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("%s: decode data: %w", action, err)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("%s: %w", action, c.err())
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w after %s", action, errTimeout, c.timeout)
		}
		return fmt.Errorf("%s: %w", action, ctx.Err())
	}
}

// preview is the start of a frame, for a log line.
func preview(b []byte) string {
	const n = 64
	if len(b) > n {
		b = b[:n]
	}
	return strconv.Quote(string(b))
}

// queue holds the events of a connection in order until the driver takes them. It never
// blocks the reader, which must stay free to hand answers to calls the driver makes while it
// handles an event.
type queue struct {
	mu     sync.Mutex
	items  [][]byte
	wake   chan struct{}
	closed bool
}

// maxQueued bounds what a stuck driver lets pile up; beyond it events are dropped, loudly.
const maxQueued = 100_000

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(b []byte) {
	q.mu.Lock()
	if q.closed || len(q.items) >= maxQueued {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, b)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop takes everything queued; it is empty and ok false once the queue is closed and drained.
func (q *queue) pop() (items [][]byte, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items, q.items = q.items, nil
	return items, len(items) > 0 || !q.closed
}
