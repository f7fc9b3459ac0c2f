package sonobuoy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	sonoclient "github.com/vmware-tanzu/sonobuoy/pkg/client"
	sonoconfig "github.com/vmware-tanzu/sonobuoy/pkg/config"
	sonodynamic "github.com/vmware-tanzu/sonobuoy/pkg/dynamic"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/aggregation"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/manifest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
)

// Timing of the wait loop.
const (
	// pollInterval is how often Run asks for sonobuoy's status (two GETs);
	// progress lines go out every Options.ProgressInterval and on changes.
	pollInterval = 5 * time.Second
	// postProcessingGrace is how long Run waits beyond Options.Timeout for
	// the aggregator to record a timed-out plugin and write its tarball.
	postProcessingGrace = 10 * time.Minute
	// imagePullPatience is how long a pod may keep failing to pull its image
	// (ErrImagePull, ImagePullBackOff) before Run gives up: pulls of the
	// conformance image (~150 MB) can fail transiently on a real fleet.
	imagePullPatience = 3 * time.Minute
	// statusErrorLimit is how many status queries in a row may fail after
	// sonobuoy reported a status once (API server restarts, leader moves).
	statusErrorLimit = 12
	// apiTimeout bounds each API call distrobench makes itself.
	apiTimeout = 30 * time.Second
	// deleteWait bounds the wait for sonobuoy's namespace to be gone.
	deleteWait = 3 * time.Minute
	// retrieveAttempts is how often Run tries to copy the tarball out.
	retrieveAttempts = 3
)

// Run runs sonobuoy's e2e plugin on the cluster o.Kubeconfig reaches, in
// o.Mode, and returns its results as the canonical test tree (see
// ImportTarball; the root's Meta also names the mode and images, and its
// DurationSeconds is the plugin's wall time). Progress goes to o.Progress
// every o.ProgressInterval. The results tarball is left in o.OutDir (its
// path in Meta[MetaTarball]).
//
// Before starting, sonobuoy's preflight checks run (DNS pods present,
// supported Kubernetes version, o.Namespace free). Pods that cannot get
// their image fail the run early with the image name. Unless
// o.KeepRunning, sonobuoy's namespace and RBAC objects are deleted at the
// end, also when the run fails or ctx is cancelled.
//
// On error the returned item may still be non-nil: the results of a run
// that sonobuoy reported as failed, retrieved anyway.
func Run(ctx context.Context, o Options) (*result.Item, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("sonobuoy options: %w", err)
	}
	defer routeLogrus(o.Log)()

	r, err := newRunner(ctx, &o)
	if err != nil {
		return nil, err
	}
	return r.run(ctx)
}

// runner holds one run's clients and state.
type runner struct {
	o          *Options
	restConfig *rest.Config
	kube       kubernetes.Interface // distrobench's own calls, with apiTimeout
	sono       *sonoclient.SonobuoyClient
	gitVersion string // the API server's
	kubeTag    string // the conformance image tag sonobuoy derives from it
	started    time.Time
}

func newRunner(ctx context.Context, o *Options) (*runner, error) {
	restConfig, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w (is the path right?)", o.Kubeconfig, err)
	}
	timed := rest.CopyConfig(restConfig)
	timed.Timeout = apiTimeout
	kube, err := kubernetes.NewForConfig(timed)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", o.Kubeconfig, err)
	}
	sv, err := kube.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("cluster of kubeconfig %s (API server %s) unreachable: %w (is it up? try 'kubectl --kubeconfig %s get nodes')",
			o.Kubeconfig, redact.Endpoint(restConfig.Host), err, o.Kubeconfig)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	image, tag, err := conformanceImage(sv.GitVersion)
	switch {
	case err == nil && o.ConformanceImage == "":
		o.ConformanceImage = image
	case err != nil && o.ConformanceImage == "":
		return nil, err
	case err != nil:
		// The image is given; the tag only fills SONOBUOY_K8S_VERSION.
		tag = sv.GitVersion
	}
	dyn, err := sonodynamic.NewAPIHelperFromRESTConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("sonobuoy client for kubeconfig %s: %w", o.Kubeconfig, err)
	}
	sono, err := sonoclient.NewSonobuoyClient(restConfig, dyn)
	if err != nil {
		return nil, fmt.Errorf("sonobuoy client for kubeconfig %s: %w", o.Kubeconfig, err)
	}
	return &runner{o: o, restConfig: restConfig, kube: kube, sono: sono, gitVersion: sv.GitVersion, kubeTag: tag}, nil
}

