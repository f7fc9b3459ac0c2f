// Package bundle carries k3lite's helper binaries inside k3lite itself, the
// way K3s does: runc, containerd-shim-runc-v2 and the CNI plugins bridge,
// host-local, portmap and loopback are packed at build time into one
// tar + zstd archive (assets/<arch>/helpers.tar.zst, made by
// `make -C distro build`), embedded with //go:embed, and extracted on first
// start to <data-dir>/data/<content-hash>/bin.
//
// The archive's first entry is manifest.json (see Manifest): the content
// hash and each file's name, size and SHA-256. Reading it costs one small
// zstd block, so Contents and a warm Extract never decompress the binaries.
//
// A k3lite built with plain `go build` embeds only a placeholder: it still
// compiles, vets and tests, and Extract fails with ErrNoBundle.
package bundle

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ArchiveName is the archive's file name under assets/<arch>/.
const ArchiveName = "helpers.tar.zst"

// manifestName is the archive's first entry.
const manifestName = "manifest.json"

// hashSchema is mixed into the content hash, so a change of layout never
// reuses a directory extracted by an older k3lite.
const hashSchema = "k3lite-bundle/v1"

// ErrNoBundle is returned when this k3lite was compiled without its helper
// archive (a plain `go build`, as the unit tests do).
var ErrNoBundle = errors.New("this k3lite was built without its helper bundle " +
	"(runc, containerd-shim-runc-v2, CNI plugins): build it with `make -C distro build`")

// File is one helper binary in the bundle.
type File struct {
	// Name is the file name in the bin directory, e.g. "runc".
	Name string `json:"name"`
	// Size is the uncompressed size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the content.
	SHA256 string `json:"sha256"`
}

// Manifest describes an archive's content; it is the archive's first entry.
type Manifest struct {
	// Hash is the content hash (hex SHA-256 over hashSchema and every
	// file's name, size and SHA-256); it names the extraction directory.
	Hash  string `json:"hash"`
	Files []File `json:"files"`
}

// RawSize is the sum of the files' uncompressed sizes.
func (m *Manifest) RawSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// archive is a packed bundle: where to read it and its compressed size.
// The embedded one comes from loadArchive; tests make their own.
type archive struct {
	open func() (io.ReadCloser, error)
	size int64
}

// loadArchive finds ArchiveName in dir of fsys (the embedded assets).
func loadArchive(fsys fs.FS, dir string) (*archive, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w (no helper bundle exists for this architecture: k3lite bundles helpers for amd64 and arm64)", ErrNoBundle)
	}
	name := path.Join(dir, ArchiveName)
	fi, err := fs.Stat(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoBundle
	}
	if err != nil {
		return nil, fmt.Errorf("embedded helper bundle %s: %w", name, err)
	}
	return &archive{
		// embed.FS files read straight from the binary's read-only data:
		// the archive is never copied onto the heap.
		open: func() (io.ReadCloser, error) { return fsys.Open(name) },
		size: fi.Size(),
	}, nil
}

// reader decompresses the archive and walks its tar entries.
type reader struct {
	src io.ReadCloser
	dec *zstd.Decoder
	*tar.Reader
}

func (a *archive) reader(concurrency int) (*reader, error) {
	src, err := a.open()
	if err != nil {
		return nil, fmt.Errorf("opening the helper bundle: %w", err)
	}
	dec, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(concurrency))
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("helper bundle is not zstd-compressed: %w", err)
	}
	return &reader{src: src, dec: dec, Reader: tar.NewReader(dec)}, nil
}

func (r *reader) Close() error {
	r.dec.Close()
	return r.src.Close()
}

// manifest reads the manifest entry, which must come first.
func (r *reader) manifest() (*Manifest, error) {
	hdr, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("reading the helper bundle: %w (the archive is damaged: rebuild k3lite)", err)
	}
	if hdr.Name != manifestName {
		return nil, fmt.Errorf("helper bundle starts with %q, not %s: not a k3lite helper bundle (rebuild k3lite)", hdr.Name, manifestName)
	}
	var m Manifest
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("helper bundle manifest: %w (rebuild k3lite)", err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("helper bundle manifest: %w (rebuild k3lite)", err)
	}
	return &m, nil
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validate checks what Extract relies on: safe, unique file names and a
// hash that matches the listed files.
func (m *Manifest) validate() error {
	if len(m.Files) == 0 {
		return errors.New("lists no files")
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if err := checkName(f.Name); err != nil {
			return err
		}
		if seen[f.Name] {
			return fmt.Errorf("lists %q twice", f.Name)
		}
		seen[f.Name] = true
		if f.Size < 0 || !hexSHA256.MatchString(f.SHA256) {
			return fmt.Errorf("file %q: bad size %d or sha256 %q", f.Name, f.Size, f.SHA256)
		}
	}
	if want := contentHash(m.Files); m.Hash != want {
		return fmt.Errorf("content hash %q does not match its files (%s)", m.Hash, want)
	}
	return nil
}

// checkName accepts plain file names only: an entry can never land outside
// the bin directory.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || name == manifestName ||
		strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("bad file name %q in helper bundle", name)
	}
	return nil
}

// Contents lists the helper binaries in this k3lite's bundle, for reporting.
func Contents() ([]File, error) {
	a, err := embedded()
	if err != nil {
		return nil, err
	}
	m, err := a.readManifest()
	if err != nil {
		return nil, err
	}
	return m.Files, nil
}

// CompressedSize is the size in bytes of the embedded archive, i.e. what the
// helpers add to the k3lite binary.
func CompressedSize() (int64, error) {
	a, err := embedded()
	if err != nil {
		return 0, err
	}
	return a.size, nil
}

func (a *archive) readManifest() (*Manifest, error) {
	r, err := a.reader(1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.manifest()
}
