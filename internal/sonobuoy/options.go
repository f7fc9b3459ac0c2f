package sonobuoy

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	sonoconfig "github.com/vmware-tanzu/sonobuoy/pkg/config"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Mode selects the specs sonobuoy's e2e plugin runs, as `sonobuoy run --mode`.
type Mode string

// The modes of sonobuoy v0.57.3 (`sonobuoy modes`) that distrobench offers.
// sonobuoy's unofficial conformance-lite is left out: it is no certification
// run and the issue asks for none.
const (
	// ModeQuick runs one spec (create and delete a pod): checks the plumbing.
	ModeQuick Mode = "quick"
	// ModeNonDisruptiveConformance runs every [Conformance] spec except the
	// [Disruptive] ones; sonobuoy's default.
	ModeNonDisruptiveConformance Mode = "non-disruptive-conformance"
	// ModeCertifiedConformance runs every [Conformance] spec, the run the
	// CNCF certification asks for.
	ModeCertifiedConformance Mode = "certified-conformance"
)

// Modes lists the valid modes.
func Modes() []Mode {
	return []Mode{ModeQuick, ModeNonDisruptiveConformance, ModeCertifiedConformance}
}

// ParseMode checks a mode name as a CLI flag gives it.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := modeEnv[m]; !ok {
		return "", fmt.Errorf("%q is not a sonobuoy mode (valid: %s)", s, joinModes())
	}
	return m, nil
}

// modeEnv is what each mode sets on the e2e plugin, the values of
// validModes in sonobuoy v0.57.3's cmd/sonobuoy/app/modes.go (that table is
// unexported in a CLI package, so it is restated here; sonobuoy_test.go
// pins the values). An empty value removes the variable from the plugin's
// container, as sonobuoy's --plugin-env does, so the conformance image's
// go-runner applies its own default.
var modeEnv = map[Mode]map[string]string{
	ModeQuick: {
		envFocus: "Pods should be submitted and removed", envSkip: "", envParallel: "false",
	},
	ModeNonDisruptiveConformance: {
		envFocus: `\[Conformance\]`, envSkip: `\[Disruptive\]|NoExecuteTaintManager`, envParallel: "false",
	},
	ModeCertifiedConformance: {
		envFocus: `\[Conformance\]`, envSkip: "", envParallel: "false",
	},
}

// Environment variables of the e2e plugin (read by the conformance image's
// go-runner).
const (
	envFocus    = "E2E_FOCUS"
	envSkip     = "E2E_SKIP"
	envParallel = "E2E_PARALLEL"
)

// aggregatorService is the Service sonobuoy creates in front of its
// aggregator pod (pkg/client/gen.go).
const aggregatorService = "sonobuoy-aggregator"

// e2ePlugin is the name of sonobuoy's built-in conformance plugin, also its
// directory in the results tarball.
const e2ePlugin = "e2e"

// Defaults.
const (
	// DefaultMode is sonobuoy's own default mode.
	DefaultMode = ModeNonDisruptiveConformance
	// DefaultNamespace is sonobuoy's namespace ("sonobuoy").
	DefaultNamespace = sonoconfig.DefaultNamespace
	// DefaultTimeout is sonobuoy's aggregator timeout (6 h): the longest
	// the plugin may run before its result is recorded as a timeout.
	DefaultTimeout = time.Duration(sonoconfig.DefaultAggregationServerTimeoutSeconds) * time.Second
	// DefaultProgressInterval is how often Run reports progress.
	DefaultProgressInterval = 30 * time.Second
)

