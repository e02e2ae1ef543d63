package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver/sim"
)

const (
	objNotFound  = `{"code":100,"status":"object not found"}`
	shutupTime   = `{"code":400,"status":"shutup time missing or error"}`
	memberEmpty  = `{"code":200,"status":"member id empty"}`
	failure      = `{"code":201,"status":"failure"}`
	success      = `{"code":0,"status":"success"}`
	perlGroupArg = "2617047292"
)

func memberNotFound(x string) string {
	return fmt.Sprintf(`{"code":100,"status":"member %s not found"}`, x)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// mutedUntil reads the sim's record of a mute.
func (e *env) mutedUntil(group, member int64) (time.Time, bool) {
	return e.sess.Driver().(*sim.Sim).MutedUntil(group, member)
}

// The checks of shutup_group_member in Mojo's order (group, time, members, rights), none of
// which mutes anybody.
func TestShutupValidation(t *testing.T) {
	t.Parallel()
	e := start(t)
	pm := itoa(perlMemberID)
	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"unknown group_id", []string{"group_id", "1", "time", "1", "member_id", pm}, objNotFound},
		{"unknown group_uid", []string{"group_uid", "1", "time", "1", "member_id", pm}, objNotFound},
		{"group_id and group_uid of different groups", []string{"group_id", perlGroupArg, "group_uid", "67891", "time", "1", "member_id", pm}, objNotFound},
		{"no group", []string{"time", "1", "member_id", pm}, objNotFound},
		{"group checked before time", []string{"group_id", "1", "time", "abc", "member_id", pm}, objNotFound},
		{"time missing", []string{"group_id", perlGroupArg, "member_id", pm}, shutupTime},
		{"time empty", []string{"group_id", perlGroupArg, "time", "", "member_id", pm}, shutupTime},
		{"time abc", []string{"group_id", perlGroupArg, "time", "abc", "member_id", pm}, shutupTime},
		{"time -1", []string{"group_id", perlGroupArg, "time", "-1", "member_id", pm}, shutupTime},
		{"time 1.5", []string{"group_id", perlGroupArg, "time", "1.5", "member_id", pm}, shutupTime},
		{"time +1", []string{"group_id", perlGroupArg, "time", "+1", "member_id", pm}, shutupTime},
		{"time with a space", []string{"group_id", perlGroupArg, "time", " 1", "member_id", pm}, shutupTime},
		{"time checked before members", []string{"group_id", perlGroupArg, "time", "abc"}, shutupTime},
		{"no member", []string{"group_id", perlGroupArg, "time", "1"}, memberEmpty},
		{"member_id and member_uid empty", []string{"group_id", perlGroupArg, "time", "1", "member_id", "", "member_uid", ""}, memberEmpty},
		{"member_id only commas", []string{"group_uid", "67890", "time", "1", "member_id", ",,"}, memberEmpty},
		{"unknown member_id", []string{"group_id", perlGroupArg, "time", "1", "member_id", "1"}, memberNotFound("1")},
		{"unknown member_uid", []string{"group_id", perlGroupArg, "time", "1", "member_uid", "2"}, memberNotFound("2")},
		{"a uid given as member_id", []string{"group_id", perlGroupArg, "time", "1", "member_id", itoa(perlMemberUID)}, memberNotFound(itoa(perlMemberUID))},
		{"unknown member in a list", []string{"group_id", perlGroupArg, "time", "1", "member_id", pm + ",3"}, memberNotFound("3")},
		{"member_id wins over member_uid", []string{"group_id", perlGroupArg, "time", "1", "member_id", "4", "member_uid", itoa(perlMemberUID)}, memberNotFound("4")},
		{"member of another group", []string{"group_id", perlGroupArg, "time", "1", "member_id", itoa(hikeMemberID)}, memberNotFound(itoa(hikeMemberID))},
		{"time 0", []string{"group_id", perlGroupArg, "time", "0", "member_id", pm}, failure},
		{"time over 30 days", []string{"group_id", perlGroupArg, "time", "43201", "member_id", pm}, failure},
		{"time overflowing", []string{"group_id", perlGroupArg, "time", "99999999999999999999", "member_id", pm}, failure},
		{"an admin", []string{"group_id", perlGroupArg, "time", "1", "member_id", itoa(perlAdminID)}, failure},
		{"the owner", []string{"group_id", perlGroupArg, "time", "1", "member_uid", itoa(perlOwnerUID)}, failure},
		{"the account itself", []string{"group_id", perlGroupArg, "time", "1", "member_id", itoa(meID)}, failure},
		{"a member and an admin", []string{"group_id", perlGroupArg, "time", "1", "member_id", pm + "," + itoa(perlAdminID)}, failure},
		{"the owner's group's admin", []string{"group_id", itoa(devGroupID), "time", "1", "member_id", itoa(friend2ID)}, failure},
		{"a group where the account is a plain member", []string{"group_id", itoa(hikeGroupID), "time", "1", "member_id", itoa(hikeMemberID)}, failure},
		{"a group where the account is a plain member, by uid", []string{"group_uid", "67892", "time", "5", "member_id", itoa(hikeMemberID)}, failure},
	}
	for _, c := range cases {
		for _, v := range vias {
			t.Run(c.name+"/"+string(v), func(t *testing.T) {
				code, body := e.with(t).call(v, "shutup_group_member", c.kv...)
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				sameJSON(t, body, c.want)
			})
		}
	}
	for _, gm := range [][2]int64{{perlGroupID, perlMemberID}, {perlGroupID, perlAdminID}, {perlGroupID, perlOwnerID},
		{perlGroupID, meID}, {hikeGroupID, hikeMemberID}, {devGroupID, friend2ID}} {
		if until, muted := e.mutedUntil(gm[0], gm[1]); muted || !until.IsZero() {
			t.Errorf("member %d of group %d muted until %s by a refused call", gm[1], gm[0], until)
		}
	}
	// The muted-nobody check above is the proof; the member can still speak, too.
	if r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: perlMemberID, Content: "still here"}); r.Code != 0 {
		t.Errorf("member refused after failed mutes: %+v", r)
	}
}

