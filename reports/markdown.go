package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/distrobench/distrobench/internal/result"
)

// maxMarkdownFailures caps the failed-test list: GitHub step summaries are
// limited to 1 MiB and a broken cluster can fail hundreds of specs.
const maxMarkdownFailures = 50

// Markdown writes a summary for a GitHub Actions step summary
// ($GITHUB_STEP_SUMMARY) or a pull-request comment: status line, run
// parameters, test counts, failed tests, measurements with SLO verdicts and
// phases.
func Markdown(w io.Writer, r *result.Report) error {
	if r == nil {
		return errNilReport
	}
	r = sanitize(r)
	var b bytes.Buffer
	icon := map[result.Status]string{result.StatusPassed: "✅", result.StatusFailed: "❌", result.StatusError: "⚠️", result.StatusSkipped: "⏭️"}[r.Status]
	if icon == "" {
		icon = "❔"
	}
	fmt.Fprintf(&b, "## %s distrobench %s: `%s`\n\n", icon, statusWord(r.Status), mdCode(r.RunID))
	if r.Reason != "" && r.Status != result.StatusPassed {
		fmt.Fprintf(&b, "> **Reason:** %s\n\n", mdInline(r.Reason))
	}

	// Parameters as a two-row table, only the columns that are set.
	p := r.Params
	cols := nonEmpty([]kv{
		{"Command", p.Command}, {"Profile", p.Profile}, {"Datastore", p.Datastore}, {"Endpoint", p.Endpoint},
		{"Arch", p.Arch}, {"Binary", p.Binary}, {"Label filter", p.LabelFilter},
		{"Distribution", r.Versions.Distribution}, {"Kubernetes", r.Versions.Kubernetes},
		{"Datastore server", r.Versions.Datastore},
	})
	if d := runDuration(r); d > 0 {
		cols = append(cols, kv{"Duration", FormatSeconds(d)})
	}
	if len(cols) > 0 {
		var head, sep, row []string
		for _, c := range cols {
			head = append(head, c.Key)
			sep = append(sep, "---")
			row = append(row, "`"+mdCode(c.Value)+"`")
		}
		fmt.Fprintf(&b, "| %s |\n| %s |\n| %s |\n\n", strings.Join(head, " | "), strings.Join(sep, " | "), strings.Join(row, " | "))
	}
	if h := r.Host; h.Hostname != "" || h.CPUModel != "" {
		var parts []string
		for _, s := range []string{h.Hostname, strings.TrimSpace(h.Platform + " " + h.Arch), h.CPUModel} {
			if s != "" {
				parts = append(parts, mdInline(s))
			}
		}
		if h.Cores > 0 {
			parts = append(parts, fmt.Sprintf("%d cores", h.Cores))
		}
		if h.MemoryBytes > 0 {
			parts = append(parts, formatMemory(h.MemoryBytes))
		}
		fmt.Fprintf(&b, "**Host:** %s\n\n", strings.Join(parts, " · "))
	}

	b.WriteString("### Tests\n\n")
	if r.Tests == nil {
		b.WriteString("No tests were run.\n\n")
	} else {
		c := r.Tests.Counts()
		fmt.Fprintf(&b, "**%d passed**, **%d failed**, %d errored, %d skipped of %d selected", c.Passed, c.Failed, c.Errored, c.Skipped, c.Total())
		if rate := FormatPassRate(c); rate != "" {
			fmt.Fprintf(&b, " (%s passed)", rate)
		}
		if c.NotSelected > 0 {
			fmt.Fprintf(&b, "; %d not selected", c.NotSelected)
		}
		b.WriteString("\n\n")
		var failed []result.Leaf
		for _, l := range r.Tests.Leaves() {
			if l.Item.Status == result.StatusFailed || l.Item.Status == result.StatusError {
				failed = append(failed, l)
			}
		}
		if len(failed) > 0 {
			b.WriteString("<details open><summary>Failed tests</summary>\n\n")
			for i, l := range failed {
				if i == maxMarkdownFailures {
					fmt.Fprintf(&b, "- … and %d more (see report.html or junit.xml)\n", len(failed)-i)
					break
				}
				fmt.Fprintf(&b, "- ❌ %s", mdInline(leafName(l)))
				if msg := firstLine(l.Item.Message, 200); msg != "" {
					fmt.Fprintf(&b, ": `%s`", mdCode(msg))
				}
				b.WriteString("\n")
			}
			b.WriteString("\n</details>\n\n")
		}
	}

	if len(r.Measurements) > 0 {
		writeMarkdownMeasurements(&b, r.Measurements)
	}

	if len(r.Phases) > 0 {
		b.WriteString("### Phases\n\n| Phase | Status | Duration | Error |\n| --- | --- | ---: | --- |\n")
		for _, ph := range r.Phases {
			errText := ""
			if ph.Error != "" {
				errText = "`" + mdCode(firstLine(ph.Error, 200)) + "`"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdInline(ph.Name), mdInline(string(ph.Status)), FormatSeconds(ph.DurationSeconds), errText)
		}
		b.WriteString("\n")
	}

	if len(r.ServerLogTail) > 0 {
		fence := "```"
		for strings.Contains(strings.Join(r.ServerLogTail, "\n"), fence) {
			fence += "`"
		}
		fmt.Fprintf(&b, "<details><summary>Server log tail (%d lines)</summary>\n\n%s\n%s\n%s\n\n</details>\n",
			len(r.ServerLogTail), fence, strings.Join(r.ServerLogTail, "\n"), fence)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write Markdown report %s: %w", r.RunID, err)
	}
	return nil
}

