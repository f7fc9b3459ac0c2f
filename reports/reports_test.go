package reports

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/result"
)

var (
	update  = flag.Bool("update", false, "rewrite testdata/*.golden from the current renderers")
	preview = flag.String("preview", "", "also write each fixture's HTML as <dir>/<fixture>.html, to look at in a browser")
)

var fixtures = []struct {
	name string
	make func() *result.Report
}{
	{"passed", passedFixture},
	{"failed", failedFixture},
}

func TestGolden(t *testing.T) {
	for _, fx := range fixtures {
		for _, format := range []struct{ name, ext string }{
			{FormatHTML, "html"}, {FormatJUnit, "xml"}, {FormatMarkdown, "md"},
		} {
			t.Run(fx.name+"/"+format.name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Render(fx.make(), format.name, &buf); err != nil {
					t.Fatal(err)
				}
				if *preview != "" && format.name == FormatHTML {
					if err := os.WriteFile(filepath.Join(*preview, fx.name+".html"), buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				golden := filepath.Join("testdata", fx.name+"."+format.ext+".golden")
				if *update {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run `go test ./reports -update` to create it)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("%s differs from the rendered output (%d vs %d bytes); if the change is intended, run `go test ./reports -update` and review the diff.\nfirst difference: %s",
						golden, len(want), buf.Len(), firstDiff(string(want), buf.String()))
				}
			})
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n- " + al[i] + "\n+ " + bl[i]
		}
	}
	return "line count " + strconv.Itoa(len(al)) + " vs " + strconv.Itoa(len(bl))
}

func renderString(t *testing.T, r *result.Report, format string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(r, format, &buf); err != nil {
		t.Fatalf("render %s: %v", format, err)
	}
	return buf.String()
}

func TestHTMLIsSelfContained(t *testing.T) {
	for _, fx := range fixtures {
		html := renderString(t, fx.make(), FormatHTML)
		lower := strings.ToLower(html)
		for _, bad := range []string{`src="http`, `href="http`, `url(http`, `src=`, `<script`, `<link`, `@import`, `url(`, `<iframe`, `<img`} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s: HTML contains %q: the page must not reference anything outside itself", fx.name, bad)
			}
		}
		if !strings.Contains(html, "<style>") || !strings.Contains(html, "<svg") {
			t.Errorf("%s: HTML lacks the inline stylesheet or the inline SVG charts", fx.name)
		}
	}
	// Without URLs in the data, the page holds no URL at all (inline SVG in
	// HTML5 needs no xmlns).
	html := renderString(t, passedFixture(), FormatHTML)
	if i := strings.Index(html, "http"); i >= 0 {
		t.Errorf("passed report HTML mentions http at %d: %q", i, html[max(0, i-60):min(len(html), i+60)])
	}
}

func TestHTMLContent(t *testing.T) {
	r := failedFixture()
	html := renderString(t, r, FormatHTML)
	for _, want := range []string{
		`<div class="badge failed">FAILED</div>`,
		"SLO missed: api.latency{resource=configmaps, verb=LIST} p99", // reason
		"mysql://root:REDACTED@tcp(127.0.0.1:3306)/kine",              // endpoint
		"Cortex-A76", "8.0 GiB", "v1.37.2", "MariaDB 10.11.19", // host, versions
		"✗ missed", "p99 ≤ 5.00 s", // SLO verdict
		"timed out waiting for the condition",                  // failure message
		`<pre class="log">`, "Shutting down, received SIGTERM", // log tail
		"127.0 MiB", "442.9 MiB", "7.40 s", "14.9 ms", "3.5 %", "428.5 ops/s", // unit formatting
	} {
		if !strings.Contains(html, want) {
			t.Errorf("failed report HTML lacks %q", want)
		}
	}
	// The failed spec's <details> is open, passed suites are closed.
	if !strings.Contains(html, `<details class="leaf failed" open>`) {
		t.Error("failed spec is not expanded")
	}
	if !strings.Contains(html, `<details class="node passed"><summary>`) {
		t.Error("passed suite should be collapsed")
	}
	if strings.Contains(renderString(t, passedFixture(), FormatHTML), `class="reason"`) {
		t.Error("passed report shows a failure reason box")
	}
}

