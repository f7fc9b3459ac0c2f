package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

func TestConformanceUpstreamFlagsNeedUpstream(t *testing.T) {
	for _, args := range [][]string{
		{"--mode", "quick"}, {"--procs", "3"}, {"--rerun-failed", "r.json"}, {"--focus", "x"}, {"--skip", "x"}, {"--kubectl", "k"},
	} {
		_, _, err := run(t, append([]string{"conformance", "--kubeconfig", "/nonexistent"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "add --upstream") {
			t.Errorf("%v without --upstream: %v, want a hint to add --upstream", args, err)
		}
	}
}

func TestConformanceUpstreamRejectsBadSelection(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"unknown upstream conformance mode": {"--mode", "everything"},
		"--label-filter selects our suites": {"--label-filter", "api"},
		"want 1 or more":                    {"--procs", "-1"},
	}
	for want, args := range cases {
		_, _, err := run(t, append([]string{"conformance", "--upstream", "--kubeconfig", kc}, args...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", args, err, want)
		}
	}
}

func TestConformanceRerunFailedNeedsUpstreamResults(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := result.New("r", time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	rep.Tests = &result.Item{Name: "conformance", Status: result.StatusFailed, Items: []result.Item{{Name: "own spec", Status: result.StatusFailed}}}
	data, err := rep.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, "conformance", "--upstream", "--kubeconfig", kc, "--rerun-failed", path)
	if err == nil || !strings.Contains(err.Error(), "no upstream conformance results") {
		t.Errorf("rerun of a report without upstream results: %v", err)
	}
}
