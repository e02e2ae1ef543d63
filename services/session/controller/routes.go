package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/engine"
)

// StateNoLease is the state check_client gives an account no host runs yet (no lease):
// Mojo's first state.
const StateNoLease = events.StateInit

// clientParam is the account a call names: ErrClientNotFound without one (Mojo's answer to a
// missing client=), events.ErrBadClient for a name that cannot be one.
func clientParam(p events.Params) (string, error) {
	client := p[events.ParamClient]
	if client == "" {
		return "", events.ErrClientNotFound
	}
	if !events.ValidClient(client) {
		return "", events.ErrBadClient(client)
	}
	return client, nil
}

// existing reads the spec of the client p names: ErrClientNotFound without client=, the bad
// name's error, ErrClientNotExists for a client that has none.
func (c *Controller) existing(ctx context.Context, route string, p events.Params) (string, jetstream.KeyValueEntry, error) {
	client, err := clientParam(p)
	if err != nil {
		return "", nil, err
	}
	e, err := c.clients.Get(ctx, client)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil, events.ErrClientNotExists
	}
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", route, client, err)
	}
	return client, e, nil
}

// account is the account name of client, as get_client_info reports it: the client's name
// (Mojo forced account=client), the host's ACCOUNT for the default account.
func (c *Controller) account(client string) string {
	if events.IsDefaultClient(client) {
		return c.cfg.Session.Account
	}
	return client
}

// entry is an account's entry in start_client's and stop_client's replies (Mojo echoed the
// backend entry: every parameter): its settings (masked, lower-case), client, account and
// start_time.
func (c *Controller) entry(spec events.ClientSpec) map[string]any {
	m := Entry(spec.Settings)
	m["client"] = spec.Client
	m["account"] = c.account(spec.Client)
	m["start_time"] = spec.StartTime
	return m
}

// reply is m with the code and status of a reply.
func reply(m map[string]any, code int, status string) map[string]any {
	m["code"], m["status"] = code, status
	return m
}

// exists is start_client's answer for a client already in the bucket: code 0, Mojo's
// "client already exists", its entry beside.
func (c *Controller) exists(e jetstream.KeyValueEntry) map[string]any {
	var spec events.ClientSpec
	if err := json.Unmarshal(e.Value(), &spec); err != nil {
		return reply(map[string]any{"client": e.Key(), "error": "settings do not parse: " + err.Error()}, events.CodeOK, events.StatusClientExists)
	}
	spec.Client = e.Key()
	return reply(c.entry(spec), events.CodeOK, events.StatusClientExists)
}

