package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
)

// BusyBox comes from its upstream source, built here, not from Debian's
// busybox-static: Debian patches ash (a revert of upstream commit 9c143ce5)
// so that it drops environment variables whose names are not shell
// identifiers ("data-1"), and the [Conformance] specs "Secrets/ConfigMap
// should be consumable as environment variable names with various prefixes"
// run `sh -c env` in the busybox image and expect them. Upstream's image
// (registry.k8s.io/e2e-test-images/busybox:1.37.0-2 mirrors docker-library's
// busybox:1.37.0) is an unpatched 1.37.0, and its ash's messages are what
// other specs compare logs with ("/bin/sh: can't create /file: Read-only
// file system").
//
// The source is the upstream release tarball as Debian's archive carries it
// (the orig tarball of trixie's busybox source package, fetched with apt into
// a private apt state; the Debian patches are not applied), pinned by SHA-256.
const (
	busyboxVersion = "1.37.0"
	// busyboxOrigTarball is the file name of the upstream tarball in
	// Debian's source package.
	busyboxOrigTarball = "busybox_" + busyboxVersion + ".orig.tar.bz2"
	// busyboxOrigSHA256 is its checksum: the same bytes as busybox.net's
	// busybox-1.37.0.tar.bz2 (whose published SHA-256 this is).
	busyboxOrigSHA256 = "3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4"
	// busyboxAptSources is the private apt source list the tarball is
	// fetched with. No revision is asked for: every Debian revision of
	// 1.37.0 (a trixie point release may replace -6) ships the same orig
	// tarball, which the pin checks.
	busyboxAptSources = "deb-src http://deb.debian.org/debian trixie main\n"
	busyboxAptPackage = "busybox"
	// busyboxSourceDateEpoch is the time the build stamps into the binary
	// ("BusyBox v1.37.0 (2024-09-26 21:31:42 UTC)"): the tarball's
	// top directory's mtime, as docker-library's build does.
	busyboxSourceDateEpoch = "1727386302"
	// busyboxBuildSchema changes whenever the build steps below change, so
	// binaries built the old way are rebuilt.
	busyboxBuildSchema = "busybox-src/v1"
	busyboxLicense     = "/usr/share/doc/busybox/LICENSE"
)

// kconfigSetting is one line of a Kconfig .config; value "" means "is not
// set".
type kconfigSetting struct{ name, value string }

func (s kconfigSetting) line() string {
	if s.value == "" {
		return "# " + s.name + " is not set"
	}
	return s.name + "=" + s.value
}

// busyboxConfig is what the build changes from `make defconfig` for arch.
func busyboxConfig(arch string) []kconfigSetting {
	cfg := []kconfigSetting{
		// One file without shared libraries: the image has no libc. glibc
		// 2.36's libc.a carries the files and dns NSS modules, so name
		// lookups (wget, nc, nslookup) work without libnss_*.so.
		{"CONFIG_STATIC", "y"},
		// docker-library's build of busybox:1.37.0 changes these from
		// defconfig (ar, unicode input, a smaller sync); so does this one,
		// so the image has the same applets.
		{"CONFIG_AR", "y"},
		{"CONFIG_FEATURE_AR_CREATE", "y"},
		{"CONFIG_FEATURE_AR_LONG_FILENAMES", "y"},
		{"CONFIG_LAST_SUPPORTED_WCHAR", "0"},
		{"CONFIG_FEATURE_SYNC_FANCY", ""},
	}
	if arch != "amd64" {
		// The SHA-1 acceleration is x86 code; 1.37.0 does not compile
		// for other arches with it on (a missing #if, fixed upstream after
		// the release; docker-library patches it). Off, the arm64 binary is
		// the same as with the fix.
		cfg = append(cfg, kconfigSetting{"CONFIG_SHA1_HWACCEL", ""})
	}
	return cfg
}

