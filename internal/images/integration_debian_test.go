package images

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// needRootTools fails (never skips) when what the chroot tests need is
// missing: root, unshare, chroot, tar, and apt's lists for the arch.
func needRootTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the rootfs tests chroot into the images: run the integration tests as root")
	}
	for _, bin := range []string{"unshare", "chroot", "tar", "apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found (util-linux, coreutils, tar, apt, dpkg: a Debian base system)", bin)
		}
	}
}

// untar unpacks a layer or filesystem tarball into dir with the system tar
// (as root it keeps owners, modes and setuid bits).
func untar(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	cmd := exec.Command("tar", "-x", "-p", "--numeric-owner", "-C", dir)
	cmd.Stdin = r
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("unpacking into %s: %v\n%s", dir, err, out)
	}
}

// extractImage unpacks the flattened filesystem of the image archive into a
// new temp dir and returns it.
func extractImage(t *testing.T, img Image) string {
	t.Helper()
	tag, err := name.NewTag(img.Name)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tarball.ImageFromPath(img.Tarball, &tag)
	if err != nil {
		t.Fatalf("reading %s: %v", img.Tarball, err)
	}
	dir := t.TempDir()
	rc := mutate.Extract(loaded)
	defer rc.Close()
	untar(t, rc, dir)
	return dir
}

// inRootfs runs script with sh in a private mount and network namespace
// (loopback only; /dev bound, /proc mounted, all gone when it exits), where
// "$R" is the root filesystem dir: `chroot "$R" cmd` runs cmd from it with
// the image's PATH.
func inRootfs(t *testing.T, root, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := `set -e
mkdir -p "$R/dev" "$R/proc"
mount --make-rprivate /
mount --bind /dev "$R/dev"
mount -t proc proc "$R/proc"
ip link set lo up 2>/dev/null || true
` + script
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--net", "--fork", "sh", "-c", full)
	cmd.Env = append(os.Environ(), "R="+root, defaultPath)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("in %s:\n%s\nfailed: %v\noutput:\n%s", root, script, err, out.String())
	}
	return out.String()
}

func wantAll(t *testing.T, what, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("%s: output lacks %q:\n%s", what, s, out)
		}
	}
}

// TestIntegrationDebianRootfsImagesRun builds the nginx and
// glibc-dns-testing images (Debian packages + busybox) for this host's arch
// and runs their programs from the unpacked image: a missing shared library
// of the dependency closure would fail them. nginx serves its page on :80 of
// a private loopback.
func TestIntegrationDebianRootfsImagesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs root, apt's package lists and the Debian mirror (hack/install-deps.sh images)")
	}
	needRootTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	imgs, err := Build(ctx, Options{RepoRoot: repoRoot(t), Arch: runtime.GOARCH, OutDir: t.TempDir(), Names: []string{"nginx", "glibc-dns-testing"}, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		if !strings.Contains(img.Source, "busybox 1.37.0 built from upstream source") || !strings.Contains(img.Source, "dependencies") {
			t.Errorf("%s: source %q does not name its busybox and Debian packages", img.Name, img.Source)
		}
	}

	dns := extractImage(t, imgs[1])
	out := inRootfs(t, dns, `
chroot "$R" dig -v
chroot "$R" sh -c 'for i in $(seq 1 3); do echo n$i; done'
chroot "$R" bash -c 'echo bash $BASH_VERSION'
chroot "$R" getent --version | head -1
chroot "$R" sh -c 'printf "10.1.2.3 dns-test-host\n" > /etc/hosts; getent hosts dns-test-host'
`)
	wantAll(t, "glibc-dns-testing", out, "DiG 9.18", "n1\nn2\nn3\n", "bash 5.", "getent (Debian GLIBC", "10.1.2.3        dns-test-host")

	web := extractImage(t, imgs[0])
	out = inRootfs(t, web, `
chroot "$R" nginx -t
chroot "$R" nginx
for i in $(seq 1 50); do chroot "$R" wget -q -O /tmp/page http://127.0.0.1/ && break; sleep 0.1; done
chroot "$R" cat /tmp/page
chroot "$R" nginx -s quit
chroot "$R" sh -c 'sleep 1; echo preStop-ok'
`)
	wantAll(t, "nginx", out, "configuration file /etc/nginx/nginx.conf test is successful", "Welcome to nginx!", "preStop-ok")
}

