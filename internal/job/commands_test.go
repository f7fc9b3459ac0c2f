package job

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
)

// closedKubeconfig writes a kubeconfig for an API server nobody serves.
func closedKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	const kc = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func testEnv(t *testing.T) Env {
	return Env{OutBase: t.TempDir(), Command: "distrobench test", ToolVer: "test", Log: slog.New(slog.DiscardHandler)}
}

// TestBenchOnAnUnreachableClusterIsAFailedRun: the command's phase goes
// through the main job's runner: the report names the phase and why it
// failed, and the error is a failed run (exit 1), not bad input.
func TestBenchOnAnUnreachableClusterIsAFailedRun(t *testing.T) {
	tg, err := OpenTarget(t.TempDir(), "", closedKubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := BenchCluster(ctx, testEnv(t), tg, BenchOptions{Repeats: 2})
	if !errors.Is(err, ErrRunFailed) || errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want a failed run", err)
	}
	rep := out.Report
	if len(rep.Phases) != 1 || rep.Phases[0].Name != PhaseBench || rep.Phases[0].Status != result.StatusFailed ||
		!strings.Contains(rep.Phases[0].Error, "127.0.0.1:1") {
		t.Errorf("phases %+v, want one failed bench phase naming the server", rep.Phases)
	}
	if rep.Params.Profile != "kubeconfig" || rep.Params.Datastore != "unknown" || rep.Params.Repeats != 2 {
		t.Errorf("params %+v, want a kubeconfig target's names and the repeats", rep.Params)
	}
	if _, err := result.Load(out.Paths.JSON); err != nil {
		t.Errorf("report not written: %v", err)
	}
}

// TestCommandInputErrorsWriteNoReport: what is wrong before the phase
// starts (a kubeconfig that is not one, a rerun report that does not
// exist) is bad input: an error and no report.
func TestCommandInputErrorsWriteNoReport(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(bad, []byte("not: [a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenTarget(t.TempDir(), "", filepath.Join(t.TempDir(), "missing")); err == nil || !strings.HasPrefix(err.Error(), "kubeconfig:") {
		t.Errorf("OpenTarget of a missing kubeconfig: %v", err)
	}
	e := testEnv(t)
	tg := &Target{Kubeconfig: bad}
	if out, err := BenchCluster(context.Background(), e, tg, BenchOptions{}); out != nil || err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bench with a broken kubeconfig: %v, %v; want an error naming it and no report", out, err)
	}
	missing := filepath.Join(t.TempDir(), "report.json")
	if out, err := Upstream(context.Background(), e, tg, UpstreamOptions{RerunFailed: missing}); out != nil || err == nil || !strings.HasPrefix(err.Error(), "--rerun-failed:") {
		t.Errorf("upstream rerun of a missing report: %v, %v; want an error and no report", out, err)
	}
	if entries, _ := os.ReadDir(e.OutBase); len(entries) != 0 {
		t.Errorf("reports written for bad input: %v", entries)
	}
}

func TestStartReportNamesTheCluster(t *testing.T) {
	e := testEnv(t)
	up := &Target{Cluster: &deploy.Cluster{Profile: "rke2", Datastore: "embedded-etcd"}}
	if rep := startReport(e, up); rep.Params.Profile != "rke2" || rep.Params.Datastore != "embedded-etcd" || up.Report != rep {
		t.Errorf("report of a cluster from up: %+v", rep.Params)
	}
	if rep := startReport(e, &Target{Kubeconfig: "kc"}); rep.Params.Profile != "kubeconfig" || rep.Params.Datastore != "unknown" {
		t.Errorf("report of a kubeconfig cluster: %+v", rep.Params)
	}
}

func TestUpstreamParamsSayWhatWasSelected(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    UpstreamOptions
		want map[string]string
	}{
		{"mode", UpstreamOptions{Mode: upstream.ModeCore}, map[string]string{"suite": "upstream", "mode": "core"}},
		{"focus", UpstreamOptions{Mode: upstream.ModeCore, Focus: "DNS", Skip: "Slow"},
			map[string]string{"suite": "upstream", "mode": "focus", "focus": "DNS", "skip": "Slow"}},
		{"rerun", UpstreamOptions{Mode: upstream.ModeCore, Focus: "DNS", RerunFailed: "r.json"},
			map[string]string{"suite": "upstream", "mode": "rerun-failed", "focus": "DNS", "rerunFailed": "r.json", "rerunSpecs": "3"}},
	} {
		if got := tc.u.params(3); !maps.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
