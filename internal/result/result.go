// Package result holds distrobench's one canonical result model: every phase
// (build, deploy, conformance, bench) writes into a Report, and every renderer
// in reports/ reads only a Report. The model is versioned: APIVersion changes
// whenever a field changes meaning, and Load refuses documents it cannot read.
//
// Tests form a tree like sonobuoy's results.Item; measurements follow
// clusterloader2's PerfData shape (name, unit, labels, samples, percentiles).
package result

import (
	"github.com/distrobench/distrobench/internal/atomicfile"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// APIVersion and Kind identify a distrobench run report document.
// v1alpha2: percentiles are nearest-rank (v1alpha1 interpolated them), and
// summaries carry the standard deviation and the coefficient of variation.
const (
	APIVersion = "distrobench.io/v1alpha2"
	Kind       = "RunReport"
)

// APIVersionV1Alpha1 is the previous version, which Parse still reads: its
// percentiles were interpolated between samples, so Parse recomputes every
// summary from the kept samples.
const APIVersionV1Alpha1 = "distrobench.io/v1alpha1"

// Status is the outcome of a run, a phase or a test.
type Status string

// Statuses. Skipped tests are always listed with the reason in Item.Message.
const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	// StatusError means the step could not be carried out (as opposed to
	// carried out and found wrong), and marks a selected spec the run never
	// reached (Message NotRunPrefix + why).
	StatusError Status = "error"
	// StatusNotSelected marks a test the run's selection (a mode, a focus, a
	// label filter) left out: it is listed for completeness, not counted in
	// Counts.Total, and never part of a pass rate.
	StatusNotSelected Status = "not-selected"
)

// NotRunPrefix starts the message of a selected spec the run never reached
// (an error leaf): "not run: interrupted after 3m0s".
const NotRunPrefix = "not run: "

// Interrupted says why a spec never ran when the run was interrupted
// (Ctrl-C, SIGTERM) after it had run for the given time.
func Interrupted(after time.Duration) string {
	return "interrupted after " + after.Round(time.Second).String()
}

// TimedOut says why a spec never ran when the suite's time limit ran out
// after the given time.
func TimedOut(after time.Duration) string {
	return "suite timed out after " + after.Round(time.Second).String()
}

// EndedEarly turns Ginkgo's special suite failure reasons ("Interrupted by
// User", "Suite Timeout Elapsed", ... comma-joined as its JUnit report has
// them) and the suite's run time into why its unreached specs never ran, or
// "" when the reasons do not say the suite ended early.
func EndedEarly(ginkgoReasons string, after time.Duration) string {
	switch r := strings.TrimSpace(ginkgoReasons); {
	case r == "":
		return ""
	case strings.Contains(r, "Timeout"):
		return TimedOut(after)
	case strings.Contains(r, "Interrupted"):
		return Interrupted(after)
	default:
		return fmt.Sprintf("the suite ended early after %s (%s)", after.Round(time.Second), r)
	}
}

// Report is one run of distrobench: parameters, environment, phases, the test
// tree and the measurements.
type Report struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`

	// RunID names the run: "<UTC timestamp>-<profile>-<datastore>".
	RunID      string    `json:"runID"`
	Status     Status    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`

	Params   Params   `json:"params"`
	Host     Host     `json:"host"`
	Versions Versions `json:"versions"`

	Phases       []Phase       `json:"phases,omitempty"`
	Tests        *Item         `json:"tests,omitempty"`
	Measurements []Measurement `json:"measurements,omitempty"`

	// ServerLogTail holds the last lines of the distribution's log when the
	// run failed (secrets redacted).
	ServerLogTail []string `json:"serverLogTail,omitempty"`
}

// Params are the inputs of the run, as the user gave them (secrets redacted).
type Params struct {
	Command     string            `json:"command"`
	Profile     string            `json:"profile"`
	ProfileFile string            `json:"profileFile,omitempty"`
	Datastore   string            `json:"datastore"`
	Endpoint    string            `json:"endpoint,omitempty"` // redacted
	Arch        string            `json:"arch"`
	Binary      string            `json:"binary,omitempty"`
	LabelFilter string            `json:"labelFilter,omitempty"`
	Repeats     int               `json:"repeats,omitempty"`
	Extra       map[string]string `json:"extra,omitempty"`
}

