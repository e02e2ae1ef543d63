package deploy

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/kelseyhightower/envconfig"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/logging"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/poller"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	// The drivers openqq-session offers, whose variables it reads too.
	"github.com/openqq/openqq/services/session/drivers"
)

func load(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithName("openqq"), cli.WithWorkingDirectory(".."), cli.WithEnv([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// keys are the environment variables a service reads.
func keys(t *testing.T, specs ...any) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, s := range append([]any{&logging.Config{}, &health.Config{}, &natsconn.Config{}}, specs...) {
		var b bytes.Buffer
		if err := envconfig.Usagef("", s, &b, "{{range .}}{{usage_key .}}\n{{end}}"); err != nil {
			t.Fatal(err)
		}
		for _, k := range strings.Fields(b.String()) {
			out[k] = true
		}
	}
	return out
}

// sessionKeys are the variables openqq-session reads: its own and its drivers', QQ's and
// WeChat's.
func sessionKeys(t *testing.T) map[string]bool {
	return keys(t, append([]any{&session.Config{}}, drivers.EnvSpecs()...)...)
}

// binaryOf is the binary a compose service runs: session-wx runs openqq-session.
func binaryOf(service string) string { return strings.TrimSuffix(service, "-wx") }

func TestComposeServices(t *testing.T) {
	p := load(t)
	apps := map[string]map[string]bool{
		"session":     sessionKeys(t),
		"gateway":     keys(t, &gateway.Config{}),
		"reporter":    keys(t, &reporter.Config{}),
		"poller":      keys(t, &poller.Config{}),
		"session-wx":  sessionKeys(t),
		"reporter-wx": keys(t, &reporter.Config{}),
		"poller-wx":   keys(t, &poller.Config{}),
	}
	want := []string{"gateway", "nats-1", "nats-2", "nats-3", "poller", "poller-wx", "reporter", "reporter-wx", "session", "session-wx"}
	if got := p.ServiceNames(); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for name, known := range apps {
		t.Run(name, func(t *testing.T) {
			s := p.Services[name]
			bin := binaryOf(name)
			if s.Build == nil || s.Build.Dockerfile != "Dockerfile" || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != bin {
				t.Errorf("build %+v: want the Dockerfile with SERVICE=%s", s.Build, bin)
			}
			if _, err := os.Stat("../services/" + bin + "/cmd/openqq-" + bin); err != nil {
				t.Errorf("the Dockerfile builds ./services/%s/cmd/openqq-%s: %v", bin, bin, err)
			}
			if s.HealthCheck == nil || !slices.Equal([]string(s.HealthCheck.Test), []string{"CMD", "/app", "healthcheck"}) {
				t.Errorf("health check %+v: want the binary's healthcheck subcommand", s.HealthCheck)
			}
			if s.Restart != "unless-stopped" {
				t.Errorf("restart %q", s.Restart)
			}
			for _, node := range natsNodes {
				if d, ok := s.DependsOn[node]; !ok || d.Condition != types.ServiceConditionHealthy {
					t.Errorf("depends_on %+v: want %s healthy", s.DependsOn, node)
				}
			}
			for _, k := range []string{"NATS_URL", "SUBJECT_PREFIX", "HEALTH_ADDR"} {
				if s.Environment[k] == nil {
					t.Errorf("environment lacks %s", k)
				}
			}
			// Every node's URL, so that the service rides out the loss of any one.
			if v := s.Environment["NATS_URL"]; v == nil || !slices.Equal(urlHosts(t, *v), natsNodes) {
				t.Errorf("NATS_URL %s: want nats://<node>:4222 for each of %v", str(v), natsNodes)
			}
			// Every variable set must be one the service reads: a typo would be silently ignored.
			for k := range s.Environment {
				if !known[k] {
					t.Errorf("environment sets %s, which openqq-%s does not read", k, bin)
				}
			}
		})
	}
}

// The gateway publishes 5000 and 3000 (Openwx bots' default port), both on loopback by
// default, and listens on both in the container.
func TestComposeGatewayPort(t *testing.T) {
	gw := load(t).Services["gateway"]
	if len(gw.Ports) != 2 {
		t.Fatalf("gateway ports %+v, want 5000:5000 and 3000:3000", gw.Ports)
	}
	for i, port := range []uint32{5000, 3000} {
		if gw.Ports[i].Target != port || gw.Ports[i].Published != strconv.Itoa(int(port)) {
			t.Errorf("gateway port %+v, want %d:%d", gw.Ports[i], port, port)
		}
		// Safe by default: the API is published on loopback unless told otherwise.
		if ip := gw.Ports[i].HostIP; ip != "127.0.0.1" {
			t.Errorf("gateway port %d published on %q, want 127.0.0.1 by default", port, ip)
		}
	}
	if _, ok := gw.Environment["ACCESS_TOKEN"]; !ok {
		t.Error("the gateway's environment does not name ACCESS_TOKEN")
	}
	if v := gw.Environment["HTTP_ADDR"]; v == nil || *v != "0.0.0.0:5000,0.0.0.0:3000" {
		t.Errorf("HTTP_ADDR %v: the container must listen on all interfaces, on both ports", v)
	}
	if v := gw.Environment["WX_SUBJECT_PREFIX"]; v == nil || *v != "wx" {
		t.Errorf("WX_SUBJECT_PREFIX %v: /openwx must reach session-wx", v)
	}
}

// The WeChat account's services run on the wx platform and prefix; the media store has one
// configuration wherever it is opened; WeChat's post_api and poll_api are their own variables.
func TestComposeWX(t *testing.T) {
	p := load(t)
	for _, name := range []string{"session-wx", "reporter-wx", "poller-wx"} {
		env := p.Services[name].Environment
		for k, want := range map[string]string{"PLATFORM": "wx", "SUBJECT_PREFIX": "wx"} {
			if v := env[k]; v == nil || *v != want {
				t.Errorf("%s: %s %v, want %s", name, k, v, want)
			}
		}
	}
	for _, name := range []string{"session", "reporter", "poller", "gateway"} {
		if v := p.Services[name].Environment["SUBJECT_PREFIX"]; v == nil || *v != "qq" {
			t.Errorf("%s: SUBJECT_PREFIX %v, want qq", name, v)
		}
		if v := p.Services[name].Environment["PLATFORM"]; v != nil {
			t.Errorf("%s: PLATFORM %q: QQ's services keep their default", name, *v)
		}
	}
	media := p.Services["gateway"].Environment
	for _, name := range []string{"session-wx", "reporter-wx"} {
		for _, k := range []string{"MEDIA_MAX_BYTES", "MEDIA_TTL", "MEDIA_REPLICAS"} {
			v, g := p.Services[name].Environment[k], media[k]
			if v == nil || g == nil || *v != *g {
				t.Errorf("%s: %s %v, gateway's %v: one media store, one configuration", name, k, v, g)
			}
		}
	}
	// ${WX_POST_API}, ${WX_POLL_API}: interpolated from an empty environment, the variables
	// are there, empty.
	if v, ok := p.Services["reporter-wx"].Environment["POST_API"]; !ok || v == nil {
		t.Error("reporter-wx: no POST_API (${WX_POST_API})")
	}
	if v, ok := p.Services["poller-wx"].Environment["POLL_API"]; !ok || v == nil {
		t.Error("poller-wx: no POLL_API (${WX_POLL_API})")
	}
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"POST_API: ${WX_POST_API:-}", "POLL_API: ${WX_POLL_API:-}"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("docker-compose.yml lacks %q", want)
		}
	}
}

