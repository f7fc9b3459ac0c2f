package build

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// TargetOptions configure Target.
type TargetOptions struct {
	RepoRoot string
	// Target is a distro/Makefile target, e.g. e2e-amd64 or etcd-arm64.
	Target string
	// Outputs are the files the target writes (paths under distro/).
	Outputs []string
	// What names the outputs in messages ("the upstream e2e.test").
	What string
	// Cold is how long a cold build takes, for the progress line.
	Cold string
	// Build runs make when an output is missing or out of date; without it
	// existing outputs are used as they are and a missing one is an error
	// that says which make command builds it.
	Build    bool
	Log      *slog.Logger
	Progress func(string)
}

// Target makes sure the outputs of a distro/Makefile file target exist and,
// with o.Build, are up to date (`make -q` answers without building; make
// decides from the files' prerequisites, e.g. the module's go.mod/go.sum for
// binaries built from pinned modules).
func Target(ctx context.Context, o TargetOptions) error {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if allFiles(o.Outputs) && (!o.Build || upToDate(ctx, filepath.Join(o.RepoRoot, "distro"), o.Target)) {
		return nil
	}
	if !o.Build {
		return fmt.Errorf("%s missing (%v): build it with `make -C distro %s` (%s cold)", o.What, o.Outputs, o.Target, o.Cold)
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	say("building %s: make -C distro %s (%s cold, seconds when warm)", o.What, o.Target, o.Cold)
	started := time.Now()
	err := Make(ctx, MakeOptions{
		Dir: o.RepoRoot, Args: []string{"-C", "distro", o.Target}, Log: log,
		Progress: func(d time.Duration) { say("make -C distro %s running for %s", o.Target, d.Round(time.Second)) },
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("build of %s interrupted: %w", o.What, ctx.Err())
		}
		return fmt.Errorf("make -C distro %s (%s): %w", o.Target, o.What, err)
	}
	if !allFiles(o.Outputs) {
		return fmt.Errorf("make -C distro %s succeeded but one of %v is missing (does distro/Makefile still write them?)", o.Target, o.Outputs)
	}
	log.Info("built "+o.What, "target", o.Target, "took", time.Since(started).Round(time.Second))
	return nil
}

// upToDate asks make whether target needs no work (`make -q` exits 0).
func upToDate(ctx context.Context, distro, target string) bool {
	cmd := exec.CommandContext(ctx, "make", "-q", "-C", distro, target)
	return cmd.Run() == nil
}

func allFiles(paths []string) bool {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// Etcd returns the etcd server built from the distro module for arch
// (distro/_output/etcd-linux-<arch>), building it when it is missing or
// older than the module's go.mod/go.sum: the version k3lite embeds, which
// the harness's local "etcd" datastore runs instead of the machine's package.
func Etcd(ctx context.Context, repoRoot, arch string, log *slog.Logger, progress func(string)) (string, error) {
	path := filepath.Join(repoRoot, "distro", "_output", "etcd-linux-"+arch)
	err := Target(ctx, TargetOptions{
		RepoRoot: repoRoot, Target: "etcd-" + arch, Outputs: []string{path},
		What: "the etcd server", Cold: "a few minutes", Build: true, Log: log, Progress: progress,
	})
	return path, err
}
