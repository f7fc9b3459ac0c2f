package reports

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/result"
)

// htmlRow returns the measurements-table row of the HTML page whose text
// contains marker.
func htmlRow(t *testing.T, html, marker string) string {
	t.Helper()
	table := html[strings.Index(html, `<table class="grid measurements">`):]
	table = table[:strings.Index(table, "</table>")]
	for _, row := range strings.Split(table, "<tr")[1:] {
		if strings.Contains(row, marker) {
			if i := strings.Index(row, `<td class="strip">`); i >= 0 {
				row = row[:i] // the sample dots say nothing here and are long
			}
			return row
		}
	}
	t.Fatalf("no measurement row mentions %q", marker)
	return ""
}

// mdRow returns the Markdown table row that starts with the measurement ID.
func mdRow(t *testing.T, md, id string) string {
	t.Helper()
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| `"+id+"` |") {
			return line
		}
	}
	t.Fatalf("Markdown has no row for %s", id)
	return ""
}

// Issue 11 defect 6: with n < 100 the page shows max, not a p99, and n
// next to it.
func TestTailPercentileShownAsMaxBelowHundredSamples(t *testing.T) {
	r := failedFixture()
	html := renderString(t, r, FormatHTML)
	pods := htmlRow(t, html, "pods=30")
	for _, want := range []string{`<td class="n">30</td>`, `<td class="n">max 5.60 s</td>`, "✗ missed", "max 5.60 s, n=30"} {
		if !strings.Contains(pods, want) {
			t.Errorf("pods.startup.latency row lacks %q:\n%s", want, pods)
		}
	}
	list := htmlRow(t, html, "verb=LIST")
	if !strings.Contains(list, `<td class="n">203</td>`) || !strings.Contains(list, `<td class="n">7.40 s</td>`) || strings.Contains(list, "max 7.40") {
		t.Errorf("a p99 of 203 samples must be shown as p99 7.40 s with n=203:\n%s", list)
	}
	md := renderString(t, r, FormatMarkdown)
	row := mdRow(t, md, "pods.startup.latency{pods=30}")
	for _, want := range []string{"| 30 |", "| max 5.60 s |", "❌ p99 ≤ 5.00 s: max 5.60 s, n=30"} {
		if !strings.Contains(row, want) {
			t.Errorf("Markdown row lacks %q: %s", want, row)
		}
	}
}

// Issue 11 "the method": n, min–max and CV next to each figure.
func TestNoiseShownBesideEachFigure(t *testing.T) {
	r := passedFixture()
	// api.rate.achieved: 412 * {1, 1.02, 1.04, 1.06, 1.08}; mean 428.48, sample
	// standard deviation 8.24*sqrt(2.5) = 13.03, CV 3.04 %.
	md := renderString(t, r, FormatMarkdown)
	want := "| `api.rate.achieved{verb=CREATE}` | 5 | 428.5 ops/s | max 445.0 ops/s | 412.0 ops/s–445.0 ops/s | 3.0 % | – |"
	if got := mdRow(t, md, "api.rate.achieved{verb=CREATE}"); got != want {
		t.Errorf("Markdown row\n got %s\nwant %s", got, want)
	}
	row := htmlRow(t, renderString(t, r, FormatHTML), "api.rate.achieved</div>")
	for _, want := range []string{`<td class="n">5</td>`, "412.0 ops/s–445.0 ops/s", ">3.0 %</td>", "sample standard deviation 13.0 ops/s"} {
		if !strings.Contains(row, want) {
			t.Errorf("HTML row lacks %q:\n%s", want, row)
		}
	}
	// A single sample has no spread: its CV is shown as undefined, not 0.
	if got := mdRow(t, md, "binary.size{arch=arm64}"); !strings.Contains(got, "| 1 |") || !strings.HasSuffix(got, "| – | – |") {
		t.Errorf("single-sample row: %s", got)
	}
}

// Issue 11 defect 12 (result.NotMeasured): a figure that could not be
// measured reads "not measured: <reason>" everywhere, never 0.
func TestMissingFigureIsNeverZero(t *testing.T) {
	r := failedFixture()
	const reason = "not measured: the endpoint was given by the user: no data directory to size"
	row := htmlRow(t, renderString(t, r, FormatHTML), "datastore=mysql")
	if !strings.Contains(row, `<td class="missing" colspan="6">`+reason+`</td>`) || strings.Contains(row, "0 B") {
		t.Errorf("HTML row of the missing figure:\n%s", row)
	}
	md := mdRow(t, renderString(t, r, FormatMarkdown), "footprint.datastore.size{datastore=mysql}")
	if !strings.Contains(md, reason) || strings.Contains(md, "0 B") || strings.Contains(md, "| 0 |") {
		t.Errorf("Markdown row of the missing figure: %s", md)
	}
	var doc junitDoc
	if err := xml.Unmarshal([]byte(renderString(t, r, FormatJUnit)), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Name == "footprint.datastore.size{datastore=mysql}" {
				found = s.Name == JUnitMissingSuite && c.Skipped != nil && c.Skipped.Message == reason
			}
		}
	}
	if !found {
		t.Errorf("JUnit has no skipped %s testcase saying %q", JUnitMissingSuite, reason)
	}

	// With an SLO, a missing figure fails it and says why.
	r.Measurements = []result.Measurement{result.NotMeasured("pods.startup.latency", "seconds", nil, "no node became Ready").
		WithSLO("p99", 5, "slo")}
	junit := renderString(t, r, FormatJUnit)
	if !strings.Contains(junit, "cannot meet the SLO p99 ≤ 5.00 s: not measured: no node became Ready") {
		t.Errorf("JUnit of a missing figure with an SLO:\n%s", junit)
	}
	if row := htmlRow(t, renderString(t, r, FormatHTML), "pods.startup.latency"); !strings.Contains(row, `<td class="missing" colspan="6">not measured: no node became Ready</td>`) ||
		!strings.Contains(row, "✗ missed") || strings.Contains(row, ">0 s<") {
		t.Errorf("HTML row of a missing figure with an SLO:\n%s", row)
	}
}

var svgRE = regexp.MustCompile(`(?s)<svg.*?</svg>`)

// Issue 11 defect 12: provenance is shown in a details block, not on chart
// axes, which show the short labels.
func TestAttributesInDetailsNotOnCharts(t *testing.T) {
	r := passedFixture()
	html := renderString(t, r, FormatHTML)
	row := htmlRow(t, html, "image=pause:3.10.2")
	if !strings.Contains(row, `<details class="attrs"><summary>attributes</summary>`) ||
		!strings.Contains(row, "<dt>digest</dt><dd>sha256:0c0c") || !strings.Contains(row, "k3lite&#39;s own pause") {
		t.Errorf("image row does not show its attributes in a details block:\n%s", row)
	}
	charts := strings.Join(svgRE.FindAllString(html, -1), "\n")
	if !strings.Contains(charts, ">pause:3.10.2</text>") {
		t.Error("the image.size chart does not label its rows by the short image label")
	}
	for _, provenance := range []string{"sha256:", "go module", "registry.k8s.io"} {
		if strings.Contains(charts, provenance) {
			t.Errorf("a chart shows provenance %q", provenance)
		}
	}
	md := renderString(t, r, FormatMarkdown)
	if !strings.Contains(md, "- `image.size{arch=arm64, image=pause:3.10.2}`: digest: `sha256:0c0c") {
		t.Errorf("Markdown lacks the image attributes")
	}
}