func (r *runner) say(format string, args ...any) {
	if r.o.Progress != nil {
		r.o.Progress(fmt.Sprintf(format, args...))
	}
}

func (r *runner) elapsed() string {
	return time.Since(r.started).Round(time.Second).String()
}

func (r *runner) run(ctx context.Context) (*result.Item, error) {
	o := r.o
	if errs := r.sono.PreflightChecks(&sonoclient.PreflightConfig{
		Namespace:    o.Namespace,
		DNSNamespace: sonoconfig.DefaultDNSNamespace,
		DNSPodLabels: sonoconfig.DefaultDNSPodLabels,
	}); len(errs) > 0 {
		return nil, fmt.Errorf("sonobuoy preflight checks failed on %s: %w%s", redact.Endpoint(r.restConfig.Host), errors.Join(errs...), preflightHint(errs, o.Namespace))
	}

	gen := r.genConfig()
	r.started = time.Now()
	r.say("sonobuoy: starting mode %s on Kubernetes %s (images %s, %s; pull policy %s; timeout %s)",
		o.Mode, r.gitVersion, o.SonobuoyImage, o.ConformanceImage, o.ImagePullPolicy, o.Timeout)
	o.Log.Info("sonobuoy run", "mode", o.Mode, "namespace", o.Namespace, "kubernetes", r.gitVersion,
		"sonobuoyImage", o.SonobuoyImage, "conformanceImage", o.ConformanceImage, "pullPolicy", o.ImagePullPolicy)

	// From here on objects exist in the cluster: clean them up whatever
	// happens next (sonobuoy's client takes no context; Delete runs on its
	// own time limit, also after ctx is cancelled).
	if !o.KeepRunning {
		defer r.cleanup()
	} else {
		defer r.say("sonobuoy: left running in namespace %s (KeepRunning); remove it with 'sonobuoy delete --namespace %s' or 'kubectl delete namespace %s'", o.Namespace, o.Namespace, o.Namespace)
	}
	if err := r.sono.Run(&sonoclient.RunConfig{GenConfig: *gen}); err != nil {
		return nil, fmt.Errorf("starting sonobuoy in namespace %s: %w", o.Namespace, err)
	}

	status, waitErr := r.wait(ctx)
	pluginSeconds := time.Since(r.started).Seconds()
	if waitErr != nil && status == nil {
		return nil, waitErr
	}

	r.say("sonobuoy: retrieving results into %s", o.OutDir)
	tarball, err := r.retrieve(ctx)
	if err != nil {
		return nil, errors.Join(waitErr, err)
	}
	it, err := ImportTarball(tarball)
	if err != nil {
		return nil, errors.Join(waitErr, err)
	}
	it.DurationSeconds = pluginSeconds
	it.Meta[MetaMode] = string(o.Mode)
	it.Meta[MetaSonobuoyImage] = o.SonobuoyImage
	it.Meta[MetaConformanceImage] = o.ConformanceImage
	if _, ok := it.Meta[MetaKubernetesVersion]; !ok {
		it.Meta[MetaKubernetesVersion] = r.gitVersion
	}
	c := it.Counts()
	r.say("sonobuoy: %s: %d passed, %d failed, %d skipped, %d errored in %s; results %s",
		o.Mode, c.Passed, c.Failed, c.Skipped, c.Errored, r.elapsed(), tarball)
	return it, waitErr
}

