// Package images builds the container images a k3lite cluster needs without
// any registry: the pause (sandbox) image, CoreDNS, the busybox and agnhost
// images the test suites run, every other image the upstream [Conformance]
// specs run (catalog_e2e.go) and sonobuoy's (catalog_sonobuoy.go). Each is
// built from sources this machine can reach (Go modules, Debian packages with
// their dependency closure, busybox from its upstream source tarball, files
// other make targets built), packed with go-containerregistry into an image
// archive that containerd imports (`ctr -n k8s.io images import`, or
// containerd's client Import), under exactly the name and tag upstream
// Kubernetes uses, so no pod ever pulls.
//
// Builds are deterministic (fixed timestamps, -trimpath, no VCS stamping), so
// the same inputs give the same digests on every machine, and cached: an
// image is rebuilt only when a hash of its inputs (Go sources and module
// versions, toolchain, Debian package versions and checksums, busybox's
// source checksum, configuration and C toolchain, prebuilt and extra files by
// content) changes.
//
// The package is harness code: it runs `go`, make and gcc, and Debian's
// apt/dpkg tools, and has no Kubernetes dependencies.
package images

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// SourceKind says where an image's content comes from.
type SourceKind string

const (
	// SourceGo is a static (CGO off) Go program built from a Go module.
	SourceGo SourceKind = "go"
	// SourceDebian is files taken from a Debian package.
	SourceDebian SourceKind = "debian"
	// SourceC is a static C program built from its upstream release
	// tarball with this host's C toolchain (busybox).
	SourceC SourceKind = "c"
)

// Spec is one entry of the catalog: an image distrobench can build.
type Spec struct {
	// Name is the full image reference, e.g. "registry.k8s.io/pause:3.10.2".
	Name string `json:"name"`
	// Short is the name the CLI accepts besides Name, e.g. "pause".
	Short string `json:"short"`
	// Kinds lists where the content comes from, in layer order.
	Kinds []SourceKind `json:"kinds"`
	// Source describes the inputs before they are resolved (versions of
	// Debian packages are resolved at build time; Image.Source has them).
	Source string `json:"source"`
	// UsedBy says what needs the image: "sandbox" (containerd's sandbox
	// image), "addon coredns", "tests".
	UsedBy []string `json:"usedBy"`
	// File is the archive's file name in the output directory.
	File string `json:"file"`
}

// Fixed image names: these are the references kubelet, the CoreDNS add-on and
// the e2e framework ask for (Kubernetes v1.37.2's test/utils/image manifest).
const (
	PauseName   = "registry.k8s.io/pause:3.10.2"
	CoreDNSName = "registry.k8s.io/coredns/coredns:v1.15.0"
	BusyboxName = "registry.k8s.io/e2e-test-images/busybox:1.37.0-2"
	AgnhostName = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
)

// The Go sources, relative to the repository root.
const (
	distroModuleDir  = "distro"                // the k3lite module
	corednsModuleDir = "distro/images/coredns" // a module of its own (CoreDNS's dependency tree)
	agnhostPackage   = "k8s.io/kubernetes/test/images/agnhost"
	agnhostVersion   = "2.66.1" // test/images/agnhost/VERSION at k8s v1.37.2
	defaultPath      = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// busyboxSpecSource names the busybox every image with busybox has.
	busyboxSpecSource = "busybox " + busyboxVersion + " built from upstream source (Debian trixie's orig tarball " +
		busyboxOrigTarball + ", sha256 " + busyboxOrigSHA256 + ", the same as busybox.net's release), defconfig, static"
)

// goBinary is one static Go program placed in an image.
type goBinary struct {
	moduleDir string // relative to the repository root; `go build` runs there
	pkg       string // package to build, as `go build` takes it
	// sourceModule names the upstream module the program comes from, for
	// Image.Source ("" = the package's own module).
	sourceModule string
	path         string   // absolute path in the image
	xflags       []string // extra -X settings for -ldflags
	tags         []string // build tags (go build -tags)
	// mode holds the permission (and setuid/setgid) bits; 0 means 0755.
	mode fs.FileMode
}

func (b goBinary) perm() fs.FileMode {
	if b.mode == 0 {
		return 0o755
	}
	return b.mode
}

