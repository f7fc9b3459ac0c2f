package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
)

type tarEntry struct {
	hdr  *tar.Header
	data string
}

func readTar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		d, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{h, string(d)})
	}
}

func TestLayerTarIsSortedWithParentsAndFixedTimes(t *testing.T) {
	es := []entry{
		file("/usr/bin/tool", 0o755, []byte("#!tool")),
		symlink("/bin/sh", "busybox"),
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/home/u", Mode: fs.ModeDir | 0o700, UID: 1000, GID: 1000},
	}
	b, err := layerTar(es)
	if err != nil {
		t.Fatal(err)
	}
	got := readTar(t, b)
	var names []string
	for _, e := range got {
		names = append(names, e.hdr.Name)
		if !e.hdr.ModTime.Equal(epoch) {
			t.Errorf("%s: mtime %v, want %v", e.hdr.Name, e.hdr.ModTime, epoch)
		}
	}
	want := "bin/ bin/sh home/ home/u/ tmp/ usr/ usr/bin/ usr/bin/tool"
	if strings.Join(names, " ") != want {
		t.Fatalf("entries %q, want %q", strings.Join(names, " "), want)
	}
	for _, e := range got {
		switch e.hdr.Name {
		case "bin/sh":
			if e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "busybox" {
				t.Errorf("bin/sh: %+v, want a symlink to busybox", e.hdr)
			}
		case "tmp/":
			if e.hdr.Mode != 0o1777 {
				t.Errorf("tmp mode %o, want 1777", e.hdr.Mode)
			}
		case "home/u/":
			if e.hdr.Uid != 1000 || e.hdr.Gid != 1000 || e.hdr.Mode != 0o700 {
				t.Errorf("home/u: uid %d gid %d mode %o", e.hdr.Uid, e.hdr.Gid, e.hdr.Mode)
			}
		case "usr/bin/tool":
			if e.data != "#!tool" || e.hdr.Mode != 0o755 {
				t.Errorf("usr/bin/tool: mode %o data %q", e.hdr.Mode, e.data)
			}
		case "usr/":
			if e.hdr.Typeflag != tar.TypeDir || e.hdr.Mode != 0o755 {
				t.Errorf("added parent usr/: %+v", e.hdr)
			}
		}
	}

	// The same files in another order give the same bytes.
	rev := append([]entry(nil), es...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b2, err := layerTar(rev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatal("layer bytes depend on the order of the entries")
	}
}

func TestLayerTarRejectsBadEntries(t *testing.T) {
	for name, es := range map[string][]entry{
		"relative":       {file("etc/passwd", 0o644, nil)},
		"root":           {dir("/", 0o755)},
		"duplicate":      {file("/a", 0o644, nil), file("/a/", 0o644, nil)},
		"file as parent": {file("/a", 0o644, nil), file("/a/b", 0o644, nil)},
	} {
		if _, err := layerTar(es); err == nil {
			t.Errorf("%s: accepted %+v", name, es)
		}
	}
}

func TestBusyboxEntriesLinkEachAppletOnce(t *testing.T) {
	es := busyboxEntries([]byte("ELF"), []string{"sh", "ls", "sh", "busybox", "", "odd/name"})
	var links []string
	for _, e := range es {
		if e.Mode&fs.ModeSymlink != 0 {
			if e.Link != "busybox" {
				t.Errorf("%s links to %q", e.Path, e.Link)
			}
			links = append(links, e.Path)
		}
	}
	if strings.Join(links, " ") != "/bin/sh /bin/ls" {
		t.Fatalf("links %v, want /bin/sh /bin/ls", links)
	}
	if es[0].Path != "/bin/busybox" || string(es[0].Data) != "ELF" || es[0].Mode != 0o755 {
		t.Fatalf("first entry %+v, want /bin/busybox 0755", es[0])
	}
}

func TestAgnhostExtrasDefineTheUserAndGroupTheSuitesExpect(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/porter/localhost.crt", "CRT")
	writeFile(t, dir+"/porter/localhost.key", "KEY")
	es, err := agnhostExtras([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]entry{}
	for _, e := range es {
		files[e.Path] = e
	}
	if string(files["/localhost.crt"].Data) != "CRT" || string(files["/localhost.key"].Data) != "KEY" {
		t.Error("porter certificate not copied from the agnhost source")
	}
	if files["/agnhost-2"].Link != "agnhost" {
		t.Error("no /agnhost-2 -> agnhost alias")
	}
	if !strings.Contains(string(files["/etc/passwd"].Data), "user-defined-in-image:x:1000:") ||
		!strings.Contains(string(files["/etc/group"].Data), "group-defined-in-image:x:50000:user-defined-in-image") {
		t.Errorf("passwd/group lack the e2e user and group:\n%s\n%s", files["/etc/passwd"].Data, files["/etc/group"].Data)
	}
	if _, err := agnhostExtras([]string{t.TempDir()}); err == nil {
		t.Error("missing porter certificate not reported")
	}
}
