package datastore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/process"
)

// Integration tier: real MariaDB, PostgreSQL and etcd servers from Debian
// packages (hack/install-deps.sh datastores). A missing server fails the
// test with the install hint; it is never skipped outside -short.
func TestLocalServersIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs mariadb-server, postgresql and etcd-server (hack/install-deps.sh datastores)")
	}
	for _, name := range []string{"mysql", "postgres", "etcd"} {
		t.Run(name, func(t *testing.T) {
			// A 0700 run directory, as the deployer makes them: the
			// postgres user must still reach its data.
			root := t.TempDir()
			dir := filepath.Join(root, "run", "datastore")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			var logBuf strings.Builder
			log := slog.New(slog.NewTextHandler(&logBuf, nil))
			g := process.NewGroup(log)
			t.Cleanup(func() { _ = g.StopAll(30 * time.Second) })

			d, err := Get(name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// DISTROBENCH_ETCD: the etcd hack/test.sh builds from the distro
			// module (what the harness runs); unset, the etcd in PATH.
			inst, err := d.Start(ctx, StartOptions{Dir: dir, Group: g, Log: log, EtcdBinary: os.Getenv("DISTROBENCH_ETCD")})
			if err != nil {
				t.Fatalf("start %s: %v", name, err)
			}
			if want := map[string]string{"mysql": "MariaDB ", "postgres": "PostgreSQL ", "etcd": "etcd "}[name]; !strings.HasPrefix(inst.Version, want) || len(inst.Version) == len(want) {
				t.Errorf("Version = %q, want %q and a version number", inst.Version, want+"<version>")
			}
			if len(inst.Procs) != 1 || inst.Endpoint == "" || len(inst.DataDirs) != 1 {
				t.Fatalf("instance %+v", inst)
			}
			if inst.ServerArgs != nil {
				t.Errorf("ServerArgs = %v, want none: the endpoint travels in Endpoint only", inst.ServerArgs)
			}
			if err := CheckReachable(ctx, inst.Endpoint, nil); err != nil {
				t.Errorf("CheckReachable: %v", err)
			}
			if err := roundTrip(ctx, name, inst.Endpoint); err != nil {
				t.Errorf("write and read through %s: %v", inst.Redacted(), err)
			}

			// No password in our log, the server's log or Redacted().
			for _, s := range inst.Secrets() {
				logs, _ := os.ReadFile(inst.Procs[0].LogPath)
				if strings.Contains(logBuf.String(), s) || strings.Contains(string(logs), s) || strings.Contains(inst.Redacted(), s) {
					t.Errorf("password leaked into a log or Redacted()")
				}
			}

			pgid := inst.Procs[0].PGID
			members := process.GroupMembers(pgid)
			if len(members) == 0 {
				t.Fatalf("no live process in group %d", pgid)
			}
			if err := g.StopAll(30 * time.Second); err != nil {
				t.Fatalf("StopAll: %v", err)
			}
			for _, pid := range members {
				if process.Alive(pid) {
					t.Errorf("pid %d of %s survived StopAll", pid, name)
				}
			}
			if m := process.GroupMembers(pgid); len(m) != 0 {
				t.Errorf("group %d still has %v", pgid, m)
			}
			// A clean stop: exit 0, or death by the stop signal re-raised
			// after cleanup (etcd does that on SIGTERM), never SIGKILL.
			exited, code := inst.Procs[0].Exited()
			var ee *exec.ExitError
			switch {
			case !exited:
				t.Errorf("%s has not exited", name)
			case code == 0:
			case errors.As(inst.Procs[0].ExitError(), &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM:
			default:
				t.Errorf("%s did not stop cleanly: exit code %d (%v)", name, code, inst.Procs[0].ExitError())
			}
		})
	}
}

// roundTrip writes and reads back a value through the endpoint the server
// would be given.
func roundTrip(ctx context.Context, name, endpoint string) error {
	switch name {
	case "mysql":
		cfg, err := mysqlConfig(endpoint)
		if err != nil {
			return err
		}
		return execMySQL(ctx, cfg, "CREATE TABLE t (k VARCHAR(10) PRIMARY KEY, v INT)", "INSERT INTO t VALUES ('a', 1)", "SELECT v FROM t WHERE k = 'a'")
	case "postgres":
		return execPostgres(ctx, endpoint, "CREATE TABLE t (k TEXT PRIMARY KEY, v INT)", "INSERT INTO t VALUES ('a', 1)", "SELECT v FROM t WHERE k = 'a'")
	case "etcd":
		// etcd's v3 JSON gateway: keys and values are base64 ("foo", "bar").
		if _, err := postJSON(ctx, endpoint+"/v3/kv/put", `{"key":"Zm9v","value":"YmFy"}`); err != nil {
			return err
		}
		body, err := postJSON(ctx, endpoint+"/v3/kv/range", `{"key":"Zm9v"}`)
		if err != nil {
			return err
		}
		if !strings.Contains(body, `"value":"YmFy"`) {
			return fmt.Errorf("range returned %s", body)
		}
		return nil
	}
	return fmt.Errorf("no round trip for %s", name)
}

func postJSON(ctx context.Context, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s %s", url, resp.Status, b)
	}
	return string(b), err
}

// Ctrl-C while a local server is being set up leaves nothing running.
func TestLocalServerCancelIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs mariadb-server, postgresql and etcd-server (hack/install-deps.sh datastores)")
	}
	for _, name := range []string{"mysql", "postgres", "etcd"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ds")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			g := process.NewGroup(nil)
			ctx, cancel := context.WithCancel(context.Background())
			// Cancel as soon as the first process of the setup runs.
			go func() {
				for i := 0; i < 2000 && len(g.Procs()) == 0; i++ {
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
			}()
			d, _ := Get(name)
			_, err := d.Start(ctx, StartOptions{Dir: dir, Group: g})
			cancel()
			if len(g.Procs()) == 0 {
				t.Fatal("no process was started")
			}
			if err == nil {
				// It won the race; the group must still stop cleanly.
				t.Logf("%s was ready before the cancel", name)
			} else {
				// Start failed: it must have stopped what it started itself.
				for _, p := range g.Procs() {
					if m := process.GroupMembers(p.PGID); len(m) != 0 {
						t.Errorf("%s: Start returned %v but left %s running (%v)", name, err, p.Name, m)
					}
				}
			}
			if err := g.StopAll(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			for _, p := range g.Procs() {
				if m := process.GroupMembers(p.PGID); len(m) != 0 {
					t.Errorf("%s: group of %s still has %v", name, p.Name, m)
				}
			}
		})
	}
}
