package reports

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/distrobench/distrobench/internal/result"
)

//go:embed templates/report.html.tmpl templates/report.css templates/compare.html.tmpl
var templateFS embed.FS

var htmlTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"icon": statusIcon,
	"add":  func(a, b int) int { return a + b },
}).ParseFS(templateFS, "templates/report.html.tmpl"))

// statusIcon is the one-character mark shown in status pills.
func statusIcon(status string) string {
	switch result.Status(status) {
	case result.StatusPassed:
		return "✓"
	case result.StatusFailed:
		return "✗"
	case result.StatusSkipped:
		return "–"
	case result.StatusNotSelected:
		return "○"
	}
	return "!"
}

var reportCSS = func() template.CSS {
	data, err := templateFS.ReadFile("templates/report.css")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return template.CSS(data) //nolint:gosec // our own embedded stylesheet
}()

// kv is one row of a key/value table.
type kv struct{ Key, Value string }

type phaseView struct {
	Name, Status, Started, Duration, Error string
}

type itemView struct {
	Name, Status, Duration, Message string
	Meta                            []kv
	Children                        []itemView
	Open, Leaf                      bool
	Counts                          result.Counts
}

// measurementView is one row of the measurements table. P90 and P99 read
// "max ..." where that percentile is the largest sample (see statText).
type measurementView struct {
	ID, Name, Labels, Unit, Description string
	P50, P90, P99, Range, CV, CVTitle   string
	N                                   int
	// Missing is "not measured: <reason>", shown instead of every value.
	Missing                               string
	Attributes                            []kv
	SLO, SLOVerdict, SLOSource, SLOJudged string
	Strip                                 template.HTML
}

type chartView struct {
	Title string
	SVG   template.HTML
}

type htmlView struct {
	CSS                         template.CSS
	RunID, Status, StatusWord   string
	Reason                      string
	Started, Finished, Duration string
	Params, Host, Versions      []kv
	Phases                      []phaseView
	PhaseChart                  template.HTML
	HasTests                    bool
	Counts                      result.Counts
	Total                       int    // selected tests (not selected ones apart)
	PassRate                    string // passed of selected, "" when none was
	CountsBar                   template.HTML
	Tree                        []itemView
	Failed                      []string
	Measurements                []measurementView
	Charts                      []chartView
	SLOMet, SLOMissed           int
	LogTail                     string
	Tool                        string
}

// HTML writes the report as one self-contained page: inline CSS, inline SVG
// charts, no script and no external reference of any kind, so it opens
// offline (e.g. on an air-gapped ARM board).
func HTML(w io.Writer, r *result.Report) error {
	if r == nil {
		return errNilReport
	}
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, buildHTMLView(sanitize(r))); err != nil {
		return fmt.Errorf("render HTML report %s: %w", r.RunID, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write HTML report %s: %w", r.RunID, err)
	}
	return nil
}

func buildHTMLView(r *result.Report) htmlView {
	v := htmlView{
		CSS:        reportCSS,
		RunID:      r.RunID,
		Status:     string(r.Status),
		StatusWord: statusWord(r.Status),
		Started:    formatTime(r.StartedAt),
		Finished:   formatTime(r.FinishedAt),
		Tool:       r.Versions.Tool,
	}
	if r.Status != result.StatusPassed {
		v.Reason = r.Reason
	}
	if d := runDuration(r); d > 0 {
		v.Duration = FormatSeconds(d)
	}
	v.Params = paramRows(r)
	v.Host = hostRows(r.Host)
	v.Versions = nonEmpty([]kv{
		{"distrobench", r.Versions.Tool}, {"Distribution", r.Versions.Distribution},
		{"Kubernetes", r.Versions.Kubernetes}, {"Datastore server", r.Versions.Datastore}, {"Go", r.Versions.Go},
	})
	for _, ph := range r.Phases {
		v.Phases = append(v.Phases, phaseView{
			Name: ph.Name, Status: string(ph.Status), Started: formatTime(ph.StartedAt),
			Duration: FormatSeconds(ph.DurationSeconds), Error: ph.Error,
		})
	}
	v.PhaseChart = phaseChart(r)
	if r.Tests != nil {
		v.HasTests = true
		v.Counts = r.Tests.Counts()
		v.Total = v.Counts.Total()
		v.PassRate = FormatPassRate(v.Counts)
		v.CountsBar = countsBar(v.Counts)
		if len(r.Tests.Items) == 0 {
			v.Tree = []itemView{itemTree(r.Tests)}
		} else {
			for i := range r.Tests.Items {
				v.Tree = append(v.Tree, itemTree(&r.Tests.Items[i]))
			}
		}
		for _, l := range r.Tests.Leaves() {
			if l.Item.Status == result.StatusFailed || l.Item.Status == result.StatusError {
				v.Failed = append(v.Failed, leafName(l))
			}
		}
	}
	for i := range r.Measurements {
		m := &r.Measurements[i]
		if m.SLO != nil {
			if m.SLO.Met {
				v.SLOMet++
			} else {
				v.SLOMissed++
			}
		}
		v.Measurements = append(v.Measurements, measurementRow(m))
	}
	for _, g := range measurementGroups(r.Measurements) {
		v.Charts = append(v.Charts, chartView{
			Title: g.name + " (" + g.ms[0].Unit + "): p50 and p99 by " + strings.Join(differingKeys(g.ms), ", "),
			SVG:   groupChart(g.name, g.ms),
		})
	}
	v.LogTail = strings.Join(r.ServerLogTail, "\n")
	return v
}

