package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"

	"github.com/distrobench/distrobench/distro/pkg/addons"
	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
	"github.com/distrobench/distrobench/distro/pkg/datastore"
	"github.com/distrobench/distrobench/distro/pkg/endpoint"
	"github.com/distrobench/distrobench/distro/pkg/pki"
	"github.com/distrobench/distrobench/distro/pkg/token"
)

// Shutdown budget, measured from the moment ctx is cancelled. The whole
// sequence stays below 10 s even when a component does not stop in time:
// each step gets a deadline and the datastore is closed regardless.
const (
	// stopAgentTimeout bounds the agent's stop (kubelet, kube-proxy,
	// containerd); the phases below are counted from its end.
	stopAgentTimeout     = 3 * time.Second
	stopClientsTimeout   = 3 * time.Second // controller-manager + scheduler (lease release)
	stopAPIServerBy      = 6 * time.Second // apiserver drained and stopped
	stopDatastoreBy      = 9 * time.Second // kine/etcd closed
	readyTimeout         = 3 * time.Minute
	readyPollInterval    = 10 * time.Millisecond // loopback, one kept-alive connection
	datastoreStartWindow = 15 * time.Second
)

// Run starts the control plane described by cfg and blocks until ctx is
// cancelled (then it shuts down and returns nil) or a component fails.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir %q: %w", cfg.DataDir, err)
	}
	cfg.DataDir = abs

	ep, err := endpoint.Parse(cfg.DatastoreEndpoint, cfg.DataDir)
	if err != nil {
		return err
	}
	if err := ensureWritableDir(cfg.serverDir()); err != nil {
		return err
	}
	runAgent := !cfg.DisableAgent && cfg.RunAgent != nil
	if !cfg.DisableAgent && cfg.RunAgent == nil {
		log.Warn("no agent runner configured: running the control plane only")
	}
	if cfg.ProtectKernelDefaults && !runAgent {
		log.Info("--protect-kernel-defaults only affects the kubelet, which --disable-agent does not run")
	}
	clusterDNS, err := cfg.ResolvedClusterDNS()
	if err != nil {
		return err
	}

	advertise := cfg.advertiseAddress()
	svcIP, err := firstServiceIP(cfg.ServiceCIDR)
	if err != nil {
		return fmt.Errorf("--service-cidr %q: %w", cfg.ServiceCIDR, err)
	}
	bundle, err := pki.Ensure(pkiOptions(&cfg, advertise, svcIP))
	if err != nil {
		return fmt.Errorf("certificates under %s: %w", filepath.Join(cfg.serverDir(), "tls"), err)
	}
	caHash, err := pki.CAHash(bundle.CACert)
	if err != nil {
		return err
	}
	serverToken, nodeToken, err := token.Ensure(cfg.serverDir(), caHash, cfg.Token)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	join, err := bootstrap.NewHandler(bootstrap.HandlerConfig{
		CACertFile: bundle.CACert,
		CAKeyFile:  bundle.CAKey,
		Tokens:     []token.Token{serverToken, nodeToken},
		Agent: bootstrap.AgentConfig{
			ClusterCIDR:    cfg.ClusterCIDR,
			ServiceCIDR:    cfg.ServiceCIDR,
			ClusterDNS:     []string{clusterDNS},
			ClusterDomain:  cfg.ClusterDomain,
			FlannelBackend: cfg.FlannelBackend,
			SandboxImage:   bootstrap.PauseImage,
			// Agents learn it here, as K3s's agents do from the server.
			EmbeddedRegistry: cfg.EmbeddedRegistry,
			APIServerPort:    apiServerPortForAgents(&cfg),
		},
		Log: log.With("component", "join"),
	})
	if err != nil {
		return err
	}

	cred := cfg.credPaths()
	if err := writeCredentials(&cfg, bundle, cred); err != nil {
		return err
	}
	if cfg.ControlPlane == ControlPlaneStaticPods {
		if !runAgent {
			return errors.New("--control-plane=static-pods: this build runs no agent, and the control plane's pods need the node's kubelet")
		}
		return runStaticPods(ctx, &staticRun{cfg: &cfg, bundle: bundle, join: join, cred: cred, endpoint: ep,
			advertise: advertise, nodeToken: nodeToken.String(), clusterDNS: clusterDNS, log: log})
	}

	// Every component flag is parsed before anything binds a port. The
	// datastore is not running yet, so --etcd-servers gets a placeholder that
	// is replaced once it is (setStorage), unless the user set it.
	placeholder := &datastore.Datastore{Endpoints: []string{storagePlaceholder}}
	in := componentInputs{cfg: &cfg, pki: bundle, store: placeholder, cred: cred, advertise: advertise}
	apiArgs, cmArgs, schedArgs := apiServerArgs(in), controllerManagerArgs(in), schedulerArgs(in)
	comps, err := parseComponents(apiArgs, cmArgs, schedArgs)
	if err != nil {
		return err
	}
	comps.wrapAPI = join.Wrap
	addrs := listenAddrs(apiArgs, cmArgs, schedArgs)
	if cfg.ClusterInit {
		addrs = append(addrs, "127.0.0.1:2379", "127.0.0.1:2380")
	}
	if err := checkPortsFree(addrs); err != nil {
		return err
	}

	startCtx, cancelStart := context.WithTimeout(ctx, datastoreStartWindow+5*time.Second)
	store, err := datastore.Start(startCtx, datastore.Options{
		Endpoint:     ep,
		ClusterInit:  cfg.ClusterInit,
		DataDir:      cfg.DataDir,
		ExternalTLS:  datastore.TLS{CAFile: cfg.DatastoreCAFile, CertFile: cfg.DatastoreCertFile, KeyFile: cfg.DatastoreKeyFile},
		Etcd:         etcdCerts(bundle),
		StartTimeout: datastoreStartWindow,
		Logger:       log,
	})
	cancelStart()
	if err != nil {
		return err
	}
	closeStore := func(deadline time.Time) {
		cctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		if err := store.Close(cctx); err != nil {
			log.Error("closing datastore", "err", err)
			return
		}
		log.Info("datastore closed", "kind", store.Kind)
	}

	comps.setStorage(store)
	guardComponentExits()

	// apiCtx outlives ctx during shutdown: the apiserver must keep serving
	// while the controller-manager and scheduler release their leases.
	apiCtx, stopAPI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAPI()
	clientCtx, stopClients := context.WithCancel(ctx)
	defer stopClients()

	apiDone := make(chan error, 1)
	go func() { apiDone <- comps.runAPIServer(apiCtx) }()

	started := time.Now()
	if err := waitReady(ctx, cred.AdminKubeconfig, apiDone); err != nil {
		stopAPI()
		select {
		case apiErr := <-apiDone:
			// The readiness error is the one to report; this only explains it.
			if apiErr != nil {
				log.Debug("kube-apiserver stopped", "err", apiErr)
			}
		case <-time.After(stopAPIServerBy):
		}
		closeStore(time.Now().Add(3 * time.Second))
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	log.Info("kube-apiserver is ready", "after", time.Since(started).Round(time.Millisecond).String(),
		"url", "https://"+net.JoinHostPort(loopbackHost(cfg.BindAddress), strconv.Itoa(cfg.HTTPSListenPort)))

	cmDone := make(chan error, 1)
	schedDone := make(chan error, 1)
	go func() { cmDone <- comps.runControllerManager(clientCtx) }()
	go func() { schedDone <- comps.runScheduler(clientCtx) }()

	if err := pki.WriteKubeconfig(cfg.WriteKubeconfig, cfg.WriteKubeconfigMode, apiURL(&cfg), bundle.CACert, bundle.AdminCert, bundle.AdminKey); err != nil {
		log.Error("writing kubeconfig", "path", cfg.WriteKubeconfig, "err", err)
	} else {
		log.Info("wrote kubeconfig", "path", cfg.WriteKubeconfig)
	}

	// The RBAC every agent needs and the add-ons, retried until applied.
	addonsDone := make(chan error, 1)
	go func() {
		addonsDone <- applyAddons(clientCtx, &cfg, cred.AdminKubeconfig, clusterDNS, log.With("component", "addons"))
	}()

	// The server's own node. It stops first on shutdown: the kubelet must
	// still reach the apiserver to stop cleanly.
	agentCtx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	var agentDone chan error // nil (never ready) without an agent
	if runAgent {
		agentDone = make(chan error, 1)
		la := localAgent(&cfg, nodeToken.String())
		log.Info("starting the agent of this node", "server", la.ServerURL)
		go func() { agentDone <- cfg.RunAgent(agentCtx, la, log.With("component", "agent")) }()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-apiDone:
		runErr = errors.Join(errors.New("kube-apiserver stopped unexpectedly"), err)
		apiDone <- nil
	case err := <-cmDone:
		runErr = errors.Join(errors.New("kube-controller-manager stopped unexpectedly"), err)
		cmDone <- nil
	case err := <-schedDone:
		runErr = errors.Join(errors.New("kube-scheduler stopped unexpectedly"), err)
		schedDone <- nil
	case err := <-agentDone:
		if err == nil {
			err = errors.New("it returned without an error")
		}
		runErr = fmt.Errorf("the agent stopped unexpectedly: %w", err)
		agentDone <- nil
	}

	shutdownStart := time.Now()
	beginShutdown(log)
	if agentDone != nil {
		stopAgent()
		waitAll(log, shutdownStart.Add(stopAgentTimeout), map[string]chan error{"agent": agentDone})
	}
	phaseStart := time.Now()
	stopClients()
	waitAll(log, phaseStart.Add(stopClientsTimeout), map[string]chan error{"kube-controller-manager": cmDone, "kube-scheduler": schedDone, "add-ons": addonsDone})
	stopAPI()
	waitAll(log, phaseStart.Add(stopAPIServerBy), map[string]chan error{"kube-apiserver": apiDone})
	closeStore(phaseStart.Add(stopDatastoreBy))
	log.Info("shutdown complete", "took", time.Since(shutdownStart).Round(time.Millisecond).String())
	klog.Flush()
	return runErr
}

