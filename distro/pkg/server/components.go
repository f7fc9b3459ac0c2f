package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/spf13/pflag"

	"github.com/distrobench/distrobench/distro/pkg/datastore"
	"k8s.io/apimachinery/pkg/util/uuid"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	cliflag "k8s.io/component-base/cli/flag"
	componentbaseconfig "k8s.io/component-base/config"
	"k8s.io/klog/v2"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
)

// components holds the parsed options of the three control-plane
// components. Parsing all of them before anything starts turns a bad
// --kube-*-arg into an immediate error instead of a half-started server.
type components struct {
	api   *apiserveroptions.ServerRunOptions
	cm    *cmoptions.KubeControllerManagerOptions
	sched *schedoptions.Options
	// wrapAPI, when set, wraps the apiserver's complete handler chain
	// (k3lite's join endpoints go in front of Kubernetes authentication).
	wrapAPI func(http.Handler) http.Handler
}

func parseFlagSets(component string, fss cliflag.NamedFlagSets, args []string) error {
	fs := pflag.NewFlagSet(component, pflag.ContinueOnError)
	fs.SetOutput(discard{})
	for _, name := range fss.Order {
		fs.AddFlagSet(fss.FlagSets[name])
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s arguments: %w", component, err)
	}
	if rest := fs.Args(); len(rest) > 0 {
		return fmt.Errorf("%s arguments: unexpected positional arguments %q (use key=value)", component, rest)
	}
	// The components share klog; a -v given to one of them (for example
	// --kube-apiserver-arg=v=4) sets the process-wide verbosity.
	if v := fs.Lookup("v"); v != nil && v.Changed {
		var kfs flag.FlagSet
		klog.InitFlags(&kfs)
		if err := kfs.Set("v", v.Value.String()); err != nil {
			return fmt.Errorf("%s arguments: -v: %w", component, err)
		}
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func parseComponents(apiArgs, cmArgs, schedArgs []string) (*components, error) {
	api := apiserveroptions.NewServerRunOptions()
	if err := parseFlagSets("kube-apiserver", api.Flags(), apiArgs); err != nil {
		return nil, err
	}
	cm, err := cmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return nil, fmt.Errorf("kube-controller-manager options: %w", err)
	}
	cmFlags := cm.Flags(cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases())
	cm.ParsedFlags = &cmFlags
	if err := parseFlagSets("kube-controller-manager", cmFlags, cmArgs); err != nil {
		return nil, err
	}
	sched := schedoptions.NewOptions()
	if err := parseFlagSets("kube-scheduler", *sched.Flags, schedArgs); err != nil {
		return nil, err
	}
	// The three components share one registry of feature gates and
	// emulated versions (as they do in K3s); apply the parsed values once.
	if err := compatibility.DefaultComponentGlobalsRegistry.Set(); err != nil {
		return nil, fmt.Errorf("feature gates / emulated version: %w", err)
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	return &components{api: api, cm: cm, sched: sched}, nil
}

// storagePlaceholder stands in for --etcd-servers until the datastore runs.
const storagePlaceholder = "unix:///k3lite-datastore-not-started"

// setStorage points the apiserver at the running datastore, unless the
// user chose --etcd-servers (and its TLS files) explicitly.
func (c *components) setStorage(store *datastore.Datastore) {
	t := &c.api.Etcd.StorageConfig.Transport
	if len(t.ServerList) != 1 || t.ServerList[0] != storagePlaceholder {
		return
	}
	t.ServerList = store.Endpoints
	if t.TrustedCAFile == "" {
		t.TrustedCAFile = store.TLS.CAFile
	}
	if t.CertFile == "" && t.KeyFile == "" {
		t.CertFile, t.KeyFile = store.TLS.CertFile, store.TLS.KeyFile
	}
}

// runAPIServer completes and validates the apiserver options and serves
// until ctx is cancelled and the server has shut down gracefully.
func (c *components) runAPIServer(ctx context.Context) error {
	completed, err := c.api.Complete(ctx)
	if err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	if errs := completed.Validate(); len(errs) > 0 {
		return fmt.Errorf("kube-apiserver: %w", errors.Join(errs...))
	}
	if err := c.serveAPI(ctx, completed); err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	return nil
}

// serveAPI does what upstream's apiserverapp.Run does (same calls, same
// order) with one addition: the aggregator, the outermost server of the
// chain, gets its handler-chain builder wrapped by c.wrapAPI. Its result is
// the handler the secure port serves, so wrapped paths are answered before
// any Kubernetes filter (authentication, authorization, audit) runs, and
// everything else passes through untouched.
func (c *components) serveAPI(ctx context.Context, opts apiserveroptions.CompletedOptions) error {
	if c.wrapAPI == nil {
		return apiserverapp.Run(ctx, opts)
	}
	if opts.InformerName == nil {
		name, err := cache.NewInformerName("kube-apiserver")
		if err != nil {
			return err
		}
		opts.InformerName = name
	}
	config, err := apiserverapp.NewConfig(opts)
	if err != nil {
		return err
	}
	gc := &config.Aggregator.GenericConfig.Config
	build := gc.BuildHandlerChainFunc
	gc.BuildHandlerChainFunc = func(apiHandler http.Handler, cfg *genericapiserver.Config) http.Handler {
		return c.wrapAPI(build(apiHandler, cfg))
	}
	completed, err := config.Complete()
	if err != nil {
		return err
	}
	server, err := apiserverapp.CreateServerChain(completed)
	if err != nil {
		return err
	}
	prepared, err := server.PrepareRun()
	if err != nil {
		return err
	}
	return prepared.Run(ctx)
}

// runControllerManager runs the controller-manager under k3lite's own
// leader election. Upstream's Run exits the process (klog.FlushAndExit)
// when its leader election stops, also on a requested shutdown; driving the
// election here lets the lease be released and the datastore be closed
// before the process exits.
func (c *components) runControllerManager(ctx context.Context) error {
	cfg, err := c.cm.Config(ctx, cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases())
	if err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	le := cfg.ComponentConfig.Generic.LeaderElection
	completed := cfg.Complete()
	if !le.LeaderElect {
		return wrapErr("kube-controller-manager", cmapp.Run(ctx, completed))
	}
	completed.ComponentConfig.Generic.LeaderElection.LeaderElect = false
	lock, err := newLock(le, cfg.Kubeconfig, cfg.EventRecorder)
	if err != nil {
		return fmt.Errorf("kube-controller-manager leader election: %w", err)
	}
	return runLeading(ctx, "kube-controller-manager", le, lock, func(ctx context.Context) error {
		return cmapp.Run(ctx, completed)
	})
}

// runScheduler does for the scheduler what runControllerManager does for the
// controller-manager: upstream's Run calls os.Exit(0) from its
// OnStoppedLeading callback, which would skip closing the datastore.
func (c *components) runScheduler(ctx context.Context) error {
	cc, sched, err := schedapp.Setup(ctx, c.sched)
	if err != nil {
		return fmt.Errorf("kube-scheduler: %w", err)
	}
	if cc.LeaderElection == nil {
		return wrapErr("kube-scheduler", schedapp.Run(ctx, cc, sched))
	}
	le := cc.ComponentConfig.LeaderElection
	lock := cc.LeaderElection.Lock
	// Run without upstream's election (both fields: Run reads the flag to
	// install the election watchdog health check).
	cc.LeaderElection = nil
	cc.ComponentConfig.LeaderElection.LeaderElect = false
	return runLeading(ctx, "kube-scheduler", le, lock, func(ctx context.Context) error {
		return schedapp.Run(ctx, cc, sched)
	})
}

func wrapErr(component string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", component, err)
}

func newLock(le componentbaseconfig.LeaderElectionConfiguration, kubeconfig *rest.Config, recorder record.EventRecorder) (resourcelock.Interface, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	return resourcelock.NewFromKubeconfig(le.ResourceLock, le.ResourceNamespace, le.ResourceName,
		resourcelock.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID()), EventRecorder: recorder},
		rest.AddUserAgent(kubeconfig, "leader-election"), le.RenewDeadline.Duration)
}

