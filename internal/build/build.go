// Package build builds k3lite from distro/, one binary per architecture and
// build profile, cached under a hash of its sources and settings, and
// measures what it built: build time, binary size raw and compressed, and
// the size of the helper bundle inside it.
//
// The recipe is distro/Makefile's, run as `make -C distro build-<arch>`
// with this package's output directory, version stamp and the profile's
// tags, ldflags and environment: k3lite is a distribution with its own build
// (helpers built with cgo and cross compilers, packed into an archive that
// k3lite embeds, then k3lite itself), which a developer runs without the
// harness, as one builds K3s with its own make. The harness drives that
// build the way it drives k3lite, from the outside; the other way round
// (the Makefile calling distrobench) would make the distribution depend on
// its benchmark.
package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/redact"
)

// DefaultVersion is the version stamped into k3lite when Options.Version is
// empty: the Kubernetes version it is built from plus a k3lite suffix, in the
// style of K3s's "v1.37.2+k3s1" ("+" is not used because it is not valid in
// every place a version ends up, e.g. image tags).
const DefaultVersion = "v1.37.2-k3lite1"

// Options say what to build.
type Options struct {
	// RepoRoot is the distrobench repository root; it contains distro/.
	RepoRoot string
	// Arch is the target architecture: amd64 or arm64 (default: the host's).
	Arch string
	// Bundled holds the profile's extra build settings (tags, ldflags, env); nil for none.
	Bundled *profile.Bundled
	// CacheDir holds one directory per source hash (default <RepoRoot>/_output/cache).
	CacheDir string
	// Version is stamped into the binary (default DefaultVersion).
	Version string
	// Log receives go build's output at debug level (default: discarded).
	Log *slog.Logger
	// Progress, when set, receives one short line per step.
	Progress func(string)
}

// Artifact is a built (or cached) k3lite binary.
type Artifact struct {
	Path       string `json:"path"`
	Arch       string `json:"arch"`
	SourceHash string `json:"sourceHash"`
	Cached     bool   `json:"cached"`
	// BuildSeconds is the duration of this call's go build; 0 when Cached.
	BuildSeconds float64 `json:"buildSeconds"`
	SizeRaw      int64   `json:"sizeRaw"`
	SizeZstd     int64   `json:"sizeZstd"`
	SizeXz       int64   `json:"sizeXz"`
	// ZstdMethod and XzMethod name how the compressed sizes were obtained
	// ("zstd-19", "zstd-best", "xz"); they label the binary.size measurements.
	ZstdMethod string `json:"zstdMethod"`
	XzMethod   string `json:"xzMethod"`
	Version    string `json:"version"`
	// Bundle describes the helper binaries packed into k3lite; nil for a
	// binary distrobench did not build (Inspect).
	Bundle *Bundle `json:"bundle,omitempty"`
}

// Bundle is the helper bundle embedded in a k3lite binary, as reported by
// distro/Makefile (k3lite-linux-<arch>.bundle.json, written by
// distro/pkg/bundle/cmd/pack).
type Bundle struct {
	Hash string `json:"hash"`
	// Compression names how the archive is compressed, e.g. "zstd-best".
	Compression string `json:"compression"`
	// RawSize is the sum of the helpers' sizes; CompressedSize the
	// archive's, i.e. what the helpers add to k3lite.
	RawSize        int64        `json:"rawSize"`
	CompressedSize int64        `json:"compressedSize"`
	Files          []BundleFile `json:"files"`
}

// BundleFile is one helper binary. CompressedAlone is its size compressed on
// its own with the archive's settings (the archive compresses all helpers as
// one stream, so no per-file share of it exists).
type BundleFile struct {
	Name            string `json:"name"`
	Size            int64  `json:"size"`
	CompressedAlone int64  `json:"compressedAlone"`
}

var versionRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)([-+.][0-9A-Za-z.+-]+)?$`)

func (o *Options) setDefaults() error {
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return fmt.Errorf("unsupported arch %q: k3lite builds for amd64 or arm64", o.Arch)
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if !versionRE.MatchString(o.Version) {
		return fmt.Errorf("version %q is not of the form v<major>.<minor>.<patch>[-suffix] (e.g. %s)", o.Version, DefaultVersion)
	}
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(o.RepoRoot, "_output", "cache")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (o *Options) progress(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if o.Progress == nil {
		o.Log.Info(msg)
		return
	}
	o.Log.Debug(msg) // the caller shows it; do not print it twice
	o.Progress(msg)
}

func (o *Options) tags() []string {
	if o.Bundled == nil {
		return nil
	}
	return o.Bundled.Tags
}

func (o *Options) extraLDFlags() []string {
	if o.Bundled == nil {
		return nil
	}
	return o.Bundled.LDFlags
}

func (o *Options) extraEnv() map[string]string {
	if o.Bundled == nil {
		return nil
	}
	return o.Bundled.Env
}

// buildEnv is the environment of the build: the caller's, then the cross
// compilation settings, then the profile's env (later entries win in
// os/exec). distro/Makefile sets GOOS, GOARCH and CGO_ENABLED on each of its
// go commands itself (for k3lite from its CGO variable, see makeArgs).
func buildEnv(o Options) []string {
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch)
	extra := o.extraEnv()
	for _, k := range sortedKeys(extra) {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// Stamp is what k3lite's version variables are set to: distro/Makefile's
// VERSION, COMMIT, TREE_STATE and BUILD_DATE.
type Stamp struct {
	Version   string // gitVersion, e.g. v1.37.2-k3lite1 (major and minor are derived from it)
	Commit    string // gitCommit: HEAD of the repository, "unknown" outside git
	TreeState string // gitTreeState: "clean" or "dirty" (uncommitted changes under distro/)
	BuildDate string // buildDate, RFC 3339 UTC
}

// stamp computes the version stamp of a build. The build date never comes
// from the clock: the profile's or caller's SOURCE_DATE_EPOCH
// (reproducible-builds.org convention), else the time of the last commit
// touching distro/ (distro/Makefile's default too), else the Unix epoch. Commit, tree state and date are not part of the source hash: a
// cached binary keeps the stamp of the build that produced it, and committing
// already-built sources does not force a rebuild.
func stamp(ctx context.Context, o Options) Stamp {
	git := func(args ...string) (string, bool) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = o.RepoRoot
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err == nil
	}
	st := Stamp{Version: o.Version, Commit: "unknown", TreeState: "clean"}
	if c, ok := git("rev-parse", "HEAD"); ok && c != "" {
		st.Commit = c
		if dirty, ok := git("status", "--porcelain", "--", "distro"); ok && dirty != "" {
			st.TreeState = "dirty"
		}
	}
	epoch := o.extraEnv()["SOURCE_DATE_EPOCH"]
	if epoch == "" {
		epoch = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if epoch == "" {
		epoch, _ = git("log", "-1", "--format=%ct", "--", "distro")
	}
	var sec int64
	if _, err := fmt.Sscan(epoch, &sec); err != nil {
		sec = 0
	}
	st.BuildDate = time.Unix(sec, 0).UTC().Format(time.RFC3339)
	return st
}

// Build builds k3lite for o.Arch, or returns the cached binary of the same
// source hash, and measures its raw and compressed sizes (also cached).
func Build(ctx context.Context, o Options) (*Artifact, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	hash, err := sourceHash(ctx, o.RepoRoot, o)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.CacheDir, hash)
	a := &Artifact{
		Path:       filepath.Join(dir, "k3lite-linux-"+o.Arch),
		Arch:       o.Arch,
		SourceHash: hash,
		Version:    o.Version,
	}
	bundleJSON := filepath.Join(dir, bundleReport(o.Arch))
	if fi, err := os.Stat(a.Path); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fileExists(bundleJSON) {
		a.Cached = true
		o.progress("k3lite %s linux/%s: cached build %s", o.Version, o.Arch, short(hash))
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating build cache dir: %w (set a writable cache dir)", err)
		}
		o.progress("k3lite %s linux/%s: building (source hash %s)", o.Version, o.Arch, short(hash))
		start := time.Now()
		if err := makeBuild(ctx, o, dir); err != nil {
			return nil, err
		}
		a.BuildSeconds = time.Since(start).Seconds()
		o.progress("k3lite linux/%s: built in %.1fs", o.Arch, a.BuildSeconds)
	}
	if a.Bundle, err = readBundle(bundleJSON); err != nil {
		return nil, err
	}
	if err := sizes(ctx, o, a, filepath.Join(filepath.Dir(a.Path), "sizes.json")); err != nil {
		return nil, err
	}
	return a, nil
}

// bundleReport is the name of the bundle report distro/Makefile writes
// beside k3lite-linux-<arch>.
func bundleReport(arch string) string { return "k3lite-linux-" + arch + ".bundle.json" }

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func readBundle(path string) (*Bundle, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("helper bundle report: %w (distro/Makefile writes it beside k3lite)", err)
	}
	var bu Bundle
	if err := json.Unmarshal(b, &bu); err != nil {
		return nil, fmt.Errorf("helper bundle report %s: %w", path, err)
	}
	if bu.CompressedSize <= 0 || bu.RawSize <= 0 || len(bu.Files) == 0 {
		return nil, fmt.Errorf("helper bundle report %s lists no helpers: delete it and build again", path)
	}
	return &bu, nil
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// makeBuild runs `make -C distro build-<arch>` with its output in a
// temporary directory under dir, then moves the bundle report and, last, the
// binary into dir: an interrupted build never leaves a binary that looks
// cached.
func makeBuild(ctx context.Context, o Options, dir string) error {
	tmp, err := os.MkdirTemp(dir, "make-")
	if err != nil {
		return fmt.Errorf("creating build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	args, err := makeArgs(stamp(ctx, o), o, tmp)
	if err != nil {
		return err
	}
	o.Log.Debug("make", "dir", o.RepoRoot, "args", redact.Args(args), "GOARCH", o.Arch)
	err = Make(ctx, MakeOptions{
		Dir: o.RepoRoot, Args: args, Env: buildEnv(o), Log: o.Log,
		// The build is silent for minutes on a cold cache (a Kubernetes
		// build takes 10-20 min on 2 cores, the helpers a few more).
		Progress: func(d time.Duration) {
			o.progress("k3lite linux/%s: make build-%s running for %s (a cold build takes 10-20 min on 2 cores)",
				o.Arch, o.Arch, d.Round(time.Second))
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("build of k3lite for linux/%s interrupted: %w", o.Arch, ctx.Err())
		}
		return fmt.Errorf("make -C distro build-%s (k3lite for linux/%s): %w", o.Arch, o.Arch, err)
	}
	bin := "k3lite-linux-" + o.Arch
	for _, name := range []string{bundleReport(o.Arch), bin} {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("storing the k3lite build in the build cache: %w (does distro/Makefile still write %s to OUT?)", err, name)
		}
	}
	return nil
}

// MakeOptions configure Make.
type MakeOptions struct {
	Dir  string   // where make runs (the repository root)
	Args []string // make's arguments, e.g. -C distro e2e-amd64
	Env  []string // nil: the harness's environment
	Log  *slog.Logger
	// Progress, when set, is called every 30 s with the time make has run.
	Progress func(elapsed time.Duration)
}

// Make runs GNU make in its own process group, killed as a whole on cancel
// (go build, compile, link and cc children must not outlive a Ctrl-C). Its
// output goes to o.Log at debug level; a failure's error holds the last 40
// lines of it.
func Make(ctx context.Context, o MakeOptions) error {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		return fmt.Errorf("GNU make not found: %w (apt-get install make)", err)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cmd := exec.CommandContext(ctx, makeBin, o.Args...)
	cmd.Dir = o.Dir
	cmd.Env = o.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	lw := &lineWriter{log: log, keep: 40}
	cmd.Stdout, cmd.Stderr = lw, lw
	stop := func() {}
	if o.Progress != nil {
		stop = progress.Every(30*time.Second, o.Progress)
	}
	err = cmd.Run()
	stop()
	lw.flush()
	if err != nil {
		return fmt.Errorf("make failed: %w; last output:\n%s", err, strings.Join(lw.tail(), "\n"))
	}
	return nil
}

// makeArgs are the arguments of the make run: the target, OUT, the version
// stamp and the profile's tags and ldflags, as variables of distro/Makefile.
func makeArgs(st Stamp, o Options, out string) ([]string, error) {
	vars := []struct{ name, value string }{
		{"OUT", out},
		{"VERSION", st.Version},
		{"COMMIT", st.Commit},
		{"TREE_STATE", st.TreeState},
		{"BUILD_DATE", st.BuildDate},
		{"TAGS", strings.Join(o.tags(), ",")},
		{"EXTRA_LDFLAGS", strings.Join(o.extraLDFlags(), " ")},
	}
	// The Makefile builds k3lite with CGO_ENABLED=$(CGO) (default 0): a
	// profile that turns cgo on says so in its env.
	if v, ok := o.extraEnv()["CGO_ENABLED"]; ok {
		vars = append(vars, struct{ name, value string }{"CGO", v})
	}
	args := []string{"-C", "distro", "build-" + o.Arch}
	for _, v := range vars {
		// The Makefile quotes TAGS and the ldflags with '...' for the
		// shell; make itself expands $ in a variable's value.
		if strings.ContainsAny(v.value, "'\n") {
			return nil, fmt.Errorf("build setting %s=%q: single quotes and newlines are not supported in k3lite build settings", v.name, v.value)
		}
		args = append(args, v.name+"="+strings.ReplaceAll(v.value, "$", "$$"))
	}
	return args, nil
}

// lineWriter logs the build's output line by line at debug level and keeps
// the last lines for the error message.
type lineWriter struct {
	mu      sync.Mutex
	log     *slog.Logger
	keep    int
	partial []byte
	lines   []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := strings.IndexByte(string(w.partial), '\n')
		if i < 0 {
			break
		}
		w.add(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) add(line string) {
	line = strings.TrimRight(line, "\r")
	w.log.Debug("build: " + line)
	w.lines = append(w.lines, line)
	if len(w.lines) > w.keep {
		w.lines = w.lines[len(w.lines)-w.keep:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.add(string(w.partial))
		w.partial = nil
	}
}

func (w *lineWriter) tail() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.lines) == 0 {
		return []string{"(no output)"}
	}
	return append([]string(nil), w.lines...)
}

// sizesFile caches the measured sizes beside the binary.
type sizesFile struct {
	Raw        int64  `json:"raw"`
	Zstd       int64  `json:"zstd"`
	Xz         int64  `json:"xz"`
	ZstdMethod string `json:"zstdMethod"`
	XzMethod   string `json:"xzMethod"`
}

// sizes fills a's sizes from cacheFile, or measures them (minutes for a
// Kubernetes-sized binary) and stores them there.
func sizes(ctx context.Context, o Options, a *Artifact, cacheFile string) error {
	fi, err := os.Stat(a.Path)
	if err != nil {
		return fmt.Errorf("binary %s: %w", a.Path, err)
	}
	var s sizesFile
	if b, err := os.ReadFile(cacheFile); err == nil && json.Unmarshal(b, &s) == nil &&
		s.Raw == fi.Size() && s.Zstd > 0 && s.Xz > 0 && s.ZstdMethod != "" && s.XzMethod != "" {
		o.Log.Debug("binary sizes from cache", "file", cacheFile)
	} else {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			o.Log.Warn("ignoring unreadable sizes cache", "file", cacheFile, "err", err)
		}
		o.progress("%s (linux/%s): measuring compressed size (%s, %s)", filepath.Base(a.Path), o.Arch, zstdMethod(), xzMethod)
		s = sizesFile{Raw: fi.Size()}
		if s.Zstd, s.ZstdMethod, s.Xz, s.XzMethod, err = compressedSizes(ctx, a.Path); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(s, "", "  ")
		if err := atomicfile.Write(cacheFile, append(b, '\n'), 0o644); err != nil {
			o.Log.Warn("cannot cache binary sizes", "file", cacheFile, "err", err)
		}
	}
	a.SizeRaw, a.SizeZstd, a.SizeXz = s.Raw, s.Zstd, s.Xz
	a.ZstdMethod, a.XzMethod = s.ZstdMethod, s.XzMethod
	return nil
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
