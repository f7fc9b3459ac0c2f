// Package staticpod writes the manifests of the RKE2-style control plane:
// each component (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) a static pod of k3lite's own image that the node's
// kubelet starts from its pod-manifest directory, as RKE2 runs its
// control plane. A manifest's pod UID is a hash of the manifest, so the
// pod's cgroup (pod<UID>) is known before the kubelet starts it and an
// unchanged manifest is the same pod across restarts.
package staticpod

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// Namespace is where static pods' mirror pods live.
const Namespace = "kube-system"

// Labels every control-plane pod carries: component names it, as on
// kubeadm and RKE2 clusters, and tier and managed-by tell it from a
// user's pod.
const (
	LabelComponent = "component"
	LabelTier      = "tier"
	TierValue      = "control-plane"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByValue = "k3lite"
)

// Spec is one component's pod.
type Spec struct {
	// Component is the pod's name and the k3lite subcommand its container
	// runs ("kube-apiserver", "etcd", ...).
	Component string
	Image     string
	// Args follow the subcommand.
	Args []string
	Env  map[string]string
	// DataDir is mounted read-write at its own path: the component's
	// certificates, credentials, database and logs live under it.
	DataDir string
	// Outputs are flags whose value is a file the component writes
	// (--audit-log-path): their directory is mounted read-write, created
	// if missing. Every other absolute path in Args outside DataDir is
	// mounted read-only and must exist.
	Outputs []string
	// CPU is the container's CPU request ("250m").
	CPU string
	// GracePeriod is how long the kubelet waits after SIGTERM, in seconds.
	GracePeriod int64
}

// Pod is s's pod, its UID the hash of the rest of it.
func Pod(s Spec) (*corev1.Pod, error) {
	if s.Component == "" || s.Image == "" || s.DataDir == "" || !filepath.IsAbs(s.DataDir) {
		return nil, fmt.Errorf("static pod %q: want a component, an image and an absolute data dir (got image %q, data dir %q)", s.Component, s.Image, s.DataDir)
	}
	mounts, volumes, err := mountsOf(s)
	if err != nil {
		return nil, fmt.Errorf("static pod %s: %w", s.Component, err)
	}
	cpu, err := resource.ParseQuantity(s.CPU)
	if err != nil {
		return nil, fmt.Errorf("static pod %s: CPU request %q: %w", s.Component, s.CPU, err)
	}
	grace := s.GracePeriod
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Component, Namespace: Namespace, Labels: map[string]string{
			LabelComponent: s.Component, LabelTier: TierValue, LabelManagedBy: ManagedByValue,
		}},
		Spec: corev1.PodSpec{
			// No priority class: a static pod is critical to its kubelet
			// by being static, and a class in the manifest fails the
			// mirror pod while the apiserver has not made the class yet
			// (the first pods start before it), which hides the pods from
			// the API for up to a minute.
			HostNetwork:                   true,
			TerminationGracePeriodSeconds: &grace,
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            s.Component,
				Image:           s.Image,
				ImagePullPolicy: corev1.PullNever,
				Command:         append([]string{"/usr/local/bin/k3lite", s.Component}, s.Args...),
				Env:             envOf(s.Env),
				Resources:       corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: cpu}},
				VolumeMounts:    mounts,
			}},
			Volumes: volumes,
		},
	}
	b, err := yaml.Marshal(pod)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	pod.UID = types.UID(hex.EncodeToString(sum[:])[:32])
	return pod, nil
}

func ptr[T any](v T) *T { return &v }

func envOf(env map[string]string) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, corev1.EnvVar{Name: k, Value: env[k]})
	}
	return out
}

// mount is one host path the container sees at the same path.
type mount struct {
	path     string
	readOnly bool
	kind     corev1.HostPathType
}

