package wechaty

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/session/wxdriver"
)

// The TLS name is WECHATY_SERVER_NAME, else the token's SNI as Wechaty's clients read it.
func TestServerName(t *testing.T) {
	for _, tc := range []struct{ name, token, want string }{
		{"", "insecure_openqq-tls", "insecure"},
		{"", "puppet_workpro_0f0e-11", "puppet_workpro"},
		{"", "Puppet_PadLocal_x", "puppet_padlocal"},
		{"", "no-underscore", ""},
		{"", "_leading", ""},
		{"gw.example.com", "insecure_x", "gw.example.com"},
	} {
		if got := serverName(Config{ServerName: tc.name, Token: tc.token}); got != tc.want {
			t.Errorf("serverName(%q, %q) = %q, want %q", tc.name, tc.token, got, tc.want)
		}
	}
}

// WECHATY_TLS decides TLS (auto: by the token); a bad value or CA file is fatal.
func TestTransport(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg    Config
		secure bool
		fatal  bool
	}{
		{Config{Token: "insecure_x"}, false, false},
		{Config{Token: "puppet_x_1"}, true, false},
		{Config{Token: "insecure_x", TLS: "ON"}, true, false},
		{Config{Token: "puppet_x_1", TLS: TLSOff}, false, false},
		{Config{Token: "x", TLS: "maybe"}, false, true},
		{Config{Token: "x", TLS: TLSOn, CACert: bad}, false, true},
		{Config{Token: "x", TLS: TLSOn, CACert: filepath.Join(t.TempDir(), "none.pem")}, false, true},
	} {
		_, secure, err := transport(tc.cfg)
		if tc.fatal {
			if !errors.Is(err, wxdriver.ErrFatal) {
				t.Errorf("transport(%+v): %v, want a fatal error", tc.cfg, err)
			}
			continue
		}
		if err != nil || secure != tc.secure {
			t.Errorf("transport(%+v): secure %v, %v; want %v", tc.cfg, secure, err, tc.secure)
		}
	}
}

// The peer check: a chain to a trusted root, for the name sent (SANs when the certificate
// has them).
func TestVerifyPeer(t *testing.T) {
	pki := proctest.NewPKI(t)
	b, err := os.ReadFile(pki.ServerCert)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(pki.CA)
	trusted := x509.NewCertPool()
	trusted.AppendCertsFromPEM(ca)
	wechatyOnly := x509.NewCertPool()
	wechatyOnly.AppendCertsFromPEM(wechatyCA)
	for _, tc := range []struct {
		what  string
		name  string
		roots *x509.CertPool
		ok    bool
	}{
		{"trusted, its name", "localhost", trusted, true},
		{"trusted, its IP", "127.0.0.1", trusted, true},
		{"trusted, another name", "insecure", trusted, false},
		{"not trusted", "localhost", wechatyOnly, false},
	} {
		err := verifyPeer(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}, ServerName: tc.name}, tc.roots)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.what, err)
		}
	}
	if err := verifyPeer(tls.ConnectionState{ServerName: "x"}, trusted); err == nil {
		t.Error("no certificate accepted")
	}
}
