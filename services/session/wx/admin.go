package wx

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// The admin routes look up their objects under the read lock, in Mojo's order of checks, then
// call the driver without the lock. Their roster effects come back through the Sink as WeChat
// reports them (wxdriver's contract), so every change is published once, the same way
// whoever made it.

// Openwx answers several failures with code -1, which is also openqq's "api not found" (HTTP
// 403) when an error carries it; replies are therefore returned as values, which always go out
// as HTTP 200 with their own code, as in Mojo.

// revokeMessage withdraws a message sent through the API, named by its send reply's id
// "<MsgID>:<peer id>". A failure is code 201 "revoke failure" (Mojo answered code 0).
func (w *Platform) revokeMessage(ctx context.Context, p events.Params) (any, error) {
	id := strings.TrimSpace(p["id"])
	if id == "" {
		return wx.ErrMsgIDNotFound, nil
	}
	msgID, peer, ok := wx.SplitMsgID(id)
	if !ok {
		w.log.Info("revoke refused: id is not <MsgID>:<peer id>", "id", id)
		return wx.NewRevokeReply(id, false), nil
	}
	if err := w.drv.Revoke(ctx, msgID, peer); err != nil {
		if u := w.unsupported("revoke_message", err); u != nil {
			return u, nil
		}
		w.log.Info("revoke failed", "id", id, "err", err)
		return wx.NewRevokeReply(id, false), nil
	}
	return wx.NewRevokeReply(id, true), nil
}

// friendIDs reads create_group's and invite_friend's friends (or the seed's friend): none is
// 200 "friend id empty", one that is not a friend 100 "friend id X not found". The caller holds
// the read lock.
func (w *Platform) friendIDs(ro *wxroster.Roster, p events.Params) ([]string, error) {
	ids, err := idList(p, w.cfg.MembersMax, "friends", "friend")
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, wx.ErrFriendIDEmpty
	}
	for _, id := range ids {
		if ro.Friend(id) == nil {
			return nil, wx.ErrFriendIDNotFound(id)
		}
	}
	return ids, nil
}

// createGroup makes a group of the account and friends, named displayname (may be empty).
func (w *Platform) createGroup(ctx context.Context, p events.Params) (any, error) {
	var ids []string
	if err := w.roster(func(ro *wxroster.Roster) (err error) { ids, err = w.friendIDs(ro, p); return err }); err != nil {
		return nil, err
	}
	gid, err := w.drv.CreateGroup(ctx, p["displayname"], ids)
	if u := w.unsupported("create_group", err); u != nil {
		return u, nil
	}
	if err != nil {
		w.log.Warn("create_group failed", "friends", len(ids), "err", err)
		return wx.ErrCreateFailure, nil
	}
	w.log.Info("create_group", "group", gid, "friends", len(ids))
	return wx.NewCreateGroupReply(gid), nil
}

// findGroup is the group a call names by id or displayname; 100 "object not found". The caller
// holds the read lock.
func findGroup(ro *wxroster.Roster, p events.Params) (*wx.Group, error) {
	g := ro.FindGroup(selector(p, wxroster.GroupSelectors...))
	if g == nil {
		return nil, events.ErrObjNotFound
	}
	return g, nil
}

