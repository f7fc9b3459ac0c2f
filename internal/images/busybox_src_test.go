package images

import (
	"slices"
	"strings"
	"testing"
)

// trixieDsc is Debian trixie's busybox_1.37.0-6.dsc as the archive serves
// it (signature shortened).
const trixieDsc = `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Format: 3.0 (quilt)
Source: busybox
Binary: busybox, busybox-static, busybox-udeb, busybox-syslogd, udhcpc, udhcpd
Architecture: any all
Version: 1:1.37.0-6
Maintainer: Debian Install System Team <debian-boot@lists.debian.org>
Homepage: http://www.busybox.net
Package-List:
 busybox deb utils optional arch=any
 busybox-static deb shells optional arch=any
Checksums-Sha1:
 50efee4e4438b8aea90ea6895dac818d23125549 2565764 busybox_1.37.0.orig.tar.bz2
 afee994d7e50deddcae2e7de80b0bcb2595725b1 65032 busybox_1.37.0-6.debian.tar.xz
Checksums-Sha256:
 3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4 2565764 busybox_1.37.0.orig.tar.bz2
 10b2cd64b41c26ae134e1cd6135b68575bbe79356c20985f35e32f32a1746c34 65032 busybox_1.37.0-6.debian.tar.xz
Files:
 865b68ab41b923d9cdbebf3f2c8b04ec 2565764 busybox_1.37.0.orig.tar.bz2
 6f2ddd678ec8467bd3151ea6afb59245 65032 busybox_1.37.0-6.debian.tar.xz

-----BEGIN PGP SIGNATURE-----

iQIzBAEBCgAdFiEEZKoqtTHVaQM2a/75gqpKJDselHgFAmhEsIQACgkQgqpKJDse
=/Apl
-----END PGP SIGNATURE-----
`

func TestParseDscSHA256TakesTheSha256Field(t *testing.T) {
	sum, err := parseDscSHA256([]byte(trixieDsc), busyboxOrigTarball)
	if err != nil {
		t.Fatal(err)
	}
	if sum != busyboxOrigSHA256 {
		t.Errorf("orig tarball sha256 = %s, want %s (not the Sha1 or Files lines)", sum, busyboxOrigSHA256)
	}
	deb, err := parseDscSHA256([]byte(trixieDsc), "busybox_1.37.0-6.debian.tar.xz")
	if err != nil || deb != "10b2cd64b41c26ae134e1cd6135b68575bbe79356c20985f35e32f32a1746c34" {
		t.Errorf("debian tarball sha256 = %q, %v", deb, err)
	}
	// Unsigned, CRLF line ends, and the field last in the file.
	unsigned := "Source: busybox\r\nChecksums-Sha256:\r\n " + busyboxOrigSHA256 + " 2565764 " + busyboxOrigTarball + "\r\n"
	if sum, err := parseDscSHA256([]byte(unsigned), busyboxOrigTarball); err != nil || sum != busyboxOrigSHA256 {
		t.Errorf("unsigned .dsc: %q, %v", sum, err)
	}
}

