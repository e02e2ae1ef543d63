package cli

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/infra/config"
)

type usageSpec struct {
	Account  string `envconfig:"ACCOUNT" default:"default"`
	Platform string `envconfig:"PLATFORM" default:"qq"`
}

// --help lists a Prefixed spec's variables with their prefix, without the omitted ones, and
// each variable once.
func TestUsagePrefixed(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	usage("test", []any{&usageSpec{}, config.Prefixed{Prefix: "WX", Spec: &usageSpec{}, Omit: []string{"PLATFORM"}}, &usageSpec{}})
	os.Stdout = stdout
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for key, want := range map[string]int{"ACCOUNT ": 1, "PLATFORM ": 1, "WX_ACCOUNT ": 1, "WX_PLATFORM": 0} {
		if got := strings.Count(out, "\n"+key); got != want {
			t.Errorf("%q listed %d times, want %d:\n%s", key, got, want, out)
		}
	}
}