// localAgent describes the agent of the server's own node: it joins
// through loopback with the node token, like any other agent.
func localAgent(cfg *Config, nodeToken string) LocalAgent {
	a := LocalAgent{
		ServerURL:    apiURL(cfg),
		Token:        nodeToken,
		DataDir:      cfg.DataDir,
		NodeIPs:      slices.Clone(cfg.NodeIPs),
		AgentOptions: cfg.Agent,
	}
	a.KubeletArgs = slices.Clone(cfg.Agent.KubeletArgs)
	if cfg.ProtectKernelDefaults {
		// K3s passes its server flag on to the kubelet; a user's
		// --kubelet-arg comes later and wins.
		a.KubeletArgs = append([]string{"protect-kernel-defaults=true"}, a.KubeletArgs...)
	}
	return a
}

// applyAddons applies the agent RBAC and the enabled add-ons with the admin
// credentials, retrying until done or ctx is cancelled (nil then).
func applyAddons(ctx context.Context, cfg *Config, adminKubeconfig, clusterDNS string, log *slog.Logger) error {
	rc, err := clientcmd.BuildConfigFromFlags("", adminKubeconfig)
	if err != nil {
		log.Error("add-ons not applied: cannot load the admin kubeconfig", "path", adminKubeconfig, "err", err)
		return err
	}
	disabled, _ := addons.ParseDisable(cfg.Disable) // validated by Config.Validate
	if len(disabled) > 0 {
		log.Info("add-ons disabled", "disabled", strings.Join(disabled, ","))
	}
	err = addons.Apply(ctx, rc, addons.Options{ClusterDNS: clusterDNS, ClusterDomain: cfg.ClusterDomain, Disabled: disabled}, log)
	switch {
	case err == nil:
		log.Info("add-ons applied")
	case ctx.Err() != nil:
		return nil
	default:
		log.Error("add-ons not applied", "err", err)
	}
	return err
}

