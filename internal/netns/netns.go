// Package netns builds the simulated hosts a multi-node cluster runs on: one
// network namespace per node, each joined by a veth pair to a Linux bridge
// that the run creates in the root namespace, on a private /24. The root
// namespace holds the bridge's address (the gateway), so the harness reaches
// every node directly over the bridge: nothing is forwarded or NATed in the
// root namespace, and no setting of the machine's own network changes.
// Routing settings a node needs (ip_forward, rp_filter) are set inside its
// namespace only.
//
// A Network is a plain description (names, addresses) that a caller stores
// in its state file before Create runs, so that Delete, maybe in another
// process after a crash, removes exactly what was (or may have been) made.
//
// Why vishvananda/netlink and not the `ip` command: the same library is what
// containerd, CNI and flannel use to do the same job; it gives typed errors
// (a link that is already gone is not a failure to parse), needs no
// iproute2 on the target board, and lets a veth peer be created directly
// inside its namespace under its final name (eth0), so no temporary name
// ever appears in the root namespace. Processes are entered into a namespace
// with nsenter (util-linux), not `ip netns exec`, which would also remount
// /sys and hide the cgroup tree the kubelet needs.
package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	vns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir holds the named network namespaces (the bind mounts `ip netns` uses
// too; /var/run is a link to /run on current distributions).
const Dir = "/run/netns"

// MaxHosts is how many hosts fit on one /24 next to the gateway (.1):
// hosts get .2 to .254.
const MaxHosts = 253

// IfName is the name of a host's end of its veth pair, inside its namespace.
const IfName = "eth0"

// idPrefix starts every name a Network makes (namespaces, links), so they
// are recognisable in `ip netns` and `ip link` listings.
const idPrefix = "db"

// Network is a run's simulated network: what Create makes and Delete removes.
// It marshals to JSON for the caller's state file.
type Network struct {
	// ID is short and unique on the machine ("db3f9a"); every name below
	// starts with it.
	ID      string `json:"id"`
	Bridge  string `json:"bridge"`  // bridge link in the root namespace
	Subnet  string `json:"subnet"`  // the private /24, e.g. 10.213.7.0/24
	Gateway string `json:"gateway"` // the bridge's address (the root namespace's address on the network)
	Hosts   []Host `json:"hosts"`
}

// Host is one simulated host.
type Host struct {
	Name string `json:"name"` // network namespace name: Dir/Name
	IP   string `json:"ip"`   // its address on eth0
	Veth string `json:"veth"` // the root-namespace end of its veth pair (a bridge port)
}

// Path is the namespace's bind mount, for nsenter --net= or setns.
func (h Host) Path() string { return filepath.Join(Dir, h.Name) }

// Command wraps a command so that it runs inside the host's network
// namespace: nsenter --net=PATH binary args... nsenter execs the binary in
// place (no fork, since no PID namespace is entered), so the PID a caller
// sees is the binary's own, and the process keeps the caller's mount
// namespace and cgroups.
func (h Host) Command(binary string, args ...string) (path string, argv []string) {
	return "nsenter", append([]string{"--net=" + h.Path(), "--", binary}, args...)
}

// Plan picks a free ID and /24 for a network of n hosts without creating
// anything. The subnet is drawn at random from 10.200.0.0-10.250.255.0/24
// among those that overlap no address or route of the root namespace, so
// two runs on one machine (almost surely) differ; Create fails cleanly if
// another run took the same names in between.
func Plan(n int) (*Network, error) {
	if n < 1 || n > MaxHosts {
		return nil, fmt.Errorf("network of %d hosts: between 1 and %d hosts fit on one /24", n, MaxHosts)
	}
	id, err := freeID()
	if err != nil {
		return nil, err
	}
	subnet, err := freeSubnet()
	if err != nil {
		return nil, err
	}
	base := subnet.IP.To4()
	nw := &Network{
		ID:      id,
		Bridge:  id + "-br",
		Subnet:  subnet.String(),
		Gateway: ipPlus(base, 1).String(),
	}
	for i := 0; i < n; i++ {
		nw.Hosts = append(nw.Hosts, Host{
			Name: fmt.Sprintf("%s-n%d", id, i),
			IP:   ipPlus(base, 2+i).String(),
			Veth: fmt.Sprintf("%s-v%d", id, i),
		})
	}
	return nw, nil
}

func ipPlus(base net.IP, n int) net.IP {
	ip := make(net.IP, 4)
	copy(ip, base.To4())
	ip[3] += byte(n)
	return ip
}

func randInt(n int64) (int64, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		return 0, fmt.Errorf("random number: %w", err)
	}
	return v.Int64(), nil
}

