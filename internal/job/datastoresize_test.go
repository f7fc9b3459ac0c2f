package job

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/process"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/result"
)

type fakeSizer struct {
	s   datastore.Sizes
	err error
}

func (f fakeSizer) DatastoreSize(context.Context) (datastore.Sizes, error) { return f.s, f.err }

// Every branch: a size is a positive figure with its method, or not
// measured with the reason; etcd (and only etcd) has an in-use figure.
func TestDatastoreSizeMeasurements(t *testing.T) {
	labels := map[string]string{"datastore": "x"}
	type fig struct {
		value   float64
		missing string
	}
	for _, c := range []struct {
		name, kind string
		sizer      fakeSizer
		want       map[string]fig
	}{
		{"sqlite", "sqlite", fakeSizer{s: datastore.Sizes{Bytes: 4096, InUse: -1, Method: "sqlite files"}},
			map[string]fig{datastoreSizeName: {value: 4096}}},
		{"etcd", "etcd", fakeSizer{s: datastore.Sizes{Bytes: 8192, InUse: 6000, Method: "etcd maintenance status"}},
			map[string]fig{datastoreSizeName: {value: 8192}, datastoreSizeInUseName: {value: 6000}}},
		{"old etcd", "embedded-etcd", fakeSizer{s: datastore.Sizes{Bytes: 8192, InUse: -1, Method: "etcd maintenance status"}},
			map[string]fig{datastoreSizeName: {value: 8192}, datastoreSizeInUseName: {missing: "no dbSizeInUse"}}},
		{"postgres fails", "postgres", fakeSizer{err: errors.New("connection refused")},
			map[string]fig{datastoreSizeName: {missing: "connection refused"}}},
		{"etcd fails", "etcd", fakeSizer{err: errors.New("certificate required")},
			map[string]fig{datastoreSizeName: {missing: "certificate required"}, datastoreSizeInUseName: {missing: "certificate required"}}},
	} {
		var logBuf strings.Builder
		ms := datastoreSize(context.Background(), c.sizer, c.kind, labels, slog.New(slog.NewTextHandler(&logBuf, nil)))
		if len(ms) != len(c.want) {
			t.Errorf("%s: %d measurements %+v, want %d", c.name, len(ms), ms, len(c.want))
			continue
		}
		for _, m := range ms {
			w, ok := c.want[m.Name]
			switch {
			case !ok:
				t.Errorf("%s: unexpected measurement %s", c.name, m.Name)
			case m.Unit != "bytes" || m.Description == "" || m.Labels["datastore"] != "x":
				t.Errorf("%s: %s unit %q, description %q, labels %v", c.name, m.Name, m.Unit, m.Description, m.Labels)
			case w.missing != "":
				if !strings.Contains(m.Missing, w.missing) || len(m.Samples) != 0 {
					t.Errorf("%s: %s = %+v, want not measured because %q", c.name, m.Name, m, w.missing)
				}
				if !strings.Contains(logBuf.String(), "datastore size not measured") && c.sizer.err != nil {
					t.Errorf("%s: the error was not logged: %q", c.name, logBuf.String())
				}
			default:
				if m.Missing != "" || len(m.Samples) != 1 || m.Samples[0] != w.value || m.Attributes["method"] != c.sizer.s.Method {
					t.Errorf("%s: %s = %+v, want %v bytes by %s", c.name, m.Name, m, w.value, c.sizer.s.Method)
				}
			}
		}
	}
}

// benchSizes runs Bench on c, which has no kubeconfig: Bench measures the
// datastore size, then stops at the API latency (which needs the API
// server). It returns the datastore size figures.
func benchSizes(t *testing.T, c *deploy.Cluster, log *slog.Logger) map[string]result.Measurement {
	t.Helper()
	c.Kubeconfig = filepath.Join(t.TempDir(), "no-kubeconfig.yaml")
	ms, err := Bench(context.Background(), c, BenchOptions{SkipIdle: true, SkipRestarts: true, Repeats: 1}, log, nil)
	if err == nil || !strings.Contains(err.Error(), "no-kubeconfig.yaml") {
		t.Fatalf("Bench without a kubeconfig: %v, want it to stop at the kubeconfig", err)
	}
	out := map[string]result.Measurement{}
	for _, m := range ms {
		if strings.HasPrefix(m.Name, "footprint.datastore.") {
			out[m.Name] = m
		}
	}
	return out
}

// assertSize fails unless the figure is there and positive, or not
// measured with a reason: never zero.
func assertSize(t *testing.T, ms map[string]result.Measurement, name string, wantMeasured bool) {
	t.Helper()
	m, ok := ms[name]
	switch {
	case !ok:
		t.Errorf("%s missing (got %v)", name, ms)
	case m.Missing != "":
		if wantMeasured {
			t.Errorf("%s not measured: %s", name, m.Missing)
		}
		if len(m.Samples) != 0 {
			t.Errorf("%s not measured but has samples %v", name, m.Samples)
		}
	case len(m.Samples) != 1 || m.Samples[0] <= 0:
		t.Errorf("%s = %v bytes: a size is positive, or not measured with the reason", name, m.Samples)
	case !wantMeasured:
		t.Errorf("%s = %v bytes, want not measured", name, m.Samples)
	}
}

