package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/progress"
)

type upOptions struct {
	pf             profileFlags
	sonobuoyImages bool
}

func newUpCmd(g *globals) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Deploy a cluster of a profile (server, its node, --agents N more) and leave it running",
		Long: `Build (or take) the distribution binary and start one server on the chosen
datastore, in a run directory under _output/runs/. mysql, postgres and etcd
start a local MariaDB/PostgreSQL/etcd server for the run. The server runs a
node of its own unless its args hold --disable-agent; --agents N joins N more
nodes. Every node runs on a simulated host: a network namespace of its own on
a private bridge (needs root), so the machine's own network is never changed;
'up' waits until every node is Ready. Every process runs in its own process
group; 'distrobench down' stops them all and removes what the nodes made. The
newest run is also reachable as _output/runs/current.`,
		Example: `  distrobench up --datastore postgres
  distrobench up --agents 2
  export KUBECONFIG=$(distrobench status -o kubeconfig)
  distrobench down`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := o.pf.load(g, cmd)
			if err != nil {
				return err
			}
			if err := checkEndpoint(cmd.Context(), p); err != nil {
				return err
			}
			bu := job.BringUp{RepoRoot: g.repoRoot, Log: g.log, Progress: progress.New(g.stderr), SonobuoyImages: o.sonobuoyImages}
			c, err := bu.Up(cmd.Context(), p, g.runsDir())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "ready after %.1fs\nrun dir:    %s\nkubeconfig: %s\nserver:     %s\n",
				c.ReadyAfter.Seconds(), c.RunDir, c.Kubeconfig, c.ServerURL)
			if c.Network != nil {
				fmt.Fprintf(g.stdout, "nodes:      %s Ready after %.1fs (simulated hosts on %s, bridge %s)\n",
					strings.Join(c.NodeNames(), ", "), c.NodesReadyAfter.Seconds(), c.Network.Subnet, c.Network.Bridge)
			}
			fmt.Fprintf(g.stdout, "stop with:  distrobench down --run-dir %s\n", c.RunDir)
			return nil
		},
	}
	o.pf.bind(cmd.Flags(), true)
	cmd.Flags().BoolVar(&o.sonobuoyImages, "sonobuoy-images", false, "also import sonobuoy's images (its aggregator and registry.k8s.io/conformance) into every node, for 'conformance --runner sonobuoy' without a registry")
	return cmd
}

type runDirFlag struct{ dir string }

func (f *runDirFlag) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "run-dir", "", "run directory made by 'distrobench up' (default: _output/runs/current)")
}

func (f *runDirFlag) load(g *globals) (*deploy.Cluster, error) {
	return job.LoadRun(g.runsDir(), f.dir)
}

func newDownCmd(g *globals) *cobra.Command {
	o := &runDirFlag{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop everything 'distrobench up' started and remove what its nodes made",
		Long: `Stop the agents, the server and any datastore server of a run, by process
group, TERM then KILL; then remove what the nodes left: containerd shims and
containers, mounts under the run directory, the nodes' cgroups, the network
namespaces, veth pairs and bridge. Safe to run again (e.g. after a crash).
Logs stay in the run directory.`,
		Example: "  distrobench down\n  distrobench down --run-dir _output/runs/20261127T101500Z-k3s-sqlite",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.load(g)
			if err != nil {
				return err
			}
			if err := c.Down(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "stopped %s (logs kept in %s)\n", c.RunDir, c.RunDir)
			return nil
		},
	}
	o.bind(cmd)
	return cmd
}

func newStatusCmd(g *globals) *cobra.Command {
	o := &runDirFlag{}
	var output string
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show whether the cluster from 'distrobench up' is running and ready",
		Example: "  distrobench status\n  export KUBECONFIG=$(distrobench status -o kubeconfig)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.load(g)
			if err != nil {
				return err
			}
			if output == "kubeconfig" {
				fmt.Fprintln(g.stdout, c.Kubeconfig)
				return nil
			}
			st := c.Status(cmd.Context())
			fmt.Fprintf(g.stdout, "run dir:    %s\nserver:     %s (pid %d) running=%v ready=%v\ndatastore:  %s\nkubeconfig: %s\n",
				c.RunDir, c.ServerURL, c.ServerPID, st.ServerRunning, st.Ready, c.Datastore, c.Kubeconfig)
			if st.WantNodes > 0 {
				fmt.Fprintf(g.stdout, "nodes:      %d/%d Ready, %d/%d agents running\n", max(st.ReadyNodes, 0), st.WantNodes, st.AgentsRunning, len(c.Agents))
			}
			if st.Message != "" {
				fmt.Fprintf(g.stdout, "note:       %s\n", st.Message)
			}
			if !st.Ready || st.ReadyNodes < st.WantNodes {
				return fmt.Errorf("cluster in %s is not ready", c.RunDir)
			}
			return nil
		},
	}
	o.bind(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "print only this field: kubeconfig")
	return cmd
}
