package scenario

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/openqq/openqq/pkg/infra/proctest"
)

const (
	pathStart = "start"
	pathIdle  = "idle"
)

// Start: the all-in-one from process start to the first successful get_user_info, StartRuns
// times on a fresh store; then its RSS idle with the default roster.
func (h *Harness) StartUp(ctx context.Context) []Row {
	rows, err := h.start(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathStart, "start", err))
	}
	return rows
}

func (h *Harness) start(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	var times []time.Duration
	var idle int64
	for i := range cfg.StartRuns {
		natsPort, err := proctest.FreePort()
		if err != nil {
			return nil, err
		}
		httpPort, err := proctest.FreePort()
		if err != nil {
			return nil, err
		}
		env := map[string]string{
			"NATS_PORT":      strconv.Itoa(natsPort),
			"NATS_STORE_DIR": h.Dir("nats"),
			"HTTP_ADDR":      "127.0.0.1:" + strconv.Itoa(httpPort),
			"SIM_QRCODE_DIR": h.Dir("qrcode"),
		}
		t0 := time.Now()
		p, err := h.Start("openqq", binAllInOne, env)
		if err != nil {
			return nil, err
		}
		url := "http://127.0.0.1:" + strconv.Itoa(httpPort) + "/openqq/get_user_info"
		if err := pollHTTP(ctx, url, 30*time.Second, p, userInfoReady); err != nil {
			p.Stop()
			return nil, err
		}
		times = append(times, time.Since(t0))
		if i == cfg.StartRuns-1 {
			time.Sleep(cfg.IdleSettle)
			idle, err = RSS(p)
			if err != nil {
				p.Stop()
				return nil, err
			}
		}
		p.Stop()
		if err := p.Crashed(); err != nil {
			return nil, err
		}
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	median, worst := sorted[len(sorted)/2], sorted[len(sorted)-1]
	secs := make([]float64, len(times))
	for i, t := range times {
		secs[i] = t.Seconds()
	}
	return []Row{{
		Path: pathStart, What: fmt.Sprintf("all-in-one process start → first successful get_user_info (%d runs, fresh store)", cfg.StartRuns),
		Metric: "s", Unit: "s", Value: worst.Seconds(),
		Measured: fmt.Sprintf("median %s s, worst %s s", num(median.Seconds()), num(worst.Seconds())),
		Target:   "≤ 1 s", Met: boolp(worst <= time.Second), Raw: map[string]any{"runs_s": secs},
	}, {
		Path: pathIdle, What: fmt.Sprintf("all-in-one RSS with the default roster, %s after start", cfg.IdleSettle),
		Metric: "RSS MB", Unit: "MB", Value: mb(idle),
		Measured: fmt.Sprintf("%s MB", num(mb(idle))),
		Target:   "≤ 60 MB", Met: boolp(mb(idle) <= 60), Raw: map[string]any{"rss_bytes": idle},
	}}, nil
}
