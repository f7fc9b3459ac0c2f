package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/upstream"
)

// suiteFlags select our Ginkgo suites.
type suiteFlags struct {
	labelFilter string
	timeout     time.Duration
}

func (f *suiteFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.labelFilter, "label-filter", "", `Ginkgo label filter selecting specs, e.g. "api && !slow" (default: all)`)
	fs.DurationVar(&f.timeout, "suite-timeout", 30*time.Minute, "time limit for the whole suite run")
}

// benchFlags size the benchmarks.
type benchFlags struct{ o job.BenchOptions }

func (f *benchFlags) bind(fs *pflag.FlagSet) {
	fs.IntVar(&f.o.Repeats, "repeats", 5, "repeat every figure this many times (samples + median + min/max)")
	fs.DurationVar(&f.o.IdleWindow, "idle-window", 60*time.Second, "how long idle memory and CPU are sampled")
	fs.DurationVar(&f.o.SettleMin, "settle-min", measure.DefaultSettle.Min, fmt.Sprintf("the least time the cluster is watched before a figure taken at rest (idle footprint, API load); then until every node uses at most %g%% of a core, %s at most",
		measure.DefaultSettle.CPU, measure.DefaultSettle.Max))
	fs.IntVar(&f.o.Objects, "api-objects", 200, "API latency: ConfigMaps per verb per repeat")
	fs.IntVar(&f.o.APIRepeats, "api-repeats", 20, "API latency: create..delete cycles of --api-objects ConfigMaps (each about a second)")
	fs.IntVar(&f.o.Concurrency, "api-concurrency", 8, "API latency: closed-loop workers, each sending its next request when the previous one returns")
	fs.Float64Var(&f.o.Rate, "api-rate", 0, "API latency: open-loop requests/s on a fixed schedule, timed from each scheduled send (0: closed loop of --api-concurrency workers)")
	fs.DurationVar(&f.o.RequestTimeout, "api-request-timeout", time.Minute, "API latency: time limit of one request; a timed-out request fails and counts at its timeout")
	fs.Float64Var(&f.o.ErrorBudget, "api-error-budget", 0, "API latency: fraction (0..1) of a verb's requests that may fail or time out before the run fails")
	fs.IntVar(&f.o.ObjectSize, "api-object-size", 1024, "API latency: bytes of data per ConfigMap")
	fs.IntVar(&f.o.Pods, "pods", 30, "pod startup: pause pods created per repeat (per round in compare), at 10/s")
	fs.StringVar(&f.o.Prometheus.URL, "prometheus-url", "", "read the chatter figures' apiserver counters from this Prometheus server (http(s)://[USER:PASSWORD@]HOST:PORT; the password is never written out) instead of scraping the apiserver's /metrics")
	fs.StringVar(&f.o.Prometheus.Selector, "prometheus-selector", chatter.DefaultPrometheusSelector, "with --prometheus-url: PromQL label matchers picking this cluster's apiserver series (kube-prometheus's job name by default); "+chatter.ServerPlaceholder+" stands for the apiserver's host:port, e.g. 'job=\"apiserver\",instance=\""+chatter.ServerPlaceholder+"\"' to tell a comparison's clusters apart")
}

// validate rejects bench flags that cannot work before anything starts.
func (f *benchFlags) validate(fs *pflag.FlagSet) error {
	if f.o.Rate > 0 && fs.Changed("api-concurrency") {
		return errors.New("--api-rate runs an open loop and --api-concurrency a closed one: give only one of them")
	}
	if err := f.o.Validate(); err != nil {
		return fmt.Errorf("bench flags: %w", err)
	}
	if f.o.Prometheus.URL == "" && fs.Changed("prometheus-selector") {
		return errors.New("--prometheus-selector picks series in the Prometheus --prometheus-url names: give that too")
	}
	if f.o.Prometheus.URL != "" {
		if err := f.o.Prometheus.Validate(); err != nil {
			return fmt.Errorf("--prometheus-url/--prometheus-selector: %w", err)
		}
	}
	return nil
}