// busyboxRequiredConfig must hold after the build's config step, whatever
// defconfig says: baseLayer relies on busybox's sh running commands from
// PATH (not its own applets first), so that the Debian tools of an image
// shadow the applets of the same name.
var busyboxRequiredConfig = []kconfigSetting{
	{"CONFIG_SH_IS_ASH", "y"},
	{"CONFIG_FEATURE_SH_STANDALONE", ""},
	{"CONFIG_FEATURE_PREFER_APPLETS", ""},
}

// kconfigLine matches a .config line that sets or unsets a symbol.
var kconfigLine = regexp.MustCompile(`^(?:(CONFIG_[A-Za-z0-9_]+)=.*|# (CONFIG_[A-Za-z0-9_]+) is not set)$`)

// setKconfig rewrites the lines of cfg that set or unset the given symbols
// and appends the symbols it does not mention (as the sed loop of
// docker-library's build does; `make oldconfig` then settles dependencies).
func setKconfig(cfg []byte, settings []kconfigSetting) []byte {
	want := map[string]kconfigSetting{}
	for _, s := range settings {
		want[s.name] = s
	}
	done := map[string]bool{}
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(cfg), "\n") {
		if line == "" {
			continue
		}
		m := kconfigLine.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m != nil {
			name := m[1] + m[2]
			if s, ok := want[name]; ok {
				if !done[name] {
					out.WriteString(s.line() + "\n")
					done[name] = true
				}
				continue
			}
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	for _, s := range settings {
		if !done[s.name] {
			out.WriteString(s.line() + "\n")
			done[s.name] = true
		}
	}
	return out.Bytes()
}

// checkKconfig returns every setting cfg does not hold (a symbol that is
// not set may also be absent).
func checkKconfig(cfg []byte, settings []kconfigSetting) error {
	have := map[string]string{}
	for _, line := range strings.Split(string(cfg), "\n") {
		m := kconfigLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[1] != "" {
			have[m[1]] = strings.TrimPrefix(line, m[1]+"=")
		} else {
			have[m[2]] = ""
		}
	}
	var bad []string
	for _, s := range settings {
		if got := have[s.name]; got != s.value {
			bad = append(bad, fmt.Sprintf("%s (have %q)", s.line(), got))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("busybox .config does not hold %s", strings.Join(bad, ", "))
	}
	return nil
}

// parseDscSHA256 returns the SHA-256 that a Debian source control file
// (.dsc, clear-signed or not) lists for file in its Checksums-Sha256 field:
// one " SHA256 SIZE NAME" continuation line per file.
func parseDscSHA256(dsc []byte, file string) (string, error) {
	var (
		inField, seen bool
		sum           string
	)
	for _, line := range strings.Split(strings.ReplaceAll(string(dsc), "\r\n", "\n"), "\n") {
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			if !inField {
				continue
			}
			f := strings.Fields(line)
			if len(f) != 3 {
				return "", fmt.Errorf(".dsc Checksums-Sha256 line %q is not \"SHA256 SIZE NAME\"", strings.TrimSpace(line))
			}
			if f[2] != file {
				continue
			}
			if len(f[0]) != 64 || strings.Trim(f[0], "0123456789abcdef") != "" {
				return "", fmt.Errorf(".dsc Checksums-Sha256 gives %s the malformed checksum %q", file, f[0])
			}
			if sum != "" && sum != f[0] {
				return "", fmt.Errorf(".dsc Checksums-Sha256 lists %s twice with different checksums", file)
			}
			sum = f[0]
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		inField = ok && strings.EqualFold(name, "Checksums-Sha256")
		seen = seen || inField
	}
	switch {
	case !seen:
		return "", errors.New(".dsc has no Checksums-Sha256 field")
	case sum == "":
		return "", fmt.Errorf(".dsc Checksums-Sha256 does not list %s", file)
	}
	return sum, nil
}

// busybox is the busybox binary for one arch, its inputs resolved: built
// from the pinned source with this host's C toolchain, cached by the hash
// of its inputs under root.
type busybox struct {
	arch string
	// cc is the C compiler command; prefix is CROSS_COMPILE ("" native).
	cc, prefix string
	// ccVersion is the first line of `cc --version`; target its -dumpmachine.
	ccVersion, target string
	// inputs hashes everything the binary is built from.
	inputs string
	// root holds the tarball, the private apt state and the built binaries
	// (<CacheDir>/busybox-1.37.0).
	root string
}

// gnuTriplets names each arch's GNU target, the prefix of Debian's cross
// compilers (gcc-aarch64-linux-gnu, gcc-x86-64-linux-gnu).
var gnuTriplets = map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}

// busyboxArches is busybox's ARCH for each arch (set explicitly: the default
// is the build host's `uname -m`).
var busyboxArches = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// elfMachines is each arch's ELF machine, to check what the build made.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// resolveBusybox asks the C toolchain for its version, target and static C
// library (a few milliseconds; nothing is built or downloaded) and hashes
// them with the pinned source and the configuration.
func resolveBusybox(ctx context.Context, log *slog.Logger, arch, cacheDir string) (busybox, error) {
	triplet, ok := gnuTriplets[arch]
	if !ok {
		return busybox{}, fmt.Errorf("busybox: no C toolchain known for %s", arch)
	}
	b := busybox{arch: arch, root: filepath.Join(cacheDir, "busybox-"+busyboxVersion)}
	if arch != runtime.GOARCH {
		b.prefix = triplet + "-"
	}
	b.cc = b.prefix + "gcc"
	if _, err := exec.LookPath(b.cc); err != nil {
		return busybox{}, fmt.Errorf("busybox is built from source for %s with %s, which is not installed: run 'hack/install-deps.sh images' as root: %w", arch, b.cc, err)
	}
	env := buildEnv()
	out, err := run(ctx, log, "", env, b.cc, "--version")
	if err != nil {
		return busybox{}, fmt.Errorf("asking the C compiler for its version: %w", err)
	}
	b.ccVersion, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	out, err = run(ctx, log, "", env, b.cc, "-dumpmachine")
	if err != nil {
		return busybox{}, fmt.Errorf("asking the C compiler for its target: %w", err)
	}
	b.target = strings.TrimSpace(string(out))
	if b.target != triplet {
		return busybox{}, fmt.Errorf("the C compiler %s targets %s, not %s: busybox for %s needs %s (run 'hack/install-deps.sh images')", b.cc, b.target, triplet, arch, triplet+"-gcc")
	}
	// A static binary carries the C library: hash the archive it links.
	out, err = run(ctx, log, "", env, b.cc, "-print-file-name=libc.a")
	if err != nil {
		return busybox{}, fmt.Errorf("asking the C compiler for its static C library: %w", err)
	}
	libc := strings.TrimSpace(string(out))
	if !filepath.IsAbs(libc) {
		return busybox{}, fmt.Errorf("%s has no static C library (libc.a) for %s: install libc6-dev (native) or libc6-dev-%s-cross with 'hack/install-deps.sh images'", b.cc, arch, arch)
	}
	libcSum, err := fileSHA256(libc)
	if err != nil {
		return busybox{}, fmt.Errorf("hashing the static C library: %w", err)
	}

	h := sha256.New()
	fmt.Fprintf(h, "%s\nsource %s sha256=%s epoch=%s\narch=%s ARCH=%s CROSS_COMPILE=%s\ncc %q target=%s libc.a=%s\n",
		busyboxBuildSchema, busyboxOrigTarball, busyboxOrigSHA256, busyboxSourceDateEpoch,
		arch, busyboxArches[arch], b.prefix, b.ccVersion, b.target, libcSum)
	for _, s := range busyboxConfig(arch) {
		fmt.Fprintf(h, "config %s\n", s.line())
	}
	b.inputs = hex.EncodeToString(h.Sum(nil))
	return b, nil
}

// buildEnv is the environment of the C build: the host's, minus what would
// change the build behind the input hash's back (flags, a make jobserver),
// in the C locale and UTC.
func buildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CFLAGS", "CPPFLAGS", "LDFLAGS", "LDLIBS", "EXTRA_CFLAGS", "CC", "HOSTCC", "CROSS_COMPILE", "ARCH",
			"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "KCONFIG_CONFIG", "SOURCE_DATE_EPOCH", "LC_ALL", "LANG", "TZ":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "TZ=UTC", "SOURCE_DATE_EPOCH="+busyboxSourceDateEpoch)
}

