package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// debPackage is one Debian binary package as apt knows it.
type debPackage struct {
	Name, Arch, Version, SHA256 string
}

func (p debPackage) String() string { return p.Name + ":" + p.Arch + " " + p.Version }

// fileName is the name apt-get download gives the .deb (":" of an epoch
// escaped as %3a).
func (p debPackage) fileName() string {
	return fmt.Sprintf("%s_%s_%s.deb", p.Name, strings.ReplaceAll(p.Version, ":", "%3a"), p.Arch)
}

// aptShow asks apt's local package lists (no network) for the candidate
// version of pkg:arch and its checksum.
func aptShow(ctx context.Context, log *slog.Logger, pkg, arch string) (debPackage, error) {
	out, err := run(ctx, log, "", nil, "apt-cache", "show", "--no-all-versions", pkg+":"+arch)
	if err != nil {
		return debPackage{}, fmt.Errorf("apt does not know the Debian package %s:%s: %w (run 'hack/install-deps.sh images' as root: it installs %s and, for arm64, adds the arm64 architecture and runs apt-get update)", pkg, arch, err, pkg)
	}
	return parseAptShow(out, pkg, arch)
}

func parseAptShow(out []byte, pkg, arch string) (debPackage, error) {
	p := debPackage{Name: pkg, Arch: arch}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch k {
		case "Version":
			p.Version = strings.TrimSpace(v)
		case "SHA256":
			p.SHA256 = strings.TrimSpace(v)
		}
	}
	if p.Version == "" || p.SHA256 == "" {
		return debPackage{}, fmt.Errorf("apt-cache show %s:%s gave no Version or SHA256 (is apt's package list current? run apt-get update)", pkg, arch)
	}
	return p, nil
}

// fetchDeb returns the path of p's .deb, checked against apt's SHA256: from
// cacheDir or apt's own archive cache when already there, otherwise
// downloaded with `apt-get download` into cacheDir.
func fetchDeb(ctx context.Context, log *slog.Logger, p debPackage, cacheDir string) (string, error) {
	paths, err := fetchDebs(ctx, log, []debPackage{p}, cacheDir)
	if err != nil {
		return "", err
	}
	return paths[0], nil
}

// fetchDebs is fetchDeb for many packages: the missing ones are downloaded
// with one `apt-get download` (a call costs a second or two even when the
// package is small). paths[i] is pkgs[i]'s .deb.
func fetchDebs(ctx context.Context, log *slog.Logger, pkgs []debPackage, cacheDir string) ([]string, error) {
	paths := make([]string, len(pkgs))
	var missing []string
	for i, p := range pkgs {
		for _, c := range []string{filepath.Join(cacheDir, p.fileName()), filepath.Join("/var/cache/apt/archives", p.fileName())} {
			if ok, _ := fileHasSHA256(c, p.SHA256); ok {
				paths[i] = c
				break
			}
		}
		if paths[i] == "" {
			missing = append(missing, p.Name+":"+p.Arch+"="+p.Version)
		}
	}
	if len(missing) == 0 {
		return paths, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the package cache %s: %w", cacheDir, err)
	}
	if _, err := run(ctx, log, cacheDir, nil, "apt-get", append([]string{"download", "-q"}, missing...)...); err != nil {
		return nil, fmt.Errorf("downloading Debian packages %s: %w (is the Debian mirror reachable? is apt's package list current?)", strings.Join(missing, " "), err)
	}
	for i, p := range pkgs {
		if paths[i] != "" {
			continue
		}
		cached := filepath.Join(cacheDir, p.fileName())
		ok, err := fileHasSHA256(cached, p.SHA256)
		if err != nil {
			return nil, fmt.Errorf("downloaded Debian package %s not found as %s: %w", p, cached, err)
		}
		if !ok {
			return nil, fmt.Errorf("downloaded Debian package %s (%s) does not match apt's SHA256 %s: remove it and run apt-get update", p, cached, p.SHA256)
		}
		paths[i] = cached
	}
	return paths, nil
}

func fileHasSHA256(path, want string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}

