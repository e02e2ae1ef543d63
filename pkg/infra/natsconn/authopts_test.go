package natsconn_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// What Config.Auth asks of the client for each combination of settings, read off the
// nats.Options that its options produce.

// authOut is the part of nats.Options that Auth may set.
type authOut struct {
	n              int // number of options
	user, password string
	token          string
	creds          bool // a user JWT and a signature callback (UserCredentials)
	rootCAs        bool // a CA to verify the server with
	clientCert     bool // a client certificate
	secure         bool // TLS required
}

func applyAuth(t *testing.T, cfg natsconn.Config) (authOut, error) {
	t.Helper()
	opts, err := cfg.Auth()
	if err != nil {
		if opts != nil {
			t.Errorf("Auth returned %d options with the error %v", len(opts), err)
		}
		return authOut{}, err
	}
	o := nats.GetDefaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			t.Fatalf("applying Auth's option: %v", err)
		}
	}
	return authOut{
		n:    len(opts),
		user: o.User, password: o.Password, token: o.Token,
		creds:      o.UserJWT != nil && o.SignatureCB != nil,
		rootCAs:    o.RootCAsCB != nil,
		clientCert: o.TLSCertCB != nil,
		secure:     o.Secure,
	}, nil
}

func TestAuthOptions(t *testing.T) {
	p := proctest.NewPKI(t)
	acct := newOperator(t, "openqq").newAccount(t, "OPENQQ")
	u := newUser(t, "session", acct.kp, time.Time{})
	creds := writeCreds(t, "session", u.jwt, u.seed)

	tests := []struct {
		name    string
		cfg     natsconn.Config
		want    authOut
		wantErr bool
	}{
		{"nothing", natsconn.Config{}, authOut{}, false},
		{"URL only", natsconn.Config{URL: "nats://u:p@127.0.0.1:1"}, authOut{}, false},
		{"tls URL only", natsconn.Config{URL: "tls://127.0.0.1:1"}, authOut{}, false},
		{"user and password", natsconn.Config{User: "u", Password: "p"}, authOut{n: 1, user: "u", password: "p"}, false},
		{"user only", natsconn.Config{User: "u"}, authOut{n: 1, user: "u"}, false},
		{"password only", natsconn.Config{Password: "p"}, authOut{n: 1, password: "p"}, false},
		{"token", natsconn.Config{Token: "t"}, authOut{n: 1, token: "t"}, false},
		{"creds", natsconn.Config{Creds: creds}, authOut{n: 1, creds: true}, false},
		{"CA", natsconn.Config{TLSCA: p.CA}, authOut{n: 2, rootCAs: true, secure: true}, false},
		{"client cert", natsconn.Config{TLSCert: p.ClientCert, TLSKey: p.ClientKey}, authOut{n: 2, clientCert: true, secure: true}, false},
		{"CA and client cert", natsconn.Config{TLSCA: p.CA, TLSCert: p.ClientCert, TLSKey: p.ClientKey},
			authOut{n: 3, rootCAs: true, clientCert: true, secure: true}, false},
		{"cert without key", natsconn.Config{TLSCert: p.ClientCert}, authOut{}, true},
		{"key without cert", natsconn.Config{TLSKey: p.ClientKey}, authOut{}, true},
		{"CA, cert without key", natsconn.Config{TLSCA: p.CA, TLSCert: p.ClientCert}, authOut{}, true},
		{"user and password over TLS", natsconn.Config{User: "u", Password: "p", TLSCA: p.CA},
			authOut{n: 3, user: "u", password: "p", rootCAs: true, secure: true}, false},
		{"creds over mutual TLS", natsconn.Config{Creds: creds, TLSCA: p.CA, TLSCert: p.ClientCert, TLSKey: p.ClientKey},
			authOut{n: 4, creds: true, rootCAs: true, clientCert: true, secure: true}, false},
		{"everything", natsconn.Config{User: "u", Password: "p", Token: "t", Creds: creds, TLSCA: p.CA, TLSCert: p.ClientCert, TLSKey: p.ClientKey},
			authOut{n: 6, user: "u", password: "p", token: "t", creds: true, rootCAs: true, clientCert: true, secure: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := applyAuth(t, tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Auth error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Auth gives %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Auth is only what cfg asks for beyond the URL: Connect adds the reconnect behaviour, and
// Options never carries credentials.
func TestAuthOptionsNotInOptions(t *testing.T) {
	o := nats.GetDefaultOptions()
	for _, opt := range natsconn.Options("x", nil) {
		if err := opt(&o); err != nil {
			t.Fatal(err)
		}
	}
	if o.User != "" || o.Password != "" || o.Token != "" || o.UserJWT != nil || o.Secure {
		t.Errorf("Options sets credentials or TLS: user %q token %q jwt %v secure %v", o.User, o.Token, o.UserJWT != nil, o.Secure)
	}
	if !o.RetryOnFailedConnect || o.MaxReconnect != -1 {
		t.Errorf("Options: RetryOnFailedConnect %v, MaxReconnect %d; want true, -1", o.RetryOnFailedConnect, o.MaxReconnect)
	}
}
