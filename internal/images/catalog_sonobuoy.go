package images

import "strings"

// Names of the images a sonobuoy v0.57.3 run asks for on a Kubernetes
// v1.37.2 cluster (internal/sonobuoy checks them against sonobuoy's own
// choice: pkg/config DefaultImage, and pkg/image's "auto" conformance
// version, registry.k8s.io/conformance:<server version>).
//
// SonobuoyName is on Docker Hub: sonobuoy's manifests say
// "sonobuoy/sonobuoy:v0.57.3", which kubelet and containerd's CRI normalize
// to "docker.io/sonobuoy/sonobuoy:v0.57.3", so a pre-loaded archive must be
// recorded under exactly that name.
const (
	SonobuoyName    = "docker.io/sonobuoy/sonobuoy:" + sonobuoyVersion
	ConformanceName = "registry.k8s.io/conformance:" + conformanceVersion
)

const (
	// sonobuoyVersion is the root module's sonobuoy (go.mod); the image
	// must be the version of the client that runs it.
	sonobuoyVersion = "v0.57.3"
	sonobuoyPackage = "github.com/vmware-tanzu/sonobuoy"
	rootModuleDir   = "."
	// conformanceVersion is the distro/ module's k8s.io/kubernetes: the
	// conformance image carries e2e.test built from that module.
	conformanceVersion = "v1.37.2"
	// conformanceBin is where upstream's conformance image keeps its
	// programs (test/conformance/image/Dockerfile).
	conformanceBin = "/usr/local/bin"
	// goRunnerPackage is the conformance image's entrypoint, which reads
	// E2E_FOCUS, E2E_SKIP, E2E_PARALLEL... and runs ginkgo on e2e.test.
	goRunnerPackage = "k8s.io/kubernetes/test/conformance/image/go-runner"
)

// kubernetesVersionX are the -X settings upstream's release build gives
// every Kubernetes binary, so `kubectl version` reports v1.37.2 (the
// "Kubectl version should check is all data is printed" spec checks it).
func kubernetesVersionX(v string) []string {
	major, rest, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	minor, _, _ := strings.Cut(rest, ".")
	var out []string
	for _, pkg := range []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"} {
		out = append(out,
			pkg+".gitVersion="+v, pkg+".gitMajor="+major, pkg+".gitMinor="+minor, pkg+".gitTreeState=clean")
	}
	return out
}

// sonobuoyRecipes are the images sonobuoy's certified-conformance run asks
// for: its own aggregator/worker image and the conformance plugin's image.
var sonobuoyRecipes = []recipe{
	{
		spec: Spec{
			Name: SonobuoyName, Short: "sonobuoy", Kinds: []SourceKind{SourceGo},
			Source: "go module github.com/vmware-tanzu/sonobuoy v0.57.3 (the root module's version)",
			UsedBy: []string{"sonobuoy aggregator and worker"}, File: "sonobuoy-" + sonobuoyVersion + ".tar",
		},
		bins: []goBinary{{
			moduleDir: rootModuleDir, pkg: sonobuoyPackage, sourceModule: sonobuoyPackage, path: "/sonobuoy",
			// As sonobuoy's scripts/build_funcs.sh (the tag is also the
			// package's default; set it so a version bump cannot miss it).
			xflags: []string{sonobuoyPackage + "/pkg/buildinfo.Version=" + sonobuoyVersion},
		}},
		// Upstream's base is distroless/static:nonroot: no shell, /tmp,
		// user 65532. The aggregator pod runs `/sonobuoy aggregator ...`,
		// the worker sidecar `/sonobuoy worker global|single-node ...`,
		// `sonobuoy retrieve` execs `/sonobuoy splat`: all absolute paths.
		extra: func([]string) ([]entry, error) { return baseRootfs(), nil },
		cmd:   []string{"/sonobuoy", "aggregator", "--no-exit", "-v", "3", "--logtostderr"},
		user:  "65532:65532",
	},
	{
		spec: Spec{
			Name: ConformanceName, Short: "conformance", Kinds: []SourceKind{SourceC, SourceGo},
			Source: "e2e.test and ginkgo from 'make -C distro e2e' (k8s.io/kubernetes of the distro/ module) + " +
				"kubectl and go-runner (same module) + " + busyboxSpecSource + " (upstream's base is debian-base)",
			UsedBy: []string{"sonobuoy e2e plugin"}, File: "conformance-" + conformanceVersion + ".tar",
		},
		busybox: true,
		bins: []goBinary{
			{
				moduleDir: distroModuleDir, pkg: "k8s.io/kubernetes/cmd/kubectl", sourceModule: "k8s.io/kubernetes",
				path: conformanceBin + "/kubectl", xflags: kubernetesVersionX(conformanceVersion),
			},
			{
				moduleDir: distroModuleDir, pkg: goRunnerPackage, sourceModule: "k8s.io/kubernetes",
				path: conformanceBin + "/kubeconformance",
			},
		},
		files: []prebuilt{
			{src: "distro/_output/e2e.test-linux-{arch}", path: conformanceBin + "/e2e.test", makeTarget: "make -C distro e2e-{arch}"},
			{src: "distro/_output/ginkgo-linux-{arch}", path: conformanceBin + "/ginkgo", makeTarget: "make -C distro e2e-{arch}"},
		},
		extra: conformanceExtras,
		// test/conformance/image/Dockerfile: ENTRYPOINT ["kubeconformance"]
		// and its ENV lines (go-runner applies the same defaults itself).
		entrypoint: []string{conformanceBin + "/kubeconformance"},
		env: []string{
			`E2E_FOCUS=\[Conformance\]`, "E2E_SKIP=", "E2E_PROVIDER=local", "E2E_PARALLEL=1",
			"E2E_VERBOSITY=4", "RESULTS_DIR=/tmp/results", "KUBECONFIG=",
		},
	},
}

// conformanceExtras adds the legacy entrypoints upstream's image keeps (its
// Dockerfile copies go-runner to /run_e2e.sh and /gorunner; sonobuoy's e2e
// plugin still runs /run_e2e.sh) and the --repo-root go-runner passes to
// e2e.test (/kubernetes; the specs read their manifests from files
// embedded in e2e.test, so it stays empty).
func conformanceExtras([]string) ([]entry, error) {
	return []entry{
		symlink("/run_e2e.sh", conformanceBin+"/kubeconformance"),
		symlink("/gorunner", conformanceBin+"/kubeconformance"),
		dir("/kubernetes", 0o755),
	}, nil
}

// SonobuoyNames are the images only a sonobuoy run needs. Nodes get them only
// when asked (`distrobench up --sonobuoy-images`): the conformance image
// carries e2e.test and weighs about 60 MiB.
func SonobuoyNames() []string {
	out := make([]string, 0, len(sonobuoyRecipes))
	for _, r := range sonobuoyRecipes {
		out = append(out, r.spec.Name)
	}
	return out
}
