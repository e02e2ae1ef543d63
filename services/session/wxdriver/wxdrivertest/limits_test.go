package wxdrivertest

import (
	"fmt"
	"strings"
	"testing"
)

// errs is a testing.TB that keeps what Errorf says instead of failing.
type errs struct {
	testing.TB
	said []string
}

func (e *errs) Helper() {}
func (e *errs) Errorf(format string, args ...any) {
	e.said = append(e.said, fmt.Sprintf(format, args...))
}

// A limit naming no check of the suite, or no call, is an error: it would skip nothing.
func TestLimitsCheckNames(t *testing.T) {
	tests := []struct {
		name string
		l    Limits
		want string // in the failure; "" for none
	}{
		{"none", Limits{}, ""},
		{"known", Limits{Cannot: map[string]string{"RosterChanges": "x", "Receive/friend app": "x", "Send/file assistant": "x"},
			Unsupported: map[string]string{"Stick": "x", "Avatar": "x"}}, ""},
		{"a misspelt test", Limits{Cannot: map[string]string{"RosterChange": "x"}}, `"RosterChange", which is no check`},
		{"an unknown case", Limits{Cannot: map[string]string{"Receive/friend fax": "x"}}, `"Receive/friend fax"`},
		{"an unknown call", Limits{Unsupported: map[string]string{"Pin": "x"}}, `"Pin", which is none of`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &errs{TB: t}
			tc.l.checkNames(e, testNames())
			got := strings.Join(e.said, "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("checkNames: %q, want %q", got, tc.want)
			}
		})
	}
}
