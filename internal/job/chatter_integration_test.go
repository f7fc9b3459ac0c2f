package job

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/progress"
)

// TestChatterProxiesIntegration deploys the real k3lite with one agent on
// a PostgreSQL server the run starts, with the counting proxies, and takes
// the idle footprint as the main job does: the agent's traffic is counted
// under its node both ways, the server's traffic to PostgreSQL through the
// datastore proxy, PostgreSQL's own counters move, and the proxy agrees
// with the apiserver on a probe's bytes within the tolerance (each
// request's figures are logged: METHOD.md's tolerance comes from them). Down
// releases both proxies (deploy's unit tests check a closed one stops
// listening).
func TestChatterProxiesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the k3lite binary (DISTROBENCH_K3LITE), the image tarballs (DISTROBENCH_IMAGES), postgresql and root for simulated hosts")
	}
	p := oneAgentProfile(t, "k3lite-chatter-it")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c, err := deploy.Up(ctx, deploy.Options{Profile: p, Datastore: dstype.Postgres, RunDir: filepath.Join(t.TempDir(), "run"),
		ImageTarballs: nodeTarballs(t), ChatterProxies: true})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	downed := false
	t.Cleanup(func() {
		if !downed {
			_ = c.Down(context.Background())
		}
	})
	paths := c.ChatterPaths()
	if paths.Agents.Proxy == nil || paths.Datastore.Proxy == nil {
		t.Fatalf("paths %+v: want both proxies", paths)
	}
	agentsAt := paths.Agents.Proxy.Addr().String()
	if i := slices.Index(c.Agents[0].Args, "--server"); i < 0 || c.Agents[0].Args[i+1] != "https://"+agentsAt ||
		!strings.HasPrefix(agentsAt, c.Network.Gateway+":") {
		t.Errorf("agent args %q: want --server https://%s on the gateway %s", c.Agents[0].Args, agentsAt, c.Network.Gateway)
	}
	if u, _ := url.Parse(c.ServerURL); u.Host == agentsAt {
		t.Errorf("the harness's own URL %s goes through the agents' proxy", c.ServerURL)
	}

	ms, err := Footprint(ctx, c, BenchOptions{IdleWindow: 30 * time.Second, SettleMin: 5 * time.Second}, slog.Default(), progress.NewPlain(os.Stderr, time.Now))
	if err != nil {
		t.Fatalf("Footprint: %v", err)
	}
	idle := func(kv ...string) map[string]string {
		l := map[string]string{"phase": "idle"}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return l
	}
	for _, f := range []struct {
		name   string
		labels map[string]string
	}{
		{chatter.AgentBytesMetric, idle("node", "node1", "direction", chatter.ToServer)},
		{chatter.AgentBytesMetric, idle("node", "node1", "direction", chatter.FromServer)},
		{chatter.AgentConnsMetric, idle("node", "node1")},
		{chatter.DatastoreBytesMetric, idle("direction", chatter.ToDatastore)},
		{chatter.DatastoreBytesMetric, idle("direction", chatter.FromDatastore)},
		{chatter.DatastoreConnsMetric, idle()},
		{chatter.StatementsMetric, idle("kind", "transactions")},
	} {
		m := findMeasurement(t, ms, f.name, f.labels)
		if m.Missing != "" || m.Summary.Mean <= 0 {
			t.Errorf("%s%v = %v (%s), want above 0", f.name, f.labels, m.Samples, m.Missing)
		}
		t.Logf("%s%v: p50 %.4g %s min %.4g max %.4g (n=%d)", f.name, f.labels, m.Summary.P50, m.Unit, m.Summary.Min, m.Summary.Max, m.Summary.Count)
	}

	checkCrossCheck(t, ctx, c)

	downed = true
	if err := c.Down(context.Background()); err != nil {
		t.Errorf("Down: %v", err)
	}
	// (The gateway itself is gone with the bridge: dialling it proves
	// nothing.)
	if after := c.ChatterPaths(); after.Agents.Proxy != nil || after.Datastore.Proxy != nil {
		t.Errorf("proxies still held after Down: %+v", after)
	}
}

// checkCrossCheck probes the agents' proxy: the bytes it carried to the
// probe agree with the apiserver's count within chatter.CrossCheckTolerance,
// and the agents' own figures are untouched by the probe (it is counted
// under chatter.Other).
func checkCrossCheck(t *testing.T, ctx context.Context, c *deploy.Cluster) {
	t.Helper()
	before := c.ChatterPaths().Agents.Proxy.Snapshot().Clients["node1"]
	ms := proxyCrossCheck(ctx, c, map[string]string{"datastore": c.Datastore})
	if len(ms) != 1 {
		t.Fatalf("cross-check: %d figures, want 1", len(ms))
	}
	// The next figure is taken on a quiet cluster: the probe's namespace
	// and its thousand objects are gone.
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp != nil {
			t.Errorf("namespace %s still terminating after the cross-check", ns.Name)
		}
	}
	m := ms[0]
	t.Logf("%s: max %.5f p50 %.5f (n=%d); %s", m.Name, m.Summary.Max, m.Summary.P50, m.Summary.Count, m.Attributes["crosscheck.bytes"])
	if m.Missing != "" || m.SLO == nil || !m.SLO.Met || m.Summary.Count != crossCheckLists {
		t.Errorf("cross-check %v (%s): want %d requests within the tolerance %g", m.Samples, m.Missing, crossCheckLists, chatter.CrossCheckTolerance)
	}
	// The agent's own traffic in the meantime is a few kB; the probe's
	// lists are megabytes.
	if after := c.ChatterPaths().Agents.Proxy.Snapshot().Clients["node1"]; after.Down-before.Down > 1<<20 {
		t.Errorf("node1 received %d bytes through the proxy during the probe: the probe's bytes were counted as the agent's", after.Down-before.Down)
	}
}
