package natsconn_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// TLS: a server that requires TLS with a certificate of a private CA, and one that also
// requires a client certificate (mutual TLS).

// mustTLS checks that nc's connection to the server is encrypted and verified.
func mustTLS(t *testing.T, nc *nats.Conn) {
	t.Helper()
	st, err := nc.TLSConnectionState()
	if err != nil {
		t.Fatalf("TLSConnectionState: %v", err)
	}
	if !st.HandshakeComplete || len(st.VerifiedChains) == 0 {
		t.Fatalf("TLS handshake complete %v, verified chains %d", st.HandshakeComplete, len(st.VerifiedChains))
	}
}

// isUnknownAuthority tells whether err is the client not trusting the server's certificate.
func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua) || (err != nil && strings.Contains(err.Error(), "unknown authority"))
}

func TestTLSServerCert(t *testing.T) {
	t.Parallel()
	p := proctest.NewPKI(t)
	s := startServer(t, serverTLS(t, p, false))
	addr := hostPort(t, s)

	cases := []connCase{
		{"tls URL and CA", natsconn.Config{URL: "tls://" + addr, TLSCA: p.CA}, true},
		{"nats URL and CA", natsconn.Config{URL: "nats://" + addr, TLSCA: p.CA}, true},
		{"tls URL without CA", natsconn.Config{URL: "tls://" + addr}, false},
		{"nats URL without CA", natsconn.Config{URL: "nats://" + addr}, false},
		{"another CA", natsconn.Config{URL: "tls://" + addr, TLSCA: p.OtherCA}, false},
	}
	runConnCases(t, cases, func(t *testing.T, r refusal) {
		if !isUnknownAuthority(r.err) {
			t.Errorf("refusal reported as %v, want an unknown authority", r.err)
		}
	})
	t.Run("encrypted", func(t *testing.T) {
		mustTLS(t, mustConnect(t, natsconn.Config{URL: "tls://" + addr, TLSCA: p.CA}))
	})
}

// The client checks that the certificate names the host it dialled, not only that the CA
// signed it.
func TestTLSServerCertWrongHost(t *testing.T) {
	t.Parallel()
	p := proctest.NewPKI(t)
	s := startServer(t, serverTLS(t, p.ServerCertFor(t, "nats.example.invalid", "10.9.8.7"), false))

	runConnCases(t, []connCase{
		{"certificate for another host", natsconn.Config{URL: "tls://" + hostPort(t, s), TLSCA: p.CA}, false},
	}, func(t *testing.T, r refusal) {
		var he x509.HostnameError
		if !errors.As(r.err, &he) && !strings.Contains(errString(r.err), "127.0.0.1") {
			t.Errorf("refusal reported as %v, want a host name mismatch", r.err)
		}
	})
}

// Asking for TLS (a CA, or a tls:// URL) never falls back to plain text with a server that
// has no TLS.
func TestTLSNoDowngrade(t *testing.T) {
	t.Parallel()
	p := proctest.NewPKI(t)
	s := startServer(t, &server.Options{})
	addr := hostPort(t, s)
	runConnCases(t, []connCase{
		{"CA given", natsconn.Config{URL: "nats://" + addr, TLSCA: p.CA}, false},
		{"tls URL", natsconn.Config{URL: "tls://" + addr, TLSCA: p.CA}, false},
		{"client cert given", natsconn.Config{URL: "nats://" + addr, TLSCert: p.ClientCert, TLSKey: p.ClientKey}, false},
		{"plain text is fine without TLS settings", natsconn.Config{URL: "nats://" + addr}, true},
	}, func(t *testing.T, r refusal) {
		if !errors.Is(r.err, nats.ErrSecureConnWanted) {
			t.Errorf("refusal reported as %v, want %v", r.err, nats.ErrSecureConnWanted)
		}
	})
}