// A successful mute: success, the sim holds the member muted for time minutes, and QQ no longer
// delivers what the member says in the group.
func TestShutupSuccess(t *testing.T) {
	t.Parallel()
	e := start(t)
	perlMembers := []int64{2372993887, 2373001806, 2373009725, 2373017644, 2373033482, 2373041401} // plain members
	cases := []struct {
		name    string
		v       via
		kv      []string
		json    map[string]any // instead of kv, a JSON body with numbers
		group   int64
		members []int64
		minutes int64
	}{
		{name: "group_id and member_id", v: viaGET, kv: []string{"group_id", perlGroupArg, "member_id", itoa(perlMemberID), "time", "1"},
			group: perlGroupID, members: []int64{perlMemberID}, minutes: 1},
		{name: "group_uid and member_uid", v: viaForm, kv: []string{"group_uid", "67890", "member_uid", itoa(perlCardedUID), "time", "2"},
			group: perlGroupID, members: []int64{perlCardedID}, minutes: 2},
		{name: "owned group", v: viaJSON, kv: []string{"group_id", itoa(devGroupID), "member_uid", itoa(devMemberUID), "time", "10"},
			group: devGroupID, members: []int64{devMemberID}, minutes: 10},
		{name: "comma list of ids", v: viaGET, kv: []string{"group_id", perlGroupArg, "member_id", itoa(perlMembers[0]) + "," + itoa(perlMembers[1]), "time", "3"},
			group: perlGroupID, members: perlMembers[:2], minutes: 3},
		{name: "comma list of uids with spaces", v: viaForm, kv: []string{"group_id", perlGroupArg, "member_uid", "459540 , 459671", "time", "4"},
			group: perlGroupID, members: perlMembers[1:3] /* uids of 2373001806 and 2373009725 */, minutes: 4},
		{name: "member_id wins over member_uid", v: viaGET, kv: []string{"group_id", perlGroupArg, "member_id", itoa(perlMembers[3]), "member_uid", "1", "time", "1"},
			group: perlGroupID, members: perlMembers[3:4], minutes: 1},
		{name: "JSON numbers and an id list", json: map[string]any{"group_id": perlGroupID, "member_id": []int64{perlMembers[4], perlMembers[5]}, "time": 5},
			group: perlGroupID, members: perlMembers[4:6], minutes: 5},
		{name: "the longest mute", v: viaGET, kv: []string{"group_id", itoa(devGroupID), "member_id", itoa(devMember2ID), "time", "43200"},
			group: devGroupID, members: []int64{devMember2ID}, minutes: 43200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			began := time.Now()
			var code int
			var body []byte
			if c.json != nil {
				code, body = e.postJSON("shutup_group_member", c.json)
			} else {
				code, body = e.call(c.v, "shutup_group_member", c.kv...)
			}
			ended := time.Now()
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			sameJSON(t, body, success)
			d := time.Duration(c.minutes) * time.Minute
			for _, m := range c.members {
				until, muted := e.mutedUntil(c.group, m)
				if !muted {
					t.Errorf("member %d of group %d not muted", m, c.group)
				}
				if until.Before(began.Add(d)) || until.After(ended.Add(d)) {
					t.Errorf("member %d muted until %s, want %s after the call (%s..%s)", m, until, d, began.Add(d), ended.Add(d))
				}
				r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: c.group, SenderID: m, Content: "我被禁言了吗"})
				if r.Code == 0 {
					t.Errorf("a muted member's group message was delivered: %+v", r)
				}
			}
		})
	}
	t.Run("others can still speak", func(t *testing.T) {
		r := e.with(t).inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: perlOwnerID, Content: "我没被禁言"})
		if r.Code != 0 {
			t.Errorf("an unmuted member was refused: %+v", r)
		}
	})
}