// loadCluster writes the state.json `up` leaves and loads it, as the
// bench command does.
func loadCluster(t *testing.T, state map[string]any) *deploy.Cluster {
	t.Helper()
	dir := t.TempDir()
	state["runDir"] = dir
	b, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, deploy.StateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := deploy.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A user's endpoint has no data directory on this machine: the old code
// summed the files of none and reported 0 bytes. Now the datastore is asked
// (etcd), or the figure is not measured with the reason (a password the
// run directory does not keep); a datastore inside the server is measured
// from its files.
func TestBenchDatastoreSizeOfUserEndpoint(t *testing.T) {
	etcd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v3/maintenance/status" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"version":"3.7.3","dbSize":"1048576","dbSizeInUse":"524288"}`)
	}))
	defer etcd.Close()
	log := slog.New(slog.DiscardHandler)

	t.Run("etcd", func(t *testing.T) {
		c := loadCluster(t, map[string]any{"datastore": "etcd", "datastoreExternal": true, "datastoreEndpoint": etcd.URL})
		ms := benchSizes(t, c, log)
		assertSize(t, ms, datastoreSizeName, true)
		assertSize(t, ms, datastoreSizeInUseName, true)
		if got := ms[datastoreSizeName].Samples; len(got) != 1 || got[0] != 1048576 {
			t.Errorf("etcd size = %v, want 1048576 (dbSize)", got)
		}
	})
	t.Run("mysql", func(t *testing.T) {
		var logBuf strings.Builder
		c := loadCluster(t, map[string]any{"datastore": "mysql", "datastoreExternal": true,
			"datastoreEndpoint": "mysql://kine:REDACTED@tcp(127.0.0.1:3306)/kine"})
		ms := benchSizes(t, c, slog.New(slog.NewTextHandler(&logBuf, nil)))
		assertSize(t, ms, datastoreSizeName, false)
		if m := ms[datastoreSizeName]; !strings.Contains(m.Missing, "password is not kept") {
			t.Errorf("reason = %q, want it to say the password is not kept", m.Missing)
		}
		if _, ok := ms[datastoreSizeInUseName]; ok {
			t.Errorf("mysql has an in-use figure")
		}
		if !strings.Contains(logBuf.String(), "datastore size not measured") {
			t.Errorf("not logged: %q", logBuf.String())
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		dataDir := t.TempDir()
		db := filepath.Join(dataDir, "server", "db", "state.db")
		if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
			t.Fatal(err)
		}
		for path, n := range map[string]int{db: 10000, db + "-wal": 3000} {
			if err := os.WriteFile(path, make([]byte, n), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ms := benchSizes(t, loadCluster(t, map[string]any{"datastore": "sqlite", "dataDir": dataDir}), log)
		if got := ms[datastoreSizeName].Samples; len(got) != 1 || got[0] != 13000 {
			t.Errorf("sqlite size = %v, want 13000 (state.db + state.db-wal lengths)", got)
		}
	})
}

// Integration tier: a MariaDB, PostgreSQL and etcd server the test starts
// itself, handed to deploy.Up as the user's endpoint of a fake server (the
// deploy tests' testdata/fakeserver), then Bench: the size is the
// datastore's own figure, above zero. The old code reported 0 bytes.
func TestBenchDatastoreSizeOfUserEndpointIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs mariadb-server, postgresql and etcd-server (hack/install-deps.sh datastores)")
	}
	fake := filepath.Join(t.TempDir(), "k3lite-fake") // k3lite-*: the deployer passes the endpoint in K3LITE_DATASTORE_ENDPOINT
	if out, err := exec.Command("go", "build", "-o", fake, "../deploy/testdata/fakeserver").CombinedOutput(); err != nil {
		t.Fatalf("build the fake server: %v\n%s", err, out)
	}
	for _, name := range []string{"mysql", "postgres", "etcd"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			g := process.NewGroup(nil)
			t.Cleanup(func() { _ = g.StopAll(30 * time.Second) })
			d, err := datastore.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := d.Start(ctx, datastore.StartOptions{Dir: t.TempDir(), Group: g, EtcdBinary: os.Getenv("DISTROBENCH_ETCD")})
			if err != nil {
				t.Fatalf("start %s: %v", name, err)
			}
			if name == "mysql" {
				kineTable(ctx, t, inst.Endpoint) // what kine creates first
			}

			p := &profile.Profile{}
			p.Metadata.Name = "fake"
			p.Spec.Binary = fake
			p.Spec.Server.Args = []string{"--disable-agent"}
			p.Spec.Timeouts.Ready, p.Spec.Timeouts.Stop = "20s", "5s"
			p.SetDefaults()
			var logBuf strings.Builder
			log := slog.New(slog.NewTextHandler(&logBuf, nil))
			c, err := deploy.Up(ctx, deploy.Options{Profile: p, Datastore: name, Endpoint: inst.Endpoint,
				RunDir: filepath.Join(t.TempDir(), "run"), Log: log})
			if err != nil {
				t.Fatalf("up with the endpoint %s: %v", inst.Redacted(), err)
			}
			t.Cleanup(func() { _ = c.Down(context.Background()) })
			if !c.DatastoreExternal {
				t.Fatal("the cluster does not take the endpoint as the user's")
			}

			ms := benchSizes(t, c, log)
			assertSize(t, ms, datastoreSizeName, true)
			if name == "etcd" {
				assertSize(t, ms, datastoreSizeInUseName, true)
			}
			for _, s := range inst.Secrets() {
				if strings.Contains(logBuf.String(), s) || strings.Contains(fmt.Sprint(ms), s) {
					t.Error("the datastore password is in the log or the measurements")
				}
			}
			t.Logf("%s: %v bytes (%s)", name, ms[datastoreSizeName].Samples, ms[datastoreSizeName].Attributes["method"])
		})
	}
}

// kineTable creates a table with a row in the endpoint's schema.
func kineTable(ctx context.Context, t *testing.T, endpoint string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(strings.TrimPrefix(endpoint, "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	for _, s := range []string{"CREATE TABLE kine (id INT PRIMARY KEY, name VARCHAR(630))", "INSERT INTO kine VALUES (1, 'compact_rev_key')"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