// freeID returns idPrefix + 4 hex digits that no namespace or link uses.
func freeID() (string, error) {
	links, err := listLinks()
	if err != nil {
		return "", err
	}
	for range 100 {
		b := make([]byte, 2)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("random id: %w", err)
		}
		id := idPrefix + hex.EncodeToString(b)
		taken := false
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, id+"-") {
				taken = true
			}
		}
		if m, _ := filepath.Glob(filepath.Join(Dir, id+"-*")); len(m) > 0 {
			taken = true
		}
		if !taken {
			return id, nil
		}
	}
	return "", errors.New("no free network id found in 100 tries (many leftover db* namespaces or links? clean them with 'distrobench down')")
}

// freeSubnet picks a random /24 in 10.200-10.250 that overlaps no address
// or route in the root namespace.
func freeSubnet() (*net.IPNet, error) {
	var used []*net.IPNet
	addrs, err := listAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		used = append(used, a.IPNet)
	}
	routes, err := listRoutes()
	if err != nil {
		return nil, err
	}
	for _, r := range routes {
		if r.Dst != nil && !isDefault(r.Dst) {
			used = append(used, r.Dst)
		}
	}
	for range 1000 {
		second, err := randInt(51)
		if err != nil {
			return nil, err
		}
		third, err := randInt(256)
		if err != nil {
			return nil, err
		}
		cand := &net.IPNet{IP: net.IPv4(10, byte(200+second), byte(third), 0).To4(), Mask: net.CIDRMask(24, 32)}
		clash := false
		for _, u := range used {
			if u != nil && (u.Contains(cand.IP) || cand.Contains(u.IP)) {
				clash = true
				break
			}
		}
		if !clash {
			return cand, nil
		}
	}
	return nil, errors.New("no free /24 in 10.200.0.0-10.250.255.0 (the root namespace's addresses and routes cover them all)")
}

func isDefault(n *net.IPNet) bool {
	ones, _ := n.Mask.Size()
	return ones == 0
}

// Netlink dumps may be interrupted by a concurrent change; retry a few times.
func listLinks() ([]netlink.Link, error) {
	for i := 0; ; i++ {
		l, err := netlink.LinkList()
		if err == nil || !errors.Is(err, netlink.ErrDumpInterrupted) || i == 4 {
			if err != nil {
				return nil, fmt.Errorf("list links: %w", err)
			}
			return l, nil
		}
	}
}

func listAddrs() ([]netlink.Addr, error) {
	for i := 0; ; i++ {
		a, err := netlink.AddrList(nil, netlink.FAMILY_V4)
		if err == nil || !errors.Is(err, netlink.ErrDumpInterrupted) || i == 4 {
			if err != nil {
				return nil, fmt.Errorf("list addresses: %w", err)
			}
			return a, nil
		}
	}
}

func listRoutes() ([]netlink.Route, error) {
	for i := 0; ; i++ {
		// All tables, not only main: a policy-routed subnet is in use too.
		r, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err == nil || !errors.Is(err, netlink.ErrDumpInterrupted) || i == 4 {
			if err != nil {
				return nil, fmt.Errorf("list routes: %w", err)
			}
			return r, nil
		}
	}
}

