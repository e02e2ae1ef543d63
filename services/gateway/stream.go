package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/logging"
)

// The paths of the live event streams and of the console's reporter list.
const (
	pathEvents    = "/openqq/events"     // Server-Sent Events
	pathWS        = "/openqq/ws"         // WebSocket
	pathReporters = "/console/reporters" // the reporters' consumers and the dead letters
	pathWxEvents  = "/openwx/events"     // the same for Openwx
	pathWxWS      = "/openwx/ws"
	// pathConsoleSession exchanges the token for the console's stream cookie.
	pathConsoleSession = "/console/session"
)

// Stream defaults.
const (
	// defaultHeartbeat: a keepalive comment (SSE) or a ping (WebSocket) this often keeps
	// proxies from closing a quiet stream.
	defaultHeartbeat = 15 * time.Second
	// defaultWriteTimeout: a client that has not taken an item within this long is dropped.
	defaultWriteTimeout = 10 * time.Second
	// defaultMaxBehind: a client that falls this many items further behind than it ever was
	// is dropped.
	defaultMaxBehind = 10_000
	// streamPull is how many items a client's consumer fetches ahead: its memory bound.
	streamPull = 32
	// streamResets bounds the attempts to recreate a client's consumer after NATS came back;
	// past them the stream ends and the client resumes with Last-Event-ID.
	streamResets = 3
)

// errShutdown ends the streams of a server that shuts down.
var errShutdown = errors.New("server shutting down")

// streamer serves the stream QQ_EVENTS live over HTTP: as Server-Sent Events on /openqq/events
// and as WebSocket messages on /openqq/ws. Live clients of one filter share one ordered
// ephemeral consumer (hub.go); a client that resumes or replays, or falls behind the shared
// one, reads through its own. Each has at most streamPull items in memory. A client that
// cannot keep up is dropped with a last message saying so; it resumes where it stopped with
// Last-Event-ID (or since), as long as the stream still holds the items. STREAM_CLIENTS_MAX
// and STREAM_CLIENTS_PER_IP bound the clients, and so the consumers they can hold.
type streamer struct {
	g    *Gateway
	p    *platform // whose stream: QQ_EVENTS on /openqq/events, WX_EVENTS on /openwx/events
	subj events.Subjects
	js   jetstream.JetStream // nil without a NATS connection: every stream answers 503
	log  *slog.Logger

	heartbeat    time.Duration // between keepalive comments or pings
	writeTimeout time.Duration // a stalled write drops the client after this long
	maxBehind    uint64        // items a client may fall behind its best before it is dropped
	pull         int           // items fetched ahead per consumer, and queued per live client

	clients *addrLimits // STREAM_CLIENTS_MAX and STREAM_CLIENTS_PER_IP

	hubsMu sync.Mutex
	hubs   map[string]*hub // by hubKey: the shared consumers of the live clients

	// fallbackSem holds a place per own consumer being created for a live client that fell
	// behind its hub (resubscribe): at most fallbackCreations at once.
	fallbackSem chan struct{}
	// fallbackHook, for tests, runs before each attempt at such a consumer; an error fails
	// that attempt as a creation timing out would.
	fallbackHook func(attempt int) error

	mu      sync.Mutex
	servers map[*http.Server]chan struct{} // closed when that server shuts down
}

func (g *Gateway) newStreamer(p *platform) *streamer {
	s := &streamer{
		g: g, p: p, subj: p.subj, log: g.log.With("part", "stream", "platform", p.name),
		heartbeat: defaultHeartbeat, writeTimeout: defaultWriteTimeout, maxBehind: defaultMaxBehind,
		pull: streamPull, servers: map[*http.Server]chan struct{}{},
		clients:     newAddrLimits(g.cfg.StreamClientsMax, g.cfg.StreamClientsPerIP),
		hubs:        map[string]*hub{},
		fallbackSem: make(chan struct{}, fallbackCreations),
	}
	if g.nc != nil {
		js, err := jetstream.New(g.nc)
		if err != nil {
			s.log.Error("jetstream", "err", err) // only bad options fail, and there are none
		} else {
			s.js = js
		}
	}
	return s
}

// connected reports whether NATS is there to ask.
func (s *streamer) connected() bool { return s.js != nil && s.g.nc.IsConnected() }