// Host describes the machine the run happened on.
type Host struct {
	Hostname    string `json:"hostname"`
	OS          string `json:"os"`
	Platform    string `json:"platform"`
	Kernel      string `json:"kernel"`
	Arch        string `json:"arch"`
	CPUModel    string `json:"cpuModel"`
	Cores       int    `json:"cores"`
	MemoryBytes uint64 `json:"memoryBytes"`
}

// Versions of the tool and of the distribution under test.
type Versions struct {
	Tool         string `json:"tool"`
	Distribution string `json:"distribution,omitempty"`
	Kubernetes   string `json:"kubernetes,omitempty"`
	// Datastore is the local datastore server's version ("etcd 3.7.3",
	// "PostgreSQL 15.18"); empty when it lives inside the server.
	Datastore string `json:"datastore,omitempty"`
	Go        string `json:"go,omitempty"`
}

// Phase is one step of the main job.
type Phase struct {
	Name            string    `json:"name"`
	Status          Status    `json:"status"`
	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	Error           string    `json:"error,omitempty"`
}

// Item is a node of the test tree: a suite, a container or a spec.
type Item struct {
	Name            string            `json:"name"`
	Status          Status            `json:"status"`
	DurationSeconds float64           `json:"durationSeconds,omitempty"`
	Message         string            `json:"message,omitempty"` // failure or skip reason
	Meta            map[string]string `json:"meta,omitempty"`    // labels, file:line, ...
	Items           []Item            `json:"items,omitempty"`
}

