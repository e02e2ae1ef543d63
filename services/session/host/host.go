// Package host runs a session host: one process (or one prefix of the all-in-one) that runs
// any number of accounts of one subject prefix, each what a single-account session ran before
// (session.New with its client name). The accounts' desired state is the clients bucket
// (events.ClientSpec, one key per client); which host runs one is its lease in the leases
// bucket (events.ClientLease, kept alive by its host, gone with the bucket's TTL when the host
// is). Accounts are placed by rendezvous hashing over the live hosts (the hosts bucket), so
// they spread as hosts join and move when one leaves or dies.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/session"
)

// Config is the host's own configuration (the accounts' is session.Config).
type Config struct {
	// ID names the host in the hosts bucket and in its leases; unset, hostname-pid.
	ID string `envconfig:"HOST_ID"`
	// LeaseTTL is how long an account's lease lives without renewal: the bound on how long
	// the accounts of a dead or partitioned host stay down before another host runs them.
	// Renewals happen every LeaseTTL/3.
	LeaseTTL time.Duration `envconfig:"LEASE_TTL" default:"10s"`
	// DefaultClient makes the host declare the default account from its own environment (the
	// session variables, as a single-account session ran it) and run it when it holds its
	// lease. Every host with the same environment may declare it: exactly one runs it.
	// A boolean ("true", "false", "1", "0", ...) kept as a string so that a Config built in
	// code takes the default too (config.Defaults leaves booleans alone).
	DefaultClient Toggle `envconfig:"DEFAULT_CLIENT" default:"true"`
	// KVReplicas is the replicas of the buckets the host creates (clients, leases, hosts).
	KVReplicas int `envconfig:"KV_REPLICAS" default:"1"`
	// MaxClients bounds the accounts start_client may create, across every host of the
	// prefix (Mojo's max_clients, without its off-by-one): the Controller's (every host serves
	// it, services/session/controller).
	MaxClients int `envconfig:"MAX_CLIENTS" default:"100"`
}

// Toggle is a boolean setting whose default is true, in the environment and in code alike.
type Toggle string

// On reads t; one that does not parse is off (fill refuses it first).
func (t Toggle) On() bool {
	on, err := strconv.ParseBool(string(t))
	return err == nil && on
}

// The values of a Toggle set in code.
const (
	On  Toggle = "true"
	Off Toggle = "false"
)

// Info is a host's value in the hosts bucket (events.HostsBucket), under the key
// <prefix>.<id>: the live hosts of a prefix are the keys under <prefix>.
type Info struct {
	ID  string `json:"id"`
	PID int    `json:"pid"`
	// Hostname is the machine's: a host that finds the key of a dead process of its own
	// machine (a predecessor killed and restarted) takes its leases at once.
	Hostname string   `json:"hostname,omitempty"`
	Prefixes []string `json:"prefixes"`
	Accounts int      `json:"accounts"`
	// Default says the host declares the default account from its own environment: only such
	// hosts run it.
	Default bool `json:"default,omitempty"`
}

// DefaultID is hostname-pid, with what a KV key cannot hold replaced by '-'.
func DefaultID() string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "host"
	}
	return SafeID(fmt.Sprintf("%s-%d", name, os.Getpid()))
}

// SafeID maps id onto the characters of a KV key token: letters, digits, '-' and '_'.
func SafeID(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, id)
}

// ErrConfig is a host configuration that cannot run.
var ErrConfig = errors.New("session host: bad configuration")

// fill validates c and gives its zero fields their defaults.
func (c *Config) fill() error {
	if c.ID == "" {
		c.ID = DefaultID()
	}
	if c.ID != SafeID(c.ID) {
		return fmt.Errorf("%w: HOST_ID %q: use letters, digits, '-' and '_' only", ErrConfig, c.ID)
	}
	if c.DefaultClient == "" {
		c.DefaultClient = On
	}
	if _, err := strconv.ParseBool(string(c.DefaultClient)); err != nil {
		return fmt.Errorf("%w: DEFAULT_CLIENT %q is not a boolean", ErrConfig, c.DefaultClient)
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.LeaseTTL < 300*time.Millisecond {
		return fmt.Errorf("%w: LEASE_TTL %s is below 300ms", ErrConfig, c.LeaseTTL)
	}
	if c.KVReplicas <= 0 {
		c.KVReplicas = 1
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 100
	}
	return nil
}

// buckets opens (creating if absent) the prefix's clients and leases buckets and the hosts
// bucket. A bucket that exists is used as it is, so hosts with different settings do not
// fight over its configuration.
func buckets(ctx context.Context, js jetstream.JetStream, subj events.Subjects, c Config) (clients, leases, hosts jetstream.KeyValue, err error) {
	// Hosts starting together race to create the buckets, and on a cluster a JetStream API
	// reply can be lost while its meta leader is busy: each attempt has its own time-out.
	open := func(cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		var kv jetstream.KeyValue
		err := natsconn.RetryAPI(ctx, func(ctx context.Context) error {
			var err error
			kv, err = js.KeyValue(ctx, cfg.Bucket)
			if errors.Is(err, jetstream.ErrBucketNotFound) {
				kv, err = js.CreateKeyValue(ctx, cfg)
				if errors.Is(err, jetstream.ErrBucketExists) {
					kv, err = js.KeyValue(ctx, cfg.Bucket)
				}
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
		return kv, nil
	}
	// A limit marker makes an expired key show up in a watcher at once (a purge), which is
	// how the other hosts learn of a dead host's leases without polling.
	marker := max(time.Second, c.LeaseTTL)
	if clients, err = open(jetstream.KeyValueConfig{
		Bucket: subj.ClientsBucket(), Description: "openqq: the accounts' desired state (events.ClientSpec)",
		History: 1, Storage: jetstream.FileStorage, Replicas: c.KVReplicas,
	}); err != nil {
		return
	}
	if leases, err = open(jetstream.KeyValueConfig{
		Bucket: subj.LeasesBucket(), Description: "openqq: which session host runs each account (events.ClientLease)",
		History: 1, TTL: c.LeaseTTL, LimitMarkerTTL: marker, Storage: jetstream.FileStorage, Replicas: c.KVReplicas,
	}); err != nil {
		return
	}
	hosts, err = open(jetstream.KeyValueConfig{
		Bucket: events.HostsBucket, Description: "openqq: the live session hosts",
		History: 1, TTL: c.LeaseTTL, LimitMarkerTTL: marker, Storage: jetstream.FileStorage, Replicas: c.KVReplicas,
	})
	return
}

// accountConfig is the configuration spec's account runs with on a host whose own is base:
// the default account declared by this host's environment runs from it, any other from its
// spec (session.ClientConfig).
func accountConfig(base session.Config, spec events.ClientSpec, declared bool) (session.Config, error) {
	if events.IsDefaultClient(spec.Client) && spec.Source == events.SourceEnv {
		if !declared {
			return session.Config{}, fmt.Errorf("%w: the default account runs from a host's environment", session.ErrSetting)
		}
		cfg := base
		cfg.Client = ""
		return cfg, nil
	}
	cfg, _, err := session.ClientConfig(base, spec)
	return cfg, err
}

// natsUp reports whether nc can carry requests now.
func natsUp(nc *nats.Conn) bool { return nc.Status() == nats.CONNECTED }
