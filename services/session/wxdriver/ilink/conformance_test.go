package ilink_test

import (
	"log/slog"
	"testing"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/ilink"
	"github.com/openqq/openqq/services/session/wxdriver/ilink/ilinktest"
	"github.com/openqq/openqq/services/session/wxdriver/wxdrivertest"
	"github.com/openqq/openqq/services/session/wxroster"
)

// The driver keeps the WeChat driver contract against the fake iLink server, within what
// iLink's one 1:1 chat can carry (its Limits, each skipped check named with its reason).
func TestConformance(t *testing.T) {
	wxdrivertest.Run(t, func(t *testing.T) (wxdriver.Driver, wxdrivertest.Account) {
		f := ilinktest.New(t)
		d, err := ilink.New(config(f, t.TempDir()), wxdriver.Params{Account: "wxdrivertest", Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return d, account{f}
	})
}

// account is the fake iLink server seen by the conformance suite: the owner is the one friend.
type account struct{ f *ilinktest.Server }

func (a account) Limits() wxdrivertest.Limits {
	const items = "iLink's message items are text, image, voice, file and video"
	return wxdrivertest.Limits{
		NoGroups:          "iLink carries one 1:1 chat: no groups",
		OneFriend:         "the one friend is the account owner who scanned the QR code",
		NoFileHelper:      "iLink has no file assistant",
		FriendSpeaksFirst: "a reply needs the peer's last context_token, which only a message from the peer gives",
		MediaApart:        "a sendmessage carries one item: a text and a media go as two messages, the text first",
		MediaNamesNotKept: "iLink's image, voice and video items carry no file name and no item a MIME type: the driver names them (image.png, voice.silk, video.mp4)",
		KeepsLogin:        "the bot token is kept in ILINK_STATE_DIR: a new Run logs in with it, no QR code; iLink's ids are its user ids, the same at every login",
		Connectionless:    "iLink is HTTPS calls (a long-poll getupdates): a cut poll is retried, there is no login to redo",
		Unsupported: map[string]string{
			"Revoke": "iLink's bot API has no revoke", "CreateGroup": "no groups", "Invite": "no groups", "Kick": "no groups",
			"SetGroupName": "no groups", "Stick": "no chat list", "SetMarkname": "no remarks", "MakeFriend": "no friend requests",
			"Avatar": "iLink gives no pictures of its users",
		},
		Cannot: map[string]string{
			"Receive/friend app":     items,
			"Receive/friend card":    items,
			"Receive/friend revoke":  items,
			"Receive/friend payment": items,
			"RosterChanges":          "iLink tells of no roster change: one friend, no groups (a new peer who writes is a new_friend, which the fake's one owner cannot show)",
		},
	}
}

func (a account) Fixture(testing.TB) wxdrivertest.Fixture {
	return wxdrivertest.Fixture{Friend: owner(), Stranger: "@nobody@im.wechat"}
}

var itemTypes = map[string]int{wx.MediaImage: ilink.ItemImage, wx.MediaFile: ilink.ItemFile, wx.MediaVoice: ilink.ItemVoice, wx.MediaVideo: ilink.ItemVideo}

func (a account) Receive(t testing.TB, in wxdriver.Incoming) {
	t.Helper()
	if in.Type != wx.FriendMessage || in.SenderID != owner() {
		t.Fatalf("ilink harness: only the owner writes (%s from %s)", in.Type, in.SenderID)
	}
	switch in.Format {
	case "", wx.FormatText:
		a.f.Text(in.Content)
	case wx.FormatMedia:
		typ, ok := itemTypes[in.Media.Type]
		if !ok {
			t.Fatalf("ilink harness: no item for media type %s", in.Media.Type)
		}
		a.f.Media(typ, in.Media.Name, in.Media.Data)
	default:
		t.Fatalf("ilink harness: no item for format %s", in.Format)
	}
}

func (a account) Change(t testing.TB, c wxdriver.Change) string {
	t.Fatalf("ilink harness: iLink tells no %s", c.Kind)
	return ""
}

// Drop cuts the next long poll, and waits until it is cut.
func (a account) Drop(t testing.TB) {
	a.f.Drop(1)
	a.f.Wait(t, "the cut poll", func() bool { return a.f.Dropping() == 0 })
}

func (a account) Sent(testing.TB) []wxdrivertest.Delivered {
	var out []wxdrivertest.Delivered
	for _, s := range a.f.Sent() {
		out = append(out, wxdrivertest.Delivered{MsgID: s.ClientID, Type: wx.FriendMessage, TargetID: "@" + s.To, Content: s.Text,
			MediaName: s.FileName, MediaData: s.Data})
	}
	return out
}

func (a account) Roster(testing.TB) *wxroster.Roster {
	return &wxroster.Roster{User: wx.User{ID: "@" + ilinktest.BotID},
		Friends: []wx.Friend{{ID: owner(), Account: ilinktest.OwnerID, Category: wx.CategoryFriend}}}
}
