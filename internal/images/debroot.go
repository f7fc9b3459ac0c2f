package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
)

// debRootfs is a root filesystem made of Debian packages: the named packages
// and their dependency closure (Depends and Pre-Depends, no Recommends), as
// apt resolves it for the target arch from its local package lists, each
// .deb unpacked with dpkg-deb. Maintainer scripts do not run (they cannot,
// for a foreign arch, and would need a full Debian base); what they would
// have made and the image needs is given in links and made by the rootfs
// itself (/etc/nsswitch.conf).
type debRootfs struct {
	// packages to install, as apt-get install takes them (no arch suffix).
	packages []string
	// links are the symlinks maintainer scripts would make (mostly
	// update-alternatives): absolute path in the image -> link target.
	links map[string]string
}

func (d debRootfs) empty() bool { return len(d.packages) == 0 }

// debDropPrefixes are the parts of a package not unpacked, as in Debian's
// slim images (dpkg path-exclude): documentation except the copyright files,
// manual pages, translations, and files only a full system uses.
var debDropPrefixes = []string{
	"/usr/share/man/", "/usr/share/info/", "/usr/share/locale/", "/usr/share/lintian/",
	"/usr/share/linda/", "/usr/share/bug/", "/usr/share/vim/", "/usr/share/apport/",
	"/usr/share/bash-completion/", "/usr/share/zsh/", "/usr/share/fish/",
	"/lib/systemd/", "/usr/lib/systemd/", "/etc/init.d/", "/etc/logrotate.d/", "/etc/ufw/",
}

func debDropped(p string) bool {
	if strings.HasPrefix(p, "/usr/share/doc/") {
		// Keep each package's directory and copyright file (licences).
		rest := strings.TrimPrefix(p, "/usr/share/doc/")
		return strings.Contains(rest, "/") && path.Base(rest) != "copyright"
	}
	for _, pre := range debDropPrefixes {
		if strings.HasPrefix(p+"/", pre) {
			return true
		}
	}
	return false
}

// resolvedDebs is a debRootfs with its closure resolved for one arch.
type resolvedDebs struct {
	spec     debRootfs
	arch     string
	pkgs     []debPackage // the closure, sorted by name
	cacheDir string
}

// instLine matches the lines of `apt-get -s install` that say what would be
// unpacked: "Inst NAME[:ARCH] [OLDVERSION] (VERSION ORIGIN... [ARCH])".
var instLine = regexp.MustCompile(`^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[([a-z0-9]+)\]\)`)

// parseAptSimulation reads the packages out of `apt-get -s install` output.
func parseAptSimulation(out []byte) ([]debPackage, error) {
	var pkgs []debPackage
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "Inst ") {
			continue
		}
		m := instLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unexpected apt-get simulation line %q", line)
		}
		name, _, _ := strings.Cut(m[1], ":")
		pkgs = append(pkgs, debPackage{Name: name, Version: m[2], Arch: m[3]})
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("apt-get simulation installs nothing: %q", tail(string(out), 10))
	}
	slices.SortFunc(pkgs, func(a, b debPackage) int { return strings.Compare(a.Name, b.Name) })
	return pkgs, nil
}

// resolveDebs asks apt (no network, no change to this system) which
// packages installing d.packages on an empty linux/<arch> system unpacks:
// `apt-get -s` against an empty dpkg status with <arch> as the only
// architecture, so Multi-Arch: foreign dependencies resolve to <arch> too,
// never to the host's. Then it takes every package's SHA256 from apt.
func resolveDebs(ctx context.Context, log *slog.Logger, d debRootfs, arch, cacheDir string) (resolvedDebs, error) {
	args := []string{
		"-s", "-q",
		"-o", "Dir::State::status=/dev/null",
		"-o", "APT::Install-Recommends=false",
		"-o", "APT::Install-Suggests=false",
		"-o", "APT::Architecture=" + arch,
		"-o", "APT::Architectures::=" + arch,
		"install",
	}
	args = append(args, d.packages...)
	out, err := run(ctx, log, "", aptEnv(), "apt-get", args...)
	if err != nil {
		return resolvedDebs{}, fmt.Errorf("resolving the Debian packages %s for %s: %w (run 'hack/install-deps.sh images' as root: for arm64 it adds the arm64 architecture to dpkg and runs apt-get update)", strings.Join(d.packages, " "), arch, err)
	}
	pkgs, err := parseAptSimulation(out)
	if err != nil {
		return resolvedDebs{}, err
	}
	if err := aptChecksums(ctx, log, pkgs); err != nil {
		return resolvedDebs{}, err
	}
	return resolvedDebs{spec: d, arch: arch, pkgs: pkgs, cacheDir: cacheDir}, nil
}

