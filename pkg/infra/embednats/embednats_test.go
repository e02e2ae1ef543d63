package embednats_test

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/embednats"
)

// With NATS_TOKEN or NATS_USER/NATS_PASSWORD the embedded server turns away clients without
// them; the in-process connections of the all-in-one carry them.
func TestAuth(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  embednats.Config
		good []nats.Option
		bad  []nats.Option
	}{
		{"token", embednats.Config{Token: "t0ken"}, []nats.Option{nats.Token("t0ken")}, []nats.Option{nats.Token("wrong")}},
		{"user", embednats.Config{User: "openqq", Password: "pw"}, []nats.Option{nats.UserInfo("openqq", "pw")},
			[]nats.Option{nats.UserInfo("openqq", "wrong")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Host, cfg.Port, cfg.StoreDir = "127.0.0.1", -1, t.TempDir()
			srv, err := embednats.Start(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
			for _, opts := range [][]nats.Option{nil, c.bad} {
				nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.NoReconnect())...)
				if err == nil {
					nc.Close()
					t.Fatal("connected without the credentials")
				}
				if !errors.Is(err, nats.ErrAuthorization) {
					t.Errorf("without the credentials: %v, want an authorization violation", err)
				}
			}
			nc, err := nats.Connect(srv.ClientURL(), c.good...)
			if err != nil {
				t.Fatalf("with the credentials: %v", err)
			}
			nc.Close()
			in, err := srv.Connect("in-process")
			if err != nil {
				t.Fatalf("in-process: %v", err)
			}
			if err := in.Flush(); err != nil {
				t.Errorf("in-process: %v", err)
			}
			in.Close()
		})
	}
	if _, err := embednats.Start(embednats.Config{Token: "t", User: "u", Password: "p", StoreDir: t.TempDir()}, nil); err == nil {
		t.Error("a token and a user at once were accepted")
	}
}
