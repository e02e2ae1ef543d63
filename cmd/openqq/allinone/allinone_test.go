package allinone

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// config is an all-in-one run on free ports, with its store in the test's directory.
func config(t *testing.T) Config {
	return Config{
		NATS: embednats.Config{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Session: session.Config{
			SubjectPrefix: "qq", Account: "default", Driver: "sim", DriverTimeout: 5 * time.Second,
			ControlDelay: 100 * time.Millisecond, LogLevel: "info",
			DriverConfig: &sim.Config{QRCodeDir: t.TempDir()},
		},
		Gateway: gateway.Config{Addr: "127.0.0.1:0", SubjectPrefix: "qq", APITimeout: 2 * time.Second, MaxBodyBytes: 1 << 20},
	}
}

// running is one RunReady in the background.
type running struct {
	t      *testing.T
	base   string
	cancel context.CancelFunc
	done   chan error
	client *http.Client
}

// runAllInOne starts RunReady and waits for the gateway's address.
func runAllInOne(t *testing.T, cfg Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	r := &running{t: t, cancel: cancel, done: make(chan error, 1), client: &http.Client{Timeout: 10 * time.Second}}
	go func() { r.done <- RunReady(ctx, cfg, natstest.Logger(t), func(a net.Addr) { addr <- a }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("RunReady still running 15s after the test")
		}
	})
	select {
	case a := <-addr:
		r.base = "http://" + a.String() + "/openqq/"
	case err := <-r.done:
		t.Fatalf("RunReady returned %v before it was ready", err)
	case <-time.After(10 * time.Second):
		t.Fatal("RunReady not ready within 10s")
	}
	return r
}

// get calls a route and decodes its JSON object reply.
func (r *running) get(route string) (int, map[string]any) {
	r.t.Helper()
	resp, err := r.client.Get(r.base + route)
	if err != nil {
		r.t.Fatalf("GET %s: %v", route, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		r.t.Fatalf("GET %s: %v in %s", route, err, body)
	}
	return resp.StatusCode, m
}

// waitRunning polls get_client_info until the client is running.
func (r *running) waitRunning() { r.t.Helper(); r.waitState("running") }

// waitState polls get_client_info until the client is in state st ("" for any: the session
// answers).
func (r *running) waitState(st string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, m := r.get("get_client_info")
		if code == 200 && (st == "" || m["state"] == st) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("client not %q after 10s: %d %v", st, code, m)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReturn waits up to d for RunReady's result.
func (r *running) waitReturn(d time.Duration) error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(d):
		r.t.Fatalf("RunReady did not return within %s", d)
		return nil
	}
}

// The whole of openqq in one process answers over HTTP, and stop_client ends the run cleanly.
func TestRunReadyStopClient(t *testing.T) {
	t.Parallel()
	r := runAllInOne(t, config(t))
	r.waitRunning()
	code, user := r.get("get_user_info")
	if code != 200 || user["id"] != float64(4072574066) || user["name"] != "小灰" {
		t.Fatalf("get_user_info: %d %v", code, user)
	}
	code, reply := r.get("stop_client")
	want := fmt.Sprintf("success, client(%d) will stop in 0 seconds", os.Getpid())
	if code != 200 || reply["code"] != float64(0) || reply["status"] != want || reply["account"] != "default" {
		t.Fatalf("stop_client: %d %v", code, reply)
	}
	if err := r.waitReturn(5 * time.Second); err != nil {
		t.Errorf("RunReady returned %v after stop_client, want nil", err)
	}
	// The gateway is gone with it.
	if resp, err := r.client.Get(r.base + "get_user_info"); err == nil {
		resp.Body.Close()
		t.Errorf("the gateway still answers after the run ended: %d", resp.StatusCode)
	}
}

// Cancelling the context ends the run cleanly, too, whether or not the client is logged in.
func TestRunReadyCancel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		loginDelay time.Duration
	}{
		{"running", 0},
		{"logging in", time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := config(t)
			cfg.Session.DriverConfig.(*sim.Config).LoginDelay = c.loginDelay
			r := runAllInOne(t, cfg)
			if c.loginDelay == 0 {
				r.waitRunning()
				if code, user := r.get("get_user_info"); code != 200 || user["id"] != float64(4072574066) {
					t.Fatalf("get_user_info: %d %v", code, user)
				}
			} else {
				r.waitState("scaning")
			}
			r.cancel()
			if err := r.waitReturn(5 * time.Second); err != nil {
				t.Errorf("RunReady returned %v after cancel, want nil", err)
			}
		})
	}
}

// stop_client works before the login is done (it answers in every state).
func TestRunReadyStopWhileLoggingIn(t *testing.T) {
	t.Parallel()
	cfg := config(t)
	cfg.Session.DriverConfig.(*sim.Config).LoginDelay = time.Hour
	r := runAllInOne(t, cfg)
	r.waitState("scaning")
	if code, reply := r.get("stop_client"); code != 200 || reply["code"] != float64(0) {
		t.Fatalf("stop_client: %d %v", code, reply)
	}
	if err := r.waitReturn(5 * time.Second); err != nil {
		t.Errorf("RunReady returned %v, want nil", err)
	}
}

// A configuration that cannot run fails at once with an error, and is never ready.
func TestRunReadyBadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*Config)
	}{
		{"no store dir", func(c *Config) { c.NATS.StoreDir = "" }},
		{"gateway address taken", nil}, // set below
		{"bad session prefix", func(c *Config) { c.Session.SubjectPrefix = "qq.*" }},
		{"bad gateway timeout", func(c *Config) { c.Gateway.APITimeout = -time.Second }},
		{"unknown driver", func(c *Config) { c.Session.Driver = "webqq" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := config(t)
			if c.mutate != nil {
				c.mutate(&cfg)
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				cfg.Gateway.Addr = ln.Addr().String()
			}
			ready := make(chan struct{}, 1)
			done := make(chan error, 1)
			go func() {
				done <- RunReady(context.Background(), cfg, natstest.Logger(t), func(net.Addr) { ready <- struct{}{} })
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Error("RunReady returned nil, want an error")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("RunReady still running after 10s")
			}
			select {
			case <-ready:
				t.Error("ready was called for a run that failed")
			default:
			}
		})
	}
}

// A client that opened a connection and sent nothing yet (a browser's preconnect, a TCP health
// check, an HTTP client's spare dial) must not turn a clean stop into an error.
func TestRunReadyStopWithIdleConnection(t *testing.T) {
	t.Parallel()
	r := runAllInOne(t, config(t))
	r.waitRunning()
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(r.base, "http://"), "/openqq/"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if code, reply := r.get("stop_client"); code != 200 || reply["code"] != float64(0) {
		t.Fatalf("stop_client: %d %v", code, reply)
	}
	if err := r.waitReturn(10 * time.Second); err != nil {
		t.Errorf("RunReady returned %v after stop_client while a connection without a request was open, want nil", err)
	}
}

// HTTP_ADDR lists addresses: the all-in-one gateway answers on each.
func TestRunReadyEveryAddress(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	second := ln.Addr().String() // free a moment ago
	_ = ln.Close()
	cfg := config(t)
	cfg.Gateway.Addr = "127.0.0.1:0, " + second
	r := runAllInOne(t, cfg)
	r.waitState("")
	resp, err := r.client.Get("http://" + second + "/openqq/get_client_info")
	if err != nil {
		t.Fatalf("the second address: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the second address: HTTP %d", resp.StatusCode)
	}
}