// aptEnv keeps apt's messages in English (the parsers read them).
func aptEnv() []string { return append(os.Environ(), "LC_ALL=C", "LANG=C") }

// aptChecksums fills in SHA256 of every package with one `apt-cache show`.
func aptChecksums(ctx context.Context, log *slog.Logger, pkgs []debPackage) error {
	args := []string{"show", "--no-all-versions"}
	for _, p := range pkgs {
		args = append(args, p.Name+":"+p.Arch+"="+p.Version)
	}
	out, err := run(ctx, log, "", aptEnv(), "apt-cache", args...)
	if err != nil {
		return fmt.Errorf("asking apt for the checksums of %d Debian packages: %w (is apt's package list current? run apt-get update)", len(pkgs), err)
	}
	sums := map[string]string{}
	for _, stanza := range strings.Split(string(out), "\n\n") {
		var name, arch, version, sum string
		for _, line := range strings.Split(stanza, "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			switch k {
			case "Package":
				name = strings.TrimSpace(v)
			case "Architecture":
				arch = strings.TrimSpace(v)
			case "Version":
				version = strings.TrimSpace(v)
			case "SHA256":
				sum = strings.TrimSpace(v)
			}
		}
		if name != "" && sum != "" {
			sums[name+":"+arch+"="+version] = sum
		}
	}
	for i, p := range pkgs {
		s, ok := sums[p.Name+":"+p.Arch+"="+p.Version]
		if !ok {
			return fmt.Errorf("apt-cache show gave no SHA256 for %s (is apt's package list current? run apt-get update)", p)
		}
		pkgs[i].SHA256 = s
	}
	return nil
}

// hash identifies the closure: every package's name, arch, version and
// checksum, plus the links.
func (r resolvedDebs) hash() string {
	var b strings.Builder
	for _, p := range r.pkgs {
		fmt.Fprintf(&b, "deb %s %s\n", p, p.SHA256)
	}
	for _, l := range sortedKeys(r.spec.links) {
		fmt.Fprintf(&b, "link %s -> %s\n", l, r.spec.links[l])
	}
	return b.String()
}

// source names the requested packages with their versions and counts the
// rest, e.g. "debian curl 7.88.1-10+deb12u15, nginx 1.22.1-9 (+30 dependencies)".
func (r resolvedDebs) source() string {
	var named []string
	for _, want := range r.spec.packages {
		for _, p := range r.pkgs {
			if p.Name == want {
				named = append(named, p.Name+" "+p.Version)
			}
		}
	}
	return fmt.Sprintf("debian %s (+%d dependencies)", strings.Join(named, ", "), len(r.pkgs)-len(named))
}

// entries fetches and unpacks the closure: the files of every package
// (package name order; a path shipped twice is taken from the later one),
// then the links and a /etc/nsswitch.conf (libc-bin's postinst would copy
// one there).
func (r resolvedDebs) entries(ctx context.Context, log *slog.Logger) ([]entry, error) {
	debs, err := fetchDebs(ctx, log, r.pkgs, r.cacheDir)
	if err != nil {
		return nil, err
	}
	var lists [][]entry
	for i, p := range r.pkgs {
		deb := debs[i]
		data, err := run(ctx, log, "", nil, "dpkg-deb", "--fsys-tarfile", deb)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w (dpkg-deb is part of every Debian system)", deb, err)
		}
		es, err := tarEntries(bytes.NewReader(data), debDropped)
		if err != nil {
			return nil, fmt.Errorf("unpacking Debian package %s: %w", p, err)
		}
		lists = append(lists, es)
	}
	var extra []entry
	for _, l := range sortedKeys(r.spec.links) {
		extra = append(extra, symlink(l, r.spec.links[l]))
	}
	extra = append(extra, file("/etc/nsswitch.conf", 0o644, []byte(nsswitchConf)))
	lists = append(lists, extra)
	es, err := overlay(lists...)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, e := range es {
		have[e.Path] = true
	}
	for _, l := range sortedKeys(r.spec.links) {
		target := r.spec.links[l]
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(l), target)
		}
		if !have[target] {
			return nil, fmt.Errorf("link %s -> %s: the Debian packages %s hold no %s", l, r.spec.links[l], strings.Join(r.spec.packages, " "), target)
		}
	}
	return es, nil
}