// runLeading runs fn while holding the lease. It returns nil after ctx is
// cancelled (the lease is released first). It returns an error when the
// lease is lost or fn stops by itself, so that the server stops instead of
// running without the component (or with two leaders).
func runLeading(ctx context.Context, name string, le componentbaseconfig.LeaderElectionConfiguration, lock resourcelock.Interface, fn func(context.Context) error) error {
	electCtx, stopElection := context.WithCancel(ctx)
	defer stopElection()
	var (
		mu       sync.Mutex
		stopped  bool
		finished bool
		runErr   error
		wg       sync.WaitGroup
	)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            name,
		LeaseDuration:   le.LeaseDuration.Duration,
		RenewDeadline:   le.RenewDeadline.Duration,
		RetryPeriod:     le.RetryPeriod.Duration,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				// Called in a goroutine of its own: register with wg
				// under mu so the wait below cannot miss a late start.
				mu.Lock()
				if stopped {
					mu.Unlock()
					return
				}
				wg.Add(1)
				mu.Unlock()
				defer wg.Done()
				err := fn(ctx)
				mu.Lock()
				finished, runErr = true, err
				mu.Unlock()
				// The component is gone: give up the lease too.
				stopElection()
			},
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return fmt.Errorf("%s leader election: %w", name, err)
	}
	elector.Run(electCtx)
	mu.Lock()
	stopped = true
	mu.Unlock()
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return nil
	case runErr != nil:
		return fmt.Errorf("%s: %w", name, runErr)
	case finished:
		return fmt.Errorf("%s stopped", name)
	default:
		return fmt.Errorf("%s lost its leader lease", name)
	}
}