func newRunCmd(g *globals) *cobra.Command {
	var (
		pf     profileFlags
		sf     suiteFlags
		bf     benchFlags
		uf     upstreamRunFlags
		noConf bool
		noBen  bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "The main job: build -> up -> footprint -> conformance -> bench -> down -> report",
		Long: `Build k3lite (or take --binary), deploy one server on the datastore, run our
Ginkgo suites and then the upstream Kubernetes [Conformance] suite (--upstream:
core by default, a subset touching every SIG; certified runs all of it;
none skips it), measure footprint and API latency, tear everything down and
write the report (JSON, HTML, JUnit, Markdown) to reports/out/<run>/ with a
'latest' link. Exit 0 only when every phase passed, no spec failed and every
SLO was met; a failed or interrupted run still writes its report with the
reason and the tail of the server log.`,
		Example: `  distrobench run
  distrobench run --profile rke2 --datastore mysql --repeats 3
  distrobench run --binary /usr/local/bin/k3s --label-filter 'api && !slow'
  distrobench run --upstream certified`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bf.validate(cmd.Flags()); err != nil {
				return err
			}
			p, err := pf.load(g, cmd)
			if err != nil {
				return err
			}
			mode, err := uf.parse()
			if err != nil {
				return err
			}
			if err := checkEndpoint(cmd.Context(), p); err != nil {
				return err
			}
			o := job.Options{
				Env: g.env(cmd), Profile: p, RunsDir: g.runsDir(),
				Conform: job.ConformanceOptions{Skip: noConf, LabelFilter: sf.labelFilter, Timeout: sf.timeout,
					Upstream: mode, UpstreamProcs: uf.procs},
				Bench: bf.o,
			}
			o.Bench.Skip = noBen
			out, err := job.Run(cmd.Context(), o)
			return outcome(g, out, err)
		},
	}
	pf.bind(cmd.Flags(), true)
	sf.bind(cmd.Flags())
	bf.bind(cmd.Flags())
	cmd.Flags().BoolVar(&noConf, "skip-conformance", false, "do not run the suites")
	cmd.Flags().BoolVar(&noBen, "skip-bench", false, "do not run the benchmarks")
	uf.bind(cmd.Flags())
	return cmd
}

// upstreamRunFlags select the upstream [Conformance] suite a main job runs
// after our suites (run and matrix).
type upstreamRunFlags struct {
	mode  string
	procs int
}

func (f *upstreamRunFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.mode, "upstream", string(upstream.ModeCore), "upstream [Conformance] suite after ours: none, quick, core or certified")
	fs.IntVar(&f.procs, "procs", 0, fmt.Sprintf("parallel e2e.test processes for the upstream suite (default 2 x CPUs, 4..16: %d here)", upstream.DefaultProcs()))
}

// parse reads --upstream: "none" (or empty) runs no upstream suite.
func (f *upstreamRunFlags) parse() (upstream.Mode, error) {
	if f.mode == "" || f.mode == "none" {
		return "", nil
	}
	m, err := upstream.ParseMode(f.mode)
	if err != nil {
		return "", fmt.Errorf("--upstream: %w (or none)", err)
	}
	if f.procs < 0 {
		return "", fmt.Errorf("--procs %d: want 1 or more (0: automatic)", f.procs)
	}
	return m, nil
}

func printOutcome(g *globals, out *job.Outcome) {
	r := out.Report
	specs := "no specs"
	if r.Tests != nil {
		specs = "specs: " + job.CountsLine(r.Tests.Counts())
	}
	fmt.Fprintf(g.stdout, "\n%s: %s  (%s; %d measurements)\n", r.RunID, r.Status, specs, len(r.Measurements))
	if r.Reason != "" {
		fmt.Fprintf(g.stdout, "reason: %s\n", r.Reason)
	}
	fmt.Fprintf(g.stdout, "report: %s\n        %s\n        %s\n        %s\n", out.Paths.HTML, out.Paths.JSON, out.Paths.JUnit, out.Paths.Markdown)
}

// outcome prints where a job's report is, when one was written, and
// returns the job's error (its exit code: ExitCode).
func outcome(g *globals, out *job.Outcome, err error) error {
	if out != nil && out.Paths.Dir != "" {
		printOutcome(g, out)
	}
	return err
}
