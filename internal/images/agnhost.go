package images

import (
	"io/fs"
	"path/filepath"
	"slices"
)

// agnhostDebian is what upstream's agnhost Dockerfile adds with `apk add`
// (bind-tools curl netcat-openbsd iproute2 iperf bash util-linux-misc socat),
// taken from Debian: conformance specs exec dig, curl, nc (-u, -v, -z: the
// OpenBSD netcat, not busybox's), ip and ss, bash and socat in agnhost pods,
// and the DNS specs' "musl" prober runs getent (libc-bin; the image is glibc
// based here, where upstream's is Alpine with musl: the specs only need the
// tools to answer).
var agnhostDebian = debRootfs{
	packages: []string{"bind9-dnsutils", "curl", "netcat-openbsd", "iproute2", "iperf", "bash", "util-linux", "socat", "libc-bin"},
	links: map[string]string{
		// Images with Debian packages run bash as /bin/sh. It was chosen
		// when busybox was Debian's busybox-static, whose sh runs its own
		// applets before PATH (FEATURE_SH_STANDALONE). The busybox built
		// from source runs commands from PATH (its applets a package
		// provides are left out), so its ash would now do too, as in
		// upstream's Alpine images; bash stays because the conformance
		// runs were made with it. Debian's dash depends on dpkg and its
		// tools; the specs' scripts are POSIX sh.
		"/bin/sh": "bash",
		// netcat-openbsd's postinst: update-alternatives for nc and netcat.
		"/bin/nc":     "nc.openbsd",
		"/bin/netcat": "nc.openbsd",
		// The Dockerfile's `ln -s /usr/bin/iperf /usr/local/bin/iperf`.
		"/usr/local/bin/iperf": "/usr/bin/iperf",
	},
}

// agnhostRecipe is the agnhost image (and the images upstream bases on it)
// under spec: the agnhost program built with main.Version=version over
// busybox and agnhostDebian, plus agnhostExtras and the files more returns.
func agnhostRecipe(spec Spec, version string, more func(agnhostDir string) ([]entry, error)) recipe {
	return recipe{
		spec:    spec,
		busybox: true,
		debian:  agnhostDebian,
		bins: []goBinary{{
			moduleDir: distroModuleDir, pkg: agnhostPackage, sourceModule: "k8s.io/kubernetes",
			path: "/agnhost", xflags: []string{"main.Version=" + version},
		}},
		extra: func(pkgDirs []string) ([]entry, error) {
			es, err := agnhostExtras(pkgDirs)
			if err != nil || more == nil {
				return es, err
			}
			m, err := more(pkgDirs[0])
			return slices.Concat(es, m), err
		},
		entrypoint: []string{"/agnhost"},
		cmd:        []string{"pause"},
		// test/images/agnhost/Dockerfile's EXPOSE line.
		ports: []string{"80/tcp", "8080/tcp", "8081/tcp", "9376/tcp", "5000/tcp"},
	}
}

// agnhostExtras adds what upstream's agnhost Dockerfile adds besides the
// binary and the packages: the porter test certificate, /uploads for
// netexec, the agnhost-2 entrypoint alias, and the user and group that the
// SupplementalGroups e2e spec expects to be defined in the image. Not
// reproduced: the old CoreDNS release binary (/coredns, downloaded from
// GitHub; no conformance spec runs it) and the fake registry's content
// (/var/registry, made with crane from images on the internet; used by the
// non-conformance private-registry specs).
func agnhostExtras(pkgDirs []string) ([]entry, error) {
	src := pkgDirs[0]
	crt, err := hostFile("/localhost.crt", 0o644, filepath.Join(src, "porter", "localhost.crt"))
	if err != nil {
		return nil, err
	}
	key, err := hostFile("/localhost.key", 0o644, filepath.Join(src, "porter", "localhost.key"))
	if err != nil {
		return nil, err
	}
	return []entry{
		crt, key,
		dir("/uploads", 0o755),
		symlink("/agnhost-2", "agnhost"),
		file("/etc/passwd", 0o644, []byte(passwdBase+"user-defined-in-image:x:1000:1000:Linux User,,,:/home/user-defined-in-image:/bin/sh\n")),
		file("/etc/group", 0o644, []byte(groupBase+"user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n")),
		{Path: "/home/user-defined-in-image", Mode: fs.ModeDir | 0o755, UID: 1000, GID: 1000},
		file("/etc/os-release", 0o644, []byte(agnhostOSRelease)),
	}, nil
}

// agnhostOSRelease replaces Debian's /etc/os-release (a link to
// /usr/lib/os-release) in agnhost-based images. Upstream builds agnhost,
// kitten and nautilus on Alpine Linux, and the [Conformance] ImageVolume spec
// checks that the volume made from kitten shows its /etc/os-release by
// looking for "Alpine Linux" in it. This file tells the truth about the
// image and names the base it stands in for; ID stays debian, so tools
// that read it see the packages they get.
const agnhostOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm) packages, rebuilt by distrobench in place of upstream's Alpine Linux based e2e test image"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
VARIANT="distrobench e2e test image (upstream: Alpine Linux)"
`

// agnhostSiblingFiles returns a function that adds files of another
// test/images directory of the same kubernetes module (nautilus, kitten) to
// an agnhost based image: image path -> path relative to test/images.
func agnhostSiblingFiles(files map[string]string) func(string) ([]entry, error) {
	return func(agnhostDir string) ([]entry, error) {
		var es []entry
		for _, p := range sortedKeys(files) {
			e, err := hostFile(p, 0o644, filepath.Join(agnhostDir, "..", filepath.FromSlash(files[p])))
			if err != nil {
				return nil, err
			}
			es = append(es, e)
		}
		return es, nil
	}
}