// TestIntegrationAgnhostToolsRun unpacks agnhost's base layer (busybox and
// the Debian tools, without the agnhost Go build) and runs every tool the
// conformance specs exec in agnhost pods.
func TestIntegrationAgnhostToolsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs root, apt's package lists and the Debian mirror (hack/install-deps.sh images)")
	}
	needRootTools(t)
	root := baseLayerRootfs(t, runtime.GOARCH, agnhostDebian)
	out := inRootfs(t, root, `
chroot "$R" dig -v
chroot "$R" curl --version
chroot "$R" nc -h 2>&1 | head -1
chroot "$R" sh -c 'nc -l 127.0.0.1 5353 & sleep 0.3; nc -v -z -w 1 127.0.0.1 5353; kill $! 2>/dev/null || true'
chroot "$R" sh -c 'nc -u -l 127.0.0.1 5354 & sleep 0.3; nc -u -v -z -w 1 127.0.0.1 5354; kill $! 2>/dev/null || true'
chroot "$R" ip -V
chroot "$R" ss -V
chroot "$R" bash --version | head -1
chroot "$R" socat -V | head -2
chroot "$R" iperf -v 2>&1 | head -1
chroot "$R" /usr/local/bin/iperf -v 2>&1 | head -1
chroot "$R" ipcs -V
chroot "$R" getent --version | head -1
chroot "$R" host -V 2>&1 || true
chroot "$R" sh -c 'ls -l /bin/nc; echo "sh is $(readlink /bin/sh)"'
chroot "$R" wget --help 2>&1 | head -1
`)
	wantAll(t, "agnhost tools", out,
		"DiG 9.18", "curl 7.88", "OpenBSD netcat", "5353 port [tcp/*] succeeded", "5354 port [udp/*] succeeded", "iproute2", "bash, version 5", "socat version",
		"iperf version", "ipcs from util-linux", "getent (Debian GLIBC", "/bin/nc -> nc.openbsd", "sh is bash", "BusyBox v1.")
}

// TestIntegrationArm64DebianFetch resolves, fetches and unpacks
// glibc-dns-testing's Debian packages for arm64 and runs dig through
// qemu-user (hack/install-deps.sh arm64 enables it).
func TestIntegrationArm64DebianFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs root, apt's arm64 package lists and qemu-user binfmt (hack/install-deps.sh images arm64)")
	}
	needRootTools(t)
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil && runtime.GOARCH != "arm64" {
		t.Fatal("arm64 binaries cannot run here: run hack/install-deps.sh arm64 (qemu-user-static, binfmt)")
	}
	var dns recipe
	for _, r := range recipes {
		if r.spec.Name == GlibcDNSTestingName {
			dns = r
		}
	}
	root := baseLayerRootfs(t, "arm64", dns.debian)
	out := inRootfs(t, root, `
chroot "$R" dig -v
chroot "$R" sh -c 'echo "$(uname -m) $(seq 2 3 | tr "\n" " ")ok"'
`)
	wantAll(t, "arm64 rootfs", out, "DiG 9.18", "aarch64 2 3 ok")
}

// baseLayerRootfs resolves d for arch, makes the base layer (busybox + d)
// and unpacks it into a temp dir.
func baseLayerRootfs(t *testing.T, arch string, d debRootfs) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cache := repoRoot(t) + "/_output/images/cache"
	bb, err := resolveBusybox(ctx, discard, arch, cache)
	if err != nil {
		t.Fatal(err)
	}
	debs, err := resolveDebs(ctx, discard, d, arch, cache+"/debs")
	if err != nil {
		t.Fatal(err)
	}
	es, err := baseLayer(ctx, discard, bb, true, debs, true)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := layerTar(es)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	untar(t, bytes.NewReader(layer), dir)
	return dir
}
