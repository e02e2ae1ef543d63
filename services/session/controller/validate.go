package controller

import (
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driverreg"
	"github.com/openqq/openqq/services/session/wxdriver"
)

// validate tells whether the account spec describes can run on a host configured as base,
// before anything is stored: its configuration builds (session.ClientConfig: a known driver,
// values that parse, no setting of the host's) and its driver's configuration says it runs
// (a Validate method) or, without one, the driver opens with it (the settings it
// needs are there: onebot's ONEBOT_URL, wechaty's WECHATY_ENDPOINT and WECHATY_TOKEN, a
// sim roster file that reads). Opening a driver connects to nothing, every driver's New says
// so (Run connects); the driver is closed at once. It returns the settings of spec that no
// part of the account uses, sorted; the error is a CodeBadRequest *events.Status.
func validate(base session.Config, spec events.ClientSpec) (unknown []string, err error) {
	cfg, unknown, err := session.ClientConfig(base, spec)
	if err != nil {
		return nil, events.ErrBadRequest("client %s: %v", spec.Client, err)
	}
	// A driver configuration that can tell itself whether it runs (Validate) saves opening
	// the driver: the sim's default roster costs a decoding per open.
	if v, ok := cfg.DriverConfig.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, events.ErrBadRequest("client %s: %v: %v", spec.Client, session.ErrSetting, err)
		}
		return unknown, nil
	}
	p := driverreg.Params{Account: cfg.Account, Log: slog.New(slog.DiscardHandler),
		SendInterval: cfg.SendInterval, SendBurst: cfg.SendBurst}
	var d any
	if cfg.Platform == wx.Prefix {
		d, err = wxdriver.Open(cfg.Driver, cfg.DriverConfig, p)
	} else {
		d, err = driver.Open(cfg.Driver, cfg.DriverConfig, p)
	}
	if err != nil {
		return nil, events.ErrBadRequest("client %s: %v: %v", spec.Client, session.ErrSetting, err)
	}
	if c, ok := d.(io.Closer); ok {
		_ = c.Close()
	}
	return unknown, nil
}

// withoutKeys is m without keys.
func withoutKeys(m map[string]string, keys []string) map[string]string {
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// lowered is keys in lower case, as start_client's parameters named them.
func lowered(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.ToLower(k)
	}
	slices.Sort(out)
	return out
}
