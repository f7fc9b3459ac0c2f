package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/compare"
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
