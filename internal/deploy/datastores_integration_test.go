package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/process"
)

// Integration tier: the fake server on real local MariaDB, PostgreSQL and
// etcd servers, taken down from the state file as `distrobench down` does.
func TestUpDownWithLocalDatastoresIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs mariadb-server, postgresql and etcd-server (hack/install-deps.sh datastores)")
	}
	schemes := map[string]string{"mysql": "mysql://", "postgres": "postgres://", "etcd": "http://"}
	for _, ds := range []string{"mysql", "postgres", "etcd"} {
		t.Run(ds, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c, err := Up(ctx, Options{Profile: testProfile(nil), Datastore: ds, EtcdBinary: os.Getenv("DISTROBENCH_ETCD"), RunDir: filepath.Join(t.TempDir(), "run")})
			if err != nil {
				t.Fatalf("Up on %s: %v", ds, err)
			}
			t.Cleanup(func() { _ = c.Down(context.Background()) })

			endpoint := received(t, c).Endpoint
			if !strings.HasPrefix(endpoint, schemes[ds]) {
				t.Errorf("the server got datastore endpoint %q, want a %s endpoint", endpoint, schemes[ds])
			}
			if len(c.DatastorePIDs) != 1 || !process.Alive(c.DatastorePIDs[0]) {
				t.Fatalf("datastore pids %v", c.DatastorePIDs)
			}
			if dirs := c.DatastoreDataDirs; len(dirs) != 1 || !strings.HasPrefix(dirs[0], c.RunDir) {
				t.Errorf("DatastoreDataDirs = %v", dirs)
			}
			state, _ := os.ReadFile(filepath.Join(c.RunDir, StateFile))
			if ds != "etcd" {
				if !strings.Contains(c.DatastoreEndpoint, "REDACTED") {
					t.Errorf("DatastoreEndpoint %q not redacted", c.DatastoreEndpoint)
				}
				if strings.Contains(string(state), endpoint) || strings.Contains(string(state), passwordOf(endpoint)) {
					t.Errorf("state.json holds the datastore password")
				}
			}
			// Neither the server nor the datastore server the run started
			// has the token or the password on its command line.
			for _, leak := range secretsOnCmdlines(t, c.secrets...) {
				t.Error(leak)
			}
			members := append(process.GroupMembers(c.DatastorePGIDs[0]), c.ServerPID, childPID(t, c))

			loaded, err := Load(c.RunDir)
			if err != nil {
				t.Fatal(err)
			}
			if err := loaded.Down(context.Background()); err != nil {
				t.Fatalf("Down: %v", err)
			}
			assertGone(t, "after Down", members...)
		})
	}
}

func passwordOf(endpoint string) string {
	_, rest, _ := strings.Cut(endpoint, "://")
	userinfo, _, _ := strings.Cut(rest, "@")
	_, pw, _ := strings.Cut(userinfo, ":")
	if pw == "" {
		return "\x00never"
	}
	return pw
}
