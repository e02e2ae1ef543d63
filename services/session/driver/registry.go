package driver

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
type entry struct {
	prefix  string
	typ     reflect.Type // the driver's configuration type C
	fromEnv func() (any, error)
	open    func(cfg any, p Params) (Driver, error)
}

var (
	mu      sync.RWMutex
	drivers = map[string]entry{}
)

// Register makes a driver available to the session under name (the session's DRIVER), as
// database/sql drivers register themselves: a driver package calls it from init, and a binary
// imports the drivers it offers, blank if it needs nothing else of them.
//
// C is the driver's configuration, a struct with envconfig tags. open builds the driver from
// a configuration given in code (session.Config.DriverConfig, a C or a *C), or, when none is
// given, from one read from the environment under prefix (prefix SIM: SIM_ROSTER, ...); open
// fills the zero fields with their defaults. Register panics if name is taken or empty, as
// sql.Register does: both are programming errors.
func Register[C any](name, prefix string, open func(cfg C, p Params) (Driver, error)) {
	if name == "" || open == nil {
		panic("driver: Register needs a name and an open function")
	}
	var zero C
	typ := reflect.TypeOf(zero)
	if typ == nil || typ.Kind() != reflect.Struct {
		panic(fmt.Sprintf("driver: %s: the configuration must be a struct, not %v", name, typ))
	}
	e := entry{
		prefix: prefix,
		typ:    typ,
		fromEnv: func() (any, error) {
			var c C
			if err := config.Process(prefix, &c); err != nil {
				return nil, err
			}
			return c, nil
		},
		open: func(cfg any, p Params) (Driver, error) {
			switch c := cfg.(type) {
			case C:
				return open(c, p)
			case *C:
				if c == nil {
					return open(zero, p)
				}
				return open(*c, p)
			default:
				return nil, fmt.Errorf("driver %s: configuration of type %T, want %v", name, cfg, typ)
			}
		},
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("driver: Register called twice for " + name)
	}
	drivers[name] = e
}

// Open builds the driver registered as name from cfg, its configuration built in code (the
// driver's configuration type, or a pointer to it), or, if cfg is nil, from the environment.
func Open(name string, cfg any, p Params) (Driver, error) {
	mu.RLock()
	e, ok := drivers[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown DRIVER %q (registered: %s)", name, strings.Join(Drivers(), ", "))
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	if cfg == nil {
		var err error
		if cfg, err = e.fromEnv(); err != nil {
			return nil, fmt.Errorf("driver %s: configuration: %w", name, err)
		}
	}
	return e.open(cfg, p)
}

// Drivers lists the names of the registered drivers, sorted.
func Drivers() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(drivers))
}

// EnvSpecs returns, for each registered driver, a pointer to a struct that holds its
// configuration under its prefix, for envconfig: a binary adds them to the specs it reads
// and lists in --help, so that the drivers' variables (SIM_*, ONEBOT_*) show with the rest.
func EnvSpecs() []any {
	mu.RLock()
	defer mu.RUnlock()
	specs := make([]any, 0, len(drivers))
	for _, n := range slices.Sorted(maps.Keys(drivers)) {
		e := drivers[n]
		typ := reflect.StructOf([]reflect.StructField{{
			Name: "Config", Type: e.typ, Tag: reflect.StructTag(`envconfig:"` + e.prefix + `"`),
		}})
		specs = append(specs, reflect.New(typ).Interface())
	}
	return specs
}
