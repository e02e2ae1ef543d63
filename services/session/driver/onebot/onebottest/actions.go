package onebottest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/coder/websocket"
)

// handle answers one request frame.
func (p *Peer) handle(ws *websocket.Conn, data []byte) {
	var req struct {
		Action string          `json:"action"`
		Params json.RawMessage `json:"params"`
		Echo   json.RawMessage `json:"echo"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return
	}
	c := Call{Action: req.Action, Params: map[string]any{}}
	if len(req.Params) > 0 {
		d := json.NewDecoder(bytes.NewReader(req.Params))
		d.UseNumber()
		_ = d.Decode(&c.Params)
	}
	p.mu.Lock()
	i := len(p.calls)
	p.calls = append(p.calls, c)
	p.notifyLocked()
	stalled, repeat := p.stalled[c.Action], p.repeat
	p.mu.Unlock()
	if stalled {
		return
	}
	data2, err := p.act(c)
	if err != nil {
		// Noted before the answer goes out: whoever got it sees the call as failed.
		p.mu.Lock()
		p.calls[i].Err = err
		p.mu.Unlock()
	}
	resp := p.response(data2, err, req.Echo)
	for range 1 + btoi(repeat) {
		_ = p.write(ws, resp)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// response is an answer in the flavour's envelope: NapCat adds message, wording and stream;
// go-cqhttp adds message (and msg, wording on failure) with retcode 100; Lagrange is bare.
func (p *Peer) response(data any, err error, echo json.RawMessage) map[string]any {
	r := map[string]any{"status": "ok", "retcode": 0, "data": data, "echo": echo}
	if echo == nil && p.opts.Flavour == NapCat {
		r["echo"] = ""
	}
	unknown := errors.Is(err, errUnknownAction)
	switch p.opts.Flavour {
	case NapCat:
		r["message"], r["wording"], r["stream"] = "", "", "normal-action"
		if err != nil {
			r["status"], r["retcode"], r["data"], r["message"], r["wording"] = "failed", 1200, nil, err.Error(), err.Error()
			if unknown {
				r["retcode"] = 1404
			}
		}
	case GoCQHTTP:
		r["message"] = ""
		if err != nil {
			r["status"], r["retcode"], r["data"], r["msg"], r["wording"] = "failed", 100, nil, "API_ERROR", err.Error()
			if unknown {
				r["retcode"], r["msg"] = 1404, "API_NOT_FOUND"
			}
		}
	default:
		if err != nil {
			r["status"], r["retcode"], r["data"] = "failed", -1, nil
			if unknown {
				r["retcode"] = 404
			}
		}
	}
	return r
}

// act carries out an action on the roster.
func (p *Peer) act(c Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch c.Action {
	case "get_login_info":
		return map[string]any{"user_id": p.opts.SelfID, "nickname": p.opts.Nickname}, nil
	case "get_version_info":
		return map[string]any{"app_name": map[Flavour]string{NapCat: "NapCat.Onebot", GoCQHTTP: "go-cqhttp", Lagrange: "Lagrange.OneBot"}[p.opts.Flavour], "protocol_version": "v11"}, nil
	case "get_stranger_info":
		info := map[string]any{"user_id": c.Int("user_id"), "nickname": p.nameLocked(c.Int("user_id")), "sex": "unknown", "age": 0}
		if p.opts.Flavour == NapCat && c.Int("user_id") == p.opts.SelfID {
			info["long_nick"] = p.opts.Signature
		}
		return info, nil
	case "get_friend_list":
		out := []map[string]any{}
		for _, f := range p.friends {
			out = append(out, p.friendJSON(f))
		}
		return out, nil
	case "get_friends_with_category":
		if p.opts.Flavour != NapCat {
			return nil, errUnknownAction
		}
		var cats []map[string]any
		byName := map[string]int{}
		for _, f := range p.friends {
			i, ok := byName[f.Category]
			if !ok {
				i = len(cats)
				byName[f.Category] = i
				cats = append(cats, map[string]any{"categoryId": i, "categoryName": f.Category, "buddyList": []map[string]any{}})
			}
			cats[i]["buddyList"] = append(cats[i]["buddyList"].([]map[string]any), p.friendJSON(f))
		}
		return cats, nil
	case "get_group_list":
		out := []map[string]any{}
		for _, g := range p.groups {
			out = append(out, p.groupJSON(g))
		}
		return out, nil
	case "get_group_info":
		g := p.groupLocked(c.Int("group_id"))
		if g == nil {
			return nil, errors.New("群不存在")
		}
		return p.groupJSON(*g), nil
	case "get_group_member_list":
		g := p.groupLocked(c.Int("group_id"))
		if g == nil {
			return nil, errors.New("群不存在")
		}
		out := []map[string]any{}
		for _, m := range g.Members {
			out = append(out, p.memberJSON(g.GroupID, m))
		}
		return out, nil
	case "get_group_member_info":
		g := p.groupLocked(c.Int("group_id"))
		if g == nil {
			return nil, errors.New("群不存在")
		}
		i := slices.IndexFunc(g.Members, func(m Member) bool { return m.UserID == c.Int("user_id") })
		if i < 0 {
			return nil, errors.New("群成员不存在")
		}
		return p.memberJSON(g.GroupID, g.Members[i]), nil
	case "send_private_msg", "send_group_msg":
		return p.sendLocked(c)
	case "set_group_ban":
		g := p.groupLocked(c.Int("group_id"))
		if g == nil || !slices.ContainsFunc(g.Members, func(m Member) bool { return m.UserID == c.Int("user_id") }) {
			return nil, errors.New("群成员不存在")
		}
		return nil, nil
	case "set_group_kick":
		g := p.groupLocked(c.Int("group_id"))
		uid := c.Int("user_id")
		if g == nil || !slices.ContainsFunc(g.Members, func(m Member) bool { return m.UserID == uid }) {
			return nil, errors.New("群成员不存在")
		}
		g.Members = slices.DeleteFunc(g.Members, func(m Member) bool { return m.UserID == uid })
		go p.broadcast(p.event("notice", map[string]any{"notice_type": "group_decrease", "sub_type": "kick",
			"group_id": g.GroupID, "user_id": uid, "operator_id": p.opts.SelfID}))
		return nil, nil
	case "set_friend_add_request", "set_group_add_request":
		flag, _ := c.Params["flag"].(string)
		r, ok := p.requests[flag]
		if !ok {
			return nil, errors.New("请求不存在")
		}
		delete(p.requests, flag)
		if c.Params["approve"] == false {
			return nil, nil
		}
		if r.Action == "friend" {
			f := Friend{UserID: r.Int("user_id"), Nickname: "新朋友" + strconv.FormatInt(r.Int("user_id"), 10)}
			if remark, ok := c.Params["remark"].(string); ok {
				f.Remark = remark
			}
			p.friends = append(p.friends, f)
			go p.broadcast(p.event("notice", map[string]any{"notice_type": "friend_add", "user_id": f.UserID}))
		}
		return nil, nil
	default:
		return nil, errUnknownAction
	}
}

// sendLocked checks a send's target, and reports the account's own message where the
// flavour does: NapCat before it answers (so the report can beat the answer), go-cqhttp
// after, Lagrange as a message from itself.
func (p *Peer) sendLocked(c Call) (any, error) {
	uid, gid := c.Int("user_id"), c.Int("group_id")
	switch {
	case c.Action == "send_group_msg":
		if p.groupLocked(gid) == nil {
			return nil, errors.New("群不存在")
		}
	case gid != 0:
		g := p.groupLocked(gid)
		if g == nil || !slices.ContainsFunc(g.Members, func(m Member) bool { return m.UserID == uid }) {
			return nil, errors.New("临时会话目标不存在")
		}
	default:
		if !slices.ContainsFunc(p.friends, func(f Friend) bool { return f.UserID == uid }) {
			return nil, errors.New("好友不存在")
		}
	}
	if _, ok := c.Params["message"].([]any); !ok {
		return nil, errors.New("message must be segments")
	}
	p.nextID++
	id := p.nextID
	if p.opts.ReportSelf {
		typ := "private"
		if c.Action == "send_group_msg" {
			typ = "group"
		}
		ev := p.selfEventLocked(typ, uid, gid, id, c.Params["message"])
		if p.opts.Flavour == NapCat {
			p.mu.Unlock()
			p.broadcast(ev)
			p.mu.Lock()
		} else {
			go p.broadcast(ev)
		}
	}
	return map[string]any{"message_id": id}, nil
}

func (p *Peer) selfEventLocked(typ string, target, gid, id int64, message any) map[string]any {
	fields := map[string]any{"message_type": typ, "message_id": id, "user_id": p.opts.SelfID,
		"message": p.formatMessage(message), "raw_message": "", "font": 14,
		"sender": map[string]any{"user_id": p.opts.SelfID, "nickname": p.opts.Nickname}}
	if typ == "group" {
		fields["group_id"], fields["sub_type"] = gid, "normal"
	} else {
		fields["target_id"], fields["sub_type"] = target, "friend"
	}
	if p.opts.Flavour == Lagrange {
		return p.event("message", fields)
	}
	fields["message_sent_type"] = "self"
	return p.event("message_sent", fields)
}

// formatMessage is a message as the flavour posts it: go-cqhttp as a CQ string, the others
// as segments.
func (p *Peer) formatMessage(message any) any {
	if p.opts.Flavour != GoCQHTTP {
		return message
	}
	segs, _ := message.([]any)
	var b strings.Builder
	for _, s := range segs {
		seg, _ := s.(map[string]any)
		data, _ := seg["data"].(map[string]any)
		if seg["type"] == "text" {
			t, _ := data["text"].(string)
			b.WriteString(strings.NewReplacer("&", "&amp;", "[", "&#91;", "]", "&#93;").Replace(t))
			continue
		}
		fmt.Fprintf(&b, "[CQ:%v", seg["type"])
		for k, v := range data {
			fmt.Fprintf(&b, ",%s=%v", k, strings.NewReplacer("&", "&amp;", "[", "&#91;", "]", "&#93;", ",", "&#44;").Replace(fmt.Sprint(v)))
		}
		b.WriteString("]")
	}
	return b.String()
}

func (p *Peer) friendJSON(f Friend) map[string]any {
	m := map[string]any{"user_id": f.UserID, "nickname": f.Nickname, "remark": f.Remark}
	if p.opts.Flavour == NapCat {
		m["sex"], m["age"], m["level"], m["category_id"] = "unknown", 0, 0, 0
	}
	return m
}

func (p *Peer) groupJSON(g Group) map[string]any {
	m := map[string]any{"group_id": g.GroupID, "group_name": g.Name, "member_count": len(g.Members), "max_member_count": 500}
	switch p.opts.Flavour {
	case NapCat:
		m["group_remark"], m["group_all_shut"] = "", 0
	case GoCQHTTP:
		m["group_create_time"], m["group_level"] = 1600000000, 1
	}
	return m
}

func (p *Peer) memberJSON(gid int64, m Member) map[string]any {
	role := m.Role
	if role == "" {
		role = "member"
	}
	out := map[string]any{"group_id": gid, "user_id": m.UserID, "nickname": m.Nickname, "card": m.Card,
		"sex": "unknown", "age": 0, "area": "", "join_time": 1600000000, "last_sent_time": 1700000000,
		"level": "1", "role": role, "unfriendly": false, "title": "", "title_expire_time": 0, "card_changeable": true}
	if p.opts.Flavour == NapCat {
		out["level"], out["qq_level"], out["is_robot"], out["shut_up_timestamp"] = "LV5", 10, false, 0
	}
	return out
}

func (p *Peer) groupLocked(gid int64) *Group {
	for i := range p.groups {
		if p.groups[i].GroupID == gid {
			return &p.groups[i]
		}
	}
	return nil
}

func (p *Peer) memberLocked(gid, uid int64) *Member {
	g := p.groupLocked(gid)
	if g == nil {
		return nil
	}
	for i := range g.Members {
		if g.Members[i].UserID == uid {
			return &g.Members[i]
		}
	}
	return nil
}

func (p *Peer) nameLocked(uid int64) string {
	if uid == p.opts.SelfID {
		return p.opts.Nickname
	}
	for _, f := range p.friends {
		if f.UserID == uid {
			return f.Nickname
		}
	}
	for _, g := range p.groups {
		for _, m := range g.Members {
			if m.UserID == uid {
				return m.Nickname
			}
		}
	}
	return "路人" + strconv.FormatInt(uid, 10)
}