// waitAll waits until every channel delivered or the deadline passed.
func waitAll(log *slog.Logger, deadline time.Time, chans map[string]chan error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for name, ch := range chans {
		select {
		case err := <-ch:
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("component stopped with error", "component", name, "err", err)
			}
		case <-timer.C:
			log.Warn("component did not stop in time; continuing shutdown", "component", name)
			return
		}
	}
}

// apiServerPortForAgents is the API's port agents are told to use (0:
// the --server they joined through): the static-pod model serves the join
// endpoints on the supervisor port, and the API on --https-listen-port.
func apiServerPortForAgents(cfg *Config) int {
	if cfg.ControlPlane == ControlPlaneStaticPods {
		return cfg.HTTPSListenPort
	}
	return 0
}

func apiURL(cfg *Config) string {
	return "https://" + net.JoinHostPort(loopbackHost(cfg.BindAddress), strconv.Itoa(cfg.HTTPSListenPort))
}

func pkiOptions(cfg *Config, advertise string, svcIP net.IP) pki.Options {
	o := pki.Options{Dir: filepath.Join(cfg.serverDir(), "tls"), ServiceIP: svcIP}
	addIP := func(s string) {
		if ip := net.ParseIP(s); ip != nil && !ip.IsUnspecified() {
			o.IPs = append(o.IPs, ip)
		}
	}
	addIP(advertise)
	addIP(cfg.BindAddress)
	for _, ip := range cfg.NodeIPs {
		addIP(ip)
	}
	for _, san := range cfg.TLSSANs {
		if ip := net.ParseIP(san); ip != nil {
			o.IPs = append(o.IPs, ip)
		} else if san = strings.TrimSpace(san); san != "" {
			o.DNSNames = append(o.DNSNames, san)
		}
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		o.DNSNames = append(o.DNSNames, host)
	}
	return o
}

