package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/compare"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/result"
)

func twoCellRounds() ([]compare.Cell, []compare.Round) {
	round := func(base, other float64) compare.Round {
		return compare.Round{
			{result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "create", "datastore": "sqlite"}, []float64{base})},
			{result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "create", "datastore": "postgres"}, []float64{other})},
		}
	}
	return []compare.Cell{{Name: "sqlite"}, {Name: "postgres"}}, []compare.Round{round(0.008, 0.016), round(0.010, 0.019), round(0.009, 0.018)}
}

func TestComparisonMarkdown(t *testing.T) {
	cells, rounds := twoCellRounds()
	c, err := compare.Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	c.Seed = 42
	var b bytes.Buffer
	if err := ComparisonMarkdown(&b, c); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"sqlite vs postgres", "seed 42", "3 rounds", "| sqlite (baseline) | postgres |",
		"`api.latency{verb=create}` | p50 | 9.00 ms (8.00 ms–10.0 ms) |",
		"×2.00 (1.90–2.00) worse",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}

	c, err = compare.Build(cells, rounds, []string{"p50"}, false)
	if err != nil {
		t.Fatal(err)
	}
	c.Why = "separate runs"
	b.Reset()
	if err := ComparisonMarkdown(&b, c); err != nil {
		t.Fatal(err)
	}
	if md := b.String(); !strings.Contains(md, "**Not interleaved** (separate runs)") || !strings.Contains(md, "×2.00 (1.90–2.00) not interleaved |") {
		t.Errorf("a comparison that was not interleaved must say so and call nothing:\n%s", md)
	}
}

