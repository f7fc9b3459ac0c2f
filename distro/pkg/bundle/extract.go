package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Names under <data-dir>/data besides the <hash> directories.
const (
	currentLink = "current"       // symlink to the <hash> in use
	lockName    = ".lock"         // flock: one extraction at a time
	tmpPrefix   = ".tmp-"         // extraction in progress (or left by a crash)
	oldPrefix   = ".old-"         // a damaged copy being removed
	linkTmp     = ".current.tmp-" // symlink being renamed over current
)

// Extract makes sure this k3lite's helper binaries are in
// <dataDir>/data/<content-hash>/bin and returns that directory.
//
// An existing directory of the same hash is reused when its files have the
// expected sizes and are executable (a quick check: a start must not read
// 40 MB back); otherwise it is replaced. Extraction goes to a temporary
// directory, every file checked against the manifest's SHA-256, which is
// then renamed into place, so a crash never leaves a directory that looks
// complete. An exclusive flock on <dataDir>/data/.lock serialises
// concurrent starts (several nodes sharing a data dir, or a restart racing
// the old process). <dataDir>/data/current is pointed at the hash in use.
// Directories of other hashes are left alone: shims started by an older
// k3lite may still run from them.
func Extract(dataDir string, log *slog.Logger) (binDir string, err error) {
	a, err := embedded()
	if err != nil {
		return "", err
	}
	return extract(a, dataDir, log)
}

func extract(a *archive, dataDir string, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := a.readManifest()
	if err != nil {
		return "", err
	}
	root := filepath.Join(dataDir, "data")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating %s for the helper binaries: %w (is --data-dir writable?)", root, err)
	}
	unlock, err := lock(filepath.Join(root, lockName))
	if err != nil {
		return "", err
	}
	defer unlock()
	removeLeftovers(root, log)

	dir := filepath.Join(root, m.Hash)
	bin := filepath.Join(dir, "bin")
	switch err := verify(bin, m); err {
	case nil:
		log.Debug("helper binaries already extracted", "dir", bin)
	default:
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("helper binaries damaged, extracting them again", "dir", bin, "err", err)
		}
		start := time.Now()
		if err := install(a, m, root, dir); err != nil {
			return "", err
		}
		log.Info("extracted helper binaries", "dir", bin, "files", len(m.Files),
			"bytes", m.RawSize(), "duration", time.Since(start).Round(time.Millisecond))
	}
	if err := pointCurrent(root, m.Hash); err != nil {
		return "", err
	}
	return bin, nil
}

// lock takes an exclusive flock on path (created if needed); the returned
// func releases it. The kernel drops it if the process dies.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("helper binaries lock: %w (is --data-dir writable?)", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}

// removeLeftovers deletes temporary directories of extractions that died
// (only called with the lock held, so none is in progress).
func removeLeftovers(root string, log *slog.Logger) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, tmpPrefix) || strings.HasPrefix(n, oldPrefix) || strings.HasPrefix(n, linkTmp) {
			if err := os.RemoveAll(filepath.Join(root, n)); err != nil {
				log.Warn("cannot remove a leftover of an interrupted extraction", "path", filepath.Join(root, n), "err", err)
			}
		}
	}
}

// verify is the quick check of an extracted bin directory: every file of the
// manifest is there, a regular file of the right size, executable.
func verify(bin string, m *Manifest) error {
	for _, f := range m.Files {
		fi, err := os.Lstat(filepath.Join(bin, f.Name))
		if err != nil {
			return err
		}
		switch {
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file", f.Name)
		case fi.Size() != f.Size:
			return fmt.Errorf("%s has %d bytes, want %d", f.Name, fi.Size(), f.Size)
		case fi.Mode().Perm()&0o111 != 0o111:
			return fmt.Errorf("%s is not executable (mode %v)", f.Name, fi.Mode().Perm())
		}
	}
	return nil
}

// install extracts the archive into a temporary directory under root and
// renames it to dir, moving a damaged dir out of the way first.
func install(a *archive, m *Manifest, root, dir string) error {
	tmp, err := os.MkdirTemp(root, tmpPrefix+m.Hash[:12]+"-")
	if err != nil {
		return fmt.Errorf("extracting helper binaries: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := unpack(a, m, filepath.Join(tmp, "bin")); err != nil {
		return err
	}
	if _, err := os.Lstat(dir); err == nil {
		old, err := os.MkdirTemp(root, oldPrefix)
		if err != nil {
			return fmt.Errorf("replacing damaged helper binaries: %w", err)
		}
		if err := os.Rename(dir, filepath.Join(old, "d")); err != nil {
			return fmt.Errorf("replacing damaged helper binaries in %s: %w", dir, err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("installing helper binaries in %s: %w", dir, err)
	}
	return syncDir(root)
}

// unpack writes every file of the archive to bin, checking each against the
// manifest (name, size, SHA-256) and that none is missing.
func unpack(a *archive, m *Manifest, bin string) error {
	if err := os.Mkdir(bin, 0o755); err != nil {
		return fmt.Errorf("extracting helper binaries: %w", err)
	}
	r, err := a.reader(0)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := r.manifest(); err != nil {
		return err
	}
	want := map[string]File{}
	for _, f := range m.Files {
		want[f.Name] = f
	}
	for {
		hdr, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the helper bundle: %w (the archive is damaged: rebuild k3lite)", err)
		}
		f, ok := want[hdr.Name]
		if !ok || hdr.Typeflag != tar.TypeReg || hdr.Size != f.Size {
			return fmt.Errorf("helper bundle entry %q (%d bytes) is not in its manifest: the archive is damaged, rebuild k3lite", hdr.Name, hdr.Size)
		}
		delete(want, hdr.Name)
		if err := writeFile(filepath.Join(bin, f.Name), r, f); err != nil {
			return err
		}
	}
	for name := range want {
		return fmt.Errorf("helper bundle lacks %s listed in its manifest: the archive is damaged, rebuild k3lite", name)
	}
	return syncDir(bin)
}

func writeFile(path string, r io.Reader, f File) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", f.Name, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), io.LimitReader(r, f.Size))
	if err == nil {
		// Durable before the directory is renamed into place: the quick
		// check of a later start looks at sizes only.
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extracting %s: %w (is the disk full?)", f.Name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("extracted %s has sha256 %s, want %s: the archive is damaged, rebuild k3lite", f.Name, got, f.SHA256)
	}
	// The umask may have narrowed the mode given to OpenFile.
	return os.Chmod(path, 0o755)
}

// pointCurrent makes root/current a symlink to hash, atomically (a new link
// renamed over the old one).
func pointCurrent(root, hash string) error {
	link := filepath.Join(root, currentLink)
	if target, err := os.Readlink(link); err == nil && target == hash {
		return nil
	}
	tmp := filepath.Join(root, fmt.Sprintf("%s%d", linkTmp, os.Getpid()))
	_ = os.Remove(tmp)
	if err := os.Symlink(hash, tmp); err != nil {
		return fmt.Errorf("linking %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("linking %s: %w (remove it if it is not a symlink)", link, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