// etcdCerts reuses the apiserver serving certificate (it carries 127.0.0.1)
// for the embedded etcd member, and the apiserver's kubelet-client
// certificate (signed by the cluster CA) as etcd client certificate.
func etcdCerts(b *pki.Bundle) datastore.EtcdCerts {
	return datastore.EtcdCerts{
		CAFile:         b.CACert,
		ServerCertFile: b.ServingCert,
		ServerKeyFile:  b.ServingKey,
		ClientCertFile: b.APIServerKubeletClientCert,
		ClientKeyFile:  b.APIServerKubeletClientKey,
	}
}

func writeCredentials(cfg *Config, b *pki.Bundle, cred credPaths) error {
	if err := os.MkdirAll(cred.Dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", cred.Dir, err)
	}
	url := apiURL(cfg)
	for _, k := range []struct{ path, cert, key string }{
		{cred.AdminKubeconfig, b.AdminCert, b.AdminKey},
		{cred.ControllerKubeconfig, b.ControllerManagerCert, b.ControllerManagerKey},
		{cred.SchedulerKubeconfig, b.SchedulerCert, b.SchedulerKey},
	} {
		if err := pki.WriteKubeconfig(k.path, 0o600, url, b.CACert, k.cert, k.key); err != nil {
			return err
		}
	}
	if cfg.SecretsEncryption {
		if err := ensureEncryptionConfig(cred.EncryptionConfig); err != nil {
			return err
		}
	}
	return nil
}

// ensureWritableDir creates dir (0700) and proves it is writable.
func ensureWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s is not usable: %w (choose another --data-dir or run as a user that may write there)", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data dir %s is not writable: %w (choose another --data-dir or run as a user that may write there)", dir, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// checkPortsFree binds and releases every address, so that a port in use
// is reported before any component starts.
func checkPortsFree(addrs []string) error {
	var errs []error
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot listen on %s: %w (is another server running? pick another port)", a, err))
			continue
		}
		_ = l.Close()
	}
	return errors.Join(errs...)
}

// waitReady polls /readyz with the admin credentials until it answers 200.
// readyzClient is the client waitReady asks /readyz through: no client-side
// rate limiter. The discovery client's default (burst 300, then 5 requests/s)
// would stretch a 10 ms poll to 200 ms after 3 s, on exactly the slow starts
// (embedded etcd, an emulated arm64 board) whose time matters, and k3lite's
// readiness, and the kubeconfig it then writes, with it.
func readyzClient(kubeconfig string) (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	rc.Timeout = 2 * time.Second
	rc.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	return kubernetes.NewForConfig(rc)
}

func waitReady(ctx context.Context, kubeconfig string, apiDone chan error) error {
	cs, err := readyzClient(kubeconfig)
	if err != nil {
		return err
	}
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	var last error
	for {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		last = err
		select {
		case err := <-apiDone:
			apiDone <- err
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("kube-apiserver stopped before it was ready: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("kube-apiserver not ready after %s: %w", readyTimeout, last)
		case <-tick.C:
		}
	}
}
