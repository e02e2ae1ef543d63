package scenario

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

// Profile runs the all-in-one built with a CPU profile three times: under the small-reply load
// (get_user_info, then send_friend_message, each for ThroughputDur at Conns connections), under
// the large-reply load (get_group_info of the large roster at LargeConns connections), and under
// the events load (Events injected messages delivered to a sink). It writes each profile
// and its top functions into dir, and returns the tops.
func (h *Harness) Profile(ctx context.Context, dir string) (string, error) {
	if err := h.BuildProfiled(ctx); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var all strings.Builder
	for _, name := range []string{"small", "large", "events"} {
		prof, err := filepath.Abs(filepath.Join(dir, "allinone-"+name+".cpu.pprof"))
		if err != nil {
			return "", err
		}
		env := map[string]string{"CPUPROFILE": prof}
		var sink *Sink
		if name == "large" {
			rosterPath, err := writeRoster(h.Dir("roster"), LargeRoster(h.Cfg.LargeGroups, h.Cfg.LargeMembers))
			if err != nil {
				return "", err
			}
			env["SIM_ROSTER"] = rosterPath
		}
		if name == "events" {
			if sink, err = NewSink(0); err != nil {
				return "", err
			}
			env["POST_API"] = sink.URL
			env["POST_CONCURRENCY"] = strconv.Itoa(h.Cfg.PostConcurrency)
		}
		sys, err := h.allInOne(ctx, binProfiled, env)
		if err != nil {
			return "", err
		}
		var what string
		switch name {
		case "small":
			what, err = h.profileSmall(sys)
		case "large":
			what, err = h.profileLarge(sys)
		default:
			what, err = h.profileEvents(ctx, sys, sink)
			sink.Close()
		}
		sys.Stop()
		if err != nil {
			return "", err
		}
		top, err := pprofTop(ctx, filepath.Join(h.Bin, binProfiled), prof)
		if err != nil {
			return "", err
		}
		text := fmt.Sprintf("# all-in-one under the %s load: %s\n\n%s", name, what, top)
		if err := os.WriteFile(filepath.Join(dir, "allinone-"+name+".pprof.txt"), []byte(text), 0o644); err != nil {
			return "", err
		}
		all.WriteString(text)
	}
	return all.String(), nil
}

func (h *Harness) profileSmall(sys *System) (string, error) {
	client := NewClient(h.Cfg.Conns)
	var what []string
	for _, r := range smallRoutes {
		h.logf("profile: %s", r.name)
		t := ClosedLoop(context.Background(), client, sys.API+r.query, h.Cfg.Conns, h.Cfg.Warmup, h.Cfg.ThroughputDur, status200)
		what = append(what, fmt.Sprintf("%s %s", r.name, throughputText(t)))
	}
	return strings.Join(what, ", "), nil
}

func (h *Harness) profileLarge(sys *System) (string, error) {
	client := NewClient(h.Cfg.LargeConns)
	q := events.APIPath(events.RouteGetGroupInfo)
	h.logf("profile: get_group_info")
	t := ClosedLoop(context.Background(), client, sys.API+q, h.Cfg.LargeConns, h.Cfg.Warmup, h.Cfg.LargeDur, status200)
	return fmt.Sprintf("get_group_info (%d×%d roster) at %d connections: %s", h.Cfg.LargeGroups, h.Cfg.LargeMembers, h.Cfg.LargeConns, throughputText(t)), nil
}

func (h *Harness) profileEvents(ctx context.Context, sys *System, sink *Sink) (string, error) {
	select {
	case <-sink.AnyPost():
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("the reporter delivered nothing within 30s")
	}
	sink.Reset(h.Cfg.Events)
	h.logf("profile: %d events", h.Cfg.Events)
	in, err := InjectAll(ctx, sys.NATS, h.Cfg.Events, h.Cfg.InjectWorkers)
	if err != nil {
		return "", err
	}
	waitDelivered(ctx, sink, stallWait)
	d := sink.Result(in.T0, in.IDs)
	return fmt.Sprintf("%d messages, %s; injector %s/s", h.Cfg.Events, deliveryText(d, false), num(in.PerSec)), nil
}

func pprofTop(ctx context.Context, bin, prof string) (string, error) {
	var top strings.Builder
	for _, args := range [][]string{{"-top", "-nodecount=30"}, {"-top", "-cum", "-nodecount=40"}} {
		cmd := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, args...), bin, prof)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %v\n%s", err, out)
		}
		fmt.Fprintf(&top, "$ go tool pprof %s %s\n%s\n", strings.Join(args, " "), filepath.Base(prof), out)
	}
	return top.String(), nil
}
