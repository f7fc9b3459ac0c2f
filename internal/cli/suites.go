package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/suites/framework"
)

// target is a cluster to test: a run dir from 'up' (which allows footprint
// measurements) or any kubeconfig.
type target struct {
	runDir     runDirFlag
	kubeconfig string
}

func (t *target) bind(cmd *cobra.Command) {
	t.runDir.bind(cmd)
	cmd.Flags().StringVar(&t.kubeconfig, "kubeconfig", "", "test any cluster through this kubeconfig instead of the one from 'distrobench up'")
}

func newConformanceCmd(g *globals) *cobra.Command {
	var (
		t  target
		sf suiteFlags
	)
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Run our Ginkgo suites (suites/) against a cluster and write a report",
		Long: `Run distrobench's own suites (registered: ` + fmt.Sprint(conformance.Suites()) + `) in-process
against the cluster from 'distrobench up' or any --kubeconfig. Specs carry labels
(api, datastore, slow, rbac, controllers, nodes, network, disruptive, ...) selected
with --label-filter. The nodes suite runs only on a cluster with nodes; its
disruptive specs stop and start node agents, which only works on a cluster from
'distrobench up' (with --kubeconfig deselect them: --label-filter '!disruptive').
Writes JUnit and the canonical JSON (plus HTML and Markdown) to reports/out/.`,
		Example: `  distrobench conformance --label-filter 'api && !slow'
  distrobench conformance --kubeconfig ~/.kube/config`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			kc, name, ds, err := t.resolve(g)
			if err != nil {
				return err
			}
			suites, nc, err := t.nodeSetup(ctx, g, kc)
			if err != nil {
				return err
			}
			rep := job.NewReport(commandLine(cmd), name, ds, time.Now(), Version)
			rep.Params.LabelFilter = sf.labelFilter
			pr := progress.New(g.stderr)
			pr.Phase("conformance")
			start := time.Now()
			tree, err := conformance.Run(ctx, conformance.Options{
				Kubeconfig: kc, LabelFilter: sf.labelFilter, Timeout: sf.timeout, Log: g.log,
				Suites: suites, NodeController: nc,
				Progress: func(p conformance.Progress) {
					pr.Status("%s", p)
				},
			})
			rep.Tests = tree
			return finishReport(ctx, g, rep, "conformance", start, err)
		},
	}
	t.bind(cmd)
	sf.bind(cmd.Flags())
	return cmd
}

func newBenchCmd(g *globals) *cobra.Command {
	var (
		t  target
		bf benchFlags
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure footprint and API latency of a cluster and write a report",
		Long: `Measure the cluster from 'distrobench up': idle RSS/PSS/CPU of the server and
datastore process trees, datastore size on disk, API latency (create/get/list/
update/delete of ConfigMaps, p50/p90/p99 against the Kubernetes API SLOs) with
the harness's own overhead, on a cluster with nodes the agents' memory (PSS
apart from the pods') and pod startup latency (30 pause pods, SLO p99 <= 5 s),
and start-to-/readyz and SIGTERM times over server restarts. With --kubeconfig only the API latency is measured (the processes are
not ours to watch or restart).`,
		Example: `  distrobench bench --repeats 3 --idle-window 30s
  distrobench bench --kubeconfig ~/.kube/config --api-concurrency 16`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pr := progress.New(g.stderr)
			pr.Phase("bench")
			start := time.Now()
			var (
				rep *result.Report
				ms  []result.Measurement
				err error
			)
			if t.kubeconfig != "" {
				rep = job.NewReport(commandLine(cmd), "kubeconfig", "unknown", time.Now(), Version)
				cfg, cerr := clientcmd.BuildConfigFromFlags("", t.kubeconfig)
				if cerr != nil {
					return fmt.Errorf("kubeconfig %s: %w", t.kubeconfig, cerr)
				}
				stopSelf := measure.SelfUsage(ctx, time.Second, map[string]string{"phase": "api-latency"})
				ms, err = measure.APILatency(ctx, measure.APIOptions{Config: cfg, Objects: bf.o.Objects, Concurrency: bf.o.Concurrency,
					ObjectSize: bf.o.ObjectSize, Repeats: bf.o.Repeats, Log: g.log, Progress: func(s string) { pr.Status("%s", s) }})
				ms = append(ms, stopSelf()...)
			} else {
				c, lerr := t.runDir.load(g)
				if lerr != nil {
					return lerr
				}
				rep = job.NewReport(commandLine(cmd), c.Profile, c.Datastore, time.Now(), Version)
				// The server of a cluster from 'up' cannot be restarted from
				// here (its join token is not stored), so no restart figures.
				o := bf.o
				o.SkipRestarts = true
				ms, err = job.Bench(ctx, c, o, g.log, pr)
			}
			rep.Params.Repeats = bf.o.Repeats
			rep.Measurements = ms
			return finishReport(ctx, g, rep, "bench", start, err)
		},
	}
	t.bind(cmd)
	bf.bind(cmd.Flags())
	return cmd
}

// nodeSetup picks the suites for the target cluster (the nodes suite only
// when it has nodes) and, for a cluster from 'up', the controller that stops
// and starts its agents.
func (t *target) nodeSetup(ctx context.Context, g *globals, kubeconfig string) ([]string, framework.NodeController, error) {
	if t.kubeconfig == "" {
		c, err := t.runDir.load(g)
		if err != nil {
			return nil, nil, err
		}
		return job.NodeSetup(c), nil, nil
	}
	n, err := conformance.CountNodes(ctx, kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		g.log.Info("the cluster has no nodes: the nodes suite is not run", "suites", conformance.SuitesFor(0))
	}
	return conformance.SuitesFor(n), nil, nil
}

func (t *target) resolve(g *globals) (kubeconfig, name, datastore string, err error) {
	if t.kubeconfig != "" {
		if _, err := os.Stat(t.kubeconfig); err != nil {
			return "", "", "", fmt.Errorf("kubeconfig: %w", err)
		}
		return t.kubeconfig, "kubeconfig", "unknown", nil
	}
	c, err := t.runDir.load(g)
	if err != nil {
		return "", "", "", err
	}
	return c.Kubeconfig, c.Profile, c.Datastore, nil
}

func phaseOf(name string, start time.Time, err error) result.Phase {
	ph := result.Phase{Name: name, Status: result.StatusPassed, StartedAt: start.UTC(), DurationSeconds: time.Since(start).Seconds()}
	if err != nil {
		ph.Status = result.StatusFailed
		ph.Error = redact.String(err.Error())
	}
	return ph
}

// finishReport records the command's phase, writes the report in every
// format and prints where it is; the phase's own error wins over the verdict.
func finishReport(ctx context.Context, g *globals, rep *result.Report, phase string, start time.Time, err error) error {
	rep.Phases = append(rep.Phases, phaseOf(phase, start, err))
	out, ferr := job.Finish(ctx, rep, g.outBase(), g.log)
	if out != nil && out.Paths.Dir != "" {
		printOutcome(g, out)
	}
	if err != nil {
		return err
	}
	return ferr
}
