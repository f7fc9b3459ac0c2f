package main_test

// End-to-end tests of the main job: they run the real distrobench binary
// (DISTROBENCH_BIN, built by hack/test.sh, or built here) which builds and
// deploys the real k3lite. They are the integration tier: skipped only under
// -short.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/netns"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// distrobench returns the harness binary to test.
func distrobench(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts real k3lite servers (run without -short, as make test does)")
	}
	return harnessBinary(t)
}

// harnessBinary returns the harness binary, also under -short (for the cheap
// cases that start no cluster): DISTROBENCH_BIN, or one built here.
func harnessBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("DISTROBENCH_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "distrobench")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build distrobench: %v\n%s", err, out)
	}
	return bin
}

// Exit codes, as the README defines them.
const (
	exitPassed      = 0   // the run passed
	exitFailed      = 1   // the run completed and failed (a spec, an SLO, a phase)
	exitBadInput    = 2   // bad input or setup error
	exitInterrupted = 130 // interrupted (Ctrl-C, SIGTERM)
)

// runCLI runs distrobench and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	return runBinary(t, ctx, distrobench(t), args...)
}

// runBinary runs the harness binary bin with args.
func runBinary(t *testing.T, ctx context.Context, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--repo", repoRoot(t)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, testWriter{t})
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run distrobench %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// reportFrom finds the report.json of a run from its "report:" output line.
func reportFrom(t *testing.T, stdout string) *result.Report {
	t.Helper()
	path := reportPath(t, stdout)
	r, err := result.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return r
}

// TestMainJobSQLite is `make run`'s job, with the upstream conformance
// suite's core subset after our suites.
func TestMainJobSQLite(t *testing.T) {
	testMainJob(t, "sqlite", "core")
}

func testMainJob(t *testing.T, datastore, upstreamMode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	stdout, _, code := runCLI(t, ctx, "run", "--profile", "k3s", "--datastore", datastore,
		"--repeats", "3", "--idle-window", "10s", "--settle-min", "5s", "--api-objects", "100", "--api-repeats", "3", "--upstream", upstreamMode)
	r := reportFrom(t, stdout)
	if code != exitPassed || r.Status != result.StatusPassed {
		// SLO verdicts are measurements of this machine at this moment (a
		// busy CI box can miss one); the test checks they are recorded, not
		// met. Anything else failing fails the test.
		if !failedOnlyOnSLOs(r) || code != exitFailed {
			t.Fatalf("run exit %d, status %s: %s", code, r.Status, r.Reason)
		}
		t.Logf("the run failed only on SLO verdicts (recorded, not asserted here): %s", r.Reason)
	}
	if r.Params.Datastore != datastore || r.Versions.Distribution == "" || r.Host.Cores == 0 {
		t.Errorf("run parameters incomplete: %+v %+v %+v", r.Params, r.Versions, r.Host)
	}
	c := r.Tests.Counts()
	if c.Passed == 0 || c.Failed != 0 || c.Errored != 0 {
		t.Errorf("specs: %+v, want passed > 0 and none failed", c)
	}
	for _, name := range []string{"binary.size", "startup.readyz", "footprint.idle.rss", "footprint.idle.pss",
		"footprint.datastore.size", "api.latency", "api.rate.achieved", "shutdown.sigterm", "machine.calibration", "chatter.agent.crosscheck"} {
		m := r.Measurement(name, nil)
		if m == nil {
			t.Errorf("measurement %s missing", name)
			continue
		}
		if len(m.Samples) == 0 {
			t.Errorf("measurement %s has no samples", name)
		}
		for _, s := range m.Samples {
			if s <= 0 {
				t.Errorf("measurement %s has a non-positive sample %v", name, s)
				break
			}
		}
	}
	for _, verb := range []string{"create", "get", "list", "update", "delete"} {
		if r.Measurement("api.latency", map[string]string{"verb": verb}) == nil {
			t.Errorf("api.latency for %s missing", verb)
		}
		if m := r.Measurement("api.error_rate", map[string]string{"verb": verb}); m == nil || m.SLO == nil {
			t.Errorf("api.error_rate for %s missing or without its error-budget verdict", verb)
		}
	}
	// The profile runs the server's own node plus one agent: real pods.
	for _, node := range []string{"node0", "node1"} {
		for _, name := range []string{"startup.node_ready", "footprint.agent.pss"} {
			if m := r.Measurement(name, map[string]string{"node": node}); m == nil || len(m.Samples) == 0 || m.Samples[0] <= 0 {
				t.Errorf("measurement %s for %s missing or not positive: %+v", name, node, m)
			}
		}
	}
	if m := r.Measurement("pods.startup.latency", nil); m == nil || len(m.Samples) != 30 || m.SLO == nil {
		t.Errorf("pod startup latency: want 30 samples with an SLO verdict, got %+v", m)
	}
	if !strings.Contains(string(mustRead(t, filepath.Join(filepath.Dir(reportPath(t, stdout)), "junit.xml"))), `classname="nodes / Pod network across nodes"`) {
		t.Error("the nodes suite did not run")
	}
	checkUpstream(t, r, upstreamMode)
	dir := filepath.Dir(reportPath(t, stdout))
	checkHTML(t, filepath.Join(dir, "report.html"))
	checkJUnit(t, filepath.Join(dir, "junit.xml"), c.Total())
	if b, err := os.ReadFile(filepath.Join(dir, "summary.md")); err != nil || !bytes.Contains(b, []byte(r.RunID)) {
		t.Errorf("summary.md missing or without the run ID: %v", err)
	}
}

// failedOnlyOnSLOs reports whether a failed run's only problems are missed
// SLOs: every phase passed, no spec failed, and some SLO was missed.
func failedOnlyOnSLOs(r *result.Report) bool {
	for _, ph := range r.Phases {
		if ph.Status != result.StatusPassed {
			return false
		}
	}
	if r.Tests != nil {
		if c := r.Tests.Counts(); c.Failed+c.Errored > 0 {
			return false
		}
	}
	for _, m := range r.Measurements {
		if m.SLO != nil && !m.SLO.Met {
			return true
		}
	}
	return false
}

// reportPath finds a run's report.json from its "report:" output lines.
func reportPath(t *testing.T, stdout string) string {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) == 1 && strings.HasSuffix(f[0], "report.json") {
			return f[0]
		}
	}
	t.Fatalf("no report.json path in the output:\n%s", stdout)
	return ""
}

