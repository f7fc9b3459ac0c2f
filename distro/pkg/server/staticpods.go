package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"k8s.io/component-base/version"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
	"github.com/distrobench/distrobench/distro/pkg/datastore"
	"github.com/distrobench/distrobench/distro/pkg/endpoint"
	"github.com/distrobench/distrobench/distro/pkg/pki"
	"github.com/distrobench/distrobench/distro/pkg/selfimage"
	"github.com/distrobench/distrobench/distro/pkg/staticpod"
)

// The static pods of the RKE2-style control plane: each name is the pod's
// and the k3lite subcommand its container runs.
const (
	podEtcd              = "etcd"
	podAPIServer         = "kube-apiserver"
	podControllerManager = "kube-controller-manager"
	podScheduler         = "kube-scheduler"
)

// Static-pod shutdown: each component's manifest is removed (the kubelet
// stops the pod) and its port watched until it closes, within these.
const (
	stopClientPodsBy = 5 * time.Second // controller-manager and scheduler
	stopAPIPodBy     = 8 * time.Second
	stopEtcdPodBy    = 5 * time.Second
	portPollInterval = 100 * time.Millisecond
)

// staticRun is what the static-pod control plane takes from the prelude
// it shares with the one-process model (Run).
type staticRun struct {
	cfg                              *Config
	bundle                           *pki.Bundle
	join                             *bootstrap.Handler
	cred                             credPaths
	endpoint                         endpoint.Endpoint
	advertise, nodeToken, clusterDNS string
	log                              *slog.Logger
}

// runStaticPods runs the control plane in the RKE2 style: the join
// endpoints on the supervisor port in this process, kine (if the
// datastore is kine) in this process, and etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler as static pods of this
// node's kubelet, from k3lite's own image. The local agent starts first:
// its kubelet runs the static pods before the API exists.
func runStaticPods(ctx context.Context, r *staticRun) error {
	cfg, log := r.cfg, r.log
	self, err := runningImage()
	if err != nil {
		return err
	}
	if err := r.checkPorts(); err != nil {
		return err
	}
	store, err := r.startStore(ctx)
	if err != nil {
		return err
	}
	defer closeStoreBy(store, log, 3*time.Second)
	pods, err := r.podSpecs(store, self.Ref)
	if err != nil {
		return err
	}
	supervisor, err := startSupervisor(r.supervisorAddr(), r.bundle, r.join, log)
	if err != nil {
		return err
	}
	defer supervisor.stop()

	manifests := r.manifestDir()
	// The agent outlives ctx: its kubelet stops the control plane's pods
	// once their manifests are gone, which it can only do running.
	agentCtx, stopAgent := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAgent()
	agentDone := make(chan error, 1)
	la := localAgent(cfg, r.nodeToken)
	la.ServerURL = "https://" + net.JoinHostPort(loopbackHost(cfg.BindAddress), strconv.Itoa(cfg.SupervisorPort))
	la.StaticPods = &self
	log.Info("starting the agent of this node, which runs the control plane's static pods", "server", la.ServerURL, "manifests", manifests)
	go func() {
		err := cfg.RunAgent(agentCtx, la, log.With("component", "agent"))
		switch {
		case err == nil && agentCtx.Err() != nil:
			agentDone <- nil // stopped as asked
		case err == nil:
			agentDone <- errors.New("the agent running the control plane's static pods returned without an error")
		default:
			agentDone <- fmt.Errorf("the agent running the control plane's static pods stopped: %w", err)
		}
	}()

	runErr := r.bringUp(ctx, pods, manifests, agentDone)
	var clientCtx context.Context
	var stopClients context.CancelFunc = func() {}
	addonsDone := make(chan error, 1)
	if runErr == nil {
		clientCtx, stopClients = context.WithCancel(ctx)
		r.writeKubeconfig()
		go func() {
			addonsDone <- applyAddons(clientCtx, cfg, r.cred.AdminKubeconfig, r.clusterDNS, log.With("component", "addons"))
		}()
		select {
		case <-ctx.Done():
			log.Info("shutting down")
		case err := <-agentDone:
			runErr = err
			agentDone <- err
		case err := <-supervisor.errc:
			runErr = fmt.Errorf("the supervisor (join endpoints) stopped: %w", err)
		}
	}
	shutdownStart := time.Now()
	stopClients()
	r.tearDown(manifests, pods)
	stopAgent()
	waitAll(log, time.Now().Add(stopAgentTimeout), map[string]chan error{"agent": agentDone})
	if clientCtx != nil {
		waitAll(log, time.Now().Add(stopClientsTimeout), map[string]chan error{"add-ons": addonsDone})
	}
	log.Info("shutdown complete", "took", time.Since(shutdownStart).Round(time.Millisecond).String())
	if ctx.Err() != nil && errors.Is(runErr, context.Canceled) {
		return nil
	}
	return runErr
}

