package e2e

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
)

// get_client_info: Mojo's fields, whatever the method.
func TestClientInfo(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := start(t)
	for _, v := range vias {
		t.Run(string(v), func(t *testing.T) {
			code, body := e.with(t).call(v, "get_client_info")
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			m := object(t, body)
			hasKeys(t, "get_client_info", m, "code", "status", "pid", "account", "os", "version", "starttime",
				"runtime", "http_debug", "log_encoding", "log_path", "log_level")
			fields(t, "get_client_info", m, map[string]any{
				"code": 0, "status": "success", "account": "default", "pid": os.Getpid(), "os": runtime.GOOS,
				"log_path": "", "log_level": "info", "log_encoding": nil,
			})
			if s, ok := m["version"].(string); !ok || s == "" {
				t.Errorf("version %#v, want a non-empty string", m["version"])
			}
			if st := intOf(t, m, "starttime"); st < began.Unix()-1 || st > time.Now().Unix() {
				t.Errorf("starttime %d, want the session's start (about %d)", st, began.Unix())
			}
			if rt := intOf(t, m, "runtime"); rt < 0 || rt > int64(time.Since(began)/time.Second)+1 {
				t.Errorf("runtime %d, want the seconds since the start", rt)
			}
			if d := m["http_debug"]; d != num(0) && d != "0" {
				t.Errorf("http_debug %#v, want 0", d)
			}
		})
	}
}

// relogin answers as Mojo did and the client logs in again through every state.
func TestRelogin(t *testing.T) {
	t.Parallel()
	e := start(t)
	all := e.subscribe("")
	status := regexp.MustCompile(fmt.Sprintf(`^success, client\(%d\) will relogin in 0 seconds$`, os.Getpid()))
	for i, v := range vias {
		t.Run(string(v), func(t *testing.T) {
			e, all := e.with(t), all.with(t)
			code, body := e.call(v, "relogin")
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			m := object(t, body)
			fields(t, "relogin", m, map[string]any{"code": 0, "account": "default"})
			if s, _ := m["status"].(string); !status.MatchString(s) {
				t.Errorf("status %q, want %s", m["status"], status)
			}
			if len(m) != 3 {
				t.Errorf("relogin reply %s, want code, account and status only", body)
			}
			qr := checkLogin(t, all, loginSteps(events.StateRunning))
			checkQRCode(t, qr)
			e.waitState(events.StateRunning)
			// Everything works again, with the same roster.
			code, body = e.get("get_user_info", nil)
			if code != 200 || intOf(t, object(t, body), "id") != meID {
				t.Errorf("get_user_info after relogin %d: %d %.200s", i, code, body)
			}
			code, body = e.get("send_friend_message", q("id", itoa(friendID), "content", fmt.Sprintf("relogin %d", i)))
			awaitID(t, all, "friend_message", checkSendReply(t, code, body))
		})
	}
}