// kick_group_member validates as shutup does, without time.
func TestKickValidation(t *testing.T) {
	t.Parallel()
	e := start(t)
	pm := itoa(perlMemberID)
	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"unknown group_id", []string{"group_id", "1", "member_id", pm}, objNotFound},
		{"unknown group_uid", []string{"group_uid", "1", "member_id", pm}, objNotFound},
		{"no group", []string{"member_id", pm}, objNotFound},
		{"no member", []string{"group_id", perlGroupArg}, memberEmpty},
		{"member_id and member_uid empty", []string{"group_id", perlGroupArg, "member_id", "", "member_uid", ""}, memberEmpty},
		{"member_uid only commas", []string{"group_id", perlGroupArg, "member_uid", ","}, memberEmpty},
		{"unknown member_id", []string{"group_id", perlGroupArg, "member_id", "1"}, memberNotFound("1")},
		{"unknown member_uid", []string{"group_uid", "67890", "member_uid", "2"}, memberNotFound("2")},
		{"unknown member in a list", []string{"group_id", perlGroupArg, "member_id", pm + ",3"}, memberNotFound("3")},
		{"member_id wins over member_uid", []string{"group_id", perlGroupArg, "member_id", "4", "member_uid", itoa(perlMemberUID)}, memberNotFound("4")},
		{"an admin", []string{"group_id", perlGroupArg, "member_id", itoa(perlAdminID)}, failure},
		{"the owner", []string{"group_id", perlGroupArg, "member_id", itoa(perlOwnerID)}, failure},
		{"the account itself", []string{"group_id", perlGroupArg, "member_id", itoa(meID)}, failure},
		{"a member and an admin", []string{"group_id", perlGroupArg, "member_id", pm + "," + itoa(perlAdminID)}, failure},
		{"a group where the account is a plain member", []string{"group_id", itoa(hikeGroupID), "member_id", itoa(hikeMemberID)}, failure},
		{"a bad time is no matter", []string{"group_id", itoa(hikeGroupID), "member_id", itoa(hikeMemberID), "time", "abc"}, failure},
	}
	reports := e.subscribe("")
	for _, c := range cases {
		for _, v := range vias {
			t.Run(c.name+"/"+string(v), func(t *testing.T) {
				code, body := e.with(t).call(v, "kick_group_member", c.kv...)
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				sameJSON(t, body, c.want)
			})
		}
	}
	if before := sentinel(t, e, reports); len(before) != 0 {
		t.Errorf("refused kicks published %d items, first %s", len(before), before[0].Data)
	}
	counts := map[int64]int64{perlGroupID: 311, devGroupID: 21, hikeGroupID: 61}
	for _, g := range e.groupInfo() {
		if id := intOf(t, g, "id"); int64(len(members(t, g))) != counts[id] || intOf(t, g, "member_count") != counts[id] {
			t.Errorf("group %d: %d members, member_count %v, want %d", id, len(members(t, g)), g["member_count"], counts[id])
		}
	}
}