func TestTLSMutual(t *testing.T) {
	t.Parallel()
	p := proctest.NewPKI(t)
	s := startServer(t, serverTLS(t, p, true))
	addr := hostPort(t, s)

	runConnCases(t, []connCase{
		{"client cert", natsconn.Config{URL: "tls://" + addr, TLSCA: p.CA, TLSCert: p.ClientCert, TLSKey: p.ClientKey}, true},
		{"client cert, nats URL", natsconn.Config{URL: "nats://" + addr, TLSCA: p.CA, TLSCert: p.ClientCert, TLSKey: p.ClientKey}, true},
		{"no client cert", natsconn.Config{URL: "tls://" + addr, TLSCA: p.CA}, false},
		{"client cert of another CA", natsconn.Config{URL: "tls://" + addr, TLSCA: p.CA, TLSCert: p.RogueCert, TLSKey: p.RogueKey}, false},
		{"client cert but server not trusted", natsconn.Config{URL: "tls://" + addr, TLSCert: p.ClientCert, TLSKey: p.ClientKey}, false},
		{"server's own cert as client cert", natsconn.Config{URL: "tls://" + addr, TLSCA: p.CA, TLSCert: p.ServerCert, TLSKey: p.ServerKey}, false},
	}, nil)

	t.Run("server sees the client cert", func(t *testing.T) {
		nc := mustConnect(t, natsconn.Config{URL: "tls://" + addr, TLSCA: p.CA, TLSCert: p.ClientCert, TLSKey: p.ClientKey})
		mustTLS(t, nc)
		id := clientID(t, nc)
		cz, err := s.Connz(&server.ConnzOptions{CID: id, State: server.ConnOpen, Username: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(cz.Conns) != 1 {
			t.Fatalf("connz for cid %d: %d connections", id, len(cz.Conns))
		}
		if got := cz.Conns[0].TLSPeerCerts; len(got) == 0 || got[0].Subject != "CN=openqq service" {
			t.Fatalf("server saw peer certs %+v, want CN=openqq service", got)
		}
	})
}

// A client certificate needs its key: Auth and Connect refuse half a pair before dialling.
func TestTLSCertWithoutKey(t *testing.T) {
	t.Parallel()
	p := proctest.NewPKI(t)
	for _, cfg := range []natsconn.Config{
		{URL: "tls://127.0.0.1:1", TLSCA: p.CA, TLSCert: p.ClientCert},
		{URL: "tls://127.0.0.1:1", TLSCA: p.CA, TLSKey: p.ClientKey},
		{URL: "tls://127.0.0.1:1", TLSCert: p.ClientCert},
	} {
		opts, err := cfg.Auth()
		if err == nil || opts != nil {
			t.Errorf("Auth(cert %q, key %q) = %d options, %v; want an error", cfg.TLSCert, cfg.TLSKey, len(opts), err)
		}
		nc, _, err := dial(t, cfg)
		if err == nil || nc != nil {
			t.Errorf("Connect(cert %q, key %q) = %v, %v; want an error", cfg.TLSCert, cfg.TLSKey, nc, err)
		} else if !strings.Contains(err.Error(), "NATS_TLS_CERT and NATS_TLS_KEY") {
			t.Errorf("Connect error %q does not name NATS_TLS_CERT and NATS_TLS_KEY", err)
		}
	}
}

// A key that does not belong to the certificate, or files that are not there, fail at
// Connect rather than leaving a connection that can never come up.
func TestTLSBadFilesFailAtConnect(t *testing.T) {
	t.Parallel()
	p := proctest.NewPKI(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  natsconn.Config
	}{
		{"key of another cert", natsconn.Config{URL: "tls://127.0.0.1:1", TLSCA: p.CA, TLSCert: p.ClientCert, TLSKey: p.RogueKey}},
		{"missing cert", natsconn.Config{URL: "tls://127.0.0.1:1", TLSCA: p.CA, TLSCert: dir + "/c.pem", TLSKey: p.ClientKey}},
		{"missing CA", natsconn.Config{URL: "tls://127.0.0.1:1", TLSCA: dir + "/ca.pem"}},
		{"CA is not PEM", natsconn.Config{URL: "tls://127.0.0.1:1", TLSCA: p.ClientKey + ".nope"}},
		{"key given as CA", natsconn.Config{URL: "tls://127.0.0.1:1", TLSCA: p.ClientKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, _, err := dial(t, tc.cfg)
			if err == nil {
				t.Fatalf("Connect succeeded (status %v), want an error", nc.Status())
			}
			t.Logf("Connect: %v", err)
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
