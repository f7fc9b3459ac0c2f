package job

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/result"
)

// ChildSuitesCommand is the hidden distrobench command a comparison runs
// each cell's suites with (ChildSuites does its work): Ginkgo runs specs
// once per process, and a comparison runs them once per cell.
const ChildSuitesCommand = "run-suites-child"

// noDisruptive deselects the specs that stop and start agents: only the
// process that started a cluster can do that, and a child process did not.
const noDisruptive = "!disruptive"

// ChildSuitesOptions are what a child process needs to run our suites.
type ChildSuitesOptions struct {
	Kubeconfig, LabelFilter string
	Suites                  []string
	Timeout                 time.Duration
	TimeoutMultiplier       float64
	// JUnitPath receives Ginkgo's JUnit, TreeOut the test tree as JSON.
	JUnitPath, TreeOut string
}

// ChildSuites runs our suites in this (child) process and writes the test
// tree to o.TreeOut, also when a spec failed (the tree says which).
func ChildSuites(ctx context.Context, e Env, o ChildSuitesOptions) error {
	tree, runErr := conformance.Run(ctx, conformance.Options{
		Suites: o.Suites, Kubeconfig: o.Kubeconfig, LabelFilter: o.LabelFilter, Timeout: o.Timeout,
		TimeoutMultiplier: o.TimeoutMultiplier, JUnitPath: o.JUnitPath, Log: e.Log, Progress: e.specs,
	})
	if tree != nil {
		b, err := json.Marshal(tree)
		if err != nil {
			return errors.Join(runErr, err)
		}
		if err := atomicfile.Write(o.TreeOut, b, 0o600); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

// conformanceInChild runs our suites on t in a child distrobench process
// (ChildSuitesCommand), without the disruptive specs, and takes its test
// tree into t's report. The filter it ran with is in the report's
// parameters.
func (j *mainJob) conformanceInChild(ctx context.Context, t *Target) error {
	o, c := j.o, t.Cluster
	filter := withoutDisruptive(o.Conform.LabelFilter)
	t.Report.Params.LabelFilter = filter
	co := ChildSuitesOptions{Kubeconfig: c.Kubeconfig, LabelFilter: filter, Suites: planNodes(c).suites(),
		Timeout: o.Conform.Timeout, TimeoutMultiplier: timeoutMultiplier(t.Profile.Spec.Arch),
		JUnitPath: filepath.Join(t.RunDir, "ginkgo-junit.xml"), TreeOut: filepath.Join(t.RunDir, "tests.json")}
	runErr := j.runChild(ctx, co)
	tree, err := readTree(co.TreeOut)
	if err != nil {
		return errors.Join(runErr, err)
	}
	t.Report.Tests = tree
	cnt := tree.Counts()
	o.Progress.Linef("conformance (%s): %s", filter, CountsLine(cnt))
	if err := TestsVerdict(cnt); err != nil {
		return fmt.Errorf("%w (label filter %q)", err, filter)
	}
	return nil
}

// withoutDisruptive is filter with the disruptive specs deselected.
func withoutDisruptive(filter string) string {
	if strings.TrimSpace(filter) == "" {
		return noDisruptive
	}
	return "(" + filter + ") && " + noDisruptive
}

// runChild runs ChildSuitesCommand, showing its progress lines as status.
// A child that fails after writing its tree is judged by the tree.
func (j *mainJob) runChild(ctx context.Context, co ChildSuitesOptions) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the distrobench binary to run the suites with: %w", err)
	}
	args := []string{"--repo", j.o.RepoRoot, ChildSuitesCommand, "--kubeconfig", co.Kubeconfig,
		"--label-filter", co.LabelFilter, "--suites", strings.Join(co.Suites, ","),
		"--suite-timeout", co.Timeout.String(), "--timeout-multiplier", fmt.Sprint(co.TimeoutMultiplier),
		"--junit", co.JUnitPath, "--tree-out", co.TreeOut}
	cmd := exec.CommandContext(ctx, self, args...)
	// Interrupted, the child stops its specs and writes what it has.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the suites' child process: %w", err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			j.o.Progress.Status("suites: %s", line)
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("the suites' child process: %w", err)
	}
	return nil
}

// readTree reads the test tree a child wrote.
func readTree(path string) (*result.Item, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the suites' child process left no test tree: %w", err)
	}
	var it result.Item
	if err := json.Unmarshal(b, &it); err != nil {
		return nil, fmt.Errorf("the suites' test tree %s: %w", path, err)
	}
	return &it, nil
}
