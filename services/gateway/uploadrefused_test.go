package gateway

import "testing"

func TestRefusedBeforeSending(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   bool
	}{
		{200, `{"code":0,"id":"1:@a","msg_id":"1:@a","status":"success"}`, false},
		{200, `{"code":0,"media_id":"x:3","status":"success"}`, false},
		{200, `{"id":null,"msg_id":null,"code":100,"status":"object not found"}`, true},
		{200, `{"code":106,"status":"content and media empty"}`, true},
		{200, `{"code":1205,"id":"17000:@a","status":"发送失败"}`, false}, // WeChat refused: its report names the media
		{200, `{"id":"1:@a","code":0,"status":"success","reply":null,"reply_status":"reply timeout"}`, false},
		{200, `[{"id":"@a"}]`, false},
		{200, `not json`, false},
		{400, `{"code":-7,"status":"bad request: timeout"}`, true},
		{503, `{"code":-3,"status":"too many consult calls waiting"}`, true},
		{504, `{"code":-4,"status":"timeout"}`, false}, // the session may still send it
	} {
		if got := refusedBeforeSending(tc.status, []byte(tc.body)); got != tc.want {
			t.Errorf("refusedBeforeSending(%d, %s) = %v, want %v", tc.status, tc.body, got, tc.want)
		}
	}
}