// consumerConfig reads where a client starts and what it gets: Last-Event-ID (or since)
// resumes right after that item; replay=last starts with the last item of each subject;
// otherwise the stream starts with new items. filter (comma-separated, repeatable) names the
// events and message types wanted. client= names the account whose items these are; without
// it, the default account's, as every route without client= is the default account's (a
// single-account deployment has no other items, so its streams are what they always were).
func (s *streamer) consumerConfig(r *http.Request) (jetstream.OrderedConsumerConfig, *events.Status) {
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy:    jetstream.DeliverNewPolicy,
		MaxResetAttempts: streamResets,
		NamePrefix:       "gateway_stream_" + nuid.Next(),
	}
	q := r.URL.Query()
	switch replay := q.Get("replay"); replay {
	case "":
	case "last":
		cfg.DeliverPolicy = jetstream.DeliverLastPerSubjectPolicy
	default:
		return cfg, events.ErrBadRequest("replay %q: only replay=last is known", replay)
	}
	since, from := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if since == "" {
		since, from = q.Get("since"), "since"
	}
	if since != "" {
		// Stream sequences stay far below 2^63; the bound keeps seq+1 from wrapping.
		seq, err := strconv.ParseUint(strings.TrimSpace(since), 10, 63)
		if err != nil {
			return cfg, events.ErrBadRequest("%s %q: want the id of an item", from, since)
		}
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = seq + 1
	}
	names, err := parseFilterOf(q["filter"], s.p.isItemName)
	if err != nil {
		return cfg, events.ErrBadRequest("%v", err)
	}
	acct, st := clientParam(events.Params{events.ParamClient: q.Get(events.ParamClient)})
	if st != nil {
		return cfg, st
	}
	subj := s.subj.ForClient(acct)
	for _, name := range names {
		cfg.FilterSubjects = append(cfg.FilterSubjects, subj.Event(name))
	}
	if len(names) == 0 {
		cfg.FilterSubjects = []string{subj.ClientEvents()}
	}
	return cfg, nil
}

// knownNames lists the names a filter may use, for its error.
var knownNames = strings.Join(events.ItemNames, ", ")

// parseFilter reads the filter values (comma-separated, repeatable): each name must be a
// message type or an event name, and each counts once, so that a filter never has more
// subjects than the stream has names. The first bad name ends the reading: a long list
// costs one pass, never a consumer.
func parseFilter(values []string) ([]string, error) {
	return parseFilterOf(values, events.IsItemName)
}

// parseFilterOf is parseFilter with the names known (nil: any subject token).
func parseFilterOf(values []string, known func(string) bool) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for _, v := range values {
		if v == "" {
			continue
		}
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if !validName(name) {
				return nil, fmt.Errorf("filter %q: an event name is letters, digits, '-' and '_'", logging.Clip(name, 64))
			}
			if known != nil && !known(name) {
				return nil, fmt.Errorf("filter %q: unknown; the names are %s", logging.Clip(name, 64), knownNames)
			}
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	return names, nil
}

// validName reports whether name is one subject token of the kind events.ValidPrefix allows.
func validName(name string) bool {
	return events.ValidPrefix(name) && !strings.Contains(name, ".")
}

// admit takes a place for the client of r among the stream clients, or says why there is
// none. Each client holds a JetStream consumer: the limits keep clients from taking the
// consumers the reporters, check_event and the poller need (nats-server allows 1,000 per
// stream).
func (s *streamer) admit(r *http.Request) (release func(), st *events.Status) {
	ip := clientIP(r.RemoteAddr)
	release, err := s.clients.acquire(ip)
	switch {
	case errors.Is(err, errLimitTotal):
		s.log.Warn("event stream refused: STREAM_CLIENTS_MAX reached", "limit", s.clients.max, "remote", ip)
		return nil, events.NewStatus(events.CodeUnavailable, "too many event stream clients: at most %d (STREAM_CLIENTS_MAX)", s.clients.max)
	case err != nil:
		s.log.Info("event stream refused: STREAM_CLIENTS_PER_IP reached", "limit", s.clients.perIP, "remote", ip)
		return nil, events.NewStatus(events.CodeUnavailable, "too many event stream clients from your address: at most %d (STREAM_CLIENTS_PER_IP)", s.clients.perIP)
	}
	return release, nil
}

// subscription is one client's consumer.
type subscription struct {
	cons jetstream.Consumer
	msgs jetstream.MessagesContext
}

