package proctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// PKI is a throw-away CA, the one test CA of openqq, with a server certificate for 127.0.0.1 and a client certificate,
// written as PEM files into a temporary directory.
type PKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// OtherCA is a second CA that signed nothing the server trusts.
	OtherCA string
	// RogueCert and RogueKey are a client certificate signed by OtherCA.
	RogueCert, RogueKey string

	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// NewPKI writes a new PKI into a temporary directory of the test.
func NewPKI(t testing.TB) PKI {
	t.Helper()
	dir := t.TempDir()
	caCert, caKey := makeCA(t, "openqq test CA")
	otherCert, otherKey := makeCA(t, "someone else's CA")
	p := PKI{
		CA:         writePEM(t, dir, "ca.pem", "CERTIFICATE", caCert.Raw),
		OtherCA:    writePEM(t, dir, "other-ca.pem", "CERTIFICATE", otherCert.Raw),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
		RogueCert:  filepath.Join(dir, "rogue.pem"),
		RogueKey:   filepath.Join(dir, "rogue-key.pem"),
		dir:        dir,
		caCert:     caCert,
		caKey:      caKey,
	}
	makeLeaf(t, caCert, caKey, "nats server", []string{"127.0.0.1", "localhost"}, p.ServerCert, p.ServerKey)
	makeLeaf(t, caCert, caKey, "openqq service", nil, p.ClientCert, p.ClientKey)
	makeLeaf(t, otherCert, otherKey, "rogue service", nil, p.RogueCert, p.RogueKey)
	return p
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(time.Now().UnixNano() + serial.n)
}

func makeCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// ServerCertFor returns p with a server certificate, signed by p's CA, for hosts only.
func (p PKI) ServerCertFor(t testing.TB, hosts ...string) PKI {
	t.Helper()
	p.ServerCert = filepath.Join(p.dir, "server-"+hosts[0]+".pem")
	p.ServerKey = filepath.Join(p.dir, "server-"+hosts[0]+"-key.pem")
	makeLeaf(t, p.caCert, p.caKey, "nats server "+hosts[0], hosts, p.ServerCert, p.ServerKey)
	return p
}

// makeLeaf writes a certificate that ca signed: a server's for hosts (IP addresses or DNS
// names), or a client's if there are none.
func makeLeaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, hosts []string, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(hosts) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Dir(certPath), filepath.Base(certPath), "CERTIFICATE", der)
	writePEM(t, filepath.Dir(keyPath), filepath.Base(keyPath), "EC PRIVATE KEY", keyDER)
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
