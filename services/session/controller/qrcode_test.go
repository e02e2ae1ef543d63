package controller

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session"
)

// run runs the account client as its host would: the configuration built from its stored
// spec over the host's (session.ClientConfig), a real session until the test ends.
func (r *rig) run(client string) *session.Session {
	r.t.Helper()
	cfg, _, err := session.ClientConfig(r.base, r.spec(client))
	if err != nil {
		r.t.Fatal(err)
	}
	s, err := session.New(natstest.Connect(r.t, r.srv), cfg, natstest.Logger(r.t))
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("session %s: %v", client, err)
		}
	})
	return s
}

// waitFor waits until cond holds, or fails after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// get_qrcode relays the image of the QR code an account waits to have scanned, from the
// session that runs it, with Mojo's type (QQ PNG, WeChat image/jpg) and no-cache; an
// account logged in, or that no host runs, has none: HTTP 404, an empty body.
func TestGetQRCode(t *testing.T) {
	for _, c := range []struct {
		platform, ctype, delay string
	}{
		{"qq", "image/png", "sim_login_delay"},
		{"wx", "image/jpg", "wx_sim_login_delay"},
	} {
		t.Run(c.platform, func(t *testing.T) {
			r := newRig(t, c.platform)
			r.controller(0, nil)
			dir := t.TempDir()
			for _, p := range []events.Params{
				{"client": "waiting", c.delay: "3600", "sim_qrcode_dir": dir, "wx_sim_qrcode_dir": dir},
				{"client": "quick"},
				{"client": "nohost"},
			} {
				if got := object(t, r.call(events.RouteStartClient, p)); got["code"] != 0.0 {
					t.Fatalf("start %v: %v", p, got)
				}
			}
			waiting := r.run("waiting")
			waitFor(t, "the QR code", func() bool { return waiting.Engine().PendingQRCode() != nil })
			m := r.call(events.RouteGetQRCode, events.Params{"client": "waiting"})
			if !bytes.Equal(m.Data, waiting.Engine().PendingQRCode()) || m.Header.Get(events.HeaderContentType) != c.ctype ||
				m.Header.Get(events.HeaderCacheControl) != "no-cache" || m.Header.Get(micro.ErrorCodeHeader) != "" {
				t.Errorf("waiting for a scan: headers %v, %d bytes", m.Header, len(m.Data))
			}

			quick := r.run("quick")
			waitFor(t, "running", func() bool { return quick.ClientState() == events.StateRunning })
			for _, client := range []string{"quick", "nohost"} {
				m := r.call(events.RouteGetQRCode, events.Params{"client": client})
				if len(m.Data) != 0 || m.Header.Get(micro.ErrorCodeHeader) != "404" || m.Header.Get(events.HeaderCacheControl) != "no-cache" {
					t.Errorf("%s: headers %v, body %q; want a 404 with an empty body", client, m.Header, m.Data)
				}
			}
		})
	}
}
