package build

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/profile"
)

// fakeMakefile has distro/Makefile's interface (the variables makeArgs sets,
// build-<arch> writing k3lite-linux-<arch> and its bundle report to OUT)
// without the helpers: a plain go build and a fixed report.
// TestMakefileContract checks the real Makefile against the same interface.
const fakeMakefile = `OUT ?= _output
TAGS ?=
EXTRA_LDFLAGS ?=
CGO_ENABLED ?= 0
build-%:
	@mkdir -p $(OUT)
	CGO_ENABLED=$(CGO_ENABLED) GOOS=linux GOARCH=$* go build -trimpath -tags '$(TAGS)' \
		-ldflags '-X main.version=$(VERSION) $(EXTRA_LDFLAGS)' -o $(OUT)/k3lite-linux-$* ./cmd/k3lite
	echo '` + fakeBundleReport + `' >$(OUT)/k3lite-linux-$*.bundle.json
`

const fakeBundleReport = `{"hash":"ab12","compression":"zstd-best","rawSize":300,"compressedSize":90,` +
	`"files":[{"name":"runc","size":200,"sha256":"x","compressedAlone":70},{"name":"bridge","size":100,"sha256":"y","compressedAlone":40}]}`

// fakeRepo writes a repository root whose distro/ is a tiny module with a
// cmd/k3lite main package and a Makefile, and returns its path.
func fakeRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "distro/go.mod", "module example.com/fakedistro\n\ngo 1.26\n")
	write(t, root, "distro/cmd/k3lite/main.go", "package main\n\nfunc main() {}\n")
	write(t, root, "distro/pkg/bundle/manifest.yaml", "kind: Fake\n")
	write(t, root, "distro/Makefile", fakeMakefile)
	write(t, root, "distro/helpers/go.mod", "module example.com/fakedistro/helpers\n")
	return root
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hash(t *testing.T, root string, o Options) string {
	t.Helper()
	h, err := SourceHash(root, o)
	if err != nil {
		t.Fatalf("SourceHash: %v", err)
	}
	return h
}

func TestSourceHashStable(t *testing.T) {
	root := fakeRepo(t)
	o := Options{RepoRoot: root, Arch: "amd64", Bundled: &profile.Bundled{Tags: []string{"a", "b"}, Env: map[string]string{"X": "1", "Y": "2"}}}
	h1 := hash(t, root, o)
	if len(h1) != 64 {
		t.Fatalf("hash %q is not hex sha256", h1)
	}
	if h2 := hash(t, root, o); h2 != h1 {
		t.Fatalf("hash changed without any change: %s then %s", h1, h2)
	}
	reordered := o
	reordered.Bundled = &profile.Bundled{Tags: []string{"b", "a"}, Env: map[string]string{"Y": "2", "X": "1"}}
	if h := hash(t, root, reordered); h != h1 {
		t.Errorf("tag order changed the hash (go build ignores it)")
	}

	// Files that never reach the binary leave the hash alone.
	write(t, root, "distro/_output/k3lite-linux-amd64", "old binary")
	write(t, root, "distro/pkg/x/testdata/golden.txt", "golden")
	write(t, root, "distro/pkg/x/x_test.go", "package x\n")
	write(t, root, "distro/.git/HEAD", "ref: refs/heads/main\n")
	write(t, root, "distro/_output/helpers/amd64/runc", "staged helper")
	write(t, root, "distro/pkg/bundle/assets/amd64/helpers.tar.zst", "generated archive")
	write(t, root, "distro/pkg/bundle/assets/arm64/.helpers.tar.zst.tmp-123", "archive being written")
	if h := hash(t, root, o); h != h1 {
		t.Errorf("build outputs, generated archives, testdata, tests or dot dirs changed the hash")
	}
}