// inviteFriend adds friends to a group.
func (w *Platform) inviteFriend(ctx context.Context, p events.Params) (any, error) {
	var gid string
	var ids []string
	err := w.roster(func(ro *wxroster.Roster) error {
		g, err := findGroup(ro, p)
		if err != nil {
			return err
		}
		gid = g.ID
		ids, err = w.friendIDs(ro, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return w.done("invite_friend", gid, w.drv.Invite(ctx, gid, ids))
}

// kickGroupMember removes members (members, or the seed's member) from a group.
func (w *Platform) kickGroupMember(ctx context.Context, p events.Params) (any, error) {
	var gid string
	var ids []string
	err := w.roster(func(ro *wxroster.Roster) error {
		g, err := findGroup(ro, p)
		if err != nil {
			return err
		}
		gid = g.ID
		if ids, err = idList(p, w.cfg.MembersMax, "members", "member"); err != nil {
			return err
		}
		if len(ids) == 0 {
			return wx.ErrMemberIDEmpty
		}
		for _, id := range ids {
			if wxroster.GroupMember(g, id) == nil {
				return wx.ErrMemberIDNotFound(id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w.done("kick_group_member", gid, w.drv.Kick(ctx, gid, ids))
}

// setGroupDisplayname renames a group.
func (w *Platform) setGroupDisplayname(ctx context.Context, p events.Params) (any, error) {
	var gid string
	err := w.roster(func(ro *wxroster.Roster) error {
		g, err := findGroup(ro, p)
		if err == nil {
			gid = g.ID
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	name, ok := p["new_displayname"]
	if !ok || strings.TrimSpace(name) == "" {
		return nil, events.ErrBadRequest("new_displayname missing")
	}
	return w.done("set_group_displayname", gid, w.drv.SetGroupName(ctx, gid, name))
}

// stick pins (op=1, the default) or unpins (op=0) a friend or a group, named by id; it is
// also the seed's sticky_group.
func (w *Platform) stick(ctx context.Context, p events.Params) (any, error) {
	id := p["id"]
	err := w.roster(func(ro *wxroster.Roster) error {
		if wx.IsGroupID(id) && ro.Group(id) != nil || !wx.IsGroupID(id) && ro.Friend(id) != nil {
			return nil
		}
		return events.ErrObjNotFound
	})
	if err != nil {
		return nil, err
	}
	on, err := stickOp(p)
	if err != nil {
		return nil, err
	}
	if err := w.drv.Stick(ctx, id, on); err != nil {
		return w.done("stick", id, err)
	}
	// WeChat does not report a stick: the platform records it.
	w.e.Lock()
	if w.ro != nil {
		_, _ = w.ro.SetStick(id, on)
	}
	w.e.Unlock()
	return events.StatusSuccess, nil
}

// setMarkname sets the remark of a friend (named by id, account, displayname or markname) or,
// with group_id, of a member of that group (named by id).
func (w *Platform) setMarkname(ctx context.Context, p events.Params) (any, error) {
	return w.markname(ctx, p, true)
}

// setFriendMarkname is set_markname for friends only (Mojo's undocumented route).
func (w *Platform) setFriendMarkname(ctx context.Context, p events.Params) (any, error) {
	return w.markname(ctx, p, false)
}

func (w *Platform) markname(ctx context.Context, p events.Params, members bool) (any, error) {
	var id, gid string
	err := w.roster(func(ro *wxroster.Roster) error {
		if g, byGroup := p["group_id"]; members && byGroup {
			group := ro.Group(g)
			if group == nil {
				return wx.ErrGroupNotFound
			}
			m := wxroster.GroupMember(group, p["id"])
			if m == nil {
				return events.ErrObjNotFound
			}
			id, gid = m.ID, group.ID
			return nil
		}
		f := ro.FindFriend(selector(p, wxroster.FriendSelectors...))
		if f == nil {
			return events.ErrObjNotFound
		}
		id = f.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	name, ok := p["new_markname"]
	if !ok {
		return nil, events.ErrBadRequest("new_markname missing")
	}
	return w.done("set_markname", id, w.drv.SetMarkname(ctx, id, gid, name))
}

// makeFriend asks a group member (id) to be a friend, with verify as the request's words.
func (w *Platform) makeFriend(ctx context.Context, p events.Params) (any, error) {
	id := p["id"]
	err := w.roster(func(ro *wxroster.Roster) error {
		if id == ro.User.ID {
			return wx.ErrYourself
		}
		if ro.Friend(id) != nil {
			return wx.ErrAlreadyFriend
		}
		for i := range ro.Groups {
			if wxroster.GroupMember(&ro.Groups[i], id) != nil {
				return nil
			}
		}
		return events.ErrObjNotFound
	})
	if err != nil {
		return nil, err
	}
	return w.done("make_friend", id, w.drv.MakeFriend(ctx, id, p["verify"]))
}

// acceptFriendRequest accepts a friend_request by the id, displayname and ticket it carried,
// and repeats them in its reply, success or failure (code -1), as Mojo.
func (w *Platform) acceptFriendRequest(ctx context.Context, p events.Params) (any, error) {
	r := wx.FriendRequest{ID: p["id"], Displayname: p["displayname"], Ticket: p["ticket"]}
	if err := w.drv.AcceptFriendRequest(ctx, r); err != nil {
		if u := w.unsupported("accept_friend_request", err); u != nil {
			return u, nil
		}
		w.log.Info("accept_friend_request failed", "id", r.ID, "err", err)
		rep := wx.NewAcceptReply(r)
		rep.Code, rep.Status = wx.ErrAcceptFailure.Code, wx.ErrAcceptFailure.Status
		return rep, nil
	}
	return wx.NewAcceptReply(r), nil
}

// avatarWait is how long get_avatar waits for the driver, as Mojo's 3 s timer.
const avatarWait = 3 * time.Second

// getAvatar answers the picture of the user, a group (id, displayname), a group member (id and
// group_id) or a friend (id, account, displayname, markname), as bytes with their MIME type
// (image/jpg when the driver says none) and Cache-Control: max-age=3600. A driver that cannot
// answer within 3 s gets HTTP 503 with an empty body, as in Mojo.
func (w *Platform) getAvatar(ctx context.Context, p events.Params) (any, error) {
	var id, gid string
	err := w.roster(func(ro *wxroster.Roster) error {
		pid, hasID := p["id"]
		switch {
		case hasID && pid == ro.User.ID:
			id = pid
			return nil
		case wx.IsGroupID(pid):
			if g := ro.FindGroup(selector(p, wxroster.GroupSelectors...)); g != nil {
				id = g.ID
				return nil
			}
		}
		if g, byGroup := p["group_id"]; byGroup && hasID {
			if group := ro.Group(g); group != nil {
				if m := wxroster.GroupMember(group, pid); m != nil {
					id, gid = m.ID, group.ID
					return nil
				}
			}
			return wx.ErrAvatarNotFound
		}
		if f := ro.FindFriend(selector(p, wxroster.FriendSelectors...)); f != nil {
			id = f.ID
			return nil
		}
		return wx.ErrAvatarNotFound
	})
	var nf *wx.IDStatus
	if errors.As(err, &nf) {
		return nf, nil
	}
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, time.Duration(w.avatarWait.Load()))
	defer cancel()
	mime, data, err := w.drv.Avatar(actx, id, gid)
	if u := w.unsupported("get_avatar", err); u != nil {
		return u, nil
	}
	switch {
	case errors.Is(err, wxdriver.ErrUnknown):
		return wx.ErrAvatarNotFound, nil
	case err != nil:
		w.log.Info("get_avatar: no picture in time", "id", id, "err", err)
		return engine.Bytes{Code: events.CodeUnavailable}, nil
	}
	if mime == "" {
		mime = "image/jpg"
	}
	return engine.Bytes{ContentType: mime, CacheControl: "max-age=3600", Body: data}, nil
}

// uploadMedia stores the media a call names (media_path, media_data or media_id) and answers
// its fields, the media_id to send it by later.
func (w *Platform) uploadMedia(ctx context.Context, p events.Params) (any, error) {
	meta, ok, err := w.media.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, events.ErrBadRequest("upload_media needs media_path, media_data or media_id")
	}
	return wx.NewUploadReply(*reportMedia(meta)), nil
}

// done answers an admin call: success, 202 when the driver cannot do it, or 201 "failure"
// (logged).
func (w *Platform) done(route, id string, err error) (any, error) {
	if u := w.unsupported(route, err); u != nil {
		return u, nil
	}
	if err != nil {
		w.log.Warn(route+" failed", "id", id, "err", err)
		return nil, events.ErrFailure
	}
	return events.StatusSuccess, nil
}

// unsupported is the reply to a call the driver cannot do (wxdriver.ErrUnsupported): code 202
// naming the driver, which tells the client that no retry will help on this account. Nil for
// any other outcome.
func (w *Platform) unsupported(route string, err error) *events.Status {
	if !errors.Is(err, wxdriver.ErrUnsupported) {
		return nil
	}
	w.log.Info(route+": not supported by the driver", "driver", w.cfg.Driver, "err", err)
	return wx.Unsupported(w.cfg.Driver)
}
