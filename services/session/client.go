package session

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/wxdriver"
)

// ClientKeys are the session settings one account may set for itself (start_client's
// parameters, upper-cased), over its host's own: how it talks to its driver and how its
// check_event behaves. The rest of a session's configuration (PLATFORM, SUBJECT_PREFIX, the
// stream's and the media store's limits, the NATS connection) is the host's and its prefix's,
// shared by every account on it.
var ClientKeys = []string{
	"DRIVER", "SEND_INTERVAL", "SEND_BURST", "DRIVER_TIMEOUT", "CONTROL_DELAY", "LOG_LEVEL",
	"MEMBERS_MAX", "CONSULT_MAX", "OUTBOX_SIZE",
	"CHECK_EVENT_LIST_MAX_SIZE", "CHECK_EVENT_HOLD", "POST_EVENT", "POST_EVENT_LIST",
}

// hostKeys are settings of the host's that an account cannot change: a clear refusal is better
// than an account that silently runs with its host's value.
var hostKeys = []string{"PLATFORM", "SUBJECT_PREFIX", "ACCOUNT", "CLIENT", "STREAM_", "MEDIA_", "NATS_"}

// ErrSetting is a setting of an account that cannot be used: its driver unknown, a value that
// does not parse, a setting that is its host's.
var ErrSetting = fmt.Errorf("bad client setting")

// ClientConfig is the configuration of the account spec describes, run by a host whose own
// configuration is base: base's platform, prefix, stream and media store, the account's client
// name (its Account too, as Mojo forced account=client), its settings over base's for
// ClientKeys, and its driver configured from its settings alone (driver.ConfigFrom): the host's
// SIM_*/ONEBOT_* variables play no part, so that an account runs with what it was started
// with, wherever it runs. It returns the settings it does not know, neither ClientKeys, its
// driver's, nor events.ClientDeliveryKeys (Mojo took any key and ignored those it did not
// know; the Controller says which). Errors wrap ErrSetting.
func ClientConfig(base Config, spec events.ClientSpec) (cfg Config, unknown []string, err error) {
	if !events.ValidClient(spec.Client) {
		return Config{}, nil, fmt.Errorf("%w: %w", ErrSetting, events.ErrBadClient(spec.Client))
	}
	base.fill()
	cfg = base
	cfg.Client, cfg.Account = spec.Client, spec.Client
	cfg.DriverConfig = nil
	cfg.PostEventList = nil // the account's own, or the platform's default (fill)
	if events.IsDefaultClient(spec.Client) {
		cfg.Client, cfg.Account = "", base.Account
	}
	known := map[string]bool{}
	own := map[string]string{}
	for k, v := range spec.Settings {
		switch {
		case slices.Contains(ClientKeys, k):
			own[k] = v
			known[k] = true
		case slices.Contains(events.ClientDeliveryKeys, k):
			known[k] = true
		case slices.ContainsFunc(hostKeys, func(h string) bool { return k == h || strings.HasSuffix(h, "_") && strings.HasPrefix(k, h) }):
			return Config{}, nil, fmt.Errorf("%w: %s is the host's setting, not a client's", ErrSetting, k)
		}
	}
	if _, err := config.Apply("", &cfg, own); err != nil {
		return Config{}, nil, fmt.Errorf("%w: %w", ErrSetting, err)
	}
	cfg.fill()
	configFrom := driver.ConfigFrom
	if cfg.Platform == wx.Prefix {
		configFrom = wxdriver.ConfigFrom
	}
	dc, used, err := configFrom(cfg.Driver, spec.Settings)
	if err != nil {
		return Config{}, nil, fmt.Errorf("%w: %w", ErrSetting, err)
	}
	cfg.DriverConfig = dc
	for _, k := range used {
		known[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Settings)) {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	return cfg, unknown, nil
}