// Create makes the bridge (with the gateway address, up) in the root
// namespace and every host: its namespace, sysctls, a veth pair with one end
// on the bridge and the other as eth0 with the host's IP, lo up and a
// default route via the gateway. It needs root (CAP_NET_ADMIN and
// CAP_SYS_ADMIN). On failure it deletes what it made and returns the error.
func (n *Network) Create(log *slog.Logger) (err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// made is what this call created: on failure only that is removed, so a
	// clash with another run's names never deletes that run's network.
	made := &Network{ID: n.ID}
	defer func() {
		if err != nil {
			if derr := made.Delete(log); derr != nil {
				log.Error("clean up a half-made network", "id", n.ID, "err", derr)
			}
		}
	}()
	_, subnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return fmt.Errorf("network %s: subnet %q: %w", n.ID, n.Subnet, err)
	}
	if _, err := netlink.LinkByName(n.Bridge); err == nil {
		return fmt.Errorf("network %s: a link named %s already exists (another run, or a leftover: remove it with 'distrobench down' of that run or 'ip link del %s')", n.ID, n.Bridge, n.Bridge)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}}
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %s: %w%s", n.Bridge, err, rootHint(err))
	}
	made.Bridge = n.Bridge
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(n.Gateway).To4(), Mask: subnet.Mask}}
	if err := netlink.AddrAdd(br, gw); err != nil {
		return fmt.Errorf("address %s on bridge %s: %w", gw, n.Bridge, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring up bridge %s: %w", n.Bridge, err)
	}
	for _, h := range n.Hosts {
		if err := n.createHost(h, br, subnet, made); err != nil {
			return err
		}
		log.Debug("simulated host created", "netns", h.Name, "ip", h.IP, "bridge", n.Bridge)
	}
	log.Info("simulated network created", "id", n.ID, "bridge", n.Bridge, "subnet", n.Subnet, "hosts", len(n.Hosts))
	return nil
}

func rootHint(err error) string {
	if errors.Is(err, syscall.EPERM) {
		return " (simulated hosts need root: CAP_NET_ADMIN and CAP_SYS_ADMIN)"
	}
	return ""
}

// hostSysctls are set inside every host namespace (never in the root one).
// A node routes pod traffic (ip_forward) and receives traffic that its
// reverse path would not choose (VXLAN, service NAT): no rp_filter, like a
// kernel's own default. conf/default is set before eth0 exists, so eth0
// inherits it.
var hostSysctls = []struct{ path, value string }{
	{"net/ipv4/ip_forward", "1"},
	{"net/ipv4/conf/all/rp_filter", "0"},
	{"net/ipv4/conf/default/rp_filter", "0"},
}

func (n *Network) createHost(h Host, br netlink.Link, subnet *net.IPNet, made *Network) error {
	if _, err := netlink.LinkByName(h.Veth); err == nil {
		return fmt.Errorf("host %s: a link named %s already exists (another run, or a leftover)", h.Name, h.Veth)
	}
	created, err := newNamed(h.Name)
	if created {
		made.Hosts = append(made.Hosts, Host{Name: h.Name})
	}
	if err != nil {
		return err
	}
	ns, err := vns.GetFromPath(h.Path())
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", h.Path(), err)
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: h.Veth, MasterIndex: br.Attrs().Index},
		PeerName:      IfName,
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s for host %s: %w", h.Veth, h.Name, err)
	}
	made.Hosts[len(made.Hosts)-1].Veth = h.Veth
	if err := netlink.LinkSetUp(veth); err != nil {
		return fmt.Errorf("bring up veth %s: %w", h.Veth, err)
	}
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in namespace %s: %w", h.Name, err)
	}
	defer nh.Close()
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("namespace %s: lo: %w", h.Name, err)
	}
	if err := nh.LinkSetUp(lo); err != nil {
		return fmt.Errorf("namespace %s: bring up lo: %w", h.Name, err)
	}
	eth, err := nh.LinkByName(IfName)
	if err != nil {
		return fmt.Errorf("namespace %s: %s: %w", h.Name, IfName, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(h.IP).To4(), Mask: subnet.Mask}}
	if err := nh.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("namespace %s: address %s: %w", h.Name, addr, err)
	}
	if err := nh.LinkSetUp(eth); err != nil {
		return fmt.Errorf("namespace %s: bring up %s: %w", h.Name, IfName, err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP(n.Gateway).To4()}
	if err := nh.RouteAdd(route); err != nil {
		return fmt.Errorf("namespace %s: default route via %s: %w", h.Name, n.Gateway, err)
	}
	return nil
}

