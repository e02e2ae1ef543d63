package deploy

// The WeChat account's services of docker-compose.yml (session-wx, reporter-wx ×2, poller-wx)
// as processes beside QQ's, behind one gateway listening on two addresses.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// wxServiceEnv is what docker-compose.yml gives session-wx, reporter-wx and poller-wx.
func wxServiceEnv(extra ...string) map[string]string {
	return withEnv(map[string]string{"PLATFORM": "wx", "SUBJECT_PREFIX": "wx"}, extra...)
}

func TestClusterWX(t *testing.T) {
	needCluster(t)
	wxRecv := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	// poll_api: the first poll gets a 302 to an Openwx route, which the poller follows.
	pollRecv := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	c := newCluster(t, retryEnv)
	second := proctest.MustFreePort(t)
	c.env["HTTP_ADDR"] = fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", c.httpPort, second)
	c.env["WX_SIM_QRCODE_DIR"] = filepath.Join(c.dir, "qrcode")
	c.startNATS()
	c.startService("session", "session", nil)
	c.startService("gateway", "gateway", map[string]string{"WX_SUBJECT_PREFIX": "wx"})
	c.startService("session-wx", "session", wxServiceEnv())
	for i := 1; i <= 2; i++ {
		c.startService(fmt.Sprintf("reporter-wx-%d", i), "reporter", wxServiceEnv("POST_API", wxRecv.URL, "POST_PARTITIONS", "4"))
	}
	c.startService("poller-wx", "poller", wxServiceEnv("POLL_API", pollRecv.URL, "POLL_INTERVAL", "100ms"))
	c.waitReady(30*time.Second, c.names()...)
	c.waitAPI(10 * time.Second)

	// /openwx on both ports.
	var sender string
	for _, port := range []int{c.httpPort, second} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/openwx/get_friend_info", port), 5*time.Second)
			var friends []map[string]any
			if code == 200 && json.Unmarshal([]byte(body), &friends) == nil && len(friends) > 0 {
				for _, f := range friends {
					if id, _ := f["id"].(string); strings.HasPrefix(id, "@") && f["category"] == wx.CategoryFriend {
						sender = id
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("port %d: /openwx/get_friend_info: %d %s", port, code, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if sender == "" {
		t.Fatal("no friend with an @ id")
	}

	// An image injected into the WeChat sim reaches post_api, with its bytes, through one of
	// the two reporters.
	img := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("cluster"), 500)...)
	inj, err := json.Marshal(wx.Injection{Type: "friend_message", SenderID: sender, Format: "media",
		MediaType: "image", MediaName: "cat.png", MediaMime: "image/png", MediaData: img})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.connect().Request("wx.sim.inject", inj, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep wx.InjectReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Code != 0 || rep.ID == "" {
		t.Fatalf("inject: %v %s", err, msg.Data)
	}
	got, ok := wxRecv.Wait(20*time.Second, func(rs []proctest.Request) bool {
		for _, r := range rs {
			if m := r.JSON(); m != nil && m["id"] == rep.ID {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("the injected image did not reach post_api (%d requests)", len(got))
	}
	n := 0
	for _, r := range got {
		m := r.JSON()
		if m == nil || m["id"] != rep.ID {
			continue
		}
		n++
		b64, _ := m["media_data"].(string)
		data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(b64, "\n", ""))
		if err != nil || !bytes.Equal(data, img) || m["format"] != "media" {
			t.Errorf("report: format %v, media_data %d bytes (%v), want the %d injected", m["format"], len(data), err, len(img))
		}
	}
	if n != 1 {
		t.Errorf("the message was posted %d times by two reporters, want once", n)
	}
	// The WeChat poller asks poll_api.
	if _, ok := pollRecv.Wait(10*time.Second, func(rs []proctest.Request) bool { return len(rs) > 0 }); !ok {
		t.Error("poller-wx never asked POLL_API")
	}
	// QQ is unaffected.
	if code, body, _ := get(c.apiURL("get_user_info"), 5*time.Second); code != 200 || !strings.Contains(body, "4072574066") {
		t.Errorf("/openqq/get_user_info: %d %s", code, body)
	}
}