func fileSHA256(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func (b busybox) hash() string { return "busybox " + b.arch + " " + b.inputs }

// source says what the binary is, for the layer's history and Image.Source.
func (b busybox) source() string {
	return fmt.Sprintf("busybox %s built from upstream source (Debian trixie's orig tarball %s, sha256 %s), defconfig + static, %s for %s",
		busyboxVersion, busyboxOrigTarball, busyboxOrigSHA256, b.ccVersion, b.target)
}

// dir is where the binary built from these inputs is kept.
func (b busybox) dir() string { return filepath.Join(b.root, b.arch+"-"+b.inputs[:16]) }

// The files of a build, in dir().
const (
	busyboxBinFile     = "busybox"
	busyboxLinksFile   = "busybox.links" // the applets' install paths, one a line (make busybox.links)
	busyboxConfigFile  = "busybox.config"
	busyboxLicenseFile = "LICENSE"
)

// built says whether the binary for these inputs is in the cache.
func (b busybox) built() bool {
	for _, f := range []string{busyboxBinFile, busyboxLinksFile, busyboxLicenseFile} {
		if _, err := os.Stat(filepath.Join(b.dir(), f)); err != nil {
			return false
		}
	}
	return true
}

// build makes the binary unless it is cached: fetch the source, unpack it,
// `make defconfig`, apply busyboxConfig, `make oldconfig`, check the
// configuration, `make busybox busybox.links` (two jobs at most), check the
// binary is a static executable for the arch, and keep it (with the applet
// list, the configuration and the licence) in dir().
func (b busybox) build(ctx context.Context, log *slog.Logger) error {
	if b.built() {
		return nil
	}
	for _, tool := range []string{"make", "tar", "bzip2"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("building busybox needs %s: run 'hack/install-deps.sh images' as root: %w", tool, err)
		}
	}
	tarball, err := fetchBusyboxSource(ctx, log, b.root)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(b.root, "build-"+b.arch+"-")
	if err != nil {
		return fmt.Errorf("creating the busybox build directory: %w", err)
	}
	defer os.RemoveAll(work)
	env := buildEnv()
	if _, err := run(ctx, log, work, env, "tar", "-xjf", tarball); err != nil {
		return fmt.Errorf("unpacking %s: %w", tarball, err)
	}
	src := filepath.Join(work, "busybox-"+busyboxVersion)
	makeArgs := []string{"ARCH=" + busyboxArches[b.arch], "CROSS_COMPILE=" + b.prefix}
	if _, err := run(ctx, log, src, env, "make", append(makeArgs, "defconfig")...); err != nil {
		return fmt.Errorf("busybox make defconfig: %w", err)
	}
	cfgPath := filepath.Join(src, ".config")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return fmt.Errorf("reading busybox's defconfig: %w", err)
	}
	if err := os.WriteFile(cfgPath, setKconfig(cfg, busyboxConfig(b.arch)), 0o644); err != nil {
		return fmt.Errorf("writing busybox's .config: %w", err)
	}
	// oldconfig asks for symbols the changes made visible: Enter takes
	// each default (as `yes "" | make oldconfig`).
	answers := strings.NewReader(strings.Repeat("\n", 10000))
	if _, err := runStdin(ctx, log, src, env, answers, "make", append(makeArgs, "oldconfig")...); err != nil {
		return fmt.Errorf("busybox make oldconfig: %w", err)
	}
	if cfg, err = os.ReadFile(cfgPath); err != nil {
		return fmt.Errorf("reading busybox's .config: %w", err)
	}
	if err := checkKconfig(cfg, append(busyboxConfig(b.arch), busyboxRequiredConfig...)); err != nil {
		return err
	}
	jobs := min(2, runtime.NumCPU()) // the build shares the machine
	if _, err := run(ctx, log, src, env, "make", append(makeArgs, fmt.Sprintf("-j%d", jobs), "busybox", "busybox.links")...); err != nil {
		return fmt.Errorf("building busybox %s for %s with %s: %w", busyboxVersion, b.arch, b.cc, err)
	}
	bin := filepath.Join(src, "busybox")
	if err := checkStaticELF(bin, elfMachines[b.arch]); err != nil {
		return err
	}

	out, err := os.MkdirTemp(b.root, "out-"+b.arch+"-")
	if err != nil {
		return fmt.Errorf("creating the busybox cache entry: %w", err)
	}
	defer os.RemoveAll(out)
	if err := os.Chmod(out, 0o755); err != nil {
		return fmt.Errorf("keeping the busybox build: %w", err)
	}
	for dst, srcFile := range map[string]string{
		busyboxBinFile: "busybox", busyboxLinksFile: "busybox.links", busyboxConfigFile: ".config", busyboxLicenseFile: "LICENSE",
	} {
		data, err := os.ReadFile(filepath.Join(src, srcFile))
		if err != nil {
			return fmt.Errorf("busybox build output: %w", err)
		}
		mode := fs.FileMode(0o644)
		if dst == busyboxBinFile {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(out, dst), data, mode); err != nil {
			return fmt.Errorf("keeping the busybox build: %w", err)
		}
	}
	// A rename, so an interrupted build never leaves a cache entry that
	// looks done; another process may have kept the same build meanwhile.
	if err := os.Rename(out, b.dir()); err != nil && !b.built() {
		return fmt.Errorf("keeping the busybox build in %s: %w", b.dir(), err)
	}
	log.Info("busybox built", "arch", b.arch, "dir", b.dir())
	return nil
}