func checkHTML(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("HTML report: %v", err)
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("HTML report does not parse: %v", err)
	}
	var svgs int
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "svg" {
				svgs++
			}
			for _, a := range n.Attr {
				if (a.Key == "src" || a.Key == "href") && (strings.HasPrefix(a.Val, "http:") || strings.HasPrefix(a.Val, "https:") || strings.HasPrefix(a.Val, "//")) {
					t.Errorf("HTML report loads an external resource: <%s %s=%q>", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if svgs == 0 {
		t.Error("HTML report has no inline SVG chart")
	}
}

func checkJUnit(t *testing.T, path string, specs int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("JUnit report: %v", err)
	}
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("JUnit report does not parse: %v", err)
	}
	n := 0
	for _, s := range suites.Suites {
		n += len(s.Cases)
	}
	if n < specs {
		t.Errorf("JUnit has %d test cases, want at least the %d specs", n, specs)
	}
}

// TestRKE2Profile deploys the RKE2-style profile (embedded etcd, secrets
// encryption, audit log, PodSecurity restricted, anonymous auth off) and runs
// our suites against it. (The upstream core subset runs in
// TestMainJobSQLite; here it would add a minute to CI for no new code path.)
func TestRKE2Profile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// The bench runs, at its smallest, for the footprint of the static
	// control plane and a restart of a server in the RKE2 style.
	stdout, _, code := runCLI(t, ctx, "run", "--profile", "rke2", "--upstream", "none",
		"--idle-window", "10s", "--settle-min", "5s", "--repeats", "1", "--api-objects", "20", "--api-repeats", "1", "--pods", "5")
	r := reportFrom(t, stdout)
	if code != exitPassed || r.Status != result.StatusPassed {
		t.Fatalf("rke2 run exit %d, status %s: %s", code, r.Status, r.Reason)
	}
	if r.Params.Datastore != "embedded-etcd" {
		t.Errorf("rke2 profile ran on %q, want embedded-etcd", r.Params.Datastore)
	}
	if c := r.Tests.Counts(); c.Passed == 0 || c.Failed != 0 {
		t.Errorf("rke2 specs: %+v", c)
	}
	checkUpstream(t, r, "none")
	checkStaticPodControlPlane(t, r)
}

