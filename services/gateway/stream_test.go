package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

// The wire format of one event: id, event, one data line, a blank line.
func TestSSEFraming(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		it   item
		want string
	}{
		{"one line", item{7, "group_message", []byte(`{"content":"你好"}`)},
			"id: 7\nevent: group_message\ndata: {\"content\":\"你好\"}\n\n"},
		{"multi-line JSON is compacted", item{8, "state_change", []byte("{\n  \"params\": [\"a\", \"b\"]\n}\n")},
			"id: 8\nevent: state_change\ndata: {\"params\":[\"a\",\"b\"]}\n\n"},
		{"other multi-line data gets a data line each", item{9, "x", []byte("a\r\nb\rc\nd")},
			"id: 9\nevent: x\ndata: a\ndata: b\ndata: c\ndata: d\n\n"},
		{"empty", item{10, "y", nil}, "id: 10\nevent: y\ndata: \n\n"},
	}
	for _, c := range cases {
		if got := string(appendSSE(nil, c.it)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	var m struct {
		ID    uint64          `json:"id"`
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(appendWSMessage(nil, item{3, "new_friend", []byte(`{"a":[1,"二"]}`)}), &m); err != nil ||
		m.ID != 3 || m.Event != "new_friend" || string(m.Data) != `{"a":[1,"二"]}` {
		t.Errorf("WebSocket message: %+v, %v", m, err)
	}
	if got := string(appendWSMessage(nil, item{4, "z", []byte("not json\n")})); got != `{"id":4,"event":"z","data":"not json\n"}` {
		t.Errorf("WebSocket message of non-JSON data: %s", got)
	}
}

// Items reach a client with their stream sequence, their name and their JSON unchanged.
func TestSSEEvents(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	e.publish("group_message", `{"before":"the client"}`) // not sent: the stream starts with new items
	s := e.open("")
	var items []stored
	for _, name := range []string{events.GroupMessage, events.EventStateChange, events.EventNewFriend} {
		items = append(items, e.publishN(1, name)...)
	}
	big := `{"post_type":"event","event":"input_qrcode","params":["/tmp/qr.png","` + strings.Repeat("QUJD", 5000) + `"]}`
	items = append(items, stored{e.publish(events.EventInputQRCode, big), events.EventInputQRCode, big})
	s.want(items)
	if items[0].seq != 2 {
		t.Errorf("first item seq %d, want 2", items[0].seq)
	}
}

// A client that reconnects with Last-Event-ID gets exactly the items it missed.
func TestSSEResumeWithLastEventID(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, tuned(300*time.Millisecond))
	first := e.publishN(10, events.GroupMessage)
	s := e.open("since=0")
	s.want(first[:3])
	s.close()
	more := e.publishN(5, events.FriendMessage)
	// An EventSource reconnects to the same URL and adds the header: the header wins.
	s = e.open("since=0", "Last-Event-ID", strconv.FormatUint(first[2].seq, 10))
	want := append(append([]stored{}, first[3:]...), more...)
	s.want(want)
	s.wantKeepalive(5 * time.Second)
	if got := seqs(want); got[0] != 4 || got[len(got)-1] != 15 {
		t.Errorf("resumed with %v, want 4..15", got)
	}
}

// ?since=N starts right after item N; items published later follow.
func TestSSESince(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, tuned(300*time.Millisecond))
	items := e.publishN(5, events.GroupMessage)
	s := e.open("since=2")
	s.want(items[2:])
	s.wantKeepalive(5 * time.Second)
	later := e.publishN(2, events.DiscussMessage)
	s.want(later)

	s2 := e.open("since=7") // the last one: only what comes next
	next := e.publishN(1, events.SessMessage)
	s2.want(next)
	s.want(next)
}

// filter narrows the stream to the named events and message types.
func TestSSEFilter(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, tuned(300*time.Millisecond))
	var all []stored
	for i := range 4 {
		for _, name := range []string{events.GroupMessage, events.FriendMessage, events.EventNewFriend, events.EventStateChange} {
			all = append(all, stored{e.publish(name, fmt.Sprintf(`{"n":%d,"name":%q}`, i, name)), name,
				fmt.Sprintf(`{"n":%d,"name":%q}`, i, name)})
		}
	}
	only := func(names ...string) []stored {
		var out []stored
		for _, it := range all {
			for _, n := range names {
				if it.name == n {
					out = append(out, it)
				}
			}
		}
		return out
	}
	for _, c := range []struct{ query string }{
		{"since=0&filter=group_message,new_friend"},
		{"since=0&filter=group_message&filter=new_friend"},
		{"since=0&filter=%20group_message%20,new_friend,group_message"}, // spaces and repeats
	} {
		s := e.open(c.query)
		s.want(only(events.GroupMessage, events.EventNewFriend))
		s.wantKeepalive(5 * time.Second)
		s.close()
	}
	s := e.open("filter=state_change")
	e.publishN(1, events.GroupMessage)
	s.want(e.publishN(1, events.EventStateChange))
}

