package datastore

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/process"
)

var gw = netip.MustParsePrefix("10.213.7.1/24")

func TestCheckExtraListen(t *testing.T) {
	other := netip.MustParsePrefix("192.168.5.9/32")
	got, err := checkExtraListen([]netip.Prefix{gw, other, gw})
	if err != nil || !reflect.DeepEqual(got, []netip.Prefix{gw, other}) {
		t.Errorf("checkExtraListen(gw, other, gw) = %v, %v; want [gw other]", got, err)
	}
	if got, err := checkExtraListen(nil); err != nil || got != nil {
		t.Errorf("checkExtraListen(nil) = %v, %v", got, err)
	}
	for _, c := range []struct {
		p    netip.Prefix
		want string
	}{
		{netip.Prefix{}, "not an address with a prefix length"},
		{netip.MustParsePrefix("fd00::1/64"), "only IPv4"},
		{netip.MustParsePrefix("127.0.0.1/8"), "loopback"},
		{netip.MustParsePrefix("127.0.0.2/32"), "loopback"},
		{netip.MustParsePrefix("0.0.0.0/0"), "want the address of one of this machine's interfaces"},
		{netip.MustParsePrefix("224.0.0.1/32"), "want the address of one of this machine's interfaces"},
		{netip.MustParsePrefix("255.255.255.255/32"), "want the address of one of this machine's interfaces"},
	} {
		_, err := checkExtraListen([]netip.Prefix{gw, c.p})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("checkExtraListen(%v) = %v, want an error containing %q", c.p, err, c.want)
		}
	}
}

func TestListenAddrs(t *testing.T) {
	if got := listenAddrs(nil); !reflect.DeepEqual(got, []string{"127.0.0.1"}) {
		t.Errorf("listenAddrs(nil) = %v", got)
	}
	if got := listenAddrs([]netip.Prefix{gw}); !reflect.DeepEqual(got, []string{"127.0.0.1", "10.213.7.1"}) {
		t.Errorf("listenAddrs(gw) = %v (want the address, not the network)", got)
	}
}

func TestMariadbdArgs(t *testing.T) {
	bind := func(args []string) []string {
		var out []string
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--bind-address="); ok {
				out = append(out, v)
			}
		}
		return out
	}
	if got := bind(mariadbdArgs("/d", "/s", 3306, nil)); !reflect.DeepEqual(got, []string{"127.0.0.1"}) {
		t.Errorf("--bind-address without extra addresses = %v", got)
	}
	args := mariadbdArgs("/d", "/s", 3306, []netip.Prefix{gw})
	if got := bind(args); !reflect.DeepEqual(got, []string{"127.0.0.1,10.213.7.1"}) {
		t.Errorf("--bind-address = %v, want one flag 127.0.0.1,10.213.7.1", got)
	}
	for _, want := range []string{"--no-defaults", "--port=3306", "--socket=/s", "--skip-name-resolve", "--datadir=/d"} {
		if !slices.Contains(args, want) {
			t.Errorf("mariadbd args %v lack %s", args, want)
		}
	}
}

func TestMySQLSetupStatements(t *testing.T) {
	stmts := mysqlSetupStatements("pw", []netip.Prefix{gw, netip.MustParsePrefix("10.213.7.9/24"), netip.MustParsePrefix("192.168.5.9/32")})
	want := []string{
		"CREATE DATABASE IF NOT EXISTS kine",
		"CREATE OR REPLACE USER 'kine'@'127.0.0.1' IDENTIFIED BY 'pw'",
		"GRANT ALL PRIVILEGES ON kine.* TO 'kine'@'127.0.0.1'",
		"CREATE OR REPLACE USER 'kine'@'10.213.7.0/255.255.255.0' IDENTIFIED BY 'pw'",
		"GRANT ALL PRIVILEGES ON kine.* TO 'kine'@'10.213.7.0/255.255.255.0'",
		"CREATE OR REPLACE USER 'kine'@'192.168.5.9/255.255.255.255' IDENTIFIED BY 'pw'",
		"GRANT ALL PRIVILEGES ON kine.* TO 'kine'@'192.168.5.9/255.255.255.255'",
	}
	if !reflect.DeepEqual(stmts, want) {
		t.Errorf("statements:\n got %q\nwant %q", stmts, want)
	}
	// Without extra addresses kine may connect from loopback only.
	for _, s := range mysqlSetupStatements("pw", nil) {
		if strings.Contains(s, "'%'") || strings.Contains(s, "root") || (strings.Contains(s, "'kine'@") && !strings.Contains(s, "'kine'@'127.0.0.1'")) {
			t.Errorf("loopback-only setup has %q", s)
		}
	}
}