// checkStaticPodControlPlane wants the RKE2 style's process model: the
// footprint found each component's static pod on the server's node (the
// figures exist only then).
func checkStaticPodControlPlane(t *testing.T, r *result.Report) {
	t.Helper()
	for _, comp := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		m := r.Measurement("footprint.controlplane.pss", map[string]string{"component": comp, "node": "node0"})
		if m == nil || len(m.Samples) == 0 || m.Samples[0] <= 0 {
			t.Errorf("footprint.controlplane.pss of %s: %+v, want its static pod measured", comp, m)
		}
	}
}

// checkUpstream checks the upstream [Conformance] subtree of a main-job
// report: in core mode every core spec passed and every other [Conformance]
// spec is listed as not run; with none there is no subtree.
func checkUpstream(t *testing.T, r *result.Report, mode string) {
	t.Helper()
	var up *result.Item
	for i := range r.Tests.Items {
		if r.Tests.Items[i].Name == upstream.RootName {
			up = &r.Tests.Items[i]
		}
	}
	if mode == "none" {
		if up != nil || r.Phase(job.PhaseUpstream) != nil {
			t.Errorf("--upstream none still ran the upstream suite")
		}
		return
	}
	if up == nil {
		t.Fatalf("no %s subtree in the report (children: %d)", upstream.RootName, len(r.Tests.Items))
	}
	c := up.Counts()
	if c.Passed != len(upstream.CoreSpecs) || c.Total() != len(upstream.CoreSpecs) {
		t.Errorf("upstream core: %+v, want all %d selected specs passed", c, len(upstream.CoreSpecs))
	}
	// Every other [Conformance] spec of the suite is in the report, as not
	// selected (apart from the selected ones: not a skip, not in the rate).
	if c.NotSelected < 400 || c.Skipped != 0 {
		t.Errorf("upstream core lists %d specs as not selected and %d as skipped; the suite has about 460 [Conformance] specs, none skipped", c.NotSelected, c.Skipped)
	}
	if ph := r.Phase(job.PhaseUpstream); ph == nil || ph.Status != result.StatusPassed {
		t.Errorf("phase %s: %+v", job.PhaseUpstream, ph)
	}
}

// TestCtrlCLeavesReportAndNoOrphans interrupts a run once the server is up:
// the run must exit 130, still write a failed report and leave no process
// behind.
func TestCtrlCLeavesReportAndNoOrphans(t *testing.T) {
	bin := distrobench(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--repo", repoRoot(t), "run", "--profile", "k3s", "--skip-bench")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if strings.Contains(line, "server ready") {
			once.Do(func() {
				time.AfterFunc(2*time.Second, func() { _ = cmd.Process.Signal(syscall.SIGINT) })
			})
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted run exited with %v, want exit code %d", err, exitInterrupted)
	}
	r := reportFrom(t, stdout.String())
	if r.Status == result.StatusPassed || !strings.Contains(r.Reason, "interrupted") {
		t.Errorf("interrupted run's report: status %s reason %q", r.Status, r.Reason)
	}
	if len(r.ServerLogTail) == 0 {
		t.Error("interrupted run's report has no server log tail")
	}
	assertNoProcessMentions(t, r.RunID)
}

