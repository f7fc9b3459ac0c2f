package datastore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/vishvananda/netlink"

	"github.com/distrobench/distrobench/internal/netns"
	"github.com/distrobench/distrobench/internal/process"
)

// inPrivateNetnsEnv marks the re-executed test binary that runs inside a
// network namespace of its own.
const inPrivateNetnsEnv = "DISTROBENCH_DATASTORE_TEST_PRIVATE_NETNS"

// TestExtraListenFromSimulatedHostIntegration starts each local server
// with the gateway of a simulated network as extra listen address, then
// connects from inside a simulated host (as a server on a node does) with
// the endpoint rewritten to the gateway: the round trip works, the server
// sees the host's own address, a wrong password is refused, and MariaDB's
// root cannot log in from there.
//
// The bridge that holds the gateway lives in the root namespace of the
// test; so that the machine's own network never changes, the test re-runs
// itself under `unshare --net`, in a namespace that dies with it.
func TestExtraListenFromSimulatedHostIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs root, unshare (util-linux), mariadb-server, postgresql and etcd-server (hack/install-deps.sh datastores)")
	}
	if os.Getenv(inPrivateNetnsEnv) == "" {
		if os.Geteuid() != 0 {
			t.Fatal("this test creates network namespaces: run it as root")
		}
		name := "^" + t.Name() + "$"
		cmd := exec.Command("unshare", "--net", "--", os.Args[0], "-test.run="+name, "-test.v", "-test.count=1", "-test.timeout=8m")
		cmd.Env = append(os.Environ(), inPrivateNetnsEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in a private network namespace:\n%s", out)
		if err != nil {
			t.Fatalf("unshare --net %s: %v", filepath.Base(os.Args[0]), err)
		}
		if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
			t.Fatalf("the test did not run in the private network namespace")
		}
		return
	}

	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("bring up lo in the private namespace: %v", err)
	}
	nw, err := netns.Plan(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := nw.Create(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nw.Delete(nil); err != nil {
			t.Error(err)
		}
	})
	host := nw.Hosts[0]
	listen, err := ListenOn(nw.Gateway, nw.Subnet)
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"mysql", "postgres", "etcd"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "datastore")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			g := process.NewGroup(nil)
			t.Cleanup(func() { _ = g.StopAll(30 * time.Second) })
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			d, _ := Get(name)
			inst, err := d.Start(ctx, StartOptions{Dir: dir, Group: g, ExtraListen: []netip.Prefix{listen}, EtcdBinary: os.Getenv("DISTROBENCH_ETCD")})
			if err != nil {
				t.Fatalf("start %s: %v", name, err)
			}
			if !strings.Contains(inst.Endpoint, "127.0.0.1:") {
				t.Errorf("Endpoint %s does not name 127.0.0.1", inst.Redacted())
			}
			// What the deployer hands a server on a simulated host.
			endpoint := strings.Replace(inst.Endpoint, "127.0.0.1", nw.Gateway, 1)
			if err := fromHost(ctx, host, name, endpoint); err != nil {
				t.Errorf("from host %s (%s) through %s: %v", host.Name, host.IP, inst.Redacted(), err)
			}
			if name == "etcd" {
				return
			}
			wrong := strings.Replace(endpoint, inst.Secrets()[0], "not-the-password", 1)
			if err := fromHost(ctx, host, name, wrong); err == nil {
				t.Errorf("a wrong password was accepted from host %s", host.Name)
			}
			if name == "mysql" {
				root := strings.Replace(wrong, "kine:not-the-password@", "root@", 1)
				if err := fromHost(ctx, host, name, root); err == nil {
					t.Errorf("root without password was accepted from host %s", host.Name)
				}
			}
		})
	}
}

// fromHost writes, reads and asks for the client address through
// endpoint, over connections made inside the host's namespace.
func fromHost(ctx context.Context, h netns.Host, name, endpoint string) error {
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) { return h.Dial(ctx, addr) }
	switch name {
	case "mysql":
		cfg, err := mysqlConfig(endpoint)
		if err != nil {
			return err
		}
		dialName := "netns-" + h.Name
		mysql.RegisterDialContext(dialName, func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) })
		cfg.Net = dialName
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return err
		}
		db := sql.OpenDB(conn)
		defer db.Close()
		for _, s := range []string{"CREATE TABLE IF NOT EXISTS t (k VARCHAR(10) PRIMARY KEY, v INT)", "REPLACE INTO t VALUES ('a', 1)"} {
			if _, err := db.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		var user string
		if err := db.QueryRowContext(ctx, "SELECT USER()").Scan(&user); err != nil {
			return err
		}
		if user != "kine@"+h.IP {
			return fmt.Errorf("connected as %q, want kine@%s (the host's own address)", user, h.IP)
		}
		return nil
	case "postgres":
		cfg, err := pgx.ParseConfig(endpoint)
		if err != nil {
			return err
		}
		cfg.DialFunc = dial
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		for _, s := range []string{"CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INT)", "INSERT INTO t VALUES ('a', 1) ON CONFLICT DO NOTHING"} {
			if _, err := conn.Exec(ctx, s); err != nil {
				return err
			}
		}
		var client string
		if err := conn.QueryRow(ctx, "SELECT host(inet_client_addr())").Scan(&client); err != nil {
			return err
		}
		if client != h.IP {
			return fmt.Errorf("server saw the client at %s, want %s (the host's own address)", client, h.IP)
		}
		return nil
	case "etcd":
		c := &http.Client{Transport: &http.Transport{DialContext: dial}}
		post := func(path, body string) (string, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+path, strings.NewReader(body))
			if err != nil {
				return "", err
			}
			resp, err := c.Do(req)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				return "", fmt.Errorf("%s: %s %s", path, resp.Status, b)
			}
			return string(b), err
		}
		// etcd's v3 JSON gateway: keys and values are base64 ("foo", "bar").
		if _, err := post("/v3/kv/put", `{"key":"Zm9v","value":"YmFy"}`); err != nil {
			return err
		}
		body, err := post("/v3/kv/range", `{"key":"Zm9v"}`)
		if err != nil {
			return err
		}
		if !strings.Contains(body, `"value":"YmFy"`) {
			return fmt.Errorf("range returned %s", body)
		}
		return nil
	}
	return fmt.Errorf("no check for %s", name)
}