func TestSourceHashSensitive(t *testing.T) {
	root := fakeRepo(t)
	base := Options{RepoRoot: root, Arch: "amd64"}
	h0 := hash(t, root, base)

	seen := map[string]string{h0: "base"}
	check := func(what string, h string) {
		t.Helper()
		if prev, dup := seen[h]; dup {
			t.Errorf("%s gives the same hash as %s", what, prev)
		}
		seen[h] = what
	}
	check("arm64", hash(t, root, Options{RepoRoot: root, Arch: "arm64"}))
	check("tags", hash(t, root, Options{RepoRoot: root, Arch: "amd64", Bundled: &profile.Bundled{Tags: []string{"netgo"}}}))
	check("ldflags", hash(t, root, Options{RepoRoot: root, Arch: "amd64", Bundled: &profile.Bundled{LDFlags: []string{"-X", "a.b=c"}}}))
	check("env", hash(t, root, Options{RepoRoot: root, Arch: "amd64", Bundled: &profile.Bundled{Env: map[string]string{"GOAMD64": "v3"}}}))
	check("version", hash(t, root, Options{RepoRoot: root, Arch: "amd64", Version: "v1.37.3-k3lite1"}))

	write(t, root, "distro/cmd/k3lite/main.go", "package main\n\nfunc main() { println() }\n")
	check("edited source", hash(t, root, base))
	write(t, root, "distro/pkg/bundle/manifest.yaml", "kind: Other\n")
	check("edited embedded file", hash(t, root, base))
	write(t, root, "distro/pkg/bundle/new.yaml", "")
	check("new file", hash(t, root, base))
	write(t, root, "distro/helpers/go.mod", "module example.com/fakedistro/helpers\n\ntool example.com/runc\n")
	check("helpers module", hash(t, root, base))
	write(t, root, "distro/Makefile", fakeMakefile+"\n# changed\n")
	check("Makefile", hash(t, root, base))
	write(t, root, "distro/pkg/bundle/assets/amd64/README.md", "other placeholder")
	check("committed asset", hash(t, root, base))
	if err := os.Chmod(filepath.Join(root, "distro/pkg/bundle/new.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	check("executable bit", hash(t, root, base))
}

func TestSourceHashErrors(t *testing.T) {
	if _, err := SourceHash(t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "distro/go.mod") {
		t.Errorf("repo without distro/: got %v, want an error naming distro/go.mod", err)
	}
	root := fakeRepo(t)
	if _, err := SourceHash(root, Options{Arch: "riscv64"}); err == nil || !strings.Contains(err.Error(), "amd64 or arm64") {
		t.Errorf("unsupported arch: got %v", err)
	}
	if _, err := SourceHash(root, Options{Version: "1.37"}); err == nil || !strings.Contains(err.Error(), "v<major>") {
		t.Errorf("bad version: got %v", err)
	}
}

// TestMakefileContract runs the real distro/Makefile with `make -n` (print,
// do not run) and the arguments Build passes, and checks that k3lite's go
// build gets them: output path, tags, the version stamp in the Kubernetes
// version variables, containerd's version, the profile's ldflags last, and
// the bundle report copied next to the binary.
func TestMakefileContract(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	st := Stamp{Version: "v1.37.2-k3lite9", Commit: "abc123", TreeState: "dirty", BuildDate: "2026-01-02T03:04:05Z"}
	out := t.TempDir()
	o := Options{RepoRoot: repo, Arch: "arm64", Bundled: &profile.Bundled{
		Tags: []string{"a", "b"}, LDFlags: []string{"-X", "main.extra=$HOME"}}}
	args, err := makeArgs(st, o, out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", append([]string{"-n"}, args...)...)
	cmd.Dir = repo
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %v: %v\n%s", args, err, b)
	}
	var build string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "./cmd/k3lite") {
			build = line
		}
	}
	if build == "" {
		t.Fatalf("make -n printed no go build of ./cmd/k3lite:\n%s", b)
	}
	for _, want := range []string{
		"GOARCH=arm64 ", "CGO_ENABLED=0 ",
		"-tags 'a,b'",
		"-o " + out + "/k3lite-linux-arm64 ",
		"-X k8s.io/component-base/version.gitVersion=v1.37.2-k3lite9",
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=37",
		"-X k8s.io/component-base/version.gitCommit=abc123",
		"-X k8s.io/component-base/version.gitTreeState=dirty",
		"-X k8s.io/component-base/version.buildDate=2026-01-02T03:04:05Z",
		"-X k8s.io/client-go/pkg/version.gitVersion=v1.37.2-k3lite9",
		"-X k8s.io/client-go/pkg/version.gitMinor=37",
		"-X github.com/containerd/containerd/v2/version.Version=v2.",
		// $ reaches the shell unexpanded by make, inside single quotes.
		"-X main.extra=$HOME'",
	} {
		if !strings.Contains(build, want) {
			t.Errorf("k3lite's go build lacks %q:\n%s", want, build)
		}
	}
	if !strings.Contains(string(b), out+"/k3lite-linux-arm64.bundle.json") {
		t.Errorf("the bundle report is not written to OUT:\n%s", b)
	}

	o.Bundled.LDFlags = []string{"-X", "main.x='quoted'"}
	if _, err := makeArgs(st, o, out); err == nil || !strings.Contains(err.Error(), "single quotes") {
		t.Errorf("ldflags with a single quote: %v", err)
	}
}

func TestStampDateFromSourceDateEpoch(t *testing.T) {
	o := Options{RepoRoot: t.TempDir(), Bundled: &profile.Bundled{Env: map[string]string{"SOURCE_DATE_EPOCH": "86400"}}}
	if err := o.setDefaults(); err != nil {
		t.Fatal(err)
	}
	st := stamp(context.Background(), o)
	if st.BuildDate != "1970-01-02T00:00:00Z" || st.Version != DefaultVersion || st.Commit != "unknown" {
		t.Errorf("stamp = %+v", st)
	}
}