// A successful kick: success, the member is gone everywhere, and lose_group_member [member,
// group] is published once per member, with the group as it is without the member.
func TestKickSuccess(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	cases := []struct {
		name    string
		v       via
		kv      []string
		group   int64
		members []int64
		count   int64 // member_count afterwards
	}{
		{"group_id and member_id", viaGET, []string{"group_id", perlGroupArg, "member_id", itoa(perlMemberID)},
			perlGroupID, []int64{perlMemberID}, 310},
		{"group_uid and member_uid", viaForm, []string{"group_uid", "67890", "member_uid", itoa(perlCardedUID)},
			perlGroupID, []int64{perlCardedID}, 309},
		{"comma list in the owned group", viaJSON, []string{"group_id", itoa(devGroupID), "member_id", itoa(devMemberID) + "," + itoa(devMember2ID)},
			devGroupID, []int64{devMemberID, devMember2ID}, 19},
		{"member_id wins", viaGET, []string{"group_id", perlGroupArg, "member_id", "2372993887", "member_uid", "1"},
			perlGroupID, []int64{2372993887}, 308},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, reports := e.with(t), reports.with(t)
			code, body := e.call(c.v, "kick_group_member", c.kv...)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			sameJSON(t, body, success)
			for i, id := range c.members {
				raw := await(t, reports, events.EventLoseGroupMember, nil)
				p := params(t, raw, events.EventLoseGroupMember, 2)
				member, group := object(t, p[0]), object(t, p[1])
				hasKeys(t, "lose_group_member member", member, memberKeys...)
				hasKeys(t, "lose_group_member group", group, append(groupKeys, "member")...)
				if got := intOf(t, member, "id"); got != id {
					t.Errorf("lose_group_member %d: member %d, want %d", i, got, id)
				}
				if got := intOf(t, group, "id"); got != c.group {
					t.Errorf("lose_group_member: group %d, want %d", got, c.group)
				}
				ms := members(t, group)
				if byID(ms, id) != nil {
					t.Errorf("lose_group_member's group still lists member %d", id)
				}
				if n := intOf(t, group, "member_count"); n != int64(len(ms)) {
					t.Errorf("lose_group_member's group: member_count %d, %d members", n, len(ms))
				}
			}
			if extra := sentinel(t, e, reports); len(extra) != 0 {
				t.Errorf("%d more items after the kick's events, first %s", len(extra), extra[0].Data)
			}
			g := byID(e.groupInfo(), c.group)
			ms := members(t, g)
			if n := intOf(t, g, "member_count"); n != c.count || int64(len(ms)) != c.count {
				t.Errorf("get_group_info: member_count %d, %d members, want %d", n, len(ms), c.count)
			}
			for _, id := range c.members {
				if byID(ms, id) != nil {
					t.Errorf("get_group_info still lists member %d", id)
				}
				// Gone for every route: a second kick, a sess message, and QQ itself.
				code, body := e.get("kick_group_member", q("group_id", itoa(c.group), "member_id", itoa(id)))
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				sameJSON(t, body, memberNotFound(itoa(id)))
				code, body = e.get("send_sess_message", q("group_id", itoa(c.group), "id", itoa(id), "content", "x"))
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				sameJSON(t, body, `{"code":103,"id":null,"status":"group member not found"}`)
				if r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: c.group, SenderID: id, Content: "我还在吗"}); r.Code == 0 {
					t.Errorf("a kicked member's message was delivered: %+v", r)
				}
			}
			code, body = e.get("get_group_basic_info", nil)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if n := intOf(t, byID(array(t, body), c.group), "member_count"); n != c.count {
				t.Errorf("get_group_basic_info: member_count %d, want %d", n, c.count)
			}
		})
	}
	// The kick's event carries the ids as integers, like every other report.
	t.Run("event ids are integers", func(t *testing.T) {
		e, reports := e.with(t), reports.with(t)
		code, body := e.postJSON("kick_group_member", map[string]any{"group_id": perlGroupID, "member_id": json.Number("2373033482")})
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		sameJSON(t, body, success)
		p := params(t, await(t, reports, events.EventLoseGroupMember, nil), events.EventLoseGroupMember, 2)
		fields(t, "member", object(t, p[0]), map[string]any{"id": 2373033482, "uid": 460064})
		fields(t, "group", object(t, p[1]), map[string]any{"id": perlGroupID, "uid": perlGroupUID, "member_count": 307})
	})
}