// subscribe creates a client's consumer, before anything is written to the client: when NATS
// or the stream is not there, the client gets a 503 JSON answer like any API call.
func (s *streamer) subscribe(ctx context.Context, cfg jetstream.OrderedConsumerConfig) (*subscription, *events.Status) {
	if !s.connected() {
		s.log.Warn("event stream unavailable: NATS not connected")
		return nil, events.ErrUnavailable
	}
	cctx, cancel := context.WithTimeout(ctx, s.g.cfg.APITimeout)
	defer cancel()
	stream := s.subj.Stream()
	cons, err := s.js.OrderedConsumer(cctx, stream, cfg)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, events.NewStatus(events.CodeUnavailable, "event stream %s not found", stream)
		}
		if ctx.Err() == nil {
			s.log.Warn("event stream unavailable", "stream", stream, "err", err)
		}
		return nil, events.NewStatus(events.CodeUnavailable, "event stream %s unavailable", stream)
	}
	msgs, err := cons.Messages(jetstream.PullMaxMessages(s.pull))
	if err != nil {
		s.log.Warn("event stream unavailable", "stream", stream, "err", err)
		go s.deleteConsumer(cons)
		return nil, events.NewStatus(events.CodeUnavailable, "event stream %s unavailable", stream)
	}
	return &subscription{cons: cons, msgs: msgs}, nil
}

// close stops the consumer and removes it from the server (it would go by itself once
// inactive, but a console that reconnects often would leave many behind meanwhile). It does
// not wait: Stop waits for a consumer being recreated after a NATS outage.
func (s *streamer) close(sub *subscription) {
	go func() {
		sub.msgs.Stop()
		s.deleteConsumer(sub.cons)
	}()
}

func (s *streamer) deleteConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.js.DeleteConsumer(ctx, s.subj.Stream(), info.Name)
}

// streamContext is r's context, also cancelled with errShutdown when the server serving r
// shuts down: a stream never ends by itself, and Shutdown would wait for it (and not at all
// for a WebSocket, whose connection it no longer tracks).
func (s *streamer) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(r.Context())
	if done := s.serverDone(r); done != nil {
		go func() {
			select {
			case <-done:
				cancel(errShutdown)
			case <-ctx.Done():
			}
		}()
	}
	return ctx, func() { cancel(nil) }
}

// serverDone returns a channel closed when the http.Server serving r shuts down.
func (s *streamer) serverDone(r *http.Request) <-chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	done, ok := s.servers[srv]
	if !ok {
		done = make(chan struct{})
		s.servers[srv] = done
		srv.RegisterOnShutdown(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			close(done)
			delete(s.servers, srv)
		})
	}
	return done
}

// item is one stored report or event.
type item struct {
	seq  uint64 // its sequence in the stream: the id a client resumes from
	name string // the last token of its subject: group_message, state_change, ...
	data []byte // its JSON
}

// sink is one client's connection.
type sink interface {
	// send writes an item; an error wrapping errStalled means the client did not take it in
	// time.
	send(it item) error
	// keepalive keeps an idle connection open (and checks the client is still there).
	keepalive() error
	// drop tells the client, if it can still be told, why it is dropped.
	drop(reason string)
}

// errStalled is a write the client did not take within the write timeout.
var errStalled = errors.New("write stalled")

