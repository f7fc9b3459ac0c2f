package selfimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeBinary writes 1 KiB of bytes that stand for the k3lite binary.
func fakeBinary(t *testing.T) (string, []byte) {
	t.Helper()
	data := bytes.Repeat([]byte("k3lite\x00"), 147)[:1024]
	bin := filepath.Join(t.TempDir(), "k3lite")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, data
}

// readTar returns the regular files of a tar stream by name, and the
// modes of every entry.
func readTar(t *testing.T, r io.Reader) (files map[string][]byte, modes map[string]int64) {
	t.Helper()
	files, modes = map[string][]byte{}, map[string]int64{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, modes
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[h.Name] = h.Mode
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
}

// blobAt returns the blob of d from the layout, checking its digest and size.
func blobAt(t *testing.T, files map[string][]byte, d ocispec.Descriptor) []byte {
	t.Helper()
	b, ok := files["blobs/sha256/"+d.Digest.Encoded()]
	if !ok {
		t.Fatalf("no blob %s in the layout", d.Digest)
	}
	if digest.FromBytes(b) != d.Digest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: %d bytes digesting to %s, want %d bytes", d.Digest, len(b), digest.FromBytes(b), d.Size)
	}
	return b
}

func TestWriteIsAnOCILayoutOfTheBinary(t *testing.T) {
	bin, data := fakeBinary(t)
	const ref = Repository + ":v1.37.2-k3lite1-0123456789ab"
	var out bytes.Buffer
	if err := Write(&out, bin, ref, "arm64"); err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, bytes.NewReader(out.Bytes()))
	if !bytes.Contains(files[ocispec.ImageLayoutFile], []byte(`"imageLayoutVersion":"1.0.0"`)) {
		t.Errorf("oci-layout %q", files[ocispec.ImageLayoutFile])
	}
	var index ocispec.Index
	if err := json.Unmarshal(files[ocispec.ImageIndexFile], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json %s: %v", files[ocispec.ImageIndexFile], err)
	}
	md := index.Manifests[0]
	if md.Annotations["io.containerd.image.name"] != ref || md.Annotations[ocispec.AnnotationRefName] != "v1.37.2-k3lite1-0123456789ab" ||
		md.Platform == nil || md.Platform.Architecture != "arm64" {
		t.Errorf("manifest descriptor %+v: want the ref, its tag and linux/arm64", md)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(blobAt(t, files, md), &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("manifest: %v %+v", err, manifest)
	}
	var config ocispec.Image
	if err := json.Unmarshal(blobAt(t, files, manifest.Config), &config); err != nil {
		t.Fatal(err)
	}
	if config.Architecture != "arm64" || config.OS != "linux" || len(config.Config.Entrypoint) != 1 || config.Config.Entrypoint[0] != BinaryPath ||
		len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != manifest.Layers[0].Digest {
		t.Errorf("config %+v: want linux/arm64, the binary as entrypoint, the layer's digest as its diff ID", config)
	}
	layer, modes := readTar(t, bytes.NewReader(blobAt(t, files, manifest.Layers[0])))
	if !bytes.Equal(layer[BinaryPath[1:]], data) || modes[BinaryPath[1:]] != 0o755 {
		t.Errorf("the layer's %s: %d bytes mode %o, want the binary's %d bytes, 0755", BinaryPath, len(layer[BinaryPath[1:]]), modes[BinaryPath[1:]], len(data))
	}
	if modes["tmp/"] != 0o1777 || len(layer["etc/passwd"]) == 0 {
		t.Errorf("the layer's /tmp mode %o and /etc/passwd %q", modes["tmp/"], layer["etc/passwd"])
	}
	var again bytes.Buffer
	if err := Write(&again, bin, ref, "arm64"); err != nil || !bytes.Equal(out.Bytes(), again.Bytes()) {
		t.Errorf("a second image of the same binary differs (err %v): the image must be reproducible", err)
	}
}

func TestWriteMissingBinary(t *testing.T) {
	err := Write(io.Discard, filepath.Join(t.TempDir(), "none"), Repository+":x", "amd64")
	if err == nil || !regexp.MustCompile(`self image: .*no such file`).MatchString(err.Error()) {
		t.Errorf("Write of a missing binary: %v", err)
	}
}

func TestRef(t *testing.T) {
	bin, data := fakeBinary(t)
	ref, err := Ref(bin, "v1.37.2+k3lite1")
	if err != nil {
		t.Fatal(err)
	}
	want := Repository + ":v1.37.2-k3lite1-" + digest.FromBytes(data).Encoded()[:12]
	if ref != want {
		t.Errorf("Ref = %q, want %q", ref, want)
	}
	if got := tagOf(Repository + ":tag"); got != "tag" {
		t.Errorf("tagOf = %q", got)
	}
	if got := tagOf("localhost:5000/k3lite"); got != "latest" {
		t.Errorf("tagOf of a ref with a registry port and no tag = %q, want latest", got)
	}
}
