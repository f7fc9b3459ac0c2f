package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

const (
	kib = 1024.0
	mib = 1024.0 * 1024.0
)

// FormatValue renders v in the measurement unit for people: bytes as MiB
// with one decimal (KiB or B below 1 MiB so small values do not read as
// 0.0), seconds as ms below one second, percent, ratios as percent, ops/s. Unknown units are
// printed as "<value> <unit>".
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	switch unit {
	case "bytes", "byte", "B":
		a := math.Abs(v)
		switch {
		case a >= mib:
			return fmt.Sprintf("%.1f MiB", v/mib)
		case a >= kib:
			return fmt.Sprintf("%.1f KiB", v/kib)
		default:
			return fmt.Sprintf("%.0f B", v)
		}
	case "seconds", "second", "s":
		return FormatSeconds(v)
	case "bytes/h":
		return FormatValue(v, "bytes") + "/h"
	case "percent", "%":
		return fmt.Sprintf("%.1f %%", v)
	case "ratio": // a fraction (api.error_rate): shown as a percentage
		return fmt.Sprintf("%.2f %%", v*100)
	case "ops/s":
		if math.Abs(v) >= 1000 {
			return fmt.Sprintf("%.0f ops/s", v)
		}
		return fmt.Sprintf("%.1f ops/s", v)
	case "count", "":
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64) + " " + unit
}

// FormatSeconds renders a duration given in seconds: µs/ms below one
// second, seconds with up to two decimals below a minute, then 1m05s style.
func FormatSeconds(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0 s"
	case a < 0.001:
		return fmt.Sprintf("%.0f µs", v*1e6)
	case a < 0.01:
		return fmt.Sprintf("%.2f ms", v*1e3)
	case a < 0.1:
		return fmt.Sprintf("%.1f ms", v*1e3)
	case a < 1:
		return fmt.Sprintf("%.0f ms", v*1e3)
	case a < 10:
		return fmt.Sprintf("%.2f s", v)
	case a < 60:
		return fmt.Sprintf("%.1f s", v)
	}
	return time.Duration(math.Round(v) * float64(time.Second)).String()
}

// formatMemory renders a machine's memory size: GiB from 1 GiB up (8.0 GiB
// reads better than 8192.0 MiB), MiB below.
func formatMemory(b uint64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return FormatValue(float64(b), "bytes")
}

// formatLabels renders labels as "k=v, k=v" with keys sorted.
func formatLabels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range sortedKeys(labels) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// statLabel names a percentile as reports show it: "max" when its nearest
// rank is the largest of n samples (a p99 of fewer than 100 samples, a p90
// of fewer than 10), since that percentile is not resolved by so few.
func statLabel(stat string, n int) string {
	if result.IsMax(stat, n) {
		return "max"
	}
	return stat
}

// statText is one percentile of m for a table cell: "41.0 ms", or
// "max 5.60 s" where the percentile is the largest sample.
func statText(m *result.Measurement, stat string) string {
	v := FormatValue(m.Summary.Stat(stat), m.Unit)
	if result.IsMax(stat, m.Summary.Count) {
		return "max " + v
	}
	return v
}

// rangeText is "min–max" of m's samples, or one value when they are equal.
func rangeText(m *result.Measurement) string {
	lo, hi := FormatValue(m.Summary.Min, m.Unit), FormatValue(m.Summary.Max, m.Unit)
	if lo == hi {
		return lo
	}
	return lo + "–" + hi
}

// cvText is the coefficient of variation as a percentage, or "–" where it
// is undefined (fewer than two samples, a mean of 0).
func cvText(s result.Summary) string {
	if !s.HasCV() {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", s.CV*100)
}

// missingText is what a figure that could not be measured shows instead
// of a value.
func missingText(m *result.Measurement) string {
	return "not measured: " + m.Missing
}

// sloJudged is the value an SLO was judged on, with its sample count:
// "max 5.60 s, n=30", "p99 41.0 ms, n=201"; or why there was none.
func sloJudged(m *result.Measurement) string {
	switch {
	case m.SLO == nil:
		return ""
	case m.Missing != "":
		return missingText(m)
	case m.Summary.Count == 0:
		return "no samples"
	}
	stat := m.SLO.Statistic
	return fmt.Sprintf("%s %s, n=%d", statLabel(stat, m.Summary.Count), FormatValue(m.Summary.Stat(stat), m.Unit), m.Summary.Count)
}

// sloText is "p99 ≤ 1.0 s" for a measurement's SLO, or "".
func sloText(m *result.Measurement) string {
	if m.SLO == nil {
		return ""
	}
	return m.SLO.Statistic + " ≤ " + FormatValue(m.SLO.Threshold, m.Unit)
}

// sloVerdict is "met", "missed" or "".
func sloVerdict(m *result.Measurement) string {
	switch {
	case m.SLO == nil:
		return ""
	case m.SLO.Met:
		return "met"
	}
	return "missed"
}

// measurementID names a measurement with its labels: "api.latency{verb=GET}".
func measurementID(m *result.Measurement) string { return nameWithLabels(m.Name, m.Labels) }

// nameWithLabels is "name{k=v, ...}", or the name alone without labels.
func nameWithLabels(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	return name + "{" + formatLabels(labels) + "}"
}

// firstLine returns the first non-empty line of s, cut to max runes.
func firstLine(s string, maxRunes int) string {
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if r := []rune(line); len(r) > maxRunes {
			return string(r[:maxRunes-1]) + "…"
		}
		return line
	}
	return ""
}

// statusWord is the upper-case status for badges, "UNKNOWN" when unset.
func statusWord(s result.Status) string {
	if s == "" {
		return "UNKNOWN"
	}
	return strings.ToUpper(string(s))
}

// runDuration is FinishedAt-StartedAt in seconds, or 0 when unknown.
func runDuration(r *result.Report) float64 {
	if r.StartedAt.IsZero() || r.FinishedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt).Seconds()
}

// formatTime renders a time in UTC, or "" when unset.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