// runningImage is this binary as k3lite's own image.
func runningImage() (SelfImage, error) {
	bin, err := os.Executable()
	if err != nil {
		return SelfImage{}, fmt.Errorf("static pods: which binary runs: %w", err)
	}
	ref, err := selfimage.Ref(bin, version.Get().GitVersion)
	if err != nil {
		return SelfImage{}, err
	}
	return SelfImage{Binary: bin, Ref: ref}, nil
}

func (r *staticRun) supervisorAddr() string {
	return net.JoinHostPort(r.cfg.BindAddress, strconv.Itoa(r.cfg.SupervisorPort))
}

func (r *staticRun) manifestDir() string {
	return bootstrap.PodManifestsDir(r.cfg.DataDir)
}

// checkPorts reports a port already taken before anything starts: the
// components' (from their arguments, so user overrides count), the
// supervisor's and, with --cluster-init, etcd's.
func (r *staticRun) checkPorts() error {
	placeholder := &datastore.Datastore{Endpoints: []string{storagePlaceholder}}
	in := componentInputs{cfg: r.cfg, pki: r.bundle, store: placeholder, cred: r.cred, advertise: r.advertise}
	addrs := append(listenAddrs(apiServerArgs(in), controllerManagerArgs(in), schedulerArgs(in)), r.supervisorAddr())
	if r.cfg.ClusterInit {
		addrs = append(addrs, "127.0.0.1:2379", "127.0.0.1:2380")
	}
	return checkPortsFree(addrs)
}

// startStore starts kine (or passes an external etcd on) in this process;
// with --cluster-init the datastore is the etcd pod, reached on loopback
// with the apiserver's etcd client certificate.
func (r *staticRun) startStore(ctx context.Context) (*datastore.Datastore, error) {
	certs := etcdCerts(r.bundle)
	if r.cfg.ClusterInit {
		return &datastore.Datastore{Kind: "embedded-etcd", Endpoints: []string{"https://127.0.0.1:2379"},
			TLS: datastore.TLS{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}}, nil
	}
	startCtx, cancel := context.WithTimeout(ctx, datastoreStartWindow+5*time.Second)
	defer cancel()
	return datastore.Start(startCtx, datastore.Options{
		Endpoint:     r.endpoint,
		DataDir:      r.cfg.DataDir,
		ExternalTLS:  datastore.TLS{CAFile: r.cfg.DatastoreCAFile, CertFile: r.cfg.DatastoreCertFile, KeyFile: r.cfg.DatastoreKeyFile},
		StartTimeout: datastoreStartWindow,
		Logger:       r.log,
	})
}

// podSpecs are the control plane's pods, in start order, their arguments
// parsed once here so that a bad --kube-*-arg fails before any starts.
func (r *staticRun) podSpecs(store *datastore.Datastore, image string) ([]staticpod.Spec, error) {
	in := componentInputs{cfg: r.cfg, pki: r.bundle, store: store, cred: r.cred, advertise: r.advertise}
	apiArgs, cmArgs, schedArgs := apiServerArgs(in), controllerManagerArgs(in), schedulerArgs(in)
	if _, err := parseComponents(apiArgs, cmArgs, schedArgs); err != nil {
		return nil, err
	}
	var env map[string]string
	if v, ok := os.LookupEnv("GODEBUG"); ok {
		env = map[string]string{"GODEBUG": v}
	}
	spec := func(name string, args []string, cpu string, grace int64) staticpod.Spec {
		return staticpod.Spec{Component: name, Image: image, Args: args, Env: env, DataDir: r.cfg.DataDir,
			Outputs: []string{"audit-log-path"}, CPU: cpu, GracePeriod: grace}
	}
	var out []staticpod.Spec
	if r.cfg.ClusterInit {
		out = append(out, spec(podEtcd, []string{"--data-dir=" + r.cfg.DataDir}, "200m", 5))
	}
	return append(out,
		spec(podAPIServer, apiArgs, "250m", 15),
		spec(podControllerManager, cmArgs, "200m", 5),
		spec(podScheduler, schedArgs, "100m", 5)), nil
}

