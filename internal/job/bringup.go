package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/distrobench/distrobench/internal/build"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/progress"
)

// BringUp brings clusters up in three steps: the distribution binary
// (k3lite built, or the profile's), the node images, then the cluster
// (with the etcd server a local etcd datastore runs). The main job runs
// the steps as its build, images and up phases; 'distrobench up' runs them
// in one go (Up).
type BringUp struct {
	RepoRoot string
	Log      *slog.Logger
	Progress *progress.Printer
	// InspectBinary measures a given binary's sizes for a report (minutes
	// on a cold cache); 'up' writes no report and leaves it out.
	InspectBinary bool
	// SonobuoyImages adds sonobuoy's images to the node images, for
	// 'conformance --runner sonobuoy' on a cluster that pulls nothing.
	SonobuoyImages bool
	// ChatterProxies is deploy.Options': set by a job that keeps its
	// clusters until it takes them down ('up' returns and leaves it).
	ChatterProxies bool
}

func (b BringUp) status(s string) { b.Progress.Status("%s", s) }

// Binary sets t.Binary: k3lite built from distro/ (cached by source hash)
// when t's profile bundles it, else the profile's binary. It returns the
// binary's build figures: nil for a given binary unless InspectBinary.
func (b BringUp) Binary(ctx context.Context, t *Target) (*build.Artifact, error) {
	p := t.Profile
	bo := build.Options{RepoRoot: b.RepoRoot, Arch: p.Spec.Arch, Log: b.Log, Progress: b.status}
	if p.Spec.Bundled == nil {
		t.Binary = p.Spec.Binary
		if !b.InspectBinary {
			return nil, nil
		}
		return build.Inspect(ctx, bo, t.Binary)
	}
	bo.Bundled = p.Spec.Bundled
	a, err := build.Build(ctx, bo)
	if err != nil {
		return nil, err
	}
	t.Binary = a.Path
	return a, nil
}

// Images builds (or finds cached) the image archives t's nodes import,
// sets t.Images and records them in t's run directory (WriteImages), so a
// later command on the cluster can say what its pods ran.
func (b BringUp) Images(ctx context.Context, t *Target) error {
	imgs, err := NodeImages(ctx, b.RepoRoot, t.Profile.Spec.Arch, b.SonobuoyImages, b.Log, b.status)
	if err != nil {
		return err
	}
	t.Images = imgs
	return WriteImages(t.RunDir, imgs)
}

// Deploy starts t's cluster in t.RunDir from t.Binary, its nodes importing
// t.Images, and sets t.Cluster. apiReady is deploy.Options.APIReady (nil:
// none).
func (b BringUp) Deploy(ctx context.Context, t *Target, apiReady func(*deploy.Cluster)) error {
	p := t.Profile
	etcd, err := EtcdBinary(ctx, b.RepoRoot, p, b.Log, b.status)
	if err != nil {
		return err
	}
	c, err := deploy.Up(ctx, deploy.Options{
		Profile: p, Binary: t.Binary, Datastore: p.Spec.Datastore.Type, Endpoint: p.Spec.Datastore.Endpoint,
		EtcdBinary: etcd, RunDir: t.RunDir, ImageTarballs: Tarballs(t.Images), Log: b.Log, Progress: b.status,
		APIReady: apiReady, ChatterProxies: b.ChatterProxies,
	})
	if c != nil {
		t.Cluster = c
	}
	var ue *deploy.UpError
	if errors.As(err, &ue) && t.Report != nil {
		t.Report.ServerLogTail = ue.LogTail
	}
	return err
}

// Up brings a cluster of p up and leaves it running, for 'distrobench up':
// the binary, then in a new run directory under runsDir (named by RunID)
// the node images when it has nodes, and the cluster; each step under a
// progress heading. The run directory becomes runsDir's current run
// (LoadRun's default).
func (b BringUp) Up(ctx context.Context, p *profile.Profile, runsDir string) (*deploy.Cluster, error) {
	if b.Log == nil {
		b.Log = slog.Default()
	}
	t := &Target{Profile: p}
	if p.Spec.Bundled != nil {
		b.Progress.Phase(fmt.Sprintf("build k3lite (%s)", p.Spec.Arch))
	}
	if _, err := b.Binary(ctx, t); err != nil {
		return nil, err
	}
	runDir, err := makeRunDir(runsDir, RunID(time.Now(), p.Metadata.Name, p.Spec.Datastore.Type))
	if err != nil {
		return nil, err
	}
	t.RunDir = runDir
	if deploy.HasNodes(p) {
		b.Progress.Phase(fmt.Sprintf("images (linux/%s)", p.Spec.Arch))
		if err := b.Images(ctx, t); err != nil {
			return nil, err
		}
	}
	b.Progress.Phase(fmt.Sprintf("up: %s on %s", p.Metadata.Name, p.Spec.Datastore.Type))
	if err := b.Deploy(ctx, t, nil); err != nil {
		return nil, err
	}
	if err := linkCurrent(runsDir, runDir); err != nil {
		b.Log.Warn("could not update the current link", "err", err)
	}
	return t.Cluster, nil
}