// replay=last starts with the last item of each subject: the console shows the current state
// and QR code at once. Then new items follow.
func TestSSEReplayLast(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, tuned(300*time.Millisecond))
	pub := func(name, data string) stored { return stored{e.publish(name, data), name, data} }
	pub(events.EventStateChange, `{"params":["init","loading"]}`)
	pub(events.EventInputQRCode, `{"params":["qr1"]}`)
	pub(events.EventStateChange, `{"params":["loading","scaning"]}`)
	qr := pub(events.EventInputQRCode, `{"params":["qr2"]}`)
	pub(events.GroupMessage, `{"content":"1"}`)
	state := pub(events.EventStateChange, `{"params":["scaning","running"]}`)
	msg := pub(events.GroupMessage, `{"content":"2"}`)

	s := e.open("replay=last")
	s.want([]stored{qr, state, msg})
	s.wantKeepalive(5 * time.Second)
	s.want([]stored{pub(events.EventNewFriend, `{"new":1}`)})

	s2 := e.open("replay=last&filter=state_change,input_qrcode")
	s2.want([]stored{qr, state})
	s2.wantKeepalive(5 * time.Second)
}

// A keepalive comment comes every heartbeat, whether items flow or not.
func TestSSEHeartbeat(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, tuned(50*time.Millisecond))
	s := e.open("")
	s.wantKeepalive(2 * time.Second)
	s.wantKeepalive(2 * time.Second)
	// With items flowing faster than the heartbeat, keepalives still come.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				if _, err := e.js.Publish(context.Background(), "qq.events.friend_message", []byte(`{}`)); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	keepalives, items := 0, 0
	timeout := time.After(5 * time.Second)
	for keepalives < 3 || items < 3 {
		select {
		case ev := <-s.events:
			if ev.Comment == " keepalive" {
				keepalives++
			} else {
				items++
			}
		case <-timeout:
			t.Fatalf("%d keepalives and %d items within 5s", keepalives, items)
		}
	}
}

// Malformed stream parameters get the gateway's 400 JSON, before any stream starts.
func TestSSEBadRequest(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	cases := []struct {
		query  string
		header []string
		status string
	}{
		{query: "filter=group.message", status: `bad request: filter "group.message": an event name is letters, digits, '-' and '_'`},
		{query: "filter=group_message,,new_friend", status: `bad request: filter "": an event name is letters, digits, '-' and '_'`},
		{query: "filter=*", status: `bad request: filter "*": an event name is letters, digits, '-' and '_'`},
		{query: "filter=%3E", status: `bad request: filter ">": an event name is letters, digits, '-' and '_'`},
		{query: "filter=%E7%BE%A4", status: `bad request: filter "群": an event name is letters, digits, '-' and '_'`},
		{query: "since=abc", status: `bad request: since "abc": want the id of an item`},
		{query: "since=-1", status: `bad request: since "-1": want the id of an item`},
		{query: "since=18446744073709551615", status: `bad request: since "18446744073709551615": want the id of an item`},
		{header: []string{"Last-Event-ID", "x"}, status: `bad request: Last-Event-ID "x": want the id of an item`},
		{query: "replay=first", status: `bad request: replay "first": only replay=last is known`},
	}
	for _, path := range []string{pathEvents, pathWS} {
		for _, c := range cases {
			h := c.header
			if path == pathWS {
				h = append(append([]string{}, h...), "Connection", "Upgrade", "Upgrade", "websocket",
					"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			}
			resp := e.get(path, c.query, h...)
			a := readAnswer(t, resp)
			wantStatus(t, a, events.ErrBadRequest("%s", strings.TrimPrefix(c.status, "bad request: ")))
			checkCommon(t, http.MethodGet, a)
		}
	}
	// Only GET streams; other methods reach the API's catch-all.
	req, _ := http.NewRequest(http.MethodPost, e.base+pathEvents, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, readAnswer(t, resp), events.ErrAPINotFound)
}

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// Without the stream, or without NATS, a stream request gets a 503 JSON answer.
func TestSSEUnavailable(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, true, nil)
	for _, path := range []string{pathEvents, pathWS} {
		a := readAnswer(t, e.get(path, "", "Connection", "Upgrade", "Upgrade", "websocket",
			"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="))
		wantStatus(t, a, events.NewStatus(events.CodeUnavailable, "event stream QQ_EVENTS not found"))
		checkCommon(t, http.MethodGet, a)
	}
	e.srv.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for e.g.nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, path := range []string{pathEvents, pathReporters} {
		a := readAnswer(t, e.get(path, ""))
		wantStatus(t, a, events.ErrUnavailable)
		checkCommon(t, http.MethodGet, a)
	}
}

// The access token guards the streams; an EventSource, which cannot set headers, passes it
// as ?access_token=.
func TestSSEAccessToken(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{AccessToken: "s3cret"}, false, nil)
	for _, path := range []string{pathEvents, pathWS, pathReporters} {
		for _, q := range []string{"", "access_token=wrong"} {
			wantStatus(t, readAnswer(t, e.get(path, q)), events.ErrAuthFailure)
		}
	}
	s := e.open("access_token=s3cret")
	s2 := e.open("", "Authorization", "Bearer s3cret")
	items := e.publishN(2, events.GroupMessage)
	s.want(items)
	s2.want(items)
	if a := readAnswer(t, e.get(pathReporters, "access_token=s3cret")); a.status != http.StatusOK {
		t.Errorf("reporters with the token: %d %s", a.status, a.body)
	}
}