// pump sends the items to the client until it goes, the server shuts down, NATS fails, or
// the client cannot keep up. It returns why it ended.
// best is the fewest items the client has been behind so far (math.MaxUint64: not known yet).
func (s *streamer) pump(ctx context.Context, msgs jetstream.MessagesContext, out sink, log *slog.Logger, best uint64) error {
	// Next waits without a deadline of its own, in a goroutine: its missing-heartbeat check,
	// which recovers a consumer whose pull requests got lost, needs long waits. It holds one
	// item at most beyond the consumer's buffer; stopping msgs (streamer.close) ends it.
	type result struct {
		m   jetstream.Msg
		err error
	}
	next := make(chan result)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			m, err := msgs.Next()
			select {
			case next <- result{m, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	for {
		var r result
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-beat.C:
			if err := out.keepalive(); err != nil {
				if ctx.Err() == nil {
					log.Info("event stream: keepalive failed", "err", err)
				}
				return err
			}
			continue
		case r = <-next:
		}
		if r.err != nil {
			log.Warn("event stream: NATS", "err", r.err)
			return r.err
		}
		meta, err := r.m.Metadata()
		if err != nil {
			log.Warn("event stream: not a stream item", "subject", r.m.Subject(), "err", err)
			continue
		}
		behind := meta.NumPending // items stored after this one that the client has not got
		best = min(best, behind)
		if behind-best > s.maxBehind {
			return s.tooSlow(out, log, behind+1, "fell behind")
		}
		err = out.send(item{seq: meta.Sequence.Stream, name: events.EventName(r.m.Subject()), data: r.m.Data()})
		if errors.Is(err, errStalled) {
			return s.tooSlow(out, log, behind+1, "stalled")
		}
		if err != nil {
			return err // the client is gone
		}
	}
}

// tooSlow drops a client that cannot keep up.
func (s *streamer) tooSlow(out sink, log *slog.Logger, behind uint64, how string) error {
	log.Warn("event stream: client too slow, dropped", "how", how, "behind", behind,
		"write_timeout", s.writeTimeout, "max_behind", s.maxBehind)
	out.drop(fmt.Sprintf("too slow: %d items behind", behind))
	return errTooSlow
}

var errTooSlow = errors.New("client too slow")

// sse streams QQ_EVENTS as Server-Sent Events: for each item `id: <sequence>`, `event: <name>`
// and `data: <its JSON>`; a `: keepalive` comment every heartbeat.
func (s *streamer) sse(w http.ResponseWriter, r *http.Request) {
	cfg, st := s.consumerConfig(r)
	if st != nil {
		writeStatus(w, st)
		return
	}
	release, st := s.admit(r)
	if st != nil {
		writeStatus(w, st)
		return
	}
	defer release()
	// The server's read deadline would end the stream (its background read fails, which
	// cancels the request); each write has its own deadline (sseSink.write).
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	ctx, cancel := s.streamContext(r)
	defer cancel()
	att, st := s.attach(ctx, cfg)
	if st != nil {
		writeStatus(w, st)
		return
	}
	defer s.detach(att)

	log := s.log.With("kind", "sse", "remote", r.RemoteAddr)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	out := &sseSink{w: w, rc: http.NewResponseController(w), ctx: ctx, timeout: s.writeTimeout}
	// Clear the deadline at the end: the connection may serve other requests.
	defer func() { _ = out.rc.SetWriteDeadline(time.Time{}) }()
	// The headers now: once the client has them, it is subscribed.
	if err := out.write(nil); err != nil {
		return
	}
	log.Debug("event stream opened", "deliver", cfg.DeliverPolicy.String(), "start_seq", cfg.OptStartSeq,
		"filter", cfg.FilterSubjects)
	err := s.serve(ctx, cfg, att, out, log)
	log.Debug("event stream closed", "why", err)
}

// sseSink writes Server-Sent Events.
type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	ctx     context.Context
	timeout time.Duration
	buf     []byte
}

func (o *sseSink) send(it item) error {
	o.buf = appendSSE(o.buf[:0], it)
	return o.write(o.buf)
}

func (o *sseSink) keepalive() error { return o.write([]byte(": keepalive\n\n")) }

func (o *sseSink) drop(reason string) {
	st := events.NewStatus(events.CodeTooSlow, "%s; reconnect with Last-Event-ID to resume", reason)
	o.timeout = time.Second // best effort: do not wait long on a client that is not reading
	_ = o.write(append(append([]byte("event: error\ndata: "), events.MustMarshal(st)...), '\n', '\n'))
}

// write sends b and flushes it within the write timeout.
func (o *sseSink) write(b []byte) error {
	// Unsupported deadlines (an unusual ResponseWriter) leave the request context to notice
	// a client that is gone.
	_ = o.rc.SetWriteDeadline(time.Now().Add(o.timeout))
	start := time.Now()
	var err error
	if len(b) > 0 {
		_, err = o.w.Write(b)
	}
	if err == nil {
		err = o.rc.Flush()
	}
	if err == nil && o.ctx.Err() != nil {
		// A failed write cancels the request's context; a wrapper's Flush may not report it.
		err = context.Cause(o.ctx)
	}
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) >= o.timeout) {
		return fmt.Errorf("%w: %w", errStalled, err)
	}
	return err
}

// appendSSE appends the event of it. The data is one line: items are single-line JSON; other
// JSON is compacted, and anything else split into data lines, which SSE joins again.
func appendSSE(b []byte, it item) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, it.seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, it.name...)
	b = append(b, '\n')
	data := it.data
	if bytes.ContainsAny(data, "\r\n") {
		var c bytes.Buffer
		if json.Compact(&c, data) == nil {
			data = c.Bytes()
		}
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		b = append(append(append(b, "data: "...), data[:i]...), '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	b = append(append(append(b, "data: "...), data...), '\n')
	return append(b, '\n')
}
