package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Results is a whole run: the machine, the commit, the command and every row.
type Results struct {
	Commit     string  `json:"commit"`
	Date       string  `json:"date"`
	Command    string  `json:"command"`
	Mode       string  `json:"mode"`
	GoVersion  string  `json:"go_version"`
	Cores      int     `json:"cores"`
	CPU        string  `json:"cpu"`
	MemTotalMB float64 `json:"mem_total_mb"`
	LoadBefore string  `json:"loadavg_before"`
	LoadAfter  string  `json:"loadavg_after"`
	Seconds    float64 `json:"seconds"`
	Config     Config  `json:"config"`
	Rows       []Row   `json:"rows"`
}

// Scenario is one row group of the table.
type Scenario struct {
	Name string
	Run  func(context.Context) []Row
}

// Scenarios are the rows of the table, in its order.
func (h *Harness) Scenarios() []Scenario {
	return []Scenario{
		{"api-small", h.APISmall},
		{"send-durable", h.SendDurable},
		{"api-large", h.APILarge},
		{"events", h.Events},
		{"scale-out", h.ScaleOut},
		{"ordered", h.Ordered},
		{"long-poll", h.LongPoll},
		{"start", h.StartUp},
		{"wx-api", h.WxAPI},
		{"wx-media", h.WxMedia},
		{"wx-memory", h.WxMemory},
		{"hosts", h.Hosts},
	}
}

// Run runs the scenarios whose names are in only (all if only is empty), stopping every
// process of each when it ends.
func (h *Harness) Run(ctx context.Context, only map[string]bool) *Results {
	res := &Results{Mode: h.Cfg.Name, Config: h.Cfg}
	res.fillMachine(h.Repo)
	start := time.Now()
	for _, s := range h.Scenarios() {
		if len(only) > 0 && !only[s.Name] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		t := time.Now()
		h.logf("== %s", s.Name)
		rows := s.Run(ctx)
		h.StopAll()
		for _, r := range rows {
			if r.Error != "" {
				h.logf("%s: ERROR: %s", s.Name, r.Error)
			}
		}
		h.logf("== %s done in %s", s.Name, time.Since(t).Round(time.Millisecond))
		res.Rows = append(res.Rows, rows...)
	}
	res.Seconds = time.Since(start).Seconds()
	res.LoadAfter = loadavg()
	return res
}

func (r *Results) fillMachine(repo string) {
	r.Date = time.Now().UTC().Format(time.RFC3339)
	r.GoVersion = runtime.Version()
	r.Cores = runtime.NumCPU()
	r.Commit = gitCommit(repo)
	r.CPU = cpuModel()
	r.MemTotalMB = memTotalMB()
	r.LoadBefore = loadavg()
}

func gitCommit(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotalMB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(rest), &kb)
			return kb / 1024
		}
	}
	return 0
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Missed are the rows whose target was not met.
func (r *Results) Missed() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Met != nil && !*row.Met {
			out = append(out, row)
		}
	}
	return out
}

// Errors are the rows that could not be measured.
func (r *Results) Errors() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Error != "" {
			out = append(out, row)
		}
	}
	return out
}

// Markdown is the report: how it was made, and the table.
func (r *Results) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# openqq benchmark (%s pass)\n\n", r.Mode)
	fmt.Fprintf(&b, "- commit: `%s`\n", r.Commit)
	fmt.Fprintf(&b, "- date: %s (took %.0f s)\n", r.Date, r.Seconds)
	fmt.Fprintf(&b, "- machine: %d cores (%s), %.1f GiB memory; load average %s before, %s after\n",
		r.Cores, r.CPU, r.MemTotalMB/1024, r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(&b, "- Go: %s\n", r.GoVersion)
	fmt.Fprintf(&b, "- reproduce: `%s`\n\n", r.Command)
	b.WriteString("Every process (openqq, nats-server, the bare baseline server, and this load generator) shares the machine; ")
	b.WriteString("a figure counts only as a ratio against its baseline, taken side by side in the same run. ")
	b.WriteString("Latencies are open loop, timed from when each request was due; throughput is closed loop. ")
	b.WriteString("For latency rows the ratio is openqq's p99 over the baseline's.\n\n")
	b.WriteString(Markdown(r.Rows))
	if missed := r.Missed(); len(missed) > 0 {
		b.WriteString("\nMissed targets:\n\n")
		for _, m := range missed {
			fmt.Fprintf(&b, "- %s: %s — %s (target %s)\n", m.Path, m.What, firstLine(orElse(m.Error, m.Measured)), m.Target)
		}
	}
	b.WriteString("\nRaw numbers: `results.json` next to this file.\n")
	return b.String()
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Write writes results.json and results.md into dir.
func (r *Results) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(r.Markdown()), 0o644)
}
