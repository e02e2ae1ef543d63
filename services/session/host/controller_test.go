package host

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// Every host serves the Controller of its prefix: start_client on two hosts' queue group
// stores the spec and the account runs on one of them; check_client names its state and host;
// get_qrcode answers 404 once it is running (no scan awaited); stop_client stops it and removes
// its lease.
func TestControllerOnHosts(t *testing.T) {
	srv := natstest.Start(t)
	h1 := startHost(t, srv, "h1", Off)
	h2 := startHost(t, srv, "h2", Off)
	nc := natstest.Connect(t, srv)
	subj := events.Subjects{Prefix: "qq"}
	call := func(route string, p events.Params) *nats.Msg {
		t.Helper()
		data, _ := json.Marshal(p)
		var m *nats.Msg
		var err error
		waitFor(t, "an answer on "+subj.Controller(route), func() bool {
			m, err = nc.Request(subj.Controller(route), data, 10*time.Second)
			return err == nil
		})
		return m
	}
	object := func(m *nats.Msg) map[string]any {
		t.Helper()
		var out map[string]any
		if err := json.Unmarshal(m.Data, &out); err != nil {
			t.Fatalf("reply %q: %v", m.Data, err)
		}
		return out
	}

	r := object(call(events.RouteStartClient, events.Params{"client": "alice", "driver": "sim", "sim_qrcode_dir": t.TempDir()}))
	if r["code"] != 0.0 || r["status"] != "success" || r["client"] != "alice" {
		t.Fatalf("start_client: %v", r)
	}
	leases := kv(t, nc, subj.LeasesBucket())
	where := runningOn(t, leases, []string{"alice"}, h1.ID(), h2.ID())
	apiAnswers(t, nc, "alice")

	var check struct {
		Code   int              `json:"code"`
		Client []map[string]any `json:"client"`
	}
	if err := json.Unmarshal(call(events.RouteCheckClient, events.Params{"client": "alice"}).Data, &check); err != nil {
		t.Fatal(err)
	}
	if check.Code != 0 || len(check.Client) != 1 || check.Client[0]["state"] != "running" || check.Client[0]["host"] != where["alice"] {
		t.Errorf("check_client: %+v, want alice running on %s", check, where["alice"])
	}
	if m := call(events.RouteGetQRCode, events.Params{"client": "alice"}); m.Header.Get(events.HeaderServiceErrorCode) != "404" {
		t.Errorf("get_qrcode of a running account: %q %v, want 404", m.Data, m.Header)
	}

	r = object(call(events.RouteStopClient, events.Params{"client": "alice"}))
	if r["code"] != 0.0 || r["status"] != "success" {
		t.Fatalf("stop_client: %v", r)
	}
	waitFor(t, "alice's lease gone", func() bool { _, ok := leaseOf(t, leases, "alice"); return !ok })
	if _, err := nc.Request(subj.ForClient("alice").API(events.RouteGetFriendInfo), []byte("{}"), time.Second); err == nil {
		t.Errorf("alice still answers after stop_client")
	}
	if r := object(call(events.RouteStopClient, events.Params{"client": "alice"})); r["code"] != 1.0 || r["status"] != "client not exists" {
		t.Errorf("stop_client again: %v", r)
	}
}
