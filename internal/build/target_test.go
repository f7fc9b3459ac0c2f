package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makefileRepo is a repository root whose distro/Makefile copies in.txt to
// out.txt (a file target with a prerequisite, like e2e.test on go.mod) and
// has a target that fails.
func makefileRepo(t *testing.T) (root, in, out string) {
	t.Helper()
	root = t.TempDir()
	distro := filepath.Join(root, "distro")
	if err := os.MkdirAll(distro, 0o755); err != nil {
		t.Fatal(err)
	}
	mk := "out.txt: in.txt\n\tcp in.txt out.txt\n\nbroken:\n\t@echo compile error in foo.go; exit 1\n"
	if err := os.WriteFile(filepath.Join(distro, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	in, out = filepath.Join(distro, "in.txt"), filepath.Join(distro, "out.txt")
	if err := os.WriteFile(in, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, in, out
}

func TestTargetBuildsMissingAndStaleOutputs(t *testing.T) {
	root, in, out := makefileRepo(t)
	ctx := context.Background()
	o := TargetOptions{RepoRoot: root, Target: "out.txt", Outputs: []string{out}, What: "the test file", Cold: "a moment"}

	err := Target(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "make -C distro out.txt") {
		t.Fatalf("without Build, a missing output: err = %v, want the make command to run", err)
	}
	if _, statErr := os.Stat(out); statErr == nil {
		t.Fatal("without Build, Target built the output")
	}

	o.Build = true
	var said []string
	o.Progress = func(s string) { said = append(said, s) }
	if err := Target(ctx, o); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "v1" {
		t.Fatalf("out.txt = %q after the build, want v1", b)
	}
	if len(said) == 0 || !strings.Contains(said[0], "make -C distro out.txt") {
		t.Errorf("progress = %q, want the make command announced", said)
	}

	// Up to date: make is not asked to build (a changed output survives).
	if err := os.WriteFile(out, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Target(ctx, o); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "kept" {
		t.Fatalf("an up-to-date output was rebuilt: %q", b)
	}

	// A newer prerequisite (a version bump in go.mod) rebuilds it.
	if err := os.WriteFile(in, []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(in, later, later); err != nil {
		t.Fatal(err)
	}
	if err := Target(ctx, o); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "v2" {
		t.Fatalf("out.txt = %q after its prerequisite changed, want v2", b)
	}
}

func TestTargetFailureCarriesMakeOutput(t *testing.T) {
	root, _, out := makefileRepo(t)
	err := Target(context.Background(), TargetOptions{RepoRoot: root, Target: "broken", Outputs: []string{out}, What: "the broken thing", Build: true})
	if err == nil || !strings.Contains(err.Error(), "compile error in foo.go") || !strings.Contains(err.Error(), "the broken thing") {
		t.Fatalf("err = %v, want what failed and make's output", err)
	}
}

func TestTargetMissingOutputAfterMake(t *testing.T) {
	root, _, out := makefileRepo(t)
	ghost := filepath.Join(root, "distro", "never-written")
	err := Target(context.Background(), TargetOptions{RepoRoot: root, Target: "out.txt", Outputs: []string{out, ghost}, What: "two files", Build: true})
	if err == nil || !strings.Contains(err.Error(), "never-written") {
		t.Fatalf("err = %v, want the missing output named", err)
	}
}
