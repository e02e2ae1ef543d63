package events

import (
	"net/url"
	"testing"
)

func TestMergeValues(t *testing.T) {
	for _, c := range []struct {
		query string
		want  Params
		err   string
	}{
		{"a=1&a=2&b=%E4%BD%A0", Params{"a": "2", "b": "你"}, ""},
		{"a=", Params{"a": ""}, ""},
		{"a=%FF", nil, `parameter "a" is not UTF-8 (percent-encode UTF-8, not GBK)`},
		{"%FF=1", nil, "a parameter name is not UTF-8 (percent-encode UTF-8, not GBK)"},
	} {
		v, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		p := Params{}
		err = MergeValues(p, v)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: error %v, want %q", c.query, err, c.err)
			}
			continue
		}
		if err != nil || len(p) != len(c.want) {
			t.Fatalf("%s: %v, %v; want %v", c.query, p, err, c.want)
		}
		for k, v := range c.want {
			if p[k] != v {
				t.Errorf("%s: %s=%q, want %q", c.query, k, p[k], v)
			}
		}
	}
}

// Every name the session publishes under is known, once.
func TestItemNames(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range ItemNames {
		if seen[n] || !IsItemName(n) {
			t.Errorf("%q repeated or unknown", n)
		}
		seen[n] = true
	}
	for _, n := range append(append([]string{}, DefaultPostEventList...), MessageTypes...) {
		if !IsItemName(n) {
			t.Errorf("%q is not an item name", n)
		}
	}
	if IsItemName("group.message") || IsItemName("") {
		t.Error("a bad name is known")
	}
}
