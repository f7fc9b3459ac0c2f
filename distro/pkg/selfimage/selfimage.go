// Package selfimage writes k3lite as a container image: an OCI image
// layout, as a tar stream containerd imports, holding one uncompressed
// layer with the binary at /usr/local/bin/k3lite. The RKE2-style control
// plane runs its static pods from this image, so each component is a
// container of the very binary the server runs, built from the same
// source, without a registry or a file on disk: the server streams the
// image into its own containerd (see pkg/agent).
package selfimage

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BinaryPath is where the binary sits in the image; containers run it as
// their entrypoint, with the component as the first argument.
const BinaryPath = "/usr/local/bin/k3lite"

// Repository is the image's name; Ref adds the tag.
const Repository = "k3lite.local/k3lite"

// epoch dates every file and the image, so that one binary always makes
// the same image, digest for digest.
var epoch = time.Unix(0, 0).UTC()

// Ref is the image reference of binary bin of version v: the tag carries
// the version and the first 12 hex digits of the binary's SHA-256, so a
// rebuilt binary is a new image and an unchanged one is imported once.
func Ref(bin, version string) (string, error) {
	f, err := os.Open(bin)
	if err != nil {
		return "", fmt.Errorf("self image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("self image: hash %s: %w", bin, err)
	}
	return fmt.Sprintf("%s:%s-%s", Repository, tagSafe(version), hex.EncodeToString(h.Sum(nil))[:12]), nil
}

// tagSafe keeps the characters a tag may hold ([A-Za-z0-9_.-]) and turns
// the others (the "+" of a build suffix) into "-".
func tagSafe(v string) string {
	b := []byte(v)
	for i, c := range b {
		ok := c == '_' || c == '.' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			b[i] = '-'
		}
	}
	if len(b) > 0 && (b[0] == '.' || b[0] == '-') {
		b = append([]byte("v"), b...)
	}
	return string(b)
}

// Write writes to w the OCI image layout tar of the image ref holding the
// binary bin, for GOARCH arch (linux).
func Write(w io.Writer, bin, ref, arch string) error {
	info, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("self image: %w", err)
	}
	// The layer's digest and size head the manifest, which comes first:
	// the layer is written twice, once into a hash and once for real.
	h := sha256.New()
	sum := &counter{w: h}
	if err := writeLayer(sum, bin, info.Size()); err != nil {
		return err
	}
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer,
		Digest: digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), Size: sum.n}
	config, err := json.Marshal(imageConfig(arch, layer.Digest))
	if err != nil {
		return err
	}
	configDesc := blobOf(ocispec.MediaTypeImageConfig, config)
	manifest, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest, Config: configDesc, Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		return err
	}
	manifestDesc := blobOf(ocispec.MediaTypeImageManifest, manifest)
	manifestDesc.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
	manifestDesc.Annotations = map[string]string{
		// containerd names the image from the first, other tools from the
		// second (its tag only, per the image-layout spec).
		"io.containerd.image.name": ref,
		ocispec.AnnotationRefName:  tagOf(ref),
	}
	index, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{manifestDesc}})
	if err != nil {
		return err
	}
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return err
	}
	return writeLayout(w, layout, index, []blob{{configDesc, config}, {manifestDesc, manifest}}, layer, bin, info.Size())
}

// blob is a small blob held in memory with its descriptor.
type blob struct {
	desc ocispec.Descriptor
	data []byte
}

func blobOf(mediaType string, b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// writeLayout writes the layout tar: oci-layout, index.json, the small
// blobs, then the layer, streamed from the binary.
func writeLayout(w io.Writer, layout, index []byte, blobs []blob, layer ocispec.Descriptor, bin string, size int64) error {
	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{{ocispec.ImageLayoutFile, layout}, {ocispec.ImageIndexFile, index}} {
		if err := writeFile(tw, f.name, 0o644, f.data); err != nil {
			return err
		}
	}
	if err := writeDir(tw, "blobs/"); err != nil {
		return err
	}
	if err := writeDir(tw, "blobs/sha256/"); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := writeFile(tw, blobPath(b.desc.Digest), 0o644, b.data); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(fileHeader(blobPath(layer.Digest), 0o644, layer.Size)); err != nil {
		return err
	}
	lw := &counter{w: tw}
	if err := writeLayer(lw, bin, size); err != nil {
		return err
	}
	if lw.n != layer.Size {
		return fmt.Errorf("self image: %s changed while it was written (%d bytes of layer, then %d)", bin, layer.Size, lw.n)
	}
	return tw.Close()
}

func blobPath(d digest.Digest) string { return path.Join("blobs", d.Algorithm().String(), d.Encoded()) }

// writeLayer writes the layer tar: /etc/passwd (root only), /tmp (1777)
// and the binary, 0755, at BinaryPath.
func writeLayer(w io.Writer, bin string, size int64) error {
	tw := tar.NewWriter(w)
	for _, d := range []string{"etc/", "tmp/", "usr/", "usr/local/", "usr/local/bin/"} {
		if err := writeDir(tw, d); err != nil {
			return err
		}
	}
	if err := writeFile(tw, "etc/passwd", 0o644, []byte("root:x:0:0:root:/:/usr/local/bin/k3lite\n")); err != nil {
		return err
	}
	f, err := os.Open(bin)
	if err != nil {
		return fmt.Errorf("self image: %w", err)
	}
	defer f.Close()
	if err := tw.WriteHeader(fileHeader(BinaryPath[1:], 0o755, size)); err != nil {
		return err
	}
	if n, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("self image: copy %s: %w", bin, err)
	} else if n != size {
		return fmt.Errorf("self image: %s is %d bytes, was %d: it changed while it was written", bin, n, size)
	}
	return tw.Close()
}

func writeDir(tw *tar.Writer, name string) error {
	mode := int64(0o755)
	if name == "tmp/" {
		mode = 0o1777
	}
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: epoch, Format: tar.FormatPAX})
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	if err := tw.WriteHeader(fileHeader(name, mode, int64(len(data)))); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func fileHeader(name string, mode, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatPAX}
}

// imageConfig is the image's configuration: linux/arch, the binary as the
// entrypoint, root, and the one layer's diff ID (its digest: it is not
// compressed).
func imageConfig(arch string, layer digest.Digest) ocispec.Image {
	created := epoch
	return ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: arch},
		Config: ocispec.ImageConfig{
			Entrypoint: []string{BinaryPath},
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			User:       "0:0",
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer}},
	}
}

// tagOf is the tag of ref ("latest" without one).
func tagOf(ref string) string {
	for i := len(ref) - 1; i >= 0 && ref[i] != '/'; i-- {
		if ref[i] == ':' {
			return ref[i+1:]
		}
	}
	return "latest"
}

// counter counts the bytes it passes on to w.
type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