func TestComparisonHTMLAndJSON(t *testing.T) {
	cells, rounds := twoCellRounds()
	secret := "postgres://kine:hunter2@127.0.0.1:5432/kine"
	cells[1].Report = &result.Report{RunID: "r2", Params: result.Params{Endpoint: secret, Command: "distrobench run --datastore-endpoint " + secret}}
	c, err := compare.Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := ComparisonHTML(&page, c); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	for _, want := range []string{"sqlite vs postgres", "×2.00 (1.90–2.00) worse", "<svg", "api.latency{verb=create}"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, external := range []string{"src=", "href=\"http", "url(http", "<script"} {
		if strings.Contains(html, external) {
			t.Errorf("HTML is not self-contained: it holds %q", external)
		}
	}
	var js bytes.Buffer
	if err := ComparisonJSON(&js, c); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(js.String(), "hunter2") {
		t.Errorf("the comparison JSON leaks a cell report's datastore password")
	}
	if !strings.Contains(js.String(), `"kind": "Comparison"`) {
		t.Errorf("JSON lacks the kind: %.200s", js.String())
	}
}

// growthComparison is a comparison of two cells whose reports hold growth
// figures: sqlite's memory at 1000 and 10000 objects and after compaction,
// its list latency at 1000 and its size not measured; postgres's memory
// alone.
func growthComparison(t *testing.T) *compare.Comparison {
	t.Helper()
	l := func(k, v string) map[string]string { return map[string]string{k: v} }
	mem := func(objects string, mib float64) result.Measurement {
		return result.NewMeasurement(measure.GrowthMemoryMetric, "bytes", l("objects", objects), []float64{mib * (1 << 20)})
	}
	slope := func(mib float64) result.Measurement {
		return result.NewMeasurement(measure.GrowthMemorySlope, "bytes", nil, []float64{mib * (1 << 20)})
	}
	sqlite := []result.Measurement{
		mem("10000", 110), mem("1000", 100), slope(10),
		result.NewMeasurement(measure.GrowthMemoryMetric, "bytes", l("stage", "compacted"), []float64{95 << 20}),
		result.NewMeasurement(measure.GrowthListMetric, "seconds", l("objects", "1000"), []float64{0.004, 0.005}),
		result.NotMeasured(measure.GrowthSizeMetric, "bytes", l("objects", "1000"), "no way to read it on this cluster"),
	}
	postgres := []result.Measurement{mem("1000", 120), mem("10000", 150), slope(30)}
	cells, rounds := twoCellRounds()
	cells[0].Report, cells[1].Report = &result.Report{Measurements: sqlite}, &result.Report{Measurements: postgres}
	c, err := compare.Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestComparisonGrowth(t *testing.T) {
	c := growthComparison(t)
	var md, page bytes.Buffer
	if err := ComparisonMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### Growth", "measured once per cell, not in interleaved rounds",
		"#### growth.server.pss\n\n| objects | sqlite | postgres |",
		"| 1000 | 100.0 MiB | 120.0 MiB |\n| 10000 | 110.0 MiB | 150.0 MiB |\n| after compaction | 95.0 MiB | – |",
		"#### growth.list.latency p99", "| 1000 | max 5.00 ms | – |",
		"| 1000 | not measured: no way to read it on this cluster | – |",
		"| growth.server.pss.per_10k | 10.0 MiB | 30.0 MiB |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if err := ComparisonHTML(&page, c); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	for _, want := range []string{`<section id="growth">`, "measured once per cell", "<td class=\"n\">110.0 MiB</td>",
		"sqlite, 10000 objects: 110.0 MiB", "sqlite, after compaction: 95.0 MiB", "<td class=\"n\">30.0 MiB</td>"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(html, "growth.datastore.size by objects") {
		t.Error("a chart drawn for the size, which no cell measured (its table says why)")
	}
	// memory has a line per cell; the list and the size, one point or none
	if n := strings.Count(html, "<polyline"); n != 2 {
		t.Errorf("%d lines drawn, want 2 (memory of both cells)", n)
	}
}

func TestComparisonWithoutGrowthOrMemory(t *testing.T) {
	cells, rounds := twoCellRounds()
	c, err := compare.Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	md, page := renderBoth(t, c)
	if strings.Contains(md, "Growth") || strings.Contains(page, `id="growth"`) || strings.Contains(md, "Memory:") {
		t.Errorf("a comparison without growth or a memory decision shows a section for them:\n%s", md)
	}
}

func TestComparisonMemory(t *testing.T) {
	cells, rounds := twoCellRounds()
	c, err := compare.Build(cells, rounds, []string{"p50"}, false)
	if err != nil {
		t.Fatal(err)
	}
	c.Why, c.Memory = "too little memory", "each cell needs 1.2 GiB < 2.0 GiB for both, 1.5 GiB available: one at a time"
	md, page := renderBoth(t, c)
	if want := "**Not interleaved** (too little memory): the cells were measured at different times, so no difference is called. Memory: each cell needs 1.2 GiB &lt; 2.0 GiB"; !strings.Contains(md, want) {
		t.Errorf("markdown lacks %q:\n%s", want, md)
	}
	if want := "Not interleaved (too little memory): the cells were measured at different times, so no difference is called. Memory: each cell needs 1.2 GiB &lt; 2.0 GiB for both"; !strings.Contains(page, want) {
		t.Errorf("HTML lacks %q (escaped once)", want)
	}
}

// TestComparisonControl: with an A/A control, both renderings name it and
// its spread, the control's own ratio says it is the control, and a cell's
// difference within the spread says so.
func TestComparisonControl(t *testing.T) {
	round := func(base, control, other float64) compare.Round {
		fig := func(v float64) []result.Measurement {
			return []result.Measurement{result.NewMeasurement("footprint.agent.pss", "bytes", map[string]string{"node": "node1"}, []float64{v})}
		}
		return compare.Round{fig(base), fig(control), fig(other)}
	}
	cells := []compare.Cell{{Name: "sqlite"}, {Name: "sqlite-control"}, {Name: "mysql"}}
	rounds := []compare.Round{round(100e6, 110e6, 105e6), round(101e6, 111e6, 106e6)}
	c, err := compare.Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyControl(1); err != nil {
		t.Fatal(err)
	}
	md, page := renderBoth(t, c)
	for _, want := range []string{
		"A/A control: sqlite-control, the baseline brought up a second time",
		"called only when it is 2 times beyond the widest the control showed",
		"bytes p50 ±9.5 MiB (footprint.agent.pss{node=node1}, over 1 figures)",
		"A/A control |", "within A/A spread |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(page, "A/A control: sqlite-control") || !strings.Contains(page, "within A/A spread") {
		t.Error("HTML does not name the control or the within-spread call")
	}
}

// renderBoth renders c as Markdown and as HTML.
func renderBoth(t *testing.T, c *compare.Comparison) (md, page string) {
	t.Helper()
	var m, p bytes.Buffer
	if err := ComparisonMarkdown(&m, c); err != nil {
		t.Fatal(err)
	}
	if err := ComparisonHTML(&p, c); err != nil {
		t.Fatal(err)
	}
	return m.String(), p.String()
}
