package images

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"strings"
	"testing"
)

func TestParseAptSimulation(t *testing.T) {
	out := []byte(`NOTE: This is only a simulation!
Reading package lists...
Inst libc6:arm64 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64]) []
Inst debconf (1.5.82 Debian:12.15/oldstable [all])
Inst bind9-host (1:9.18.49-1~deb12u3 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst curl [7.88.1-10] (7.88.1-10+deb12u15 Debian:12.15/oldstable [amd64])
Conf libc6:arm64 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64])
`)
	pkgs, err := parseAptSimulation(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.String())
	}
	want := "bind9-host:amd64 1:9.18.49-1~deb12u3|curl:amd64 7.88.1-10+deb12u15|debconf:all 1.5.82|libc6:arm64 2.36-9+deb12u14"
	if strings.Join(got, "|") != want {
		t.Fatalf("parsed (sorted by name)\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if pkgs[2].fileName() != "debconf_1.5.82_all.deb" || pkgs[0].fileName() != "bind9-host_1%3a9.18.49-1~deb12u3_amd64.deb" {
		t.Errorf("file names %q %q", pkgs[2].fileName(), pkgs[0].fileName())
	}
	if _, err := parseAptSimulation([]byte("Reading package lists...\n")); err == nil {
		t.Error("a simulation that installs nothing was accepted")
	}
	if _, err := parseAptSimulation([]byte("Inst broken line\n")); err == nil || !strings.Contains(err.Error(), "broken line") {
		t.Errorf("unparsable line: err = %v", err)
	}
}

