package driver

import (
	"github.com/openqq/openqq/services/session/driverreg"
)

// Params is what the session gives every driver it opens, besides the driver's own
// configuration.
type Params = driverreg.Params

// registry holds the QQ drivers; the WeChat ones have their own (package wxdriver), on the
// same code.
var registry = driverreg.New[Driver]("driver")

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
	driverreg.Register(registry, name, prefix, open)
}

// Open builds the driver registered as name from cfg, its configuration built in code (the
// driver's configuration type, or a pointer to it), or, if cfg is nil, from the environment.
func Open(name string, cfg any, p Params) (Driver, error) { return registry.Open(name, cfg, p) }

// ConfigFrom builds the configuration of the driver registered as name from one account's
// settings (variable names to values), its defaults for the rest, for Open: the process's own
// environment plays no part. It returns the keys of vars it used.
func ConfigFrom(name string, vars map[string]string) (cfg any, used []string, err error) {
	return registry.ConfigFrom(name, vars)
}

// Drivers lists the names of the registered drivers, sorted.
func Drivers() []string { return registry.Names() }

// EnvSpecs returns, for each registered driver, a pointer to a struct that holds its
// configuration under its prefix, for envconfig: a binary adds them to the specs it reads
// and lists in --help, so that the drivers' variables (SIM_*, ONEBOT_*) show with the rest.
func EnvSpecs() []any { return registry.EnvSpecs() }
