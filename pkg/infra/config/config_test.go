package config_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/config/configtest"
)

type inner struct {
	Delay time.Duration `envconfig:"DELAY" default:"2s"`
	Name  string        `envconfig:"NAME"`
}

type spec struct {
	Interval time.Duration `envconfig:"POLL_INTERVAL" default:"5s"`
	Count    int           `envconfig:"COUNT" default:"16"`
	Big      int64         `envconfig:"BIG" default:"1073741824"`
	Neg      int64         `envconfig:"NEG" default:"-1"`
	Lag      time.Duration `envconfig:"MAX_LAG" default:"10m" zero:"off"`
	On       bool          `envconfig:"ON" default:"true"`
	List     []string      `envconfig:"LIST" default:"a,b"`
	Token    string        `envconfig:"ACCESS_TOKEN"`
	URL      string        `envconfig:"POST_API"`
	Sub      inner         `envconfig:"SUB"`
	Skipped  int           `ignored:"true" default:"7"`
	Embedded
}

type Embedded struct {
	Hold time.Duration `envconfig:"HOLD" default:"30s"`
}

func TestDefaultsMatchTheEnvironment(t *testing.T) {
	var code spec
	config.Defaults(&code)
	var env spec
	configtest.FromEmptyEnv(t, "", &env)
	configtest.Equal(t, code, env, "ON")
	if code.Interval != 5*time.Second || code.Sub.Delay != 2*time.Second || code.Hold != 30*time.Second ||
		code.Count != 16 || code.Big != 1<<30 || code.Neg != -1 || strings.Join(code.List, ",") != "a,b" {
		t.Errorf("Defaults: %+v", code)
	}
	if code.On || code.Skipped != 0 {
		t.Errorf("Defaults set a boolean or an ignored field: %+v", code)
	}
	if !env.On {
		t.Errorf("from the environment, ON should be its default true")
	}
}

func TestDefaultsKeepsSetFields(t *testing.T) {
	c := spec{Interval: time.Second, Count: 3, List: []string{"x"}}
	config.Defaults(&c)
	if c.Interval != time.Second || c.Count != 3 || len(c.List) != 1 {
		t.Errorf("Defaults changed a set field: %+v", c)
	}
}

// A zero:"off" setting set to 0 in the environment is off (-1), which Defaults keeps; unset,
// it takes its default; any other value is itself.
func TestProcessZeroOff(t *testing.T) {
	for _, tc := range []struct {
		raw  string // "" for unset
		want time.Duration
	}{
		{"", 10 * time.Minute},
		{"0", -1},
		{"0s", -1},
		{"-1s", -time.Second},
		{"30", 30 * time.Second},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			if tc.raw != "" {
				t.Setenv("MAX_LAG", tc.raw)
			}
			var c spec
			if err := config.Process("", &c); err != nil {
				t.Fatal(err)
			}
			config.Defaults(&c)
			if c.Lag != tc.want {
				t.Errorf("MAX_LAG=%q: %s, want %s", tc.raw, c.Lag, tc.want)
			}
		})
	}
}

func TestProcessReadsPlainSeconds(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want time.Duration
	}{
		{"5", 5 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"5s", 5 * time.Second},
		{"1m30s", 90 * time.Second},
		{" 7 ", 7 * time.Second},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			t.Setenv("POLL_INTERVAL", tc.raw)
			t.Setenv("SUB_DELAY", tc.raw)
			var c spec
			if err := config.Process("", &c); err != nil {
				t.Fatal(err)
			}
			if c.Interval != tc.want || c.Sub.Delay != tc.want {
				t.Errorf("POLL_INTERVAL=%q: %s, SUB_DELAY: %s, want %s", tc.raw, c.Interval, c.Sub.Delay, tc.want)
			}
		})
	}
	t.Run("the unprefixed name too", func(t *testing.T) {
		t.Setenv("DELAY", "3")
		var c spec
		if err := config.Process("", &c); err != nil {
			t.Fatal(err)
		}
		if c.Sub.Delay != 3*time.Second {
			t.Errorf("DELAY=3: %s", c.Sub.Delay)
		}
	})
	t.Run("not a duration", func(t *testing.T) {
		t.Setenv("POLL_INTERVAL", "soon")
		var c spec
		if err := config.Process("", &c); err == nil {
			t.Errorf("POLL_INTERVAL=soon accepted: %s", c.Interval)
		}
	})
	t.Run("a number elsewhere stays a number", func(t *testing.T) {
		t.Setenv("COUNT", "5")
		var c spec
		if err := config.Process("", &c); err != nil || c.Count != 5 {
			t.Errorf("COUNT=5: %d, %v", c.Count, err)
		}
	})
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "5s": 5 * time.Second, "250ms": 250 * time.Millisecond, "0": 0} {
		if got, err := config.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := config.ParseDuration("5 s"); err == nil {
		t.Errorf("ParseDuration(%q) accepted", "5 s")
	}
}