// TestUpDownNoOrphans deploys with 'up', stops with 'down' from another
// invocation and checks nothing of the run is left.
func TestUpDownNoOrphans(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	before, err := netns.HostSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	ipamBefore := machineIPAM(t)
	out, _, code := runCLI(t, ctx, "up", "--profile", "k3s", "--datastore", "mysql")
	if code != exitPassed {
		t.Fatalf("up exited %d:\n%s", code, out)
	}
	var runDir string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "run" && f[1] == "dir:" {
			runDir = f[2]
		}
	}
	if runDir == "" {
		t.Fatalf("no run dir in:\n%s", out)
	}
	if _, _, code := runCLI(t, ctx, "status", "--run-dir", runDir); code != exitPassed {
		t.Errorf("status after up exited %d, want %d", code, exitPassed)
	}
	if _, _, code := runCLI(t, ctx, "down", "--run-dir", runDir); code != exitPassed {
		t.Errorf("down exited %d, want %d", code, exitPassed)
	}
	assertNoProcessMentions(t, filepath.Base(runDir))
	if _, _, code := runCLI(t, ctx, "status", "--run-dir", runDir); code != exitBadInput {
		t.Errorf("status after down exited %d, want %d (no cluster there: a setup error)", code, exitBadInput)
	}
	// Two real nodes (kubelet, kube-proxy, flannel, pods) ran on simulated
	// hosts: the machine's own network must be exactly as before.
	after, err := netns.HostSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range before.Diff(after) {
		t.Errorf("the machine's network changed: %s", d)
	}
	// Pod IPs are the nodes' own (k3lite keeps host-local's allocations in
	// the node's data dir): none may be left in the machine's directory,
	// where every later node would find them taken.
	if ipamAfter := machineIPAM(t); len(ipamAfter) > len(ipamBefore) {
		t.Errorf("pod IP allocations left in /var/lib/cni/networks: %d before, %d after: %v", len(ipamBefore), len(ipamAfter), ipamAfter)
	}
}

// machineIPAM lists the CNI host-local allocations in the machine's own
// directory (/var/lib/cni/networks/<network>/<ip>).
func machineIPAM(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("/var/lib/cni/networks/*/*")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestARM64ServesReadyz builds k3lite for arm64 and starts it under qemu-user.
func TestARM64ServesReadyz(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	// The control plane only: kubelet, containerd and runc under qemu-user
	// are out of this test's scope (arm64 nodes are qualified on arm64
	// hardware).
	out, _, code := runCLI(t, ctx, "run", "--profile", "k3s", "--arch", "arm64", "--agents", "0",
		"--server-arg=--disable-agent", "--skip-bench", "--skip-conformance")
	r := reportFrom(t, out)
	if code != exitPassed {
		t.Fatalf("arm64 run exited %d: %s", code, r.Reason)
	}
	if r.Params.Arch != "arm64" || r.Phase("up") == nil || r.Phase("up").Status != result.StatusPassed {
		t.Errorf("arm64 run did not deploy: %+v", r.Phases)
	}
}

// TestExitCodesWithoutCluster checks the README's exit code for bad input
// and setup errors, on cases that start no cluster (cheap: they also run
// under -short).
func TestExitCodesWithoutCluster(t *testing.T) {
	bin := harnessBinary(t)
	corrupt := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(corrupt, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"unknown flag":                 {"run", "--no-such-flag"},
		"unknown command":              {"no-such-command"},
		"unknown profile":              {"run", "--profile", "no-such-profile"},
		"bad upstream mode":            {"run", "--upstream", "everything"},
		"missing kubeconfig":           {"conformance", "--kubeconfig", filepath.Join(t.TempDir(), "missing")},
		"corrupt report":               {"report", "--from", corrupt},
		"label filter with --upstream": {"conformance", "--upstream", "--label-filter", "api"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, stderr, code := runBinary(t, ctx, bin, args...); code != exitBadInput {
				t.Errorf("distrobench %v exited %d, want %d (bad input)\n%s", args, code, exitBadInput, stderr)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, _, code := runBinary(t, ctx, bin, "version"); code != exitPassed {
		t.Errorf("distrobench version exited %d, want %d", code, exitPassed)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNoProcessMentions fails if any live process has s in its command
// line (run IDs and run dirs appear in every child's arguments).
func assertNoProcessMentions(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var left []string
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil || e.Name() == "self" {
				continue
			}
			cl := strings.ReplaceAll(string(b), "\x00", " ")
			if strings.Contains(cl, s) {
				left = append(left, e.Name()+": "+cl)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of run %s left behind:\n%s", s, strings.Join(left, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