func TestParseDscSHA256Rejects(t *testing.T) {
	withoutField := strings.Replace(trixieDsc, "Checksums-Sha256:", "Checksums-Sha512:", 1)
	malformed := strings.Replace(trixieDsc, " 3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4 ", " 3311dff3 ", 1)
	twice := strings.Replace(trixieDsc, "Files:", " "+strings.Repeat("a", 64)+" 1 "+busyboxOrigTarball+"\nFiles:", 1)
	shortLine := strings.Replace(trixieDsc, " 2565764 busybox_1.37.0.orig.tar.bz2\n 10b2", " busybox_1.37.0.orig.tar.bz2\n 10b2", 1)
	for _, c := range []struct{ name, dsc, file, want string }{
		{"no field", withoutField, busyboxOrigTarball, "no Checksums-Sha256"},
		{"file not listed", trixieDsc, "busybox_1.36.1.orig.tar.bz2", "does not list busybox_1.36.1.orig.tar.bz2"},
		{"malformed checksum", malformed, busyboxOrigTarball, "malformed checksum"},
		{"listed twice", twice, busyboxOrigTarball, "twice"},
		{"short line", shortLine, busyboxOrigTarball, "SHA256 SIZE NAME"},
		{"empty", "", busyboxOrigTarball, "no Checksums-Sha256"},
	} {
		_, err := parseDscSHA256([]byte(c.dsc), c.file)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
}

const defconfigExcerpt = `#
# Automatically generated make config: don't edit
# Busybox version: 1.37.0
#
CONFIG_HAVE_DOT_CONFIG=y
# CONFIG_STATIC is not set
CONFIG_SHA1_HWACCEL=y
CONFIG_LAST_SUPPORTED_WCHAR=767
# CONFIG_AR is not set
CONFIG_FEATURE_SYNC_FANCY=y
CONFIG_SH_IS_ASH=y
# CONFIG_FEATURE_SH_STANDALONE is not set
`

func TestSetKconfigRewritesInPlaceAndAppendsTheRest(t *testing.T) {
	got := string(setKconfig([]byte(defconfigExcerpt), []kconfigSetting{
		{"CONFIG_STATIC", "y"}, {"CONFIG_LAST_SUPPORTED_WCHAR", "0"}, {"CONFIG_FEATURE_SYNC_FANCY", ""},
		{"CONFIG_FEATURE_AR_CREATE", "y"},
	}))
	want := strings.NewReplacer(
		"# CONFIG_STATIC is not set", "CONFIG_STATIC=y",
		"CONFIG_LAST_SUPPORTED_WCHAR=767", "CONFIG_LAST_SUPPORTED_WCHAR=0",
		"CONFIG_FEATURE_SYNC_FANCY=y", "# CONFIG_FEATURE_SYNC_FANCY is not set",
	).Replace(defconfigExcerpt) + "CONFIG_FEATURE_AR_CREATE=y\n"
	if got != want {
		t.Errorf("setKconfig:\n%s\nwant:\n%s", got, want)
	}
}

func TestCheckKconfigReportsEveryMismatch(t *testing.T) {
	cfg := []byte(defconfigExcerpt)
	if err := checkKconfig(cfg, []kconfigSetting{{"CONFIG_SH_IS_ASH", "y"}, {"CONFIG_FEATURE_SH_STANDALONE", ""}, {"CONFIG_NOT_THERE", ""}}); err != nil {
		t.Errorf("holding settings rejected: %v", err)
	}
	err := checkKconfig(cfg, []kconfigSetting{{"CONFIG_STATIC", "y"}, {"CONFIG_SHA1_HWACCEL", ""}, {"CONFIG_SH_IS_ASH", "y"}})
	if err == nil || !strings.Contains(err.Error(), "CONFIG_STATIC=y") || !strings.Contains(err.Error(), "# CONFIG_SHA1_HWACCEL is not set") ||
		strings.Contains(err.Error(), "SH_IS_ASH") {
		t.Errorf("err = %v, want both mismatches and only them", err)
	}
}

func TestBusyboxConfigIsStaticEverywhereAndDropsSHA1AccelOffX86(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		cfg := busyboxConfig(arch)
		if !slices.Contains(cfg, kconfigSetting{"CONFIG_STATIC", "y"}) {
			t.Errorf("%s: not static: %v", arch, cfg)
		}
		hasSHA1 := slices.ContainsFunc(cfg, func(s kconfigSetting) bool { return s.name == "CONFIG_SHA1_HWACCEL" })
		if hasSHA1 != (arch == "arm64") {
			t.Errorf("%s: CONFIG_SHA1_HWACCEL changed = %t", arch, hasSHA1)
		}
		// The settings the build must end with do not contradict the
		// changes it makes.
		for _, req := range busyboxRequiredConfig {
			for _, s := range cfg {
				if s.name == req.name && s.value != req.value {
					t.Errorf("%s: %s contradicts %s", arch, s.line(), req.line())
				}
			}
		}
	}
}

func TestBusyboxAppletsFromTheLinksFile(t *testing.T) {
	got, err := busyboxApplets([]byte("/usr/bin/ar\n/bin/sh\n/bin/ls\n/sbin/ifconfig\n/usr/bin/wget\n/bin/cat\n/bin/env\n/bin/sleep\n/bin/hostname\n/usr/bin/nc\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ar", "sh", "ls", "ifconfig", "wget", "cat", "env", "sleep", "hostname", "nc"}; !slices.Equal(got, want) {
		t.Errorf("applets %v, want %v", got, want)
	}
	if _, err := busyboxApplets([]byte("/bin/ls\n")); err == nil {
		t.Error("a links file without sh accepted")
	}
	if _, err := busyboxApplets([]byte("ls\n/bin/sh\n")); err == nil {
		t.Error("a relative install path accepted")
	}
}

func TestBusyboxSourceAndHashNameTheInputs(t *testing.T) {
	b := busybox{arch: "arm64", ccVersion: "aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0", target: "aarch64-linux-gnu", inputs: strings.Repeat("ab", 32), root: "/c/busybox-1.37.0"}
	src := b.source()
	for _, s := range []string{"busybox 1.37.0 built from upstream source", "Debian trixie's orig tarball", busyboxOrigSHA256, "defconfig", "static", "aarch64-linux-gnu"} {
		if !strings.Contains(src, s) {
			t.Errorf("source %q lacks %q", src, s)
		}
	}
	if b.dir() != "/c/busybox-1.37.0/arm64-abababababababab" {
		t.Errorf("dir %s", b.dir())
	}
	other := b
	other.arch = "amd64"
	if b.hash() == other.hash() {
		t.Error("hash does not depend on the arch")
	}
	if !strings.Contains(busyboxSpecSource, busyboxOrigSHA256) || !strings.Contains(busyboxSpecSource, "defconfig, static") {
		t.Errorf("catalog source %q", busyboxSpecSource)
	}
}
