package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// goInputs is what a Go program of an image is built from.
type goInputs struct {
	hash   string // sources of the main module, versions of every other module, toolchain, settings
	source string // for Image.Source
	dir    string // the package's source directory
}

// listFormat prints one line per package `go build` would compile:
// import path, dir, module path, version, main?, replacement, files.
const listFormat = `{{.ImportPath}}	{{.Dir}}	{{with .Module}}{{.Path}}{{end}}	{{with .Module}}{{.Version}}{{end}}	{{with .Module}}{{.Main}}{{end}}	{{with .Module}}{{with .Replace}}{{.Path}}@{{.Version}}{{end}}{{end}}	{{join .GoFiles ","}},{{join .EmbedFiles ","}}`

// goResolve hashes the inputs of one Go program with `go list -deps` (a
// second or two, against minutes for a cold CoreDNS or agnhost build):
// packages of the main module (or of a local replacement) by file content,
// every other package by its module's path and version, plus the toolchain
// version and build settings. Standard library packages are covered by the
// toolchain version.
func goResolve(ctx context.Context, log *slog.Logger, repoRoot, arch string, b goBinary) (goInputs, error) {
	dir := filepath.Join(repoRoot, b.moduleDir)
	env := goEnv(arch)
	out, err := run(ctx, log, dir, env, "go", append(append([]string{"list", "-deps"}, tagsFlag(b)...), "-f", listFormat, b.pkg)...)
	if err != nil {
		return goInputs{}, fmt.Errorf("resolving Go package %s in %s: %w (is the module complete? try 'go mod download' there)", b.pkg, dir, err)
	}
	goVersion, err := run(ctx, log, dir, env, "go", "env", "GOVERSION")
	if err != nil {
		return goInputs{}, fmt.Errorf("asking the Go toolchain for its version in %s: %w", dir, err)
	}

	h := sha256.New()
	fmt.Fprintf(h, "go=%s arch=%s ldflags=%q tags=%q\n", strings.TrimSpace(string(goVersion)), arch, ldflags(b), b.tags)
	mods := map[string]bool{}
	var in goInputs
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, line := range lines {
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			return goInputs{}, fmt.Errorf("unexpected 'go list' output line %q", line)
		}
		importPath, pkgDir, modPath, modVersion, isMain, replace, files := f[0], f[1], f[2], f[3], f[4], f[5], f[6]
		if i == len(lines)-1 { // -deps lists the named package last
			in.dir = pkgDir
			if b.sourceModule == "" {
				in.source = fmt.Sprintf("go package %s", importPath)
			}
		}
		if b.sourceModule != "" && modPath == b.sourceModule {
			v := modVersion
			if replace != "" {
				v += " => " + replace
			}
			what := b.pkg
			if strings.HasPrefix(what, ".") { // a package of ours: name its directory
				what = filepath.ToSlash(filepath.Join(b.moduleDir, what))
			}
			in.source = fmt.Sprintf("go module %s %s (%s)", modPath, v, what)
		}
		switch {
		case modPath == "": // standard library
		case isMain == "true" || (replace != "" && strings.HasSuffix(replace, "@")):
			// Our own sources (or a local replacement): hash by content.
			for _, name := range strings.Split(files, ",") {
				if name == "" {
					continue
				}
				if err := hashFileInto(h, importPath+"/"+name, filepath.Join(pkgDir, name)); err != nil {
					return goInputs{}, err
				}
			}
		default:
			mods[modPath+" "+modVersion+" "+replace] = true
		}
	}
	if in.source == "" {
		return goInputs{}, fmt.Errorf("package %s does not come from module %s in %s (check its go.mod)", b.pkg, b.sourceModule, dir)
	}
	for _, m := range slices.Sorted(maps.Keys(mods)) {
		fmt.Fprintf(h, "mod %s\n", m)
	}
	in.hash = hex.EncodeToString(h.Sum(nil))
	return in, nil
}

func hashFileInto(h io.Writer, label, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("hashing image source %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	fmt.Fprintf(h, "file %s %x\n", label, sum)
	return nil
}

// goEnv is the build environment: static (CGO off) linux/<arch>.
func goEnv(arch string) []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
}

// ldflags strips symbols (-s -w) and sets the program's -X variables.
func ldflags(b goBinary) string {
	f := []string{"-s", "-w"}
	for _, x := range b.xflags {
		f = append(f, "-X", x)
	}
	return strings.Join(f, " ")
}

// tagsFlag is the -tags flag for b's build tags (none without tags).
func tagsFlag(b goBinary) []string {
	if len(b.tags) == 0 {
		return nil
	}
	return []string{"-tags", strings.Join(b.tags, ",")}
}

// goBuild builds b for linux/<arch> into out: -trimpath and -buildvcs=false
// keep paths and the repository's git state out of the binary, so the same
// inputs give the same bytes.
func goBuild(ctx context.Context, log *slog.Logger, repoRoot, arch string, b goBinary, out string) error {
	dir := filepath.Join(repoRoot, b.moduleDir)
	args := append([]string{"build", "-trimpath", "-buildvcs=false"}, tagsFlag(b)...)
	args = append(args, "-ldflags", ldflags(b), "-o", out, b.pkg)
	_, err := run(ctx, log, dir, goEnv(arch), "go", args...)
	if err != nil {
		return fmt.Errorf("go build of %s for linux/%s in %s failed: %w", b.pkg, arch, dir, err)
	}
	return nil
}

// run runs a command in its own process group (killed whole on cancel) and
// returns its stdout; stderr goes to the debug log and, on failure, its last
// lines into the error.
func run(ctx context.Context, log *slog.Logger, dir string, env []string, name string, args ...string) ([]byte, error) {
	return runStdin(ctx, log, dir, env, nil, name, args...)
}

// runStdin is run with stdin read from in (nil: /dev/null).
func runStdin(ctx context.Context, log *slog.Logger, dir string, env []string, in io.Reader, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = in
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	log.Debug("images: run", "dir", dir, "cmd", name, "args", args)
	err := cmd.Run()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		log.Debug("images: "+name+" stderr", "output", s)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s interrupted: %w", name, ctx.Err())
		}
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(stderr.String(), 30))
	}
	return stdout.Bytes(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