// Counts of leaf items by status. NotSelected is apart: Total and every
// pass rate are over what the run selected.
type Counts struct {
	Passed      int `json:"passed"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Errored     int `json:"errored"`
	NotSelected int `json:"notSelected,omitempty"`
}

// Total is the number of selected leaves: every leaf except not selected ones.
func (c Counts) Total() int { return c.Passed + c.Failed + c.Skipped + c.Errored }

// PassRate is Passed over Total in percent, and false when nothing was
// selected (a rate of nothing is not 0 %).
func (c Counts) PassRate() (float64, bool) {
	if c.Total() == 0 {
		return 0, false
	}
	return 100 * float64(c.Passed) / float64(c.Total()), true
}

// add adds o's counts to c.
func (c *Counts) add(o Counts) {
	c.Passed += o.Passed
	c.Failed += o.Failed
	c.Skipped += o.Skipped
	c.Errored += o.Errored
	c.NotSelected += o.NotSelected
}

// Counts walks the tree and counts its leaves (items without children).
func (it *Item) Counts() Counts {
	var c Counts
	if it == nil {
		return c
	}
	if len(it.Items) == 0 {
		switch it.Status {
		case StatusPassed:
			c.Passed++
		case StatusFailed:
			c.Failed++
		case StatusSkipped:
			c.Skipped++
		case StatusNotSelected:
			c.NotSelected++
		default:
			c.Errored++
		}
		return c
	}
	for i := range it.Items {
		c.add(it.Items[i].Counts())
	}
	return c
}

// Leaves returns every leaf of the tree with the path of names leading to it.
func (it *Item) Leaves() []Leaf {
	var out []Leaf
	var walk func(path []string, n *Item)
	walk = func(path []string, n *Item) {
		if len(n.Items) == 0 {
			out = append(out, Leaf{Path: append([]string(nil), path...), Item: n})
			return
		}
		for i := range n.Items {
			walk(append(path, n.Items[i].Name), &n.Items[i])
		}
	}
	if it != nil {
		walk(nil, it)
	}
	return out
}

// Leaf is a test with the names of its ancestors (not including the root).
type Leaf struct {
	Path []string
	Item *Item
}

// RollUp sets the status of every inner node from its children: failed if
// any child failed or errored, passed if any passed, not selected if every
// child was, skipped otherwise. An inner node already in error keeps it: a
// producer sets that to say the suite ended early (interrupted, timed out),
// which passed children must not hide. RollUp itself never sets StatusError,
// so calling it again changes nothing.
func (it *Item) RollUp() {
	if it == nil || len(it.Items) == 0 {
		return
	}
	var total float64
	anyPassed, anyFailed, anySkipped := false, false, false
	for i := range it.Items {
		it.Items[i].RollUp()
		total += it.Items[i].DurationSeconds
		switch it.Items[i].Status {
		case StatusFailed, StatusError:
			anyFailed = true
		case StatusPassed:
			anyPassed = true
		case StatusNotSelected:
		default:
			anySkipped = true
		}
	}
	if it.DurationSeconds == 0 {
		it.DurationSeconds = total
	}
	switch {
	case it.Status == StatusError:
	case anyFailed:
		it.Status = StatusFailed
	case anyPassed:
		it.Status = StatusPassed
	case anySkipped:
		it.Status = StatusSkipped
	default:
		it.Status = StatusNotSelected
	}
}

// New returns an empty report with the version fields set.
func New(runID string, started time.Time) *Report {
	return &Report{APIVersion: APIVersion, Kind: Kind, RunID: runID, StartedAt: started.UTC()}
}

// Phase returns the named phase, or nil.
func (r *Report) Phase(name string) *Phase {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// Measurement returns the first measurement with that name whose labels
// include every given label, or nil.
func (r *Report) Measurement(name string, labels map[string]string) *Measurement {
	return Find(r.Measurements, name, labels)
}

// Find returns the first of ms with that name whose labels include every
// given label, or nil.
func Find(ms []Measurement, name string, labels map[string]string) *Measurement {
	for i := range ms {
		m := &ms[i]
		if m.Name != name {
			continue
		}
		ok := true
		for k, v := range labels {
			if m.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// Marshal encodes the report as indented JSON.
func (r *Report) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode report %s: %w", r.RunID, err)
	}
	return buf.Bytes(), nil
}

// ErrNotAReport is wrapped by Parse/Load errors for documents that are not
// distrobench reports (wrong kind/apiVersion, corrupt JSON).
var ErrNotAReport = errors.New("not a distrobench run report")

// Parse decodes a report strictly: unknown fields, trailing data, a missing or
// foreign apiVersion/kind are errors. A v1alpha1 report is converted to the
// current version (see convertFromV1Alpha1).
func Parse(data []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: invalid JSON at byte %d: %w", ErrNotAReport, se.Offset, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrNotAReport, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON document", ErrNotAReport)
	}
	if r.Kind != Kind || (r.APIVersion != APIVersion && r.APIVersion != APIVersionV1Alpha1) {
		return nil, fmt.Errorf("%w: kind %q apiVersion %q, want kind %q apiVersion %q (or %q)",
			ErrNotAReport, r.Kind, r.APIVersion, Kind, APIVersion, APIVersionV1Alpha1)
	}
	if r.APIVersion == APIVersionV1Alpha1 {
		r.convertFromV1Alpha1()
	}
	return &r, nil
}

// convertFromV1Alpha1 brings a v1alpha1 report to the current version: every
// summary is recomputed from its samples (nearest-rank percentiles, standard
// deviation, CV) and every SLO judged again on the recomputed statistic, so
// that no figure on a re-rendered page keeps an interpolated percentile. The
// run's recorded Status and Reason are left as they were decided then.
func (r *Report) convertFromV1Alpha1() {
	for i := range r.Measurements {
		m := &r.Measurements[i]
		m.Summary = Summarize(m.Samples)
		if m.SLO != nil {
			judged := m.WithSLO(m.SLO.Statistic, m.SLO.Threshold, m.SLO.Source)
			m.SLO = judged.SLO
		}
	}
	r.APIVersion = APIVersion
}

// Load reads and parses a report file.
func Load(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return r, nil
}

// WriteFile writes a report file atomically (see internal/atomicfile), so a
// failed write never leaves a half-written or clobbered report behind.
func WriteFile(path string, data []byte) error {
	return atomicfile.Write(path, data, 0o644)
}