// `docker compose up --scale reporter=5` needs replicas that can run side by side: no fixed
// container name and no published port.
func TestComposeReporterScales(t *testing.T) {
	p := load(t)
	for _, name := range []string{"reporter", "reporter-wx"} {
		r := p.Services[name]
		if r.Deploy == nil || r.Deploy.Replicas == nil || *r.Deploy.Replicas != 2 {
			t.Fatalf("%s deploy %+v, want replicas: 2", name, r.Deploy)
		}
		if r.ContainerName != "" || len(r.Ports) > 0 {
			t.Errorf("%s has container_name %q / ports %v: it could not scale", name, r.ContainerName, r.Ports)
		}
		if v := r.Environment["POST_PARTITIONS"]; v == nil || *v != "4" {
			t.Errorf("%s: POST_PARTITIONS %v, want 4", name, v)
		}
	}
}

// str is an environment value, or "(unset)".
func str(v *string) string {
	if v == nil {
		return "(unset)"
	}
	return strconv.Quote(*v)
}

// natsNodes are the NATS cluster's nodes in docker-compose.yml.
var natsNodes = []string{"nats-1", "nats-2", "nats-3"}

// urlHosts are the hosts of a comma-separated NATS_URL, each of which must be nats://host:4222.
func urlHosts(t *testing.T, list string) []string {
	t.Helper()
	var hosts []string
	for _, raw := range strings.Split(list, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Scheme != "nats" || u.Port() != "4222" {
			t.Errorf("NATS_URL entry %q: want nats://host:4222 (%v)", raw, err)
			continue
		}
		hosts = append(hosts, u.Hostname())
	}
	return hosts
}

