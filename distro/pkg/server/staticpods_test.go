package server

import (
	"slices"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/distro/pkg/datastore"
	"github.com/distrobench/distrobench/distro/pkg/pki"
)

func TestValidateControlPlane(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"unknown model", func(c *Config) { c.ControlPlane = "pods" }, "--control-plane \"pods\""},
		{"no agent", func(c *Config) { c.ControlPlane, c.DisableAgent = ControlPlaneStaticPods, true }, "drop --disable-agent"},
		{"supervisor on the API's port", func(c *Config) { c.ControlPlane, c.SupervisorPort = ControlPlaneStaticPods, 6443 }, "--supervisor-port 6443"},
	} {
		c := Default()
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	c := Default()
	c.ControlPlane = ControlPlaneStaticPods
	if err := c.Validate(); err != nil {
		t.Errorf("static pods with the defaults: %v", err)
	}
}

// TestStaticPodSpecs: the pods run the one-process model's arguments, in
// start order, etcd first with --cluster-init, and the apiserver reaches
// the etcd pod with the client certificate in its own arguments (in one
// process setStorage sets it).
func TestStaticPodSpecs(t *testing.T) {
	c := Default()
	c.DataDir, c.ControlPlane, c.ClusterInit = t.TempDir(), ControlPlaneStaticPods, true
	b := pki.NewBundle(c.DataDir + "/server/tls")
	r := &staticRun{cfg: &c, bundle: b, cred: c.credPaths(), advertise: "192.0.2.10"}
	store, err := r.startStore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	specs, err := r.podSpecs(store, "k3lite.local/k3lite:v1-abc")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Component)
	}
	if want := []string{podEtcd, podAPIServer, podControllerManager, podScheduler}; !slices.Equal(names, want) {
		t.Fatalf("pods %v, want %v", names, want)
	}
	api := specs[1].Args
	for _, want := range []string{"--etcd-servers=https://127.0.0.1:2379", "--etcd-certfile=" + b.APIServerKubeletClientCert, "--etcd-cafile=" + b.CACert} {
		if !slices.Contains(api, want) {
			t.Errorf("apiserver args lack %s: %v", want, api)
		}
	}
	if !slices.Equal(specs[2].Args, controllerManagerArgs(componentInputs{cfg: &c, pki: b, store: store, cred: c.credPaths()})) {
		t.Error("the controller-manager pod's args are not the one-process model's")
	}
	c.KubeSchedulerArgs = []string{"no-such-flag=1"}
	if _, err := r.podSpecs(store, "i"); err == nil || !strings.Contains(err.Error(), "kube-scheduler") {
		t.Errorf("a bad --kube-scheduler-arg: %v, want it refused before any pod is written", err)
	}
}

func TestAPIServerArgsWithoutStoreTLSHaveNoEtcdCerts(t *testing.T) {
	args := apiServerArgs(testInputs(func(c *Config) {}))
	if count(args, "etcd-certfile")+count(args, "etcd-cafile")+count(args, "etcd-keyfile") != 0 {
		t.Errorf("kine's unix socket needs no etcd TLS arguments: %v", args)
	}
	in := testInputs(nil)
	in.store = &datastore.Datastore{Endpoints: []string{"https://e:2379"}, TLS: datastore.TLS{CAFile: "/ca"}}
	if args := apiServerArgs(in); count(args, "etcd-cafile") != 1 {
		t.Errorf("an etcd CA in the store: %v", args)
	}
}
