// Package controller is Mojo's Controller API (MOJO-OPENWX.md §1) on NATS: start_client,
// stop_client, check_client and get_qrcode of one subject prefix, served as the micro service
// openqq-controller (openwx-controller for WeChat) on <prefix>.controller.<route> by every
// session host, in one queue group, so that any host answers any call.
//
// The Controller keeps no state of its own: the accounts' desired state is the clients bucket
// (events.ClientSpec per client name, Mojo's backend.dat), which start_client and stop_client
// write and the session hosts watch to run what it holds; their state is the leases bucket
// (events.ClientLease), which the hosts write and check_client reads. An account's own
// routes (its get_qrcode's image) are asked of the engine that runs it, wherever that is.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/engine"
)

// Config is the Controller's configuration. MAX_CLIENTS and KV_REPLICAS come from the
// environment (a binary lists the struct among its specs); the rest is the host's.
type Config struct {
	// MaxClients bounds the accounts start_client may create, across every host of the
	// prefix (Mojo's max_clients, without its off-by-one). The default account a host
	// declares from its own environment does not count.
	MaxClients int `envconfig:"MAX_CLIENTS" default:"100"`
	// KVReplicas are the replicas of the clients bucket when the Controller creates it (on a
	// NATS cluster: 3).
	KVReplicas int `envconfig:"KV_REPLICAS" default:"1"`
	// Session is the host's own session configuration: its platform and subject prefix are
	// the Controller's, and every account's configuration is built over it
	// (session.ClientConfig), as the host will build it.
	Session session.Config `ignored:"true"`
	// Host is the id of the host serving the Controller, in its micro service's metadata.
	Host string `ignored:"true"`
}

// timeouts of the Controller's calls.
const (
	// callTimeout bounds one route's work: a few key-value operations, or the question to an
	// account's engine.
	callTimeout = 10 * time.Second
	// qrcodeTimeout bounds the account's answer to get_qrcode, which it has in memory.
	qrcodeTimeout = 5 * time.Second
	// maxInflight bounds the calls handled at once.
	maxInflight = 64
)

// Controller serves the Controller routes of one prefix.
type Controller struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	cfg  Config
	subj events.Subjects
	log  *slog.Logger

	clients jetstream.KeyValue // set by Serve
	revs    *revisions         // the clients bucket's keys, watched: MAX_CLIENTS (set by Serve)

	leasesMu sync.Mutex
	leases   jetstream.KeyValue // nil until the hosts have created the bucket

	inflight chan struct{}
	calls    sync.WaitGroup
	ready    chan struct{}
}

