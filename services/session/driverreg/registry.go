// Package driverreg is the registry of session drivers, for any platform: each platform's
// driver package keeps a Registry of its own driver type (QQ's driver.Driver, WeChat's
// wxdriver.Driver) and registers drivers by name, as database/sql drivers register
// themselves.
package driverreg

import (
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openqq/openqq/pkg/infra/config"
)

// Params is what the session gives every driver it opens, besides the driver's own
// configuration.
type Params struct {
	// Account is Mojo's account name: it names the client and its QR code file.
	Account string
	// Log is the session's logger.
	Log *slog.Logger
	// SendInterval and SendBurst are the session's send rate limit (SEND_INTERVAL,
	// SEND_BURST), for drivers that must pace their sends: one more send every SendInterval,
	// up to SendBurst at once; an interval of 0 means no limit.
	SendInterval time.Duration
	SendBurst    int
}

// entry is a registered driver, its configuration type erased.
type entry[D any] struct {
	prefix  string
	typ     reflect.Type // the driver's configuration type C
	fromEnv func() (any, error)
	open    func(cfg any, p Params) (D, error)
}

// Registry holds the drivers of one driver type D. Its zero value is not usable: make one
// with New.
type Registry[D any] struct {
	what    string // names the registry in messages: "driver", "wxdriver"
	mu      sync.RWMutex
	drivers map[string]entry[D]
}

// New makes an empty registry; what names it in errors and panics.
func New[D any](what string) *Registry[D] {
	return &Registry[D]{what: what, drivers: map[string]entry[D]{}}
}

// Register makes a driver available under name (the session's DRIVER).
//
// C is the driver's configuration, a struct with envconfig tags. open builds the driver from
// a configuration given in code (a C or a *C), or, when none is given, from one read from the
// environment under prefix (prefix SIM: SIM_ROSTER, ...); open fills the zero fields with
// their defaults. Register panics if name is taken or empty, as sql.Register does: both are
// programming errors. (A function, not a method: methods cannot have type parameters.)
func Register[D, C any](r *Registry[D], name, prefix string, open func(cfg C, p Params) (D, error)) {
	if name == "" || open == nil {
		panic(r.what + ": Register needs a name and an open function")
	}
	var zero C
	typ := reflect.TypeOf(zero)
	if typ == nil || typ.Kind() != reflect.Struct {
		panic(fmt.Sprintf("%s: %s: the configuration must be a struct, not %v", r.what, name, typ))
	}
	e := entry[D]{
		prefix: prefix,
		typ:    typ,
		fromEnv: func() (any, error) {
			var c C
			if err := config.Process(prefix, &c); err != nil {
				return nil, err
			}
			return c, nil
		},
		open: func(cfg any, p Params) (D, error) {
			switch c := cfg.(type) {
			case C:
				return open(c, p)
			case *C:
				if c == nil {
					return open(zero, p)
				}
				return open(*c, p)
			default:
				var d D
				return d, fmt.Errorf("%s %s: configuration of type %T, want %v", r.what, name, cfg, typ)
			}
		},
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.drivers[name]; dup {
		panic(r.what + ": Register called twice for " + name)
	}
	r.drivers[name] = e
}

// Open builds the driver registered as name from cfg, its configuration built in code (the
// driver's configuration type, or a pointer to it), or, if cfg is nil, from the environment.
func (r *Registry[D]) Open(name string, cfg any, p Params) (D, error) {
	r.mu.RLock()
	e, ok := r.drivers[name]
	r.mu.RUnlock()
	var zero D
	if !ok {
		return zero, fmt.Errorf("unknown DRIVER %q (registered: %s)", name, strings.Join(r.Names(), ", "))
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	if cfg == nil {
		var err error
		if cfg, err = e.fromEnv(); err != nil {
			return zero, fmt.Errorf("%s %s: configuration: %w", r.what, name, err)
		}
	}
	return e.open(cfg, p)
}

// ConfigFrom builds the configuration of the driver registered as name from one account's
// settings (vars: variable names to values, SIM_ROSTER=..., as start_client's parameters
// become them), its defaults for the rest: the process's own environment plays no part, so
// that an account runs with exactly what it was started with. It returns the configuration
// (a pointer to the driver's type, for Open) and the keys of vars it used.
func (r *Registry[D]) ConfigFrom(name string, vars map[string]string) (cfg any, used []string, err error) {
	r.mu.RLock()
	e, ok := r.drivers[name]
	r.mu.RUnlock()
	if !ok {
		return nil, nil, fmt.Errorf("unknown DRIVER %q (registered: %s)", name, strings.Join(r.Names(), ", "))
	}
	ptr := reflect.New(e.typ)
	config.Defaults(ptr.Interface())
	used, err = config.Apply(e.prefix, ptr.Interface(), vars)
	if err != nil {
		return nil, used, fmt.Errorf("%s %s: %w", r.what, name, err)
	}
	return ptr.Interface(), used, nil
}

// Names lists the names of the registered drivers, sorted.
func (r *Registry[D]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.drivers))
}

// EnvSpecs returns, for each registered driver, a pointer to a struct that holds its
// configuration under its prefix, for envconfig: a binary adds them to the specs it reads
// and lists in --help, so that the drivers' variables (SIM_*, ONEBOT_*) show with the rest.
func (r *Registry[D]) EnvSpecs() []any {
	r.mu.RLock()
	defer r.mu.RUnlock()
	specs := make([]any, 0, len(r.drivers))
	for _, n := range slices.Sorted(maps.Keys(r.drivers)) {
		e := r.drivers[n]
		typ := reflect.StructOf([]reflect.StructField{{
			Name: "Config", Type: e.typ, Tag: reflect.StructTag(`envconfig:"` + e.prefix + `"`),
		}})
		specs = append(specs, reflect.New(typ).Interface())
	}
	return specs
}
