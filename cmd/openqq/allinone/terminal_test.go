package allinone

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/session/driver/sim"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
)

// During a slow login the terminal shows the QR code in half blocks and the console's address;
// during an instant one it shows nothing.
func TestTerminalShowsQRWhileScaning(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		want  bool
	}{{"slow login", 2 * time.Second, true}, {"instant login", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			var out proctest.SyncBuffer
			cfg := Config{Terminal: &out}
			cfg.NATS.Host, cfg.NATS.Port, cfg.NATS.StoreDir = "127.0.0.1", -1, t.TempDir()
			cfg.Gateway.Addr, cfg.Gateway.APITimeout, cfg.Gateway.MaxBodyBytes = "127.0.0.1:0", 2*time.Second, 1<<20
			cfg.Session.DriverConfig = &sim.Config{QRCodeDir: t.TempDir(), LoginDelay: tc.delay}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, cfg, natstest.Logger(t)) }()
			deadline := time.Now().Add(1500 * time.Millisecond)
			for time.Now().Before(deadline) && !strings.Contains(out.String(), "█") {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got := out.String()
			shown := strings.Contains(got, "▀") && strings.Contains(got, "http://127.0.0.1:")
			if shown != tc.want {
				t.Fatalf("QR shown = %v, want %v:\n%s", shown, tc.want, got)
			}
		})
	}
}

// The WeChat account's QR code is shown too, named as WeChat's, while its login waits.
func TestTerminalShowsWXQR(t *testing.T) {
	var out proctest.SyncBuffer
	cfg := configBoth(t)
	cfg.Terminal = &out
	cfg.WX.Session.DriverConfig = &wxsim.Config{QRCodeDir: t.TempDir(), LoginDelay: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, natstest.Logger(t)) }()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) && !strings.Contains(out.String(), "█") {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "▀") || !strings.Contains(got, "微信 WeChat") || strings.Contains(got, "手机 QQ") {
		t.Fatalf("want WeChat's QR code alone (QQ's login is instant):\n%s", got)
	}
}