// measurementRow is the table row of one measurement: n, percentiles,
// range and CV so the reader sees the noise, or why it was not measured.
func measurementRow(m *result.Measurement) measurementView {
	s := m.Summary
	mv := measurementView{
		ID: measurementID(m), Name: m.Name, Labels: formatLabels(m.Labels), Unit: m.Unit,
		Description: m.Description, N: s.Count,
		SLO: sloText(m), SLOVerdict: sloVerdict(m), SLOJudged: sloJudged(m),
	}
	for _, k := range sortedKeys(m.Attributes) {
		mv.Attributes = append(mv.Attributes, kv{k, m.Attributes[k]})
	}
	if m.SLO != nil {
		mv.SLOSource = m.SLO.Source
	}
	if m.Missing != "" {
		mv.Missing = missingText(m)
		return mv
	}
	mv.P50, mv.P90, mv.P99 = statText(m, "p50"), statText(m, "p90"), statText(m, "p99")
	mv.Range, mv.CV = rangeText(m), cvText(s)
	if s.HasCV() {
		mv.CVTitle = "mean " + FormatValue(s.Mean, m.Unit) + ", sample standard deviation " + FormatValue(s.StdDev, m.Unit)
	}
	mv.Strip = stripPlot(m)
	return mv
}

func paramRows(r *result.Report) []kv {
	p := r.Params
	profile := p.Profile
	if p.ProfileFile != "" {
		profile += " (" + p.ProfileFile + ")"
	}
	rows := []kv{
		{"Run ID", r.RunID}, {"Command", p.Command}, {"Profile", profile}, {"Datastore", p.Datastore},
		{"Endpoint", p.Endpoint}, {"Arch", p.Arch}, {"Binary", p.Binary}, {"Label filter", p.LabelFilter},
	}
	if p.Repeats > 0 {
		rows = append(rows, kv{"Repeats", strconv.Itoa(p.Repeats)})
	}
	for _, k := range sortedKeys(p.Extra) {
		rows = append(rows, kv{k, p.Extra[k]})
	}
	return nonEmpty(rows)
}

func hostRows(h result.Host) []kv {
	rows := []kv{
		{"Hostname", h.Hostname}, {"OS", h.OS}, {"Platform", h.Platform}, {"Kernel", h.Kernel},
		{"Arch", h.Arch}, {"CPU", h.CPUModel},
	}
	if h.Cores > 0 {
		rows = append(rows, kv{"Logical cores", strconv.Itoa(h.Cores)})
	}
	if h.MemoryBytes > 0 {
		rows = append(rows, kv{"Memory", formatMemory(h.MemoryBytes)})
	}
	return nonEmpty(rows)
}

func nonEmpty(rows []kv) []kv {
	out := rows[:0:0]
	for _, r := range rows {
		if r.Value != "" {
			out = append(out, r)
		}
	}
	return out
}

func itemTree(it *result.Item) itemView {
	v := itemView{
		Name: it.Name, Status: string(it.Status), Message: it.Message,
		Leaf: len(it.Items) == 0, Counts: it.Counts(),
	}
	if v.Status == "" {
		v.Status = "unknown"
	}
	if it.DurationSeconds > 0 {
		v.Duration = FormatSeconds(it.DurationSeconds)
	}
	for _, k := range sortedKeys(it.Meta) {
		v.Meta = append(v.Meta, kv{k, it.Meta[k]})
	}
	v.Open = v.Counts.Failed > 0 || v.Counts.Errored > 0
	for i := range it.Items {
		v.Children = append(v.Children, itemTree(&it.Items[i]))
	}
	return v
}

func leafName(l result.Leaf) string {
	if len(l.Path) == 0 {
		return l.Item.Name
	}
	return strings.Join(l.Path, " / ")
}

type measurementGroup struct {
	name string
	ms   []*result.Measurement
}

// measurementGroups are the names measured more than once with the same
// unit (different labels), in order of first appearance: they get a
// comparison chart. Figures without samples are left out of the charts.
func measurementGroups(ms []result.Measurement) []measurementGroup {
	var groups []measurementGroup
	index := map[string]int{}
	for i := range ms {
		m := &ms[i]
		if m.Missing != "" || m.Summary.Count == 0 {
			continue // nothing to draw: the table says why
		}
		key := m.Name + "\x00" + m.Unit
		gi, ok := index[key]
		if !ok {
			gi = len(groups)
			index[key] = gi
			groups = append(groups, measurementGroup{name: m.Name})
		}
		groups[gi].ms = append(groups[gi].ms, m)
	}
	out := groups[:0]
	for _, g := range groups {
		if len(g.ms) > 1 {
			out = append(out, g)
		}
	}
	return out
}
