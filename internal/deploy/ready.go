package deploy

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// exitWatch is what waitReady watches besides /readyz: the server process
// (*process.Proc).
type exitWatch interface {
	Wait() <-chan struct{}
	Exited() (bool, int)
}

// waitReady polls until the server's /readyz answers ok, the server exits,
// ctx ends or spec.timeouts.ready passes.
func (c *Cluster) waitReady(ctx context.Context, p exitWatch) error {
	deadline := time.Now().Add(c.ReadyTimeout)
	c.say("waiting for the kubeconfig and /readyz")
	var (
		last  error
		probe func(context.Context) error // once the kubeconfig is there
		built time.Time                   // the kubeconfig's mtime probe was built from
	)
	for {
		// A server that writes its kubeconfig anew (new certificates on a
		// fresh start, or a restart) gets a new client.
		switch at := c.kubeconfigWritten(); {
		case at.IsZero():
			last = fmt.Errorf("kubeconfig %s not written yet", c.kubeconfigSource())
		case probe == nil || !at.Equal(built):
			probe, last = c.readyProbe()
			built = at
		}
		if probe != nil {
			if last = probe(ctx); last == nil {
				return nil
			}
		}
		select {
		case <-p.Wait():
			_, code := p.Exited()
			return fmt.Errorf("the server exited with code %d", code)
		case <-ctx.Done():
			return fmt.Errorf("cancelled: %w", ctx.Err())
		case <-c.after(ReadyPoll):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s (spec.timeouts.ready): %w", c.ReadyTimeout, last)
		}
	}
}

// after is time.After, or the clock a test gives the cluster.
func (c *Cluster) after(d time.Duration) <-chan time.Time {
	if c.clock != nil {
		return c.clock(d)
	}
	return time.After(d)
}

// ReadyPoll is how often start-up looks for the server's kubeconfig (k3lite
// writes it once ready) and then asks /readyz, over one client (one
// kept-alive connection): the resolution of startup.readyz.
const ReadyPoll = 10 * time.Millisecond

// kubeconfigSource is the kubeconfig the server writes: its own, or the
// harness's when it writes none of its own.
func (c *Cluster) kubeconfigSource() string {
	if c.ServerKubeconfig != "" {
		return c.ServerKubeconfig
	}
	return c.Kubeconfig
}

// kubeconfigWritten is when the server's kubeconfig was last written
// (zero while there is none).
func (c *Cluster) kubeconfigWritten() time.Time {
	fi, err := os.Stat(c.kubeconfigSource())
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// readyProbe is GET /readyz through one client, built from the server's
// kubeconfig (pointed at the harness's address when the server writes its
// own); an error says it could not be read yet.
func (c *Cluster) readyProbe() (func(context.Context) error, error) {
	if c.ServerKubeconfig != "" {
		if err := pointKubeconfig(c.ServerKubeconfig, c.Kubeconfig, c.ServerURL); err != nil {
			return nil, err // maybe half written: try again
		}
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err // maybe half written: try again
	}
	cs, err := readyzClient(cfg)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return getReadyz(ctx, cs) }, nil
}

// readyz is GET /readyz through client-go; nil only on 200.
func readyz(ctx context.Context, cfg *rest.Config) error {
	cs, err := readyzClient(cfg)
	if err != nil {
		return err
	}
	return getReadyz(ctx, cs)
}

// readyzClient asks without client-go's limiter: the discovery client's
// default (burst 300, then 5 requests/s) would make the 10 ms poll a 200 ms
// one after 3 s, on the slow starts (embedded etcd, emulated arm64).
func readyzClient(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 5 * time.Second
	cfg.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	return kubernetes.NewForConfig(cfg)
}

func getReadyz(ctx context.Context, cs kubernetes.Interface) error {
	var code int
	res := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).StatusCode(&code)
	if code == 200 {
		return nil
	}
	if err := res.Error(); err != nil {
		return fmt.Errorf("GET /readyz: %w", err)
	}
	return fmt.Errorf("GET /readyz: HTTP %d", code)
}
