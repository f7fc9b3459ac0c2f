package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/distrobench/distrobench/internal/result"
)

// Names of the testsuites JUnit adds beside the test tree.
const (
	// JUnitSLOSuite holds one testcase per measurement that has an SLO.
	JUnitSLOSuite = "measurements.slo"
	// JUnitMissingSuite holds one skipped testcase per figure that could not
	// be measured ("not measured: <reason>"), so it is seen, never read as 0.
	JUnitMissingSuite = "measurements.missing"
	// JUnitRunSuite holds one testcase per failed phase (or one for the run
	// itself when it failed outside any phase), with the server log tail.
	JUnitRunSuite = "run.phases"
)

// The JUnit types follow the Ant/Jenkins JUnit schema that GitHub, GitLab,
// Jenkins and most test-report tools read.
type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// JUnit writes the report as JUnit XML: a testsuite per top-level item of
// the test tree with a testcase per leaf (classname is the path of its
// ancestors), a "measurements.slo" testsuite with a testcase per measurement
// that has an SLO, a "measurements.missing" testsuite with a skipped testcase
// per figure that could not be measured, and a "run.phases" testsuite with a testcase per failed
// phase.
func JUnit(w io.Writer, r *result.Report) error {
	if r == nil {
		return errNilReport
	}
	doc := buildJUnit(sanitize(r))
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("render JUnit report %s: %w", r.RunID, err)
	}
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write JUnit report %s: %w", r.RunID, err)
	}
	return nil
}

func seconds(v float64) string { return fmt.Sprintf("%.3f", max(v, 0)) }

