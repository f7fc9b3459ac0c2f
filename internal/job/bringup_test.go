package job

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
)

// TestBinaryTakesTheProfilesBinaryWithoutBuilding: a profile that bundles
// no k3lite runs its own binary; nothing is built or inspected for 'up'.
func TestBinaryTakesTheProfilesBinaryWithoutBuilding(t *testing.T) {
	p := &profile.Profile{}
	p.Spec.Binary = "/usr/local/bin/k3s"
	tg := &Target{Profile: p}
	a, err := BringUp{RepoRoot: t.TempDir()}.Binary(context.Background(), tg)
	if err != nil || a != nil || tg.Binary != p.Spec.Binary {
		t.Errorf("Binary: artifact %v, err %v, t.Binary %q; want the profile's binary, no artifact", a, err, tg.Binary)
	}
}

// TestUpStopsAtAMissingBinary: 'up' of a server-only profile whose binary
// does not exist makes its run directory (named by RunID), shows the up
// step, fails saying how to get a binary, and does not make it the
// current run.
func TestUpStopsAtAMissingBinary(t *testing.T) {
	p := &profile.Profile{}
	p.Metadata.Name = "k3s"
	p.Spec.Binary = filepath.Join(t.TempDir(), "k3s")
	p.Spec.Server.Args = []string{"--disable-agent"}
	p.SetDefaults()
	runs := t.TempDir()
	var out bytes.Buffer
	bu := BringUp{RepoRoot: t.TempDir(), Log: slog.New(slog.DiscardHandler), Progress: progress.NewPlain(&out, nil)}
	c, err := bu.Up(context.Background(), p, runs)
	if err == nil || c != nil || !strings.Contains(err.Error(), "distrobench build") {
		t.Fatalf("Up: cluster %v, err %v; want an error saying how to build the binary", c, err)
	}
	if !strings.Contains(out.String(), "up: k3s on sqlite") || strings.Contains(out.String(), "build k3lite") {
		t.Errorf("progress:\n%s\nwant the up step and no build", out.String())
	}
	dirs, _ := filepath.Glob(filepath.Join(runs, "*-k3s-sqlite"))
	if len(dirs) != 1 {
		t.Errorf("run directories %v, want one named by RunID", dirs)
	}
	if _, err := os.Lstat(filepath.Join(runs, CurrentRun)); err == nil {
		t.Error("a failed up became the current run")
	}
}

func TestLoadRunDefaultsToTheCurrentRun(t *testing.T) {
	runs := t.TempDir()
	if _, err := LoadRun(runs, ""); err == nil || !strings.Contains(err.Error(), "no cluster is up") {
		t.Fatalf("LoadRun without a current run: %v, want 'no cluster is up'", err)
	}
	dir, err := makeRunDir(runs, RunID(time.Now(), "k3s", "sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, deploy.StateFile), []byte(`{"runDir": "`+dir+`", "datastore": "sqlite"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := linkCurrent(runs, dir); err != nil {
		t.Fatal(err)
	}
	for _, given := range []string{"", dir} {
		c, err := LoadRun(runs, given)
		if err != nil || c.RunDir != dir || c.Datastore != "sqlite" {
			t.Errorf("LoadRun(%q): %+v, %v; want the cluster in %s", given, c, err, dir)
		}
	}
}

// TestDeployFailureKeepsTheServerLogTail: when Up fails (here the server
// exits at once; an interrupted Up is the same path) the target's report
// keeps the server log's last lines, though no cluster is left to take
// them from in down.
func TestDeployFailureKeepsTheServerLogTail(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "k3s")
	script := "#!/bin/sh\nfor i in 1 2 3; do echo \"server log line $i\"; done\nexit 3\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &profile.Profile{}
	p.Metadata.Name = "k3s"
	p.Spec.Binary = bin
	p.Spec.Server.Args = []string{"--disable-agent"}
	p.SetDefaults()
	tg := &Target{Profile: p, Binary: bin, RunDir: t.TempDir(), Report: &result.Report{}}
	err := BringUp{RepoRoot: t.TempDir(), Log: slog.New(slog.DiscardHandler)}.Deploy(context.Background(), tg, nil)
	if err == nil || tg.Cluster != nil {
		t.Fatalf("Deploy: cluster %v, err %v; want a failure and no cluster", tg.Cluster, err)
	}
	if got := strings.Join(tg.Report.ServerLogTail, "\n"); !strings.Contains(got, "server log line 3") {
		t.Errorf("report's server log tail %q, want the server's last line", got)
	}
}
