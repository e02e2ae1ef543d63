package driver

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// testConfig is the configuration of testDriver.
type testConfig struct {
	Greeting string        `envconfig:"GREETING" default:"hello"`
	Delay    time.Duration `envconfig:"DELAY"`
}

// testDriver only remembers how it was opened.
type testDriver struct {
	cfg testConfig
	p   Params
}

func (*testDriver) Run(ctx context.Context, _ Sink) error { <-ctx.Done(); return nil }
func (*testDriver) Send(context.Context, Outgoing) error  { return nil }
func (*testDriver) Mute(context.Context, int64, []int64, time.Duration) error {
	return nil
}
func (*testDriver) Kick(context.Context, int64, []int64) error { return nil }
func (*testDriver) Capabilities() Capabilities                 { return Capabilities{} }

func init() {
	Register("registrytest", "REGISTRYTEST", func(cfg testConfig, p Params) (Driver, error) {
		return &testDriver{cfg: cfg, p: p}, nil
	})
}

func TestOpen(t *testing.T) {
	t.Setenv("REGISTRYTEST_GREETING", "from the environment")
	cases := []struct {
		name string
		cfg  any
		want string
	}{
		{"config in code", testConfig{Greeting: "in code"}, "in code"},
		{"pointer to a config in code", &testConfig{Greeting: "by pointer"}, "by pointer"},
		{"nil pointer: zero config", (*testConfig)(nil), ""},
		{"no config: the environment under the prefix", nil, "from the environment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Open("registrytest", c.cfg, Params{Account: "acc", SendBurst: 3})
			if err != nil {
				t.Fatal(err)
			}
			td := d.(*testDriver)
			if td.cfg.Greeting != c.want || td.p.Account != "acc" || td.p.SendBurst != 3 || td.p.Log == nil {
				t.Errorf("opened with %+v %+v, want greeting %q and the params", td.cfg, td.p, c.want)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	if _, err := Open("no-such-driver", nil, Params{}); err == nil || !strings.Contains(err.Error(), "registrytest") {
		t.Errorf("unknown driver: %v, want an error that lists the registered ones", err)
	}
	if _, err := Open("registrytest", struct{ Greeting string }{}, Params{}); err == nil {
		t.Error("a configuration of another type was taken")
	}
	t.Setenv("REGISTRYTEST_DELAY", "soon")
	if _, err := Open("registrytest", nil, Params{}); err == nil {
		t.Error("a malformed variable was taken")
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	Register("registrytest", "X", func(testConfig, Params) (Driver, error) { return nil, nil })
}

func TestDriversAndEnvSpecs(t *testing.T) {
	if !slices.Contains(Drivers(), "registrytest") {
		t.Errorf("Drivers() = %v", Drivers())
	}
	var usage bytes.Buffer
	for _, s := range EnvSpecs() {
		if err := envconfig.Usagef("", s, &usage, "{{range .}}{{usage_key .}} {{usage_default .}}\n{{end}}"); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(usage.String(), "REGISTRYTEST_GREETING hello\n") || !strings.Contains(usage.String(), "REGISTRYTEST_DELAY") {
		t.Errorf("EnvSpecs usage:\n%s", usage.String())
	}
}
