package allinone

import (
	"net/http"

	"github.com/openqq/openqq/services/gateway"
)

// mountHealth serves /metrics, /healthz and /readyz on the gateway's port as well as on
// HEALTH_ADDR: `curl localhost:5000/metrics` shows every service of the process, since they
// share one registry.
func mountHealth(gw *gateway.Gateway, h http.Handler) {
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		gw.Mount(path, h)
	}
}