// debTar writes a tar stream as dpkg-deb --fsys-tarfile prints one.
func debTar(t *testing.T, hdrs []*tar.Header, data map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if d, ok := data[h.Name]; ok {
			h.Size = int64(len(d))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if d, ok := data[h.Name]; ok {
			if _, err := tw.Write([]byte(d)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTarEntriesKeepsModesLinksAndDropsDocs(t *testing.T) {
	b := debTar(t, []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4755},
		{Name: "./usr/bin/tool", Typeflag: tar.TypeReg, Mode: 0o755, Uid: 0, Gid: 43},
		{Name: "./usr/bin/tool2", Typeflag: tar.TypeLink, Linkname: "./usr/bin/tool"},
		{Name: "./bin/nc.alias", Typeflag: tar.TypeSymlink, Linkname: "nc.openbsd"},
		{Name: "./usr/share/doc/tool/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./usr/share/doc/tool/copyright", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "./usr/share/doc/tool/changelog.gz", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "./usr/share/man/man1/tool.1.gz", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "./lib/systemd/system/tool.service", Typeflag: tar.TypeReg, Mode: 0o644},
	}, map[string]string{"./usr/bin/su": "SU", "./usr/bin/tool": "TOOL", "./usr/share/doc/tool/copyright": "GPL", "./usr/share/doc/tool/changelog.gz": "x", "./usr/share/man/man1/tool.1.gz": "x", "./lib/systemd/system/tool.service": "x"})
	es, err := tarEntries(bytes.NewReader(b), debDropped)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]entry{}
	var paths []string
	for _, e := range es {
		got[e.Path] = e
		paths = append(paths, e.Path)
	}
	want := "/usr/bin /usr/bin/su /usr/bin/tool /usr/bin/tool2 /bin/nc.alias /usr/share/doc/tool /usr/share/doc/tool/copyright"
	if strings.Join(paths, " ") != want {
		t.Fatalf("paths %q, want %q", strings.Join(paths, " "), want)
	}
	if m := got["/usr/bin/su"].Mode; m != fs.ModeSetuid|0o755 {
		t.Errorf("su mode %v, want setuid 0755", m)
	}
	if e := got["/usr/bin/tool2"]; string(e.Data) != "TOOL" || e.Mode != 0o755 {
		t.Errorf("hard link became %+v, want a copy of tool", e)
	}
	if got["/usr/bin/tool"].GID != 43 {
		t.Error("group owner lost")
	}
	if e := got["/bin/nc.alias"]; e.Mode&fs.ModeSymlink == 0 || e.Link != "nc.openbsd" {
		t.Errorf("symlink became %+v", e)
	}
	if !got["/usr/share/doc/tool"].Mode.IsDir() {
		t.Error("doc dir of the copyright file dropped")
	}
}

func TestTarEntriesRejectsDevicesAndDanglingHardLinks(t *testing.T) {
	for name, h := range map[string]*tar.Header{
		"device":   {Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666},
		"hardlink": {Name: "./usr/bin/a", Typeflag: tar.TypeLink, Linkname: "./usr/bin/b"},
	} {
		if _, err := tarEntries(bytes.NewReader(debTar(t, []*tar.Header{h}, nil)), debDropped); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestOverlayLaterListsWin(t *testing.T) {
	es, err := overlay(
		[]entry{dir("/bin", 0o700), symlink("/bin/nc", "busybox"), file("/etc/passwd", 0o644, []byte("a"))},
		[]entry{dir("/bin", 0o755), file("/bin/nc", 0o755, []byte("ELF")), dir("/usr", 0o755)},
	)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]entry{}
	for _, e := range es {
		got[e.Path] = e
	}
	if len(es) != 4 || got["/bin"].Mode != fs.ModeDir|0o755 || string(got["/bin/nc"].Data) != "ELF" || string(got["/etc/passwd"].Data) != "a" {
		t.Fatalf("overlay = %+v", es)
	}
	if _, err := overlay([]entry{dir("/bin", 0o755)}, []entry{symlink("/bin", "usr/bin")}); err == nil {
		t.Error("a symlink replacing a directory was accepted")
	}
	if _, err := overlay([]entry{file("/a", 0o644, nil), file("/a", 0o644, nil)}); err == nil {
		t.Error("a file twice in one list was accepted")
	}
}

func TestWithoutShadowedAppletsDropsOnlyProvidedCommands(t *testing.T) {
	bb := []entry{dir("/bin", 0o755), file("/bin/busybox", 0o755, nil), symlink("/bin/nc", "busybox"),
		symlink("/bin/ip", "busybox"), symlink("/bin/seq", "busybox"), symlink("/bin/sh", "busybox")}
	debs := []entry{symlink("/bin/nc", "nc.openbsd"), file("/bin/ip", 0o755, nil), symlink("/bin/sh", "bash"),
		file("/usr/share/doc/seq", 0o644, nil), dir("/usr/bin/seq", 0o755)}
	var kept []string
	for _, e := range withoutShadowedApplets(bb, debs) {
		kept = append(kept, e.Path)
	}
	if strings.Join(kept, " ") != "/bin /bin/busybox /bin/seq" {
		t.Fatalf("kept %v, want the busybox binary and seq only", kept)
	}
}

func TestResolvedDebsHashAndSource(t *testing.T) {
	r := resolvedDebs{
		spec: debRootfs{packages: []string{"curl"}, links: map[string]string{"/bin/sh": "bash"}},
		pkgs: []debPackage{{Name: "curl", Arch: "amd64", Version: "7.88.1", SHA256: "aa"}, {Name: "libc6", Arch: "amd64", Version: "2.36", SHA256: "bb"}},
	}
	if s := r.source(); s != "debian curl 7.88.1 (+1 dependencies)" {
		t.Errorf("source %q", s)
	}
	h := r.hash()
	r.pkgs[1].SHA256 = "cc"
	if r.hash() == h {
		t.Error("a changed package checksum does not change the hash")
	}
	h = r.hash()
	r.spec.links["/bin/nc"] = "nc.openbsd"
	if r.hash() == h {
		t.Error("a new link does not change the hash")
	}
}

func TestDebDropped(t *testing.T) {
	for p, want := range map[string]bool{
		"/usr/share/doc/curl":              false,
		"/usr/share/doc/curl/copyright":    false,
		"/usr/share/doc/curl/NEWS.gz":      true,
		"/usr/share/man":                   true,
		"/usr/share/man/man1/curl.1.gz":    true,
		"/usr/share/locale/de/LC_MESSAGES": true,
		"/usr/bin/curl":                    false,
		"/usr/share/nginx/html/index.html": false,
		"/usr/share/mandoc":                false,
	} {
		if got := debDropped(p); got != want {
			t.Errorf("debDropped(%s) = %t, want %t", p, got, want)
		}
	}
}