func TestNoSecretsInAnyFormat(t *testing.T) {
	r := failedFixture()
	r.Params.Endpoint = "postgres://kine:pgsecret@127.0.0.1:5432/kine?sslmode=disable"
	r.Params.Extra["token"] = "--token K10" + strings.Repeat("ab", 32) + "::server:extrasecret"
	r.Phases[2].Error = "datastore mysql://root:hunter2@tcp(127.0.0.1:3306)/kine unreachable"
	r.Measurements[2].SLO.Source = "dsn password=hunter2"
	r.Measurements[9].Attributes["source"] = "mirror mysql://root:hunter2@tcp(127.0.0.1:3306)/kine"
	r.Measurements[len(r.Measurements)-1].Missing = "dial mysql://root:hunter2@tcp(127.0.0.1:3306)/kine: refused"
	for _, format := range Formats() {
		out := renderString(t, r, format)
		for _, secret := range []string{"hunter2", "pgsecret", "s3cr3t-join-token", "extrasecret"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output leaks %q", format, secret)
			}
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s output shows no redaction mark", format)
		}
	}
}

// junitDoc is decoded independently of the renderer's own types.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
		SystemOut string `xml:"system-out"`
	} `xml:"testsuite"`
}

func TestJUnitParsesAndCountsMatch(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			r := fx.make()
			var doc junitDoc
			if err := xml.Unmarshal([]byte(renderString(t, r, FormatJUnit)), &doc); err != nil {
				t.Fatalf("JUnit does not parse: %v", err)
			}
			want := r.Tests.Counts()
			want.NotSelected = 0 // not part of the run: no test case
			var got result.Counts
			var sloCases, sloFailures, runCases, missingCases int
			var sum result.Counts
			for _, s := range doc.Suites {
				var cases result.Counts
				for _, c := range s.Cases {
					switch {
					case c.Failure != nil:
						cases.Failed++
					case c.Error != nil:
						cases.Errored++
					case c.Skipped != nil:
						cases.Skipped++
					default:
						cases.Passed++
					}
					if c.Classname == "" || c.Name == "" || c.Time == "" {
						t.Errorf("suite %s: testcase without name/classname/time: %+v", s.Name, c)
					}
				}
				if s.Tests != cases.Total() || s.Failures != cases.Failed || s.Errors != cases.Errored || s.Skipped != cases.Skipped {
					t.Errorf("suite %s attributes %d/%d/%d/%d disagree with its testcases %+v", s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, cases)
				}
				sum.Passed += cases.Passed
				sum.Failed += cases.Failed
				sum.Errored += cases.Errored
				sum.Skipped += cases.Skipped
				switch s.Name {
				case JUnitSLOSuite:
					sloCases, sloFailures = len(s.Cases), s.Failures
				case JUnitMissingSuite:
					missingCases = len(s.Cases)
					if s.Skipped != len(s.Cases) {
						t.Errorf("missing suite: %d of %d cases skipped, want all", s.Skipped, len(s.Cases))
					}
				case JUnitRunSuite:
					runCases = len(s.Cases)
					if fx.name == "failed" && !strings.Contains(s.SystemOut, "connection refused") {
						t.Errorf("run suite lacks the server log tail in system-out")
					}
				default:
					got.Passed += cases.Passed
					got.Failed += cases.Failed
					got.Errored += cases.Errored
					got.Skipped += cases.Skipped
				}
			}
			if got != want {
				t.Errorf("JUnit test counts %+v, r.Tests.Counts() %+v", got, want)
			}
			if doc.Tests != sum.Total() || doc.Failures != sum.Failed || doc.Errors != sum.Errored || doc.Skipped != sum.Skipped {
				t.Errorf("testsuites totals %d/%d/%d/%d, sum of suites %+v", doc.Tests, doc.Failures, doc.Errors, doc.Skipped, sum)
			}
			wantSLO, wantMissed, wantRun, wantMissing := 0, 0, 0, 0
			for _, m := range r.Measurements {
				if m.Missing != "" && m.SLO == nil {
					wantMissing++
				}
				if m.SLO != nil {
					wantSLO++
					if !m.SLO.Met {
						wantMissed++
					}
				}
			}
			for _, ph := range r.Phases {
				if ph.Status == result.StatusFailed || ph.Status == result.StatusError {
					wantRun++
				}
			}
			if sloCases != wantSLO || sloFailures != wantMissed {
				t.Errorf("SLO suite: %d cases %d failures, want %d and %d", sloCases, sloFailures, wantSLO, wantMissed)
			}
			if missingCases != wantMissing {
				t.Errorf("missing suite: %d cases, want %d", missingCases, wantMissing)
			}
			if runCases != wantRun {
				t.Errorf("run suite: %d cases, want %d failed phases", runCases, wantRun)
			}
		})
	}
}

