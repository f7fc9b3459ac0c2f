package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/result"
)

// chatterClients are the clients counted apart besides the default flow
// schemas' ones: kube-proxy, CoreDNS and the binary's network agent.
func chatterClients(binary string) []chatter.ClientSubject {
	out := append([]chatter.ClientSubject(nil), chatter.StandardClients...)
	// The default flow schemas file flannel under global-default with
	// kube-proxy.
	if user := deploy.NetworkAgentUser(binary); user != "" {
		out = append(out, chatter.ClientSubject{Client: "flannel", User: user, PriorityLevel: "global-default"})
	}
	return out
}

// countClientsApart creates the flow schemas that make the apiserver count
// kube-proxy, CoreDNS and flannel apart (accounting only: each keeps its
// priority level). A cluster that refuses them still works: the clients
// are then counted under "other", which the log says.
func countClientsApart(ctx context.Context, cs kubernetes.Interface, binary string, log *slog.Logger) {
	for _, fs := range chatter.ClientFlowSchemas(chatterClients(binary)) {
		_, err := cs.FlowcontrolV1().FlowSchemas().Create(ctx, &fs, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			log.Warn("flow schema not created: its client is counted under other", "flowSchema", fs.Name, "err", err)
		}
	}
}

// chatterAlongside measures control-plane chatter in the idle window
// (measure.IdleOptions.Alongside): apiserver requests by client, storage
// operations by type (read where apiSource says), the bytes the datastore
// writes to disk, and the cluster's counting proxies and datastore counters
// (deploy.ChatterPaths).
func chatterAlongside(c *deploy.Cluster, cfg *rest.Config, prom chatter.PrometheusOptions, labels map[string]string) func(context.Context) func() []result.Measurement {
	writes, of := datastoreWrites(c)
	scrape, source := apiSource(cfg, prom)
	return func(ctx context.Context) func() []result.Measurement {
		stop := chatter.Watch(ctx, chatter.WindowOptions{
			Scrape: scrape,
			Writes: writes, WritesOf: of, Interval: 5 * time.Second, Labels: labels,
			Paths: c.ChatterPaths(),
		})
		return func() []result.Measurement { return chatter.WithSource(stop(), source) }
	}
}

// datastoreWrites reads what the datastore wrote: the server process
// itself for a datastore inside it, the datastore servers the run started,
// or nothing for a user's (an error saying so).
func datastoreWrites(c *deploy.Cluster) (func() (chatter.DiskWrites, error), string) {
	switch {
	case dstype.InServer(c.Datastore):
		return func() (chatter.DiskWrites, error) { return chatter.ProcessWrites(c.ServerPID) },
			fmt.Sprintf("the server process (%s runs inside it; its own log and the children it reaped included, containerd not)", c.Datastore)
	case len(c.DatastorePIDs) > 0:
		return func() (chatter.DiskWrites, error) { return chatter.ProcessTreeWrites(c.DatastorePIDs) },
			fmt.Sprintf("the %s server processes the run started", c.Datastore)
	}
	return func() (chatter.DiskWrites, error) {
		return chatter.DiskWrites{}, errors.New("the datastore is the user's: its processes are not on this machine to read")
	}, "the datastore"
}
