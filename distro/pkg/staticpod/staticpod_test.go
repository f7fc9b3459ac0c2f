package staticpod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// hostFiles makes, under a temp dir, a data dir and, outside it, a
// config file and a config dir, as a profile's files are.
func hostFiles(t *testing.T) (data, file, dir string) {
	t.Helper()
	root := t.TempDir()
	data, dir = filepath.Join(root, "data"), filepath.Join(root, "profile", "files")
	file = filepath.Join(root, "admission.yaml")
	for _, d := range []string{filepath.Join(data, "server", "tls"), dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(file, []byte("kind: AdmissionConfiguration\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return data, file, dir
}

func apiserverSpec(data, file, dir string) Spec {
	return Spec{
		Component: "kube-apiserver", Image: "k3lite.local/k3lite:v1-abc", DataDir: data, CPU: "250m", GracePeriod: 15,
		Env:     map[string]string{"GODEBUG": "fips140=on"},
		Outputs: []string{"audit-log-path"},
		Args: []string{
			"--tls-cert-file=" + filepath.Join(data, "server", "tls", "serving.crt"), // under the data dir
			"--admission-control-config-file=" + file,
			"--audit-policy-file=" + filepath.Join(dir, "audit.yaml"), // not there yet: see below
			"--audit-log-path=/var/log/k3lite/audit.log",
			"--secure-port=6443",
		},
	}
}

func TestPodMountsWhatItsArgsName(t *testing.T) {
	data, file, dir := hostFiles(t)
	s := apiserverSpec(data, file, dir)
	if _, err := Pod(s); err == nil || !strings.Contains(err.Error(), "--audit-policy-file names") {
		t.Fatalf("a path that does not exist: %v, want it named", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Args = append(s.Args, "--kubelet-client-certificate="+dir) // a directory, and the file's parent
	pod, err := Pod(s)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	byName := map[string]*corev1.HostPathVolumeSource{}
	for _, v := range pod.Spec.Volumes {
		byName[v.Name] = v.HostPath
	}
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		hp := byName[m.Name]
		if hp == nil || hp.Path != m.MountPath {
			t.Fatalf("mount %+v has no host path at the same path (%+v)", m, hp)
		}
		got[m.MountPath] = string(*hp.Type) + map[bool]string{true: " ro", false: " rw"}[m.ReadOnly]
	}
	want := map[string]string{
		data:              "Directory rw",         // the data dir, and the serving cert under it
		file:              "File ro",              // a file outside it
		dir:               "Directory ro",         // a dir, holding the audit policy
		"/var/log/k3lite": "DirectoryOrCreate rw", // an output's directory
	}
	if len(got) != len(want) {
		t.Errorf("mounts %v, want %v", got, want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("mount %s: %q, want %q (all: %v)", p, got[p], w, got)
		}
	}
	c := pod.Spec.Containers[0]
	if c.Command[0] != "/usr/local/bin/k3lite" || c.Command[1] != "kube-apiserver" || c.ImagePullPolicy != corev1.PullNever ||
		len(c.Env) != 1 || c.Env[0].Value != "fips140=on" || c.Resources.Requests.Cpu().MilliValue() != 250 {
		t.Errorf("container %+v", c)
	}
	if !pod.Spec.HostNetwork || pod.Labels[LabelComponent] != "kube-apiserver" || pod.Namespace != Namespace ||
		pod.Spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || *pod.Spec.TerminationGracePeriodSeconds != 15 {
		t.Errorf("pod %+v", pod.ObjectMeta)
	}
}

func TestCoveringKeepsTheOuterMount(t *testing.T) {
	ms := covering([]mount{
		{path: "/a/b/c", readOnly: true, kind: corev1.HostPathFile},
		{path: "/a/b-c", readOnly: true, kind: corev1.HostPathDirectory},
		{path: "/a/b", readOnly: true, kind: corev1.HostPathDirectory},
		{path: "/a/b/d", kind: corev1.HostPathDirectoryOrCreate}, // read-write inside a read-only dir
	})
	if len(ms) != 2 || ms[0].path != "/a/b" || ms[0].readOnly || ms[1].path != "/a/b-c" {
		t.Errorf("covering = %+v, want /a/b read-write (it holds a read-write dir) and /a/b-c", ms)
	}
}

func TestUIDIsTheManifestsHash(t *testing.T) {
	data, file, dir := hostFiles(t)
	s := apiserverSpec(data, file, dir)
	s.Args = s.Args[:2]
	a, err := Pod(s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Pod(s)
	if len(a.UID) != 32 || a.UID != b.UID {
		t.Errorf("UIDs %q and %q of one spec: want the same 32 hex digits", a.UID, b.UID)
	}
	s.Args = append(s.Args, "--v=2")
	if c, _ := Pod(s); c.UID == a.UID {
		t.Error("another argument left the UID as it was: a changed manifest must be a new pod")
	}
}

func TestWriteAndRemove(t *testing.T) {
	data, file, dir := hostFiles(t)
	s := apiserverSpec(data, file, dir)
	s.Args = s.Args[:2]
	pod, err := Pod(s)
	if err != nil {
		t.Fatal(err)
	}
	manifests := filepath.Join(t.TempDir(), "pod-manifests")
	for i, want := range []bool{true, false} {
		changed, err := Write(manifests, pod)
		if err != nil || changed != want {
			t.Fatalf("write %d: changed %v, err %v; want changed %v", i+1, changed, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(manifests, "kube-apiserver.yaml"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("manifest %v, mode %v: want 0600", err, fi.Mode())
	}
	if entries, _ := os.ReadDir(manifests); len(entries) != 1 {
		t.Errorf("the manifest dir holds %d files, want the manifest only (no temporary file left)", len(entries))
	}
	pod.Spec.Containers[0].Args = []string{"--v=2"}
	if changed, err := Write(manifests, pod); err != nil || !changed {
		t.Errorf("a changed pod: changed %v, err %v", changed, err)
	}
	for range 2 {
		if err := Remove(manifests, "kube-apiserver"); err != nil {
			t.Errorf("Remove: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(manifests, "kube-apiserver.yaml")); !os.IsNotExist(err) {
		t.Errorf("the manifest is still there: %v", err)
	}
}

func TestPodRefusesAnIncompleteSpec(t *testing.T) {
	for _, s := range []Spec{
		{Component: "etcd", Image: "i", DataDir: "relative", CPU: "100m"},
		{Component: "etcd", DataDir: "/d", CPU: "100m"},
		{Component: "etcd", Image: "i", DataDir: "/", CPU: "lots"},
	} {
		if _, err := Pod(s); err == nil {
			t.Errorf("Pod(%+v) accepted", s)
		}
	}
}