// newNamed creates the named namespace and sets its sysctls. It runs on a
// locked OS thread that unshares into the new namespace and is never given
// back to the Go scheduler: the goroutine exits still locked, so the runtime
// ends that thread and no other goroutine can ever run in the namespace.
func newNamed(name string) (created bool, err error) {
	path := filepath.Join(Dir, name)
	if _, err := os.Lstat(path); err == nil {
		return false, fmt.Errorf("network namespace %s already exists (another run, or a leftover: 'distrobench down' of that run, or 'ip netns del %s')", path, name)
	}
	type result struct {
		created bool
		err     error
	}
	rc := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		ns, err := vns.NewNamed(name)
		if err != nil {
			// NewNamed may leave an empty mount point behind (but EEXIST
			// means another run owns the name).
			if !errors.Is(err, os.ErrExist) {
				_ = os.Remove(path)
			}
			rc <- result{false, fmt.Errorf("create network namespace %s: %w%s", name, err, rootHint(err))}
			return
		}
		ns.Close()
		for _, s := range hostSysctls {
			p := filepath.Join("/proc/sys", s.path)
			if err := os.WriteFile(p, []byte(s.value), 0o644); err != nil {
				rc <- result{true, fmt.Errorf("namespace %s: set %s=%s: %w", name, strings.ReplaceAll(s.path, "/", "."), s.value, err)}
				return
			}
		}
		rc <- result{true, nil}
	}()
	r := <-rc
	return r.created, r.err
}

// Delete removes the hosts' namespaces, their veth pairs and the bridge. It
// is idempotent: what is already gone is skipped, so it may run again after
// a crash or a failed Create. Links are only deleted when they are of the
// kind this package makes (veth, bridge), so a reused name of a foreign
// link is left alone. Processes still inside a namespace keep it alive
// after its name is removed; stop them first.
func (n *Network) Delete(log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for i := len(n.Hosts) - 1; i >= 0; i-- {
		h := n.Hosts[i]
		// Deleting the root end deletes the pair even if a leftover process
		// keeps the namespace alive.
		errs = append(errs, delLink(h.Veth, "veth", log))
		errs = append(errs, deleteNamed(h.Name))
	}
	errs = append(errs, delLink(n.Bridge, "bridge", log))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete network %s: %w", n.ID, err)
	}
	log.Debug("simulated network deleted", "id", n.ID)
	return nil
}

func delLink(name, kind string, log *slog.Logger) error {
	if name == "" {
		return nil
	}
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up link %s: %w", name, err)
	}
	if l.Type() != kind {
		log.Warn("not deleting a link that is not ours (wrong type)", "link", name, "type", l.Type(), "want", kind)
		return nil
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

func deleteNamed(name string) error {
	if name == "" || strings.ContainsRune(name, '/') {
		return nil
	}
	path := filepath.Join(Dir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// Exists reports whether the host's namespace is present.
func (h Host) Exists() bool {
	_, err := os.Lstat(h.Path())
	return err == nil
}

// Dial opens a TCP connection from inside the host's namespace (the socket
// is created on a thread that entered the namespace; a socket keeps the
// namespace it was created in). Used to check what a node can reach.
func (h Host) Dial(ctx context.Context, addr string) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	rc := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open(h.Path())
		if err != nil {
			rc <- res{nil, fmt.Errorf("open %s: %w", h.Path(), err)}
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			rc <- res{nil, fmt.Errorf("enter %s: %w", h.Path(), err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		rc <- res{c, err}
	}()
	r := <-rc
	if r.err != nil {
		return nil, fmt.Errorf("from host %s (%s): %w", h.Name, h.IP, r.err)
	}
	return r.c, nil
}
