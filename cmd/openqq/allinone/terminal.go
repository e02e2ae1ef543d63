package allinone

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/termqr"
)

// showLogin prints the login QR code on w while the client waits for it to be scanned, with
// the console's address. A QR code that is scanned at once (the default simulated login) is
// not printed: it would be stale before anyone could read it.
func showLogin(nc *nats.Conn, subj events.Subjects, w io.Writer, console string) (func(), error) {
	var (
		mu    sync.Mutex
		state events.State
		shown string
	)
	onState := func(m *nats.Msg) {
		var ev events.Event
		var to events.State
		if json.Unmarshal(m.Data, &ev) == nil && len(ev.Params) == 2 && json.Unmarshal(ev.Params[1], &to) == nil {
			mu.Lock()
			state = to
			mu.Unlock()
		}
	}
	onQR := func(m *nats.Msg) {
		var ev events.Event
		var b64 string
		if json.Unmarshal(m.Data, &ev) != nil || len(ev.Params) < 2 || json.Unmarshal(ev.Params[1], &b64) != nil {
			return
		}
		png, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(b64, "\n", ""))
		if err != nil {
			return
		}
		drawing, err := termqr.Render(png)
		if err != nil {
			return
		}
		time.AfterFunc(300*time.Millisecond, func() {
			mu.Lock()
			defer mu.Unlock()
			if state != events.StateScaning || shown == b64 {
				return
			}
			shown = b64
			fmt.Fprintf(w, "\n请用手机 QQ 扫描二维码登录 / scan to log in (or open the console: %s)\n%s\n", console, drawing)
		})
	}
	s1, err := nc.Subscribe(subj.Event(events.EventStateChange), onState)
	if err != nil {
		return nil, err
	}
	s2, err := nc.Subscribe(subj.Event(events.EventInputQRCode), onQR)
	if err != nil {
		_ = s1.Unsubscribe()
		return nil, err
	}
	return func() { _ = s1.Unsubscribe(); _ = s2.Unsubscribe() }, nil
}
