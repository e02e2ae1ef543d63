package events

import "testing"

func TestSubjects(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"zero value event", Subjects{}.Event("login"), "qq.events.login"},
		{"zero value events", Subjects{}.Events(), "qq.events.>"},
		{"zero value api group", Subjects{}.APIGroup(), "qq.api"},
		{"zero value api", Subjects{}.API(RouteSendFriendMessage), "qq.api.send_friend_message"},
		{"zero value sim inject", Subjects{}.SimInject(), "qq.sim.inject"},
		{"default prefix spelled out", Subjects{Prefix: DefaultPrefix}.Event(GroupMessage), "qq.events.group_message"},
		{"custom event", Subjects{Prefix: "acct-1.qq"}.Event(EventStop), "acct-1.qq.events.stop"},
		{"custom events", Subjects{Prefix: "acct-1.qq"}.Events(), "acct-1.qq.events.>"},
		{"custom api group", Subjects{Prefix: "acct-1.qq"}.APIGroup(), "acct-1.qq.api"},
		{"custom api", Subjects{Prefix: "acct-1.qq"}.API(RouteGetClientInfo), "acct-1.qq.api.get_client_info"},
		{"custom sim inject", Subjects{Prefix: "bot_2"}.SimInject(), "bot_2.sim.inject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	if DefaultPrefix != "qq" {
		t.Errorf("DefaultPrefix = %q, want qq", DefaultPrefix)
	}
}

func TestEventName(t *testing.T) {
	tests := []struct {
		subject string
		want    string
	}{
		{"qq.events.login", "login"},
		{"acct-1.qq.events.group_message", "group_message"},
		{Subjects{}.Event(EventLoseGroupMember), EventLoseGroupMember},
		{"nodots", "nodots"},
		{"trailing.", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.subject, func(t *testing.T) {
			if got := EventName(tc.subject); got != tc.want {
				t.Errorf("EventName(%q) = %q, want %q", tc.subject, got, tc.want)
			}
		})
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		want   bool
	}{
		{"qq", true},
		{"acct-1.qq", true},
		{"A_b-9", true},
		{"a.b.c", true},
		{"", false},
		{"a..b", false},
		{".a", false},
		{"a.", false},
		{".", false},
		{"a.*", false},
		{"*", false},
		{"a.>", false},
		{">", false},
		{"a b", false},
		{"a\tb", false},
		{"a/b", false},
		{"小灰", false},
		{"a$b", false},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			if got := ValidPrefix(tc.prefix); got != tc.want {
				t.Errorf("ValidPrefix(%q) = %v, want %v", tc.prefix, got, tc.want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	if len(Routes) != 19 {
		t.Errorf("len(Routes) = %d, want 19", len(Routes))
	}
	seen := map[string]bool{}
	for _, r := range Routes {
		t.Run(r, func(t *testing.T) {
			if seen[r] {
				t.Errorf("route %q listed twice", r)
			}
			seen[r] = true
			if !IsRoute(r) {
				t.Errorf("IsRoute(%q) = false", r)
			}
			want := r == RouteGetClientInfo || r == RouteStopClient || r == RouteCheckEvent
			if got := AnswersBeforeRunning(r); got != want {
				t.Errorf("AnswersBeforeRunning(%q) = %v, want %v", r, got, want)
			}
			if ReservedParams[r] {
				t.Errorf("route %q is a reserved param", r)
			}
		})
	}
	for _, name := range []string{"", "Get_User_Info", "get_user_info/", "post_api"} {
		t.Run("not a route "+name, func(t *testing.T) {
			if IsRoute(name) {
				t.Errorf("IsRoute(%q) = true", name)
			}
		})
	}
}

func TestReservedParams(t *testing.T) {
	tests := []struct {
		param string
		want  bool
	}{
		{"client", true},
		{"datatype", true},
		{"callback", true},
		{"access_token", true},
		{"_", true},
		{"id", false},
		{"member", false},
		{"content", false},
		{"async", false},
	}
	for _, tc := range tests {
		t.Run(tc.param, func(t *testing.T) {
			if got := ReservedParams[tc.param]; got != tc.want {
				t.Errorf("ReservedParams[%q] = %v, want %v", tc.param, got, tc.want)
			}
		})
	}
}

// The names the services agree on, spelt out once more: changing one changes the wire.
func TestWireNames(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"check_event release subject", Subjects{}.CheckEventRelease(), "qq.api.check_event.release"},
		{"check_event release custom", Subjects{Prefix: "acct1"}.CheckEventRelease(), "acct1.api.check_event.release"},
		{"check_event release endpoint", EndpointCheckEventRelease, "check_event_release"},
		{"reporter consumer", ReporterConsumer("stdout"), "reporter_stdout"},
		{"api path", APIPath(RouteSendGroupMessage), "/openqq/send_group_message"},
		{"answers bucket", Subjects{}.AnswersBucket(), "QQ_ANSWERS"},
		{"answers bucket custom", Subjects{Prefix: "org.acct-2"}.AnswersBucket(), "QQ_ANSWERS_ORG_ACCT_2"},
		{"reporters bucket", Subjects{}.ReportersBucket(), "QQ_REPORTERS"},
		{"reporters bucket custom", Subjects{Prefix: "org.acct-2"}.ReportersBucket(), "QQ_REPORTERS_ORG_ACCT_2"},
		{"stream custom", Subjects{Prefix: "org.acct-2"}.Stream(), "QQ_EVENTS_ORG_ACCT_2"},
		{"stream of the WeChat platform", Subjects{Prefix: "wx"}.Stream(), "WX_EVENTS"},
		{"dead letters of the WeChat platform", Subjects{Prefix: "wx"}.DeadLetterStream(), "WX_DEADLETTER"},
		{"answers of the WeChat platform", Subjects{Prefix: "wx"}.AnswersBucket(), "WX_ANSWERS"},
		{"dead letter stream", Subjects{}.DeadLetterStream(), "QQ_DEADLETTER"},
		{"dead letter", Subjects{}.DeadLetter("reporter_x"), "qq.deadletter.reporter_x"},
		{"if-none-match", HeaderIfNoneMatch, "Openqq-If-None-Match"},
		{"etag", HeaderETag, "Openqq-Etag"},
		{"not modified", HeaderNotModified, "Openqq-Not-Modified"},
		{"msg id", HeaderMsgID, "Nats-Msg-Id"},
		{"from", HeaderFrom, "Openqq-From"},
		{"ticket", HeaderTicket, "Openqq-Ticket"},
		{"hold", HeaderHold, "Openqq-Hold"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
