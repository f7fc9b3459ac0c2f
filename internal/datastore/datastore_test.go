package datastore

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/process"
)

func TestRegistryNames(t *testing.T) {
	// The registry holds a driver for every type of the vocabulary.
	want := dstype.Names()
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		d, err := Get(n)
		if err != nil {
			t.Fatalf("Get(%q): %v", n, err)
		}
		if d.Name() != n || d.Description() == "" {
			t.Errorf("driver %q: Name()=%q Description()=%q", n, d.Name(), d.Description())
		}
	}
}

func TestGetUnknownListsValid(t *testing.T) {
	_, err := Get("mongo")
	want := `unknown datastore "mongo" (valid: embedded-etcd, etcd, mysql, postgres, sqlite)`
	if err == nil || err.Error() != want {
		t.Errorf("Get(mongo) error = %v, want %q", err, want)
	}
}

func TestInServerDrivers(t *testing.T) {
	for name, args := range map[string][]string{"sqlite": nil, "embedded-etcd": {"--cluster-init"}} {
		d, _ := Get(name)
		inst, err := d.Start(context.Background(), StartOptions{Dir: t.TempDir(), Group: process.NewGroup(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if inst.Endpoint != "" || len(inst.Procs) != 0 || !reflect.DeepEqual(inst.ServerArgs, args) {
			t.Errorf("%s: %+v", name, inst)
		}
		if !strings.Contains(inst.Redacted(), name) {
			t.Errorf("%s: Redacted() = %q", name, inst.Redacted())
		}
	}
}

// External trusts the profile's validation; it only needs a registered
// name.
func TestExternalUnknownName(t *testing.T) {
	_, err := External("mongo", "mongodb://u:hunter2@h")
	if err == nil || !strings.Contains(err.Error(), `unknown datastore "mongo" (valid: `) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("External(mongo) error = %v", err)
	}
}

// For picks the user's server when an endpoint is given, else the
// registered driver (which starts a local server for mysql).
func TestFor(t *testing.T) {
	d, err := For("mysql", "mysql://kine:pw@tcp(127.0.0.1:1)/kine")
	if _, ok := d.(*external); err != nil || !ok {
		t.Errorf("For with an endpoint = %T, %v; want the external driver", d, err)
	}
	d, err = For("mysql", "")
	if _, ok := d.(mysqlDriver); err != nil || !ok {
		t.Errorf("For without an endpoint = %T, %v; want the registered mysql driver", d, err)
	}
	if _, err := For("", ""); err == nil {
		t.Error(`For("") succeeded: the default datastore is profile.SetDefaults' to fill`)
	}
}

func TestCheckReachableUnreachableNamesHostPortRedacted(t *testing.T) {
	// Port 1 on loopback: nothing listens there, the kernel refuses at once.
	cases := map[string]string{
		"postgres://kine:hunter2@127.0.0.1:1/kine":   `datastore "postgres://kine:REDACTED@127.0.0.1:1/kine" unreachable: dial tcp 127.0.0.1:1: connect: connection refused (is the server running?)`,
		"mysql://kine:hunter2@tcp(127.0.0.1:1)/kine": `datastore "mysql://kine:REDACTED@tcp(127.0.0.1:1)/kine" unreachable: dial tcp 127.0.0.1:1: connect: connection refused (is the server running?)`,
		"http://127.0.0.1:1":                         `datastore "http://127.0.0.1:1" unreachable: dial tcp 127.0.0.1:1: connect: connection refused (is the server running?)`,
	}
	for ep, want := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := CheckReachable(ctx, ep, nil)
		cancel()
		if err == nil || err.Error() != want {
			t.Errorf("CheckReachable(%s)\n got %v\nwant %s", ep, err, want)
		}
	}
}

// A user's endpoint travels in Instance.Endpoint only (never in
// ServerArgs), and External's Start dials nothing: the deployer dials once,
// from where the server runs.
func TestExternalHandsOverTheEndpointOnly(t *testing.T) {
	ep := "mysql://kine:pw@tcp(127.0.0.1:1)/kine" // nothing listens on port 1
	d, err := External("mysql", ep)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := d.Start(context.Background(), StartOptions{Dir: t.TempDir(), Group: process.NewGroup(nil)})
	if err != nil {
		t.Fatalf("Start dialled the endpoint: %v", err)
	}
	if inst.Endpoint != ep || inst.ServerArgs != nil || len(inst.Procs) != 0 {
		t.Errorf("Instance = %+v, want the endpoint only", inst)
	}
	if !reflect.DeepEqual(inst.Secrets(), []string{"pw"}) || strings.Contains(inst.Redacted(), ":pw@") {
		t.Errorf("Secrets() = %v, Redacted() = %q", inst.Secrets(), inst.Redacted())
	}
}

func TestCheckReachableReachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	for _, ep := range []string{"postgres://u:p@" + addr + "/db", "mysql://u:p@tcp(" + addr + ")/db", "http://" + addr, "sqlite:///nonexistent/state.db"} {
		if err := CheckReachable(context.Background(), ep, nil); err != nil {
			t.Errorf("CheckReachable(%s): %v", ep, err)
		}
	}
}

