package sonobuoy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sonoapp "github.com/vmware-tanzu/sonobuoy/cmd/sonobuoy/app"
	sonoclient "github.com/vmware-tanzu/sonobuoy/pkg/client"
	sonoresults "github.com/vmware-tanzu/sonobuoy/pkg/client/results"
	sonoconfig "github.com/vmware-tanzu/sonobuoy/pkg/config"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/aggregation"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/driver/job"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/distrobench/distrobench/internal/images"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
)

func TestSetDefaults(t *testing.T) {
	o := Options{Kubeconfig: "k"}
	o.setDefaults()
	want := Options{
		Kubeconfig: "k", Mode: ModeNonDisruptiveConformance, Namespace: "sonobuoy", OutDir: ".",
		ImagePullPolicy: corev1.PullIfNotPresent, SonobuoyImage: "sonobuoy/sonobuoy:v0.57.3",
		Timeout: 6 * time.Hour, ProgressInterval: 30 * time.Second,
		AdvertiseAddress: "sonobuoy-aggregator.sonobuoy.svc:8080",
	}
	if o.Log == nil {
		t.Error("Log not defaulted")
	}
	o.Log = nil
	if !equalOptions(o, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", o, want)
	}
	if err := o.validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}

	// Set fields are kept.
	o = Options{Kubeconfig: "k", Mode: ModeQuick, Namespace: "sb", OutDir: "/out", ImagePullPolicy: corev1.PullNever,
		SonobuoyImage: "mirror/sonobuoy:x", ConformanceImage: "mirror/conformance:y", Timeout: time.Minute, ProgressInterval: time.Second,
		AdvertiseAddress: "10.0.0.1:8080"}
	before := o
	o.setDefaults()
	o.Log = nil
	if !equalOptions(o, before) {
		t.Errorf("setDefaults changed set fields:\n got %+v\nwant %+v", o, before)
	}
}

func equalOptions(a, b Options) bool {
	a.Progress, b.Progress = nil, nil
	return a.Kubeconfig == b.Kubeconfig && a.Mode == b.Mode && a.Namespace == b.Namespace && a.OutDir == b.OutDir &&
		a.ImagePullPolicy == b.ImagePullPolicy && a.SonobuoyImage == b.SonobuoyImage &&
		a.ConformanceImage == b.ConformanceImage && a.Timeout == b.Timeout &&
		a.ProgressInterval == b.ProgressInterval && a.KeepRunning == b.KeepRunning && a.AdvertiseAddress == b.AdvertiseAddress
}

