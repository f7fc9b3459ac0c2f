package images

import (
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIntegrationBusyboxImageBehavesAsUpstreams builds the busybox image
// (busybox 1.37.0 from source; the first build takes a minute or two) and
// runs it from the unpacked image the way the [Conformance] specs that need
// upstream's busybox do: `sh -c env` keeps variables whose names are not
// shell identifiers (Secrets/ConfigMap "environment variable names with
// various prefixes"), and ash's message for a write to a read-only
// filesystem is the one the Kubelet "read only busybox container" spec
// compares the log with. Then the applets the suites run.
func TestIntegrationBusyboxImageBehavesAsUpstreams(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs root, gcc, make, bzip2 and the Debian mirror (hack/install-deps.sh images)")
	}
	needRootTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	imgs, err := Build(ctx, Options{RepoRoot: repoRoot(t), Arch: runtime.GOARCH, OutDir: t.TempDir(), Names: []string{"busybox"}, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(imgs[0].Source, "busybox 1.37.0 built from upstream source") || !strings.Contains(imgs[0].Source, busyboxOrigSHA256) {
		t.Errorf("source %q does not say busybox is built from the pinned upstream source", imgs[0].Source)
	}
	root := extractImage(t, imgs[0])
	if target, err := os.Readlink(filepath.Join(root, "bin", "sh")); err != nil || target != "busybox" {
		t.Errorf("/bin/sh -> %q (%v), want busybox's ash", target, err)
	}

	out := inRootfs(t, root, `
CHROOT=$(command -v chroot)
echo "== env"
env -i 'data-1=value-1' '1-data-1=value-1' 'p_data-1=value-1' PATH=/bin "$CHROOT" "$R" /bin/sh -c env
echo "== ro"
mount -t tmpfs -o ro tmpfs "$R/tmp"
o=$(mktemp); rc=0
env -i PATH=/bin "$CHROOT" "$R" /bin/sh -c 'echo test > /tmp/file' >"$o" 2>&1 || rc=$?
cat "$o"; rm -f "$o"; echo "rc=$rc"
umount "$R/tmp"
echo "== applets"
chroot "$R" busybox | head -1
chroot "$R" sh -c 'ls /bin/ls /bin/nc /bin/wget /bin/sleep /bin/env /bin/cat /bin/hostname /bin/ar /usr/bin/env'
chroot "$R" hostname
chroot "$R" sleep 0.1
chroot "$R" sh -c 'echo cat-ok > /tmp/c; cat /tmp/c'
printf '127.0.0.1 localhost\n' > "$R/etc/hosts"
mkdir -p "$R/tmp/www"; echo wget-ok > "$R/tmp/www/index.html"
chroot "$R" httpd -f -p 127.0.0.1:8080 -h /tmp/www & httpd=$!
for i in $(seq 1 50); do chroot "$R" wget -q -O - http://localhost:8080/ && break; sleep 0.1; done
kill $httpd
chroot "$R" sh -c 'nc -l -p 5555 > /tmp/nc.out & sleep 0.3; echo nc-ok | nc -w 1 127.0.0.1 5555; sleep 0.3; cat /tmp/nc.out'
chroot "$R" /usr/bin/env sh -c 'echo usr-bin-env-ok'
`)
	section := func(name string) string {
		_, rest, _ := strings.Cut(out, "== "+name+"\n")
		s, _, _ := strings.Cut(rest, "\n== ")
		return s
	}
	wantAll(t, "sh -c env", section("env"), "data-1=value-1\n", "1-data-1=value-1\n", "p_data-1=value-1\n")
	if got, want := section("ro"), "/bin/sh: can't create /tmp/file: Read-only file system\nrc=1"; got != want {
		t.Errorf("write to a read-only filesystem printed %q, want %q (busybox ash's message, as the Kubelet spec expects)", got, want)
	}
	wantAll(t, "applets", section("applets"), "BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.",
		"/bin/hostname", "/usr/bin/env", "cat-ok", "wget-ok", "nc-ok", "usr-bin-env-ok")
}

// TestIntegrationBusyboxArm64IsStaticAarch64 builds busybox for arm64 with
// the cross compiler and runs it through qemu-user: a static aarch64
// executable whose sh keeps the variables Debian's drops.
func TestIntegrationBusyboxArm64IsStaticAarch64(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the aarch64 cross gcc, make, bzip2, the Debian mirror and qemu-user binfmt (hack/install-deps.sh images arm64)")
	}
	needRootTools(t)
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil && runtime.GOARCH != "arm64" {
		t.Fatal("arm64 binaries cannot run here: run hack/install-deps.sh arm64 (qemu-user-static, binfmt)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bb, err := resolveBusybox(ctx, discard, "arm64", repoRoot(t)+"/_output/images/cache")
	if err != nil {
		t.Fatal(err)
	}
	if err := bb.build(ctx, discard); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(bb.dir(), busyboxBinFile)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("machine %s, want EM_AARCH64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the arm64 busybox asks for a dynamic loader: not static")
		}
	}
	// The applet, not the host's uname: qemu-user says aarch64.
	out, err := run(ctx, discard, "", nil, bin, "uname", "-m")
	if err != nil {
		t.Fatal(err)
	}
	env, err := run(ctx, discard, "", []string{"data-1=value-1"}, bin, "sh", "-c", "env")
	if err != nil {
		t.Fatal(err)
	}
	wantAll(t, "arm64 busybox", string(out)+string(env), "aarch64\n", "data-1=value-1\n")
}