// checkStaticELF checks that p is a statically linked executable for machine.
func checkStaticELF(p string, machine elf.Machine) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("the busybox build made no ELF executable: %w", err)
	}
	defer f.Close()
	if f.Machine != machine {
		return fmt.Errorf("the busybox build made a binary for %s, want %s", f.Machine, machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("the busybox build made a dynamically linked binary (CONFIG_STATIC did not take)")
		}
	}
	return nil
}

// fetchBusyboxSource returns the path of the pinned source tarball in root,
// fetching it first when it is not there: `apt-get update` and `apt-get
// source --download-only` with a private apt state under root/apt (its own
// source list, package lists and cache; the system's apt configuration and
// trusted keys are only read), then the checks: the .dsc lists the tarball
// with the pinned SHA-256, and the file has it.
func fetchBusyboxSource(ctx context.Context, log *slog.Logger, root string) (string, error) {
	dst := filepath.Join(root, busyboxOrigTarball)
	if ok, _ := fileHasSHA256(dst, busyboxOrigSHA256); ok {
		return dst, nil
	}
	aptDir := filepath.Join(root, "apt")
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(aptDir, d), 0o755); err != nil {
			return "", fmt.Errorf("creating the private apt state %s: %w", aptDir, err)
		}
	}
	sources := filepath.Join(aptDir, "sources.list")
	if err := os.WriteFile(sources, []byte(busyboxAptSources), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", sources, err)
	}
	opts := []string{
		"-q",
		"-o", "Dir::Etc::sourcelist=" + sources,
		"-o", "Dir::Etc::sourceparts=-",
		"-o", "Dir::State::Lists=" + filepath.Join(aptDir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(aptDir, "cache"),
		// The private directories belong to root; apt's download user
		// (_apt) could not write them.
		"-o", "APT::Sandbox::User=root",
	}
	if _, err := run(ctx, log, "", aptEnv(), "apt-get", append(opts, "update")...); err != nil {
		return "", fmt.Errorf("reading Debian trixie's source index for busybox %s: %w (is deb.debian.org reachable?)", busyboxVersion, err)
	}
	dl, err := os.MkdirTemp(root, "download-")
	if err != nil {
		return "", fmt.Errorf("creating a download directory: %w", err)
	}
	defer os.RemoveAll(dl)
	if _, err := run(ctx, log, dl, aptEnv(), "apt-get", append(opts, "source", "--download-only", busyboxAptPackage)...); err != nil {
		return "", fmt.Errorf("downloading Debian trixie's busybox source package: %w (is deb.debian.org reachable?)", err)
	}
	dscs, _ := filepath.Glob(filepath.Join(dl, "busybox_*.dsc"))
	if len(dscs) != 1 {
		return "", fmt.Errorf("apt-get source busybox left %d .dsc files in %s, want 1", len(dscs), dl)
	}
	dsc, err := os.ReadFile(dscs[0])
	if err != nil {
		return "", err
	}
	sum, err := parseDscSHA256(dsc, busyboxOrigTarball)
	if err != nil {
		return "", fmt.Errorf("%s: %w (Debian trixie's busybox is no longer %s? update busybox_src.go)", path.Base(dscs[0]), err, busyboxVersion)
	}
	if sum != busyboxOrigSHA256 {
		return "", fmt.Errorf("%s lists %s with sha256 %s, not the pinned %s: refusing a different source", path.Base(dscs[0]), busyboxOrigTarball, sum, busyboxOrigSHA256)
	}
	got := filepath.Join(dl, busyboxOrigTarball)
	if ok, err := fileHasSHA256(got, busyboxOrigSHA256); err != nil {
		return "", fmt.Errorf("reading the downloaded busybox source: %w", err)
	} else if !ok {
		return "", fmt.Errorf("downloaded %s does not have the sha256 %s its .dsc lists: try again", got, busyboxOrigSHA256)
	}
	if err := os.Rename(got, dst); err != nil {
		return "", fmt.Errorf("keeping the busybox source: %w", err)
	}
	log.Info("busybox source fetched", "file", dst, "dsc", path.Base(dscs[0]))
	return dst, nil
}

