package wxdrivertest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events/wx"
)

// Limits are what a driver's backend cannot carry, each with the reason why. The suite skips
// exactly the checks a limit rules out, by name and with the reason (t.Skip), and checks the
// rest; a backend without limits (the sim) declares none. A harness declares them through
// its Account (LimitedAccount).
type Limits struct {
	// NoGroups: the backend has no groups. Fixture.Group and Fixture.Member are empty; the
	// group cases are skipped and the suite sends to the friend where a test only needs a
	// second conversation.
	NoGroups string
	// OneFriend: the roster has one friend. Fixture.Friend2 and Fixture.Official are empty;
	// the suite uses Friend where a test only needs a second friend.
	OneFriend string
	// NoFileHelper: the roster has no file assistant (filehelper).
	NoFileHelper string
	// FriendSpeaksFirst: the account can send to a friend only after the friend wrote (iLink's
	// context_token): after every login the suite makes Fixture.Friend send a text first.
	FriendSpeaksFirst string
	// MediaApart: a text with a media is sent as two messages, the text first; the suite
	// finds the text delivered just before the media whose id Send returned.
	MediaApart string
	// MediaNamesNotKept: media names and MIME types are the backend's own, not the sender's:
	// the suite compares a media's type and bytes only.
	MediaNamesNotKept string
	// KeepsLogin: a new Run after a cancel logs in again without a QR code (the backend keeps
	// the login), so the ids stay.
	KeepsLogin string
	// Connectionless: a dropped connection needs no new login (every call stands alone): the
	// suite checks that messages still come and go after Account.Drop, not a new login.
	Connectionless string
	// Unsupported names the driver's calls (Driver method names: "Revoke", "Stick", ...) that
	// answer wxdriver.ErrUnsupported: the suite checks that they do (test Unsupported), and
	// skips the checks that need them.
	Unsupported map[string]string
	// Cannot names other checks the backend cannot carry, as the suite names them: a test
	// ("RosterChanges") or a case of one ("Receive/friend app", "Send/file assistant").
	Cannot map[string]string
}

// LimitedAccount is the account of a backend with limits.
type LimitedAccount interface {
	Account
	Limits() Limits
}

// calls are the Driver methods Limits.Unsupported may name.
var calls = []string{"Revoke", "CreateGroup", "Invite", "Kick", "SetGroupName", "Stick", "SetMarkname", "MakeFriend", "Avatar"}

// checkNames fails t on a Cannot or Unsupported key the suite does not know: a misspelt limit
// would skip nothing and hide itself.
func (l Limits) checkNames(t testing.TB, tests []string) {
	t.Helper()
	known := map[string]bool{}
	for _, n := range tests {
		known[n] = true
	}
	for _, c := range receiveCases(Fixture{}) {
		known["Receive/"+c.name] = true
	}
	for _, n := range sendCaseNames {
		known["Send/"+n] = true
	}
	for _, k := range slices.Sorted(maps.Keys(l.Cannot)) {
		if !known[k] {
			t.Errorf("wxdrivertest: Limits.Cannot names %q, which is no check of the suite", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(l.Unsupported)) {
		if !slices.Contains(calls, k) {
			t.Errorf("wxdrivertest: Limits.Unsupported names %q, which is none of %v", k, calls)
		}
	}
}

// list is every declared limit, for the log.
func (l Limits) list() []string {
	var out []string
	for _, f := range []struct{ name, why string }{
		{"NoGroups", l.NoGroups}, {"OneFriend", l.OneFriend}, {"NoFileHelper", l.NoFileHelper},
		{"FriendSpeaksFirst", l.FriendSpeaksFirst}, {"MediaApart", l.MediaApart},
		{"MediaNamesNotKept", l.MediaNamesNotKept}, {"KeepsLogin", l.KeepsLogin}, {"Connectionless", l.Connectionless},
	} {
		if f.why != "" {
			out = append(out, f.name+": "+f.why)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(l.Unsupported)) {
		out = append(out, "Unsupported "+k+": "+l.Unsupported[k])
	}
	for _, k := range slices.Sorted(maps.Keys(l.Cannot)) {
		out = append(out, "Cannot "+k+": "+l.Cannot[k])
	}
	return out
}

// skipIf skips t when the limit named name is declared (why not empty).
func skipIf(t testing.TB, name, why string) {
	t.Helper()
	if why != "" {
		t.Skipf("wxdrivertest: limit %s: %s", name, why)
	}
}

// skipCannot skips t when Limits.Cannot names the check (the suite's name of it).
func (l Limits) skipCannot(t testing.TB, check string) {
	t.Helper()
	skipIf(t, "Cannot "+check, l.Cannot[check])
}

// skipUnsupported skips t when one of the calls is declared unsupported.
func (l Limits) skipUnsupported(t testing.TB, calls ...string) {
	t.Helper()
	for _, c := range calls {
		skipIf(t, "Unsupported "+c, l.Unsupported[c])
	}
}

// second is a second conversation for a test that needs one: the group, else (NoGroups) the
// friend; and its message type.
func (r *rig) second() (typ, id string) {
	if r.limits.NoGroups != "" {
		return wx.FriendMessage, r.fx.Friend
	}
	return wx.GroupMessage, r.fx.Group
}

// friend2 is a second friend, else (OneFriend) the friend.
func (r *rig) friend2() string {
	if r.limits.OneFriend != "" {
		return r.fx.Friend
	}
	return r.fx.Friend2
}

func describe(l Limits) string {
	if ls := l.list(); len(ls) > 0 {
		return fmt.Sprintf("the backend's limits (their checks are skipped):\n\t%s", strings.Join(ls, "\n\t"))
	}
	return "no limits declared"
}
