package events

import (
	"bytes"
	"errors"
	"maps"
	"testing"
	"unicode/utf8"
)

// decodeOK are bodies DecodeParams accepts, with the parameters they read as.
var decodeOK = []struct {
	name string
	in   string
	want Params
}{
	// Strings.
	{"string", `{"a":"x"}`, Params{"a": "x"}},
	{"empty string kept", `{"a":""}`, Params{"a": ""}},
	{"several keys", `{"id":"1","content":"hi"}`, Params{"id": "1", "content": "hi"}},
	{"string digits kept as written", `{"id":"0123"}`, Params{"id": "0123"}},
	{"escapes", `{"a":"line\nbreak \"q\" \\ \u5c0f\u7070"}`, Params{"a": "line\nbreak \"q\" \\ 小灰"}},
	{"html characters", `{"content":"<b>&amp;</b>"}`, Params{"content": "<b>&amp;</b>"}},
	{"later duplicate wins", `{"a":"1","a":"2"}`, Params{"a": "2"}},
	{"chinese round trip", `{"name":"小灰","content":"你好，世界！😀"}`, Params{"name": "小灰", "content": "你好，世界！😀"}},
	{"whitespace around object", " \r\n\t{\"a\":\"x\"} \n", Params{"a": "x"}},

	// Numbers: an integral number reads as its integer.
	{"integer", `{"id":123}`, Params{"id": "123"}},
	{"zero", `{"id":0}`, Params{"id": "0"}},
	{"negative", `{"id":-7}`, Params{"id": "-7"}},
	{"integral float", `{"id":1.0}`, Params{"id": "1"}},
	{"integral float with zeros", `{"id":42.000}`, Params{"id": "42"}},
	{"exponent", `{"id":1e3}`, Params{"id": "1000"}},
	{"upper exponent", `{"id":1E2}`, Params{"id": "100"}},
	{"exponent with sign", `{"id":2e+1}`, Params{"id": "20"}},
	{"fraction with exponent", `{"id":0.5e1}`, Params{"id": "5"}},
	{"negative integral float", `{"id":-3.0}`, Params{"id": "-3"}},
	{"fraction stays", `{"x":1.5}`, Params{"x": "1.5"}},
	{"small fraction stays", `{"x":2.5e-1}`, Params{"x": "2.5e-1"}},
	{"id near 2^53 exact", `{"id":9007199254740991}`, Params{"id": "9007199254740991"}},
	{"int64 beyond 2^53 exact", `{"id":9007199254740993}`, Params{"id": "9007199254740993"}},
	{"max int64", `{"id":9223372036854775807}`, Params{"id": "9223372036854775807"}},
	{"beyond int64 as written", `{"id":12345678901234567890}`, Params{"id": "12345678901234567890"}},
	{"big float as written", `{"id":1e20}`, Params{"id": "1e20"}},
	{"float overflow as written", `{"id":1e400}`, Params{"id": "1e400"}},

	// Booleans and null.
	{"true", `{"async":true}`, Params{"async": "1"}},
	{"false", `{"async":false}`, Params{"async": "0"}},
	{"null dropped", `{"a":null,"b":"x"}`, Params{"b": "x"}},
	{"only null", `{"a":null}`, Params{}},

	// Arrays of scalars join with commas.
	{"array of numbers", `{"member_id":[1,2,3]}`, Params{"member_id": "1,2,3"}},
	{"array of mixed scalars", `{"member_id":[1,"2",3.0,1e1,true,false]}`, Params{"member_id": "1,2,3,10,1,0"}},
	{"array of one", `{"member_id":["42"]}`, Params{"member_id": "42"}},
	{"empty array", `{"member_id":[]}`, Params{"member_id": ""}},
	{"array of chinese", `{"names":["小灰","小白"]}`, Params{"names": "小灰,小白"}},

	// Empty bodies.
	{"empty object", `{}`, Params{}},
	{"empty body", ``, Params{}},
	{"whitespace body", " \n\t\r ", Params{}},
}