// A client that falls too far behind is dropped with an error event saying so, and resumes
// without a loss with Last-Event-ID.
func TestSSETooFarBehind(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, func(s *streamer) {
		s.maxBehind = 5
		s.writeTimeout = 2 * time.Minute // stalls do not count here: the lag does
		s.pull = 2                       // what the consumer fetches ahead is not behind yet
	})
	s := e.open("")
	first := e.publishN(1, events.GroupMessage)
	s.want(first)
	s.pause()
	// Far more than the socket buffers hold (a few MB): the gateway blocks writing to the
	// client, which reads nothing until all are stored; then it is far behind. (NumPending
	// counts the items not yet fetched from the stream.)
	items := e.publishBig(48, 256<<10)
	s.resume()
	evs, err := s.waitEnd(60 * time.Second)
	if !errors.Is(err, io.EOF) {
		t.Errorf("stream ended with %v, want a clean end", err)
	}
	if len(evs) < 1 {
		t.Fatal("no events after the first")
	}
	last := evs[len(evs)-1]
	got := evs[:len(evs)-1]
	for i, ev := range got {
		if ev.ID != strconv.FormatUint(items[i].seq, 10) || ev.Data != items[i].data {
			t.Fatalf("event %d: id %s, want %d", i, ev.ID, items[i].seq)
		}
	}
	if len(got) >= len(items)-5 {
		t.Fatalf("%d of %d items sent, want the client dropped far behind", len(got), len(items))
	}
	// Behind: as the stream counted when the gateway fetched the item it stopped at, so no more
	// than are left, and more than the limit.
	var behind int
	_, err = fmt.Sscanf(last.Data, `{"code":-10,"status":"too slow: %d items behind; reconnect with Last-Event-ID to resume"}`, &behind)
	if last.Event != "error" || last.ID != "" || err != nil || behind <= 5 || behind > len(items)-len(got) ||
		last.Data != fmt.Sprintf(`{"code":-10,"status":"too slow: %d items behind; reconnect with Last-Event-ID to resume"}`, behind) {
		t.Errorf("last event %.200v, want event=error and too slow: 6 to %d items behind", last, len(items)-len(got))
	}
	// It resumes where it was dropped.
	lastID := first[0].seq
	if len(got) > 0 {
		lastID = items[len(got)-1].seq
	}
	s2 := e.open("", "Last-Event-ID", strconv.FormatUint(lastID, 10))
	s2.want(items[len(got) : len(got)+1])
}

