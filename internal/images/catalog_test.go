package images

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestCatalogHasTheFixedNames(t *testing.T) {
	want := map[string]string{
		PauseName:   "sandbox",
		CoreDNSName: "addon coredns",
		BusyboxName: "tests",
		AgnhostName: "tests",
		// The upstream [Conformance] specs' images (catalog_e2e.go).
		AgnhostPrevName: "tests", NginxName: "tests", GlibcDNSTestingName: "tests",
		SampleAPIServerName: "tests", EtcdName: "tests", NautilusName: "tests",
		KittenName: "tests", NonewprivsName: "tests",
	}
	for _, s := range sonobuoyRecipes { // another part of the catalog, checked by its own tests
		want[s.spec.Name] = ""
		if len(s.spec.UsedBy) > 0 {
			want[s.spec.Name] = s.spec.UsedBy[0]
		}
	}
	specs := List()
	if len(specs) != len(want) {
		t.Fatalf("catalog has %d images, want %d: %+v", len(specs), len(want), specs)
	}
	files, shorts := map[string]bool{}, map[string]bool{}
	for _, s := range specs {
		use, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected image %q in the catalog", s.Name)
			continue
		}
		if len(s.UsedBy) == 0 || s.UsedBy[0] != use {
			t.Errorf("%s: UsedBy = %v, want %q", s.Name, s.UsedBy, use)
		}
		if !strings.HasSuffix(s.File, ".tar") || files[s.File] {
			t.Errorf("%s: archive file %q is not a unique .tar name", s.Name, s.File)
		}
		files[s.File] = true
		if s.Short == "" || shorts[s.Short] {
			t.Errorf("%s: short name %q empty or not unique", s.Name, s.Short)
		}
		shorts[s.Short] = true
		if len(s.Kinds) == 0 || s.Source == "" {
			t.Errorf("%s: no source kinds or description", s.Name)
		}
	}
}

func TestListReturnsCopies(t *testing.T) {
	l := List()
	l[0].UsedBy[0] = "changed"
	l[0].Name = "changed"
	if got := List()[0]; got.Name == "changed" || got.UsedBy[0] == "changed" {
		t.Fatalf("List exposes the catalog itself: %+v", got)
	}
}

func TestSelectRecipesByShortOrFullNameInCatalogOrder(t *testing.T) {
	rs, err := selectRecipes([]string{"agnhost", PauseName})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].spec.Name != PauseName || rs[1].spec.Name != AgnhostName {
		t.Fatalf("selected %v, want pause then agnhost", []string{rs[0].spec.Name, rs[1].spec.Name})
	}
	all, err := selectRecipes(nil)
	if err != nil || len(all) != len(List()) {
		t.Fatalf("no names selected %d images (err %v), want all %d", len(all), err, len(List()))
	}
}

func TestSelectRecipesUnknownNameListsValidOnes(t *testing.T) {
	_, err := selectRecipes([]string{"nope"})
	if err == nil {
		t.Fatal("unknown image accepted")
	}
	for _, s := range []string{`"nope"`, "pause", "coredns", "busybox", "agnhost", "nginx", "etcd"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

func TestRecipesRunWhatTheyPack(t *testing.T) {
	for _, r := range recipes {
		// The entrypoint (or, without one, the command) must be a file the
		// image holds: a Go binary of the recipe, or a busybox applet.
		prog := ""
		switch {
		case len(r.entrypoint) > 0:
			prog = r.entrypoint[0]
		case len(r.cmd) > 0:
			prog = r.cmd[0]
		default:
			t.Errorf("%s: neither entrypoint nor command", r.spec.Name)
			continue
		}
		// A command name (no slash) is looked up in PATH: a busybox applet
		// or a Debian package's command, or a program the recipe puts in a
		// PATH directory.
		found := (r.busybox || !r.debian.empty()) && !strings.HasPrefix(prog, "/")
		for _, b := range r.bins {
			found = found || b.path == prog || b.path == "/usr/local/bin/"+prog
		}
		for _, f := range r.files {
			found = found || f.path == prog
		}
		if !found {
			t.Errorf("%s runs %q, which the image does not hold", r.spec.Name, prog)
		}
	}
}

func TestConformanceImagesHaveTheirKeyContent(t *testing.T) {
	byName := map[string]recipe{}
	for _, r := range recipes {
		byName[r.spec.Name] = r
	}
	// nonewprivs: `chmod +s` on nnp, run by name.
	nnp := byName[NonewprivsName]
	if len(nnp.bins) != 1 || nnp.bins[0].path != "/usr/local/bin/nnp" || nnp.bins[0].perm() != fs.ModeSetuid|fs.ModeSetgid|0o755 || nnp.cmd[0] != "nnp" {
		t.Errorf("nonewprivs: %+v", nnp.bins)
	}
	// The Aggregator spec runs /usr/local/bin/etcd.
	if e := byName[EtcdName]; len(e.bins) != 1 || e.bins[0].path != "/usr/local/bin/etcd" {
		t.Errorf("etcd: %+v", e.bins)
	}
	// agnhost 2.55 must differ from 2.66.1.
	if p, c := byName[AgnhostPrevName].bins[0].xflags, byName[AgnhostName].bins[0].xflags; strings.Join(p, " ") == strings.Join(c, " ") {
		t.Errorf("agnhost 2.55 built like 2.66.1: %q", p)
	}
	for _, n := range []string{AgnhostName, AgnhostPrevName, NautilusName, KittenName, NginxName, GlibcDNSTestingName} {
		r := byName[n]
		if r.debian.links["/bin/sh"] != "bash" || !slices.Contains(r.debian.packages, "bash") {
			t.Errorf("%s: /bin/sh is not Debian's bash (the shell these images were validated with)", n)
		}
	}
	for _, tool := range []string{"bind9-dnsutils", "curl", "netcat-openbsd", "iproute2", "socat", "libc-bin"} {
		if !slices.Contains(byName[AgnhostName].debian.packages, tool) {
			t.Errorf("agnhost lacks %s", tool)
		}
	}
	if byName[NautilusName].cmd[0] != "test-webserver" || byName[KittenName].cmd[0] != "test-webserver" {
		t.Error("nautilus/kitten do not serve their files")
	}
	if !strings.Contains(nginxConf, "listen 80;") || !strings.Contains(nginxConf, "root /usr/share/nginx/html;") {
		t.Error("nginx does not serve /usr/share/nginx/html on :80")
	}
}

func TestNautilusAndKittenCarryTheirImageFiles(t *testing.T) {
	mod := t.TempDir()
	writeFile(t, mod+"/agnhost/porter/localhost.crt", "CRT")
	writeFile(t, mod+"/agnhost/porter/localhost.key", "KEY")
	writeFile(t, mod+"/kitten/html/kitten.jpg", "JPG")
	writeFile(t, mod+"/kitten/html/data.json", `{"image": "kitten.jpg"}`)
	var r recipe
	for _, x := range recipes {
		if x.spec.Name == KittenName {
			r = x
		}
	}
	es, err := r.extra([]string{mod + "/agnhost"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range es {
		got[e.Path] = string(e.Data)
	}
	if got["/kitten.jpg"] != "JPG" || !strings.Contains(got["/data.json"], "kitten.jpg") || got["/localhost.crt"] != "CRT" {
		t.Errorf("kitten files: %v", got)
	}
}