// genConfig is what `sonobuoy run --mode M --plugin e2e` would generate.
func (r *runner) genConfig() *sonoclient.GenConfig {
	o := r.o
	cfg := sonoconfig.New()
	cfg.Namespace = o.Namespace
	cfg.WorkerImage = o.SonobuoyImage
	cfg.ImagePullPolicy = string(o.ImagePullPolicy)
	cfg.Aggregation.TimeoutSeconds = int(o.Timeout / time.Second)
	cfg.Aggregation.AdvertiseAddress = o.AdvertiseAddress

	env := map[string]string{}
	for k, v := range modeEnv[o.Mode] {
		env[k] = v
	}
	conformanceImage := o.ConformanceImage
	return &sonoclient.GenConfig{
		Config:             cfg,
		EnableRBAC:         true, // every k3s/rke2 (and k3lite) cluster has RBAC on
		ImagePullPolicy:    string(o.ImagePullPolicy),
		DynamicPlugins:     []string{e2ePlugin},
		PluginEnvOverrides: map[string]map[string]string{e2ePlugin: env},
		KubeVersion:        r.kubeTag,
		PluginTransforms: map[string][]func(*manifest.Manifest) error{
			e2ePlugin: {func(m *manifest.Manifest) error { m.Spec.Image = conformanceImage; return nil }},
		},
	}
}

// wait polls sonobuoy's status until the aggregator reports the run
// complete (status returned, nil error) or failed (status and error), the
// run cannot go on (error), or the time is up.
func (r *runner) wait(ctx context.Context) (*aggregation.Status, error) {
	o := r.o
	ctx, cancel := context.WithTimeout(ctx, o.Timeout+postProcessingGrace)
	defer cancel()
	tick := time.NewTicker(min(pollInterval, max(o.ProgressInterval, time.Second)))
	defer tick.Stop()

	var (
		lastLine     string
		lastReport   time.Time
		seenStatus   bool
		statusErrors int
		failures     = map[string]bool{}
		pullTrouble  = map[string]time.Time{}
	)
	for {
		status, pod, err := r.sono.GetStatusPod(&sonoclient.StatusConfig{Namespace: o.Namespace})
		var line string
		switch {
		case err == nil && status != nil:
			seenStatus, statusErrors = true, 0
			line = statusLine(status)
			for _, p := range status.Plugins {
				if p.Progress == nil {
					continue
				}
				for _, f := range p.Progress.Failures {
					if !failures[p.Plugin+"\x00"+f] {
						failures[p.Plugin+"\x00"+f] = true
						r.say("sonobuoy: [%s] %s spec failed: %s", r.elapsed(), p.Plugin, f)
					}
				}
			}
		case seenStatus:
			statusErrors++
			if statusErrors >= statusErrorLimit {
				return nil, fmt.Errorf("sonobuoy status in namespace %s unavailable %d times in a row: %w (check 'kubectl -n %s get pods' and 'kubectl -n %s logs sonobuoy')",
					o.Namespace, statusErrors, err, o.Namespace, o.Namespace)
			}
			line = fmt.Sprintf("status unavailable: %v", err)
		default:
			line = "waiting for the aggregator: " + aggregatorState(pod, err)
		}
		if pod != nil && (pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded) {
			return nil, fmt.Errorf("sonobuoy's aggregator pod %s/%s ended (%s) before the run completed (see 'kubectl -n %s logs %s')",
				o.Namespace, pod.Name, pod.Status.Phase, o.Namespace, pod.Name)
		}
		if err := r.checkImages(ctx, pullTrouble); err != nil {
			return nil, err
		}

		if line != lastLine || time.Since(lastReport) >= o.ProgressInterval {
			r.say("sonobuoy: [%s] %s", r.elapsed(), line)
			lastLine, lastReport = line, time.Now()
		}
		if status != nil {
			switch status.Status {
			case aggregation.CompleteStatus:
				return status, nil
			case aggregation.FailedStatus:
				return status, fmt.Errorf("sonobuoy reported the run failed (%s); see 'kubectl -n %s logs sonobuoy'", statusLine(status), o.Namespace)
			}
		}

		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("sonobuoy run did not complete within %s (Timeout %s + %s for post-processing); last status: %s",
					o.Timeout+postProcessingGrace, o.Timeout, postProcessingGrace, lastLine)
			}
			return nil, fmt.Errorf("sonobuoy run interrupted after %s: %w", r.elapsed(), ctx.Err())
		case <-tick.C:
		}
	}
}

