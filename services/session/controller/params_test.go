package controller

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

func TestSettings(t *testing.T) {
	for _, c := range []struct {
		name   string
		p      events.Params
		want   map[string]string
		refuse string // a part of the refusal, "" if none
	}{
		{"none", events.Params{"client": "a"}, map[string]string{}, ""},
		{"upper-cased", events.Params{"client": "a", "post_api": "http://x", "Sim_Roster": "/r.json"},
			map[string]string{"POST_API": "http://x", "SIM_ROSTER": "/r.json"}, ""},
		{"not settings", events.Params{"client": "a", "datatype": "jsonp", "callback": "cb", "_": "1700000000", "_x": "1", "": "v"},
			map[string]string{}, ""},
		{"empty values kept", events.Params{"client": "a", "post_api": ""}, map[string]string{"POST_API": ""}, ""},
		{"account of the client", events.Params{"client": "a", "account": "a", "driver": "sim"}, map[string]string{"DRIVER": "sim"}, ""},
		{"another account", events.Params{"client": "a", "account": "b"}, nil, "named by its client"},
		{"one setting twice", events.Params{"client": "a", "poll_api": "1", "POLL_API": "2"}, nil, "same setting POLL_API"},
		{"unknown names pass", events.Params{"client": "a", "login_type": "login", "x-y": "z"}, map[string]string{"LOGIN_TYPE": "login", "X-Y": "z"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Settings("a", c.p)
			if c.refuse != "" {
				var st *events.Status
				if !errors.As(err, &st) || st.Code != events.CodeBadRequest || !strings.Contains(st.Status, c.refuse) {
					t.Errorf("err %v, want a -7 refusal with %q", err, c.refuse)
				}
				return
			}
			if err != nil || !maps.Equal(got, c.want) {
				t.Errorf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestEntryMasks(t *testing.T) {
	got := Entry(map[string]string{"ONEBOT_ACCESS_TOKEN": "t", "POST_API": "http://u:p@h/x?k=v", "SEND_BURST": "3", "WECHATY_TOKEN": ""})
	want := map[string]any{"onebot_access_token": "***", "post_api": "http://***@h/x?k=***", "send_burst": "3", "wechaty_token": ""}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// FuzzSettings: whatever the parameters (as the gateway encodes them), Settings neither panics
// nor invents: every setting is a parameter's upper-cased name with its value, none of the
// parameters that are not settings, and a refusal is a -7 Status.
func FuzzSettings(f *testing.F) {
	f.Add("a", `{"client":"a","post_api":"http://127.0.0.1/p","sim_roster":"/r.json"}`)
	f.Add("a", `{"client":"a","account":"a","driver":"onebot","onebot_url":"ws://x","onebot_access_token":"t"}`)
	f.Add("a", `{"client":"a","account":"b"}`)
	f.Add("a", `{"post_api":"1","POST_API":"2","Post_Api":"3"}`)
	f.Add("bot", `{"_":"1","datatype":"jsonp","callback":"f","":"e","ß":"s","ǅ":"dz"}`)
	f.Add("x", `{"client":null,"n":12,"b":true}`)
	f.Add("x", `not json`)
	f.Fuzz(func(t *testing.T, client, raw string) {
		p, err := events.DecodeParams([]byte(raw))
		if err != nil {
			return
		}
		got, err := Settings(client, p)
		if err != nil {
			var st *events.Status
			if !errors.As(err, &st) || st.Code != events.CodeBadRequest {
				t.Fatalf("refusal %v is not a -7 Status", err)
			}
			return
		}
		if len(got) > len(p) {
			t.Fatalf("%d settings from %d parameters", len(got), len(p))
		}
		for k, v := range got {
			if k == keyAccount {
				t.Fatalf("ACCOUNT kept: %v", got)
			}
			found := false
			for name, pv := range p {
				if strings.ToUpper(name) == k && pv == v && name != events.ParamClient && name != "" && !strings.HasPrefix(name, "_") {
					found = true
				}
			}
			if !found {
				t.Fatalf("setting %s=%q from no parameter of %v", k, v, p)
			}
		}
	})
}
