package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// hashSchema changes whenever the meaning of the source hash changes, so old
// cache entries are never mistaken for new ones.
const hashSchema = "distrobench-build/v2" // v2: built by distro/Makefile, helper bundle included

// SourceHash returns the cache key of a k3lite build: a hex SHA-256 over every
// file under <repoRoot>/distro that can end up in the binary (Go sources,
// go.mod, go.sum and any other file, since //go:embed may pull in anything;
// also the Makefile and the helpers module distro/helpers, from which the
// embedded helper binaries are built), plus the build settings of o (arch,
// tags, ldflags, env, version) and the Go toolchain version. Files are
// visited in lexical order, so the hash is stable across machines and
// checkouts. Left out: _output/ (build outputs, staged helpers), testdata/
// directories, dot directories (.git, editor state), *_test.go files, none
// of which reach the binary, and the generated helper archives (see
// generated), which are derived from what the hash covers.
//
// Not covered: the C toolchain and libseccomp that runc is linked with (the
// host's libseccomp-dev, or the arm64 sysroot made by hack/install-deps.sh).
func SourceHash(repoRoot string, o Options) (string, error) {
	return sourceHash(context.Background(), repoRoot, o)
}

func sourceHash(ctx context.Context, repoRoot string, o Options) (string, error) {
	if err := o.setDefaults(); err != nil {
		return "", err
	}
	distro := filepath.Join(repoRoot, "distro")
	if _, err := os.Stat(filepath.Join(distro, "go.mod")); err != nil {
		return "", fmt.Errorf("k3lite sources not found: %w (is %q the distrobench repository root? it must contain distro/go.mod)", err, repoRoot)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", hashSchema)

	files, err := sourceFiles(distro)
	if err != nil {
		return "", err
	}
	for _, rel := range files {
		if err := hashFile(h, distro, rel); err != nil {
			return "", err
		}
	}

	goVersion, err := goEnvVersion(ctx, distro, buildEnv(o))
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "arch=%s\n", o.Arch)
	tags := append([]string(nil), o.tags()...)
	sort.Strings(tags) // the order of -tags does not matter to go build
	fmt.Fprintf(h, "tags=%q\n", tags)
	fmt.Fprintf(h, "ldflags=%q\n", o.extraLDFlags())
	env := o.extraEnv()
	for _, k := range sortedKeys(env) {
		fmt.Fprintf(h, "env %q=%q\n", k, env[k])
	}
	fmt.Fprintf(h, "version=%s\n", o.Version)
	fmt.Fprintf(h, "go=%s\n", goVersion)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// generated are the files distro/Makefile writes into the source tree
// (slash-separated patterns relative to distro/, for path.Match): the helper
// archive that k3lite embeds, and pack's temporary file while it writes one.
var generated = []string{
	"pkg/bundle/assets/*/helpers.tar.zst",
	"pkg/bundle/assets/*/.helpers.tar.zst.tmp-*",
}

func isGenerated(rel string) bool {
	for _, pat := range generated {
		if ok, _ := path.Match(pat, rel); ok {
			return true
		}
	}
	return false
}

// sourceFiles lists the files under dir that feed the build, as sorted
// slash-separated relative paths.
func sourceFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (name == "_output" || name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); isGenerated(rel) {
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing k3lite sources under %s: %w", dir, err)
	}
	sort.Strings(files) // WalkDir is lexical per directory; sort the whole list to be explicit
	return files, nil
}

// hashFile adds one file's path, kind and content to h. Symlinks are hashed by
// target (go build follows them only inside the module, and a changed target
// is a changed input either way).
func hashFile(h io.Writer, dir, rel string) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("hashing k3lite sources: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("hashing k3lite sources: %w", err)
		}
		fmt.Fprintf(h, "link %q %q\n", rel, target)
	case fi.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("hashing k3lite sources: %w", err)
		}
		defer f.Close()
		fh := sha256.New()
		if _, err := io.Copy(fh, f); err != nil {
			return fmt.Errorf("hashing k3lite source %s: %w", p, err)
		}
		// The executable bit is part of an embedded file's identity for
		// bundles that extract helper binaries.
		fmt.Fprintf(h, "file %q %t %x\n", rel, fi.Mode()&0o111 != 0, fh.Sum(nil))
	default:
		// sockets, fifos and devices cannot be embedded or compiled
	}
	return nil
}

// goEnvVersion asks the toolchain that will build (after any GOTOOLCHAIN
// switch selected by distro/go.mod) for its version.
func goEnvVersion(ctx context.Context, dir string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION in %s: %w: %s (is the Go toolchain installed and on PATH?)", dir, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
