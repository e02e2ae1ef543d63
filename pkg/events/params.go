package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Params are a call's parameters, the body of a request on qq.api.<route>: a JSON object of
// strings. A key that is present with an empty value is a real (empty) parameter, as in Mojo.
type Params map[string]string

// Lookup returns a parameter and whether it was given.
func (p Params) Lookup(key string) (string, bool) {
	v, ok := p[key]
	return v, ok
}

// Truthy reports whether a parameter is true the way Perl reads it: given, not "" and not "0".
func (p Params) Truthy(key string) bool {
	v := p[key]
	return v != "" && v != "0"
}

// ErrParams is wrapped by every error of DecodeParams.
var ErrParams = errors.New("invalid parameters")

// DecodeParams reads a JSON object of parameters. Bots send ids as strings or as numbers, so
// values may be strings, numbers (an integral number reads as its integer: 1e3 is "1000"),
// booleans ("1" or "0"), null (as if absent), or arrays of those, which join with commas (the
// list form of member_id). Objects and nested arrays are refused, and so is text that is not
// UTF-8, since a lookup on mangled text would silently find nothing. An empty body is no
// parameters.
func DecodeParams(data []byte) (Params, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Params{}, nil
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: body is not UTF-8", ErrParams)
	}
	// What the gateway sends is an object of strings, which decodes straight into Params at a
	// third of the cost of the general path below. null is left to that path, which reads it
	// as absent where this one would read "".
	if !bytes.Contains(data, []byte("null")) {
		var p Params
		if json.Unmarshal(data, &p) == nil && p != nil {
			return p, nil
		}
	}
	return decodeAny(data)
}

// decodeAny is DecodeParams for any JSON object, data trimmed and valid UTF-8.
func decodeAny(data []byte) (Params, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: want a JSON object: %w", ErrParams, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: want a JSON object, got null", ErrParams)
	}
	// More() would miss a stray '}' or ']'; whatever follows the object must be blank.
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrParams)
	}
	p := make(Params, len(raw))
	for k, v := range raw {
		if v == nil {
			continue
		}
		if list, ok := v.([]any); ok {
			parts := make([]string, 0, len(list))
			for _, e := range list {
				s, err := scalar(e)
				if err != nil {
					return nil, fmt.Errorf("%w: %q: %w", ErrParams, k, err)
				}
				parts = append(parts, s)
			}
			p[k] = strings.Join(parts, ",")
			continue
		}
		s, err := scalar(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrParams, k, err)
		}
		p[k] = s
	}
	return p, nil
}

func scalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	case json.Number:
		return number(v), nil
	default:
		return "", errors.New("want a string, number or boolean")
	}
}

// number writes an integral JSON number as a plain integer, so that an id sent as 1.0 or 1e3
// matches the same object as one sent as a string.
func number(n json.Number) string {
	if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return string(n)
	}
	f, err := n.Float64()
	if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return string(n)
}