// decodeBad are bodies DecodeParams refuses. A non-empty bug documents a known defect.
var decodeBad = []struct {
	name string
	in   string
}{
	{"object value", `{"a":{}}`},
	{"object value with keys", `{"a":{"b":"c"}}`},
	{"nested array", `{"a":[[1]]}`},
	{"object in array", `{"a":[{"b":1}]}`},
	{"invalid utf-8 in value", "{\"a\":\"\xff\"}"},
	{"invalid utf-8 in key", "{\"\xc3\":\"x\"}"},
	{"truncated utf-8", "{\"a\":\"\xe5\xb0\"}"},
	{"top-level array", `[]`},
	{"top-level array of objects", `[{"a":"1"}]`},
	{"top-level string", `"x"`},
	{"top-level number", `1`},
	{"top-level true", `true`},
	{"top-level null", `null`},
	{"trailing object", `{} {}`},
	{"trailing garbage", `{"a":"1"}x`},
	{"trailing number", `{"a":"1"} 1`},
	{"trailing closing brace", `{"a":"1"}}`},
	{"trailing closing bracket", `{"a":"1"}]`},
	{"unterminated object", `{`},
	{"missing value", `{"a":}`},
	{"unquoted key", `{a:"1"}`},
	{"single quotes", `{'a':'1'}`},
	{"trailing comma", `{"a":"1",}`},
	{"form encoding", `a=1&b=2`},
}

func TestDecodeParams(t *testing.T) {
	for _, tc := range decodeOK {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeParams([]byte(tc.in))
			if err != nil {
				t.Fatalf("DecodeParams(%q): %v", tc.in, err)
			}
			if got == nil {
				t.Fatalf("DecodeParams(%q) = nil Params, want non-nil", tc.in)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("DecodeParams(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeParamsRefused(t *testing.T) {
	for _, tc := range decodeBad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeParams([]byte(tc.in))
			if err == nil {
				t.Fatalf("DecodeParams(%q) = %q, want an error", tc.in, got)
			}
			if !errors.Is(err, ErrParams) {
				t.Errorf("DecodeParams(%q) error %v does not wrap ErrParams", tc.in, err)
			}
			if got != nil {
				t.Errorf("DecodeParams(%q) = %q with an error, want nil", tc.in, got)
			}
		})
	}
}

func TestParamsTruthy(t *testing.T) {
	p := Params{"empty": "", "zero": "0", "one": "1", "word": "abc", "zeros": "00", "space": " ", "false": "false"}
	tests := []struct {
		key  string
		want bool
	}{
		{"empty", false},
		{"zero", false},
		{"absent", false},
		{"one", true},
		{"word", true},
		{"zeros", true}, // Perl: "00" is true
		{"space", true}, // Perl: " " is true
		{"false", true}, // Perl: "false" is a true string
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := p.Truthy(tc.key); got != tc.want {
				t.Errorf("Truthy(%q) with value %q = %v, want %v", tc.key, p[tc.key], got, tc.want)
			}
		})
	}
	t.Run("nil params", func(t *testing.T) {
		var none Params
		if none.Truthy("async") {
			t.Error("nil Params: Truthy = true, want false")
		}
	})
}

func TestParamsLookup(t *testing.T) {
	p := Params{"empty": "", "id": "1"}
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"id", "1", true},
		{"empty", "", true},
		{"absent", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got, ok := p.Lookup(tc.key)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func FuzzDecodeParams(f *testing.F) {
	for _, tc := range decodeOK {
		f.Add([]byte(tc.in))
	}
	for _, tc := range decodeBad {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeParams(data)
		if err != nil {
			if !errors.Is(err, ErrParams) {
				t.Fatalf("DecodeParams(%q) error %v does not wrap ErrParams", data, err)
			}
			if p != nil {
				t.Fatalf("DecodeParams(%q) = %q with an error", data, p)
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("DecodeParams(%q) accepted invalid UTF-8", data)
		}
		if p == nil {
			t.Fatalf("DecodeParams(%q) = nil Params without an error", data)
		}
		// The fast path for objects of strings reads them as the general path does.
		if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 {
			// no parameters, without decoding
		} else if q, err := decodeAny(trimmed); err != nil || !maps.Equal(p, q) {
			t.Fatalf("DecodeParams(%q) = %q, the general path gives %q, %v", data, p, q, err)
		}
		for k, v := range p {
			if !utf8.ValidString(k) {
				t.Fatalf("DecodeParams(%q): key %q is not UTF-8", data, k)
			}
			if !utf8.ValidString(v) {
				t.Fatalf("DecodeParams(%q): value %q of %q is not UTF-8", data, v, k)
			}
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatalf("Marshal(%q): %v", p, err)
		}
		again, err := DecodeParams(b)
		if err != nil {
			t.Fatalf("DecodeParams(Marshal(%q)) = %s: %v", p, b, err)
		}
		if !maps.Equal(p, again) {
			t.Fatalf("round trip of %q through %s gave %q", p, b, again)
		}
	})
}

func BenchmarkDecodeParams(b *testing.B) {
	data := []byte(`{"id":"2372835507","content":"你好，openqq","async":"0"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeParams(data); err != nil {
			b.Fatal(err)
		}
	}
}