// stop_client answers as Mojo did, then the client stops: state_change [running,stop], stop [],
// and the session's Run returns; the API is then unavailable.
func TestStopClient(t *testing.T) {
	t.Parallel()
	for _, v := range vias {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			l := launch(t)
			l.waitState(events.StateRunning)
			// Skip the login's items.
			checkLogin(t, l.all, loginSteps(events.StateInit))

			code, body := l.call(v, "stop_client")
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			m := object(t, body)
			hasKeys(t, "stop_client", m, "code", "account", "pid", "starttime", "runtime", "status")
			fields(t, "stop_client", m, map[string]any{
				"code": 0, "account": "default", "pid": os.Getpid(),
				"status": fmt.Sprintf("success, client(%d) will stop in 0 seconds", os.Getpid()),
			})
			intOf(t, m, "starttime")
			intOf(t, m, "runtime")

			raw := await(t, l.all, events.EventStateChange, nil)
			if got := stateChange(t, raw); got != [2]events.State{events.StateRunning, events.StateStop} {
				t.Errorf("state_change %v, want [running stop]", got)
			}
			raw = await(t, l.all, "", nil)
			if raw.Subject != "qq.events.stop" {
				t.Fatalf("after state_change: %s %s, want the stop event", raw.Subject, raw.Data)
			}
			params(t, raw, events.EventStop, 0)
			sameJSON(t, raw.Data, `{"post_type":"event","event":"stop","params":[]}`)

			if err := l.waitStopped(5 * time.Second); err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
			// The API goes away (until the service's unsubscription reaches the server, a call may
			// still hear "client not ready: stop").
			deadline := time.Now().Add(5 * time.Second)
			for {
				code, body = l.get("get_user_info", nil)
				if code == 503 {
					sameJSON(t, body, `{"code":-3,"status":"session unavailable"}`)
					break
				}
				if code != 200 || string(body) != `{"code":-2,"status":"client not ready: stop"}` {
					t.Fatalf("get_user_info after stop: %d %s", code, body)
				}
				if time.Now().After(deadline) {
					t.Fatalf("get_user_info still answered 5s after the stop: %s", body)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// stop_client and relogin act ControlDelay after their reply (Mojo: 3 s), and say so.
func TestControlDelay(t *testing.T) {
	t.Parallel()
	const delay = time.Second
	for _, route := range []string{"relogin", "stop_client"} {
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			l := launch(t, func(s *session.Config, _ *gateway.Config) { s.ControlDelay = delay })
			l.waitState(events.StateRunning)
			checkLogin(t, l.all, loginSteps(events.StateInit))
			began := time.Now()
			code, body := l.get(route, nil)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			verb := map[string]string{"relogin": "relogin", "stop_client": "stop"}[route]
			want := fmt.Sprintf("success, client(%d) will %s in 1 seconds", os.Getpid(), verb)
			if s := object(t, body)["status"]; s != want {
				t.Errorf("status %q, want %q", s, want)
			}
			raw := await(t, l.all, events.EventStateChange, nil)
			if took := time.Since(began); took < delay {
				t.Errorf("%s acted after %s, want %s after the call", route, took, delay)
			}
			want2 := [2]events.State{events.StateRunning, events.StateLoading}
			if route == "stop_client" {
				want2[1] = events.StateStop
			}
			if got := stateChange(t, raw); got != want2 {
				t.Errorf("state_change %v, want %v", got, want2)
			}
		})
	}
}

// The simulated QQ server keeps what happened to the account: a relogin reloads the roster from
// it, so a kicked member stays out, a new friend stays in, and a mute stays on.
func TestRosterSurvivesRelogin(t *testing.T) {
	t.Parallel()
	e := start(t)
	code, body := e.get("kick_group_member", q("group_id", itoa(perlGroupID), "member_id", itoa(perlMemberID)))
	if code != 200 {
		t.Fatalf("kick: %d %s", code, body)
	}
	sameJSON(t, body, success)
	code, body = e.get("shutup_group_member", q("group_id", itoa(perlGroupID), "member_id", itoa(perlCardedID), "time", "10"))
	if code != 200 {
		t.Fatalf("shutup: %d %s", code, body)
	}
	sameJSON(t, body, success)
	if r := e.inject(events.Injection{Event: events.EventNewFriend, Friend: &events.Friend{ID: 9000001, UID: 9001, Name: "新朋友"}}); r.Code != 0 {
		t.Fatalf("new_friend: %+v", r)
	}
	if r := e.inject(events.Injection{Event: events.EventLoseGroup, GroupID: hikeGroupID}); r.Code != 0 {
		t.Fatalf("lose_group: %+v", r)
	}

	all := e.subscribe("")
	if code, body := e.get("relogin", nil); code != 200 {
		t.Fatalf("relogin: %d %s", code, body)
	}
	checkLogin(t, all, loginSteps(events.StateRunning))
	e.waitState(events.StateRunning)

	var problems []string
	groups := e.groupInfo()
	if byID(groups, hikeGroupID) != nil {
		problems = append(problems, "the group the account left is back")
	}
	if perl := byID(groups, perlGroupID); perl == nil || byID(members(t, perl), perlMemberID) != nil || intOf(t, perl, "member_count") != 310 {
		problems = append(problems, "the kicked member is back in PERL学习交流")
	}
	if byID(e.friendInfo(), 9000001) == nil {
		problems = append(problems, "the new friend is gone")
	}
	if _, muted := e.mutedUntil(perlGroupID, perlCardedID); !muted {
		problems = append(problems, "the mute is off")
	}
	if len(problems) > 0 {
		t.Fatalf("after relogin the sim's roster is its initial one again (services/session/driver/sim/sim.go Run: ro := s.initial.Clone()): %v", problems)
	}
}
