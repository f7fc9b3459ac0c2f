package netns

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestPlan(t *testing.T) {
	nw, err := Plan(3)
	if err != nil {
		t.Fatal(err)
	}
	_, subnet, err := net.ParseCIDR(nw.Subnet)
	if err != nil {
		t.Fatal(err)
	}
	if ones, _ := subnet.Mask.Size(); ones != 24 || subnet.IP[0] != 10 || subnet.IP[1] < 200 || subnet.IP[1] > 250 {
		t.Errorf("subnet %s: want a /24 in 10.200-10.250", nw.Subnet)
	}
	seen := map[string]bool{}
	names := []string{nw.Bridge}
	addrs := []string{nw.Gateway}
	for _, h := range nw.Hosts {
		names = append(names, h.Name, h.Veth)
		addrs = append(addrs, h.IP)
	}
	for _, n := range names {
		if len(n) > 15 || !strings.HasPrefix(n, nw.ID+"-") || seen[n] {
			t.Errorf("name %q: want unique, at most 15 bytes (IFNAMSIZ), starting with %s-", n, nw.ID)
		}
		seen[n] = true
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || !subnet.Contains(ip) || seen[a] {
			t.Errorf("address %q: want a unique address in %s", a, nw.Subnet)
		}
		seen[a] = true
	}
	path, argv := nw.Hosts[1].Command("/bin/k3lite", "agent", "--x")
	if path != "nsenter" || strings.Join(argv, " ") != "--net="+filepath.Join(Dir, nw.Hosts[1].Name)+" -- /bin/k3lite agent --x" {
		t.Errorf("Command = %s %v", path, argv)
	}
	for _, n := range []int{0, MaxHosts + 1} {
		if _, err := Plan(n); err == nil {
			t.Errorf("Plan(%d) succeeded, want an error", n)
		}
	}
}

// inNS runs f on a thread inside the host's namespace.
func inNS(t *testing.T, h Host, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open(h.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err == nil {
			f()
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("enter %s: %v", h.Name, err)
	}
}

func serveHello(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, "hello")
		c.Close()
	}
}

func hello(t *testing.T, dial func() (net.Conn, error), what string) {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello" {
		t.Errorf("%s: read %q, %v", what, b, err)
	}
}

func TestCreateDeleteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: creates network namespaces, a bridge and veth pairs (needs root)")
	}
	rootForward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	nw, err := Plan(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := nw.Create(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Delete(nil) })

	// Inside each host: forwarding on, rp_filter off, eth0 up with its IP.
	for _, h := range nw.Hosts {
		inNS(t, h, func() {
			for _, s := range hostSysctls {
				b, err := os.ReadFile(filepath.Join("/proc/sys", s.path))
				if err != nil || strings.TrimSpace(string(b)) != s.value {
					t.Errorf("%s: %s = %q (%v), want %s", h.Name, s.path, b, err, s.value)
				}
			}
		})
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(b) != string(rootForward) {
		t.Errorf("root namespace ip_forward changed: %q -> %q", rootForward, b)
	}

	// A listener in host 0; the root namespace and host 1 reach it.
	var l net.Listener
	inNS(t, nw.Hosts[0], func() {
		l, err = net.Listen("tcp", net.JoinHostPort(nw.Hosts[0].IP, "0"))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveHello(l)
	addr := l.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var d net.Dialer
	hello(t, func() (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }, "root namespace -> host 0")
	hello(t, func() (net.Conn, error) { return nw.Hosts[1].Dial(ctx, addr) }, "host 1 -> host 0")
	// The root namespace's gateway address is reachable from every host.
	rl, err := net.Listen("tcp", net.JoinHostPort(nw.Gateway, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	go serveHello(rl)
	hello(t, func() (net.Conn, error) { return nw.Hosts[2].Dial(ctx, rl.Addr().String()) }, "host 2 -> gateway")

	l.Close()
	rl.Close()
	if err := nw.Delete(nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{nw.Bridge, nw.Hosts[0].Veth, nw.Hosts[2].Veth} {
		var nf netlink.LinkNotFoundError
		if _, err := netlink.LinkByName(name); !errors.As(err, &nf) {
			t.Errorf("link %s still there after Delete (%v)", name, err)
		}
	}
	for _, h := range nw.Hosts {
		if h.Exists() {
			t.Errorf("namespace %s still there after Delete", h.Name)
		}
	}
	if err := nw.Delete(nil); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func TestCreateRefusesTakenNames(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: creates network namespaces (needs root)")
	}
	nw, err := Plan(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := nw.Create(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Delete(nil) })
	twin := *nw
	if err := twin.Create(nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Create with the same names: %v, want 'already exists'", err)
	}
	// The failed twin must not have removed anything of the first network.
	if !nw.Hosts[0].Exists() {
		t.Error("failed Create removed the existing network's namespace")
	}
	for _, name := range []string{nw.Bridge, nw.Hosts[0].Veth} {
		if _, err := netlink.LinkByName(name); err != nil {
			t.Errorf("failed Create removed the existing network's link %s: %v", name, err)
		}
	}
	// A twin whose bridge name is free still clashes on the namespace and
	// must only remove its own bridge.
	twin.Bridge = nw.ID + "-bx"
	if err := twin.Create(nil); err == nil {
		t.Fatal("Create with a taken namespace name succeeded")
	}
	if !nw.Hosts[0].Exists() {
		t.Error("failed Create removed the existing network's namespace")
	}
	var nf netlink.LinkNotFoundError
	if _, err := netlink.LinkByName(twin.Bridge); !errors.As(err, &nf) {
		t.Errorf("failed Create left its bridge %s behind (%v)", twin.Bridge, err)
	}
}
