package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerSpec is one layer to pack: its uncompressed tarball and the history
// line that says what it holds.
type layerSpec struct {
	tar       []byte
	createdBy string
}

// imageConfig is the runtime configuration of an image.
type imageConfig struct {
	arch       string
	entrypoint []string
	cmd        []string
	env        []string // after PATH
	user       string
	ports      []string
	stopSignal string
}

// assemble packs layers and config into an OCI image for linux/<arch>,
// gzip-compressed layers, every timestamp at epoch.
func assemble(layers []layerSpec, c imageConfig) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range layers {
		data := l.tar
		layer, err := tarball.LayerFromOpener(
			func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
			tarball.WithMediaType(types.OCILayer),
			tarball.WithCompressionLevel(gzip.DefaultCompression),
			tarball.WithCompressedCaching,
		)
		if err != nil {
			return nil, fmt.Errorf("packing layer %q: %w", l.createdBy, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     layer,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: l.createdBy, Comment: "distrobench images"},
		})
		if err != nil {
			return nil, fmt.Errorf("appending layer %q: %w", l.createdBy, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = c.arch
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = c.entrypoint
	cf.Config.Cmd = c.cmd
	cf.Config.Env = append([]string{defaultPath}, c.env...)
	cf.Config.StopSignal = c.stopSignal
	cf.Config.User = c.user
	cf.Config.WorkingDir = "/"
	if len(c.ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range c.ports {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting image config: %w", err)
	}
	return img, nil
}

// Annotations that name an image inside an OCI layout. containerd names an
// imported image after the first (its full reference) and keeps the
// manifest's digest as is.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationOCIRefName     = "org.opencontainers.image.ref.name"
)

// writeArchive writes img, tagged ref, to path (atomically: a temp file in
// the same directory, renamed) as one tarball that is at once an OCI image
// layout (oci-layout, index.json, blobs/sha256/...) and a docker-archive
// (manifest.json with RepoTags, pointing at the same blobs), as `docker save`
// writes since Docker 25.
//
// Written here rather than with go-containerregistry's tarball.Write (a
// docker-archive only) or layout.Write (a directory, not a tarball):
// containerd re-creates the manifest when it imports a docker-archive, so the
// digest it shows would not be the one we computed, while from an OCI layout
// it keeps ours; docker-archive readers (docker load, tarball.ImageFromPath,
// older tools) still find manifest.json. Entries are in a fixed order with
// fixed times, so the file is deterministic too.
func writeArchive(path string, ref name.Tag, img v1.Image) (err error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("image manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image digest: %w", err)
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return fmt.Errorf("image media type: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("image config digest: %w", err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("image config: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("image layers: %w", err)
	}

	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: mediaType,
			Size:      int64(len(rawManifest)),
			Digest:    digest,
			Annotations: map[string]string{
				annotationContainerdName: canonicalName(ref),
				annotationOCIRefName:     ref.TagStr(),
			},
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
		}},
	}
	rawIndex, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encoding index.json: %w", err)
	}
	blobPath := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
	dockerManifest := []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{Config: blobPath(cfgName), RepoTags: []string{canonicalName(ref)}}}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("layer digest: %w", err)
		}
		dockerManifest[0].Layers = append(dockerManifest[0].Layers, blobPath(d))
	}
	rawDocker, err := json.Marshal(dockerManifest)
	if err != nil {
		return fmt.Errorf("encoding manifest.json: %w", err)
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating image output directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating image archive: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	tw := tar.NewWriter(f)
	writeDir := func(n string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n, Mode: 0o755, ModTime: epoch})
	}
	writeBytes := func(n string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(b)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	steps := []func() error{
		func() error { return writeBytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)) },
		func() error { return writeDir("blobs/") },
		func() error { return writeDir("blobs/sha256/") },
		func() error { return writeBytes(blobPath(digest), rawManifest) },
		func() error { return writeBytes(blobPath(cfgName), rawConfig) },
	}
	written := map[v1.Hash]bool{digest: true, cfgName: true}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("layer digest: %w", err)
		}
		if !written[d] { // the same layer twice is stored once
			written[d] = true
			steps = append(steps, func() error { return writeLayer(tw, l, blobPath) })
		}
	}
	steps = append(steps,
		func() error { return writeBytes("index.json", rawIndex) },
		func() error { return writeBytes("manifest.json", rawDocker) },
		tw.Close,
		func() error { return f.Chmod(0o644) }, // CreateTemp makes 0600
		f.Sync,
		f.Close,
	)
	for _, s := range steps {
		if err = s(); err != nil {
			return fmt.Errorf("writing image archive %s: %w", path, err)
		}
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing image archive %s: %w", path, err)
	}
	return nil
}

// writeLayer copies one compressed layer blob into the archive.
func writeLayer(tw *tar.Writer, l v1.Layer, blobPath func(v1.Hash) string) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: blobPath(d), Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, rc); err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	return nil
}

// canonicalName is the reference as containerd and the kubelet spell it:
// go-containerregistry names Docker Hub "index.docker.io", but the CRI
// normalizes "sonobuoy/sonobuoy:v0.57.3" to "docker.io/sonobuoy/sonobuoy:v0.57.3"
// and would not find an image imported under the other spelling.
func canonicalName(ref name.Tag) string {
	if ref.RegistryStr() == name.DefaultRegistry {
		return "docker.io/" + ref.RepositoryStr() + ":" + ref.TagStr()
	}
	return ref.Name()
}