// statusLine summarizes sonobuoy's status: each plugin's state, specs
// completed/total and failures so far.
func statusLine(s *aggregation.Status) string {
	var parts []string
	for _, p := range s.Plugins {
		part := p.Plugin
		if p.Node != "" && p.Node != "global" {
			part += "@" + p.Node
		}
		part += " " + p.Status
		if p.ResultStatus != "" {
			part += " (result " + p.ResultStatus + ")"
		}
		if pr := p.Progress; pr != nil && pr.Total > 0 {
			part += fmt.Sprintf(": %d/%d specs, %d failed", pr.Completed, pr.Total, len(pr.Failures))
		} else if pr != nil && pr.Completed > 0 {
			part += fmt.Sprintf(": %d specs done, %d failed", pr.Completed, len(pr.Failures))
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		parts = append(parts, "no plugin reported yet")
	}
	return s.Status + ": " + strings.Join(parts, "; ")
}

// aggregatorState says why there is no status yet.
func aggregatorState(pod *corev1.Pod, err error) string {
	if pod == nil {
		if err != nil {
			return err.Error()
		}
		return "no pod yet"
	}
	s := string(pod.Status.Phase)
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			reason := w.Reason
			if slices.Contains(pullTransient, reason) {
				// One wording for both: kubelet alternates them, which
				// would print a line per poll.
				reason = "image pull failing"
			}
			s += " (" + reason + ")"
		}
	}
	return s
}

// Container waiting reasons that mean the image is not there.
var (
	pullFatal     = []string{"ErrImageNeverPull", "InvalidImageName"}
	pullTransient = []string{"ErrImagePull", "ImagePullBackOff"}
)

// checkImages fails the run when a pod of sonobuoy's namespace cannot get
// its image: at once when pulling is not allowed or the name is invalid,
// after imagePullPatience when pulls keep failing.
func (r *runner) checkImages(ctx context.Context, firstSeen map[string]time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	pods, err := r.kube.CoreV1().Pods(r.o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		r.o.Log.Debug("sonobuoy: listing pods", "namespace", r.o.Namespace, "err", err)
		return nil // the status query reports lasting API trouble
	}
	for _, p := range pods.Items {
		for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			w := cs.State.Waiting
			if w == nil {
				continue
			}
			key := p.Name + "/" + cs.Name
			fatal := slices.Contains(pullFatal, w.Reason)
			if !fatal && !slices.Contains(pullTransient, w.Reason) {
				delete(firstSeen, key)
				continue
			}
			if _, ok := firstSeen[key]; !ok {
				firstSeen[key] = time.Now()
				r.say("sonobuoy: [%s] pod %s container %s: %s for image %s", r.elapsed(), p.Name, cs.Name, w.Reason, cs.Image)
			}
			if fatal || time.Since(firstSeen[key]) >= imagePullPatience {
				return fmt.Errorf("sonobuoy pod %s/%s container %s cannot get image %s: %s: %s (the nodes must pull it from its registry, or hold it under exactly this name when the pull policy is %s; set SonobuoyImage/ConformanceImage to use a mirror)",
					r.o.Namespace, p.Name, cs.Name, cs.Image, w.Reason, w.Message, r.o.ImagePullPolicy)
			}
		}
	}
	return nil
}

