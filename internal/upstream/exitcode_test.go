package upstream

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

// fakeGinkgo writes a ginkgo stand-in that copies junit into the pass's
// --report-dir (as e2e.test's junit_01.xml), prints a line and exits with
// code.
func fakeGinkgo(t *testing.T, junit string, code int) string {
	t.Helper()
	src, err := filepath.Abs(junit)
	if err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
for a in "$@"; do
  case "$a" in --report-dir=*) dir="${a#--report-dir=}" ;; esac
done
cp "` + src + `" "$dir/junit_01.xml"
echo "e2e.test process 2 crashed: signal: killed"
exit ` + string(rune('0'+code)) + `
`
	p := filepath.Join(t.TempDir(), "ginkgo")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunPassFailsOnGinkgoExitCodeWithCleanJUnit: ginkgo exits 1 but its
// JUnit report holds only passed specs (a crashed process, a failed report
// node): the pass must fail, say why, and show it in the tree.
func TestRunPassFailsOnGinkgoExitCodeWithCleanJUnit(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(junit, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="1" failures="0" errors="0"><testsuite name="Kubernetes e2e suite" tests="1" failures="0" errors="0">
<testcase name="[It] `+podsSpec+`" classname="Kubernetes e2e suite" status="passed" time="1.5"></testcase>
</testsuite></testsuites>`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	o := Options{Ginkgo: fakeGinkgo(t, junit, 1), OutDir: out, Kubeconfig: "/nonexistent/kubeconfig"}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	pr := &passRun{pass: pass{Name: "parallel"}, dir: filepath.Join(out, "parallel"), selected: []string{podsSpec}}
	err := runPass(context.Background(), o, pr, filepath.Join(out, "e2e.test"), "", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exited with code 1") || !strings.Contains(err.Error(), "no failed spec") {
		t.Fatalf("runPass error = %v, want one saying ginkgo exited 1 with no failed spec in its JUnit", err)
	}
	if !strings.Contains(err.Error(), "process 2 crashed") {
		t.Errorf("error lacks the tail of ginkgo's log: %v", err)
	}
	tree := assemble([]string{podsSpec}, []*passRun{pr}, "")
	if c := tree.Counts(); c.Passed != 1 || c.Errored != 1 {
		t.Errorf("counts %+v, want the passed spec and one error leaf for the exit code", c)
	}
	if tree.Status == result.StatusPassed {
		t.Errorf("tree status %s, want not passed", tree.Status)
	}

	// The same JUnit with exit code 0 is a clean pass.
	o.Ginkgo = fakeGinkgo(t, junit, 0)
	pr = &passRun{pass: pass{Name: "parallel"}, dir: filepath.Join(out, "parallel"), selected: []string{podsSpec}}
	if err := runPass(context.Background(), o, pr, filepath.Join(out, "e2e.test"), "", time.Minute); err != nil {
		t.Errorf("exit 0 with a clean JUnit: %v", err)
	}
}

// TestRunPassTimedOutSuite: ginkgo's own timeout ends the suite; the spec it
// never reached is an error saying the suite timed out, not a skip.
func TestRunPassTimedOutSuite(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(junit, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2"><testsuite name="Kubernetes e2e suite" tests="2" skipped="1">
<properties><property name="SuiteSucceeded" value="false"></property><property name="SpecialSuiteFailureReason" value="Suite Timeout Elapsed"></property></properties>
<testcase name="[It] `+podsSpec+`" classname="Kubernetes e2e suite" status="passed" time="1.5"></testcase>
<testcase name="[It] `+rollover+`" classname="Kubernetes e2e suite" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
</testsuite></testsuites>`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	o := Options{Ginkgo: fakeGinkgo(t, junit, 1), OutDir: out, Kubeconfig: "/nonexistent/kubeconfig"}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	pr := &passRun{pass: pass{Name: "parallel"}, dir: filepath.Join(out, "parallel"), selected: []string{podsSpec, rollover}}
	if err := runPass(context.Background(), o, pr, filepath.Join(out, "e2e.test"), "", time.Minute); err != nil {
		t.Fatalf("runPass: %v (a pass that ended early is reported in the tree)", err)
	}
	tree := assemble([]string{podsSpec, rollover}, []*passRun{pr}, "")
	leaf, _ := leafByName(t, tree, rollover)
	if leaf.Status != result.StatusError || !strings.HasPrefix(leaf.Message, "not run: suite timed out after ") {
		t.Errorf("never reached spec: %s %q, want error \"not run: suite timed out after ...\"", leaf.Status, leaf.Message)
	}
}