// docker compose up runs a 3-node NATS cluster: every node the official image on
// deploy/nats.conf, with its own server_name and JetStream volume, routed to the other two.
func TestComposeNATS(t *testing.T) {
	p := load(t)
	if _, ok := p.Services["nats"]; ok {
		t.Error("a single nats service is left beside the cluster")
	}
	for _, node := range natsNodes {
		t.Run(node, func(t *testing.T) {
			n, ok := p.Services[node]
			if !ok {
				t.Fatalf("no %s service", node)
			}
			if !strings.HasPrefix(n.Image, "nats:2") {
				t.Errorf("image %q, want the official nats:2.x", n.Image)
			}
			// server_name: JetStream in a cluster needs a distinct one on every node.
			if cmd, want := strings.Join(n.Command, " "), "--config /etc/nats/openqq.conf --name "+node; cmd != want {
				t.Errorf("command %q, want %q", cmd, want)
			}
			var data, conf bool
			for _, v := range n.Volumes {
				data = data || v.Source == node+"-data" && v.Target == "/data"
				conf = conf || strings.HasSuffix(v.Source, "deploy/nats.conf") && v.Target == "/etc/nats/openqq.conf" && v.ReadOnly
			}
			if !data || !conf {
				t.Errorf("volumes %+v, want %s-data:/data and deploy/nats.conf read-only", n.Volumes, node)
			}
			if _, ok := p.Volumes[node+"-data"]; !ok {
				t.Errorf("volume %s-data not declared", node)
			}
			// Healthy once its own JetStream is up: a node that waited for the cluster's quorum
			// would hold back the services until all three were up.
			if n.HealthCheck == nil || !strings.Contains(strings.Join(n.HealthCheck.Test, " "), "/healthz?js-enabled-only=true") {
				t.Errorf("health check %+v, want /healthz?js-enabled-only=true", n.HealthCheck)
			}
			if n.Restart != "unless-stopped" {
				t.Errorf("restart %q", n.Restart)
			}
		})
	}

	// deploy/nats.conf as nats-server reads it.
	o, err := server.ProcessConfigFile("nats.conf")
	if err != nil {
		t.Fatalf("deploy/nats.conf: %v", err)
	}
	if !o.JetStream || o.StoreDir != "/data" {
		t.Errorf("jetstream %v store_dir %q, want JetStream on /data", o.JetStream, o.StoreDir)
	}
	if o.Port != 4222 || o.HTTPPort != 8222 {
		t.Errorf("port %d http_port %d, want 4222 and 8222", o.Port, o.HTTPPort)
	}
	if o.MaxPayload != 64<<20 || o.MaxPending != 256<<20 {
		t.Errorf("max_payload %d max_pending %d, want 64MB and 256MB", o.MaxPayload, o.MaxPending)
	}
	if o.Cluster.Name == "" || o.Cluster.Port != 6222 || o.Cluster.Host != "0.0.0.0" {
		t.Errorf("cluster %q on %s:%d, want a named cluster listening on 0.0.0.0:6222", o.Cluster.Name, o.Cluster.Host, o.Cluster.Port)
	}
	var routes []string
	for _, r := range o.Routes {
		if r.Port() != "6222" {
			t.Errorf("route %s: want port 6222", r)
		}
		routes = append(routes, r.Hostname())
	}
	if slices.Sort(routes); !slices.Equal(routes, natsNodes) {
		t.Errorf("routes to %v, want to every node %v", routes, natsNodes)
	}
}

// Every stream and bucket is replicated on the three nodes: each *_REPLICAS variable a service
// reads (STREAM_REPLICAS, MEDIA_REPLICAS, KV_REPLICAS, ...) is set to the number of nodes.
func TestComposeReplicas(t *testing.T) {
	p := load(t)
	apps := map[string]map[string]bool{
		"session":     sessionKeys(t),
		"gateway":     keys(t, &gateway.Config{}),
		"reporter":    keys(t, &reporter.Config{}),
		"poller":      keys(t, &poller.Config{}),
		"session-wx":  sessionKeys(t),
		"reporter-wx": keys(t, &reporter.Config{}),
		"poller-wx":   keys(t, &poller.Config{}),
	}
	want := strconv.Itoa(len(natsNodes))
	seen := map[string]bool{}
	for name, known := range apps {
		for k := range known {
			if !strings.HasSuffix(k, "_REPLICAS") {
				continue
			}
			seen[k] = true
			if v := p.Services[name].Environment[k]; v == nil || *v != want {
				t.Errorf("%s: %s %s, want %s (one copy on each node)", name, k, str(v), want)
			}
		}
	}
	for _, k := range []string{"STREAM_REPLICAS", "MEDIA_REPLICAS", "KV_REPLICAS"} {
		if !seen[k] {
			t.Errorf("no service reads %s", k)
		}
	}
}

// The Dockerfile builds every service as a static binary onto a minimal base, not as root.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "FROM gcr.io/distroless/static", "USER nonroot", "ARG SERVICE",
		"./services/${SERVICE}/cmd/openqq-${SERVICE}", `ENTRYPOINT ["/app"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !strings.HasPrefix(df, "# syntax=docker/dockerfile:1") {
		t.Error("the syntax directive must be the first line (the cache mounts need it)")
	}
}
