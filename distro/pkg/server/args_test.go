package server

import (
	"slices"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/distro/pkg/datastore"
	"github.com/distrobench/distrobench/distro/pkg/pki"
)

func testInputs(mut func(*Config)) componentInputs {
	c := Default()
	c.DataDir = "/data"
	if mut != nil {
		mut(&c)
	}
	return componentInputs{
		cfg:       &c,
		pki:       pki.NewBundle("/data/server/tls"),
		store:     &datastore.Datastore{Endpoints: []string{"unix:///data/server/kine.sock"}},
		cred:      c.credPaths(),
		advertise: "192.0.2.10",
	}
}

func count(args []string, name string) int {
	n := 0
	for _, a := range args {
		if strings.HasPrefix(a, "--"+name+"=") || a == "--"+name {
			n++
		}
	}
	return n
}

func TestAPIServerArgsDefaults(t *testing.T) {
	args := apiServerArgs(testInputs(nil))
	for name, want := range map[string]string{
		"secure-port":                      "6443",
		"bind-address":                     "0.0.0.0",
		"advertise-address":                "192.0.2.10",
		"etcd-servers":                     "unix:///data/server/kine.sock",
		"service-cluster-ip-range":         "10.43.0.0/16",
		"client-ca-file":                   "/data/server/tls/ca.crt",
		"service-account-signing-key-file": "/data/server/tls/service-account.key",
		"requestheader-client-ca-file":     "/data/server/tls/front-proxy-ca.crt",
		"kubelet-client-certificate":       "/data/server/tls/client-kube-apiserver-kubelet.crt",
		"authorization-mode":               "Node,RBAC",
	} {
		if got, ok := lastFlagValue(args, name); !ok || got != want {
			t.Errorf("--%s = %q (set %v), want %q", name, got, ok, want)
		}
	}
	if _, ok := lastFlagValue(args, "encryption-provider-config"); ok {
		t.Error("encryption-provider-config set without --secrets-encryption")
	}
}

func TestAPIServerArgsSecretsEncryption(t *testing.T) {
	args := apiServerArgs(testInputs(func(c *Config) { c.SecretsEncryption = true }))
	if got, _ := lastFlagValue(args, "encryption-provider-config"); got != "/data/server/cred/encryption-config.json" {
		t.Errorf("encryption-provider-config = %q", got)
	}
}

func TestExtraArgsWinAndComeLast(t *testing.T) {
	in := testInputs(func(c *Config) {
		c.KubeAPIServerArgs = []string{"anonymous-auth=false", "profiling=false", "audit-log-path=/var/log/audit.log", "--v=3"}
	})
	args := apiServerArgs(in)
	if got, _ := lastFlagValue(args, "anonymous-auth"); got != "false" {
		t.Errorf("anonymous-auth = %q, want the user's false", got)
	}
	if n := count(args, "anonymous-auth"); n != 1 {
		t.Errorf("anonymous-auth appears %d times, want the user's value only", n)
	}
	tail := args[len(args)-4:]
	want := []string{"--anonymous-auth=false", "--profiling=false", "--audit-log-path=/var/log/audit.log", "--v=3"}
	if !slices.Equal(tail, want) {
		t.Errorf("user args not last in order: %q", tail)
	}
}

func TestControllerManagerArgs(t *testing.T) {
	args := controllerManagerArgs(testInputs(func(c *Config) {
		c.ClusterCIDR = "10.99.0.0/16"
		c.KubeControllerManagerArgs = []string{"node-monitor-grace-period=20s"}
	}))
	for name, want := range map[string]string{
		"cluster-cidr":                     "10.99.0.0/16",
		"allocate-node-cidrs":              "true",
		"cluster-signing-cert-file":        "/data/server/tls/ca.crt",
		"cluster-signing-key-file":         "/data/server/tls/ca.key",
		"root-ca-file":                     "/data/server/tls/ca.crt",
		"service-account-private-key-file": "/data/server/tls/service-account.key",
		"use-service-account-credentials":  "true",
		"leader-elect":                     "true",
		"kubeconfig":                       "/data/server/cred/controller.kubeconfig",
		"node-monitor-grace-period":        "20s",
	} {
		if got, ok := lastFlagValue(args, name); !ok || got != want {
			t.Errorf("--%s = %q (set %v), want %q", name, got, ok, want)
		}
	}
}

func TestSchedulerArgs(t *testing.T) {
	args := schedulerArgs(testInputs(func(c *Config) { c.KubeSchedulerArgs = []string{"secure-port=0"} }))
	if got, _ := lastFlagValue(args, "leader-elect"); got != "true" {
		t.Errorf("leader-elect = %q", got)
	}
	if got, _ := lastFlagValue(args, "kubeconfig"); got != "/data/server/cred/scheduler.kubeconfig" {
		t.Errorf("kubeconfig = %q", got)
	}
	if got, _ := lastFlagValue(args, "secure-port"); got != "0" {
		t.Errorf("secure-port = %q, want the user's 0", got)
	}
}

func TestListenAddrsFollowOverrides(t *testing.T) {
	in := testInputs(func(c *Config) {
		c.HTTPSListenPort = 16443
		c.BindAddress = "127.0.0.1"
		c.KubeSchedulerArgs = []string{"secure-port=0"}
		c.KubeControllerManagerArgs = []string{"secure-port=20257"}
	})
	got := listenAddrs(apiServerArgs(in), controllerManagerArgs(in), schedulerArgs(in))
	want := []string{"127.0.0.1:16443", "127.0.0.1:20257"}
	if !slices.Equal(got, want) {
		t.Errorf("listenAddrs = %q, want %q", got, want)
	}
}

func TestValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	c.HTTPSListenPort = 0
	c.BindAddress = "not-an-ip"
	c.ServiceCIDR = "10.43.0.0/99"
	c.ClusterInit = true
	c.DatastoreEndpoint = "mysql://u:p@tcp(127.0.0.1:3306)/k"
	c.KubeAPIServerArgs = []string{"=x"}
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"--https-listen-port", "--bind-address", "--service-cidr", "--cluster-init", "--kube-apiserver-arg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestFirstServiceIP(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.43.0.0/16":            "10.43.0.1",
		"10.96.0.0/12,fd00::/108": "10.96.0.1",
		"fd00:10:96::/108":        "fd00:10:96::1",
	} {
		ip, err := firstServiceIP(cidr)
		if err != nil || ip.String() != want {
			t.Errorf("firstServiceIP(%q) = %v, %v; want %s", cidr, ip, err, want)
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	for bind, want := range map[string]string{"0.0.0.0": "127.0.0.1", "::": "::1", "127.0.0.1": "127.0.0.1", "192.0.2.7": "192.0.2.7"} {
		if got := loopbackHost(bind); got != want {
			t.Errorf("loopbackHost(%q) = %q, want %q", bind, got, want)
		}
	}
}
