package qq

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/roster"
)

// maxMute is the longest mute QQ allows (30 days).
const maxMute = 30 * 24 * time.Hour

// shutupGroupMember mutes members for `time` minutes (the newest seed's unit). openqq also
// takes `seconds` instead, the unit of post_api's shutup_time.
func (q *Platform) shutupGroupMember(ctx context.Context, p events.Params) (any, error) {
	key, unit := "time", time.Minute
	if _, ok := p["time"]; !ok {
		if _, ok := p["seconds"]; ok {
			key, unit = "seconds", time.Second
		}
	}
	q.e.RLock()
	g, members, err := q.targets(p, func() error {
		if t, ok := p[key]; !ok || !isDigits(t) {
			return events.ErrShutupTime
		}
		return nil
	})
	q.e.RUnlock()
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(p[key], 10, 64)
	d := time.Duration(n) * unit
	if n > int64(maxMute/unit) {
		err = strconv.ErrRange
	}
	// QQ's own limits: at least a minute, at most 30 days; time=0 fails as it did in Mojo.
	if err != nil || d < time.Minute || d > maxMute {
		q.log.Info("shutup refused: time out of range", key, p[key])
		return nil, events.ErrFailure
	}
	if err := q.allowed(g, members); err != nil {
		return nil, err
	}
	ids := memberIDs(members)
	if err := q.drv.Mute(ctx, g.ID, ids, d); err != nil {
		q.log.Warn("shutup failed", "group", g.ID, "members", len(ids), "first", ids[0], "err", err)
		return nil, events.ErrFailure
	}
	q.log.Info("shutup", "group", g.ID, "members", len(ids), "first", ids[0], "for", d)
	return events.StatusSuccess, nil
}

// kickGroupMember removes members and publishes lose_group_member [member, group] for each.
func (q *Platform) kickGroupMember(ctx context.Context, p events.Params) (any, error) {
	q.e.RLock()
	g, members, err := q.targets(p, nil)
	q.e.RUnlock()
	if err != nil {
		return nil, err
	}
	if err := q.allowed(g, members); err != nil {
		return nil, err
	}
	ids := memberIDs(members)
	if err := q.drv.Kick(ctx, g.ID, ids); err != nil {
		q.log.Warn("kick failed", "group", g.ID, "members", len(ids), "first", ids[0], "err", err)
		return nil, events.ErrFailure
	}
	q.log.Info("kick", "group", g.ID, "members", len(ids), "first", ids[0])
	for _, m := range members {
		q.e.Lock()
		removed, after, ok := q.ro.RemoveGroupMember(g.ID, m.ID)
		var ev *events.Event
		if ok {
			q.e.Changed()
			ev, err = events.NewEvent(events.EventLoseGroupMember, removed, *after)
		}
		q.e.Unlock()
		if !ok {
			continue
		}
		if err != nil {
			q.log.Error("lose_group_member", "err", err)
			continue
		}
		_ = q.e.PublishItem(ev, engine.NextEventID())
	}
	return events.StatusSuccess, nil
}

// targets reads the group and the members of shutup and kick, in Mojo's order of checks: the
// group, then check (shutup's time), then the member list. It copies what it returns, since the
// caller lets go of the lock. The caller holds the read lock.
func (q *Platform) targets(p events.Params, check func() error) (events.Group, []events.GroupMember, error) {
	if q.ro == nil {
		return events.Group{}, nil, events.ErrNotReady(q.e.State())
	}
	g := q.ro.FindGroupRef(p)
	if g == nil {
		return events.Group{}, nil, events.ErrObjNotFound
	}
	if check != nil {
		if err := check(); err != nil {
			return events.Group{}, nil, err
		}
	}
	key, list := "uid", p["member_uid"]
	if v, ok := p["member_id"]; ok {
		key, list = "id", v
	}
	// Each member is one driver call (one OneBot action): repeats go, and the list is
	// capped before anything is looked up or done.
	var wanted []string
	seen := map[string]bool{}
	for _, x := range strings.Split(list, ",") {
		x = strings.TrimSpace(x)
		if x == "" || seen[x] {
			continue
		}
		seen[x] = true
		wanted = append(wanted, x)
		if len(wanted) > q.cfg.MembersMax {
			return events.Group{}, nil, events.ErrBadRequest("member_%s: more than %d distinct members (MEMBERS_MAX)", key, q.cfg.MembersMax)
		}
	}
	var members []events.GroupMember
	ids := map[int64]bool{}
	for _, x := range wanted {
		m := roster.FindGroupMember(g, events.Params{key: x})
		if m == nil {
			return events.Group{}, nil, events.ErrMemberNotFound(x)
		}
		if !ids[m.ID] {
			ids[m.ID] = true
			members = append(members, *m)
		}
	}
	if len(members) == 0 {
		return events.Group{}, nil, events.ErrMemberEmpty
	}
	group := *g
	group.Member = nil
	return group, members, nil
}

// allowed applies QQ's rule: only the group's owner or an admin may act, and never on an owner
// or admin.
func (q *Platform) allowed(g events.Group, members []events.GroupMember) error {
	if g.Role != events.GroupRoleCreate && g.Role != events.GroupRoleManage {
		q.log.Info("refused: not an admin of the group", "group", g.ID, "role", g.Role)
		return events.ErrFailure
	}
	for _, m := range members {
		if m.Role == events.MemberRoleOwner || m.Role == events.MemberRoleAdmin {
			q.log.Info("refused: member is an owner or admin", "group", g.ID, "member", m.ID, "role", m.Role)
			return events.ErrFailure
		}
	}
	return nil
}

func memberIDs(ms []events.GroupMember) []int64 {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
