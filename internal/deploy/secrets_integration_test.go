package deploy

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/profile"
)

// TestK3liteNoSecretOnCommandLinesIntegration runs the real k3lite, with
// its own node (containerd, kubelet, flannel), on the local MariaDB and
// PostgreSQL servers the run starts, and scans the command line of every
// process on the machine for the join token and the datastore password.
func TestK3liteNoSecretOnCommandLinesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the k3lite binary (DISTROBENCH_K3LITE), root, mariadb-server and postgresql (hack/install-deps.sh datastores)")
	}
	bin := k3liteBinary(t)
	for _, ds := range []string{dstype.MySQL, dstype.Postgres} {
		t.Run(ds, func(t *testing.T) {
			p := &profile.Profile{}
			p.Metadata.Name = "k3lite-secrets-it"
			p.Spec.Binary = bin
			p.Spec.Timeouts.Ready = "180s"
			p.Spec.Timeouts.Stop = "60s"
			p.SetDefaults()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c, err := Up(ctx, Options{Profile: p, Datastore: ds, RunDir: filepath.Join(t.TempDir(), "run")})
			if err != nil {
				t.Fatalf("Up k3lite on %s: %v", ds, err)
			}
			defer func() {
				if err := c.Down(context.Background()); err != nil {
					t.Errorf("Down: %v", err)
				}
			}()
			token, err := os.ReadFile(filepath.Join(c.RunDir, ServerTokenFile))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.secrets) < 2 || !slices.Contains(c.secrets, strings.TrimSpace(string(token))) {
				t.Fatalf("the cluster knows %d secrets, want the token and the datastore password", len(c.secrets))
			}
			for _, leak := range secretsOnCmdlines(t, c.secrets...) {
				t.Error(leak)
			}
			if st := c.Status(ctx); !st.Ready || st.ReadyNodes != 1 {
				t.Errorf("Status = %+v, want ready with its node Ready", st)
			}
			// The endpoint reached the server through its environment: kine
			// keeps the cluster in the datastore (a server that found no
			// endpoint would have fallen back to SQLite).
			if n := kineRows(ctx, t, ds, c.ds.Endpoint); n == 0 {
				t.Errorf("the %s datastore holds no kine rows: the server did not use it", ds)
			}
			// A restart re-uses the token file and the environment; the
			// stop waits for the whole tree (containerd included) and
			// kills nothing.
			if code, took, err := c.StopServer(ctx); err != nil || code != 0 {
				t.Fatalf("StopServer = %d after %s, %v; want exit 0 with nothing killed", code, took, err)
			}
			if _, err := c.StartServer(ctx); err != nil {
				t.Fatalf("StartServer: %v", err)
			}
			for _, leak := range secretsOnCmdlines(t, c.secrets...) {
				t.Error("after a restart: " + leak)
			}
		})
	}
}

// kineRows counts the rows of kine's table in a MySQL or PostgreSQL
// datastore.
func kineRows(ctx context.Context, t *testing.T, ds, endpoint string) int {
	t.Helper()
	var n int
	if ds == dstype.Postgres {
		conn, err := pgx.Connect(ctx, endpoint)
		if err != nil {
			t.Fatalf("connect to the datastore: %v", err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM kine").Scan(&n); err != nil {
			t.Fatalf("count kine rows: %v", err)
		}
		return n
	}
	db, err := sql.Open("mysql", strings.TrimPrefix(endpoint, "mysql://"))
	if err != nil {
		t.Fatalf("open the datastore: %v", err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM kine").Scan(&n); err != nil {
		t.Fatalf("count kine rows: %v", err)
	}
	return n
}