// CheckReachable dials through the DialFunc it is given (the deployer's
// dials from a simulated host) every address, with default ports.
func TestCheckReachableDialsThroughDial(t *testing.T) {
	var dialled []string
	refuse := errors.New("refused by the test")
	dial := func(_ context.Context, network, addr string) (net.Conn, error) {
		dialled = append(dialled, network+" "+addr)
		if addr == "e2:2379" {
			return nil, refuse
		}
		a, b := net.Pipe()
		b.Close()
		return a, nil
	}
	err := CheckReachable(context.Background(), "http://e1:1,https://e2", dial)
	if !errors.Is(err, refuse) || !reflect.DeepEqual(dialled, []string{"tcp e1:1", "tcp e2:2379"}) {
		t.Errorf("CheckReachable dialled %q, err %v; want both servers dialled and the refusal wrapped", dialled, err)
	}
}

func TestCheckReachableBadEndpoints(t *testing.T) {
	for ep, want := range map[string]string{
		"mongodb://u:hunter2@127.0.0.1/x": `unknown scheme "mongodb"`,
		"127.0.0.1:5432":                  "no scheme: want",
	} {
		err := CheckReachable(context.Background(), ep, nil)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckReachable(%s) = %v, want %q", ep, err, want)
		}
	}
}

func TestMissingBinaryHint(t *testing.T) {
	_, err := findBinary("mariadbd-that-does-not-exist")
	want := "mariadbd-that-does-not-exist not found: run 'hack/install-deps.sh datastores' (installs mariadb-server postgresql etcd-server)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// The servers' own --version lines (Debian 12's MariaDB and PostgreSQL, the
// distro module's etcd) parse to "<name> <version>"; anything else to "".
func TestServerVersion(t *testing.T) {
	for _, c := range []struct {
		name, output string
		re           *regexp.Regexp
		want         string
	}{
		{"etcd", "etcd Version: 3.7.3\nGit SHA: Not provided\nGo Version: go1.26.8\n", etcdVersion, "etcd 3.7.3"},
		{"MariaDB", "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)\n", mariadbVersion, "MariaDB 10.11.19"},
		{"PostgreSQL", "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", postgresVersion, "PostgreSQL 15.18"},
		{"etcd", "usage: something else\n", etcdVersion, ""},
	} {
		bin := filepath.Join(t.TempDir(), "server")
		script := "#!/bin/sh\n[ \"$1\" = --version ] || exit 2\ncat <<'OUT'\n" + c.output + "OUT\n"
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if got := serverVersion(context.Background(), c.name, bin, c.re); got != c.want {
			t.Errorf("serverVersion(%q) = %q, want %q", c.output, got, c.want)
		}
	}
	if got := serverVersion(context.Background(), "etcd", filepath.Join(t.TempDir(), "missing"), etcdVersion); got != "" {
		t.Errorf("a missing binary gives %q, want \"\"", got)
	}
}
