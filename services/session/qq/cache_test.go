package qq

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
)

// The get_*_info replies carry their version; a caller holding the current one gets no body.
func TestCachedRepliesAreVersioned(t *testing.T) {
	e := startPubEnv(t, nil)
	nc, err := nats.Connect(e.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ask := func(route, etag string) *nats.Msg {
		t.Helper()
		m := nats.NewMsg("qq.api." + route)
		m.Data = []byte("{}")
		if etag != "" {
			m.Header.Set(events.HeaderIfNoneMatch, etag)
		}
		r, err := nc.RequestMsg(m, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		return r
	}
	for _, route := range []string{events.RouteGetUserInfo, events.RouteGetFriendInfo, events.RouteGetGroupInfo,
		events.RouteGetGroupBasicInfo, events.RouteGetDiscussInfo} {
		t.Run(route, func(t *testing.T) {
			first := ask(route, "")
			etag := first.Header.Get(events.HeaderETag)
			if etag == "" || len(first.Data) == 0 || first.Header.Get(events.HeaderNotModified) != "" {
				t.Fatalf("first reply: etag %q, %d bytes, headers %v", etag, len(first.Data), first.Header)
			}
			same := ask(route, etag)
			if same.Header.Get(events.HeaderNotModified) == "" || len(same.Data) != 0 || same.Header.Get(events.HeaderETag) != etag {
				t.Errorf("holding the current version: headers %v, %d bytes; want not modified, no body", same.Header, len(same.Data))
			}
			other := ask(route, "another-boot.1")
			if !bytes.Equal(other.Data, first.Data) || other.Header.Get(events.HeaderNotModified) != "" {
				t.Errorf("holding another version: got %d bytes, headers %v; want the full reply", len(other.Data), other.Header)
			}
		})
	}

	// A roster change makes a new version.
	before := ask(events.RouteGetGroupInfo, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = e.s.Change(ctx, driver.Change{Kind: events.EventNewGroupMember, GroupID: pubGroupID,
		Member: events.GroupMember{ID: 4_000_000_001, UID: 4_000_000_001, Name: "新人", Role: events.MemberRoleMember}})
	if err != nil {
		t.Fatal(err)
	}
	after := ask(events.RouteGetGroupInfo, before.Header.Get(events.HeaderETag))
	if after.Header.Get(events.HeaderETag) == before.Header.Get(events.HeaderETag) || after.Header.Get(events.HeaderNotModified) != "" {
		t.Fatalf("after a new member: etag %q (was %q), headers %v", after.Header.Get(events.HeaderETag), before.Header.Get(events.HeaderETag), after.Header)
	}
	if !bytes.Contains(after.Data, []byte("新人")) {
		t.Errorf("new version lacks the new member: %.200s", after.Data)
	}
}