// recipe is how one catalog image is made: a base layer (a minimal root
// filesystem with busybox and/or Debian packages), then one layer with the
// Go programs, the prebuilt files and the extra files.
type recipe struct {
	spec Spec
	// bins are static Go programs built from a module of this repository
	// (moduleDir "." is the root module, "distro" the k3lite module).
	bins []goBinary
	// busybox adds busybox (built from source, busybox_src.go) and its
	// applets to the base layer.
	busybox bool
	// debian adds Debian packages and their dependency closure to the base
	// layer; busybox applets whose command a package provides are left out.
	debian debRootfs
	// files are prebuilt files of the repository tree (make targets).
	files []prebuilt
	// extra returns files added to the last layer; pkgDirs[i] is the
	// source directory of bins[i].
	extra      func(pkgDirs []string) ([]entry, error)
	entrypoint []string
	cmd        []string
	// env is added to the image's environment after PATH.
	env        []string
	user       string
	ports      []string
	stopSignal string // the image's StopSignal ("" = the runtime's default, SIGTERM)
}

// recipes is the whole catalog in build order: the cluster's own images and
// the ones distrobench's suites run (coreRecipes), then the ones only the
// upstream e2e suite needs (catalog_e2e.go), then sonobuoy's
// (catalog_sonobuoy.go).
var recipes = slices.Concat(coreRecipes, e2eRecipes, sonobuoyRecipes)

var coreRecipes = []recipe{
	{
		spec: Spec{
			Name: PauseName, Short: "pause", Kinds: []SourceKind{SourceGo},
			Source: "go package github.com/distrobench/distrobench/distro/images/pause (k3lite's own pause)",
			UsedBy: []string{"sandbox"}, File: "pause-3.10.2.tar",
		},
		bins: []goBinary{{moduleDir: distroModuleDir, pkg: "./images/pause", path: "/pause"}},
		// As upstream's pause image: no shell, an unprivileged user.
		entrypoint: []string{"/pause"},
		user:       "65535:65535",
	},
	{
		spec: Spec{
			Name: CoreDNSName, Short: "coredns", Kinds: []SourceKind{SourceGo},
			Source: "go module github.com/coredns/coredns v1.15.0 (plugins of k3lite's Corefile, distro/images/coredns)",
			UsedBy: []string{"addon coredns"}, File: "coredns-v1.15.0.tar",
		},
		bins: []goBinary{{moduleDir: corednsModuleDir, pkg: ".", sourceModule: "github.com/coredns/coredns", path: "/coredns"}},
		// Runs as root: upstream's image runs as nonroot with a file
		// capability (setcap) for port 53; here the add-on's manifest keeps
		// only NET_BIND_SERVICE instead.
		entrypoint: []string{"/coredns"},
		cmd:        []string{"-conf", "/etc/coredns/Corefile"},
		ports:      []string{"53/tcp", "53/udp", "9153/tcp"},
	},
	{
		spec: Spec{
			Name: BusyboxName, Short: "busybox", Kinds: []SourceKind{SourceC},
			Source: busyboxSpecSource + " (/bin/busybox, its applets as symlinks in /bin, ash as /bin/sh), " +
				"as upstream's image (docker-library's busybox:1.37.0); not Debian's busybox-static, whose patched ash drops " +
				"environment variables whose names are not shell identifiers, which [Conformance] specs expect to see",
			UsedBy: []string{"tests"}, File: "busybox-1.37.0-2.tar",
		},
		busybox: true,
		cmd:     []string{"sh"},
	},
	agnhostRecipe(Spec{
		Name: AgnhostName, Short: "agnhost", Kinds: []SourceKind{SourceC, SourceDebian, SourceGo},
		Source: "go module k8s.io/kubernetes (test/images/agnhost, the distro/ module's version) + debian " +
			strings.Join(agnhostDebian.packages, " ") + " with their libraries + " + busyboxSpecSource,
		UsedBy: []string{"tests"}, File: "agnhost-2.66.1.tar",
	}, agnhostVersion, nil),
}

// List returns the catalog in build order.
func List() []Spec {
	out := make([]Spec, len(recipes))
	for i, r := range recipes {
		out[i] = r.spec
		out[i].Kinds = slices.Clone(r.spec.Kinds)
		out[i].UsedBy = slices.Clone(r.spec.UsedBy)
	}
	return out
}

// selectRecipes resolves names (full references or short names) to recipes in
// catalog order; no names selects all.
func selectRecipes(names []string) ([]recipe, error) {
	if len(names) == 0 {
		return recipes, nil
	}
	want := map[int]bool{}
	for _, n := range names {
		i := slices.IndexFunc(recipes, func(r recipe) bool { return r.spec.Name == n || r.spec.Short == n })
		if i < 0 {
			var valid []string
			for _, r := range recipes {
				valid = append(valid, r.spec.Short)
			}
			return nil, fmt.Errorf("unknown image %q (valid: %s, or their full names; see 'distrobench images list')", n, strings.Join(valid, ", "))
		}
		want[i] = true
	}
	var out []recipe
	for i, r := range recipes {
		if want[i] {
			out = append(out, r)
		}
	}
	return out, nil
}
