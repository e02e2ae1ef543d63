package wechaty

import (
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/openqq/openqq/services/session/wxdriver"
)

// wechatyCA is Wechaty's community root CA: Wechaty's own clients trust it by default, and a
// puppet service started without a certificate of its own serves its "insecure" one, signed
// by it.
//
//go:embed wechaty-ca.pem
var wechatyCA []byte

// The values of WECHATY_TLS.
const (
	// TLSAuto: a token that starts with "insecure_" means no TLS, any other TLS.
	TLSAuto = "auto"
	// TLSOn: always TLS, as Wechaty's own clients (unless told NO_TLS_INSECURE_CLIENT).
	TLSOn = "on"
	// TLSOff: never TLS (a service started with tls.disable or NO_TLS_INSECURE_SERVER).
	TLSOff = "off"
)

// transport returns the connection's credentials and whether they are TLS. A TLS
// connection trusts the system's roots, Wechaty's root CA and WECHATY_CA_CERT's.
func transport(cfg Config) (credentials.TransportCredentials, bool, error) {
	var on bool
	switch strings.ToLower(cfg.TLS) {
	case "", TLSAuto:
		on = !strings.HasPrefix(cfg.Token, "insecure_")
	case TLSOn:
		on = true
	case TLSOff:
	default:
		return nil, false, fmt.Errorf("wechaty: WECHATY_TLS=%q: want auto, on or off: %w", cfg.TLS, wxdriver.ErrFatal)
	}
	if !on {
		return insecure.NewCredentials(), false, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(wechatyCA)
	if cfg.CACert != "" {
		b, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, false, fmt.Errorf("wechaty: WECHATY_CA_CERT: %w: %w", err, wxdriver.ErrFatal)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, false, fmt.Errorf("wechaty: WECHATY_CA_CERT %s: no PEM certificate in it: %w", cfg.CACert, wxdriver.ErrFatal)
		}
	}
	return credentials.NewTLS(&tls.Config{
		ServerName: serverName(cfg), MinVersion: tls.VersionTLS12,
		// Wechaty's certificates name their server in the Common Name only, which Go's own
		// check refuses (it wants SANs); verifyPeer checks the chain and the name instead.
		InsecureSkipVerify: true,
		VerifyConnection:   func(cs tls.ConnectionState) error { return verifyPeer(cs, pool) },
	}), true, nil
}

// verifyPeer checks the server's certificate as Wechaty's clients do: a chain to one of
// roots, for the server name (cs.ServerName, the SNI sent) in its SANs, or, when it has none,
// in its Common Name.
func verifyPeer(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("wechaty: the puppet service sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return fmt.Errorf("wechaty: the puppet service's certificate: %w", err)
	}
	if len(leaf.DNSNames) > 0 || len(leaf.IPAddresses) > 0 {
		return leaf.VerifyHostname(cs.ServerName)
	}
	if !strings.EqualFold(leaf.Subject.CommonName, cs.ServerName) {
		return fmt.Errorf("wechaty: the puppet service's certificate is for %q, not %q (WECHATY_SERVER_NAME, else the token's SNI)", leaf.Subject.CommonName, cs.ServerName)
	}
	return nil
}

// serverName is the TLS server name to expect: WECHATY_SERVER_NAME, else the token's SNI
// (what precedes its last "_", lower-cased, as Wechaty's clients read a token
// "<sni>_<uuid>"), else "" (the endpoint's host).
func serverName(cfg Config) string {
	if cfg.ServerName != "" {
		return cfg.ServerName
	}
	if i := strings.LastIndex(cfg.Token, "_"); i > 0 {
		return strings.ToLower(cfg.Token[:i])
	}
	return ""
}