// New makes a Controller; Serve serves it. Zero fields of cfg take their defaults.
func New(nc *nats.Conn, cfg Config, log *slog.Logger) (*Controller, error) {
	config.Defaults(&cfg)
	if cfg.MaxClients < 1 {
		return nil, fmt.Errorf("controller: MAX_CLIENTS=%d: want at least 1", cfg.MaxClients)
	}
	if cfg.KVReplicas < 1 {
		return nil, fmt.Errorf("controller: KV_REPLICAS=%d: want at least 1", cfg.KVReplicas)
	}
	cfg.Session = cfg.Session.Filled()
	subj := events.Subjects{Prefix: cfg.Session.SubjectPrefix}
	if !events.ValidPrefix(subj.Prefix) {
		return nil, fmt.Errorf("controller: SUBJECT_PREFIX %q is not a valid subject prefix", subj.Prefix)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Controller{
		nc: nc, js: js, cfg: cfg, subj: subj,
		log:      log.With("svc", "controller", "prefix", subj.Prefix),
		inflight: make(chan struct{}, maxInflight),
		ready:    make(chan struct{}),
	}, nil
}

// ServiceName is the name of the Controller's micro service: openqq-controller for QQ,
// openwx-controller for WeChat.
func (c *Controller) ServiceName() string { return "open" + c.cfg.Session.Platform + "-controller" }

// Subjects are the subjects of the Controller's prefix.
func (c *Controller) Subjects() events.Subjects { return c.subj }

// Ready is closed once Serve answers the Controller routes.
func (c *Controller) Ready() <-chan struct{} { return c.ready }

// Serve opens the clients bucket (creating it if needed) and serves the Controller routes
// until ctx ends; then it waits for the calls under way.
func (c *Controller) Serve(ctx context.Context) error {
	kv, err := OpenClients(ctx, c.js, c.subj, c.cfg.KVReplicas)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	c.clients = kv
	c.revs = newRevisions()
	if err := c.revs.follow(ctx, kv); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	name := c.ServiceName()
	svc, err := micro.AddService(c.nc, micro.Config{
		Name:        name,
		Version:     session.Version,
		Description: "Mojo's Controller API for the accounts of " + c.subj.Prefix + " (start_client, stop_client, check_client, get_qrcode)",
		QueueGroup:  name,
		Metadata:    map[string]string{"prefix": c.subj.Prefix, "host": c.cfg.Host, "platform": c.cfg.Session.Platform},
	})
	if err != nil {
		return fmt.Errorf("controller: add micro service: %w", err)
	}
	g := svc.AddGroup(c.subj.ControllerGroup())
	handlers := map[string]func(context.Context, events.Params) (any, error){
		events.RouteStartClient: c.startClient,
		events.RouteStopClient:  c.stopClient,
		events.RouteCheckClient: c.checkClient,
		events.RouteGetQRCode:   c.getQRCode,
	}
	for _, route := range events.ControllerRoutes {
		if err := g.AddEndpoint(route, c.endpoint(ctx, route, handlers[route])); err != nil {
			_ = svc.Stop()
			return fmt.Errorf("controller: add endpoint %s: %w", route, err)
		}
	}
	// Ready means answering: the server has the subscriptions.
	if err := c.nc.Flush(); err != nil {
		c.log.Warn("flush", "err", err)
	}
	close(c.ready)
	c.log.Info("controller started", "service", name, "subjects", c.subj.Controller("*"),
		"clients", kv.Bucket(), "max_clients", c.cfg.MaxClients)
	<-ctx.Done()
	err = svc.Stop()
	c.calls.Wait()
	if err != nil {
		return fmt.Errorf("controller: stop micro service: %w", err)
	}
	return nil
}

// endpoint runs each call on its own goroutine (up to maxInflight at once): a call waits on
// the key-value store or on an account, and must not hold up the next.
func (c *Controller) endpoint(ctx context.Context, route string, h func(context.Context, events.Params) (any, error)) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		c.inflight <- struct{}{}
		c.calls.Add(1)
		go func() {
			defer func() { <-c.inflight; c.calls.Done() }()
			c.handle(ctx, route, h, req)
		}()
	})
}

// handle answers one call as the session's routes answer (engine.Respond): a reply value as
// JSON, an *events.Status error as its JSON with its code, engine.Bytes as they are, any other
// error as an internal error, logged.
func (c *Controller) handle(ctx context.Context, route string, h func(context.Context, events.Params) (any, error), req micro.Request) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	body, code, httpStatus, hdr := c.call(ctx, route, h, req.Data())
	if err := engine.Respond(req, body, code, httpStatus, hdr); err != nil {
		c.log.Warn("reply", "route", route, "err", err)
	}
}

func (c *Controller) call(ctx context.Context, route string, h func(context.Context, events.Params) (any, error), data []byte) (body []byte, code, httpStatus int, hdr micro.Headers) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("handler panicked", "route", route, "panic", r)
			body, code, httpStatus, hdr = events.MustMarshal(events.ErrInternal), events.CodeInternal, 0, nil
		}
	}()
	var reply any
	p, err := events.DecodeParams(data)
	if err != nil {
		err = events.ErrBadRequest("%v", err)
	} else {
		reply, err = h(ctx, p)
	}
	if err != nil {
		var st *events.Status
		if errors.As(err, &st) {
			reply, code = st, st.Code
		} else {
			c.log.Error("controller call failed", "route", route, "err", err)
			reply, code = events.ErrInternal, events.CodeInternal
		}
	}
	if b, ok := reply.(engine.Bytes); ok {
		if b.Code != 0 {
			code = b.Code
		}
		h := micro.Headers{}
		if b.ContentType != "" {
			h[events.HeaderContentType] = []string{b.ContentType}
		}
		if b.CacheControl != "" {
			h[events.HeaderCacheControl] = []string{b.CacheControl}
		}
		return b.Body, code, b.HTTPStatus, h
	}
	body, err = events.Marshal(reply)
	if err != nil {
		c.log.Error("encode reply", "route", route, "err", err)
		return events.MustMarshal(events.ErrInternal), events.CodeInternal, 0, nil
	}
	return body, code, 0, nil
}

// leasesKV is the leases bucket, nil while no host has created it (then no account runs).
func (c *Controller) leasesKV(ctx context.Context) (jetstream.KeyValue, error) {
	c.leasesMu.Lock()
	defer c.leasesMu.Unlock()
	if c.leases != nil {
		return c.leases, nil
	}
	kv, err := c.js.KeyValue(ctx, c.subj.LeasesBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leases bucket %s: %w", c.subj.LeasesBucket(), err)
	}
	c.leases = kv
	return kv, nil
}
