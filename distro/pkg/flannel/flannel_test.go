package flannel

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flannel-io/flannel/pkg/subnet"
	"github.com/flannel-io/flannel/pkg/trafficmngr/iptables"
	"github.com/flannel-io/flannel/pkg/trafficmngr/nftables"
)

func validConfig(t *testing.T) Config {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Config{
		Kubeconfig:  kc,
		NodeName:    "node-a",
		NodeIP:      "10.99.0.1",
		ClusterCIDR: "10.42.0.0/16",
		RunDir:      t.TempDir(),
	}
}

func TestDefaultBackendIsVXLAN(t *testing.T) {
	c := validConfig(t).withDefaults()
	if c.Backend != BackendVXLAN {
		t.Fatalf("Backend = %q, want %q", c.Backend, BackendVXLAN)
	}
	if err := c.validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	c = Config{Backend: " Host-GW "}.withDefaults()
	if c.Backend != BackendHostGW {
		t.Fatalf("Backend = %q, want %q (case and spaces are not significant)", c.Backend, BackendHostGW)
	}
}

func TestValidateReportsEveryProblemWithItsField(t *testing.T) {
	c := Config{
		Kubeconfig:  filepath.Join(t.TempDir(), "missing"),
		NodeIP:      "fd00::1",
		Backend:     "udp",
		ClusterCIDR: "10.42.0.0/30",
	}.withDefaults()
	err := c.validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		"kubeconfig: ", "NodeName: required", "NodeIP: fd00::1: only IPv4",
		`backend: "udp" is not supported`, "ClusterCIDR: 10.42.0.0/30 is too small", "RunDir: required",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error does not wrap the missing kubeconfig's ErrNotExist: %v", err)
	}
}

func TestValidateRejectsMalformedAddresses(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"NodeIP":      func(c *Config) { c.NodeIP = "node-a.example" },
		"ClusterCIDR": func(c *Config) { c.ClusterCIDR = "10.42.0.0" },
		"ClusterCIDR v6": func(c *Config) {
			c.ClusterCIDR = "fd42::/48"
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := validConfig(t)
			mutate(&c)
			err := c.withDefaults().validate()
			if err == nil || !strings.Contains(err.Error(), strings.Fields(name)[0]+": ") {
				t.Fatalf("want an error naming %s, got %v", name, err)
			}
		})
	}
}

// The generated net-conf.json must read back through flannel's own parser
// as the network and backend we asked for.
func TestNetConfReadsBackThroughFlannel(t *testing.T) {
	for _, tc := range []struct {
		backend string
		nft     bool
		wantBE  map[string]any
	}{
		{BackendVXLAN, false, map[string]any{"Type": "vxlan", "VNI": float64(1), "Port": float64(8472)}},
		{BackendHostGW, true, map[string]any{"Type": "host-gw"}},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			c := validConfig(t)
			c.Backend, c.NFTables = tc.backend, tc.nft
			raw, err := c.withDefaults().netConfJSON()
			if err != nil {
				t.Fatal(err)
			}
			sc, err := subnet.ParseConfig(string(raw))
			if err != nil {
				t.Fatalf("flannel cannot parse %s: %v", raw, err)
			}
			if sc.BackendType != tc.backend || sc.Network.String() != "10.42.0.0/16" ||
				!sc.EnableIPv4 || sc.EnableIPv6 || sc.EnableNFTables != tc.nft {
				t.Fatalf("flannel read %+v from %s", sc, raw)
			}
			var be map[string]any
			if err := json.Unmarshal(sc.Backend, &be); err != nil {
				t.Fatal(err)
			}
			if len(be) != len(tc.wantBE) {
				t.Fatalf("backend config %v, want %v", be, tc.wantBE)
			}
			for k, v := range tc.wantBE {
				if be[k] != v {
					t.Fatalf("backend config %v, want %v", be, tc.wantBE)
				}
			}
		})
	}
}

func TestExpectedMTU(t *testing.T) {
	for _, tc := range []struct {
		backend     string
		iface, want int
	}{
		{BackendVXLAN, 1500, 1450},
		{BackendVXLAN, 9000, 8950},
		{BackendHostGW, 1500, 1500},
	} {
		if got := expectedMTU(tc.backend, tc.iface); got != tc.want {
			t.Errorf("expectedMTU(%s, %d) = %d, want %d", tc.backend, tc.iface, got, tc.want)
		}
	}
}

func TestExtIfaceHintPrefersExplicitInterface(t *testing.T) {
	c := validConfig(t)
	if got := c.extIfaceHint(); got != "10.99.0.1" {
		t.Errorf("without Iface the hint is %q, want the node IP", got)
	}
	c.Iface = "eth1"
	if got := c.extIfaceHint(); got != "eth1" {
		t.Errorf("with Iface the hint is %q, want eth1", got)
	}
}

