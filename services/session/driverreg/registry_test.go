package driverreg

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
)

type cfgA struct {
	Name string `envconfig:"NAME" default:"a"`
}

type cfgB struct {
	Size int `envconfig:"SIZE" default:"7"`
}

// Two registries of different driver types keep separate namespaces on the same code: QQ's
// "sim" and WeChat's "sim" do not collide.
func TestRegistriesAreSeparate(t *testing.T) {
	qq := New[string]("qq")
	wx := New[int]("wx")
	Register(qq, "sim", "QQTEST", func(c cfgA, p Params) (string, error) { return c.Name + "/" + p.Account, nil })
	Register(wx, "sim", "WXTEST", func(c cfgB, _ Params) (int, error) { return c.Size, nil })

	if got, err := qq.Open("sim", cfgA{Name: "x"}, Params{Account: "acc"}); err != nil || got != "x/acc" {
		t.Errorf("qq.Open = %q, %v", got, err)
	}
	t.Setenv("WXTEST_SIZE", "42")
	if got, err := wx.Open("sim", nil, Params{}); err != nil || got != 42 {
		t.Errorf("wx.Open from the environment = %d, %v", got, err)
	}
	if got, err := wx.Open("sim", &cfgB{Size: 3}, Params{}); err != nil || got != 3 {
		t.Errorf("wx.Open(*C) = %d, %v", got, err)
	}
	if _, err := wx.Open("sim", cfgA{}, Params{}); err == nil || !strings.Contains(err.Error(), "wx sim") {
		t.Errorf("a configuration of another driver's type: %v", err)
	}
	if _, err := qq.Open("onebot", nil, Params{}); err == nil || !strings.Contains(err.Error(), "registered: sim") {
		t.Errorf("an unknown driver: %v", err)
	}
	var usage bytes.Buffer
	for _, s := range append(qq.EnvSpecs(), wx.EnvSpecs()...) {
		if err := envconfig.Usagef("", s, &usage, "{{range .}}{{usage_key .}} {{usage_default .}}\n{{end}}"); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(usage.String(), "QQTEST_NAME a\n") || !strings.Contains(usage.String(), "WXTEST_SIZE 7\n") {
		t.Errorf("EnvSpecs usage:\n%s", usage.String())
	}
}

func TestRegisterPanics(t *testing.T) {
	r := New[string]("t")
	Register(r, "x", "X", func(cfgA, Params) (string, error) { return "", nil })
	for name, f := range map[string]func(){
		"twice":        func() { Register(r, "x", "X", func(cfgA, Params) (string, error) { return "", nil }) },
		"no name":      func() { Register(r, "", "X", func(cfgA, Params) (string, error) { return "", nil }) },
		"no open":      func() { Register[string, cfgA](r, "y", "Y", nil) },
		"not a struct": func() { Register(r, "z", "Z", func(int, Params) (string, error) { return "", nil }) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestConfigFrom(t *testing.T) {
	type cfg struct {
		URL   string `envconfig:"URL"`
		Token string `envconfig:"ACCESS_TOKEN"`
		Size  int    `envconfig:"SIZE" default:"7"`
	}
	r := New[cfg]("driver")
	Register(r, "ob", "OB", func(c cfg, _ Params) (cfg, error) { return c, nil })
	t.Setenv("OB_URL", "ws://from-the-environment")

	c, used, err := r.ConfigFrom("ob", map[string]string{"OB_ACCESS_TOKEN": "t", "POST_API": "http://x"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(used, []string{"OB_ACCESS_TOKEN"}) {
		t.Errorf("used = %q", used)
	}
	d, err := r.Open("ob", c, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if d != (cfg{Token: "t", Size: 7}) {
		t.Errorf("opened with %+v: the account's settings and the defaults, not the environment", d)
	}
	if _, _, err := r.ConfigFrom("nope", nil); err == nil || !strings.Contains(err.Error(), "ob") {
		t.Errorf("unknown driver: %v", err)
	}
	if _, _, err := r.ConfigFrom("ob", map[string]string{"OB_SIZE": "big"}); err == nil {
		t.Errorf("bad value accepted")
	}
}