func TestMask(t *testing.T) {
	for _, tc := range []struct{ key, in, want string }{
		{"ACCESS_TOKEN", "t0k3n", "***"},
		{"ACCESS_TOKEN", "", ""},
		{"NATS_PASSWORD", "s3cr3t", "***"},
		{"POST_SECRET", "s3cr3t", "***"},
		{"HTTP_ADDR", "0.0.0.0:5000", "0.0.0.0:5000"},
		{"POST_API", "http://host/post_api", "http://host/post_api"},
		{"POST_API", "http://alice:s3cr3t@host:8080/p", "http://***@host:8080/p"},
		{"POST_API", "https://host/p?access_token=t0k3n&x=1", "https://host/p?access_token=***&x=***"},
		{"NATS_URL", "nats://t0k3n@a:4222, nats://b:4222", "nats://***@a:4222,nats://b:4222"},
		{"POLL_API", "http://[::1", "(unparsable URL)"},
		{"ONEBOT_URL", "ws://host/?access_token=t0k3n#s3cr3t", "ws://host/?access_token=***"},
	} {
		got := config.Mask(tc.key, tc.in)
		if got != tc.want {
			t.Errorf("Mask(%s, %q) = %q, want %q", tc.key, tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3cr3t") || strings.Contains(got, "t0k3n") {
			t.Errorf("Mask(%s, %q) = %q leaks a secret", tc.key, tc.in, got)
		}
	}
}

// An HTTP or WebSocket client's error quotes the URL it asked for in full; MaskURLError hides
// its secrets, whether the error is a *url.Error, wraps one for another scheme, or only quotes
// the URL, and keeps a bare *url.Error's cause.
func TestMaskURLError(t *testing.T) {
	const raw = "ws://u:s3cr3t@host:6700/?access_token=t0k3n"
	httpForm := "http://u:s3cr3t@host:6700/?access_token=t0k3n"
	bare := &url.Error{Op: "Get", URL: raw, Err: context.DeadlineExceeded}
	for _, tc := range []struct {
		name string
		err  error
		want string // a part of the masked text
	}{
		{"bare", bare, `Get "ws://***@host:6700/?access_token=***": context deadline exceeded`},
		{"wrapped, other scheme", fmt.Errorf("failed to WebSocket dial: %w", &url.Error{Op: "Get", URL: httpForm, Err: errors.New("refused")}),
			`failed to WebSocket dial: Get "ws://***@host:6700/?access_token=***": refused`},
		{"quoted", fmt.Errorf("dial %s: refused", raw), "dial ws://***@host:6700/?access_token=***: refused"},
	} {
		got := config.MaskURLError(tc.err, raw)
		if strings.Contains(got.Error(), "s3cr3t") || strings.Contains(got.Error(), "t0k3n") {
			t.Errorf("%s: %q leaks a secret", tc.name, got)
		}
		if !strings.Contains(got.Error(), tc.want) {
			t.Errorf("%s: %q, want it to say %q", tc.name, got, tc.want)
		}
	}
	if got := config.MaskURLError(bare, raw); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("a bare *url.Error lost its cause: %v", got)
	}
	plain := errors.New("HTTP 500")
	if got := config.MaskURLError(plain, raw); got != plain {
		t.Errorf("an error without the URL changed: %v", got)
	}
	if config.MaskURLError(nil, raw) != nil {
		t.Error("nil is not nil")
	}
}

func TestLogMasksSecrets(t *testing.T) {
	var b strings.Builder
	log := slog.New(slog.NewTextHandler(&b, nil))
	c := spec{Token: "t0k3n", URL: "http://u:s3cr3t@h/p?token=t0k3n"}
	config.Defaults(&c)
	config.Log(log, "test", &c)
	out := b.String()
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one line, got %q", out)
	}
	for _, want := range []string{"config.POLL_INTERVAL=5s", "config.ACCESS_TOKEN=***", "config.SUB_DELAY=2s", "config.LIST=a,b", "config.HOLD=30s"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "t0k3n") {
		t.Errorf("log leaks a secret: %s", out)
	}
}

func TestApply(t *testing.T) {
	type inner struct {
		URL   string        `envconfig:"URL"`
		Token string        `envconfig:"ACCESS_TOKEN"`
		Wait  time.Duration `envconfig:"WAIT" default:"3s"`
		Lag   time.Duration `envconfig:"LAG" zero:"off"`
		On    bool          `envconfig:"ON" default:"true"`
		List  []string      `envconfig:"LIST"`
		Keep  string        `envconfig:"KEEP"`
	}
	tests := []struct {
		name    string
		vars    map[string]string
		want    inner
		used    []string
		wantErr bool
	}{
		{"nothing", map[string]string{}, inner{Keep: "k"}, nil, false},
		{"every kind", map[string]string{"X_URL": "ws://h", "X_WAIT": "5", "X_LAG": "0", "X_ON": "false", "X_LIST": "a,b", "OTHER": "1"},
			inner{URL: "ws://h", Wait: 5 * time.Second, Lag: -1, List: []string{"a", "b"}, Keep: "k"},
			[]string{"X_URL", "X_WAIT", "X_LAG", "X_ON", "X_LIST"}, false},
		{"unprefixed names are not the spec's", map[string]string{"URL": "ws://h"}, inner{Keep: "k"}, nil, false},
		{"bad duration", map[string]string{"X_WAIT": "soon"}, inner{Keep: "k"}, []string{"X_WAIT"}, true},
		{"bad bool", map[string]string{"X_ON": "maybe"}, inner{Keep: "k"}, []string{"X_ON"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inner{Keep: "k"}
			used, err := config.Apply("X", &got, tt.vars)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(used, tt.used) {
				t.Errorf("used = %q, want %q", used, tt.used)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("secret masked in the error", func(t *testing.T) {
		var c struct {
			N int `envconfig:"TOKEN"`
		}
		_, err := config.Apply("", &c, map[string]string{"TOKEN": "hunter2"})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err = %v", err)
		}
	})
}
