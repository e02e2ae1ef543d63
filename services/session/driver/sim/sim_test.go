package sim_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/drivertest"
	"github.com/openqq/openqq/services/session/driver/face"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// Ids of the default roster (default_roster.json).
var fixture = drivertest.Fixture{
	Friend:        2372835507, // also a plain member of Group and in Discuss
	Group:         2617047292, // the account is an admin here
	Member:        2372985968, // a plain member of Group, not a friend
	Discuss:       4118239384,
	DiscussMember: 2372843426,
	Stranger:      9000000001,
}

// The simulated account keeps the driver contract.
func TestConformance(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (driver.Driver, drivertest.Account) {
		s, err := sim.New(sim.Config{QRCodeDir: t.TempDir()}, driver.Params{Account: "drivertest", Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return s, account{s}
	})
}

// The sim is also what the registry opens as "sim", from a configuration given in code or
// (none given) from SIM_* variables.
func TestRegistered(t *testing.T) {
	for _, cfg := range []any{sim.Config{QRCodeDir: t.TempDir()}, &sim.Config{QRCodeDir: t.TempDir()}} {
		d, err := driver.Open("sim", cfg, driver.Params{Account: "drivertest"})
		if err != nil {
			t.Fatalf("Open(sim, %T): %v", cfg, err)
		}
		if _, ok := d.(*sim.Sim); !ok {
			t.Errorf("Open(sim) made a %T", d)
		}
	}
	t.Setenv("SIM_ROSTER", "/nonexistent/roster.json")
	if _, err := driver.Open("sim", nil, driver.Params{}); err == nil {
		t.Error("Open(sim, nil) did not read SIM_ROSTER from the environment")
	}
	if _, err := driver.Open("sim", struct{}{}, driver.Params{}); err == nil {
		t.Error("Open(sim) took a configuration of the wrong type")
	}
}

// account is the simulated server behind a Sim: injections make it receive, and the Sim's
// own records tell what reached it.
type account struct{ s *sim.Sim }

func (a account) Fixture() drivertest.Fixture { return fixture }

func (a account) inject(t testing.TB, in events.Injection) {
	t.Helper()
	if _, err := a.s.Inject(context.Background(), in); err != nil {
		t.Fatalf("Inject(%+v): %v", in, err)
	}
}

func (a account) Receive(t testing.TB, in driver.Incoming) {
	t.Helper()
	a.inject(t, events.Injection{Type: in.Type, SenderID: in.SenderID, GroupID: in.GroupID, DiscussID: in.DiscussID,
		Content: in.Content, Time: time.Now().Unix()})
}

func (a account) Change(t testing.TB, c driver.Change) {
	t.Helper()
	in := events.Injection{Event: c.Kind, GroupID: c.GroupID}
	switch c.Kind {
	case events.EventNewFriend:
		in.Friend = &c.Friend
	case events.EventNewGroupMember:
		in.Member = &c.Member
	case events.EventLoseGroupMember:
		in.MemberID = c.Member.ID
	case events.EventNewDiscuss:
		in.Discuss = &c.Discuss
	case events.EventLoseDiscuss:
		in.DiscussID = c.DiscussID
	case events.EventNewDiscussMember:
		m := c.DiscussMember
		in.DiscussID = c.DiscussID
		in.Member = &events.GroupMember{ID: m.ID, UID: m.UID, Name: m.Name, State: m.State, ClientType: m.ClientType}
	case events.EventLoseDiscussMember:
		in.DiscussID, in.MemberID = c.DiscussID, c.DiscussMember.ID
	default:
		t.Fatalf("sim account: no change %q", c.Kind)
	}
	a.inject(t, in)
}

// SetCard changes a card as QQ would tell of it: by injection.
func (a account) SetCard(t testing.TB, groupID, memberID int64, card string) {
	t.Helper()
	a.inject(t, events.Injection{Event: events.EventGroupMemberPropertyChange, GroupID: groupID, MemberID: memberID,
		Property: driver.PropertyCard, Value: card})
}

// SetAdmin changes a role as QQ would tell of it: by injection.
func (a account) SetAdmin(t testing.TB, groupID, memberID int64, admin bool) {
	t.Helper()
	role := events.MemberRoleMember
	if admin {
		role = events.MemberRoleAdmin
	}
	a.inject(t, events.Injection{Event: events.EventGroupMemberPropertyChange, GroupID: groupID, MemberID: memberID,
		Property: driver.PropertyRole, Value: role})
}

var _ drivertest.RichAccount = account{}

func (a account) LastSent(t testing.TB) (faces []int, picture []byte) {
	ds := a.s.Deliveries()
	if len(ds) == 0 {
		t.Fatal("sim account: nothing sent")
	}
	d := ds[len(ds)-1]
	for _, p := range d.Parts {
		if p.Face {
			faces = append(faces, p.ID)
		}
	}
	return faces, d.Picture
}

func (a account) ReceiveFaces(t testing.TB, in driver.Incoming, ids []int) {
	t.Helper()
	for _, id := range ids {
		in.Content += face.Text(id)
	}
	a.Receive(t, in)
}

func (a account) ReceivePicture(t testing.TB, in driver.Incoming, picture []byte) {
	t.Helper()
	a.inject(t, events.Injection{Type: in.Type, SenderID: in.SenderID, GroupID: in.GroupID, DiscussID: in.DiscussID,
		Content: in.Content, MediaData: base64.StdEncoding.EncodeToString(picture), MediaName: "p.png", MediaMime: "image/png"})
}

func (a account) Drop(testing.TB)                           { a.s.Drop() }
func (a account) Sent(testing.TB) []driver.Outgoing         { return a.s.Sent() }
func (a account) InGroup(_ testing.TB, group, m int64) bool { return a.s.InGroup(group, m) }
func (a account) Muted(_ testing.TB, group, m int64) bool {
	_, muted := a.s.MutedUntil(group, m)
	return muted
}

func TestConfigValidate(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  sim.Config
		ok   bool
	}{
		{"the default roster", sim.Config{}, true},
		{"a file that is not there", sim.Config{Roster: filepath.Join(t.TempDir(), "none.json")}, false},
		{"a file that does not decode", sim.Config{Roster: bad}, false},
	} {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
}