// bringUp writes the manifests in order, each once the one before serves:
// etcd (healthy), the apiserver (ready), then the controller-manager and
// the scheduler.
func (r *staticRun) bringUp(ctx context.Context, pods []staticpod.Spec, dir string, agentDone chan error) error {
	for _, s := range pods {
		pod, err := staticpod.Pod(s)
		if err != nil {
			return err
		}
		if _, err := staticpod.Write(dir, pod); err != nil {
			return err
		}
		r.log.Info("wrote the static pod", "component", s.Component, "uid", pod.UID)
		switch s.Component {
		case podEtcd:
			err = waitEtcd(ctx, r.bundle, agentDone)
		case podAPIServer:
			started := time.Now()
			if err = waitReady(ctx, r.cred.AdminKubeconfig, agentDone); err == nil {
				r.log.Info("kube-apiserver is ready", "after", time.Since(started).Round(time.Millisecond).String())
			}
		}
		if err != nil {
			return fmt.Errorf("static pod %s: %w", s.Component, err)
		}
	}
	return nil
}

func (r *staticRun) writeKubeconfig() {
	cfg, b := r.cfg, r.bundle
	if err := pki.WriteKubeconfig(cfg.WriteKubeconfig, cfg.WriteKubeconfigMode, apiURL(cfg), b.CACert, b.AdminCert, b.AdminKey); err != nil {
		r.log.Error("writing kubeconfig", "path", cfg.WriteKubeconfig, "err", err)
		return
	}
	r.log.Info("wrote kubeconfig", "path", cfg.WriteKubeconfig)
}

// tearDown stops the control plane in the reverse order: each manifest
// removed, then its ports watched until they close (the kubelet has
// stopped the pod). A missed deadline is logged and the sequence goes on.
func (r *staticRun) tearDown(dir string, pods []staticpod.Spec) {
	ports := map[string][]string{
		podControllerManager: {net.JoinHostPort("127.0.0.1", strconv.Itoa(ControllerManagerSecurePort))},
		podScheduler:         {net.JoinHostPort("127.0.0.1", strconv.Itoa(SchedulerSecurePort))},
		podAPIServer:         {net.JoinHostPort(loopbackHost(r.cfg.BindAddress), strconv.Itoa(r.cfg.HTTPSListenPort))},
		podEtcd:              {"127.0.0.1:2379", "127.0.0.1:2380"},
	}
	by := map[string]time.Duration{podControllerManager: stopClientPodsBy, podScheduler: stopClientPodsBy, podAPIServer: stopAPIPodBy, podEtcd: stopEtcdPodBy}
	for i := len(pods) - 1; i >= 0; i-- {
		name := pods[i].Component
		if err := staticpod.Remove(dir, name); err != nil {
			r.log.Warn("removing a static pod", "component", name, "err", err)
			continue
		}
		for _, addr := range ports[name] {
			if !waitPortClosed(addr, time.Now().Add(by[name])) {
				r.log.Warn("static pod still serving after its manifest was removed; continuing shutdown", "component", name, "addr", addr)
			}
		}
	}
}

// waitPortClosed reports whether addr refuses connections before deadline.
func waitPortClosed(addr string, deadline time.Time) bool {
	for {
		c, err := net.DialTimeout("tcp", addr, portPollInterval)
		if err != nil {
			return true
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(portPollInterval)
	}
}

// waitEtcd polls the etcd pod's /health with the apiserver's client
// certificate until it answers 200.
func waitEtcd(ctx context.Context, b *pki.Bundle, agentDone chan error) error {
	client, err := etcdHealthClient(b)
	if err != nil {
		return err
	}
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(portPollInterval)
	defer tick.Stop()
	var last error
	for {
		if resp, err := client.Get("https://127.0.0.1:2379/health"); err != nil {
			last = err
		} else {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("/health answered %s", resp.Status)
		}
		select {
		case err := <-agentDone:
			agentDone <- err
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("etcd not healthy after %s: %w", readyTimeout, last)
		case <-tick.C:
		}
	}
}

func etcdHealthClient(b *pki.Bundle) (*http.Client, error) {
	certs := etcdCerts(b)
	cert, err := tls.LoadX509KeyPair(certs.ClientCertFile, certs.ClientKeyFile)
	if err != nil {
		return nil, fmt.Errorf("etcd client certificate: %w", err)
	}
	ca, err := os.ReadFile(certs.CAFile)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}

// closeStoreBy closes the datastore within d.
func closeStoreBy(store *datastore.Datastore, log *slog.Logger, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := store.Close(ctx); err != nil {
		log.Error("closing datastore", "err", err)
	}
}
