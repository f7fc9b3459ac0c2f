package datastore

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/process"
)

// Integration tier: Size on real MariaDB, PostgreSQL and etcd servers
// (hack/install-deps.sh datastores), each reached through the endpoint the
// server would be given, as a user's endpoint is: a size above zero, that
// grows after rows or keys are written.
func TestSizeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs mariadb-server, postgresql and etcd-server (hack/install-deps.sh datastores)")
	}
	for _, name := range []string{"mysql", "postgres", "etcd"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			inst := startLocal(ctx, t, name)
			target := SizeTarget{Kind: name, Endpoint: inst.Endpoint}
			if name == "mysql" {
				// An empty schema is not kine's: not a size.
				if _, err := Size(ctx, target); err == nil || !strings.Contains(err.Error(), "reports 0 bytes") {
					t.Errorf("Size of an empty schema = %v, want an error", err)
				}
			}
			if err := grow(ctx, name, inst.Endpoint, 1); err != nil {
				t.Fatalf("first write through %s: %v", inst.Redacted(), err)
			}
			before, err := Size(ctx, target)
			if err != nil {
				t.Fatalf("Size: %v", err)
			}
			if before.Bytes <= 0 || (name == "etcd") != (before.InUse > 0) {
				t.Fatalf("Size = %+v: want bytes > 0, and an in-use figure for etcd only", before)
			}
			if err := grow(ctx, name, inst.Endpoint, 400); err != nil {
				t.Fatalf("write through %s: %v", inst.Redacted(), err)
			}
			// etcd's backend commits its batch every 100 ms, then the
			// file has grown: ask until it shows (bounded by ctx).
			var after Sizes
			for {
				if after, err = Size(ctx, target); err != nil {
					t.Fatalf("Size after writing: %v", err)
				}
				if after.Bytes > before.Bytes || ctx.Err() != nil {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if after.Bytes <= before.Bytes {
				t.Errorf("size did not grow after writing about 2.5 MB: before %+v, after %+v", before, after)
			}
			if name == "etcd" && after.InUse <= before.InUse {
				t.Errorf("etcd's in-use size did not grow: before %+v, after %+v", before, after)
			}
			t.Logf("%s (%s): %d -> %d bytes (in use %d -> %d)", name, after.Method, before.Bytes, after.Bytes, before.InUse, after.InUse)
		})
	}
}

// startLocal starts a local server of the named datastore for the test.
func startLocal(ctx context.Context, t *testing.T, name string) *Instance {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "datastore")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	g := process.NewGroup(nil)
	t.Cleanup(func() { _ = g.StopAll(30 * time.Second) })
	d, err := Get(name)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := d.Start(ctx, StartOptions{Dir: dir, Group: g, EtcdBinary: os.Getenv("DISTROBENCH_ETCD")})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return inst
}

// grow writes n rows or keys of about 6 KiB each through endpoint,
// creating the table on first use.
func grow(ctx context.Context, name, endpoint string, n int) error {
	value := func(i int) string {
		return strings.Repeat(fmt.Sprintf("%08x", i*2654435761), 6*1024/8)
	}
	switch name {
	case "mysql":
		cfg, err := mysqlConfig(endpoint)
		if err != nil {
			return err
		}
		stmts := []string{"CREATE TABLE IF NOT EXISTS sized (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB"}
		for i := range n {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO sized (v) VALUES ('%s')", value(i)))
		}
		// information_schema shows InnoDB's statistics, which it refreshes
		// in the background after a tenth of a table changed: refresh now.
		stmts = append(stmts, "ANALYZE TABLE sized")
		return execMySQL(ctx, cfg, stmts...)
	case "postgres":
		return execPostgres(ctx, endpoint,
			"CREATE TABLE IF NOT EXISTS sized (id SERIAL PRIMARY KEY, v TEXT)",
			// Distinct digests: TOAST's compression cannot fold them away.
			fmt.Sprintf("INSERT INTO sized (v) SELECT (SELECT string_agg(md5(g::text || '.' || x::text), '') FROM generate_series(1, %d) x) FROM generate_series(1, %d) g", 6*1024/32, n))
	case "etcd":
		for i := range n {
			key := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "/sized/%d", i))
			val := base64.StdEncoding.EncodeToString([]byte(value(i)))
			if _, err := postJSON(ctx, endpoint+"/v3/kv/put", fmt.Sprintf(`{"key":%q,"value":%q}`, key, val)); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("no writes for %s", name)
}
