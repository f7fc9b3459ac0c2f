package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/job"
)

// run executes the CLI in-process with the repo root of this checkout.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = Run(ctx, &out, &errb, append([]string{"--repo", root}, args...))
	return out.String(), errb.String(), err
}

func TestHelpHasExamples(t *testing.T) {
	for _, sub := range []string{"build", "up", "down", "status", "conformance", "bench", "run", "report",
		"images", "images build", "images list", "compare"} {
		out, _, err := run(t, append(strings.Fields(sub), "--help")...)
		if err != nil {
			t.Fatalf("%s --help: %v", sub, err)
		}
		if !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help has no example:\n%s", sub, out)
		}
	}
}

func TestUnknownProfileFieldNamesFileAndLine(t *testing.T) {
	_, _, err := run(t, "up", "--profile", "testdata/unknown-field.yaml")
	if err == nil {
		t.Fatal("want an error for an unknown field")
	}
	msg := err.Error()
	for _, want := range []string{"unknown-field.yaml:7", "sever"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if ExitCode(err) != 2 {
		t.Errorf("exit code %d, want 2", ExitCode(err))
	}
}

func TestUnknownDatastoreListsValidOnes(t *testing.T) {
	_, _, err := run(t, "up", "--datastore", "mongo")
	if err == nil {
		t.Fatal("want an error for an unknown datastore")
	}
	for _, want := range []string{`"mongo"`, "sqlite", "mysql", "postgres", "etcd", "embedded-etcd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestMissingBinarySaysHowToBuild(t *testing.T) {
	_, _, err := run(t, "up", "--binary", filepath.Join(t.TempDir(), "k3s"))
	if err == nil {
		t.Fatal("want an error for a missing binary")
	}
	if !strings.Contains(err.Error(), "distrobench build") {
		t.Errorf("error %q does not say how to build a binary", err)
	}
}

func TestUnreachableEndpointFailsFastNamingHostPortRedacted(t *testing.T) {
	// /bin/sleep stands in for a distribution binary: the endpoint check
	// must fail before any server starts.
	_, stderr, err := run(t, "up", "--binary", "/bin/sleep", "--datastore", "postgres",
		"--datastore-endpoint", "postgres://kine:sup3rs3cret@127.0.0.1:1/kine?sslmode=disable")
	if err == nil {
		t.Fatal("want an error for an unreachable endpoint")
	}
	// Fails before building or starting anything (no wall-clock limit:
	// the order is what matters).
	if strings.Contains(stderr, "images (") || strings.Contains(stderr, "up: ") {
		t.Errorf("the endpoint was checked only after work began:\n%s", stderr)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q does not name host:port", err)
	}
	if strings.Contains(err.Error()+stderr, "sup3rs3cret") {
		t.Errorf("password leaked: %q / %q", err, stderr)
	}
}

func TestCorruptReportIsRefusedAndNothingOverwritten(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "report.json")
	html := filepath.Join(dir, "report.html")
	if err := os.WriteFile(src, []byte(`{"apiVersion": "distrobench.io/v1alpha1", "kind": "RunReport", "runID": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(html, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, "report", "--from", src)
	if err == nil {
		t.Fatal("want an error for a corrupt report")
	}
	if !strings.Contains(err.Error(), "report.json") || !strings.Contains(err.Error(), "not a distrobench run report") {
		t.Errorf("unclear error: %v", err)
	}
	if b, _ := os.ReadFile(html); string(b) != "previous" {
		t.Errorf("report.html was overwritten: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files appeared next to the corrupt report: %v", entries)
	}
}

func TestExitCodes(t *testing.T) {
	if ExitCode(nil) != 0 || ExitCode(context.Canceled) != 130 {
		t.Error("nil -> 0 and Canceled -> 130")
	}
	if ExitCode(errors.Join(job.ErrRunFailed)) != 1 {
		t.Error("ErrRunFailed -> 1")
	}
	if ExitCode(errors.New("x")) != 2 {
		t.Error("other -> 2")
	}
}

func TestProfilesValidate(t *testing.T) {
	out, _, err := run(t, "profiles")
	if err != nil {
		t.Fatalf("profiles: %v\n%s", err, out)
	}
	for _, want := range []string{"k3s", "rke2"} {
		if !strings.Contains(out, want) {
			t.Errorf("profiles output lacks %s:\n%s", want, out)
		}
	}
}

func TestMatrixRejectsBadUpstreamMode(t *testing.T) {
	out, _, err := run(t, "matrix", "../../profiles/matrix/datastores.yaml", "--dry-run", "--upstream", "everything")
	if err == nil || !strings.Contains(err.Error(), "--upstream") {
		t.Fatalf("matrix --upstream everything: err %v, want one naming --upstream\n%s", err, out)
	}
}

func TestMatrixDryRunExpandsCells(t *testing.T) {
	out, _, err := run(t, "matrix", "../../profiles/matrix/datastores.yaml", "--dry-run", "--repeats", "2", "--upstream", "certified", "--skip-bench")
	if err != nil {
		t.Fatalf("matrix --dry-run: %v\n%s", err, out)
	}
	for _, want := range []string{"cell 1/5: k3s-sqlite-amd64", "cell 5/5: k3s-postgres-amd64", "--datastore mysql", "--repeats=2", "--upstream=certified", "--skip-bench=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchFlagsRejectBadLoad(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--api-rate", "100", "--api-concurrency", "64"}, "give only one of them"},
		{[]string{"--api-rate", "-5"}, "negative"},
		{[]string{"--api-error-budget", "2"}, "between 0 and 1"},
	} {
		for _, sub := range []string{"run", "bench"} {
			args := append([]string{sub, "--kubeconfig", "testdata/no-such-kubeconfig"}, tc.args...)
			if sub == "run" {
				args = append([]string{sub}, tc.args...)
			}
			_, _, err := run(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || ExitCode(err) != 2 {
				t.Errorf("%v: err %v (exit %d), want exit 2 and one saying %q", args, err, ExitCode(err), tc.want)
			}
		}
	}
}

func TestMatrixForwardsAPILoadFlags(t *testing.T) {
	out, _, err := run(t, "matrix", "../../profiles/matrix/datastores.yaml", "--dry-run",
		"--api-rate", "250", "--api-error-budget", "0.01", "--api-request-timeout", "5s")
	if err != nil {
		t.Fatalf("matrix --dry-run: %v\n%s", err, out)
	}
	for _, want := range []string{"--api-rate=250", "--api-error-budget=0.01", "--api-request-timeout=5s"} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix output lacks %q:\n%s", want, out)
		}
	}
}
