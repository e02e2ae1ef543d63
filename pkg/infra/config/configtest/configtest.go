// Package configtest checks that a service's defaults are defined once: a Config built in code
// (the zero struct, completed by the service) and one read from an empty environment must be
// the same.
package configtest

import (
	"os"
	"testing"

	"github.com/openqq/openqq/pkg/infra/config"
)

// FromEmptyEnv reads spec with config.Process from an environment in which none of its
// variables is set; they are restored when the test ends. It uses t.Setenv, so a parallel
// test cannot call it.
func FromEmptyEnv(t testing.TB, prefix string, spec any) {
	t.Helper()
	t.Setenv("OPENQQ_CONFIGTEST", "1") // panics in a parallel test: the environment is shared
	for _, s := range config.Settings(prefix, spec) {
		for _, k := range []string{s.Key, s.Alt} {
			if old, ok := os.LookupEnv(k); ok && k != "" {
				if err := os.Unsetenv(k); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.Setenv(k, old) })
			}
		}
	}
	if err := config.Process(prefix, spec); err != nil {
		t.Fatalf("reading %T from an empty environment: %v", spec, err)
	}
}

// Equal fails t for every setting of code and env (two values of one Config type) that
// differs, by variable name, except the variables named in exempt (a boolean whose default is
// true: false in code is a choice, not a missing value).
func Equal(t testing.TB, code, env any, exempt ...string) {
	t.Helper()
	skip := map[string]bool{}
	for _, k := range exempt {
		skip[k] = true
	}
	a, b := config.Settings("", code), config.Settings("", env)
	if len(a) != len(b) {
		t.Fatalf("%T and %T have different settings", code, env)
	}
	if len(a) == 0 {
		t.Fatalf("%T has no settings", code)
	}
	for i := range a {
		if skip[a[i].Key] {
			continue
		}
		if a[i].Value != b[i].Value {
			t.Errorf("%s: built in code %q, read from an empty environment %q: give it one default, its `default` tag", a[i].Key, a[i].Value, b[i].Value)
		}
	}
}

// DefinedOnce checks a service's Config type C: the zero C completed by fill and a C read from
// an empty environment (under prefix) and completed by fill must be equal, but for exempt.
func DefinedOnce[C any](t *testing.T, prefix string, fill func(*C), exempt ...string) {
	t.Helper()
	var code, env C
	fill(&code)
	FromEmptyEnv(t, prefix, &env)
	fill(&env)
	Equal(t, code, env, exempt...)
}
