package images

import (
	"strings"
	"testing"
)

func TestCatalogHasTheFixedNames(t *testing.T) {
	want := map[string]string{
		PauseName:   "sandbox",
		CoreDNSName: "addon coredns",
		BusyboxName: "tests",
		AgnhostName: "tests",
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
	_, err := selectRecipes([]string{"nginx"})
	if err == nil {
		t.Fatal("unknown image accepted")
	}
	for _, s := range []string{`"nginx"`, "pause", "coredns", "busybox", "agnhost"} {
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
		found := r.busybox && !strings.HasPrefix(prog, "/")
		for _, b := range r.bins {
			found = found || b.path == prog
		}
		if !found {
			t.Errorf("%s runs %q, which the image does not hold", r.spec.Name, prog)
		}
	}
}
