package scenario

import (
	"fmt"
	"math"
	"strings"
)

// Row is one line of the results table, with its raw numbers.
type Row struct {
	Path string `json:"path"`
	What string `json:"what"`
	// Metric and Unit name Value (and Baseline): "req/s", "events/s", "p99 ms", "MB", "s", ...
	Metric   string   `json:"metric"`
	Unit     string   `json:"unit"`
	Value    float64  `json:"value"`
	Baseline *float64 `json:"baseline,omitempty"`
	// Ratio is Value / Baseline.
	Ratio *float64 `json:"ratio,omitempty"`
	// Measured and BaselineText are the table's cells (they may say more than one number).
	Measured     string `json:"measured"`
	BaselineText string `json:"baseline_text,omitempty"`
	Target       string `json:"target"`
	// Met is nil where there is no target.
	Met *bool `json:"met,omitempty"`
	// Error says why the row could not be measured.
	Error string `json:"error,omitempty"`
	// Raw holds every number the row was computed from.
	Raw map[string]any `json:"raw,omitempty"`
}

func f64(v float64) *float64 { return &v }
func boolp(v bool) *bool     { return &v }

// ratio is a/b, or nil if b is zero.
func ratio(a, b float64) *float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return nil
	}
	return f64(a / b)
}

// atLeast is whether r is present and at least want.
func atLeast(r *float64, want float64) *bool {
	if r == nil {
		return boolp(false)
	}
	return boolp(*r >= want)
}

// errorRow is a row that could not be measured.
func errorRow(path, what string, err error) Row {
	return Row{Path: path, What: what, Measured: "error", Error: err.Error(), Met: boolp(false), Target: "–"}
}

// num formats a number with thousands separators and digits fitting its size.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case math.Abs(v) >= 100:
		return group(fmt.Sprintf("%.0f", v))
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// Markdown is the results table.
func Markdown(rows []Row) string {
	var b strings.Builder
	b.WriteString("| path | what | measured | baseline | ratio | target | met? |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		base, rat, met := "–", "–", "–"
		if r.BaselineText != "" {
			base = r.BaselineText
		}
		if r.Ratio != nil {
			rat = fmt.Sprintf("%.2f", *r.Ratio)
		}
		if r.Met != nil {
			met = "yes"
			if !*r.Met {
				met = "**NO**"
			}
		}
		measured := r.Measured
		if r.Error != "" {
			measured = "error: " + firstLine(r.Error)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
			cell(r.Path), cell(r.What), cell(measured), cell(base), rat, cell(r.Target), met)
	}
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
