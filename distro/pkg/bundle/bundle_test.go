package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/klauspost/compress/zstd"
)

// helpers writes small stand-ins for the helper binaries and returns their
// paths and contents by name.
func helpers(t *testing.T) ([]string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	content := map[string][]byte{
		"runc":                    bytes.Repeat([]byte("runc binary "), 5000),
		"containerd-shim-runc-v2": []byte("#!/bin/sh\necho shim\n"),
		"bridge":                  {},
		"loopback":                []byte("loopback"),
	}
	var paths []string
	for name, b := range content {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths, content
}

func packed(t *testing.T, paths []string) (*archive, *Manifest, []byte) {
	t.Helper()
	var buf bytes.Buffer
	m, err := Pack(&buf, paths)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return fromBytes(buf.Bytes()), m, buf.Bytes()
}

func fromBytes(b []byte) *archive {
	return &archive{
		open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		size: int64(len(b)),
	}
}

func checkBin(t *testing.T, bin string, content map[string][]byte) {
	t.Helper()
	for name, want := range content {
		p := filepath.Join(bin, name)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (%d bytes, want %d)", name, len(got), len(want))
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", name, fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(bin)
	if len(entries) != len(content) {
		t.Errorf("bin has %d entries, want %d", len(entries), len(content))
	}
}

func TestExtract(t *testing.T) {
	paths, content := helpers(t)
	a, m, _ := packed(t, paths)
	dataDir := t.TempDir()

	bin, err := extract(a, dataDir, nil)
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	if want := filepath.Join(dataDir, "data", m.Hash, "bin"); bin != want {
		t.Errorf("bin dir %s, want %s", bin, want)
	}
	checkBin(t, bin, content)
	if target, err := os.Readlink(filepath.Join(dataDir, "data", "current")); err != nil || target != m.Hash {
		t.Errorf("data/current -> %q (%v), want %s", target, err, m.Hash)
	}
	// The shell script stand-in really is executable.
	if out, err := exec.Command(filepath.Join(bin, "containerd-shim-runc-v2")).Output(); err != nil || string(out) != "shim\n" {
		t.Errorf("running an extracted file: %q, %v", out, err)
	}

	// A second start reuses the files: same inodes.
	before, _ := os.Stat(filepath.Join(bin, "runc"))
	bin2, err := extract(a, dataDir, nil)
	if err != nil || bin2 != bin {
		t.Fatalf("second extract: %s, %v", bin2, err)
	}
	after, _ := os.Stat(filepath.Join(bin, "runc"))
	if !os.SameFile(before, after) {
		t.Error("second extract rewrote the files instead of reusing them")
	}
	if l := leftovers(t, dataDir); l != nil {
		t.Errorf("leftovers in data/: %v", l)
	}
}

// leftovers lists data/ entries other than hash directories, current and .lock.
func leftovers(t *testing.T, dataDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range entries {
		n := e.Name()
		if n == currentLink || n == lockName || hexSHA256.MatchString(n) {
			continue
		}
		extra = append(extra, n)
	}
	return extra
}

func TestExtractRepairsDamage(t *testing.T) {
	paths, content := helpers(t)
	a, _, _ := packed(t, paths)
	for name, damage := range map[string]func(bin string) error{
		"truncated": func(bin string) error { return os.Truncate(filepath.Join(bin, "runc"), 10) },
		"missing":   func(bin string) error { return os.Remove(filepath.Join(bin, "loopback")) },
		"not executable": func(bin string) error {
			return os.Chmod(filepath.Join(bin, "containerd-shim-runc-v2"), 0o644)
		},
		"replaced by a dir": func(bin string) error {
			p := filepath.Join(bin, "bridge")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o755)
		},
		"bin dir gone": os.RemoveAll,
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			bin, err := extract(a, dataDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := damage(bin); err != nil {
				t.Fatal(err)
			}
			bin2, err := extract(a, dataDir, nil)
			if err != nil || bin2 != bin {
				t.Fatalf("extract after damage: %s, %v", bin2, err)
			}
			checkBin(t, bin, content)
			if l := leftovers(t, dataDir); l != nil {
				t.Errorf("leftovers: %v", l)
			}
		})
	}
}

