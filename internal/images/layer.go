package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// epoch is the timestamp of every file, layer and config: fixed, so digests
// depend on content only (the SOURCE_DATE_EPOCH=0 convention).
var epoch = time.Unix(0, 0).UTC()

// entry is one file of a layer.
type entry struct {
	// Path is absolute in the image ("/bin/busybox").
	Path string
	// Mode holds the permission bits, plus fs.ModeDir for a directory or
	// fs.ModeSymlink for a symlink (Link then holds the target).
	Mode fs.FileMode
	Data []byte
	Link string
	// UID and GID own the file (default root).
	UID, GID int
}

func file(p string, perm fs.FileMode, data []byte) entry {
	return entry{Path: p, Mode: perm, Data: data}
}
func dir(p string, perm fs.FileMode) entry { return entry{Path: p, Mode: fs.ModeDir | perm} }
func symlink(p, target string) entry {
	return entry{Path: p, Mode: fs.ModeSymlink | 0o777, Link: target}
}

// hostFile reads a file of the build host into an entry.
func hostFile(p string, perm fs.FileMode, src string) (entry, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return entry{}, fmt.Errorf("reading %s for image file %s: %w", src, p, err)
	}
	return file(p, perm, b), nil
}

// layerTar writes entries as an uncompressed layer tarball: sorted by path,
// parent directories added (0755) where missing, owner root, every time set
// to epoch. The same entries always give the same bytes.
func layerTar(entries []entry) ([]byte, error) {
	byPath := map[string]entry{}
	for _, e := range entries {
		p := path.Clean(e.Path)
		if !path.IsAbs(p) || p == "/" {
			return nil, fmt.Errorf("image file path %q must be absolute and not the root", e.Path)
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("image file %s given twice", p)
		}
		e.Path = p
		byPath[p] = e
	}
	for p := range byPath {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if e, ok := byPath[d]; ok {
				if !e.Mode.IsDir() {
					return nil, fmt.Errorf("image file %s needs %s to be a directory", p, d)
				}
				continue
			}
			byPath[d] = dir(d, 0o755)
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		e := byPath[p]
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    tarMode(e.Mode),
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: epoch,
		}
		switch {
		case e.Mode.IsDir():
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case e.Mode&fs.ModeSymlink != 0:
			h.Typeflag = tar.TypeSymlink
			h.Linkname = e.Link
		case e.Mode.IsRegular():
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.Data))
		default:
			return nil, fmt.Errorf("image file %s: unsupported mode %s", p, e.Mode)
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing layer entry %s: %w", p, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				return nil, fmt.Errorf("writing layer entry %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing layer tarball: %w", err)
	}
	return buf.Bytes(), nil
}

// tarMode converts permission and special bits to the tar header's mode.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// baseRootfs is the minimal root filesystem under busybox: the usual top
// directories (runc creates /proc, /sys, /dev mount points itself, but tools
// and tests expect /tmp, /root, /var) and passwd/group with root and nobody,
// as in upstream's busybox image.
func baseRootfs() []entry {
	return []entry{
		dir("/bin", 0o755), dir("/dev", 0o755), dir("/etc", 0o755), dir("/home", 0o755),
		dir("/proc", 0o555), dir("/root", 0o700), dir("/sys", 0o555),
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		dir("/usr", 0o755), dir("/var", 0o755),
		file("/etc/passwd", 0o644, []byte(passwdBase)),
		file("/etc/group", 0o644, []byte(groupBase)),
	}
}

const (
	passwdBase = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
	groupBase  = "root:x:0:\nnobody:x:65534:\n"
)

// busyboxEntries places the busybox binary at /bin/busybox with one symlink
// per applet in /bin (applets named like a file already there are skipped).
func busyboxEntries(bin []byte, applets []string) []entry {
	es := []entry{file("/bin/busybox", 0o755, bin)}
	seen := map[string]bool{"busybox": true}
	for _, a := range applets {
		a = strings.TrimSpace(a)
		if a == "" || seen[a] || strings.Contains(a, "/") {
			continue
		}
		seen[a] = true
		es = append(es, symlink("/bin/"+a, "busybox"))
	}
	return es
}
