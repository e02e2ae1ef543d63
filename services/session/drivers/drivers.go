// Package drivers is every driver openqq's binaries offer, QQ's (DRIVER) and WeChat's
// (PLATFORM=wx, or WX_DRIVER in the all-in-one): a binary imports it to register them all,
// and EnvSpecs lists their variables. Adding a driver to the binaries is one line here.
package drivers

import (
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/wxdriver"

	_ "github.com/openqq/openqq/services/session/driver/onebot"
	_ "github.com/openqq/openqq/services/session/driver/sim"
	_ "github.com/openqq/openqq/services/session/wxdriver/ilink"
	_ "github.com/openqq/openqq/services/session/wxdriver/sim"
	_ "github.com/openqq/openqq/services/session/wxdriver/wechaty"
)

// EnvSpecs are the configuration structs of every driver, QQ's then WeChat's: the drivers
// read their own variables when they are opened; listed by a binary, they show in --help and
// a malformed one stops the start.
func EnvSpecs() []any { return append(driver.EnvSpecs(), wxdriver.EnvSpecs()...) }
