package job

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/profile"
)

// TestNodeReadyTimedIntegration: with the watch started from Up's APIReady
// hook, the real k3lite's own node is seen turning Ready, so
// startup.node_ready is a figure on the harness's clock (after the server
// answered), not "not measured".
func TestNodeReadyTimedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the k3lite binary (DISTROBENCH_K3LITE) and root (simulated hosts)")
	}
	bin := os.Getenv("DISTROBENCH_K3LITE")
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		t.Fatalf("k3lite binary %q not found: set DISTROBENCH_K3LITE (hack/test.sh does)", bin)
	}
	p := &profile.Profile{}
	p.Metadata.Name = "node-ready-it"
	p.Spec.Binary = bin
	p.Spec.Timeouts.Ready = "180s"
	p.SetDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nodes := &nodeTimer{ctx: ctx, timeout: time.Minute}
	defer nodes.stop()
	c, err := deploy.Up(ctx, deploy.Options{Profile: p, RunDir: filepath.Join(t.TempDir(), "run"), APIReady: nodes.start})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	defer func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("Down: %v", err)
		}
	}()
	ms, err := nodes.wait(ctx)
	if err != nil {
		t.Fatalf("node readiness: %v", err)
	}
	if len(ms) != 1 || ms[0].Missing != "" || len(ms[0].Samples) != 1 {
		t.Fatalf("measurements %+v; want one timed figure for the server's node", ms)
	}
	// The watch started once the API answered: it cannot have seen the
	// node Ready earlier.
	if v := ms[0].Samples[0]; v < c.ReadyAfter.Seconds() {
		t.Errorf("node Ready after %v s; want it after the API answered (%v s)", v, c.ReadyAfter.Seconds())
	}
	t.Logf("startup.node_ready = %.3f s (readyz after %.3f s)", ms[0].Samples[0], c.ReadyAfter.Seconds())
}