func TestTrafficManagerChoice(t *testing.T) {
	if _, ok := newTrafficManager(false).(*iptables.IPTablesManager); !ok {
		t.Error("iptables mode does not use flannel's iptables manager")
	}
	if _, ok := newTrafficManager(true).(*nftables.NFTablesManager); !ok {
		t.Error("nftables mode does not use flannel's nftables manager")
	}
}

func TestCheckToolsNamesWhatIsMissing(t *testing.T) {
	onlyHave := func(have ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, h := range have {
				if h == name {
					return "/usr/sbin/" + name, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	if err := checkTools(false, onlyHave("iptables", "iptables-restore")); err != nil {
		t.Errorf("iptables mode with both binaries: %v", err)
	}
	err := checkTools(false, onlyHave("iptables"))
	if err == nil || !strings.Contains(err.Error(), "iptables-restore") || !strings.Contains(err.Error(), "apt-get install iptables") {
		t.Errorf("iptables mode without iptables-restore: %v", err)
	}
	if err := checkTools(true, onlyHave("nft")); err != nil {
		t.Errorf("nftables mode with nft: %v", err)
	}
	if err := checkTools(true, onlyHave("iptables", "iptables-restore")); err == nil || !strings.Contains(err.Error(), "[nft]") {
		t.Errorf("nftables mode without nft: %v", err)
	}
}

func TestReadPreviousLease(t *testing.T) {
	dir := t.TempDir()
	prev, err := readPreviousLease(filepath.Join(dir, "absent.env"))
	if err != nil || !prev.Network.Empty() || !prev.Subnet.Empty() {
		t.Fatalf("missing file: %+v, %v; want zero values and no error", prev, err)
	}

	// What flannel's WriteSubnetFile writes.
	good := filepath.Join(dir, "subnet.env")
	if err := os.WriteFile(good, []byte("FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prev, err = readPreviousLease(good)
	if err != nil {
		t.Fatal(err)
	}
	if prev.Network.String() != "10.42.0.0/16" || prev.Subnet.String() != "10.42.1.0/24" {
		t.Fatalf("read network %s subnet %s, want 10.42.0.0/16 and 10.42.1.0/24", prev.Network, prev.Subnet)
	}

	bad := filepath.Join(dir, "bad.env")
	if err := os.WriteFile(bad, []byte("FLANNEL_SUBNET=banana\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPreviousLease(bad); err == nil || !strings.Contains(err.Error(), "FLANNEL_SUBNET") {
		t.Fatalf("corrupt file: %v, want an error naming FLANNEL_SUBNET", err)
	}
}

func TestStartRejectsInvalidConfigBeforeTouchingAnything(t *testing.T) {
	runDir := filepath.Join(t.TempDir(), "run")
	_, err := Start(context.Background(), Config{RunDir: runDir}, nil)
	if err == nil || !strings.Contains(err.Error(), "flannel: invalid config") {
		t.Fatalf("Start with an empty config: %v", err)
	}
	if _, statErr := os.Stat(runDir); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("Start created %s despite an invalid config (stat: %v)", runDir, statErr)
	}
}

func TestStartGivesUpWhenContextEndsBeforePodCIDR(t *testing.T) {
	c := validConfig(t)
	// An apiserver that is not there: Start keeps polling until ctx ends.
	if err := os.WriteFile(c.Kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The tool check comes first; pretend the tools are there.
	orig := lookPath
	lookPath = func(name string) (string, error) { return "/usr/sbin/" + name, nil }
	t.Cleanup(func() { lookPath = orig })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Start(ctx, c, nil)
	if err == nil {
		t.Fatal("Start succeeded without an apiserver")
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `node "node-a" has no podCIDR`) {
		t.Fatalf("want a podCIDR wait error wrapping context.Canceled, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.RunDir, NetConfFile)); err != nil {
		t.Fatalf("net-conf.json not written before waiting: %v", err)
	}
}

func TestOnlyOneStartPerProcess(t *testing.T) {
	running.Store(true)
	t.Cleanup(func() { running.Store(false) })
	c := validConfig(t)
	_, err := Start(context.Background(), c, nil)
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Start: %v, want an already-running error", err)
	}
	if _, statErr := os.Stat(filepath.Join(c.RunDir, NetConfFile)); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("second Start rewrote net-conf.json (stat: %v)", statErr)
	}
}

func TestFailedStartReleasesTheProcessSlot(t *testing.T) {
	orig := lookPath
	lookPath = func(string) (string, error) { return "", errors.New("not found") }
	t.Cleanup(func() { lookPath = orig })
	if _, err := Start(context.Background(), validConfig(t), nil); err == nil {
		t.Fatal("Start succeeded without iptables")
	}
	if running.Load() {
		t.Fatal("a failed Start left the process marked as running")
	}
}
