package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/build"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/profile"
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
			ctx := cmd.Context()
			p, err := o.pf.load(g, cmd)
			if err != nil {
				return err
			}
			if err := checkEndpoint(cmd.Context(), p); err != nil {
				return err
			}
			pr := progress.New(g.stderr)
			bin, err := binaryFor(cmd, g, p, pr)
			if err != nil {
				return err
			}
			runDir := filepath.Join(g.runsDir(), job.RunID(time.Now(), p.Metadata.Name, p.Spec.Datastore.Type))
			if err := os.MkdirAll(runDir, 0o700); err != nil {
				return fmt.Errorf("create run directory: %w", err)
			}
			var tarballs []string
			if deploy.HasNodes(p) {
				pr.Phase(fmt.Sprintf("images (linux/%s)", p.Spec.Arch))
				imgs, err := job.NodeImages(ctx, g.repoRoot, p.Spec.Arch, o.sonobuoyImages, g.log, func(s string) { pr.Status("%s", s) })
				if err != nil {
					return err
				}
				tarballs = job.Tarballs(imgs)
				if err := job.WriteImages(runDir, imgs); err != nil {
					return err
				}
			}
			pr.Phase(fmt.Sprintf("up: %s on %s", p.Metadata.Name, p.Spec.Datastore.Type))
			etcd, err := job.EtcdBinary(ctx, g.repoRoot, p, g.log, func(s string) { pr.Status("%s", s) })
			if err != nil {
				return err
			}
			c, err := deploy.Up(ctx, deploy.Options{
				Profile: p, Binary: bin, Datastore: p.Spec.Datastore.Type, Endpoint: p.Spec.Datastore.Endpoint,
				EtcdBinary: etcd, RunDir: runDir, ImageTarballs: tarballs, Log: g.log, Progress: func(s string) { pr.Status("%s", s) },
			})
			if err != nil {
				return err
			}
			if err := linkCurrent(g.runsDir(), runDir); err != nil {
				g.log.Warn("could not update the current link", "err", err)
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

// binaryFor returns the profile's binary, building k3lite when bundled.
func binaryFor(cmd *cobra.Command, g *globals, p *profile.Profile, pr *progress.Printer) (string, error) {
	if p.Spec.Bundled == nil {
		return p.Spec.Binary, nil
	}
	pr.Phase(fmt.Sprintf("build k3lite (%s)", p.Spec.Arch))
	a, err := build.Build(cmd.Context(), build.Options{
		RepoRoot: g.repoRoot, Arch: p.Spec.Arch, Bundled: p.Spec.Bundled, Log: g.log,
		Progress: func(s string) { pr.Status("%s", s) },
	})
	if err != nil {
		return "", err
	}
	return a.Path, nil
}

func linkCurrent(runsDir, runDir string) error {
	return atomicfile.Symlink(filepath.Base(runDir), filepath.Join(runsDir, "current"))
}

type runDirFlag struct{ dir string }

func (f *runDirFlag) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "run-dir", "", "run directory made by 'distrobench up' (default: _output/runs/current)")
}

func (f *runDirFlag) load(g *globals) (*deploy.Cluster, error) {
	dir := f.dir
	if dir == "" {
		dir = filepath.Join(g.runsDir(), "current")
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no cluster is up (%s does not exist): start one with 'distrobench up' or pass --run-dir", dir)
		}
		if target, err := filepath.EvalSymlinks(dir); err == nil {
			dir = target
		}
	}
	return deploy.Load(dir)
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
