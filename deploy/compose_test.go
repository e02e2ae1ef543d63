package deploy

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/kelseyhightower/envconfig"

	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/logging"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/poller"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver"
	// The drivers openqq-session offers, whose variables it reads too.
	_ "github.com/openqq/openqq/services/session/driver/onebot"
	_ "github.com/openqq/openqq/services/session/driver/sim"
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

// sessionKeys are the variables openqq-session reads: its own and its drivers'.
func sessionKeys(t *testing.T) map[string]bool {
	return keys(t, append([]any{&session.Config{}}, driver.EnvSpecs()...)...)
}

func TestComposeServices(t *testing.T) {
	p := load(t)
	apps := map[string]map[string]bool{
		"session":  sessionKeys(t),
		"gateway":  keys(t, &gateway.Config{}),
		"reporter": keys(t, &reporter.Config{}),
		"poller":   keys(t, &poller.Config{}),
	}
	want := []string{"gateway", "nats", "poller", "reporter", "session"}
	if got := p.ServiceNames(); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for name, known := range apps {
		t.Run(name, func(t *testing.T) {
			s := p.Services[name]
			if s.Build == nil || s.Build.Dockerfile != "Dockerfile" || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != name {
				t.Errorf("build %+v: want the Dockerfile with SERVICE=%s", s.Build, name)
			}
			if _, err := os.Stat("../services/" + name + "/cmd/openqq-" + name); err != nil {
				t.Errorf("the Dockerfile builds ./services/%s/cmd/openqq-%s: %v", name, name, err)
			}
			if s.HealthCheck == nil || !slices.Equal([]string(s.HealthCheck.Test), []string{"CMD", "/app", "healthcheck"}) {
				t.Errorf("health check %+v: want the binary's healthcheck subcommand", s.HealthCheck)
			}
			if s.Restart != "unless-stopped" {
				t.Errorf("restart %q", s.Restart)
			}
			if d, ok := s.DependsOn["nats"]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("depends_on %+v: want nats healthy", s.DependsOn)
			}
			for _, k := range []string{"NATS_URL", "SUBJECT_PREFIX", "HEALTH_ADDR"} {
				if s.Environment[k] == nil {
					t.Errorf("environment lacks %s", k)
				}
			}
			if v := s.Environment["NATS_URL"]; v == nil || *v != "nats://nats:4222" {
				t.Errorf("NATS_URL %v", v)
			}
			// Every variable set must be one the service reads: a typo would be silently ignored.
			for k := range s.Environment {
				if !known[k] {
					t.Errorf("environment sets %s, which openqq-%s does not read", k, name)
				}
			}
		})
	}
}

func TestComposeGatewayPort(t *testing.T) {
	gw := load(t).Services["gateway"]
	if len(gw.Ports) != 1 || gw.Ports[0].Target != 5000 || gw.Ports[0].Published != "5000" {
		t.Fatalf("gateway ports %+v, want 5000:5000", gw.Ports)
	}
	// Safe by default: the API is published on loopback unless told otherwise.
	if ip := gw.Ports[0].HostIP; ip != "127.0.0.1" {
		t.Errorf("gateway published on %q, want 127.0.0.1 by default", ip)
	}
	if _, ok := gw.Environment["ACCESS_TOKEN"]; !ok {
		t.Error("the gateway's environment does not name ACCESS_TOKEN")
	}
	if v := gw.Environment["HTTP_ADDR"]; v == nil || *v != "0.0.0.0:5000" {
		t.Errorf("HTTP_ADDR %v: the container must listen on all interfaces", v)
	}
}

// `docker compose up --scale reporter=5` needs replicas that can run side by side: no fixed
// container name and no published port.
func TestComposeReporterScales(t *testing.T) {
	r := load(t).Services["reporter"]
	if r.Deploy == nil || r.Deploy.Replicas == nil || *r.Deploy.Replicas != 2 {
		t.Fatalf("reporter deploy %+v, want replicas: 2", r.Deploy)
	}
	if r.ContainerName != "" || len(r.Ports) > 0 {
		t.Errorf("reporter has container_name %q / ports %v: it could not scale", r.ContainerName, r.Ports)
	}
}

func TestComposeNATS(t *testing.T) {
	p := load(t)
	n := p.Services["nats"]
	if !strings.HasPrefix(n.Image, "nats:2") {
		t.Errorf("nats image %q, want the official nats:2.x", n.Image)
	}
	if cmd := strings.Join(n.Command, " "); cmd != "--config /etc/nats/openqq.conf" {
		t.Errorf("nats command %q, want --config /etc/nats/openqq.conf", cmd)
	}
	var data, conf bool
	for _, v := range n.Volumes {
		data = data || v.Source == "nats-data" && v.Target == "/data"
		conf = conf || strings.HasSuffix(v.Source, "deploy/nats.conf") && v.Target == "/etc/nats/openqq.conf" && v.ReadOnly
	}
	if !data || !conf {
		t.Errorf("nats volumes %+v, want nats-data:/data and deploy/nats.conf read-only", n.Volumes)
	}
	b, err := os.ReadFile("nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"jetstream", "store_dir: /data", "http_port: 8222", "max_payload: 64MB", "max_pending: 256MB"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("deploy/nats.conf lacks %q", want)
		}
	}
	if _, ok := p.Volumes["nats-data"]; !ok {
		t.Error("volume nats-data not declared")
	}
	if n.HealthCheck == nil || !strings.Contains(strings.Join(n.HealthCheck.Test, " "), "/healthz") {
		t.Errorf("nats health check %+v", n.HealthCheck)
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