// entries builds the binary (unless cached) and returns the base root
// filesystem plus /bin/busybox, one symlink per applet in /bin (as
// upstream's image, which installs every applet in /bin), /usr/bin/env
// (upstream's image adds it for `#!/usr/bin/env` scripts) and the licence.
func (b busybox) entries(ctx context.Context, log *slog.Logger) ([]entry, error) {
	if err := b.build(ctx, log); err != nil {
		return nil, err
	}
	read := func(name string) ([]byte, error) {
		data, err := os.ReadFile(filepath.Join(b.dir(), name))
		if err != nil {
			return nil, fmt.Errorf("reading the busybox build: %w", err)
		}
		return data, nil
	}
	bin, err := read(busyboxBinFile)
	if err != nil {
		return nil, err
	}
	links, err := read(busyboxLinksFile)
	if err != nil {
		return nil, err
	}
	license, err := read(busyboxLicenseFile)
	if err != nil {
		return nil, err
	}
	applets, err := busyboxApplets(links)
	if err != nil {
		return nil, err
	}
	es := baseRootfs()
	es = append(es, busyboxEntries(bin, applets)...)
	es = append(es, symlink("/usr/bin/env", "../../bin/env"), file(busyboxLicense, 0o644, license))
	return es, nil
}

// busyboxApplets reads the applet names out of busybox.links (install
// paths such as /usr/bin/wget, one a line).
func busyboxApplets(links []byte) ([]string, error) {
	var out []string
	for _, l := range strings.Split(string(links), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, "/") {
			return nil, fmt.Errorf("busybox.links line %q is not an install path", l)
		}
		out = append(out, path.Base(l))
	}
	if len(out) < 10 || !slices.Contains(out, "sh") {
		return nil, fmt.Errorf("busybox.links lists %d applets and no sh: the build is incomplete", len(out))
	}
	return out, nil
}
