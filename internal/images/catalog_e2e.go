package images

import (
	"io/fs"
)

// Names of the images only the upstream [Conformance] specs of Kubernetes
// v1.37.2 run (test/utils/image/manifest.go; grep the files with
// framework.ConformanceIt for imageutils.*).
const (
	AgnhostPrevName     = "registry.k8s.io/e2e-test-images/agnhost:2.55"
	NginxName           = "registry.k8s.io/e2e-test-images/nginx:1.27.0-2"
	GlibcDNSTestingName = "registry.k8s.io/e2e-test-images/glibc-dns-testing:2.1.1"
	SampleAPIServerName = "registry.k8s.io/e2e-test-images/sample-apiserver:1.29.2"
	EtcdName            = "registry.k8s.io/etcd:3.7.0-0"
	NautilusName        = "registry.k8s.io/e2e-test-images/nautilus:1.8"
	KittenName          = "registry.k8s.io/e2e-test-images/kitten:1.8"
	NonewprivsName      = "registry.k8s.io/e2e-test-images/nonewprivs:1.4"
)

// e2eRecipes are the images only the upstream Kubernetes e2e [Conformance]
// specs need (beyond pause, busybox and agnhost in coreRecipes). Where
// upstream's image is Alpine based, busybox stands in for Alpine's base.
var e2eRecipes = []recipe{
	// Three specs (StatefulSet rolling update, kubectl apply, pod update)
	// need an agnhost that differs from the current one; which version it
	// is does not matter to them.
	agnhostRecipe(Spec{
		Name: AgnhostPrevName, Short: "agnhost-prev", Kinds: []SourceKind{SourceC, SourceDebian, SourceGo},
		Source: "not upstream's 2.55: the same agnhost sources as agnhost 2.66.1 (k8s.io/kubernetes of the distro/ module) " +
			"built with main.Version=2.55, so the image differs in content and digest, + the same debian packages as agnhost",
		UsedBy: []string{"tests"}, File: "agnhost-2.55.tar",
	}, "2.55", nil),
	{
		spec: Spec{
			Name: NginxName, Short: "nginx", Kinds: []SourceKind{SourceC, SourceDebian},
			Source: "debian nginx (bookworm's 1.22, not 1.27) and bash (/bin/sh) with their libraries + " + busyboxSpecSource + "; " +
				"serves /usr/share/nginx/html on :80 as root, logs to stdout/stderr, like upstream's nginx:1.27-alpine",
			UsedBy: []string{"tests"}, File: "nginx-1.27.0-2.tar",
		},
		// busybox: specs exec `sh -c "... sleep 1 ..."` (preStop hooks) in
		// it; bash is /bin/sh as in agnhost (see agnhostDebian).
		busybox:    true,
		debian:     debRootfs{packages: []string{"nginx", "bash"}, links: map[string]string{"/bin/sh": "bash"}},
		extra:      nginxFiles,
		cmd:        []string{"nginx", "-g", "daemon off;"},
		ports:      []string{"80/tcp"},
		stopSignal: "SIGQUIT", // as upstream's: a graceful shutdown
	},
	{
		spec: Spec{
			Name: GlibcDNSTestingName, Short: "glibc-dns-testing", Kinds: []SourceKind{SourceC, SourceDebian},
			Source: "debian bind9-dnsutils, libc-bin (getent) and bash (/bin/sh) with their libraries + " + busyboxSpecSource + " " +
				"(sh, seq and the rest of debian:bookworm-slim's commands the DNS specs run); no CoreDNS 1.5.0 binary (no spec runs it)",
			UsedBy: []string{"tests"}, File: "glibc-dns-testing-2.1.1.tar",
		},
		busybox: true,
		debian:  debRootfs{packages: []string{"bind9-dnsutils", "libc-bin", "bash"}, links: map[string]string{"/bin/sh": "bash"}},
		cmd:     []string{"bash"},
	},
	{
		spec: Spec{
			Name: SampleAPIServerName, Short: "sample-apiserver", Kinds: []SourceKind{SourceC, SourceGo},
			Source: "go module k8s.io/sample-apiserver (the distro/ module's version, not upstream's v0.33.7 of image 1.29.2) + " + busyboxSpecSource,
			UsedBy: []string{"tests"}, File: "sample-apiserver-1.29.2.tar",
		},
		busybox:    true,
		bins:       []goBinary{{moduleDir: distroModuleDir, pkg: "k8s.io/sample-apiserver", sourceModule: "k8s.io/sample-apiserver", path: "/sample-apiserver"}},
		entrypoint: []string{"/sample-apiserver"},
	},
	{
		spec: Spec{
			Name: EtcdName, Short: "etcd", Kinds: []SourceKind{SourceGo},
			Source: "go module go.etcd.io/etcd/server/v3 (the distro/ module's version, 3.7.3, not 3.7.0) at /usr/local/bin/etcd; " +
				"no etcdctl/etcdutl (the Aggregator spec runs only etcd)",
			UsedBy: []string{"tests"}, File: "etcd-3.7.0-0.tar",
		},
		bins: []goBinary{{moduleDir: distroModuleDir, pkg: "go.etcd.io/etcd/server/v3", sourceModule: "go.etcd.io/etcd/server/v3", path: "/usr/local/bin/etcd"}},
		// Upstream's base is distroless (no shell; /tmp, /etc/passwd): the
		// minimal root filesystem stands in. The data directory
		// (default.etcd) is made in the working directory, /.
		extra: func([]string) ([]entry, error) { return baseRootfs(), nil },
		cmd:   []string{"/usr/local/bin/etcd"},
	},
	agnhostRecipe(Spec{
		Name: NautilusName, Short: "nautilus", Kinds: []SourceKind{SourceC, SourceDebian, SourceGo},
		Source: "the agnhost 2.66.1 image + test/images/nautilus/html/{nautilus.jpg,data.json} of module k8s.io/kubernetes, serving them (test-webserver)",
		UsedBy: []string{"tests"}, File: "nautilus-1.8.tar",
	}, agnhostVersion, agnhostSiblingFiles(map[string]string{"/nautilus.jpg": "nautilus/html/nautilus.jpg", "/data.json": "nautilus/html/data.json"})).
		withCmd("test-webserver"),
	agnhostRecipe(Spec{
		Name: KittenName, Short: "kitten", Kinds: []SourceKind{SourceC, SourceDebian, SourceGo},
		Source: "the agnhost 2.66.1 image + test/images/kitten/html/{kitten.jpg,data.json} of module k8s.io/kubernetes, serving them (test-webserver)",
		UsedBy: []string{"tests"}, File: "kitten-1.8.tar",
	}, agnhostVersion, agnhostSiblingFiles(map[string]string{"/kitten.jpg": "kitten/html/kitten.jpg", "/data.json": "kitten/html/data.json"})).
		withCmd("test-webserver"),
	{
		spec: Spec{
			Name: NonewprivsName, Short: "nonewprivs", Kinds: []SourceKind{SourceC, SourceGo},
			Source: "go module k8s.io/kubernetes (test/images/nonewprivs, `nnp`: prints the effective uid) setuid root at /usr/local/bin/nnp + " + busyboxSpecSource,
			UsedBy: []string{"tests"}, File: "nonewprivs-1.4.tar",
		},
		busybox: true,
		bins: []goBinary{{
			moduleDir: distroModuleDir, pkg: "k8s.io/kubernetes/test/images/nonewprivs", sourceModule: "k8s.io/kubernetes",
			// The Dockerfile's `chmod +s`: setuid and setgid.
			path: "/usr/local/bin/nnp", mode: fs.ModeSetuid | fs.ModeSetgid | 0o755,
		}},
		cmd: []string{"nnp"},
	},
}

// withCmd returns r with the image's command replaced.
func (r recipe) withCmd(cmd ...string) recipe {
	r.cmd = cmd
	return r
}

// nginxConf is nginx's configuration, after upstream's nginx image (the
// nginx.org one): root serves /usr/share/nginx/html on port 80, access log
// to stdout, error log to stderr (through the /var/log/nginx symlinks, which
// the compiled-in error log path also uses before the configuration is
// read). Workers run as root: there is no nginx user here, and the specs
// do not care who serves.
const nginxConf = `user root;
worker_processes auto;
error_log /var/log/nginx/error.log notice;
pid /run/nginx.pid;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log /var/log/nginx/access.log main;
    sendfile on;
    keepalive_timeout 65;

    server {
        listen 80;
        server_name localhost;
        location / {
            root /usr/share/nginx/html;
            index index.html index.htm;
        }
    }
}
`

func nginxFiles([]string) ([]entry, error) {
	return []entry{
		file("/etc/nginx/nginx.conf", 0o644, []byte(nginxConf)),
		symlink("/var/log/nginx/access.log", "/dev/stdout"),
		symlink("/var/log/nginx/error.log", "/dev/stderr"),
		dir("/run", 0o755),
	}, nil
}
