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

// fakeRepo writes a repository root whose distro/ is a tiny module with a
// cmd/k3lite main package, and returns its path.
func fakeRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "distro/go.mod", "module example.com/fakedistro\n\ngo 1.26\n")
	write(t, root, "distro/cmd/k3lite/main.go", "package main\n\nfunc main() {}\n")
	write(t, root, "distro/pkg/bundle/manifest.yaml", "kind: Fake\n")
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
	if h := hash(t, root, o); h != h1 {
		t.Errorf("build outputs, testdata, tests or dot dirs changed the hash")
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

func TestLDFlags(t *testing.T) {
	st := Stamp{Version: "v1.37.2-k3lite1", Commit: "abc123", TreeState: "dirty", BuildDate: "2026-01-02T03:04:05Z"}
	got := strings.Join(LDFlags(st, []string{"-X", "main.extra=1"}), " ")
	for _, want := range []string{
		"-s -w ",
		"-X k8s.io/component-base/version.gitVersion=v1.37.2-k3lite1",
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=37",
		"-X k8s.io/component-base/version.gitCommit=abc123",
		"-X k8s.io/component-base/version.gitTreeState=dirty",
		"-X k8s.io/component-base/version.buildDate=2026-01-02T03:04:05Z",
		"-X k8s.io/client-go/pkg/version.gitVersion=v1.37.2-k3lite1",
		"-X k8s.io/client-go/pkg/version.gitMinor=37",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ldflags %q lack %q", got, want)
		}
	}
	if !strings.HasSuffix(got, "-X main.extra=1") {
		t.Errorf("profile ldflags must come last: %q", got)
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
	want := []string{"build.duration/", "binary.size/none", "binary.size/" + a.ZstdMethod, "binary.size/xz"}
	if !slices.Equal(names, want) {
		t.Errorf("measurements %v, want %v", names, want)
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
	if !a2.Cached || a2.Path != a.Path || a2.BuildSeconds != 0 || a2.SizeRaw != a.SizeRaw {
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
	if !strings.Contains(err.Error(), "undefined: undefinedThing") {
		t.Errorf("error lacks the compiler message: %v", err)
	}
	h := hash(t, root, Options{RepoRoot: root, Arch: "amd64"})
	if _, serr := os.Stat(filepath.Join(root, "_output", "cache", h, "k3lite-linux-amd64")); serr == nil {
		t.Error("failed build left a binary that looks cached")
	}
}