func TestBuildAndCache(t *testing.T) {
	root := fakeRepo(t)
	// The binary prints a variable set through the profile's ldflags, to show
	// they reach the linker.
	write(t, root, "distro/cmd/k3lite/main.go", "package main\n\nvar stamp = \"unset\"\n\nfunc main() { println(stamp) }\n")
	var progress []string
	o := Options{
		RepoRoot: root, Arch: runtime.GOARCH,
		Bundled:  &profile.Bundled{LDFlags: []string{"-X", "main.stamp=from-profile"}},
		Progress: func(s string) { progress = append(progress, s) },
	}
	a, err := Build(context.Background(), o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if a.Cached {
		t.Error("first build reported as cached")
	}
	wantPath := filepath.Join(root, "_output", "cache", a.SourceHash, "k3lite-linux-"+runtime.GOARCH)
	if a.Path != wantPath {
		t.Errorf("Path = %s, want %s", a.Path, wantPath)
	}
	fi, err := os.Stat(a.Path)
	if err != nil || fi.Size() != a.SizeRaw {
		t.Fatalf("binary %s: %v, size %d vs SizeRaw %d", a.Path, err, fi.Size(), a.SizeRaw)
	}
	if a.BuildSeconds <= 0 || a.Version != DefaultVersion || a.Arch != runtime.GOARCH {
		t.Errorf("artifact = %+v", a)
	}
	out, err := exec.Command(a.Path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "from-profile" {
		t.Errorf("built binary printed %q (%v), want the profile's ldflags value \"from-profile\"", out, err)
	}
	for name, s := range map[string]int64{a.ZstdMethod: a.SizeZstd, a.XzMethod: a.SizeXz} {
		if s <= 0 || s >= a.SizeRaw {
			t.Errorf("%s size %d not in (0, raw %d)", name, s, a.SizeRaw)
		}
	}
	if len(progress) == 0 {
		t.Error("no progress reported")
	}
	ms := Measurements(a)
	names := []string{}
	for _, m := range ms {
		names = append(names, m.Name+"/"+m.Labels["compression"])
		if m.Summary.Count != 1 || m.Samples[0] <= 0 {
			t.Errorf("%s %v: samples %v", m.Name, m.Labels, m.Samples)
		}
	}
	want := []string{"build.duration/", "binary.size/none", "binary.size/" + a.ZstdMethod, "binary.size/xz",
		"bundle.size/none", "bundle.size/zstd-best",
		"bundle.file.size/none", "bundle.file.size/zstd-best", "bundle.file.size/none", "bundle.file.size/zstd-best"}
	if !slices.Equal(names, want) {
		t.Errorf("measurements %v, want %v", names, want)
	}
	if a.Bundle == nil || a.Bundle.RawSize != 300 || a.Bundle.CompressedSize != 90 || len(a.Bundle.Files) != 2 ||
		a.Bundle.Files[0] != (BundleFile{Name: "runc", Size: 200, CompressedAlone: 70}) {
		t.Errorf("bundle = %+v, want the Makefile's report", a.Bundle)
	}
	for _, m := range ms {
		if m.Name == "bundle.file.size" && m.Labels["file"] == "bridge" && m.Labels["compression"] == "zstd-best" && m.Samples[0] != 40 {
			t.Errorf("bridge compressed alone: %v, want 40", m.Samples)
		}
	}

	// The second build of the same sources is a cache hit, and its sizes
	// come from sizes.json (planted values prove it is read).
	sizesJSON := filepath.Join(filepath.Dir(a.Path), "sizes.json")
	b, err := os.ReadFile(sizesJSON)
	if err != nil {
		t.Fatalf("sizes not cached: %v", err)
	}
	var planted sizesFile
	if err := json.Unmarshal(b, &planted); err != nil {
		t.Fatalf("sizes.json: %v", err)
	}
	planted.Xz = 7
	b, _ = json.Marshal(planted)
	if err := os.WriteFile(sizesJSON, b, 0o644); err != nil {
		t.Fatal(err)
	}
	a2, err := Build(context.Background(), o)
	if err != nil {
		t.Fatalf("second Build: %v", err)
	}
	if !a2.Cached || a2.Path != a.Path || a2.BuildSeconds != 0 || a2.SizeRaw != a.SizeRaw || a2.Bundle == nil || a2.Bundle.Hash != "ab12" {
		t.Errorf("second build = %+v, want a cache hit of %+v", a2, a)
	}
	if a2.SizeXz != 7 {
		t.Errorf("cached build recomputed its sizes (xz %d, planted 7)", a2.SizeXz)
	}
	for _, m := range Measurements(a2) {
		if m.Name == "build.duration" {
			t.Error("cache hit reported a build duration")
		}
	}
}

func TestBuildFailureShowsCompilerOutput(t *testing.T) {
	root := fakeRepo(t)
	write(t, root, "distro/cmd/k3lite/main.go", "package main\n\nfunc main() { undefinedThing() }\n")
	a, err := Build(context.Background(), Options{RepoRoot: root, Arch: "amd64"})
	if err == nil {
		t.Fatalf("broken source built: %+v", a)
	}
	if !strings.Contains(err.Error(), "undefined: undefinedThing") || !strings.Contains(err.Error(), "make -C distro build-amd64") {
		t.Errorf("error lacks the failed command or the compiler message: %v", err)
	}
	h := hash(t, root, Options{RepoRoot: root, Arch: "amd64"})
	if _, serr := os.Stat(filepath.Join(root, "_output", "cache", h, "k3lite-linux-amd64")); serr == nil {
		t.Error("failed build left a binary that looks cached")
	}
}