func TestPostgresArgsAndHBA(t *testing.T) {
	args := postgresArgs("/d", "/s", 5432, []netip.Prefix{gw})
	for _, want := range []string{"listen_addresses=127.0.0.1,10.213.7.1", "port=5432", "unix_socket_directories=/s"} {
		if !slices.Contains(args, want) {
			t.Errorf("postgres args %v lack %s", args, want)
		}
	}
	if !slices.Contains(postgresArgs("/d", "", 5432, nil), "listen_addresses=127.0.0.1") {
		t.Errorf("postgres args without extra addresses: %v", postgresArgs("/d", "", 5432, nil))
	}
	lines := hbaLines([]netip.Prefix{gw, netip.MustParsePrefix("10.213.7.9/24")})
	if want := []string{"host all kine 10.213.7.0/24 scram-sha-256"}; !reflect.DeepEqual(lines, want) {
		t.Errorf("hbaLines = %q, want %q", lines, want)
	}
	if lines := hbaLines(nil); len(lines) != 0 {
		t.Errorf("hbaLines(nil) = %q", lines)
	}

	// appendHBA keeps initdb's records and the file's mode.
	dir := t.TempDir()
	path := filepath.Join(dir, "pg_hba.conf")
	initdb := "host all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(path, []byte(initdb), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := appendHBA(dir, []netip.Prefix{gw}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), initdb) || !strings.HasSuffix(string(b), "\nhost all kine 10.213.7.0/24 scram-sha-256\n") || strings.Contains(string(b), "trust") {
		t.Errorf("pg_hba.conf after appendHBA:\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("pg_hba.conf mode %v, want 0600", fi.Mode().Perm())
	}
	if err := appendHBA(filepath.Join(dir, "missing"), []netip.Prefix{gw}); err == nil || !strings.Contains(err.Error(), "admit the extra listen networks") {
		t.Errorf("appendHBA on a missing file: %v", err)
	}
}

func TestEtcdArgs(t *testing.T) {
	args, clients := etcdArgs("/d", 2379, 2380, []netip.Prefix{gw})
	if want := []string{"http://127.0.0.1:2379", "http://10.213.7.1:2379"}; !reflect.DeepEqual(clients, want) {
		t.Errorf("clients = %v, want %v", clients, want)
	}
	flag := func(name string) string {
		i := slices.Index(args, name)
		if i < 0 || i+1 >= len(args) {
			t.Fatalf("etcd args %v lack %s", args, name)
		}
		return args[i+1]
	}
	for _, f := range []string{"--listen-client-urls", "--advertise-client-urls"} {
		if got := flag(f); got != "http://127.0.0.1:2379,http://10.213.7.1:2379" {
			t.Errorf("%s = %q", f, got)
		}
	}
	for _, f := range []string{"--listen-peer-urls", "--initial-advertise-peer-urls"} {
		if got := flag(f); got != "http://127.0.0.1:2380" {
			t.Errorf("%s = %q: peers stay on loopback", f, got)
		}
	}
	if got := flag("--initial-cluster"); got != "default=http://127.0.0.1:2380" {
		t.Errorf("--initial-cluster = %q", got)
	}
	if _, clients := etcdArgs("/d", 2379, 2380, nil); !reflect.DeepEqual(clients, []string{"http://127.0.0.1:2379"}) {
		t.Errorf("clients without extra addresses = %v", clients)
	}
}

// A bad extra address is refused before anything is started or written,
// also where no server binary is installed.
func TestLocalDriversRefuseBadExtraListen(t *testing.T) {
	for _, name := range []string{"mysql", "postgres", "etcd"} {
		d, _ := Get(name)
		dir := t.TempDir()
		g := process.NewGroup(nil)
		_, err := d.Start(context.Background(), StartOptions{Dir: dir, Group: g, ExtraListen: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}})
		if err == nil || !strings.HasPrefix(err.Error(), name+": extra listen address 0.0.0.0/0") {
			t.Errorf("%s: Start with 0.0.0.0/0: %v", name, err)
		}
		if n := len(g.Procs()); n != 0 {
			t.Errorf("%s: %d processes started", name, n)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: wrote %d entries into the run directory", name, len(entries))
		}
	}
	// Datastores that start no server ignore extra addresses.
	d, _ := Get("sqlite")
	if _, err := d.Start(context.Background(), StartOptions{Dir: t.TempDir(), ExtraListen: []netip.Prefix{gw}}); err != nil {
		t.Errorf("sqlite with an extra address: %v", err)
	}
}

func TestListenOn(t *testing.T) {
	p, err := ListenOn("10.213.7.1", "10.213.7.0/24")
	if err != nil || p != gw {
		t.Errorf("ListenOn(10.213.7.1, 10.213.7.0/24) = %v, %v; want %v", p, err, gw)
	}
	for _, c := range [][3]string{
		{"10.213.8.1", "10.213.7.0/24", "is not on the network 10.213.7.0/24"},
		{"10.213.7", "10.213.7.0/24", "listen address: "},
		{"10.213.7.1", "10.213.7.0", "listen network: "},
	} {
		if _, err := ListenOn(c[0], c[1]); err == nil || !strings.Contains(err.Error(), c[2]) {
			t.Errorf("ListenOn(%s, %s) = %v, want an error containing %q", c[0], c[1], err, c[2])
		}
	}
}