func TestExtractConcurrent(t *testing.T) {
	paths, content := helpers(t)
	a, _, _ := packed(t, paths)
	dataDir := t.TempDir()
	const n = 8
	bins := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { bins[i], errs[i] = extract(a, dataDir, nil) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || bins[i] != bins[0] {
			t.Errorf("start %d: %s, %v (first: %s)", i, bins[i], errs[i], bins[0])
		}
	}
	checkBin(t, bins[0], content)
	if l := leftovers(t, dataDir); l != nil {
		t.Errorf("leftovers: %v", l)
	}
}

func TestExtractNewVersionKeepsOld(t *testing.T) {
	paths, _ := helpers(t)
	a1, m1, _ := packed(t, paths)
	dataDir := t.TempDir()
	bin1, err := extract(a1, dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[0], []byte("upgraded"), 0o755); err != nil {
		t.Fatal(err)
	}
	a2, m2, _ := packed(t, paths)
	if m1.Hash == m2.Hash {
		t.Fatal("changed content kept the hash")
	}
	bin2, err := extract(a2, dataDir, nil)
	if err != nil || bin2 == bin1 {
		t.Fatalf("upgrade extract: %s, %v", bin2, err)
	}
	if got, _ := os.ReadFile(filepath.Join(bin2, filepath.Base(paths[0]))); string(got) != "upgraded" {
		t.Errorf("new version has %q", got)
	}
	if target, _ := os.Readlink(filepath.Join(dataDir, "data", "current")); target != m2.Hash {
		t.Errorf("current -> %s, want the new hash", target)
	}
	if _, err := os.Stat(bin1); err != nil {
		t.Errorf("old version removed (shims may still run from it): %v", err)
	}
}

func TestExtractRemovesCrashLeftovers(t *testing.T) {
	paths, _ := helpers(t)
	a, _, _ := packed(t, paths)
	dataDir := t.TempDir()
	crashed := filepath.Join(dataDir, "data", tmpPrefix+"0123-crash", "bin")
	if err := os.MkdirAll(crashed, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := extract(a, dataDir, nil); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, dataDir); l != nil {
		t.Errorf("leftovers of a crashed extraction kept: %v", l)
	}
}

// rawArchive writes a tar + zstd archive with the given manifest and entries,
// for archives Pack would refuse to make.
func rawArchive(t *testing.T, m any, entries map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(enc)
	mb, _ := json.Marshal(m)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	add(manifestName, mb)
	for _, n := range slices.Sorted(maps.Keys(entries)) {
		add(n, entries[n])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func manifestOf(files ...File) *Manifest {
	return &Manifest{Hash: contentHash(files), Files: files}
}

func TestExtractRejectsBadArchives(t *testing.T) {
	good := []byte("good content")
	for name, tc := range map[string]struct {
		archive []byte
		want    string
	}{
		"content differs from manifest": {
			rawArchive(t, manifestOf(File{Name: "runc", Size: int64(len(good)), SHA256: sum([]byte("other bytes!"))}),
				map[string][]byte{"runc": good}),
			"sha256",
		},
		"file missing": {
			rawArchive(t, manifestOf(File{Name: "runc", Size: 4, SHA256: sum([]byte("runc"))}, File{Name: "shim", Size: 4, SHA256: sum([]byte("shim"))}),
				map[string][]byte{"runc": []byte("runc")}),
			"lacks shim",
		},
		"entry not in manifest": {
			rawArchive(t, manifestOf(File{Name: "runc", Size: 4, SHA256: sum([]byte("runc"))}),
				map[string][]byte{"runc": []byte("runc"), "evil": []byte("evil")}),
			`"evil"`,
		},
		"path traversal": {
			rawArchive(t, manifestOf(File{Name: "../../etc/x", Size: 1, SHA256: sum([]byte("x"))}),
				map[string][]byte{"../../etc/x": []byte("x")}),
			"bad file name",
		},
		"hash does not match files": {
			rawArchive(t, &Manifest{Hash: strings.Repeat("a", 64), Files: []File{{Name: "runc", Size: 4, SHA256: sum([]byte("runc"))}}},
				map[string][]byte{"runc": []byte("runc")}),
			"content hash",
		},
		"not zstd": {[]byte("plain text, not an archive"), "helper bundle"},
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			bin, err := extract(fromBytes(tc.archive), dataDir, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("extract = %s, %v; want an error containing %q", bin, err, tc.want)
			}
			entries, _ := os.ReadDir(filepath.Join(dataDir, "data"))
			for _, e := range entries {
				if e.Name() != lockName {
					t.Errorf("failed extraction left %s", e.Name())
				}
			}
		})
	}
}

