package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
)

const (
	// criNamespace is the containerd namespace the CRI plugin uses.
	criNamespace = "k8s.io"
	snapshotter  = "overlayfs"
)

// imageLabels mark imported images as CRI-managed and pinned, so the
// kubelet's image garbage collection never removes an image that no
// registry could give back (the values of containerd's internal/cri/labels).
var imageLabels = map[string]string{
	"io.cri-containerd.image":  "managed",
	"io.cri-containerd.pinned": "pinned",
}

// imageArchiveSuffixes are the tarballs imported from D/agent/images:
// docker-archive or OCI layout, plain or compressed (gzip and zstd are
// detected from the content).
var imageArchiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd"}

// importRecord maps a tarball's file name to what was imported from it.
type importRecord map[string]importedFile

type importedFile struct {
	SHA256 string   `json:"sha256"`
	Images []string `json:"images"`
}

// imageArchives lists the tarballs in dir, sorted.
func imageArchives(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		for _, s := range imageArchiveSuffixes {
			if strings.HasSuffix(e.Name(), s) {
				out = append(out, e.Name())
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// importImages imports every image tarball of p.images into containerd's
// k8s.io namespace and unpacks it for overlayfs. A tarball whose SHA-256
// is recorded in p.importedRecord and whose images are all still present is
// skipped.
func importImages(ctx context.Context, socket string, p paths, log *slog.Logger) error {
	files, err := imageArchives(p.images)
	if err != nil || len(files) == 0 {
		if err == nil {
			log.Info("no image tarballs to import", "dir", p.images)
		}
		return err
	}
	start := time.Now()
	record := importRecord{}
	if b, err := os.ReadFile(p.importedRecord); err == nil {
		if err := json.Unmarshal(b, &record); err != nil {
			log.Warn("ignoring unreadable import record", "file", p.importedRecord, "err", err)
			record = importRecord{}
		}
	}

	cl, err := containerd.New(socket, containerd.WithDefaultNamespace(criNamespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("connect to containerd at %s to import images: %w", socket, err)
	}
	defer cl.Close()

	imported, skipped, nImages := 0, 0, 0
	next := importRecord{}
	for _, name := range files {
		file := filepath.Join(p.images, name)
		sum, err := fileSHA256(file)
		if err != nil {
			return fmt.Errorf("image tarball %s: %w", file, err)
		}
		if prev, ok := record[name]; ok && prev.SHA256 == sum && imagesPresent(ctx, cl, prev.Images) {
			next[name] = prev
			skipped++
			continue
		}
		t0 := time.Now()
		names, err := importArchive(ctx, cl, file)
		if err != nil {
			return fmt.Errorf("import image tarball %s: %w (is it a docker-archive or OCI tarball?)", file, err)
		}
		log.Info("imported image tarball", "file", name, "images", names, "took", time.Since(t0).Round(time.Millisecond))
		next[name] = importedFile{SHA256: sum, Images: names}
		imported++
		nImages += len(names)
	}
	b, err := json.MarshalIndent(next, "", "  ")
	if err == nil {
		err = writeIfChanged(p.importedRecord, append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("write image import record: %w", err)
	}
	log.Info("image tarballs imported", "imported", imported, "images", nImages, "skipped", skipped, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func importArchive(ctx context.Context, cl *containerd.Client, file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := compression.DecompressStream(f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return importStream(ctx, cl, r)
}

// importStream imports the docker-archive or OCI layout tar r holds for
// this platform, pinned, and unpacks it for overlayfs.
func importStream(ctx context.Context, cl *containerd.Client, r io.Reader) ([]string, error) {
	ctx, done, err := cl.WithLease(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = done(context.WithoutCancel(ctx)) }()

	platform := platforms.Default()
	imgs, err := cl.Import(ctx, r,
		containerd.WithImportPlatform(platform),
		containerd.WithImageLabels(imageLabels),
		// An image without a name is kept by its digest.
		containerd.WithDigestRef(func(d digest.Digest) string { return "import-" + d.Encoded() }),
		containerd.WithSkipDigestRef(func(name string) bool { return name != "" }),
	)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		if err := containerd.NewImageWithPlatform(cl, img, platform).Unpack(ctx, snapshotter); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	if len(names) == 0 {
		return nil, errors.New("no image for this platform in the tarball")
	}
	return names, nil
}

func imagesPresent(ctx context.Context, cl *containerd.Client, names []string) bool {
	if len(names) == 0 {
		return false
	}
	for _, n := range names {
		img, err := cl.GetImage(ctx, n)
		if err != nil {
			return false
		}
		ok, err := img.IsUnpacked(ctx, snapshotter)
		if err != nil || !ok {
			return false
		}
	}
	return true
}

func fileSHA256(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