// Options say where and how to run sonobuoy. The zero value of every field
// but Kubeconfig is a sensible default.
type Options struct {
	// Kubeconfig is the path of the kubeconfig of the cluster under test
	// (required; its current context is used).
	Kubeconfig string
	// Mode selects the specs (default DefaultMode).
	Mode Mode
	// Namespace is where sonobuoy's aggregator runs (default "sonobuoy"). It
	// must not exist yet: Run refuses to reuse another run's namespace.
	Namespace string
	// OutDir receives the results tarball (default: the working directory).
	OutDir string
	// ImagePullPolicy of sonobuoy's pods: Always, IfNotPresent (default, as
	// sonobuoy) or Never.
	ImagePullPolicy corev1.PullPolicy
	// SonobuoyImage is the aggregator and worker image (default
	// DefaultSonobuoyImage, what sonobuoy v0.57.3 runs).
	SonobuoyImage string
	// ConformanceImage is the e2e plugin's image (default
	// registry.k8s.io/conformance:<the cluster's version>, what sonobuoy
	// picks; see ConformanceImageFor).
	ConformanceImage string
	// Timeout bounds the plugin run (default DefaultTimeout). It is also
	// sonobuoy's aggregator timeout, so a run that hits it still ends with
	// a results tarball recording the timeout.
	Timeout time.Duration
	// ProgressInterval is how often Progress receives a status line
	// (default DefaultProgressInterval).
	ProgressInterval time.Duration
	// Progress, when set, receives one line per report: each plugin's
	// status, specs completed/total, failures so far, elapsed time.
	Progress func(line string)
	// Log receives debug detail, sonobuoy's own log lines included
	// (default: discarded).
	Log *slog.Logger
	// AdvertiseAddress is the host:port the e2e plugin's worker sends its
	// results and progress to (default: sonobuoy's aggregator Service,
	// "sonobuoy-aggregator.<Namespace>.svc:8080"). Not sonobuoy's own
	// default: v0.57.3's aggregator advertises "[<pod IPv4>]:8080", which
	// the worker, built with Go 1.26 (net/url no longer accepts an IPv4
	// address in brackets), refuses ("invalid IP-literal"); upstream's
	// image, built with an older Go, accepts it. The Service name works
	// with both; it needs cluster DNS in the plugin's pod, as the
	// conformance specs do anyway.
	AdvertiseAddress string
	// KeepRunning leaves sonobuoy's namespace and RBAC objects in the
	// cluster at the end; by default Run deletes them, also on failure.
	KeepRunning bool
}

// pullPolicies are the values Kubernetes accepts.
var pullPolicies = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}

// setDefaults fills in every unset field.
func (o *Options) setDefaults() {
	if o.Mode == "" {
		o.Mode = DefaultMode
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.OutDir == "" {
		o.OutDir = "."
	}
	if o.ImagePullPolicy == "" {
		o.ImagePullPolicy = corev1.PullPolicy(sonoconfig.DefaultSonobuoyPullPolicy)
	}
	if o.SonobuoyImage == "" {
		o.SonobuoyImage = DefaultSonobuoyImage()
	}
	if o.AdvertiseAddress == "" {
		o.AdvertiseAddress = fmt.Sprintf("%s.%s.svc:%d", aggregatorService, o.Namespace, sonoconfig.DefaultAggregationServerBindPort)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ProgressInterval == 0 {
		o.ProgressInterval = DefaultProgressInterval
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// validate returns every problem at once.
func (o *Options) validate() error {
	var errs []error
	if o.Kubeconfig == "" {
		errs = append(errs, errors.New("kubeconfig: empty (give the kubeconfig of the cluster to test)"))
	}
	if _, ok := modeEnv[o.Mode]; !ok {
		errs = append(errs, fmt.Errorf("mode: %q is not a sonobuoy mode (valid: %s)", o.Mode, joinModes()))
	}
	if !slices.Contains(pullPolicies, o.ImagePullPolicy) {
		errs = append(errs, fmt.Errorf("imagePullPolicy: %q is not one of Always, IfNotPresent, Never", o.ImagePullPolicy))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %s is negative", o.Timeout))
	} else if o.Timeout%time.Second != 0 || o.Timeout < time.Second {
		// sonobuoy's aggregator takes whole seconds.
		errs = append(errs, fmt.Errorf("timeout: %s is not a whole number of seconds (at least 1s)", o.Timeout))
	}
	if _, _, err := net.SplitHostPort(o.AdvertiseAddress); err != nil {
		errs = append(errs, fmt.Errorf("advertiseAddress: %q is not host:port: %w", o.AdvertiseAddress, err))
	}
	if o.ProgressInterval < 0 {
		errs = append(errs, fmt.Errorf("progressInterval: %s is negative", o.ProgressInterval))
	}
	if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace: %q is not a valid namespace name: %s", o.Namespace, strings.Join(msgs, "; ")))
	}
	return errors.Join(errs...)
}

func joinModes() string {
	var s []string
	for _, m := range Modes() {
		s = append(s, string(m))
	}
	return strings.Join(s, ", ")
}
