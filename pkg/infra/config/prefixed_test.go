package config_test

import (
	"slices"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/infra/config"
)

type prefixedSpec struct {
	Account  string        `envconfig:"ACCOUNT" default:"default"`
	PostAPI  []string      `envconfig:"POST_API"`
	Enabled  bool          `envconfig:"ENABLED" default:"true"`
	Timeout  time.Duration `envconfig:"TIMEOUT" default:"10s"`
	MaxLag   time.Duration `envconfig:"MAX_LAG" default:"10m" zero:"off"`
	Platform string        `envconfig:"PLATFORM" default:"qq"`
	Inner    struct {
		MaxAge time.Duration `envconfig:"MAX_AGE" default:"1h"`
	} `envconfig:"STREAM"`
}

// A prefixed configuration reads its prefixed variables only: the first instance's unprefixed
// ones (what envconfig falls back to) leave it at its defaults, and omitted fields keep what the
// binary set.
func TestPrefixed(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want func(*prefixedSpec) bool
	}{
		{"unprefixed ignored", map[string]string{"ACCOUNT": "qq1", "POST_API": "http://qq/", "ENABLED": "false", "TIMEOUT": "3", "MAX_LAG": "0", "MAX_AGE": "5s"},
			func(s *prefixedSpec) bool {
				return s.Account == "default" && s.PostAPI == nil && s.Enabled && s.Timeout == 10*time.Second && s.MaxLag == 10*time.Minute && s.Inner.MaxAge == time.Hour
			}},
		{"prefixed read", map[string]string{"ACCOUNT": "qq1", "WX_ACCOUNT": "wx1", "WX_POST_API": "http://wx/", "WX_ENABLED": "false", "WX_TIMEOUT": "3", "WX_MAX_LAG": "0", "WX_STREAM_MAX_AGE": "5s"},
			func(s *prefixedSpec) bool {
				return s.Account == "wx1" && slices.Equal(s.PostAPI, []string{"http://wx/"}) && !s.Enabled && s.Timeout == 3*time.Second && s.MaxLag == -1 && s.Inner.MaxAge == 5*time.Second
			}},
		{"omitted kept", map[string]string{"WX_PLATFORM": "qq", "PLATFORM": "qq"},
			func(s *prefixedSpec) bool { return s.Platform == "wx" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			spec := prefixedSpec{Platform: "wx"}
			p := config.Prefixed{Prefix: "WX", Spec: &spec, Omit: []string{"PLATFORM"}}
			if err := p.Process(); err != nil {
				t.Fatal(err)
			}
			if !c.want(&spec) {
				t.Errorf("got %+v", spec)
			}
		})
	}
}

func TestPrefixedKeys(t *testing.T) {
	p := config.Prefixed{Prefix: "WX", Spec: &prefixedSpec{}, Omit: []string{"PLATFORM"}}
	want := []string{"WX_ACCOUNT", "WX_POST_API", "WX_ENABLED", "WX_TIMEOUT", "WX_MAX_LAG", "WX_STREAM_MAX_AGE"}
	if got := p.Keys(); !slices.Equal(got, want) {
		t.Errorf("Keys() = %v, want %v", got, want)
	}
	if err := (config.Prefixed{Prefix: "WX", Spec: prefixedSpec{}}).Process(); err == nil {
		t.Error("Process of a non-pointer: nil error")
	}
}
