// Package config is how every openqq service reads, completes and shows its configuration:
// the envconfig struct tags are the only source of a default (Defaults applies them to a
// Config built in code, envconfig to one read from the environment), durations accept Mojo's
// plain seconds (Process), and one rule masks secrets wherever a setting is shown (Mask,
// MaskURL, Log).
package config

import (
	"encoding"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Process reads spec (a pointer to an envconfig struct) from the environment, as
// envconfig.Process does, except that a duration may also be a bare number of seconds:
// POLL_INTERVAL=5 is 5s, as Mojo's poll_interval=>5 was, and 0.5 is 500ms.
//
// A field tagged zero:"off" (POST_MAX_LAG, SEND_INTERVAL, ...) takes an explicit 0 in the
// environment as "off", and stores it as -1: zero is what Defaults fills, so off needs a value
// of its own, and -1 is how a Config built in code says it too.
func Process(prefix string, spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: %T is not a pointer to a struct", spec)
	}
	var lookupErr error
	walk(prefix, v.Elem(), func(f field) {
		if f.v.Type() != durationType || lookupErr != nil {
			return
		}
		for _, key := range []string{f.key, f.alt} {
			if key == "" {
				continue
			}
			raw, ok := lookupEnv(key)
			if !ok {
				continue
			}
			if d, bare := seconds(raw); bare {
				// envconfig reads the variable itself: hand it the value in its own syntax.
				if err := setEnv(key, d.String()); err != nil {
					lookupErr = fmt.Errorf("config: %s: %w", key, err)
				}
			}
			return // envconfig takes the key first and the alternative only without it
		}
	})
	if lookupErr != nil {
		return lookupErr
	}
	if err := envconfig.Process(prefix, spec); err != nil {
		return err
	}
	walk(prefix, v.Elem(), func(f field) {
		if f.sf.Tag.Get("zero") != "off" || !f.v.IsZero() || !f.v.CanInt() {
			return
		}
		for _, key := range []string{f.key, f.alt} {
			if _, set := lookupEnv(key); key != "" && set {
				f.v.SetInt(-1)
				return
			}
		}
	})
	return nil
}

// seconds reads a bare number of seconds ("5", "0.5"); bare is false for anything else, "5s"
// included.
func seconds(raw string) (time.Duration, bool) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// ParseDuration reads a duration as Process does: Go's syntax ("5s", "1m30s") or a bare
// number of seconds ("5").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := seconds(s); ok {
		return d, nil
	}
	return time.ParseDuration(strings.TrimSpace(s))
}

// Defaults gives every zero field of spec (a pointer to an envconfig struct, nested structs
// included) the value of its `default` tag, so that a Config built in code and one read from
// an empty environment are the same. Booleans are left alone: in code, false is a choice
// (POST_EVENT=false), not a missing value. A tag that does not parse for its field's type
// panics: it is a programming error, and every service's defaults test runs this.
func Defaults(spec any) {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config.Defaults: %T is not a pointer to a struct", spec))
	}
	walk("", v.Elem(), func(f field) {
		def, ok := f.sf.Tag.Lookup("default")
		if !ok || f.v.Kind() == reflect.Bool || !f.v.IsZero() {
			return
		}
		if err := set(f.v, def); err != nil {
			panic(fmt.Sprintf("config.Defaults: %s: default %q: %v", f.key, def, err))
		}
	})
}

var durationType = reflect.TypeFor[time.Duration]()

// The environment Process reads; a variable.
var (
	lookupEnv = os.LookupEnv
	setEnv    = os.Setenv
)

// set parses s into v, for the kinds the openqq configurations use.
func set(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 0, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 0, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetFloat(n)
	case reflect.Slice:
		if strings.TrimSpace(s) == "" {
			return nil
		}
		parts := strings.Split(s, ",")
		sl := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		for i, p := range parts {
			if err := set(sl.Index(i), p); err != nil {
				return err
			}
		}
		v.Set(sl)
	default:
		return fmt.Errorf("config: unsupported kind %s", v.Kind())
	}
	return nil
}

// field is one setting of a struct, with the variable names envconfig gives it.
type field struct {
	key string // PREFIX_NAME
	alt string // NAME alone, which envconfig reads when PREFIX_NAME is unset ("" if untagged)
	v   reflect.Value
	sf  reflect.StructField
}

