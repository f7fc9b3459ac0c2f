package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/upstream"
)

// target selects the cluster to test: a run dir from 'up' (which allows
// footprint measurements) or any kubeconfig.
type target struct {
	runDir     runDirFlag
	kubeconfig string
}

func (t *target) bind(cmd *cobra.Command) {
	t.runDir.bind(cmd)
	cmd.Flags().StringVar(&t.kubeconfig, "kubeconfig", "", "test any cluster through this kubeconfig instead of the one from 'distrobench up'")
}

func (t *target) open(g *globals) (*job.Target, error) {
	return job.OpenTarget(g.runsDir(), t.runDir.dir, t.kubeconfig)
}

func newConformanceCmd(g *globals) *cobra.Command {
	var (
		t  target
		sf suiteFlags
		uf upstreamFlags
	)
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Run our Ginkgo suites (suites/), or with --upstream the Kubernetes conformance suite, against a cluster and write a report",
		Long: `Run distrobench's own suites (registered: ` + fmt.Sprint(conformance.Suites()) + `) in-process
against the cluster from 'distrobench up' or any --kubeconfig. Specs carry labels
(api, datastore, slow, rbac, controllers, nodes, network, disruptive, ...) selected
with --label-filter. The nodes suite runs only on a cluster with nodes; its
disruptive specs stop and start node agents, which only works on a cluster from
'distrobench up' (with --kubeconfig deselect them: --label-filter '!disruptive').
Writes JUnit and the canonical JSON (plus HTML and Markdown) to reports/out/.

With --upstream, run the upstream Kubernetes [Conformance] suite instead: the
e2e.test binary of the Kubernetes version k3lite links, driven by the ginkgo CLI
(both from 'make -C distro e2e', built here when missing). --mode quick runs
sonobuoy's quick spec, core a fixed subset touching every SIG (a few minutes),
certified all [Conformance] specs (parallel-safe ones on --procs processes, then
the [Serial] ones on one, as sonobuoy's certified-conformance runs them).
--rerun-failed REPORT.json runs only the specs that failed in an earlier report.
Every [Conformance] spec is in the report: those the run did not select as
"not selected", with why (counted apart: pass rates are over the selected ones).
JUnit and the ginkgo log of each pass land in the report directory's upstream/.

With --runner sonobuoy, sonobuoy (v0.57.3, through its Go client) runs the
suite inside the cluster instead, as on a real k3s/rke2 fleet that can pull
images: run, status every 30 s, retrieve; the results tarball is kept next to
the report and imported into the same report tree. On a k3lite cluster from
'distrobench up --sonobuoy-images' its two images are pre-imported.`,
		Example: `  distrobench conformance --label-filter 'api && !slow'
  distrobench conformance --kubeconfig ~/.kube/config
  distrobench conformance --upstream --mode quick
  distrobench conformance --upstream --mode certified --procs 8
  distrobench conformance --upstream --rerun-failed reports/out/latest/report.json
  distrobench conformance --runner sonobuoy --kubeconfig ~/.kube/config --mode certified-conformance`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := uf.validate(cmd); err != nil {
				return err
			}
			if uf.runner == runnerSonobuoy {
				return runSonobuoy(cmd, g, &t, &uf)
			}
			if uf.upstream {
				return runUpstream(cmd, g, &t, &sf, &uf)
			}
			tg, err := t.open(g)
			if err != nil {
				return err
			}
			out, err := job.Conformance(cmd.Context(), g.env(cmd), tg, job.ConformanceOptions{LabelFilter: sf.labelFilter, Timeout: sf.timeout})
			return outcome(g, out, err)
		},
	}
	t.bind(cmd)
	sf.bind(cmd.Flags())
	uf.bind(cmd.Flags())
	return cmd
}

// upstreamFlags select and size a run of the upstream conformance suite.
type upstreamFlags struct {
	upstream    bool
	mode        string
	procs       int
	rerunFailed string
	focus, skip string
	kubectl     string
	// runner "sonobuoy" drives sonobuoy instead of e2e.test (sonobuoy.go).
	runner string
	sb     sonobuoyFlags
}

func (f *upstreamFlags) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&f.upstream, "upstream", false, "run the upstream Kubernetes [Conformance] suite (e2e.test + ginkgo) instead of our suites")
	fs.StringVar(&f.mode, "mode", string(upstream.ModeCore), "with --upstream: quick (sonobuoy's one-spec smoke test), core (a fixed subset touching every SIG) or certified (all [Conformance] specs)")
	fs.IntVar(&f.procs, "procs", 0, fmt.Sprintf("with --upstream: parallel e2e.test processes for the parallel-safe specs (default 2 x CPUs, 4..16: %d here)", upstream.DefaultProcs()))
	fs.StringVar(&f.rerunFailed, "rerun-failed", "", "with --upstream: run only the upstream specs that failed or errored in this distrobench report.json")
	fs.StringVar(&f.focus, "focus", "", "with --upstream: run the [Conformance] specs whose full name matches this regexp (replaces --mode)")
	fs.StringVar(&f.skip, "skip", "", "with --upstream: skip the specs whose full name matches this regexp")
	fs.StringVar(&f.kubectl, "kubectl", "", "with --upstream: kubectl for the sig-cli specs (default: the cluster's k3lite as kubectl, else k3lite from distro/_output, else kubectl in PATH)")
	fs.StringVar(&f.runner, "runner", runnerE2E, "upstream suite runner: e2e (e2e.test + ginkgo from this machine, air-gapped) or sonobuoy (sonobuoy's pods in the cluster, which must pull or hold its images; implies --upstream; --mode then takes sonobuoy's modes: "+sonobuoyModes()+")")
	f.sb.bind(fs)
}

