package natsconn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/openqq/openqq/pkg/infra/natsconn"
)

// User/password and token authentication against servers that require them.

const (
	testUser     = "openqq"
	testPassword = "pw-s3cret-9f2c"
	testToken    = "tok-s3cret-77ab"
)

func TestAuthUserPassword(t *testing.T) {
	t.Parallel()
	s := startServer(t, &server.Options{Username: testUser, Password: testPassword})
	addr := hostPort(t, s)

	runConnCases(t, []connCase{
		{"right credentials", natsconn.Config{URL: "nats://" + addr, User: testUser, Password: testPassword}, true},
		{"credentials in NATS_URL", natsconn.Config{URL: "nats://" + testUser + ":" + testPassword + "@" + addr}, true},
		{"wrong password", natsconn.Config{URL: "nats://" + addr, User: testUser, Password: "wrong"}, false},
		{"wrong user", natsconn.Config{URL: "nats://" + addr, User: "mallory", Password: testPassword}, false},
		{"password without user", natsconn.Config{URL: "nats://" + addr, Password: testPassword}, false},
		{"no credentials", natsconn.Config{URL: "nats://" + addr}, false},
		{"token instead", natsconn.Config{URL: "nats://" + addr, Token: testPassword}, false},
		{"wrong password in NATS_URL", natsconn.Config{URL: "nats://" + testUser + ":wrong@" + addr}, false},
	}, func(t *testing.T, r refusal) {
		if !isAuthErr(r.err) {
			t.Errorf("refusal reported as %v, want an authorization error", r.err)
		}
		if strings.Contains(r.log.String(), testPassword) {
			t.Errorf("the log shows the password:\n%s", r.log)
		}
	})
}

func TestAuthToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, &server.Options{Authorization: testToken})
	addr := hostPort(t, s)

	runConnCases(t, []connCase{
		{"right token", natsconn.Config{URL: "nats://" + addr, Token: testToken}, true},
		{"token in NATS_URL", natsconn.Config{URL: "nats://" + testToken + "@" + addr}, true},
		{"wrong token", natsconn.Config{URL: "nats://" + addr, Token: "tok-wrong"}, false},
		{"no token", natsconn.Config{URL: "nats://" + addr}, false},
		{"user and password instead", natsconn.Config{URL: "nats://" + addr, User: testUser, Password: testToken}, false},
	}, func(t *testing.T, r refusal) {
		if !isAuthErr(r.err) {
			t.Errorf("refusal reported as %v, want an authorization error", r.err)
		}
	})
}

// The credentials in NATS_URL never show in the log of a working connection: not when it
// connects, nor when it loses the server and reconnects.
func TestAuthCredentialsInURLNotLogged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     *server.Options
		userinfo string
		secret   string
	}{
		{"user and password", &server.Options{Username: testUser, Password: testPassword}, testUser + ":" + testPassword, testPassword},
		{"token", &server.Options{Authorization: testToken}, testToken, testToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, tc.opts)
			nc, lb, err := dial(t, natsconn.Config{URL: "nats://" + tc.userinfo + "@" + hostPort(t, s)})
			if err != nil {
				t.Fatal(err)
			}
			if !waitConnected(nc, connectWait) {
				t.Fatalf("not connected: %v", nc.LastError())
			}
			// Drop the connection under it so that the disconnect and reconnect handlers log too.
			s.DisconnectClientByID(clientID(t, nc))
			deadline := time.Now().Add(connectWait)
			for !strings.Contains(lb.String(), "nats reconnected") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			log := lb.String()
			for _, want := range []string{"nats connected", "nats reconnected"} {
				if !strings.Contains(log, want) {
					t.Errorf("log has no %q line:\n%s", want, log)
				}
			}
			if strings.Contains(log, tc.secret) {
				t.Errorf("the log shows the secret:\n%s", log)
			}
		})
	}
}

func clientID(t testing.TB, nc interface{ GetClientID() (uint64, error) }) uint64 {
	t.Helper()
	id, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Connect's errors name the URL; they never show the password given in it.
func TestAuthConnectErrorRedactsPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  natsconn.Config
	}{
		{"missing creds file", natsconn.Config{URL: "nats://u:" + testPassword + "@127.0.0.1:1", Creds: dir + "/missing.creds"}},
		{"missing CA file", natsconn.Config{URL: "nats://u:" + testPassword + "@127.0.0.1:1", TLSCA: dir + "/missing-ca.pem"}},
		{"missing client cert", natsconn.Config{URL: "nats://u:" + testPassword + "@127.0.0.1:1", TLSCert: dir + "/c.pem", TLSKey: dir + "/k.pem"}},
		{"cert without key", natsconn.Config{URL: "nats://u:" + testPassword + "@127.0.0.1:1", TLSCert: dir + "/c.pem"}},
		{"cluster list", natsconn.Config{URL: "nats://u:" + testPassword + "@127.0.0.1:1, nats://v:" + testPassword + "@127.0.0.1:2", Creds: dir + "/missing.creds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nc, _, err := dial(t, tt.cfg)
			if err == nil {
				t.Fatalf("Connect succeeded (status %v), want an error", nc.Status())
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// A NATS_URL that does not parse is reported without the password it holds.
func TestAuthConnectErrorRedactsPasswordInBadURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"nats://u:" + testPassword + "@127.0.0.1:notaport",
		"nats://u:" + testPassword + "@127.0.0.1:4%zz",
		"nats://127.0.0.1:1,nats://u:" + testPassword + "@127.0.0.1:notaport",
	} {
		nc, _, err := dial(t, natsconn.Config{URL: url})
		if err == nil {
			t.Errorf("%s: Connect succeeded (status %v), want an error", url, nc.Status())
			continue
		}
		if strings.Contains(err.Error(), testPassword) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// Wrong credentials are reported at once (natsconn.Connect's doc comment): either Connect
// fails with the server's authorization error, or the log says that NATS refused them.
func TestAuthWrongCredentialsReported(t *testing.T) {
	t.Parallel()
	s := startServer(t, &server.Options{Username: testUser, Password: testPassword})
	nc, lb, err := dial(t, natsconn.Config{URL: "nats://" + hostPort(t, s), User: testUser, Password: "wrong"})
	if err != nil {
		if !isAuthErr(err) {
			t.Fatalf("Connect: %v, want an authorization error", err)
		}
		return
	}
	deadline := time.Now().Add(refuseWait + time.Second)
	for !strings.Contains(lb.String(), "refused our credentials") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(lb.String(), "refused our credentials") {
		t.Errorf("Connect returned no error and nothing was logged within %v (status %v, last error %v); log:\n%s",
			refuseWait+time.Second, nc.Status(), nc.LastError(), lb)
	}
}
