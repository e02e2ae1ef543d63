package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
)

// WeChat ids change at every QR login: stop_client, then a new session on the same roster (a
// file holding the first login's ids) logs in by QR, login [1], and every friend, group and
// the user have new ids; the old ones name nothing. A dropped connection logs in again with
// the cookie: login [0], the same ids.
func TestOpenwxIDsChangeAtQRLogin(t *testing.T) {
	w1 := startWX(t, func(s *wxSetup) { s.sess.ControlDelay = time.Second })
	r1 := w1.roster()
	rosterFile := filepath.Join(t.TempDir(), "roster.json")
	b, err := json.Marshal(w1.serverRoster())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rosterFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	logins := w1.subscribe(w1.subj.Event(events.EventLogin))
	stops := w1.subscribe(w1.subj.Event(events.EventStop))

	// stop_client: Mojo's reply, then the client stops. Mojo always said 3 seconds; openwx
	// names its CONTROL_DELAY (3 s by default).
	code, r := w1.wcall(viaGET, wx.RouteStopClient)
	pid := intOf(t, r, "pid")
	fields(t, "stop_client", r, map[string]any{"code": 0, "account": "default",
		"status": "success, client(" + strconv.FormatInt(pid, 10) + ") will stop in 1 seconds"})
	hasKeys(t, "stop_client", r, "starttime", "runtime")
	if code != 200 || pid != int64(os.Getpid()) {
		t.Errorf("stop_client: HTTP %d, pid %d", code, pid)
	}
	stops.event(events.EventStop)
	select {
	case <-w1.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not stop")
	}

	w2 := startWXOn(t, w1.srv, withSim(func(c *wxsim.Config) { c.Roster = rosterFile }))
	if p := params(t, logins.next(events.EventLogin), events.EventLogin, 1); string(p[0]) != "1" {
		t.Errorf("a QR login: login %s, want [1]", p[0])
	}
	r2 := w2.roster()
	if r2.user["name"] != r1.user["name"] || r2.user["id"] == r1.user["id"] {
		t.Errorf("user: %v then %v, want the same name, a new id", r1.user["id"], r2.user["id"])
	}
	if len(r2.friends) != len(r1.friends) || len(r2.groups) != len(r1.groups) {
		t.Fatalf("roster: %d friends %d groups, then %d and %d", len(r1.friends), len(r1.groups), len(r2.friends), len(r2.groups))
	}
	for i, f := range r1.friends {
		g := r2.friends[i]
		if f["name"] != g["name"] || f["account"] != g["account"] {
			t.Errorf("friend %d: %v then %v", i, f["name"], g["name"])
		}
		if f["id"] == wx.FileHelperID {
			if g["id"] != wx.FileHelperID {
				t.Errorf("the file assistant's id %v", g["id"])
			}
			continue
		}
		if g["id"] == f["id"] || !strings.HasPrefix(str(t, g, "id"), "@") {
			t.Errorf("friend %v: id %v then %v, want a new @ id", f["name"], f["id"], g["id"])
		}
	}
	for i, g := range r1.groups {
		h := r2.groups[i]
		if h["id"] == g["id"] || !strings.HasPrefix(str(t, h, "id"), "@@") {
			t.Errorf("group %v: id %v then %v, want a new @@ id", g["displayname"], g["id"], h["id"])
		}
	}
	// The first login's ids name nothing now.
	oldWang := str(t, find(r1.friends, "markname", "老王"), "id")
	code, r = w2.wcall(viaForm, wx.RouteSendFriendMessage, "id", oldWang, "content", "x")
	wantReply(t, "send to an old id", code, r, 200, `{"id":null,"msg_id":null,"code":100,"status":"object not found"}`)
	newWang := str(t, find(r2.friends, "markname", "老王"), "id")
	code, r = w2.wcall(viaForm, wx.RouteSendFriendMessage, "id", newWang, "content", "新的 id")
	sent(t, "send to the new id", code, r, newWang)

	// A dropped connection: the cookie logs in again, login [0], the same ids.
	w2.sim.Drop()
	if p := params(t, logins.next(events.EventLogin), events.EventLogin, 1); string(p[0]) != "0" {
		t.Errorf("a cookie login: login %s, want [0]", p[0])
	}
	w2.waitRunning()
	if r3 := w2.roster(); r3.user["id"] != r2.user["id"] || find(r3.friends, "id", newWang) == nil {
		t.Error("a cookie login changed the ids")
	}
}