// mountsOf are the data dir (read-write), each output's directory
// (read-write, created if missing) and every other absolute path in the
// args outside those (read-only, as the file or directory it is), in
// order of path.
func mountsOf(s Spec) ([]corev1.VolumeMount, []corev1.Volume, error) {
	ms := []mount{{path: filepath.Clean(s.DataDir), kind: corev1.HostPathDirectory}}
	for _, a := range s.Args {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			continue
		}
		for _, p := range pathsIn(value) {
			if within(p, ms[0].path) {
				continue // the data dir's mount shows it
			}
			m, err := mountFor(name, p, s.Outputs)
			if err != nil {
				return nil, nil, err
			}
			ms = append(ms, m)
		}
	}
	ms = covering(ms)
	mounts := make([]corev1.VolumeMount, len(ms))
	volumes := make([]corev1.Volume, len(ms))
	for i, m := range ms {
		name := fmt.Sprintf("host-%d", i)
		mounts[i] = corev1.VolumeMount{Name: name, MountPath: m.path, ReadOnly: m.readOnly}
		volumes[i] = corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: m.path, Type: ptr(m.kind)}}}
	}
	return mounts, volumes, nil
}

// pathsIn are the absolute paths in a flag's value, which may be a list
// (a,b) or pairs (k=v,k2=v2).
func pathsIn(value string) []string {
	var out []string
	for _, item := range strings.Split(value, ",") {
		for _, part := range strings.Split(item, "=") {
			if filepath.IsAbs(part) {
				out = append(out, filepath.Clean(part))
			}
		}
	}
	return out
}

// mountFor is the mount that shows p, the value of flag name: its
// directory read-write for an output, else p itself read-only.
func mountFor(name, p string, outputs []string) (mount, error) {
	if slices.Contains(outputs, name) {
		return mount{path: filepath.Dir(p), kind: corev1.HostPathDirectoryOrCreate}, nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return mount{}, fmt.Errorf("--%s names %s: %w (a static pod sees only what it mounts, so the path must exist when its manifest is written)", name, p, err)
	}
	kind := corev1.HostPathFile
	if fi.IsDir() {
		kind = corev1.HostPathDirectory
	}
	return mount{path: p, readOnly: true, kind: kind}, nil
}

// covering drops every mount under another one, keeping the outer one
// (read-write if either is), and sorts the rest by path.
func covering(ms []mount) []mount {
	slices.SortFunc(ms, func(a, b mount) int { return strings.Compare(a.path, b.path) })
	var out []mount
	for _, m := range ms {
		// A parent sorts before its children, though not always right
		// before ("/a/b-c" sorts between "/a/b" and "/a/b/c").
		i := slices.IndexFunc(out, func(o mount) bool { return within(m.path, o.path) })
		if i < 0 {
			out = append(out, m)
		} else if !m.readOnly {
			out[i].readOnly = false
		}
	}
	return out
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// FileName is the manifest file of a component in the manifest directory.
func FileName(component string) string { return component + ".yaml" }

// Write puts pod's manifest into dir, mode 0600 (CIS 1.1.1 and its
// siblings), through a temporary file renamed into place so that the
// kubelet never reads half a manifest. An unchanged manifest is left
// alone (the kubelet would not restart the pod, but the file's time would
// move); changed reports whether it was written.
func Write(dir string, pod *corev1.Pod) (changed bool, err error) {
	b, err := yaml.Marshal(pod)
	if err != nil {
		return false, err
	}
	file := filepath.Join(dir, FileName(pod.Name))
	if old, err := os.ReadFile(file); err == nil && string(old) == string(b) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("static pod %s: %w", pod.Name, err)
	}
	// The kubelet reads every file in dir, dotfiles aside: the temporary
	// file is a dotfile until it is complete.
	tmp, err := os.CreateTemp(dir, "."+pod.Name+".*.tmp")
	if err != nil {
		return false, fmt.Errorf("static pod %s: %w", pod.Name, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Close()); err != nil {
		return false, fmt.Errorf("static pod %s: write %s: %w", pod.Name, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return false, fmt.Errorf("static pod %s: %w", pod.Name, err)
	}
	return true, nil
}

// Remove takes component's manifest out of dir: the kubelet stops the pod.
// A manifest that is not there is no error.
func Remove(dir, component string) error {
	if err := os.Remove(filepath.Join(dir, FileName(component))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("static pod %s: %w", component, err)
	}
	return nil
}
