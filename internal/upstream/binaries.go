package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/build"
)

// Binaries are the programs a run needs.
type Binaries struct {
	E2ETest string // distro/_output/e2e.test-linux-<arch>
	Ginkgo  string // distro/_output/ginkgo-linux-<arch>
	// K3lite is distro/_output/k3lite-linux-<arch> if it exists (its
	// kubectl serves as --kubectl-path), else "".
	K3lite string
}

// BinaryPaths returns where `make -C distro e2e-<arch>` writes the binaries
// (they may not exist).
func BinaryPaths(repoRoot, arch string) Binaries {
	out := filepath.Join(repoRoot, "distro", "_output")
	return Binaries{
		E2ETest: filepath.Join(out, "e2e.test-linux-"+arch),
		Ginkgo:  filepath.Join(out, "ginkgo-linux-"+arch),
		K3lite:  filepath.Join(out, "k3lite-linux-"+arch),
	}
}

// EnsureOptions configure EnsureBinaries.
type EnsureOptions struct {
	RepoRoot string
	Arch     string
	// Build runs `make -C distro e2e-<arch>` when a binary is missing;
	// without it a missing binary is an error saying how to build it.
	Build    bool
	Log      *slog.Logger
	Progress func(string)
}

// EnsureBinaries finds e2e.test and ginkgo under distro/_output and, when
// o.Build is set, builds them with `make -C distro e2e-<arch>` if they are
// missing or older than the distro module's go.mod/go.sum (which pin them to
// the Kubernetes version k3lite links). Without o.Build an existing pair is
// used as it is.
func EnsureBinaries(ctx context.Context, o EnsureOptions) (Binaries, error) {
	b := BinaryPaths(o.RepoRoot, o.Arch)
	if !isFile(b.K3lite) {
		b.K3lite = ""
	}
	err := build.Target(ctx, build.TargetOptions{
		RepoRoot: o.RepoRoot, Target: "e2e-" + o.Arch, Outputs: []string{b.E2ETest, b.Ginkgo},
		What: "the upstream e2e.test and ginkgo", Cold: "about 25 minutes on 2 cores",
		Build: o.Build, Log: o.Log, Progress: o.Progress,
	})
	return b, err
}

// KubectlFromK3lite makes dir/kubectl a symlink to the k3lite binary: k3lite
// is a multi-call binary that runs its built-in kubectl when argv[0] is
// "kubectl" (distro/pkg/cli), exactly like `k3lite kubectl`. It returns the
// link's path, for Options.KubectlPath.
func KubectlFromK3lite(k3lite, dir string) (string, error) {
	abs, err := filepath.Abs(k3lite)
	if err != nil {
		return "", fmt.Errorf("kubectl from k3lite: %w", err)
	}
	if !isFile(abs) {
		return "", fmt.Errorf("kubectl from k3lite: %s does not exist (build it with `distrobench build`)", abs)
	}
	link := filepath.Join(dir, "kubectl")
	if err := linkInDir(abs, link); err != nil {
		return "", fmt.Errorf("kubectl from k3lite: %w", err)
	}
	return link, nil
}

// suiteBinary returns a path to e2eTest whose name ends in ".test": the
// ginkgo CLI runs a precompiled suite only under such a name, and
// `make -C distro e2e` writes e2e.test-linux-<arch>. A symlink in dir does.
func suiteBinary(e2eTest, dir string) (string, error) {
	if filepath.Ext(e2eTest) == ".test" {
		return filepath.Abs(e2eTest)
	}
	abs, err := filepath.Abs(e2eTest)
	if err != nil {
		return "", err
	}
	link := filepath.Join(dir, "e2e.test")
	if err := linkInDir(abs, link); err != nil {
		return "", fmt.Errorf("link %s as %s for ginkgo: %w", e2eTest, link, err)
	}
	return link, nil
}

// ClusterKubectl returns dir/kubectl linked to the first of binaries that
// runs kubectl when called by that name (k3lite and k3s are multi-call
// binaries; rke2 is not), so the sig-cli specs use the client of the
// cluster's own version; "" when none does (Run then looks in PATH).
func ClusterKubectl(dir string, log *slog.Logger, binaries ...string) string {
	for _, b := range binaries {
		if b == "" || filepath.Base(b) == "rke2" {
			continue
		}
		link, err := KubectlFromK3lite(b, dir)
		if err == nil {
			return link
		}
		if log != nil {
			log.Debug("no kubectl from this binary", "binary", b, "err", err)
		}
	}
	return ""
}

// linkInDir points dir/name's link at target (creating dir), in one step.
func linkInDir(target, link string) error {
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	return atomicfile.Symlink(target, link)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// dryRun lists the specs a pass selects: e2e.test itself (no ginkgo CLI, no
// cluster) walks the tree with --ginkgo.dry-run and the pass's filters, and
// its JUnit report names every spec, selected ones as passed. It takes about
// a second.
func dryRun(ctx context.Context, e2eTest string, p pass, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	bin, err := filepath.Abs(e2eTest)
	if err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	args := append([]string{"--ginkgo.dry-run", "--ginkgo.no-color", "--report-dir=" + dir}, p.filterArgs("--ginkgo.")...)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("dry run of %s (%s): %w; output:\n%s", e2eTest, strings.Join(p.filterArgs("--ginkgo."), " "), err, lastLines(string(out), 20))
	}
	cases, _, err := readJUnit(filepath.Join(dir, "junit_01.xml"))
	if err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	var names []string
	for _, tc := range cases {
		if tc.SkipMessage != nil || tc.Failure != nil || tc.ErrorMessage != nil {
			continue
		}
		n := SpecName(tc.Name)
		if SIGOf(n) == GroupSuite {
			continue
		}
		names = append(names, n)
	}
	return names, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ListConformance returns the full names of every [Conformance] spec the
// e2e.test binary holds, from a dry run with the Conformance label.
func ListConformance(ctx context.Context, e2eTest string) ([]string, error) {
	dir, err := os.MkdirTemp("", "upstream-list-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	names, err := dryRun(ctx, e2eTest, pass{LabelFilter: labelConformance}, dir)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("the e2e.test binary lists no [Conformance] spec (is it k8s.io/kubernetes/test/e2e?)")
	}
	return names, nil
}
