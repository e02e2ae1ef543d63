package natsconn_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/openqq/openqq/pkg/infra/natsconn"
)

// Decentralised auth: a server that trusts one operator and knows its account through a memory
// resolver, and .creds files (a user JWT and its NKey seed) as NATS_CREDS.

// operator is an operator's key pair and its claims, as the server trusts them.
type operator struct {
	kp     nkeys.KeyPair
	claims *jwt.OperatorClaims
}

func newOperator(t testing.TB, name string) operator {
	t.Helper()
	kp, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	oc := jwt.NewOperatorClaims(pub)
	oc.Name = name
	token, err := oc.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	// The server takes the claims as decoded from the signed JWT, as it would from a file.
	claims, err := jwt.DecodeOperatorClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	return operator{kp: kp, claims: claims}
}

// account is an account's key, its public key and its JWT signed by an operator.
type account struct {
	kp  nkeys.KeyPair
	pub string
	jwt string
}

func (o operator) newAccount(t testing.TB, name string) account {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ac := jwt.NewAccountClaims(pub)
	ac.Name = name
	token, err := ac.Encode(o.kp)
	if err != nil {
		t.Fatal(err)
	}
	return account{kp: kp, pub: pub, jwt: token}
}

// user is a user's JWT signed by signer and the user's seed.
type user struct {
	jwt  string
	seed []byte
}

func newUser(t testing.TB, name string, signer nkeys.KeyPair, expires time.Time) user {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	if !expires.IsZero() {
		uc.Expires = expires.Unix()
	}
	token, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	return user{jwt: token, seed: seed}
}

// writeCreds writes a .creds file with jwt and seed, as `nsc generate creds` does.
func writeCreds(t testing.TB, name, userJWT string, seed []byte) string {
	t.Helper()
	b, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".creds")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeMismatchedCreds writes a .creds file with u's JWT but the seed of thief, as someone who
// copied a JWT but not its key would (FormatUserConfig refuses to format that).
func writeMismatchedCreds(t testing.TB, u, thief user) string {
	t.Helper()
	path := writeCreds(t, "mismatched", u.jwt, u.seed)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), string(u.seed), string(thief.seed), 1))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startOperatorServer starts a server in operator mode that trusts op and resolves accts from
// memory.
func startOperatorServer(t testing.TB, op operator, accts ...account) *server.Server {
	t.Helper()
	resolver := &server.MemAccResolver{}
	for _, a := range accts {
		if err := resolver.Store(a.pub, a.jwt); err != nil {
			t.Fatal(err)
		}
	}
	return startServer(t, &server.Options{
		TrustedOperators: []*jwt.OperatorClaims{op.claims},
		AccountResolver:  resolver,
	})
}

func TestCredsFile(t *testing.T) {
	t.Parallel()
	op := newOperator(t, "openqq")
	acct := op.newAccount(t, "OPENQQ")
	good := newUser(t, "session", acct.kp, time.Time{})
	other := newUser(t, "gateway", acct.kp, time.Time{})

	// An account of an operator the server does not trust, with its own user. The resolver
	// even holds its JWT: the server must still refuse it, as no trusted operator signed it.
	rogueOp := newOperator(t, "rogue")
	rogueAcct := rogueOp.newAccount(t, "ROGUE")
	rogue := newUser(t, "intruder", rogueAcct.kp, time.Time{})

	// An account that the trusted operator signed but that the resolver does not know.
	unknownAcct := op.newAccount(t, "UNKNOWN")
	unknown := newUser(t, "nobody", unknownAcct.kp, time.Time{})

	// A user JWT that its account signed but that expired.
	expired := newUser(t, "expired", acct.kp, time.Now().Add(-time.Minute))

	s := startOperatorServer(t, op, acct, rogueAcct)
	url := "nats://" + hostPort(t, s)

	runConnCases(t, []connCase{
		{"trusted account's user", natsconn.Config{URL: url, Creds: writeCreds(t, "good", good.jwt, good.seed)}, true},
		{"second user of the account", natsconn.Config{URL: url, Creds: writeCreds(t, "other", other.jwt, other.seed)}, true},
		{"untrusted operator's account", natsconn.Config{URL: url, Creds: writeCreds(t, "rogue", rogue.jwt, rogue.seed)}, false},
		{"account unknown to the resolver", natsconn.Config{URL: url, Creds: writeCreds(t, "unknown", unknown.jwt, unknown.seed)}, false},
		{"seed of another user", natsconn.Config{URL: url, Creds: writeMismatchedCreds(t, good, other)}, false},
		{"expired user", natsconn.Config{URL: url, Creds: writeCreds(t, "expired", expired.jwt, expired.seed)}, false},
		{"no creds", natsconn.Config{URL: url}, false},
		{"user and password instead", natsconn.Config{URL: url, User: "session", Password: "x"}, false},
	}, func(t *testing.T, r refusal) {
		if !isAuthErr(r.err) && !errors.Is(r.err, nats.ErrAuthExpired) {
			t.Errorf("refusal reported as %v, want an authorization error", r.err)
		}
		if strings.Contains(r.log.String(), string(good.seed)) {
			t.Errorf("the log shows a seed:\n%s", r.log)
		}
	})
}

// A creds file that is not there, or holds no JWT, fails at Connect: nothing would ever fix it
// by retrying.
func TestCredsFileUnusable(t *testing.T) {
	t.Parallel()
	op := newOperator(t, "openqq")
	acct := op.newAccount(t, "OPENQQ")
	s := startOperatorServer(t, op, acct)
	url := "nats://" + hostPort(t, s)

	garbage := filepath.Join(t.TempDir(), "garbage.creds")
	if err := os.WriteFile(garbage, []byte("not a creds file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
	}{
		{"missing", filepath.Join(t.TempDir(), "missing.creds")},
		{"garbage", garbage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, _, err := dial(t, natsconn.Config{URL: url, Creds: tc.path})
			if err == nil {
				// Then it must at least never come up.
				if waitConnected(nc, refuseWait) {
					t.Fatal("connected with an unusable creds file")
				}
				t.Logf("Connect returned no error for a %s creds file (last error %v)", tc.name, nc.LastError())
			}
		})
	}
}