// publishBig stores n group messages of size bytes each, quickly.
func (e *streamEnv) publishBig(n, size int) []stored {
	e.t.Helper()
	payload := strings.Repeat("x", size)
	items := make([]stored, n)
	for i := range items {
		data := fmt.Sprintf(`{"n":%d,"pad":%q}`, i, payload)
		items[i] = stored{name: events.GroupMessage, data: data}
		if _, err := e.js.PublishAsync("qq.events.group_message", []byte(data)); err != nil {
			e.t.Fatal(err)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		e.t.Fatal("publishing did not complete within 60s")
	}
	info, err := e.js.Stream(context.Background(), "QQ_EVENTS")
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range items {
		items[i].seq = info.CachedInfo().State.LastSeq - uint64(n-1-i)
	}
	return items
}

// 200 clients read at once; one never reads. The others get every item without waiting on
// it, and it is dropped.
func TestSSEManyClientsOneSlow(t *testing.T) {
	t.Parallel()
	const (
		clients = 200
		n       = 500
	)
	// The gateway as served, default limits, but for the stream clients of one address: all
	// of them come from loopback.
	e := startStream(t, Config{StreamClientsPerIP: clients}, false, nil)

	// The slow client starts with a backlog far larger than the socket buffers, and reads
	// nothing: the gateway's writes to it stall.
	backlog := e.publishBig(48, 256<<10)
	slowResp := e.get(pathEvents, "since=0")
	if slowResp.StatusCode != http.StatusOK {
		t.Fatalf("slow client: HTTP %d", slowResp.StatusCode)
	}
	defer slowResp.Body.Close()

	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	fast := &http.Client{Transport: tr}
	results := make(chan countResult, clients-1)
	opened := make(chan struct{}, clients-1)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	sem := make(chan struct{}, 20)
	first := backlog[len(backlog)-1].seq + 1
	for range clients - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+pathEvents, nil)
			resp, err := fast.Do(req)
			<-sem
			opened <- struct{}{}
			if err != nil {
				results <- countResult{err: err}
				return
			}
			defer resp.Body.Close()
			results <- countItems(resp.Body, first, n)
		}()
	}
	for range clients - 1 {
		select {
		case <-opened:
		case <-time.After(60 * time.Second):
			t.Fatal("clients not connected within 60s")
		}
	}
	payload := strings.Repeat("y", 500)
	began := time.Now()
	for i := range n {
		if _, err := e.js.PublishAsync("qq.events.group_message", fmt.Appendf(nil, `{"n":%d,"pad":%q}`, i, payload)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publishing did not complete")
	}
	for i := range clients - 1 {
		select {
		case r := <-results:
			if r.err != nil || r.got != n {
				t.Fatalf("client %d: %d items, %v", i, r.got, r.err)
			}
		case <-time.After(120 * time.Second):
			t.Fatalf("only %d of %d clients got all %d items within 120s", i, clients-1, n)
		}
	}
	t.Logf("%d clients got %d items each in %s", clients-1, n, time.Since(began).Round(time.Millisecond))

	// The slow client, still not reading, is dropped once its write stalled for the write
	// timeout: its consumer goes (and those of the others, which hung up).
	stream, err := e.js.Stream(context.Background(), "QQ_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(defaultWriteTimeout + 30*time.Second)
	for {
		left := 0
		for range stream.ListConsumers(context.Background()).Info() {
			left++
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers left: the slow client was not dropped", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Its stream has ended: it reads what the buffers held, perhaps the error event, and the end.
	ended := make(chan error, 1)
	var evs []sseEvent
	go func() { ended <- readSSE(slowResp.Body, func(ev sseEvent) { evs = append(evs, ev) }) }()
	select {
	case err := <-ended:
		t.Logf("slow client: %d events, then %v", len(evs), err)
	case <-time.After(10 * time.Second):
		slowResp.Body.Close()
		<-ended
		t.Fatalf("the slow client's stream did not end: %d events read", len(evs))
	}
	items := 0
	for i, ev := range evs {
		switch {
		case ev.Comment != "":
		case ev.Event == "error" && i == len(evs)-1:
			if !strings.HasPrefix(ev.Data, `{"code":-10,"status":"too slow: `) {
				t.Errorf("error event %.200s", ev.Data)
			}
		case ev.ID == strconv.Itoa(items+1):
			items++
		default:
			t.Fatalf("slow client: event %d is %.200v after %d items", i, ev, items)
		}
	}
	if items >= len(backlog) {
		t.Errorf("the slow client got %d items: its writes never stalled", items)
	}
}

type countResult struct {
	got int
	err error
}

// countItems reads a stream until it has n items with ids first, first+1, ... in order.
func countItems(r io.Reader, first uint64, n int) (res countResult) {
	br := bufio.NewReader(r)
	for res.got < n {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			res.err = err
			return res
		}
		if id, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
			if string(bytes.TrimSpace(id)) != strconv.FormatUint(first+uint64(res.got), 10) {
				res.err = fmt.Errorf("id %s after %d items", id, res.got)
				return res
			}
			res.got++
		}
		for errors.Is(err, bufio.ErrBufferFull) { // the rest of a long line
			_, err = br.ReadSlice('\n')
		}
	}
	return res
}

// A shutdown ends the streams at once instead of waiting for them.
func TestStreamShutdown(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	s := e.open("")
	began := time.Now()
	e.stop()
	if _, err := s.waitEnd(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("stream ended with %v, want a clean end", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("shutdown took %s with a stream open", d)
	}
}

// Live clients of one filter share one consumer (issue #12: a consumer per client let
// clients starve the reporters of theirs); it is removed from the server when they go.
func TestStreamConsumersRemoved(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	stream, err := e.js.Stream(context.Background(), "QQ_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		for range stream.ListConsumers(context.Background()).Info() {
			n++
		}
		return n
	}
	var open []*sseStream
	for range 3 {
		open = append(open, e.open(""))
	}
	if n := count(); n != 1 {
		t.Errorf("%d consumers with 3 live clients of one filter, want 1", n)
	}
	for _, s := range open {
		s.close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers left after the clients went", count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
