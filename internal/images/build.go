package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/progress"
)

// packSchema changes whenever this package packs images differently (layout,
// base files, config, names), so cached archives of an older scheme are
// rebuilt. v2: Docker Hub images are named docker.io/..., as the CRI spells
// them (v1 archives said index.docker.io/... and kubelet did not find them).
const packSchema = "distrobench-images/v2"

// Options say what to build and where.
type Options struct {
	// RepoRoot is the distrobench repository root (holds distro/).
	RepoRoot string
	// Arch is amd64 or arm64 (default: the host's).
	Arch string
	// OutDir receives the archives (default <RepoRoot>/_output/images/<arch>).
	OutDir string
	// CacheDir holds downloaded Debian packages, busybox's source and
	// builds, and scratch files (default <RepoRoot>/_output/images/cache).
	CacheDir string
	// Names selects images by full or short name (default: all of List()).
	Names []string
	// Log receives commands and their output at debug level (default: discarded).
	Log *slog.Logger
	// Progress, when set, receives one short line per step.
	Progress func(string)
}

// Image is a built (or cached) image archive.
type Image struct {
	// Name is the image reference the archive is tagged with.
	Name string `json:"name"`
	Arch string `json:"arch"`
	// Source says what it was built from, with resolved versions, e.g.
	// "go module github.com/coredns/coredns v1.15.0 (.)".
	Source string `json:"source"`
	// Tarball is the archive's path: an OCI image layout and a
	// docker-archive in one tar, for `ctr images import` or containerd's
	// client Import.
	Tarball string `json:"tarball"`
	// Digest is the manifest digest (what `ctr images ls` shows after import).
	Digest string `json:"digest"`
	// ID is the config digest (the image ID crictl and kubelet show).
	ID string `json:"id"`
	// SizeBytes is the archive's size.
	SizeBytes int64 `json:"sizeBytes"`
	// Cached is true when the archive was up to date and not rebuilt.
	Cached bool `json:"cached"`
	// BuildSeconds is how long this call took to build it (0 when cached).
	BuildSeconds float64 `json:"buildSeconds"`
	// InputHash identifies the inputs the archive was built from.
	InputHash string `json:"inputHash"`
}

func (o *Options) setDefaults() error {
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return fmt.Errorf("unsupported arch %q: images are built for amd64 or arm64", o.Arch)
	}
	if o.RepoRoot == "" {
		return errors.New("images: RepoRoot is empty (the distrobench repository root, holding distro/)")
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.RepoRoot, "_output", "images", o.Arch)
	}
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(o.RepoRoot, "_output", "images", "cache")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

