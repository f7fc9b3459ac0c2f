package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"

	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/sonobuoy"
)

// Upstream suite runners (--runner).
const (
	runnerE2E      = job.RunnerE2E
	runnerSonobuoy = job.RunnerSonobuoy
)

// sonobuoyOnlyFlags apply to --runner sonobuoy only.
var sonobuoyOnlyFlags = []string{"image-pull-policy", "sonobuoy-image", "conformance-image", "keep-sonobuoy"}

// sonobuoyFlags configure the sonobuoy runner.
type sonobuoyFlags struct {
	pullPolicy       string
	sonobuoyImage    string
	conformanceImage string
	keep             bool
}

func (f *sonobuoyFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.pullPolicy, "image-pull-policy", string(corev1.PullIfNotPresent), "with --runner sonobuoy: pull policy of sonobuoy's pods (Always, IfNotPresent, Never)")
	fs.StringVar(&f.sonobuoyImage, "sonobuoy-image", "", "with --runner sonobuoy: aggregator/worker image (default "+sonobuoy.DefaultSonobuoyImage()+")")
	fs.StringVar(&f.conformanceImage, "conformance-image", "", "with --runner sonobuoy: e2e plugin image (default registry.k8s.io/conformance:<the cluster's version>, as sonobuoy picks)")
	fs.BoolVar(&f.keep, "keep-sonobuoy", false, "with --runner sonobuoy: leave sonobuoy's namespace in the cluster at the end")
}

func sonobuoyModes() string {
	var out []string
	for _, m := range sonobuoy.Modes() {
		out = append(out, string(m))
	}
	return strings.Join(out, ", ")
}

// changedOf returns the first of names the user set, or "".
func changedOf(cmd *cobra.Command, names []string) string {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return n
		}
	}
	return ""
}

// validateSonobuoy checks the flags of --runner sonobuoy: sonobuoy selects
// specs by its own modes; the e2e runner's selection and sizing flags and our
// suites' label filter do not apply.
func (f *upstreamFlags) validateSonobuoy(cmd *cobra.Command) error {
	if n := changedOf(cmd, []string{"procs", "rerun-failed", "focus", "skip", "kubectl", "label-filter"}); n != "" {
		return fmt.Errorf("--%s does not apply to --runner sonobuoy (sonobuoy selects specs with --mode: %s)", n, sonobuoyModes())
	}
	if cmd.Flags().Changed("mode") {
		if _, err := sonobuoy.ParseMode(f.mode); err != nil {
			return err
		}
	}
	switch p := corev1.PullPolicy(f.sb.pullPolicy); p {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("--image-pull-policy %q: want Always, IfNotPresent or Never", f.sb.pullPolicy)
	}
	return nil
}

// runSonobuoy runs the upstream suite through sonobuoy and writes the report;
// the results tarball lands in the report directory's sonobuoy/.
func runSonobuoy(cmd *cobra.Command, g *globals, t *target, uf *upstreamFlags) error {
	tg, err := t.open(g)
	if err != nil {
		return err
	}
	o := sonobuoy.Options{
		ImagePullPolicy: corev1.PullPolicy(uf.sb.pullPolicy), SonobuoyImage: uf.sb.sonobuoyImage,
		ConformanceImage: uf.sb.conformanceImage, KeepRunning: uf.sb.keep,
	}
	if cmd.Flags().Changed("mode") {
		o.Mode, _ = sonobuoy.ParseMode(uf.mode) // checked by validateSonobuoy
	}
	out, err := job.Sonobuoy(cmd.Context(), g.env(cmd), tg, o)
	return outcome(g, out, err)
}
