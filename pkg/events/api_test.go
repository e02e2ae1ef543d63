package events

import (
	"errors"
	"net/http"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name string
		code int
		want int
	}{
		{"ok", CodeOK, http.StatusOK},
		{"api not found", CodeAPINotFound, http.StatusForbidden},
		{"not ready", CodeNotReady, http.StatusOK},
		{"unavailable", CodeUnavailable, http.StatusServiceUnavailable},
		{"timeout", CodeTimeout, http.StatusGatewayTimeout},
		{"auth failure", CodeAuthFailure, http.StatusForbidden},
		{"bad request", CodeBadRequest, http.StatusBadRequest},
		{"too large", CodeTooLarge, http.StatusRequestEntityTooLarge},
		{"internal", CodeInternal, http.StatusInternalServerError},
		{"not found", CodeNotFound, http.StatusOK},
		{"group missing", CodeGroupMissing, http.StatusOK},
		{"discuss missing", CodeDiscussMiss, http.StatusOK},
		{"group member", CodeGroupMember, http.StatusOK},
		{"discuss member", CodeDiscussMbr, http.StatusOK},
		{"sess member", CodeSessMember, http.StatusOK},
		{"content empty", CodeContentEmpty, http.StatusOK},
		{"member empty", CodeMemberEmpty, http.StatusOK},
		{"failure", CodeFailure, http.StatusOK},
		{"shutup time", CodeShutupTime, http.StatusOK},
		{"send failure -5 (not a transport code)", -5, http.StatusOK},
		{"unknown code", 12345, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HTTPStatus(tc.code); got != tc.want {
				t.Errorf("HTTPStatus(%d) = %d, want %d", tc.code, got, tc.want)
			}
			if got := NewStatus(tc.code, "x").HTTPStatus(); got != tc.want {
				t.Errorf("(*Status).HTTPStatus() for %d = %d, want %d", tc.code, got, tc.want)
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	tests := []struct {
		name     string
		reply    *Status
		want     string
		wantHTTP int
	}{
		{"api not found", ErrAPINotFound, `{"code":-1,"status":"api not found"}`, 403},
		{"not ready scaning", ErrNotReady(StateScaning), `{"code":-2,"status":"client not ready: scaning"}`, 200},
		{"not ready init", ErrNotReady(StateInit), `{"code":-2,"status":"client not ready: init"}`, 200},
		{"unavailable", ErrUnavailable, `{"code":-3,"status":"session unavailable"}`, 503},
		{"timeout", ErrTimeout, `{"code":-4,"status":"session timeout"}`, 504},
		{"auth failure", ErrAuthFailure, `{"code":-6,"status":"auth failure"}`, 403},
		{"bad request", ErrBadRequest("param %q: %d", "id", 1), `{"code":-7,"status":"bad request: param \"id\": 1"}`, 400},
		{"too large", ErrTooLarge, `{"code":-8,"status":"request entity too large"}`, 413},
		{"internal", ErrInternal, `{"code":-9,"status":"internal error"}`, 500},
		{"object not found", ErrObjNotFound, `{"code":100,"status":"object not found"}`, 200},
		{"member not found", ErrMemberNotFound("12,34"), `{"code":100,"status":"member 12,34 not found"}`, 200},
		{"member id empty", ErrMemberEmpty, `{"code":200,"status":"member id empty"}`, 200},
		{"failure", ErrFailure, `{"code":201,"status":"failure"}`, 200},
		{"shutup time", ErrShutupTime, `{"code":400,"status":"shutup time missing or error"}`, 200},
		{"success", StatusSuccess, `{"code":0,"status":"success"}`, 200},
		{"in execution", StatusInProcess, `{"code":0,"status":"request already in execution"}`, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(MustMarshal(tc.reply)); got != tc.want {
				t.Errorf("JSON\n got %s\nwant %s", got, tc.want)
			}
			if got := tc.reply.HTTPStatus(); got != tc.wantHTTP {
				t.Errorf("HTTPStatus() = %d, want %d", got, tc.wantHTTP)
			}
		})
	}
}

func TestSendReplyJSON(t *testing.T) {
	id := int64(23910327)
	tests := []struct {
		name  string
		reply *SendReply
		want  string
	}{
		{"friend not found", ErrFriendNotFound, `{"code":100,"id":null,"status":"friend not found"}`},
		{"group not found", ErrGroupNotFound, `{"code":101,"id":null,"status":"group not found"}`},
		{"discuss not found", ErrDiscussNotFound, `{"code":102,"id":null,"status":"discuss not found"}`},
		{"group member not found", ErrGroupMemberNotFound, `{"code":103,"id":null,"status":"group member not found"}`},
		{"discuss member not found", ErrDiscussMbrNotFound, `{"code":104,"id":null,"status":"discuss member not found"}`},
		{"sess member not found (two spaces)", ErrSessMemberNotFound, `{"code":105,"id":null,"status":"discuss member or group member  not found"}`},
		{"content empty", ErrContentEmpty, `{"code":106,"id":null,"status":"content empty"}`},
		{"sent", &SendReply{Code: CodeOK, ID: &id, Info: SendOKInfo, Status: SendOK},
			`{"code":0,"id":23910327,"info":"发送正常","status":"发送成功"}`},
		{"send failed", &SendReply{Code: -3, ID: &id, Info: SendErrInfo, Status: SendFailed},
			`{"code":-3,"id":23910327,"info":"发送异常","status":"发送失败"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(MustMarshal(tc.reply)); got != tc.want {
				t.Errorf("JSON\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRepliesAreErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantText string
	}{
		{"status", ErrNotReady(StateLoading), "code -2: client not ready: loading"},
		{"send reply", ErrFriendNotFound, "code 100: friend not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.wantText {
				t.Errorf("Error() = %q, want %q", got, tc.wantText)
			}
		})
	}
	t.Run("errors.As", func(t *testing.T) {
		var wrapped error = errors.Join(errors.New("context"), ErrTimeout)
		var st *Status
		if !errors.As(wrapped, &st) || st != ErrTimeout {
			t.Errorf("errors.As found %v, want ErrTimeout", st)
		}
		var sr *SendReply
		if !errors.As(error(ErrContentEmpty), &sr) || sr.Code != CodeContentEmpty {
			t.Errorf("errors.As found %v, want ErrContentEmpty", sr)
		}
	})
}

func TestClientInfoJSON(t *testing.T) {
	info := ClientInfo{Account: "default", Code: 0, LogLevel: "info", OS: "linux", PID: 42,
		Runtime: 10, Starttime: 1479787946, State: StateRunning, Status: "success", Version: "2.2.7"}
	want := `{"account":"default","code":0,"http_debug":0,"log_encoding":null,"log_level":"info",` +
		`"log_path":"","os":"linux","pid":42,"runtime":10,"starttime":1479787946,"state":"running",` +
		`"status":"success","version":"2.2.7"}`
	if got := string(MustMarshal(info)); got != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
}
