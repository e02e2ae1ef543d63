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

// login is one account whose QR code the terminal shows: its subjects and the app that scans
// it.
type login struct {
	subj events.Subjects
	app  string // "QQ", "微信 WeChat"
}

// showLogins shows the login QR code of every account of logins (showLogin); the func it
// returns stops them all.
func showLogins(nc *nats.Conn, logins []login, w io.Writer, console string) (func(), error) {
	var stops []func()
	stopAll := func() {
		for _, s := range stops {
			s()
		}
	}
	for _, l := range logins {
		stop, err := showLogin(nc, l.subj, l.app, w, console)
		if err != nil {
			stopAll()
			return nil, err
		}
		stops = append(stops, stop)
	}
	return stopAll, nil
}

// showLogin prints the login QR code on w while the client waits for it to be scanned, with
// the console's address. A QR code that is scanned at once (the default simulated login) is
// not printed: it would be stale before anyone could read it. Both platforms publish
// state_change [old, new] and input_qrcode [path, base64] alike.
func showLogin(nc *nats.Conn, subj events.Subjects, app string, w io.Writer, console string) (func(), error) {
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
			fmt.Fprintf(w, "\n请用手机 %s 扫描二维码登录 / scan with %s to log in (or open the console: %s)\n%s\n", app, app, console, drawing)
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
