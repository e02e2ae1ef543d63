package wechaty_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty/fakepuppet"
	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
	"github.com/openqq/openqq/services/session/wxdriver/wxdrivertest"
	"github.com/openqq/openqq/services/session/wxroster"
)

const token = "insecure_openqq_test"

func newPair(t *testing.T, cfg wechaty.Config) (*wechaty.Driver, *fakepuppet.Server) {
	t.Helper()
	srv, err := fakepuppet.New(token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cfg.Endpoint = srv.Addr()
	if cfg.Token == "" {
		cfg.Token = token
	}
	if cfg.QRCodeDir == "" {
		cfg.QRCodeDir = t.TempDir()
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 100 * time.Millisecond
	}
	d, err := wechaty.New(cfg, wxdriver.Params{Account: "wxdrivertest", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, srv
}

// The driver keeps the WeChat driver contract against the fake puppet service.
func TestConformance(t *testing.T) {
	wxdrivertest.Run(t, func(t *testing.T) (wxdriver.Driver, wxdrivertest.Account) {
		d, srv := newPair(t, wechaty.Config{LogoutOnStop: true})
		return d, account{srv}
	})
}

// account is the fake puppet seen by the conformance suite.
type account struct{ s *fakepuppet.Server }

func cid(pid string) string {
	if pid == wx.FileHelperID {
		return pid
	}
	return "@" + pid
}

func pidOf(id string) string { return strings.TrimPrefix(strings.TrimPrefix(id, "@"), "@") }

// Fixture: the member is the first of room1 who is not a friend (a kick may have removed
// one).
func (a account) Fixture(testing.TB) wxdrivertest.Fixture {
	fx := wxdrivertest.Fixture{Friend: cid(a.s.ID("wang")), Friend2: cid(a.s.ID("mei")), Official: cid(a.s.ID("xiaoice")),
		Group: "@@" + a.s.ID("room1"), Stranger: "@nobody_0"}
	snap := a.s.Roster()
	for _, m := range snap.Rooms[a.s.ID("room1")].Members {
		if c := snap.Contacts[m]; m != snap.Self && c != nil && !c.Friend {
			fx.Member = cid(m)
			break
		}
	}
	return fx
}

// Limits: the puppet API's url link has no app id or app name; it cannot pin chats.
func (a account) Limits() wxdrivertest.Limits {
	return wxdrivertest.Limits{
		Cannot:      map[string]string{"Receive/friend app": "a Wechaty url link (UrlLinkPayload) carries no app id or app name"},
		Unsupported: map[string]string{"Stick": "the Wechaty puppet API cannot pin chats"},
	}
}

var mediaTypes = map[string]pb.MessageType{wx.MediaImage: pb.WireImage, wx.MediaFile: pb.WireAttachment,
	wx.MediaVoice: pb.WireAudio, wx.MediaVideo: pb.WireVideo, wx.MediaEmoticon: pb.WireEmoticon}

func (a account) Receive(t testing.TB, in wxdriver.Incoming) {
	t.Helper()
	m := fakepuppet.Message{Type: pb.WireText, Text: in.Content}
	if in.SenderID != "" {
		m.Talker = pidOf(in.SenderID)
	}
	if in.GroupID != "" {
		m.Room = pidOf(in.GroupID)
	}
	switch in.Format {
	case wx.FormatMedia:
		m.Type, m.FileName, m.FileMime, m.FileData, m.Text = mediaTypes[in.Media.Type], in.Media.Name, in.Media.Mime, in.Media.Data, ""
	case wx.FormatApp:
		m.Type, m.URL = pb.WireURL, &pb.UrlLinkPayload{Title: in.App.Title, Description: in.App.Desc, Url: in.App.URL}
	case wx.FormatCard:
		g := pb.ContactGender_CONTACT_GENDER_UNSPECIFIED
		if in.Card.Sex == wx.SexFemale {
			g = pb.ContactGender_CONTACT_GENDER_FEMALE
		} else if in.Card.Sex == wx.SexMale {
			g = pb.ContactGender_CONTACT_GENDER_MALE
		}
		m.Type, m.Contact = pb.WireContact, a.s.AddContact("card", &pb.ContactPayloadResponse{Name: in.Card.Name, Weixin: in.Card.Account,
			City: in.Card.City, Province: in.Card.Province, Gender: g})
	case wx.FormatRevoke:
		m.Type, m.Text = pb.WireRecalled, in.RevokeID
	case wx.FormatPayment:
		m.Type, m.Text = pb.WireTransfer, strings.TrimSuffix(strings.TrimPrefix(in.Content, "[转账]("), ")")
	}
	if in.Type == wx.GroupNotice {
		m.Type, m.Talker = pb.WireSystem, ""
	}
	a.s.Deliver(m)
}

func (a account) Change(t testing.TB, c wxdriver.Change) string {
	t.Helper()
	switch c.Kind {
	case events.EventNewFriend:
		return cid(a.s.AddContact("newfriend", &pb.ContactPayloadResponse{Name: c.Friend.Name, Friend: true, Type: pb.ContactType_CONTACT_TYPE_PERSONAL}))
	case events.EventLoseFriend:
		a.s.UpdateContact(pidOf(c.Friend.ID), func(p *pb.ContactPayloadResponse) { p.Friend = false })
	case events.EventNewGroupMember:
		id := a.s.AddContact("newcomer", &pb.ContactPayloadResponse{Name: c.Member.Name, Type: pb.ContactType_CONTACT_TYPE_PERSONAL})
		a.s.Join(pidOf(c.GroupID), id)
		return cid(id)
	case events.EventLoseGroupMember:
		a.s.Leave(pidOf(c.GroupID), pidOf(c.Member.ID))
	default:
		t.Fatalf("change %s not supported by the harness", c.Kind)
	}
	return ""
}

func (a account) Drop(testing.TB) { a.s.Drop() }

// Sent returns the sends; a file sent right after a text to the same conversation is one
// Outgoing sent as two messages (the driver returns the file's id), so its delivery carries
// that text too.
func (a account) Sent(testing.TB) []wxdrivertest.Delivered {
	ro := a.s.Roster()
	var out []wxdrivertest.Delivered
	var prev *fakepuppet.Sent
	for _, s := range a.s.Sent() {
		d := wxdrivertest.Delivered{MsgID: s.ID, Type: wx.FriendMessage, TargetID: cid(s.ConversationID), Content: s.Text,
			MediaName: s.FileName, MediaMime: s.FileMime, MediaData: s.FileData, Revoked: s.Recalled}
		if _, ok := ro.Rooms[s.ConversationID]; ok {
			d.Type, d.TargetID = wx.GroupMessage, "@@"+s.ConversationID
		}
		if s.FileData != nil && prev != nil && prev.FileData == nil && prev.ConversationID == s.ConversationID {
			d.Content = prev.Text
		}
		out = append(out, d)
		prev = &s
	}
	return out
}

func (a account) Roster(testing.TB) *wxroster.Roster {
	snap := a.s.Roster()
	ro := &wxroster.Roster{User: wx.User{ID: cid(snap.Self), Name: snap.Contacts[snap.Self].Name}}
	for id, c := range snap.Contacts {
		if c.Friend && id != snap.Self {
			ro.Friends = append(ro.Friends, wx.Friend{ID: cid(id), Name: c.Name, Markname: c.Alias, Account: c.Weixin})
		}
	}
	for id, r := range snap.Rooms {
		g := wx.Group{ID: "@@" + id, Name: r.Topic}
		for _, m := range r.Members {
			mem := wx.Member{ID: cid(m), Display: r.Aliases[m]}
			if c := snap.Contacts[m]; c != nil {
				mem.Name, mem.Markname = c.Name, c.Alias
			}
			g.Member = append(g.Member, mem)
		}
		ro.Groups = append(ro.Groups, g)
	}
	return ro
}

func (a account) FriendRequest(_ testing.TB, name, verify string) { a.s.AskFriendship(name, verify) }

func (a account) SendElsewhere(_ testing.TB, m wxdriver.SentMessage) {
	msg := fakepuppet.Message{Type: pb.WireText, Talker: a.s.Roster().Self, Text: m.Content}
	if m.GroupID != "" {
		msg.Room = pidOf(m.GroupID)
	} else {
		msg.Listener = pidOf(m.TargetID)
	}
	a.s.Deliver(msg)
}

func (a account) SetFriendProperty(t testing.TB, friendID, property, value string) {
	t.Helper()
	a.s.UpdateContact(pidOf(friendID), func(c *pb.ContactPayloadResponse) {
		switch property {
		case wxdriver.PropertySignature:
			c.Signature = value
		case wxdriver.PropertyName:
			c.Name = value
		case wxdriver.PropertyMarkname:
			c.Alias = value
		case wxdriver.PropertyCity:
			c.City = value
		case wxdriver.PropertyProvince:
			c.Province = value
		default:
			t.Errorf("property %s not supported by the harness", property)
		}
	})
}