func TestPack(t *testing.T) {
	paths, content := helpers(t)
	_, m, b1 := packed(t, paths)
	slices.Reverse(paths)
	_, _, b2 := packed(t, paths)
	if !bytes.Equal(b1, b2) {
		t.Error("the same files packed twice (in another order) gave different archives")
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
		if f.Size != int64(len(content[f.Name])) || f.SHA256 != sum(content[f.Name]) {
			t.Errorf("%s: manifest %+v does not match the file", f.Name, f)
		}
	}
	if !slices.IsSorted(names) || len(names) != len(content) {
		t.Errorf("manifest files %v, want every helper sorted by name", names)
	}
	var raw int64
	for _, c := range content {
		raw += int64(len(c))
	}
	if m.RawSize() != raw {
		t.Errorf("RawSize %d, want %d", m.RawSize(), raw)
	}
	got, err := fromBytes(b1).readManifest()
	if err != nil || got.Hash != m.Hash || len(got.Files) != len(m.Files) {
		t.Errorf("manifest read back: %+v, %v", got, err)
	}

	dup := filepath.Join(t.TempDir(), "runc")
	if err := os.WriteFile(dup, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Pack(io.Discard, append(paths, dup)); err == nil || !strings.Contains(err.Error(), "same name") {
		t.Errorf("two files named runc: %v", err)
	}
	if _, err := Pack(io.Discard, []string{filepath.Dir(dup)}); err == nil {
		t.Error("packed a directory")
	}
	if _, err := Pack(io.Discard, nil); err == nil {
		t.Error("packed nothing")
	}
}

func TestLoadArchiveWithoutBundle(t *testing.T) {
	fsys := fstest.MapFS{"assets/amd64/README.md": {Data: []byte("placeholder")}}
	_, err := loadArchive(fsys, "assets/amd64")
	if !errors.Is(err, ErrNoBundle) {
		t.Fatalf("placeholder only: %v, want ErrNoBundle", err)
	}
	if !strings.Contains(err.Error(), "make -C distro build") {
		t.Errorf("error does not say how to fix it: %v", err)
	}
	if _, err := loadArchive(fsys, ""); !errors.Is(err, ErrNoBundle) || !strings.Contains(err.Error(), "amd64 and arm64") {
		t.Errorf("unsupported arch: %v", err)
	}

	paths, content := helpers(t)
	_, _, b := packed(t, paths)
	fsys["assets/amd64/"+ArchiveName] = &fstest.MapFile{Data: b}
	a, err := loadArchive(fsys, "assets/amd64")
	if err != nil || a.size != int64(len(b)) {
		t.Fatalf("loadArchive: %+v, %v", a, err)
	}
	bin, err := extract(a, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkBin(t, bin, content)
}

// TestRealBundle extracts the helper archive embedded in this build and runs
// every helper's version command. It needs the archive that
// `make -C distro build-<arch>` generates.
func TestRealBundle(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the helper bundle made by `make -C distro build-" + runtime.GOARCH + "`")
	}
	files, err := Contents()
	if err != nil {
		t.Fatalf("Contents: %v (run `make -C distro build-%s` first)", err, runtime.GOARCH)
	}
	size, err := CompressedSize()
	if err != nil {
		t.Fatal(err)
	}
	var raw int64
	for _, f := range files {
		raw += f.Size
		t.Logf("%-26s %10d bytes", f.Name, f.Size)
	}
	t.Logf("bundle: %d bytes raw, %d compressed", raw, size)

	bin, err := Extract(t.TempDir(), nil)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"runc", []string{"--version"}, "runc version 1.5.2"},
		{"containerd-shim-runc-v2", []string{"-v"}, "Version:  v2.4.2"},
		// CNI plugins print their version when run without CNI_COMMAND.
		{"bridge", nil, "CNI bridge plugin v1.10.0"},
		{"host-local", nil, "CNI host-local plugin v1.10.0"},
		{"portmap", nil, "CNI portmap plugin v1.10.0"},
		{"loopback", nil, "CNI loopback plugin v1.10.0"},
	} {
		cmd := exec.Command(filepath.Join(bin, tc.name), tc.args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s %v: %v\n%s\nwant %q", tc.name, tc.args, err, out, tc.want)
		}
	}
	// runc prints the libseccomp version only when built with seccomp.
	if out, _ := exec.Command(filepath.Join(bin, "runc"), "--version").Output(); !strings.Contains(string(out), "libseccomp:") {
		t.Errorf("runc was built without seccomp:\n%s", out)
	}
}
