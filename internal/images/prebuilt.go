package images

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// archPlaceholder in prebuilt.src and prebuilt.makeTarget stands for the
// target arch ("amd64", "arm64").
const archPlaceholder = "{arch}"

// prebuilt is a file another build step of this repository makes (a make
// target, e.g. the upstream e2e.test), copied into the image as it is. It is
// an input by content: a rebuilt file with other bytes rebuilds the image.
type prebuilt struct {
	// src is the file's path relative to the repository root; "{arch}" is
	// replaced by the target arch ("distro/_output/e2e.test-linux-{arch}").
	src string
	// path is the absolute path in the image.
	path string
	// mode holds the permission (and setuid/setgid) bits; 0 means 0755.
	mode fs.FileMode
	// makeTarget is the command that makes src, named in the error when it
	// is missing; "{arch}" is replaced as in src ("make -C distro e2e-{arch}").
	makeTarget string
}

func (p prebuilt) srcFor(arch string) string {
	return filepath.FromSlash(strings.ReplaceAll(p.src, archPlaceholder, arch))
}

func (p prebuilt) perm() fs.FileMode {
	if p.mode == 0 {
		return 0o755
	}
	return p.mode
}

// resolvedFile is a prebuilt file read for one build.
type resolvedFile struct {
	spec   prebuilt
	src    string // relative to the repository root, arch substituted
	data   []byte
	sha256 string
}

// resolvePrebuilt reads the file (the hash needs its content anyway; the
// biggest, e2e.test, is ~120 MB) or says which make target makes it.
func resolvePrebuilt(repoRoot, arch string, p prebuilt) (resolvedFile, error) {
	if !path.IsAbs(p.path) {
		return resolvedFile{}, fmt.Errorf("prebuilt file %s: image path %q must be absolute", p.src, p.path)
	}
	rel := p.srcFor(arch)
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if errors.Is(err, fs.ErrNotExist) {
		hint := "build it first"
		if p.makeTarget != "" {
			hint = "run '" + strings.ReplaceAll(p.makeTarget, archPlaceholder, arch) + "' first"
		}
		return resolvedFile{}, fmt.Errorf("prebuilt file %s for image path %s is missing: %s", rel, p.path, hint)
	}
	if err != nil {
		return resolvedFile{}, fmt.Errorf("reading prebuilt file %s: %w", rel, err)
	}
	sum := sha256.Sum256(b)
	return resolvedFile{spec: p, src: filepath.ToSlash(rel), data: b, sha256: hex.EncodeToString(sum[:])}, nil
}

func (f resolvedFile) hash() string {
	return fmt.Sprintf("file %s %s %o %s", f.spec.path, f.src, tarMode(f.spec.perm()), f.sha256)
}

func (f resolvedFile) source() string {
	return fmt.Sprintf("prebuilt %s (sha256 %.12s)", f.src, f.sha256)
}

func (f resolvedFile) entry() entry { return file(f.spec.path, f.spec.perm(), f.data) }
