package qq

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
)

// A member list is de-duplicated before anything is done, capped at MEMBERS_MAX distinct
// members (over it: a clear error, nobody muted), and logged as a count.
func TestMemberListDedupedAndCapped(t *testing.T) {
	e := startPubEnv(t, nil)
	nc, err := nats.Connect(e.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	call := func(p events.Params) events.Status {
		t.Helper()
		data, _ := json.Marshal(p)
		r, err := nc.Request("qq.api."+events.RouteShutupGroupMember, data, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var st events.Status
		if err := json.Unmarshal(r.Data, &st); err != nil {
			t.Fatalf("reply %.200s: %v", r.Data, err)
		}
		return st
	}
	muted := func(id int64) bool {
		m, ok := e.s.drv.(interface {
			MutedUntil(group, member int64) (time.Time, bool)
		})
		if !ok {
			t.Fatalf("driver %T does not tell who is muted", e.s.drv)
		}
		_, on := m.MutedUntil(pubGroupID, id)
		return on
	}
	group := strconv.FormatInt(pubGroupID, 10)

	// Over the cap: refused before any lookup, nobody muted.
	var distinct []string
	for i := range 101 {
		distinct = append(distinct, strconv.FormatInt(pubSenderID+int64(i), 10))
	}
	st := call(events.Params{"group_id": group, "time": "1", "member_id": strings.Join(distinct, ",")})
	if st.Code != events.CodeBadRequest || !strings.Contains(st.Status, "MEMBERS_MAX") {
		t.Errorf("101 distinct members: %+v, want a bad request naming MEMBERS_MAX", st)
	}
	if muted(pubSenderID) {
		t.Fatal("a member was muted by a refused list")
	}

	// 120,000 times the same member: one member, muted once, one short log line.
	dup := strings.TrimSuffix(strings.Repeat(strconv.FormatInt(pubSenderID, 10)+",", 120_000), ",")
	if st := call(events.Params{"group_id": group, "time": "1", "member_id": dup}); st.Code != events.CodeOK {
		t.Fatalf("duplicates of one member: %+v", st)
	}
	if !muted(pubSenderID) {
		t.Error("the member is not muted")
	}
	found := false
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if len(line) > 1000 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
		if strings.Contains(line, "msg=shutup") && strings.Contains(line, "members=1 ") {
			found = true
		}
	}
	if !found {
		t.Error("no shutup log line with members=1")
	}
}
