package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// watchReleases collects check_event's releases under prefix.
func watchReleases(t *testing.T, e *env, prefix string) <-chan events.CheckEventRelease {
	t.Helper()
	nc := natstest.Connect(t, e.srv)
	ch := make(chan events.CheckEventRelease, 64)
	subj := events.Subjects{Prefix: prefix}.CheckEventRelease()
	if subj != prefix+".api.check_event.release" {
		t.Fatalf("release subject %q", subj)
	}
	_, err := nc.Subscribe(subj, func(m *nats.Msg) {
		var r events.CheckEventRelease
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Errorf("release %q: %v", m.Data, err)
			return
		}
		ch <- r
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

// nextRelease waits for the release of ticket ("" for any).
func nextRelease(t *testing.T, ch <-chan events.CheckEventRelease, ticket string) events.CheckEventRelease {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-ch:
			if ticket == "" || r.Ticket == ticket {
				return r
			}
		case <-deadline:
			t.Fatalf("no release for ticket %q", ticket)
			return events.CheckEventRelease{}
		}
	}
}

// check_event is a long poll: the gateway names each call with a ticket, tells the session how
// long it holds, waits that much longer, and releases the ticket once the caller has the items.
func TestCheckEvent(t *testing.T) {
	const hold = 300 * time.Millisecond
	e := startEnv(t, Config{CheckEventHold: hold}, false)
	releases := watchReleases(t, e, "qq")
	path := "/openqq/" + events.RouteCheckEvent

	t.Run("ticket, hold and delivered release", func(t *testing.T) {
		seen := map[string]bool{}
		for i := range 3 {
			echo := decodeEcho(t, e.do(t, call{path: path, query: "id=1"}))
			if echo.Subject != "qq.api.check_event" || echo.Params["id"] != "1" {
				t.Errorf("session got %+v", echo)
			}
			if echo.Ticket == "" || seen[echo.Ticket] {
				t.Errorf("call %d: ticket %q, want a new one per call", i, echo.Ticket)
			}
			seen[echo.Ticket] = true
			if echo.Hold != hold.String() {
				t.Errorf("hold %q, want %q", echo.Hold, hold.String())
			}
			if r := nextRelease(t, releases, echo.Ticket); !r.Delivered {
				t.Errorf("release %+v after a 200, want delivered", r)
			}
		}
	})
	t.Run("other routes carry no ticket", func(t *testing.T) {
		echo := decodeEcho(t, e.do(t, call{query: "id=1"}))
		if echo.Ticket != "" || echo.Hold != "" {
			t.Errorf("get_user_info carries ticket %q hold %q", echo.Ticket, echo.Hold)
		}
	})
	t.Run("POST JSON and JSONP", func(t *testing.T) {
		a := e.do(t, call{method: http.MethodPost, path: path, query: "datatype=jsonp&callback=cb",
			ct: "application/json", body: []byte(`{"id":2}`)})
		cb, inner, ok := unwrapJSONP(a.body)
		if a.status != http.StatusOK || !ok || cb != "cb" {
			t.Fatalf("HTTP %d %s, want cb(...)", a.status, a.body)
		}
		var echo received
		if err := json.Unmarshal(inner, &echo); err != nil || echo.Params["id"] != "2" {
			t.Fatalf("echo %s: %v", inner, err)
		}
		if r := nextRelease(t, releases, echo.Ticket); !r.Delivered {
			t.Errorf("release %+v, want delivered", r)
		}
	})
	t.Run("session error: not delivered", func(t *testing.T) {
		rid := "ce-error"
		q := url.Values{"rid": {rid}, "mode": {modeError}, "code": {"500"}, "body": {`{"code":-9,"status":"x"}`}}
		a := e.do(t, call{path: path, query: q.Encode()})
		if a.status != http.StatusInternalServerError {
			t.Errorf("HTTP %d, want 500", a.status)
		}
		got, ok := e.receivedBy(rid)
		if !ok {
			t.Fatal("the session got no request")
		}
		if r := nextRelease(t, releases, got.Ticket); r.Delivered {
			t.Errorf("release %+v after a 500, want not delivered", r)
		}
	})
	t.Run("held past API timeout but within hold", func(t *testing.T) {
		// slowDelay is over APITimeout here only if the gateway adds the hold: it must.
		e2 := startEnv(t, Config{APITimeout: slowDelay / 2, CheckEventHold: 2 * slowDelay}, false)
		if echo := decodeEcho(t, e2.do(t, call{path: path, query: "mode=" + modeSlow})); echo.Ticket == "" {
			t.Errorf("echo without ticket: %+v", echo)
		}
		// Other routes keep the bare API timeout.
		wantStatus(t, e2.do(t, call{query: "mode=" + modeSlow}), events.ErrTimeout)
	})
}

func TestCheckEventTimeout(t *testing.T) {
	const timeout, hold = 200 * time.Millisecond, 300 * time.Millisecond
	e := startEnv(t, Config{APITimeout: timeout, CheckEventHold: hold}, false)
	releases := watchReleases(t, e, "qq")
	start := time.Now()
	a := e.do(t, call{path: "/openqq/check_event", query: "rid=ce-timeout&mode=" + modeSilent})
	took := time.Since(start)
	wantStatus(t, a, events.ErrTimeout)
	if took < timeout+hold || took > timeout+hold+3*time.Second {
		t.Errorf("time-out after %s, want about %s", took, timeout+hold)
	}
	got, _ := e.receivedBy("ce-timeout")
	if r := nextRelease(t, releases, got.Ticket); r.Delivered || got.Ticket == "" {
		t.Errorf("release %+v (ticket %q) after a time-out, want not delivered", r, got.Ticket)
	}
}

func TestCheckEventNoSession(t *testing.T) {
	e := startEnv(t, Config{CheckEventHold: time.Second}, true)
	releases := watchReleases(t, e, "qq")
	wantStatus(t, e.do(t, call{path: "/openqq/check_event"}), events.ErrUnavailable)
	if r := nextRelease(t, releases, ""); r.Delivered || r.Ticket == "" {
		t.Errorf("release %+v, want a ticket not delivered", r)
	}
}

// A caller who hangs up while the session holds the call did not get the items.
func TestCheckEventCallerGone(t *testing.T) {
	e := startEnv(t, Config{CheckEventHold: 2 * time.Second}, false)
	releases := watchReleases(t, e, "qq")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/openqq/check_event?mode="+modeSlow, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := e.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	var got received
	select {
	case got = <-e.seen:
	case <-time.After(5 * time.Second):
		t.Fatal("the session never got the call")
	}
	cancel()
	if err := <-done; err == nil {
		t.Errorf("the cancelled call got an answer")
	}
	if r := nextRelease(t, releases, got.Ticket); r.Delivered {
		t.Errorf("release %+v for a caller who hung up, want not delivered", r)
	}
}

func TestCheckEventCustomPrefix(t *testing.T) {
	e := startEnv(t, Config{SubjectPrefix: "acct1", CheckEventHold: time.Second}, false)
	releases := watchReleases(t, e, "acct1")
	echo := decodeEcho(t, e.do(t, call{path: "/openqq/check_event"}))
	if echo.Subject != "acct1.api.check_event" {
		t.Errorf("subject %q", echo.Subject)
	}
	if r := nextRelease(t, releases, echo.Ticket); !r.Delivered {
		t.Errorf("release %+v, want delivered", r)
	}
}