func buildJUnit(r *result.Report) junitTestSuites {
	doc := junitTestSuites{Name: "distrobench " + r.RunID}
	props := nonEmptyProps([]junitProperty{
		{"runID", r.RunID}, {"status", string(r.Status)}, {"profile", r.Params.Profile},
		{"datastore", r.Params.Datastore}, {"arch", r.Params.Arch}, {"distribution", r.Versions.Distribution},
		{"kubernetes", r.Versions.Kubernetes}, {"datastoreVersion", r.Versions.Datastore},
	})
	timestamp := ""
	if !r.StartedAt.IsZero() {
		timestamp = r.StartedAt.UTC().Format("2006-01-02T15:04:05")
	}
	newSuite := func(name string) junitTestSuite {
		return junitTestSuite{Name: name, Timestamp: timestamp, Hostname: r.Host.Hostname, Properties: props}
	}

	if r.Tests != nil {
		tops := []*result.Item{r.Tests}
		if len(r.Tests.Items) > 0 {
			tops = tops[:0]
			for i := range r.Tests.Items {
				tops = append(tops, &r.Tests.Items[i])
			}
		}
		for _, top := range tops {
			s := newSuite(top.Name)
			var total float64
			for _, l := range top.Leaves() {
				if l.Item.Status == result.StatusNotSelected {
					continue // not part of the run: no test case, no pass rate
				}
				path := append([]string{top.Name}, l.Path...)
				tc := junitTestCase{
					Name:      l.Item.Name,
					Classname: strings.Join(path[:len(path)-1], " / "),
					Time:      seconds(l.Item.DurationSeconds),
				}
				if len(l.Path) == 0 { // the top-level item is itself a test
					tc.Classname = r.Tests.Name
				}
				total += l.Item.DurationSeconds
				msg := &junitMessage{Message: firstLine(l.Item.Message, 200), Text: l.Item.Message}
				switch l.Item.Status {
				case result.StatusPassed:
				case result.StatusFailed:
					msg.Type = "failed"
					tc.Failure = msg
				case result.StatusSkipped:
					tc.Skipped = &junitMessage{Message: firstLine(l.Item.Message, 200)}
				default:
					msg.Type = string(l.Item.Status)
					if msg.Type == "" {
						msg.Type = "unknown"
					}
					tc.Error = msg
				}
				s.add(tc)
			}
			if top.DurationSeconds > 0 {
				total = top.DurationSeconds
			}
			s.Time = seconds(total)
			doc.add(s)
		}
	}

	slo := newSuite(JUnitSLOSuite)
	for i := range r.Measurements {
		m := &r.Measurements[i]
		if m.SLO == nil {
			continue
		}
		tc := junitTestCase{Name: measurementID(m), Classname: JUnitSLOSuite, Time: seconds(0)}
		if !m.SLO.Met {
			text := fmt.Sprintf("%s %s is above the SLO %s", measurementID(m), sloJudged(m), sloText(m))
			if m.Missing != "" || m.Summary.Count == 0 {
				text = fmt.Sprintf("%s cannot meet the SLO %s: %s", measurementID(m), sloText(m), sloJudged(m))
			}
			if m.SLO.Source != "" {
				text += " (" + m.SLO.Source + ")"
			}
			tc.Failure = &junitMessage{Message: text, Type: "slo", Text: text}
		}
		slo.add(tc)
	}
	slo.Time = seconds(0)
	if len(slo.Cases) > 0 {
		doc.add(slo)
	}

	missing := newSuite(JUnitMissingSuite)
	for i := range r.Measurements {
		m := &r.Measurements[i]
		if m.Missing == "" || m.SLO != nil { // a missing figure with an SLO fails in the SLO suite
			continue
		}
		missing.add(junitTestCase{Name: measurementID(m), Classname: JUnitMissingSuite, Time: seconds(0),
			Skipped: &junitMessage{Message: firstLine(missingText(m), 200)}})
	}
	missing.Time = seconds(0)
	if len(missing.Cases) > 0 {
		doc.add(missing)
	}

	run := newSuite(JUnitRunSuite)
	var runTime float64
	for _, ph := range r.Phases {
		if ph.Status != result.StatusFailed && ph.Status != result.StatusError {
			continue
		}
		text := ph.Error
		if text == "" {
			text = "phase " + string(ph.Status)
		}
		msg := &junitMessage{Message: firstLine(text, 200), Type: string(ph.Status), Text: text}
		tc := junitTestCase{Name: ph.Name, Classname: JUnitRunSuite, Time: seconds(ph.DurationSeconds)}
		if ph.Status == result.StatusFailed {
			tc.Failure = msg
		} else {
			tc.Error = msg
		}
		runTime += ph.DurationSeconds
		run.add(tc)
	}
	if len(run.Cases) == 0 && (r.Status == result.StatusFailed || r.Status == result.StatusError) &&
		r.Tests.Counts().Failed+r.Tests.Counts().Errored == 0 && !anySLOMissed(r) {
		// The run failed but no phase, test or SLO says why: make that
		// visible to JUnit consumers instead of showing a green build.
		text := r.Reason
		if text == "" {
			text = "run " + string(r.Status) + " without a recorded reason"
		}
		run.add(junitTestCase{Name: "run", Classname: JUnitRunSuite, Time: seconds(runDuration(r)),
			Failure: &junitMessage{Message: firstLine(text, 200), Type: string(r.Status), Text: text}})
		runTime = runDuration(r)
	}
	run.Time = seconds(runTime)
	if len(run.Cases) > 0 {
		if len(r.ServerLogTail) > 0 {
			run.SystemOut = strings.Join(r.ServerLogTail, "\n")
		}
		doc.add(run)
	}
	if doc.Suites == nil {
		doc.Suites = []junitTestSuite{}
	}
	doc.Time = seconds(runDuration(r))
	return doc
}

func anySLOMissed(r *result.Report) bool {
	for i := range r.Measurements {
		if s := r.Measurements[i].SLO; s != nil && !s.Met {
			return true
		}
	}
	return false
}

func (s *junitTestSuite) add(tc junitTestCase) {
	s.Cases = append(s.Cases, tc)
	s.Tests++
	switch {
	case tc.Failure != nil:
		s.Failures++
	case tc.Error != nil:
		s.Errors++
	case tc.Skipped != nil:
		s.Skipped++
	}
}

func (d *junitTestSuites) add(s junitTestSuite) {
	d.Suites = append(d.Suites, s)
	d.Tests += s.Tests
	d.Failures += s.Failures
	d.Errors += s.Errors
	d.Skipped += s.Skipped
}

func nonEmptyProps(ps []junitProperty) []junitProperty {
	out := ps[:0:0]
	for _, p := range ps {
		if p.Value != "" {
			out = append(out, p)
		}
	}
	return out
}