// nsswitchConf is Debian's default (libc-bin's /usr/share/libc-bin/nsswitch.conf)
// for the databases glibc has built in.
const nsswitchConf = `passwd:         files
group:          files
shadow:         files
gshadow:        files
hosts:          files dns
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
netgroup:       files
`

// tarEntries reads a tar stream (a .deb's data) into entries; paths for
// which drop is true are left out. Hard links become copies of their
// target's data (entry has no hard links; the few in Debian packages are
// small).
func tarEntries(r io.Reader, drop func(string) bool) ([]entry, error) {
	var es []entry
	data := map[string][]byte{}
	modes := map[string]fs.FileMode{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		p := path.Clean("/" + strings.TrimPrefix(h.Name, "./"))
		if p == "/" || drop(p) {
			continue
		}
		perm := fileMode(h.Mode)
		e := entry{Path: p, UID: h.Uid, GID: h.Gid}
		switch h.Typeflag {
		case tar.TypeDir:
			e.Mode = fs.ModeDir | perm
		case tar.TypeSymlink:
			e.Mode, e.Link = fs.ModeSymlink|0o777, h.Linkname
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", p, err)
			}
			e.Mode, e.Data = perm, b
			data[p], modes[p] = b, perm
		case tar.TypeLink:
			target := path.Clean("/" + strings.TrimPrefix(h.Linkname, "./"))
			b, ok := data[target]
			if !ok {
				if drop(target) {
					continue
				}
				return nil, fmt.Errorf("hard link %s to %s, which comes later or is not a file", p, target)
			}
			e.Mode, e.Data = modes[target], b
		default:
			return nil, fmt.Errorf("%s: unsupported tar entry type %q", p, h.Typeflag)
		}
		es = append(es, e)
	}
	return es, nil
}

// fileMode converts a tar header's mode (permission and special bits) to an
// fs.FileMode.
func fileMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// overlay merges entry lists into one, as layers stack: an entry of a later
// list replaces one of an earlier list at the same path (a directory stays a
// directory, with the later mode and owner). A directory and a non-directory
// at the same path is an error: the earlier list's files under it would be
// lost. Within one list a path must appear once, except directories.
func overlay(lists ...[]entry) ([]entry, error) {
	byPath := map[string]int{}
	var out []entry
	for li, es := range lists {
		seen := map[string]bool{}
		for _, e := range es {
			p := path.Clean(e.Path)
			e.Path = p
			i, ok := byPath[p]
			if !ok {
				byPath[p] = len(out)
				out = append(out, e)
				seen[p] = true
				continue
			}
			old := out[i]
			if old.Mode.IsDir() != e.Mode.IsDir() {
				return nil, fmt.Errorf("image path %s is a directory in one part of the root filesystem and not in another (list %d)", p, li)
			}
			if seen[p] && !e.Mode.IsDir() {
				return nil, fmt.Errorf("image file %s given twice", p)
			}
			seen[p] = true
			out[i] = e
		}
	}
	return out, nil
}

// withoutShadowedApplets drops busybox applet links (symlinks to
// "busybox") whose command name the other entries provide in a directory
// of the image's PATH: the Debian tool is then the one found first
// whatever the PATH order, and `ls /bin` shows no misleading link.
func withoutShadowedApplets(bb, others []entry) []entry {
	provided := map[string]bool{}
	for _, e := range others {
		if e.Mode.IsDir() {
			continue
		}
		switch path.Dir(e.Path) {
		case "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin":
			provided[path.Base(e.Path)] = true
		}
	}
	out := bb[:0:0]
	for _, e := range bb {
		if e.Mode&fs.ModeSymlink != 0 && e.Link == "busybox" && provided[path.Base(e.Path)] {
			continue
		}
		out = append(out, e)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
