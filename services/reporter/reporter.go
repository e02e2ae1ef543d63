// Package reporter delivers every stored message and event to post_api: it splits each
// target's items by conversation into partitions, each read through its own durable pull
// consumer pinned to one replica at a time, spreads the partitions over the live replicas,
// keeps each conversation in order while different ones go in parallel, POSTs each item, acks
// only after a 2xx, retries with exponential back-off, parks what keeps failing in a
// dead-letter stream, and applies the receivers' answers (reply, shutup) through the API.
package reporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/pkg/infra/wait"
)

// Config is the reporter's configuration, read from the environment. The names are the seeds'.
type Config struct {
	SubjectPrefix string `envconfig:"SUBJECT_PREFIX" default:"qq"`
	// Platform is "qq" (Openqq's reports and answers) or "wx" (Openwx's); when empty, the
	// first token of SUBJECT_PREFIX says ("wx", "wx.alice"), and any other prefix is QQ's.
	Platform string `envconfig:"PLATFORM"`
	// PostAPI is one or more URLs (comma-separated); each receives every item.
	PostAPI []string `envconfig:"POST_API"`
	// PostEvent false leaves only messages; PostEventList names the events that go.
	PostEvent bool `envconfig:"POST_EVENT" default:"true"`
	// Its default is the platform's (events.DefaultPostEventList, the seeds'; and
	// wx.DefaultPostEventList, Openwx's, which adds friend_request), each defined there once.
	PostEventList []string `envconfig:"POST_EVENT_LIST"`
	// PostMediaData adds to a media message's report its bytes in base64 (media_data), read
	// from the media store: Openwx's post_media_data, on by default. In code, false is a
	// choice (as PostEvent's): set it true to have the bytes.
	PostMediaData bool `envconfig:"POST_MEDIA_DATA" default:"true"`
	// Config (embedded: MEDIA_TTL, MEDIA_REPLICAS, …) is the media store's, the same on every
	// service that opens it; the reporter only reads it, by media_id.
	media.Config
	// PostStdout also prints each item as one JSON line on standard output.
	PostStdout bool `envconfig:"POST_STDOUT" default:"false"`
	// Stdout is where POST_STDOUT prints; os.Stdout when nil.
	Stdout io.Writer `ignored:"true"`
	// PostSecret signs each POST: X-Signature: sha1=<hex HMAC-SHA1 of the body>.
	PostSecret string `envconfig:"POST_SECRET"`
	// PostTimeout bounds one POST, answer included.
	PostTimeout time.Duration `envconfig:"POST_TIMEOUT" default:"10s"`
	// PostConcurrency is how many POSTs one replica has in flight per target, over all the
	// target's partitions it delivers.
	PostConcurrency int `envconfig:"POST_CONCURRENCY" default:"16"`
	// PostMaxDeliver is how many times an item is tried before it is dead-lettered.
	PostMaxDeliver int `envconfig:"POST_MAX_DELIVER" default:"10"`
	// PostRetryMin and PostRetryMax bound the exponential back-off between tries.
	PostRetryMin time.Duration `envconfig:"POST_RETRY_MIN" default:"1s"`
	PostRetryMax time.Duration `envconfig:"POST_RETRY_MAX" default:"5m"`
	// PostBackfill is how far back a new target's delivery starts, so that a first run does
	// not miss the login events published just before the reporter came up.
	PostBackfill time.Duration `envconfig:"POST_BACKFILL" default:"10m"`
	// APITimeout bounds the API calls that apply an answer.
	APITimeout time.Duration `envconfig:"API_TIMEOUT" default:"10s"`
	// PostOrder is "conversation": each conversation's items in stored order, one replica
	// delivering each partition of a target at a time; or "none": every item on its own,
	// replicas sharing one consumer (more throughput for one conversation; no order).
	PostOrder string `envconfig:"POST_ORDER" default:"conversation"`
	// PostMaxLag parks, instead of posting, an item older than this when it is first due to a
	// target (a URL used again after a week gets no week-old items). 0 in the environment, or
	// a negative value, posts every item.
	PostMaxLag time.Duration `envconfig:"POST_MAX_LAG" default:"10m" zero:"off"`
	// PostDrainTimeout bounds how long a stopping reporter goes on delivering what is stored
	// (the client's last words: running → stop, then stop).
	PostDrainTimeout time.Duration `envconfig:"POST_DRAIN_TIMEOUT" default:"10s"`
	// PostAckWait is how long the server waits for a replica that holds items and went
	// silent before it hands them to another; a live replica keeps its items however long.
	PostAckWait time.Duration `envconfig:"POST_ACK_WAIT" default:"10s"`
	// PostPinTTL is how long the server keeps a consumer (a target's, or a partition's) pinned
	// to a replica that stopped pulling before it lets another one take over; and how long a
	// replica that stopped renewing its entry in the reporters bucket counts as alive.
	PostPinTTL time.Duration `envconfig:"POST_PIN_TTL" default:"5s"`
	// PostPartitions splits each post_api target's items, by conversation, into this many
	// durable consumers, each delivered by one replica at a time and spread over the live
	// replicas: the most replicas that deliver one target at once. 1 (the default: one
	// reporter, the all-in-one's case, is fastest so) is one consumer per target, one replica
	// delivering it, the others standing by. Ordered only (POST_ORDER=conversation).
	PostPartitions int `envconfig:"POST_PARTITIONS" default:"1"`
	// KVReplicas is how many copies of its KV buckets (the answers and reporters buckets) the
	// NATS cluster keeps: KV_REPLICAS, read by every service that creates a bucket.
	KVReplicas int `envconfig:"KV_REPLICAS" default:"1"`
	// StreamReplicas is how many copies of the dead-letter stream the NATS cluster keeps, as
	// the session's STREAM_REPLICAS are of the event stream's.
	StreamReplicas int `envconfig:"STREAM_REPLICAS" default:"1"`
	// Name tells this replica apart in the X-Openqq-Reporter header of its POSTs and in the
	// reporters bucket; the host name and process id when empty.
	Name string `envconfig:"REPORTER_NAME"`
}

