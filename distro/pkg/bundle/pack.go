package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Compression names the archive's compression in reports: the best level of
// github.com/klauspost/compress/zstd (about zstd -11 in ratio) with a
// window of WindowSize.
const Compression = "zstd-best"

// WindowSize is the zstd window of the archive. The helpers are all Go
// programs and share much of their code (runtime, syscall, netlink), so a
// window spanning several of them finds those repeats across files: measured
// on the real amd64 helpers (40.9 MB), 12.1 MB with the default 8 MiB
// window, 9.7 MB with 32 MiB (64 MiB gains nothing more). Extraction needs
// this much memory once, briefly.
const WindowSize = 32 << 20

// contentHash is the hash that names the extraction directory.
func contentHash(files []File) string {
	h := sha256.New()
	fmt.Fprintln(h, hashSchema)
	for _, f := range files {
		fmt.Fprintf(h, "%s %d %s\n", f.Name, f.Size, f.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Pack writes the archive of the files at paths to w: manifest.json first,
// then each file under its base name, sorted by name. Headers carry no
// times or owners, so the same files always give the same bytes (and the
// same k3lite binary).
func Pack(w io.Writer, paths []string) (*Manifest, error) {
	m := &Manifest{}
	byName := map[string]string{}
	for _, p := range paths {
		name := filepath.Base(p)
		if err := checkName(name); err != nil {
			return nil, err
		}
		if prev, dup := byName[name]; dup {
			return nil, fmt.Errorf("%s and %s have the same name in the bundle", prev, p)
		}
		byName[name] = p
		f, err := hashFile(p)
		if err != nil {
			return nil, err
		}
		f.Name = name
		m.Files = append(m.Files, f)
	}
	if len(m.Files) == 0 {
		return nil, fmt.Errorf("no files to pack")
	}
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	m.Hash = contentHash(m.Files)

	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(WindowSize))
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(enc)
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeEntry(tw, manifestName, 0o644, int64(len(mb)), strings.NewReader(string(mb))); err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		if err := packFile(tw, byName[f.Name], f); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing the helper bundle: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("compressing the helper bundle: %w", err)
	}
	return m, nil
}

func hashFile(p string) (File, error) {
	fh, err := os.Open(p)
	if err != nil {
		return File{}, fmt.Errorf("helper to bundle: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return File{}, err
	}
	if !fi.Mode().IsRegular() {
		return File{}, fmt.Errorf("helper to bundle %s is not a regular file", p)
	}
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return File{}, fmt.Errorf("reading helper %s: %w", p, err)
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// packFile copies one helper into tw, failing if it changed since it was
// hashed (the manifest would lie).
func packFile(tw *tar.Writer, p string, f File) error {
	fh, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("helper to bundle: %w", err)
	}
	defer fh.Close()
	h := sha256.New()
	if err := writeEntry(tw, f.Name, 0o755, f.Size, io.TeeReader(fh, h)); err != nil {
		return fmt.Errorf("packing %s: %w", p, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("helper %s changed while it was packed: pack again", p)
	}
	return nil
}

func writeEntry(tw *tar.Writer, name string, mode, size int64, r io.Reader) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     mode,
		Size:     size,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(r, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: wrote %d of %d bytes (file shrank)", name, n, size)
	}
	return nil
}