// debFiles reads the named files (paths as in the package, "/bin/busybox")
// out of a .deb's data archive with `dpkg-deb --fsys-tarfile`.
func debFiles(ctx context.Context, log *slog.Logger, deb string, names ...string) (map[string][]byte, error) {
	out, err := run(ctx, log, "", nil, "dpkg-deb", "--fsys-tarfile", deb)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w (dpkg-deb is part of every Debian system)", deb, err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want["."+n] = true
	}
	got := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the data of %s: %w", deb, err)
		}
		if want[h.Name] && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading %s from %s: %w", h.Name, deb, err)
			}
			got[strings.TrimPrefix(h.Name, ".")] = b
		}
	}
	for _, n := range names {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("%s holds no file %s", deb, n)
		}
	}
	return got, nil
}

// busybox is Debian's busybox-static for one arch, resolved.
type busybox struct {
	pkg      debPackage
	cacheDir string
}

func resolveBusybox(ctx context.Context, log *slog.Logger, arch, cacheDir string) (busybox, error) {
	p, err := aptShow(ctx, log, busyboxPackage, arch)
	if err != nil {
		return busybox{}, err
	}
	return busybox{pkg: p, cacheDir: cacheDir}, nil
}

func (b busybox) source() string { return fmt.Sprintf("debian %s %s", b.pkg.Name, b.pkg.Version) }
func (b busybox) hash() string   { return fmt.Sprintf("deb %s %s", b.pkg, b.pkg.SHA256) }

const busyboxCopyright = "/usr/share/doc/busybox-static/copyright"

// entries returns the base root filesystem plus /bin/busybox, its applet
// symlinks and the package's copyright file.
func (b busybox) entries(ctx context.Context, log *slog.Logger) ([]entry, error) {
	deb, err := fetchDeb(ctx, log, b.pkg, b.cacheDir)
	if err != nil {
		return nil, err
	}
	files, err := debFiles(ctx, log, deb, "/bin/busybox", busyboxCopyright)
	if err != nil {
		return nil, err
	}
	applets, err := b.applets(ctx, log, files["/bin/busybox"])
	if err != nil {
		return nil, err
	}
	es := baseRootfs()
	es = append(es, busyboxEntries(files["/bin/busybox"], applets)...)
	es = append(es, file(busyboxCopyright, 0o644, files[busyboxCopyright]))
	return es, nil
}

// applets asks the binary itself (`busybox --list`). A binary of another
// arch runs only through qemu-user's binfmt handler (hack/install-deps.sh
// arm64); without it the host arch's build of the same package version is
// asked instead: Debian builds busybox-static with one configuration for
// every arch, so the applet list is the same.
func (b busybox) applets(ctx context.Context, log *slog.Logger, bin []byte) ([]string, error) {
	list, err := runBusyboxList(ctx, log, b.cacheDir, bin)
	if err == nil {
		return list, nil
	}
	if b.pkg.Arch == runtime.GOARCH {
		return nil, err
	}
	log.Debug("images: cannot run busybox of another arch, asking the host's build", "arch", b.pkg.Arch, "err", err)
	host, herr := aptShow(ctx, log, busyboxPackage, runtime.GOARCH)
	if herr != nil {
		return nil, fmt.Errorf("listing busybox applets: %w; and the host's package: %w", err, herr)
	}
	if host.Version != b.pkg.Version {
		return nil, fmt.Errorf("listing busybox applets: %w (and the host's busybox-static is %s, not %s; run hack/install-deps.sh arm64 to run arm64 binaries)", err, host.Version, b.pkg.Version)
	}
	deb, err := fetchDeb(ctx, log, host, b.cacheDir)
	if err != nil {
		return nil, err
	}
	files, err := debFiles(ctx, log, deb, "/bin/busybox")
	if err != nil {
		return nil, err
	}
	return runBusyboxList(ctx, log, b.cacheDir, files["/bin/busybox"])
}

func runBusyboxList(ctx context.Context, log *slog.Logger, dir string, bin []byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "busybox-*")
	if err != nil {
		return nil, fmt.Errorf("writing busybox to list its applets: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(bin); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing busybox to list its applets: %w", err)
	}
	if err := f.Chmod(0o755); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	out, err := run(ctx, log, dir, nil, f.Name(), "--list")
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	list := strings.Fields(string(out))
	if len(list) < 10 {
		return nil, fmt.Errorf("busybox --list gave %d applets: %q", len(list), out)
	}
	return list, nil
}