// startClient is start_client?client=NAME[&setting=value...]: it stores the account's
// ClientSpec in the clients bucket, where a session host takes it up. Its settings are checked
// first (validate); the unknown ones are left out and named in the reply ("ignored"). At
// most MaxClients accounts exist, across every host: the key is created, then kept only if
// fewer than MaxClients other accounts have an older revision (the bucket's order, the same
// for every host), so that two hosts taking the last place at once do not both keep it.
func (c *Controller) startClient(ctx context.Context, p events.Params) (any, error) {
	client, err := clientParam(p)
	if err != nil {
		return nil, err
	}
	if e, err := c.clients.Get(ctx, client); err == nil {
		return c.exists(e), nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("start_client %s: %w", client, err)
	}
	settings, err := Settings(client, p)
	if err != nil {
		return nil, err
	}
	spec := events.ClientSpec{Client: client, Settings: settings, StartTime: time.Now().Unix(), Source: events.SourceController}
	unknown, err := validate(c.cfg.Session, spec)
	if err != nil {
		c.log.Info("start_client refused", "client", client, "err", err)
		return nil, err
	}
	if len(unknown) > 0 {
		// Names only: a value may be a secret under a name no rule knows.
		c.log.Warn("start_client: settings no part of the account uses, ignored", "client", client, "settings", unknown)
		spec.Settings = withoutKeys(settings, unknown)
	}
	counted := !events.IsDefaultClient(client)
	if counted {
		// Most refusals happen here, before the key exists for anyone to see.
		if n, err := c.countBefore(ctx, 0); err != nil {
			return nil, err
		} else if n >= c.cfg.MaxClients {
			return nil, events.ErrMaxClientsExceed
		}
	}
	val, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	rev, err := c.clients.Create(ctx, client, val)
	if errors.Is(err, jetstream.ErrKeyExists) {
		if e, gerr := c.clients.Get(ctx, client); gerr == nil {
			return c.exists(e), nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("start_client %s: %w", client, err)
	}
	if counted {
		n, err := c.countBefore(ctx, rev)
		if err == nil && n >= c.cfg.MaxClients {
			err = events.ErrMaxClientsExceed
		}
		if err != nil {
			if perr := c.clients.Purge(context.WithoutCancel(ctx), client, jetstream.LastRevision(rev)); perr != nil {
				c.log.Error("start_client: could not take back a client over MAX_CLIENTS", "client", client, "err", perr)
			}
			return nil, err
		}
	}
	c.log.Info("client started", "client", client, "settings", slices.Sorted(maps.Keys(spec.Settings)), "revision", rev)
	out := reply(c.entry(spec), events.CodeOK, "success")
	if len(unknown) > 0 {
		out["ignored"] = lowered(unknown)
	}
	return out, nil
}

// countBefore counts the accounts that count against MaxClients (every one but the default
// account) whose key's revision is below rev (every one for rev 0). A revision is the
// position of its write in the bucket, the same for every host, and a spec is never rewritten
// (start_client creates it, stop_client purges it), so that its revision is its creation.
func (c *Controller) countBefore(ctx context.Context, rev uint64) (int, error) {
	entries, err := snapshot(ctx, c.clients, jetstream.MetaOnly())
	if err != nil {
		return 0, fmt.Errorf("count clients: %w", err)
	}
	n := 0
	for _, e := range entries {
		if !events.IsDefaultClient(e.Key()) && (rev == 0 || e.Revision() < rev) {
			n++
		}
	}
	return n, nil
}

// stopClient is stop_client?client=NAME: it purges the account's ClientSpec (its settings,
// tokens included, leave the bucket's history too); the host running the account stops it.
func (c *Controller) stopClient(ctx context.Context, p events.Params) (any, error) {
	client, e, err := c.existing(ctx, events.RouteStopClient, p)
	if err != nil {
		return nil, err
	}
	if err := c.clients.Purge(ctx, client, jetstream.LastRevision(e.Revision())); err != nil {
		// Stopped by another call meanwhile, or started again: say what is there now.
		if _, gerr := c.clients.Get(ctx, client); errors.Is(gerr, jetstream.ErrKeyNotFound) {
			return nil, events.ErrClientNotExists
		}
		return nil, fmt.Errorf("stop_client %s: %w", client, err)
	}
	c.log.Info("client stopped", "client", client)
	var spec events.ClientSpec
	if json.Unmarshal(e.Value(), &spec) != nil {
		spec = events.ClientSpec{}
	}
	spec.Client = client
	return reply(c.entry(spec), events.CodeOK, "success"), nil
}

// CheckReply is check_client's reply: Mojo's {"code":0,"client":[...]}, one element per
// account sorted by name (see element).
type CheckReply struct {
	Code   int              `json:"code"`
	Client []map[string]any `json:"client"`
}

// checkClient is check_client[?client=NAME]: every account's element (one, with client=).
func (c *Controller) checkClient(ctx context.Context, p events.Params) (any, error) {
	leases, err := c.leasesKV(ctx)
	if err != nil {
		return nil, err
	}
	if _, one := p[events.ParamClient]; one && p[events.ParamClient] != "" {
		client, e, err := c.existing(ctx, events.RouteCheckClient, p)
		if err != nil {
			return nil, err
		}
		var lease []byte
		if leases != nil {
			switch l, err := leases.Get(ctx, client); {
			case err == nil:
				lease = l.Value()
			case !errors.Is(err, jetstream.ErrKeyNotFound):
				return nil, fmt.Errorf("check_client %s: lease: %w", client, err)
			}
		}
		return CheckReply{Code: events.CodeOK, Client: []map[string]any{c.element(client, e.Value(), lease)}}, nil
	}
	specs, err := snapshot(ctx, c.clients)
	if err != nil {
		return nil, fmt.Errorf("check_client: %w", err)
	}
	held := map[string][]byte{}
	if leases != nil {
		ls, err := snapshot(ctx, leases)
		if err != nil {
			return nil, fmt.Errorf("check_client: leases: %w", err)
		}
		for _, l := range ls {
			held[l.Key()] = l.Value()
		}
	}
	slices.SortFunc(specs, func(a, b jetstream.KeyValueEntry) int { return strings.Compare(a.Key(), b.Key()) })
	out := CheckReply{Code: events.CodeOK, Client: make([]map[string]any, 0, len(specs))}
	for _, e := range specs {
		out.Client = append(out.Client, c.element(e.Key(), e.Value(), held[e.Key()]))
	}
	return out, nil
}

// element is one account in check_client's reply, the fields of Mojo's state file that mean
// something here: client, account, state and previous_state (from its lease; StateNoLease and
// host "" while no host runs it), start_time, version, os, pid and host of the process
// running it, since (when that host took it), qrcode (it waits for a scan: get_qrcode has an
// image), driver and source, and its settings (masked, lower-case). A value of the bucket
// that does not parse is said in "error", and the rest of the element and the list still
// come.
func (c *Controller) element(client string, specData, leaseData []byte) map[string]any {
	var problems []string
	var spec events.ClientSpec
	if err := json.Unmarshal(specData, &spec); err != nil {
		problems = append(problems, "settings do not parse: "+err.Error())
		spec = events.ClientSpec{}
	}
	m := Entry(spec.Settings)
	driver := spec.Setting("DRIVER")
	if driver == "" {
		driver = c.cfg.Session.Driver
	}
	lease := events.ClientLease{State: StateNoLease}
	if leaseData != nil {
		if err := json.Unmarshal(leaseData, &lease); err != nil {
			problems = append(problems, "lease does not parse: "+err.Error())
			lease = events.ClientLease{State: StateNoLease}
		}
	}
	for k, v := range map[string]any{
		"client": client, "account": c.account(client), "start_time": spec.StartTime, "source": spec.Source,
		"driver": driver, "version": session.Version, "os": runtime.GOOS,
		"state": lease.State, "previous_state": lease.PreviousState, "host": lease.Host, "pid": lease.PID,
		"since": lease.Since, "qrcode": lease.QRCode,
	} {
		m[k] = v
	}
	if len(problems) > 0 {
		m["error"] = strings.Join(problems, "; ")
	}
	return m
}

// qrcodeType is get_qrcode's Content-Type, Mojo's: image/png for QQ, image/jpg for WeChat.
func (c *Controller) qrcodeType() string {
	if c.cfg.Session.Platform == wx.Prefix {
		return "image/jpg"
	}
	return "image/png"
}

// noQRCode is get_qrcode's answer when there is no image: HTTP 404, an empty body.
func noQRCode() engine.Bytes {
	return engine.Bytes{ContentType: "text/plain; charset=utf-8", CacheControl: engine.QRCodeNoCache,
		Code: events.CodeNotFound, HTTPStatus: http.StatusNotFound}
}

// getQRCode is get_qrcode?client=NAME: the image of the QR code the account waits to have
// scanned, asked of the engine that runs it (its own get_qrcode), with Mojo's type and
// Cache-Control: no-cache; HTTP 404 with an empty body when there is none (the account logged
// in, or no host runs it).
func (c *Controller) getQRCode(ctx context.Context, p events.Params) (any, error) {
	client, _, err := c.existing(ctx, events.RouteGetQRCode, p)
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(c.subj.ForClient(client).API(events.RouteGetQRCode))
	msg.Data = []byte("{}")
	rctx, cancel := context.WithTimeout(ctx, qrcodeTimeout)
	defer cancel()
	m, err := c.nc.RequestMsgWithContext(rctx, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return noQRCode(), nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, events.ErrTimeout
	case err != nil:
		return nil, fmt.Errorf("get_qrcode %s: %w", client, err)
	}
	if status := m.Header.Get(micro.ErrorCodeHeader); status != "" {
		if s, _ := strconv.Atoi(status); s == http.StatusNotFound {
			return noQRCode(), nil
		}
		code, _ := strconv.Atoi(m.Header.Get(micro.ErrorHeader))
		httpStatus, _ := strconv.Atoi(status)
		return engine.Bytes{Body: m.Data, ContentType: m.Header.Get(events.HeaderContentType), Code: code, HTTPStatus: httpStatus}, nil
	}
	return engine.Bytes{ContentType: c.qrcodeType(), CacheControl: engine.QRCodeNoCache, Body: m.Data}, nil
}