// retrieve copies the results tarball out of the aggregator (`sonobuoy
// retrieve`) into OutDir and returns its path.
func (r *runner) retrieve(ctx context.Context) (string, error) {
	o := r.o
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return "", fmt.Errorf("results directory: %w", err)
	}
	var lastErr error
	for attempt := 1; attempt <= retrieveAttempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return "", errors.Join(lastErr, ctx.Err())
			case <-time.After(pollInterval):
			}
		}
		files, err := r.retrieveOnce()
		if err == nil {
			var tarballs []string
			for _, f := range files {
				if strings.HasSuffix(f, ".tar.gz") {
					tarballs = append(tarballs, f)
				}
			}
			if len(tarballs) > 0 {
				// Names start with a timestamp: the last is the newest.
				slices.Sort(tarballs)
				return tarballs[len(tarballs)-1], nil
			}
			err = fmt.Errorf("the aggregator holds no results tarball yet (got %s)", listOrNone(files))
		}
		lastErr = err
		o.Log.Debug("sonobuoy: retrieve failed", "attempt", attempt, "err", err)
	}
	return "", fmt.Errorf("retrieving sonobuoy results from namespace %s into %s: %w (try 'sonobuoy retrieve --namespace %s' before the namespace is deleted, or set KeepRunning)",
		o.Namespace, o.OutDir, lastErr, o.Namespace)
}

func (r *runner) retrieveOnce() ([]string, error) {
	reader, ec, err := r.sono.RetrieveResults(&sonoclient.RetrieveConfig{Namespace: r.o.Namespace, Path: sonoconfig.AggregatorResultsPath})
	if err != nil {
		return nil, err
	}
	if reader == nil { // the client reports some failures only on ec
		return nil, <-ec
	}
	files, untarErr := sonoclient.UntarAll(reader, r.o.OutDir, "")
	// The exec stream's own error explains a broken archive best.
	if streamErr := <-ec; streamErr != nil {
		return files, streamErr
	}
	if untarErr != nil {
		return files, untarErr
	}
	for i, f := range files {
		if abs, err := filepath.Abs(f); err == nil {
			files[i] = abs
		}
	}
	return files, nil
}

// cleanup deletes sonobuoy's namespace and its cluster RBAC objects (`sonobuoy
// delete`), waiting until the namespace is gone.
func (r *runner) cleanup() {
	o := r.o
	r.say("sonobuoy: deleting namespace %s", o.Namespace)
	err := r.sono.Delete(&sonoclient.DeleteConfig{Namespace: o.Namespace, EnableRBAC: true, Wait: deleteWait})
	if err != nil {
		o.Log.Warn("sonobuoy: cleanup failed", "namespace", o.Namespace, "err", err)
		r.say("sonobuoy: could not delete namespace %s: %v (remove it with 'kubectl delete namespace %s')", o.Namespace, err, o.Namespace)
	}
}

// preflightHint adds what to do about the failed checks users hit most.
func preflightHint(errs []error, namespace string) string {
	for _, e := range errs {
		if strings.Contains(e.Error(), "namespace already exists") {
			return fmt.Sprintf(" (namespace %s is in use, by an earlier run? delete it with 'sonobuoy delete --namespace %s' or choose another namespace)", namespace, namespace)
		}
	}
	return ""
}

// conformanceImage returns the e2e plugin image and tag sonobuoy picks for a
// server version.
func conformanceImage(gitVersion string) (image, tag string, err error) {
	image, err = ConformanceImageFor(gitVersion)
	if err != nil {
		return "", "", err
	}
	return image, image[strings.LastIndex(image, ":")+1:], nil
}

// routeLogrus sends sonobuoy's logrus output (the client logs every object it
// creates) to log at debug level instead of stderr, until the returned func
// restores the previous output. logrus's standard logger is global: one
// sonobuoy run at a time per process.
func routeLogrus(log *slog.Logger) (restore func()) {
	std := logrus.StandardLogger()
	prev := std.Out
	std.SetOutput(slogWriter{log})
	return func() { std.SetOutput(prev) }
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.log.Debug("sonobuoy client", "log", line)
		}
	}
	return len(p), nil
}