// writeMarkdownMeasurements writes the measurements table: n, p50, p99 (max
// where n < 100), min–max and CV beside each figure, "not measured: ..."
// instead of values for a missing one; then each measurement's attributes
// in a collapsed block.
func writeMarkdownMeasurements(b *bytes.Buffer, ms []result.Measurement) {
	b.WriteString("### Measurements\n\n| Measurement | n | p50 | p99 | min–max | CV | SLO |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	var attrs []string
	for i := range ms {
		m := &ms[i]
		slo := "–"
		switch sloVerdict(m) {
		case "met":
			slo = "✅ " + mdInline(sloText(m)+": "+sloJudged(m))
		case "missed":
			slo = "❌ " + mdInline(sloText(m)+": "+sloJudged(m))
		}
		if m.Missing != "" {
			fmt.Fprintf(b, "| `%s` | – | %s | – | – | – | %s |\n", mdCode(measurementID(m)), mdInline(missingText(m)), slo)
		} else {
			fmt.Fprintf(b, "| `%s` | %d | %s | %s | %s | %s | %s |\n", mdCode(measurementID(m)), m.Summary.Count,
				statText(m, "p50"), statText(m, "p99"), rangeText(m), cvText(m.Summary), slo)
		}
		if len(m.Attributes) > 0 {
			var kvs []string
			for _, k := range sortedKeys(m.Attributes) {
				kvs = append(kvs, k+": `"+mdCode(m.Attributes[k])+"`")
			}
			attrs = append(attrs, "- `"+mdCode(measurementID(m))+"`: "+strings.Join(kvs, "; "))
		}
	}
	b.WriteString("\nPercentiles are nearest-rank; with fewer than 100 samples the p99 is the largest sample, shown as max. CV: sample standard deviation / mean.\n\n")
	if len(attrs) > 0 {
		fmt.Fprintf(b, "<details><summary>Measurement attributes</summary>\n\n%s\n\n</details>\n\n", strings.Join(attrs, "\n"))
	}
}

// mdInline makes free text safe inside a Markdown table cell or list item:
// one line, pipes escaped, HTML tags neutralised.
var mdInlineReplacer = strings.NewReplacer("\r", " ", "\n", " ", "|", `\|`, "<", "&lt;", ">", "&gt;", "`", "'")

func mdInline(s string) string { return mdInlineReplacer.Replace(s) }

// mdCode makes text safe inside a single-backtick code span in a table:
// backticks cannot be escaped there, so they become quotes.
var mdCodeReplacer = strings.NewReplacer("\r", " ", "\n", " ", "|", `\|`, "`", "'")

func mdCode(s string) string { return mdCodeReplacer.Replace(s) }