func TestValidate(t *testing.T) {
	valid := func() Options {
		o := Options{Kubeconfig: "k"}
		o.setDefaults()
		return o
	}
	tests := []struct {
		name  string
		edit  func(*Options)
		wants []string // substrings of the error
	}{
		{"every mode", nil, nil},
		{"no kubeconfig", func(o *Options) { o.Kubeconfig = "" }, []string{"kubeconfig: empty"}},
		{"unknown mode", func(o *Options) { o.Mode = "conformance-lite" },
			[]string{`mode: "conformance-lite"`, "quick, non-disruptive-conformance, certified-conformance"}},
		{"pull policy", func(o *Options) { o.ImagePullPolicy = "Sometimes" }, []string{`imagePullPolicy: "Sometimes"`}},
		{"negative timeout", func(o *Options) { o.Timeout = -time.Second }, []string{"timeout: -1s is negative"}},
		{"fractional timeout", func(o *Options) { o.Timeout = 1500 * time.Millisecond }, []string{"not a whole number of seconds"}},
		{"namespace", func(o *Options) { o.Namespace = "Sono_buoy" }, []string{`namespace: "Sono_buoy"`}},
		{"advertise address", func(o *Options) { o.AdvertiseAddress = "[10.42.0.3]" }, []string{`advertiseAddress: "[10.42.0.3]" is not host:port`}},
		{"all at once", func(o *Options) { o.Kubeconfig, o.Mode, o.ImagePullPolicy = "", "x", "y" },
			[]string{"kubeconfig", "mode", "imagePullPolicy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edit == nil {
				for _, m := range Modes() {
					o := valid()
					o.Mode = m
					if err := o.validate(); err != nil {
						t.Errorf("mode %s: %v", m, err)
					}
				}
				return
			}
			o := valid()
			tc.edit(&o)
			err := o.validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes() {
		if got, err := ParseMode(" " + strings.ToUpper(string(m))); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMode("certified"); err == nil || !strings.Contains(err.Error(), "certified-conformance") {
		t.Errorf("ParseMode(certified): err = %v, want one listing the valid modes", err)
	}
}

// TestModesMatchSonobuoy compares modeEnv with what `sonobuoy modes
// --verbose` (sonobuoy's own table) prints.
func TestModesMatchSonobuoy(t *testing.T) {
	out := captureStdout(t, func() {
		cmd := sonoapp.NewCmdModes()
		cmd.SetArgs([]string{"--verbose"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
	})
	got := map[Mode]map[string]string{}
	var cur Mode
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			k, v = strings.TrimSuffix(sc.Text(), ":"), ""
		}
		switch k {
		case "Mode":
			cur = Mode(v)
			got[cur] = map[string]string{}
		case envFocus, envSkip, envParallel:
			got[cur][k] = v
		}
	}
	for _, m := range Modes() {
		want := modeEnv[m]
		if g, ok := got[m]; !ok {
			t.Errorf("sonobuoy has no mode %s (modes: %v)", m, out)
		} else if g[envFocus] != want[envFocus] || g[envSkip] != want[envSkip] || g[envParallel] != want[envParallel] {
			t.Errorf("mode %s: sonobuoy sets %v, modeEnv %v", m, g, want)
		}
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() { os.Stdout = old }()
	f()
	w.Close()
	os.Stdout = old
	return <-done
}

func TestConformanceImageFor(t *testing.T) {
	tests := map[string]string{
		"v1.37.2":        "registry.k8s.io/conformance:v1.37.2",
		"v1.37.2+k3s1":   "registry.k8s.io/conformance:v1.37.2",
		"v1.37.2+rke2r1": "registry.k8s.io/conformance:v1.37.2",
		"v1.38.0-rc.1":   "registry.k8s.io/conformance:v1.38.0-rc.1",
	}
	for in, want := range tests {
		got, err := ConformanceImageFor(in)
		if err != nil || got != want {
			t.Errorf("ConformanceImageFor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ConformanceImageFor("1.37"); err == nil || !strings.Contains(err.Error(), "ConformanceImage") {
		t.Errorf("a version without v: err = %v, want one naming the ConformanceImage option", err)
	}
}

// TestCatalogHoldsSonobuoysImages checks that distrobench's image catalog
// builds the images a run on k3lite (Kubernetes v1.37.2) asks for, under
// the names kubelet looks up.
func TestCatalogHoldsSonobuoysImages(t *testing.T) {
	var names []string
	for _, s := range images.List() {
		names = append(names, s.Name)
	}
	conformance, err := ConformanceImageFor("v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{DefaultSonobuoyImage(), conformance} {
		if !slices.Contains(names, normalizeDockerRef(want)) {
			t.Errorf("images catalog lacks %s (as %s); catalog: %v", want, normalizeDockerRef(want), names)
		}
	}
}

// normalizeDockerRef spells a reference the way containerd's CRI and
// kubelet look it up ("sonobuoy/sonobuoy:v" -> "docker.io/sonobuoy/sonobuoy:v").
func normalizeDockerRef(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if !found {
		return "docker.io/library/" + ref
	}
	if strings.ContainsAny(first, ".:") || first == "localhost" {
		return ref
	}
	return "docker.io/" + ref
}

// TestGeneratedManifest renders the manifest Run submits and checks what
// distrobench sets in it.
func TestGeneratedManifest(t *testing.T) {
	o := Options{Kubeconfig: "k", Mode: ModeQuick, Namespace: "sb-test", ImagePullPolicy: corev1.PullNever,
		ConformanceImage: "registry.k8s.io/conformance:v1.37.2", Timeout: 90 * time.Minute}
	o.setDefaults()
	r := &runner{o: &o, kubeTag: "v1.37.2"}
	b, err := (&sonoclient.SonobuoyClient{}).GenerateManifest(r.genConfig())
	if err != nil {
		t.Fatal(err)
	}
	m := string(b)
	for _, want := range []string{
		"name: sb-test\n",
		"image: sonobuoy/sonobuoy:v0.57.3",
		"imagePullPolicy: Never",
		`"timeoutseconds":5400`,
		`"advertiseaddress":"sonobuoy-aggregator.sb-test.svc:8080"`,
		"image: registry.k8s.io/conformance:v1.37.2",
		"value: Pods should be submitted and removed",
		"name: SONOBUOY_K8S_VERSION\n        value: v1.37.2",
		"- /run_e2e.sh",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	if strings.Contains(m, "systemd-logs") {
		t.Error("manifest runs the systemd-logs plugin; only e2e was asked for")
	}
	if t.Failed() {
		t.Logf("manifest:\n%s", m)
	}
}

func TestStatusLine(t *testing.T) {
	s := &aggregation.Status{Status: aggregation.RunningStatus, Plugins: []aggregation.PluginStatus{{
		Plugin: "e2e", Node: "global", Status: aggregation.RunningStatus,
		Progress: &plugin.ProgressUpdate{Total: 462, Completed: 120, Failures: []string{"a", "b"}},
	}}}
	if got, want := statusLine(s), "running: e2e running: 120/462 specs, 2 failed"; got != want {
		t.Errorf("statusLine = %q, want %q", got, want)
	}
	s = &aggregation.Status{Status: aggregation.CompleteStatus, Plugins: []aggregation.PluginStatus{{
		Plugin: "e2e", Node: "global", Status: aggregation.CompleteStatus, ResultStatus: "passed",
	}}}
	if got, want := statusLine(s), "complete: e2e complete (result passed)"; got != want {
		t.Errorf("statusLine = %q, want %q", got, want)
	}
}

// fixture JUnit in the shape e2e.test (Ginkgo v2) writes it.
const fixtureJUnit = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="6" disabled="0" errors="0" failures="1" time="40.5">
  <testsuite name="Kubernetes e2e suite" package="/usr/local/bin" tests="6" disabled="0" skipped="3" errors="0" failures="1" time="40.5">
    <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="1.5"></testcase>
    <testcase name="[It] [sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="passed" time="12.25"></testcase>
    <testcase name="[It] [sig-network] DNS should provide DNS for services  [Conformance]" classname="Kubernetes e2e suite" status="failed" time="26.75">
      <failure message="timed out waiting for the condition" type="failed">[FAILED] timed out waiting for the condition
In [It] at: dns_common.go:476</failure>
    </testcase>
    <testcase name="[It] [sig-apps] Daemon set [Serial] should rollback without unnecessary restarts [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0">
      <skipped message="skipped - Requires at least 2 nodes"></skipped>
    </testcase>
    <testcase name="[It] [sig-node] Pods should be updated [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0">
      <skipped message="skipped"></skipped>
    </testcase>
    <testcase name="[It] [sig-storage] CSI Mock volume expansion should expand volume [Slow]" classname="Kubernetes e2e suite" status="skipped" time="0">
      <skipped message="skipped"></skipped>
    </testcase>
  </testsuite>
</testsuites>
`

// writeFixtureTarball makes a results tarball as sonobuoy's aggregator does:
// the e2e plugin's raw JUnit, sonobuoy_results.yaml post-processed by
// sonobuoy's own results package, meta/info.json and (withConfig)
// meta/config.json.
func writeFixtureTarball(t *testing.T, withConfig bool, plugins ...string) string {
	t.Helper()
	return fixtureTarball(t, withConfig, fixtureJUnit, "log\n", plugins...)
}

// fixtureTarball is writeFixtureTarball with the e2e plugin's JUnit report
// and log given.
func fixtureTarball(t *testing.T, withConfig bool, junit, e2eLog string, plugins ...string) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel string, data []byte) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	info, _ := json.Marshal(map[string][]string{"plugins": plugins})
	write("meta/info.json", info)
	if withConfig {
		cfg := sonoconfig.New()
		cfg.UUID = "0f4d6c1e-run"
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		write("meta/config.json", b)
		write("serverversion.json", []byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2+k3lite"}`))
	}
	for _, name := range plugins {
		if name != e2ePlugin {
			write("plugins/"+name+"/results/global/out.txt", []byte("x"))
			continue
		}
		write("plugins/e2e/results/global/junit_01.xml", []byte(junit))
		write("plugins/e2e/results/global/e2e.log", []byte(e2eLog))
		p := job.NewPlugin(*sonoclient.E2EManifest(&sonoclient.GenConfig{}), "sonobuoy", DefaultSonobuoyImage(), "IfNotPresent", "", nil)
		item, errs := sonoresults.PostProcessPlugin(p, root)
		if len(errs) > 0 {
			t.Fatalf("post-processing the fixture: %v", errs)
		}
		if err := sonoresults.SaveProcessedResults(p.GetName(), root, item); err != nil {
			t.Fatal(err)
		}
	}
	return tarGz(t, root)
}

func tarGz(t *testing.T, root string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "202611270900_sonobuoy_0f4d6c1e.tar.gz")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportTarball(t *testing.T) {
	for _, withConfig := range []bool{true, false} {
		t.Run(map[bool]string{true: "full", false: "no meta/config.json"}[withConfig], func(t *testing.T) {
			tb := writeFixtureTarball(t, withConfig, e2ePlugin)
			it, err := ImportTarball(tb)
			if err != nil {
				t.Fatal(err)
			}
			if it.Name != upstream.RootName {
				t.Errorf("root name %q, want %q", it.Name, upstream.RootName)
			}
			if c := it.Counts(); c != (result.Counts{Passed: 1, Failed: 1, Skipped: 1}) {
				t.Errorf("counts %+v, want 1 passed, 1 failed, 1 skipped (the passed suite node and the 2 specs not selected dropped)", c)
			}
			for _, g := range it.Items {
				if g.Name == "sig-storage" {
					t.Errorf("group sig-storage kept though its only spec was not selected: %+v", g)
				}
			}
			if it.Status != result.StatusFailed {
				t.Errorf("root status %s, want failed", it.Status)
			}
			leaves := map[string]*result.Item{}
			for _, l := range it.Leaves() {
				leaves[l.Item.Name] = l.Item
			}
			pod := leaves["[sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]"]
			dns := leaves["[sig-network] DNS should provide DNS for services  [Conformance]"]
			ds := leaves["[sig-apps] Daemon set [Serial] should rollback without unnecessary restarts [Conformance]"]
			if pod == nil || dns == nil || ds == nil {
				t.Fatalf("leaves %v lack a fixture spec", it.Leaves())
			}
			if pod.Status != result.StatusPassed || pod.DurationSeconds != 12.25 {
				t.Errorf("pod spec: %s %.2fs, want passed 12.25s (duration from the JUnit file)", pod.Status, pod.DurationSeconds)
			}
			if dns.Status != result.StatusFailed || !strings.Contains(dns.Message, "timed out waiting for the condition") || dns.DurationSeconds != 26.75 {
				t.Errorf("dns spec: %s %q %.2fs", dns.Status, dns.Message, dns.DurationSeconds)
			}
			if ds.Status != result.StatusSkipped || ds.Message != "skipped - Requires at least 2 nodes" {
				t.Errorf("daemon set spec: %s %q, want skipped with the JUnit reason", ds.Status, ds.Message)
			}
			if it.DurationSeconds != 39 {
				t.Errorf("root duration %.2f, want the leaves' sum 39", it.DurationSeconds)
			}
			wantMeta := map[string]string{MetaRunner: "sonobuoy", MetaTarball: tb, MetaPlugins: "e2e", MetaNotSelected: "2"}
			if withConfig {
				wantMeta[MetaRunID] = "0f4d6c1e-run"
				wantMeta[MetaSonobuoyVersion] = "v0.57.3"
				wantMeta[MetaKubernetesVersion] = "v1.37.2+k3lite"
			}
			for k, v := range wantMeta {
				if it.Meta[k] != v {
					t.Errorf("Meta[%s] = %q, want %q", k, it.Meta[k], v)
				}
			}
			if !withConfig && it.Meta[MetaRunID] != "" {
				t.Errorf("Meta[%s] = %q without meta/config.json", MetaRunID, it.Meta[MetaRunID])
			}
		})
	}
}

// interruptedJUnit is fixtureJUnit from a suite interrupted after 40.5 s
// (41 s rounded) with the certified-conformance focus: the plain "skipped" [Conformance]
// spec was never reached, the [Slow] CSI one was never selected.
var interruptedJUnit = strings.Replace(fixtureJUnit, `time="40.5">
    <testcase name="[SynchronizedBeforeSuite]"`, `time="40.5">
    <properties>
      <property name="SuiteSucceeded" value="false"></property>
      <property name="SpecialSuiteFailureReason" value="Interrupted by User"></property>
      <property name="FocusStrings" value="\[Conformance\]"></property>
      <property name="SkipStrings" value=""></property>
    </properties>
    <testcase name="[SynchronizedBeforeSuite]"`, 1)

// TestImportTarballInterrupted: after an interrupt the specs the suite never
// reached are errors saying so, not dropped as not selected, and the counts
// add up to what the suite selected ("Will run 4 of 6 specs").
func TestImportTarballInterrupted(t *testing.T) {
	if !strings.Contains(interruptedJUnit, "Interrupted by User") {
		t.Fatal("fixture JUnit changed: the properties were not inserted")
	}
	tb := fixtureTarball(t, true, interruptedJUnit, "Running Suite: Kubernetes e2e suite\nWill run 4 of 6 specs\n", e2ePlugin)
	it, err := ImportTarball(tb)
	if err != nil {
		t.Fatal(err)
	}
	if c := it.Counts(); c != (result.Counts{Passed: 1, Failed: 1, Skipped: 1, Errored: 1}) || c.Total() != 4 {
		t.Errorf("counts %+v, want 1 passed, 1 failed, 1 skipped, 1 errored: the 4 selected specs", c)
	}
	var updated *result.Item
	for _, l := range it.Leaves() {
		if strings.HasPrefix(l.Item.Name, "[sig-node] Pods should be updated") {
			updated = l.Item
		}
	}
	if updated == nil || updated.Status != result.StatusError || updated.Message != "not run: interrupted after 41s" {
		t.Errorf("spec never reached: %+v, want error \"not run: interrupted after 41s\"", updated)
	}
	if it.Meta[MetaNotSelected] != "1" {
		t.Errorf("Meta[%s] = %q, want 1 (the [Slow] CSI spec)", MetaNotSelected, it.Meta[MetaNotSelected])
	}
	if it.Status != result.StatusError {
		t.Errorf("root status %s, want error (the suite ended early)", it.Status)
	}
}

// TestImportTarballCountsAddUpToSelection: when the log says more specs were
// selected than the results hold, the gap is an error leaf, never silent.
func TestImportTarballCountsAddUpToSelection(t *testing.T) {
	tb := fixtureTarball(t, true, fixtureJUnit, "Will run 5 of 6 specs\n", e2ePlugin)
	it, err := ImportTarball(tb)
	if err != nil {
		t.Fatal(err)
	}
	if c := it.Counts(); c.Errored != 1 {
		t.Errorf("counts %+v, want one error for the selected spec without a result", c)
	}
}

func TestImportTarballErrors(t *testing.T) {
	dir := t.TempDir()
	notGz := filepath.Join(dir, "plain.tar.gz")
	if err := os.WriteFile(notGz, []byte("not a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		wants      []string
	}{
		{"missing", filepath.Join(dir, "nope.tar.gz"), []string{"nope.tar.gz", "no such file"}},
		{"not gzip", notGz, []string{"plain.tar.gz", "not a gzipped tarball"}},
		{"no e2e results", writeFixtureTarball(t, true, "systemd-logs"), []string{"plugins/e2e/sonobuoy_results.yaml", "plugins in it: systemd-logs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := ImportTarball(tc.path)
			if err == nil {
				t.Fatalf("no error; item %+v", it)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCheckImages(t *testing.T) {
	pod := func(name, reason, image string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "sonobuoy"},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
				Name: "c", Image: image, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "msg of " + reason}},
			}}},
		}
	}
	newRunner := func(pods ...*corev1.Pod) *runner {
		objs := make([]runtime.Object, len(pods))
		for i, p := range pods {
			objs[i] = p
		}
		o := Options{Kubeconfig: "k", ImagePullPolicy: corev1.PullNever}
		o.setDefaults()
		return &runner{o: &o, kube: fake.NewClientset(objs...), started: time.Now()}
	}
	ctx := context.Background()

	r := newRunner(pod("creating", "ContainerCreating", "a"))
	if err := r.checkImages(ctx, map[string]time.Time{}); err != nil {
		t.Errorf("ContainerCreating: %v", err)
	}

	r = newRunner(pod("sonobuoy", "ErrImageNeverPull", "sonobuoy/sonobuoy:v0.57.3"))
	err := r.checkImages(ctx, map[string]time.Time{})
	if err == nil || !strings.Contains(err.Error(), "sonobuoy/sonobuoy:v0.57.3") || !strings.Contains(err.Error(), "ErrImageNeverPull") {
		t.Errorf("ErrImageNeverPull: err = %v, want one naming the image and the reason", err)
	}

	r = newRunner(pod("e2e-job", "ImagePullBackOff", "registry.k8s.io/conformance:v1.37.2"))
	seen := map[string]time.Time{}
	if err := r.checkImages(ctx, seen); err != nil {
		t.Errorf("a fresh ImagePullBackOff failed the run: %v", err)
	}
	if _, ok := seen["e2e-job/c"]; !ok {
		t.Fatalf("ImagePullBackOff not recorded: %v", seen)
	}
	seen["e2e-job/c"] = time.Now().Add(-imagePullPatience - time.Second)
	if err := r.checkImages(ctx, seen); err == nil || !strings.Contains(err.Error(), "registry.k8s.io/conformance:v1.37.2") {
		t.Errorf("a lasting ImagePullBackOff: err = %v, want one naming the image", err)
	}
}