func TestJUnitFailedRunWithoutCauseIsRed(t *testing.T) {
	r := passedFixture()
	r.Status = result.StatusError
	r.Reason = "deploy: k3lite server exited with code 1"
	var doc junitDoc
	if err := xml.Unmarshal([]byte(renderString(t, r, FormatJUnit)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Failures == 0 {
		t.Fatal("a failed run with passing tests renders as a green JUnit report")
	}
}

func TestJUnitEmptyReport(t *testing.T) {
	r := result.New("empty", t0)
	var doc junitDoc
	if err := xml.Unmarshal([]byte(renderString(t, r, FormatJUnit)), &doc); err != nil {
		t.Fatalf("empty report JUnit does not parse: %v", err)
	}
	if doc.Tests != 0 || len(doc.Suites) != 0 {
		t.Errorf("empty report: %+v", doc)
	}
	// every renderer copes with an empty report
	for _, f := range Formats() {
		renderString(t, r, f)
	}
}

func TestWriteAllAtomicAndReRenders(t *testing.T) {
	base := t.TempDir()
	r := failedFixture()
	dir := OutputDir(base, r)
	// a stale, longer report.html from an earlier attempt must be fully replaced
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileHTML), bytes.Repeat([]byte("stale "), 200000), 0o644); err != nil {
		t.Fatal(err)
	}
	paths, err := WriteAll(r, dir)
	if err != nil {
		t.Fatal(err)
	}
	if paths.Dir != dir || filepath.Dir(paths.JSON) != dir || filepath.Base(paths.JUnit) != "junit.xml" ||
		filepath.Base(paths.Markdown) != "summary.md" || filepath.Base(paths.HTML) != "report.html" {
		t.Errorf("unexpected paths %+v", paths)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "junit.xml,report.html,report.json,summary.md" {
		t.Errorf("output dir holds %v (temp files left behind?)", names)
	}

	loaded, err := result.Load(paths.JSON)
	if err != nil {
		t.Fatalf("written report.json does not load: %v", err)
	}
	for _, f := range []struct{ path, format string }{
		{paths.HTML, FormatHTML}, {paths.JUnit, FormatJUnit}, {paths.Markdown, FormatMarkdown}, {paths.JSON, FormatJSON},
	} {
		written, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if again := renderString(t, loaded, f.format); again != string(written) {
			t.Errorf("re-rendering %s from report.json differs from the written file: %s", f.format, firstDiff(string(written), again))
		}
	}

	// Writing over a directory path that is a file fails and says so.
	blocker := filepath.Join(base, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteAll(r, filepath.Join(blocker, "run")); err == nil {
		t.Error("WriteAll into a path under a regular file succeeded")
	}
	if _, err := WriteAll(nil, dir); err == nil {
		t.Error("WriteAll(nil) succeeded")
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	for _, format := range Formats() {
		first := renderString(t, failedFixture(), format)
		for range 5 {
			if again := renderString(t, failedFixture(), format); again != first {
				t.Fatalf("%s output changes between renders: %s", format, firstDiff(first, again))
			}
		}
	}
}

func TestRenderFormats(t *testing.T) {
	r := passedFixture()
	direct := map[string]func(w *bytes.Buffer) error{
		FormatJSON:     func(w *bytes.Buffer) error { return JSON(w, r) },
		FormatHTML:     func(w *bytes.Buffer) error { return HTML(w, r) },
		FormatJUnit:    func(w *bytes.Buffer) error { return JUnit(w, r) },
		FormatMarkdown: func(w *bytes.Buffer) error { return Markdown(w, r) },
	}
	for _, f := range Formats() {
		var a, b bytes.Buffer
		if err := Render(r, f, &a); err != nil {
			t.Fatal(err)
		}
		if err := direct[f](&b); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() || a.Len() == 0 {
			t.Errorf("Render(%q) differs from its renderer", f)
		}
	}
	err := Render(r, "pdf", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `"pdf"`) || !strings.Contains(err.Error(), "json, html, junit, md") {
		t.Errorf("Render(pdf) error = %v, want one naming the format and listing the valid ones", err)
	}
	for _, f := range Formats() {
		if err := Render(nil, f, &bytes.Buffer{}); err == nil {
			t.Errorf("Render(nil, %s) succeeded", f)
		}
	}
}

func TestOutputDir(t *testing.T) {
	for id, want := range map[string]string{
		"20260115T093000Z-k3lite-sqlite": "out/20260115T093000Z-k3lite-sqlite",
		"../../etc/x":                    "out/etc-x",
		"a b/c":                          "out/a-b-c",
		"":                               "out/unnamed-run",
		"..":                             "out/unnamed-run",
	} {
		if got := OutputDir("out", &result.Report{RunID: id}); got != want {
			t.Errorf("OutputDir(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestLinkLatest(t *testing.T) {
	base := t.TempDir()
	first, second := filepath.Join(base, "run-1"), filepath.Join(base, "run-2")
	for _, d := range []string{first, second} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "id"), []byte(filepath.Base(d)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, LatestLink)
	for _, d := range []string{first, second} {
		if err := LinkLatest(base, d); err != nil {
			t.Fatal(err)
		}
		target, err := os.Readlink(link)
		if err != nil {
			t.Fatal(err)
		}
		if target != filepath.Base(d) {
			t.Errorf("latest -> %q, want relative %q", target, filepath.Base(d))
		}
		id, err := os.ReadFile(filepath.Join(link, "id"))
		if err != nil || string(id) != filepath.Base(d) {
			t.Errorf("latest/id = %q, %v; want %q", id, err, filepath.Base(d))
		}
	}
	// A directory outside base is linked by absolute path.
	outside := t.TempDir()
	if err := LinkLatest(base, outside); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(link); target != outside {
		t.Errorf("latest -> %q, want %q", target, outside)
	}
	entries, _ := os.ReadDir(base)
	if len(entries) != 3 {
		t.Errorf("base holds %d entries, want run-1, run-2, latest (temp links left behind?)", len(entries))
	}
	// A real directory named latest is not clobbered.
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(other, LatestLink), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := LinkLatest(other, first); err == nil || !strings.Contains(err.Error(), "not a symlink") {
		t.Errorf("LinkLatest over a real directory: %v", err)
	}
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{127 << 20, "bytes", "127.0 MiB"},
		{398.4 * (1 << 20), "bytes", "398.4 MiB"},
		{8 << 30, "bytes", "8192.0 MiB"},
		{2048, "bytes", "2.0 KiB"},
		{512, "bytes", "512 B"},
		{36 << 20, "bytes/h", "36.0 MiB/h"},
		{0.0042, "seconds", "4.20 ms"},
		{0.0421, "seconds", "42.1 ms"},
		{0.421, "seconds", "421 ms"},
		{0.00042, "seconds", "420 µs"},
		{1.5, "seconds", "1.50 s"},
		{14.25, "seconds", "14.2 s"},
		{92.4, "seconds", "1m32s"},
		{1412, "seconds", "23m32s"},
		{0, "seconds", "0 s"},
		{12.345, "percent", "12.3 %"},
		{412.34, "ops/s", "412.3 ops/s"},
		{12345.6, "ops/s", "12346 ops/s"},
		{42, "count", "42"},
		{2.5, "count", "2.50"},
		{3, "widgets", "3 widgets"},
	} {
		if got := FormatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestMarkdownContent(t *testing.T) {
	md := renderString(t, failedFixture(), FormatMarkdown)
	for _, want := range []string{
		"## ❌ distrobench FAILED: `20260115T113000Z-k3lite-mysql`",
		"> **Reason:** conformance: 1 spec failed, 1 errored",
		"**1 failed**",
		"- ❌ conformance / [sig-network] Services should serve a basic endpoint from pods [Conformance]: `timed out waiting for the condition`",
		"| `api.latency{resource=configmaps, verb=LIST}` |",
		"❌ p99 ≤ 5.00 s",
		"| conformance | failed | 18m23s | `2 of 7 specs did not pass` |",
		"Server log tail (7 lines)",
		"MariaDB 10.11.19", // datastore server version
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	// No table row may be broken by a newline or a pipe in free text.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasSuffix(line, " |") {
			t.Errorf("broken table row: %q", line)
		}
	}
}
