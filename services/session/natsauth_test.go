package session_test

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// The session service over connections made as the binaries make them (natsconn.Connect),
// to a server that requires TLS and a user name and password, with JetStream for the events.

func TestSecureSessionOverAuthenticatedTLS(t *testing.T) {
	const user, password = "openqq", "pw-s3cret-5e1d"
	dir := t.TempDir()
	pki := proctest.NewPKI(t)
	caPath, certPath, keyPath := pki.CA, pki.ServerCert, pki.ServerKey

	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certPath, KeyFile: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		TLS: true, TLSConfig: tc, TLSTimeout: 2,
		Username: user, Password: password,
		JetStream: true, StoreDir: filepath.Join(dir, "js"),
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		s.Shutdown()
		t.Fatal("nats-server not ready after 5s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Addr().(*net.TCPAddr).Port))

	log := natstest.Logger(t)
	cfg := natsconn.Config{URL: "tls://" + addr, User: user, Password: password, TLSCA: caPath}
	dial := func(name string) *nats.Conn {
		t.Helper()
		nc, err := natsconn.Connect(cfg, name, log)
		if err != nil {
			t.Fatalf("Connect %s: %v", name, err)
		}
		t.Cleanup(nc.Close)
		deadline := time.Now().Add(5 * time.Second)
		for !nc.IsConnected() {
			if time.Now().After(deadline) {
				t.Fatalf("%s not connected after 5s: %v", name, nc.LastError())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st, err := nc.TLSConnectionState(); err != nil || !st.HandshakeComplete {
			t.Fatalf("%s is not on TLS: %v", name, err)
		}
		return nc
	}
	sessNC := dial("openqq-session")
	clientNC := dial("openqq-gateway")

	sess, err := session.New(sessNC, session.Config{DriverConfig: &sim.Config{QRCodeDir: t.TempDir()}}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sess.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of its context ending")
		}
	})

	// The session serves the API once it is up and answers -2 until the sim has logged in.
	var reply []byte
	deadline := time.Now().Add(15 * time.Second)
	for {
		msg, err := clientNC.Request("qq.api.get_user_info", []byte("{}"), time.Second)
		if err == nil && !strings.Contains(string(msg.Data), `"code":-2`) {
			reply = msg.Data
			break
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errorString(msg.Data)
			}
			t.Fatalf("get_user_info over TLS with a password: no answer within 15s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var info map[string]any
	if err := json.Unmarshal(reply, &info); err != nil {
		t.Fatalf("get_user_info reply %s: %v", reply, err)
	}
	if _, ok := info["uid"]; !ok {
		t.Fatalf("get_user_info reply has no uid: %s", reply)
	}
	t.Logf("get_user_info: %s", reply)
}

type errorString string

func (e errorString) Error() string { return string(e) }
