package job

import (
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/images"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/result"
)

// Target is the cluster a job's phases act on, and the report they fill:
// a cluster the job brings up (Profile and RunDir given; Binary, Images
// and Cluster set by the phases that make them), one 'distrobench up' left
// running or any cluster through a kubeconfig (OpenTarget). Every phase
// takes its target, so one phase table can run for several clusters.
type Target struct {
	Profile *profile.Profile
	RunDir  string
	// Binary is the distribution binary: the profile's, or k3lite built.
	Binary string
	// Images are the image archives every node imports (none without nodes).
	Images []images.Image
	// Cluster is the running cluster (nil until up succeeded, and for a
	// cluster the harness did not start).
	Cluster *deploy.Cluster
	// Kubeconfig reaches a cluster the harness did not start (with no
	// Cluster); see kubeconfig.
	Kubeconfig string
	Report     *result.Report
	// interrupted is set when Ctrl-C stopped the phases, for the Finally
	// ones (down keeps the server log's tail then).
	interrupted bool
}

// hasNodes is the condition of the images phase: only nodes import images.
func hasNodes(t *Target) bool { return deploy.HasNodes(t.Profile) }

// clusterUp is the condition of the phases that need a running cluster.
func clusterUp(t *Target) bool { return t.Cluster != nil }

// kubeconfig is the path of the kubeconfig that reaches t.
func (t *Target) kubeconfig() string {
	if t.Cluster != nil {
		return t.Cluster.Kubeconfig
	}
	return t.Kubeconfig
}