func (o *Options) progress(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

// ticker reports progress every interval until stop is called: a cold go
// build is silent for minutes.
func (o *Options) ticker(interval time.Duration, msg func(time.Duration) string) (stop func()) {
	if o.Progress == nil {
		return func() {}
	}
	return progress.Every(interval, func(d time.Duration) { o.Progress(msg(d)) })
}

// Build builds the selected images for o.Arch, each only when its inputs
// changed since the archive in o.OutDir was made, and returns them in catalog
// order.
func Build(ctx context.Context, o Options) ([]Image, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	rs, err := selectRecipes(o.Names)
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, r := range rs {
		img, err := buildOne(ctx, &o, r)
		if err != nil {
			return out, fmt.Errorf("image %s (linux/%s): %w", r.spec.Name, o.Arch, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// Find returns the images already built in o.OutDir (selected as by Build),
// without checking whether their inputs changed; images never built are
// left out.
func Find(o Options) ([]Image, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	rs, err := selectRecipes(o.Names)
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, r := range rs {
		img, ok, err := readStamp(o.OutDir, r)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, img)
		}
	}
	return out, nil
}

func stampPath(outDir string, r recipe) string {
	return filepath.Join(outDir, strings.TrimSuffix(r.spec.File, ".tar")+".json")
}

// readStamp loads the record written beside an archive; ok is false when
// there is none or its archive is gone or changed in size.
func readStamp(outDir string, r recipe) (Image, bool, error) {
	b, err := os.ReadFile(stampPath(outDir, r))
	if errors.Is(err, fs.ErrNotExist) {
		return Image{}, false, nil
	}
	if err != nil {
		return Image{}, false, fmt.Errorf("reading image record: %w", err)
	}
	var img Image
	if err := json.Unmarshal(b, &img); err != nil {
		// A damaged record only costs a rebuild.
		return Image{}, false, nil //nolint:nilerr
	}
	fi, err := os.Stat(filepath.Join(outDir, r.spec.File))
	if err != nil || fi.Size() != img.SizeBytes || img.Name != r.spec.Name {
		return Image{}, false, nil //nolint:nilerr // a missing or changed archive is rebuilt
	}
	img.Tarball = filepath.Join(outDir, r.spec.File)
	return img, true, nil
}

func buildOne(ctx context.Context, o *Options, r recipe) (Image, error) {
	started := time.Now()
	label := fmt.Sprintf("%s linux/%s", r.spec.Short, o.Arch)

	// Resolve every input cheaply first: the hash decides whether to build.
	h := sha256.New()
	fmt.Fprintf(h, "%s\nname=%s arch=%s entrypoint=%q cmd=%q env=%q user=%q ports=%q stop=%q busybox=%t\n",
		packSchema, r.spec.Name, o.Arch, r.entrypoint, r.cmd, r.env, r.user, r.ports, r.stopSignal, r.busybox)
	debCache := filepath.Join(o.CacheDir, "debs")
	var baseBy []string // what the base layer holds, for its history and Image.Source
	var bb busybox
	if r.busybox {
		var err error
		if bb, err = resolveBusybox(ctx, o.Log, o.Arch, o.CacheDir); err != nil {
			return Image{}, err
		}
		fmt.Fprintln(h, bb.hash())
		baseBy = append(baseBy, bb.source())
	}
	var debs resolvedDebs
	if !r.debian.empty() {
		o.progress("%s: resolving Debian packages %s", label, strings.Join(r.debian.packages, " "))
		var err error
		if debs, err = resolveDebs(ctx, o.Log, r.debian, o.Arch, debCache); err != nil {
			return Image{}, err
		}
		fmt.Fprint(h, debs.hash())
		baseBy = append(baseBy, debs.source())
	}
	var topBy []string
	ins := make([]goInputs, len(r.bins))
	for i, b := range r.bins {
		o.progress("%s: resolving go package %s", label, b.pkg)
		in, err := goResolve(ctx, o.Log, o.RepoRoot, o.Arch, b)
		if err != nil {
			return Image{}, err
		}
		ins[i] = in
		fmt.Fprintf(h, "bin %s %o %s\n", b.path, tarMode(b.perm()), in.hash)
		topBy = append(topBy, in.source)
	}
	files := make([]resolvedFile, len(r.files))
	for i, f := range r.files {
		rf, err := resolvePrebuilt(o.RepoRoot, o.Arch, f)
		if err != nil {
			return Image{}, err
		}
		files[i] = rf
		fmt.Fprintln(h, rf.hash())
		topBy = append(topBy, rf.source())
	}
	// The extra files are made now (from the packages' source directories,
	// known once resolved) and hashed by content: a changed configuration
	// file or a recipe's new extra file rebuilds the image.
	var extra []entry
	if r.extra != nil {
		dirs := make([]string, len(ins))
		for i, in := range ins {
			dirs[i] = in.dir
		}
		var err error
		if extra, err = r.extra(dirs); err != nil {
			return Image{}, err
		}
		for _, e := range extra {
			fmt.Fprintf(h, "extra %s %v %d:%d %q %x\n", e.Path, e.Mode, e.UID, e.GID, e.Link, sha256.Sum256(e.Data))
		}
	}
	sources := append(slices.Clone(topBy), baseBy...)
	// The sources also label the layers (history), so they are inputs too.
	fmt.Fprintf(h, "sources %q\n", sources)
	inputHash := hex.EncodeToString(h.Sum(nil))

	if img, ok, err := readStamp(o.OutDir, r); err != nil {
		return Image{}, err
	} else if ok && img.InputHash == inputHash && img.Arch == o.Arch {
		img.Cached, img.BuildSeconds = true, 0
		o.progress("%s: up to date (%s)", label, img.Digest)
		return img, nil
	}

	work, err := os.MkdirTemp(mkdirAll(o.CacheDir), "work-"+r.spec.Short+"-")
	if err != nil {
		return Image{}, fmt.Errorf("creating a scratch directory: %w", err)
	}
	defer os.RemoveAll(work)

	var layers []layerSpec
	if r.busybox && !bb.built() {
		// Cached by its own inputs: built once per arch for every image.
		o.progress("%s: building busybox %s from source (make -j2, a minute or two)", label, busyboxVersion)
		stop := o.ticker(30*time.Second, func(d time.Duration) string {
			return fmt.Sprintf("%s: busybox build running for %s", label, d.Round(time.Second))
		})
		err := bb.build(ctx, o.Log)
		stop()
		if err != nil {
			return Image{}, err
		}
	}
	if r.busybox || !r.debian.empty() {
		o.progress("%s: base layer from %s", label, strings.Join(baseBy, " + "))
		es, err := baseLayer(ctx, o.Log, bb, r.busybox, debs, !r.debian.empty())
		if err != nil {
			return Image{}, err
		}
		t, err := layerTar(es)
		if err != nil {
			return Image{}, err
		}
		layers = append(layers, layerSpec{tar: t, createdBy: strings.Join(baseBy, " + ")})
	}
	var top []entry
	for _, b := range r.bins {
		o.progress("%s: go build %s (a cold build of a big program takes minutes)", label, b.pkg)
		binPath := filepath.Join(work, filepath.Base(b.path))
		stop := o.ticker(30*time.Second, func(d time.Duration) string {
			return fmt.Sprintf("%s: go build %s running for %s", label, b.pkg, d.Round(time.Second))
		})
		err := goBuild(ctx, o.Log, o.RepoRoot, o.Arch, b, binPath)
		stop()
		if err != nil {
			return Image{}, err
		}
		e, err := hostFile(b.path, b.perm(), binPath)
		if err != nil {
			return Image{}, err
		}
		top = append(top, e)
	}
	for _, f := range files {
		top = append(top, f.entry())
	}
	top = append(top, extra...)
	if len(top) > 0 {
		t, err := layerTar(top)
		if err != nil {
			return Image{}, err
		}
		by := strings.Join(topBy, " + ")
		if by == "" {
			by = "configuration files"
		}
		layers = append(layers, layerSpec{tar: t, createdBy: by})
	}

	o.progress("%s: packing", label)
	img, err := assemble(layers, imageConfig{arch: o.Arch, entrypoint: r.entrypoint, cmd: r.cmd, env: r.env, user: r.user, ports: r.ports, stopSignal: r.stopSignal})
	if err != nil {
		return Image{}, err
	}
	ref, err := name.NewTag(r.spec.Name, name.StrictValidation)
	if err != nil {
		return Image{}, fmt.Errorf("image name %q: %w", r.spec.Name, err)
	}
	tarPath := filepath.Join(o.OutDir, r.spec.File)
	if err := writeArchive(tarPath, ref, img); err != nil {
		return Image{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Image{}, err
	}
	id, err := img.ConfigName()
	if err != nil {
		return Image{}, err
	}
	fi, err := os.Stat(tarPath)
	if err != nil {
		return Image{}, fmt.Errorf("image archive: %w", err)
	}
	res := Image{
		Name: r.spec.Name, Arch: o.Arch, Source: strings.Join(sources, " + "), Tarball: tarPath,
		Digest: digest.String(), ID: id.String(), SizeBytes: fi.Size(),
		BuildSeconds: time.Since(started).Seconds(), InputHash: inputHash,
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return Image{}, err
	}
	if err := atomicfile.Write(stampPath(o.OutDir, r), append(b, '\n'), 0o644); err != nil {
		return Image{}, fmt.Errorf("writing image record: %w", err)
	}
	o.Log.Info("image built", "name", res.Name, "arch", res.Arch, "digest", res.Digest, "bytes", res.SizeBytes, "seconds", res.BuildSeconds)
	o.progress("%s: built %s in %s (%.1f MiB)", label, res.Digest, time.Since(started).Round(time.Second), float64(res.SizeBytes)/(1<<20))
	return res, nil
}

// mkdirAll creates dir (errors surface in the caller's next step) and
// returns it.
func mkdirAll(dir string) string {
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// baseLayer is the root filesystem under the programs: the minimal base
// (top directories, passwd, group), busybox and its applets when withBusybox,
// the Debian packages when withDebs, in that order, later parts replacing
// earlier ones; busybox applets a Debian package provides are left out.
func baseLayer(ctx context.Context, log *slog.Logger, bb busybox, withBusybox bool, debs resolvedDebs, withDebs bool) ([]entry, error) {
	var bbEntries, debEntries []entry
	if withDebs {
		var err error
		if debEntries, err = debs.entries(ctx, log); err != nil {
			return nil, err
		}
	}
	if withBusybox {
		var err error
		if bbEntries, err = bb.entries(ctx, log); err != nil {
			return nil, err
		}
		// busybox's sh finds commands in PATH, not its own applets first
		// (the build checks FEATURE_SH_STANDALONE and PREFER_APPLETS are
		// off), so without the applet links the packages' tools run.
		bbEntries = withoutShadowedApplets(bbEntries, debEntries)
	} else {
		bbEntries = baseRootfs()
	}
	return overlay(bbEntries, debEntries)
}
