package images

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o755); err != nil {
		t.Fatal(err)
	}
}

// packTestImage packs a two-layer image from files of a temp rootfs into
// dir/name and returns the archive's path and the image.
func packTestImage(t *testing.T, dir, arch string) (string, v1.Image) {
	t.Helper()
	rootfs := t.TempDir()
	writeFile(t, filepath.Join(rootfs, "hello"), "#!/bin/sh\necho hello\n")
	writeFile(t, filepath.Join(rootfs, "etc/motd"), "hi\n")
	hello, err := hostFile("/hello", 0o755, filepath.Join(rootfs, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	motd, err := hostFile("/etc/motd", 0o644, filepath.Join(rootfs, "etc/motd"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := layerTar(append(baseRootfs(), motd))
	if err != nil {
		t.Fatal(err)
	}
	top, err := layerTar([]entry{hello})
	if err != nil {
		t.Fatal(err)
	}
	img, err := assemble([]layerSpec{{tar: base, createdBy: "base"}, {tar: top, createdBy: "hello"}},
		imageConfig{arch: arch, entrypoint: []string{"/hello"}, cmd: []string{"world"}, user: "65535:65535", ports: []string{"80/tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag("registry.k8s.io/e2e-test-images/hello:1.0")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "hello.tar")
	if err := writeArchive(path, ref, img); err != nil {
		t.Fatal(err)
	}
	return path, img
}

func TestPackedArchiveLoadsAsDockerArchive(t *testing.T) {
	path, img := packTestImage(t, t.TempDir(), "arm64")
	tag, err := name.NewTag("registry.k8s.io/e2e-test-images/hello:1.0")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("tarball.ImageFromPath: %v", err)
	}
	cf, err := loaded.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" {
		t.Errorf("platform %s/%s, want linux/arm64", cf.OS, cf.Architecture)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/hello"}) || !slices.Equal(cf.Config.Cmd, []string{"world"}) {
		t.Errorf("entrypoint %q cmd %q", cf.Config.Entrypoint, cf.Config.Cmd)
	}
	if cf.Config.User != "65535:65535" || !slices.Contains(cf.Config.Env, defaultPath) {
		t.Errorf("user %q env %q", cf.Config.User, cf.Config.Env)
	}
	if _, ok := cf.Config.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("exposed ports %v lack 80/tcp", cf.Config.ExposedPorts)
	}
	if !cf.Created.Equal(epoch) || len(cf.History) != 2 || !cf.History[1].Created.Equal(epoch) {
		t.Errorf("timestamps not fixed: created %v history %+v", cf.Created, cf.History)
	}
	wantID, _ := img.ConfigName()
	if gotID, _ := loaded.ConfigName(); gotID != wantID {
		t.Errorf("config digest %s, want %s", gotID, wantID)
	}
	layers, err := loaded.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers (err %v), want 2", len(layers), err)
	}
	rc, err := layers[1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if got := readTar(t, b); len(got) != 1 || got[0].hdr.Name != "hello" || got[0].data != "#!/bin/sh\necho hello\n" {
		t.Errorf("top layer %+v, want the hello file", got)
	}
}

// TestPackedArchiveIsAnOCILayoutNamedForContainerd checks what containerd's
// importer reads: oci-layout, index.json naming the image by its full
// reference, and blobs that hash to their names, the manifest's among them.
func TestPackedArchiveIsAnOCILayoutNamedForContainerd(t *testing.T) {
	path, img := packTestImage(t, t.TempDir(), "amd64")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := files[h.Name]; dup {
			t.Errorf("%s stored twice", h.Name)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("archive mode: %v %v, want 0644 (the harness copies it to every node)", fi.Mode(), err)
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", files["oci-layout"])
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	digest, _ := img.Digest()
	if len(idx.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want 1", len(idx.Manifests))
	}
	m := idx.Manifests[0]
	if m.Digest != digest || m.Annotations[annotationContainerdName] != "registry.k8s.io/e2e-test-images/hello:1.0" ||
		m.Annotations[annotationOCIRefName] != "1.0" || m.Platform == nil || m.Platform.Architecture != "amd64" {
		t.Errorf("index.json manifest %+v, want digest %s named registry.k8s.io/e2e-test-images/hello:1.0 for amd64", m, digest)
	}
	blobs := 0
	for n, b := range files {
		if hexName, ok := strings.CutPrefix(n, "blobs/sha256/"); ok && hexName != "" {
			blobs++
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexName {
				t.Errorf("blob %s does not hash to its name", n)
			}
		}
	}
	if blobs != 4 || files["blobs/sha256/"+digest.Hex] == nil {
		t.Errorf("%d blobs (want manifest, config, 2 layers), manifest %s present: %t", blobs, digest, files["blobs/sha256/"+digest.Hex] != nil)
	}
}

func TestPackingIsDeterministic(t *testing.T) {
	p1, img1 := packTestImage(t, t.TempDir(), "amd64")
	p2, img2 := packTestImage(t, t.TempDir(), "amd64")
	d1, _ := img1.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Fatalf("digests differ: %s and %s", d1, d2)
	}
	b1, err := os.ReadFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := os.ReadFile(p2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatal("the same image packed twice gives different archives")
	}
	_, other := packTestImage(t, t.TempDir(), "arm64")
	if d3, _ := other.Digest(); d3 == d1 {
		t.Fatal("amd64 and arm64 images share a digest")
	}
}

func TestCanonicalNameSpellsDockerHubAsContainerdDoes(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/sonobuoy/sonobuoy:v0.57.3":  "docker.io/sonobuoy/sonobuoy:v0.57.3",
		"sonobuoy/sonobuoy:v0.57.3":            "docker.io/sonobuoy/sonobuoy:v0.57.3",
		"index.docker.io/library/busybox:1.37": "docker.io/library/busybox:1.37",
		"registry.k8s.io/pause:3.10.2":         "registry.k8s.io/pause:3.10.2",
	} {
		ref, err := name.NewTag(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := canonicalName(ref); got != want {
			t.Errorf("canonicalName(%s) = %s, want %s", in, got, want)
		}
	}
}