// validate rejects upstream-only flags without --upstream and our suites'
// --label-filter with it, instead of silently ignoring them.
func (f *upstreamFlags) validate(cmd *cobra.Command) error {
	switch f.runner {
	case runnerE2E:
	case runnerSonobuoy:
		return f.validateSonobuoy(cmd)
	default:
		return fmt.Errorf("--runner %q: want %s or %s", f.runner, runnerE2E, runnerSonobuoy)
	}
	if changed := changedOf(cmd, sonobuoyOnlyFlags); changed != "" {
		return fmt.Errorf("--%s applies to the sonobuoy runner: add --runner sonobuoy", changed)
	}
	only := []string{"mode", "procs", "rerun-failed", "focus", "skip", "kubectl"}
	if !f.upstream {
		for _, n := range only {
			if cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s applies to the upstream suite: add --upstream", n)
			}
		}
		return nil
	}
	if cmd.Flags().Changed("label-filter") {
		return fmt.Errorf("--label-filter selects our suites' specs; with --upstream select with --mode, --focus and --skip")
	}
	if _, err := upstream.ParseMode(f.mode); err != nil {
		return err
	}
	if f.procs < 0 {
		return fmt.Errorf("--procs %d: want 1 or more (0: automatic)", f.procs)
	}
	return nil
}

// runUpstream runs the upstream conformance suite and writes the report.
func runUpstream(cmd *cobra.Command, g *globals, t *target, sf *suiteFlags, uf *upstreamFlags) error {
	tg, err := t.open(g)
	if err != nil {
		return err
	}
	mode, _ := upstream.ParseMode(uf.mode) // checked by validate
	u := job.UpstreamOptions{Mode: mode, Focus: uf.focus, Skip: uf.skip, Procs: uf.procs, Kubectl: uf.kubectl, RerunFailed: uf.rerunFailed}
	if cmd.Flags().Changed("suite-timeout") {
		u.Timeout = sf.timeout
	}
	out, err := job.Upstream(cmd.Context(), g.env(cmd), tg, u)
	return outcome(g, out, err)
}

func newBenchCmd(g *globals) *cobra.Command {
	var (
		t  target
		bf benchFlags
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure footprint and API latency of a cluster and write a report",
		Long: `Measure the cluster from 'distrobench up': the idle footprint of every node
(its own cgroup: server or agent, containerd, shims; pods apart) and of the
datastore servers in one settled window; the datastore's size as the datastore
reports it; API latency (create/get/list/update/delete of ConfigMaps from a
closed loop of --api-concurrency workers or an open loop of --api-rate
requests/s, with no client-side throttling; nearest-rank p99 against the
Kubernetes API SLOs, the error rate against --api-error-budget, offered and
achieved rates) with the harness's own overhead; on a cluster with nodes, pod
startup latency (30 pause pods, SLO p99 <= 5 s); and start-to-/readyz and
SIGTERM times over server restarts. With --kubeconfig only the API latency is
measured (the processes are not ours to watch or restart). Every figure is
described in reports/METHOD.md.`,
		Example: `  distrobench bench --repeats 3 --idle-window 30s
  distrobench bench --kubeconfig ~/.kube/config --api-concurrency 16
  distrobench bench --kubeconfig ~/.kube/config --api-rate 500 --api-error-budget 0.001`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bf.validate(cmd.Flags()); err != nil {
				return err
			}
			tg, err := t.open(g)
			if err != nil {
				return err
			}
			out, err := job.BenchCluster(cmd.Context(), g.env(cmd), tg, bf.o)
			return outcome(g, out, err)
		},
	}
	t.bind(cmd)
	bf.bind(cmd.Flags())
	return cmd
}

// newChildSuitesCmd is the hidden command a comparison runs each cell's
// suites with, in a process of their own (job.ChildSuites).
func newChildSuitesCmd(g *globals) *cobra.Command {
	var o job.ChildSuitesOptions
	var sf suiteFlags
	cmd := &cobra.Command{
		Use:    job.ChildSuitesCommand,
		Short:  "Run our suites for a comparison's cell (internal: started by distrobench compare)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Kubeconfig == "" || o.TreeOut == "" {
				return fmt.Errorf("%s needs --kubeconfig and --tree-out (it is started by distrobench compare)", job.ChildSuitesCommand)
			}
			o.LabelFilter, o.Timeout = sf.labelFilter, sf.timeout
			return job.ChildSuites(cmd.Context(), g.env(cmd), o)
		},
	}
	sf.bind(cmd.Flags())
	cmd.Flags().StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the cell's cluster")
	cmd.Flags().StringSliceVar(&o.Suites, "suites", nil, "suites to run")
	cmd.Flags().Float64Var(&o.TimeoutMultiplier, "timeout-multiplier", 1, "stretch every spec timeout")
	cmd.Flags().StringVar(&o.JUnitPath, "junit", "", "where Ginkgo's JUnit goes")
	cmd.Flags().StringVar(&o.TreeOut, "tree-out", "", "where the test tree goes (JSON)")
	return cmd
}