var (
	decoderType   = reflect.TypeFor[envconfig.Decoder]()
	setterType    = reflect.TypeFor[envconfig.Setter]()
	unmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walk calls fn for every setting of v, naming them as envconfig does: the envconfig tag (or
// the field's name) upper-cased, after the prefix and an underscore; a nested struct's fields
// take its key as their prefix, an embedded struct's its parent's prefix.
func walk(prefix string, v reflect.Value, fn func(field)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		fv := v.Field(i)
		if !fv.CanSet() || sf.Tag.Get("ignored") == "true" {
			continue
		}
		tag := sf.Tag.Get("envconfig")
		key := sf.Name
		if tag != "" {
			key = tag
		}
		if prefix != "" {
			key = prefix + "_" + key
		}
		key = strings.ToUpper(key)
		if fv.Kind() == reflect.Struct && !selfDecoding(fv) {
			inner := key
			if sf.Anonymous {
				inner = prefix
			}
			walk(inner, fv, fn)
			continue
		}
		fn(field{key: key, alt: strings.ToUpper(tag), v: fv, sf: sf})
	}
}

func selfDecoding(v reflect.Value) bool {
	pt := v.Addr().Type()
	return pt.Implements(decoderType) || pt.Implements(setterType) || pt.Implements(unmarshalType)
}

// secretWords in a variable's name mark its value as a secret.
var secretWords = []string{"TOKEN", "PASSWORD", "SECRET"}

// Mask is the one rule for showing a setting: the value of a variable whose name says it is a
// secret (…TOKEN, …PASSWORD, …SECRET) is "***" when set, and a URL (or a comma-separated list
// of them) anywhere else is shown by MaskURL.
func Mask(key, value string) string {
	upper := strings.ToUpper(key)
	for _, w := range secretWords {
		if strings.Contains(upper, w) {
			if value == "" {
				return ""
			}
			return "***"
		}
	}
	if strings.Contains(value, "://") {
		return MaskURL(value)
	}
	return value
}

// MaskURL shows a URL, or a comma-separated list of them, without what may be secret in it:
// the user information (a password, or a token standing where the user name goes) becomes
// "***", and so does each value of the query (access_token=..., token=...). A part that does
// not parse is shown as "(unparsable URL)", since it might be quoting a secret.
func MaskURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		parts[i] = maskOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func maskOne(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	masked := u.User != nil
	u.User = nil
	if u.RawQuery != "" {
		// Keep the parameters' order and names readable; only their values go.
		var b strings.Builder
		for _, kv := range strings.Split(u.RawQuery, "&") {
			k, _, _ := strings.Cut(kv, "=")
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteString("=***")
		}
		u.RawQuery = b.String()
	}
	u.Fragment, u.RawFragment = "", ""
	out := u.String()
	if masked {
		// url.User would escape the stars
		if scheme, rest, ok := strings.Cut(out, "://"); ok {
			out = scheme + "://***@" + rest
		}
	}
	return out
}

// MaskURLError is err without the secrets of raw, the URL it was about. The URL a
// *url.Error (what an HTTP client returns, wrapped or not) quotes in full, which may differ
// from raw (a WebSocket client asks for http:// what it was given as ws://), becomes
// MaskURL(raw), and so does raw anywhere in the text. A bare *url.Error stays one (its cause
// still answers errors.Is); any other error that changed is a new error with the masked text
// and does not wrap the original, so that no caller can print it.
func MaskURLError(err error, raw string) error {
	if err == nil || raw == "" {
		return err
	}
	masked := MaskURL(raw)
	var ue *url.Error
	if errors.As(err, &ue) {
		if error(ue) == err {
			return &url.Error{Op: ue.Op, URL: masked, Err: ue.Err}
		}
	}
	text := err.Error()
	if ue != nil && ue.URL != "" {
		text = strings.ReplaceAll(text, ue.URL, masked)
	}
	text = strings.ReplaceAll(text, raw, masked)
	if text == err.Error() {
		return err
	}
	return errors.New(text)
}

// Setting is one variable of a configuration and its value, as Go shows it (durations as
// "5s", lists comma-separated), unmasked.
type Setting struct {
	Key   string // PREFIX_NAME
	Alt   string // NAME, which envconfig reads when Key is unset ("" if the field has no tag)
	Value string
}

// Settings lists spec's variables (spec is an envconfig struct or a pointer to one).
func Settings(prefix string, spec any) []Setting {
	v := reflect.ValueOf(spec)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	if !v.CanAddr() { // walk needs settable fields
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		v = c
	}
	var out []Setting
	walk(prefix, v, func(f field) {
		out = append(out, Setting{Key: f.key, Alt: f.alt, Value: show(f.v)})
	})
	return out
}

// Attrs are spec's settings as slog attributes named by their variables, secrets masked.
func Attrs(prefix string, spec any) []slog.Attr {
	var out []slog.Attr
	for _, s := range Settings(prefix, spec) {
		out = append(out, slog.String(s.Key, Mask(s.Key, s.Value)))
	}
	return out
}

func show(v reflect.Value) string {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = v.Index(i).String()
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// Log writes spec's effective settings, secrets masked, as one line: each service does it
// once when it starts, so that its log says what it runs with.
func Log(log *slog.Logger, service string, spec any) {
	if log == nil {
		return
	}
	attrs := Attrs("", spec)
	args := make([]any, len(attrs))
	for i, a := range attrs {
		args[i] = a
	}
	log.Info(service+" configuration", slog.Group("config", args...))
}

// Prefixed is a configuration of a second instance in one binary (the all-in-one's WeChat
// account) read from PREFIX_-prefixed variables only: WX_ACCOUNT, WX_POST_API, ... Unlike
// envconfig's own prefix, a variable that is unset with the prefix does not fall back to the
// unprefixed one, which is the first instance's: an unset WX_POST_API must not post WeChat's
// reports to QQ's POST_API.
type Prefixed struct {
	Prefix string
	Spec   any // a pointer to an envconfig struct
	// Omit are the variables (unprefixed, as the first instance spells them: "PLATFORM") the
	// binary sets itself for this instance: they are neither read nor listed.
	Omit []string
}

// Keys are the prefixed variables p reads, in spec order.
func (p Prefixed) Keys() []string {
	var out []string
	for _, s := range Settings(p.Prefix, p.Spec) {
		if !p.omitted(s.Key) {
			out = append(out, s.Key)
		}
	}
	return out
}

func (p Prefixed) omitted(key string) bool {
	for _, o := range p.Omit {
		if strings.EqualFold(key, p.Prefix+"_"+o) {
			return true
		}
	}
	return false
}

// Process reads p.Spec as Process does with p.Prefix, except that a field whose prefixed
// variable is unset takes its default (or keeps its value without one) rather than the
// unprefixed variable's value, and an omitted field keeps its value.
func (p Prefixed) Process() error {
	v := reflect.ValueOf(p.Spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: %T is not a pointer to a struct", p.Spec)
	}
	before := reflect.New(v.Elem().Type()).Elem()
	before.Set(v.Elem())
	// The fields envconfig would read from elsewhere than their prefixed variable.
	keep := map[string]bool{}
	walk(p.Prefix, v.Elem(), func(f field) {
		if p.omitted(f.key) {
			keep[f.key] = true
			return
		}
		if _, set := lookupEnv(f.key); !set && f.alt != "" && f.alt != f.key {
			if _, altSet := lookupEnv(f.alt); altSet {
				keep[f.key] = true
			}
		}
	})
	if err := Process(p.Prefix, p.Spec); err != nil {
		return err
	}
	var err error
	i := 0
	var old []reflect.Value
	walk(p.Prefix, before, func(f field) { old = append(old, f.v) })
	walk(p.Prefix, v.Elem(), func(f field) {
		o := old[i]
		i++
		if !keep[f.key] || err != nil {
			return
		}
		def, hasDef := f.sf.Tag.Lookup("default")
		if !hasDef || p.omitted(f.key) {
			f.v.Set(o)
			return
		}
		if f.v.Kind() == reflect.Bool {
			b, perr := strconv.ParseBool(def)
			if perr != nil {
				err = fmt.Errorf("config: %s: default %q: %w", f.key, def, perr)
				return
			}
			f.v.SetBool(b)
			return
		}
		f.v.Set(reflect.Zero(f.v.Type()))
		if serr := set(f.v, def); serr != nil {
			err = fmt.Errorf("config: %s: default %q: %w", f.key, def, serr)
		}
	})
	return err
}

// ProcessSpec reads one of a binary's specs: a Prefixed from its prefixed variables only, any
// other (a pointer to an envconfig struct) as Process does without a prefix.
func ProcessSpec(spec any) error {
	if p, ok := spec.(Prefixed); ok {
		return p.Process()
	}
	return Process("", spec)
}

// Apply sets the fields of spec (a pointer to an envconfig struct) named in vars, as Process
// would read them from an environment holding vars and nothing else: the keys are variable
// names under prefix (SIM_ROSTER for prefix SIM), a duration may be plain seconds, and a field
// tagged zero:"off" takes "0" as off (-1). Fields vars does not name keep their value. It
// returns the keys it used, in spec order, so that a caller applying vars to several specs
// can tell the keys none of them knows. One account's settings (start_client's parameters)
// reach its configuration this way, beside the process's own environment.
func Apply(prefix string, spec any, vars map[string]string) (used []string, err error) {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: %T is not a pointer to a struct", spec)
	}
	walk(prefix, v.Elem(), func(f field) {
		raw, ok := vars[f.key]
		if !ok || err != nil {
			return
		}
		used = append(used, f.key)
		if ferr := setField(f, raw); ferr != nil {
			if shown := Mask(f.key, raw); shown != raw {
				// The parser's error quotes the value: say only what was expected.
				ferr = fmt.Errorf("not a valid %s", f.v.Type())
			}
			err = fmt.Errorf("config: %s=%q: %w", f.key, Mask(f.key, raw), ferr)
		}
	})
	return used, err
}

// setField sets one field from its variable's value, as envconfig and Process would.
func setField(f field, raw string) error {
	pv := f.v.Addr().Interface()
	switch d := pv.(type) {
	case envconfig.Decoder:
		return d.Decode(raw)
	case envconfig.Setter:
		return d.Set(raw)
	case encoding.TextUnmarshaler:
		return d.UnmarshalText([]byte(raw))
	}
	if f.v.Kind() == reflect.Bool {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		f.v.SetBool(b)
		return nil
	}
	zero := reflect.Zero(f.v.Type())
	f.v.Set(zero)
	if err := set(f.v, raw); err != nil {
		return err
	}
	if f.sf.Tag.Get("zero") == "off" && f.v.IsZero() && f.v.CanInt() {
		f.v.SetInt(-1)
	}
	return nil
}
