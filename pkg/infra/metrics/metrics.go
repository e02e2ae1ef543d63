// Package metrics holds what every openqq service shares for Prometheus: the namespace, the
// duration buckets, and openqq_nats_connected. Each service defines its own metrics with
// promauto on the default registry, so one process has one registry and one /metrics (served
// by package health), the all-in-one binary included; the default registry also carries the
// Go and process collectors.
package metrics

import (
	"slices"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Namespace is the first part of every openqq metric name.
const Namespace = "openqq"

// DurationBuckets (seconds) go from half a millisecond to 30 s: an API call answered from
// memory takes well under a millisecond, check_event holds for 30 s.
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// TrackNATS reports nc as openqq_nats_connected{conn=name}: 1 while it is connected, 0 while
// it is not. It is read when /metrics is scraped, so it is never stale. Connections of one
// name (in tests, several services of a kind share a process) count as connected while any
// of them is; closed ones are forgotten once another of the name is tracked.
func TrackNATS(name string, nc *nats.Conn) {
	if nc == nil {
		return
	}
	natsConns.track(name, nc)
}

var natsConnectedDesc = prometheus.NewDesc(
	prometheus.BuildFQName(Namespace, "", "nats_connected"),
	"Whether the service's NATS connection is up (1) or not (0), by connection name.",
	[]string{"conn"}, nil)

type natsCollector struct {
	mu    sync.Mutex
	conns map[string][]*nats.Conn
}

var natsConns = &natsCollector{conns: map[string][]*nats.Conn{}}

func init() { prometheus.MustRegister(natsConns) }

func (c *natsCollector) track(name string, nc *nats.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	open := slices.DeleteFunc(c.conns[name], (*nats.Conn).IsClosed)
	c.conns[name] = append(open, nc)
}

func (c *natsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- natsConnectedDesc }

func (c *natsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, conns := range c.conns {
		up := 0.0
		for _, nc := range conns {
			if nc.IsConnected() {
				up = 1
				break
			}
		}
		ch <- prometheus.MustNewConstMetric(natsConnectedDesc, prometheus.GaugeValue, up, name)
	}
}