// maxPartitions bounds POST_PARTITIONS: every partition's consumer reads every item of its
// target (the key is not in the subject), so each one costs a pass over the stream.
const maxPartitions = 64

// The values of POST_ORDER.
const (
	OrderConversation = "conversation"
	OrderNone         = "none"
)

// platform is the platform's name: PLATFORM, or the one SUBJECT_PREFIX names (QQ's when
// neither says; New refuses an unknown PLATFORM).
func (c Config) platform() string {
	p, err := events.ResolvePlatform(c.Platform, c.SubjectPrefix)
	if err != nil {
		return events.PlatformQQ
	}
	return p
}

// ordered reports whether each conversation's items go in stored order.
func (c Config) ordered() bool { return c.PostOrder != OrderNone }

// Enabled reports whether the reporter has targets of its own (POST_API, POST_STDOUT), which
// carry every account's items but those of the accounts with a POST_API of their own. Without,
// Run still delivers those.
func (c Config) Enabled() bool { return len(c.targets()) > 0 || c.PostStdout }

func (c Config) targets() []string {
	var out []string
	for _, u := range c.PostAPI {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Reporter delivers the stream to its targets.
type Reporter struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	cfg    Config
	plat   platform
	subj   events.Subjects
	log    *slog.Logger
	client *http.Client
	qq     *client.Client // the API, for the answers
	stdout *stdoutTarget

	id   string // this replica in the reporters bucket: unique per process
	name string // this replica in its POSTs (REPORTER_NAME)

	// base is how the default account's items are delivered, and any account's without a spec.
	base *account
	// accounts are the other accounts' settings, from the clients bucket (accountManager).
	accMu    sync.RWMutex
	accounts map[string]*account

	mu      sync.Mutex
	answers jetstream.KeyValue // applied answers, so a redelivery does not apply one twice
	media   *media.Store       // opened at the first media message
}

// fill gives zero fields their defaults, so that a Config built in code needs only what it
// changes (PostEvent excepted: false is a real choice).
func (c *Config) fill() {
	config.Defaults(c)
	if c.PostEventList == nil {
		c.PostEventList = defaultPostEventList(c.platform())
	}
}

// New validates cfg and builds a reporter on nc. Zero fields take their defaults.
func New(nc *nats.Conn, cfg Config, log *slog.Logger) (*Reporter, error) {
	cfg.fill()
	if !events.ValidPrefix(cfg.SubjectPrefix) {
		return nil, fmt.Errorf("reporter: SUBJECT_PREFIX %q is not a valid subject prefix", cfg.SubjectPrefix)
	}
	if _, err := events.ResolvePlatform(cfg.Platform, cfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("reporter: %w", err)
	}
	switch {
	case cfg.PostTimeout <= 0:
		return nil, errors.New("reporter: POST_TIMEOUT must be positive")
	case cfg.PostConcurrency <= 0:
		return nil, errors.New("reporter: POST_CONCURRENCY must be positive")
	case cfg.PostMaxDeliver <= 0:
		return nil, errors.New("reporter: POST_MAX_DELIVER must be positive")
	case cfg.PostRetryMin <= 0 || cfg.PostRetryMax < cfg.PostRetryMin:
		return nil, errors.New("reporter: want 0 < POST_RETRY_MIN <= POST_RETRY_MAX")
	case cfg.APITimeout <= 0:
		return nil, errors.New("reporter: API_TIMEOUT must be positive")
	case cfg.PostOrder != OrderConversation && cfg.PostOrder != OrderNone:
		return nil, fmt.Errorf("reporter: POST_ORDER %q: want %s or %s", cfg.PostOrder, OrderConversation, OrderNone)
	case cfg.PostAckWait < 3*time.Second/10 || cfg.PostPinTTL < time.Second:
		return nil, errors.New("reporter: want POST_ACK_WAIT >= 0.3s and POST_PIN_TTL >= 1s")
	case cfg.PostPartitions < 1 || cfg.PostPartitions > maxPartitions:
		return nil, fmt.Errorf("reporter: want 1 <= POST_PARTITIONS <= %d", maxPartitions)
	}
	for _, u := range cfg.targets() {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("reporter: POST_API: %w", err)
		}
	}
	for _, name := range cfg.PostEventList {
		if !validToken(name) {
			return nil, fmt.Errorf("reporter: POST_EVENT_LIST: %q is not an event name", name)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("reporter: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Reporter{
		nc: nc, js: js, cfg: cfg, plat: newPlatform(cfg.platform()), subj: events.Subjects{Prefix: cfg.SubjectPrefix},
		log: log.With("svc", "reporter"), client: newHTTPClient(cfg),
		qq: client.New(nc, client.WithPrefix(cfg.SubjectPrefix), client.WithTimeout(cfg.APITimeout)),
		id: newMemberID(), name: cfg.Name, base: newAccount(cfg.baseDelivery()),
	}
	if r.name == "" {
		host, _ := os.Hostname()
		r.name = host + "-" + strconv.Itoa(os.Getpid())
	}
	if cfg.PostStdout {
		r.stdout = newStdoutTarget(cfg.Stdout)
		r.stdout.r = r
	}
	config.Log(r.log, "reporter", &cfg)
	return r, nil
}

// Run delivers until ctx ends, then lets the POSTs in flight finish.
//
// It always follows the clients bucket: an account's own POST_API is delivered whether or not
// the reporter has one (a multi-account deployment may give every account its own and the
// reporter none). Without POST_API and POST_STDOUT, only those accounts' items go anywhere.
func (r *Reporter) Run(ctx context.Context) error {
	view := r.qq.WatchAccounts(ctx, func(err error) { r.log.Warn("clients bucket", "err", err) })
	// The reporter's targets skip the accounts with a POST_API of their own: they start once
	// the bucket was read (or found absent), not to post an item to the wrong receiver.
	select {
	case <-view.Ready():
	case <-ctx.Done():
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	accounts := newAccountManager(r)
	accounts.reconcile(ctx, view.All(), time.Now())
	wg.Go(func() { accounts.run(ctx, view) })
	if !r.cfg.Enabled() {
		r.log.Info("no POST_API (or POST_STDOUT) of its own: delivering only the accounts that name one in the clients bucket",
			"bucket", r.subj.ClientsBucket())
		return nil
	}
	r.log.Info("default account's items", "subjects", r.filterSubjects())
	var targets []target
	for _, u := range r.cfg.targets() {
		targets = append(targets, newHTTPTarget(r, u))
	}
	if r.stdout != nil {
		targets = append(targets, r.stdout)
	}
	var partitioned []string
	for _, t := range targets {
		if r.partitions(t) > 1 {
			partitioned = append(partitioned, t.consumer())
		}
	}
	var members *membership
	for len(partitioned) > 0 && members == nil {
		m, err := r.join(ctx, partitioned)
		if err == nil {
			members = m
			wg.Go(func() { members.run(ctx) })
			break
		}
		r.log.Warn("reporters bucket not ready, retrying", "err", err)
		if wait.Sleep(ctx, time.Second) != nil {
			return nil
		}
	}
	for _, t := range targets {
		wg.Go(func() { r.serve(ctx, t, members) })
	}
	return nil
}

// filterSubjects are the subjects of the default account's items the reporter's settings
// deliver: every message, and the listed events unless POST_EVENT is off (account.wants, per
// item, is the rule; the consumers read every account's items).
func (r *Reporter) filterSubjects() []string {
	var out []string
	seen := map[string]bool{}
	plat := r.plat
	if plat == nil {
		plat = newPlatform(r.cfg.platform())
	}
	for _, t := range plat.messageTypes() {
		seen[t] = true
		out = append(out, r.subj.Event(t))
	}
	if r.cfg.PostEvent {
		for _, e := range r.cfg.PostEventList {
			e = strings.TrimSpace(e)
			if e != "" && !seen[e] && !plat.isMessageType(e) {
				seen[e] = true
				out = append(out, r.subj.Event(e))
			}
		}
	}
	return out
}

func validToken(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && !strings.ContainsAny(s, ".*> \t")
}
