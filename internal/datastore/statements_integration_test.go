package datastore

import (
	"context"
	"testing"
	"time"
)

// Integration tier: the statement counters of real MariaDB, PostgreSQL and
// etcd servers (hack/install-deps.sh datastores), read as the harness reads
// them: writes through the endpoint show up as the kind they are, and
// MariaDB's counters do not move for the readings themselves.
func TestStatementsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs mariadb-server, postgresql and etcd-server (hack/install-deps.sh datastores)")
	}
	grew := map[string]string{"mysql": "insert", "postgres": "tup_inserted", "etcd": "Put"}
	for _, name := range []string{"mysql", "postgres", "etcd"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			inst := startLocal(ctx, t, name)
			r, err := NewStatementReader(SizeTarget{Kind: name, Endpoint: inst.Endpoint})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if name == "mysql" {
				readsAlone(ctx, t, r)
			}
			if err := grow(ctx, name, inst.Endpoint, 1); err != nil {
				t.Fatalf("first write: %v", err)
			}
			before := readStatements(ctx, t, r)
			if err := grow(ctx, name, inst.Endpoint, 5); err != nil {
				t.Fatalf("write: %v", err)
			}
			kind := grew[name]
			// PostgreSQL's backends report their counts within a second
			// of a transaction's end (an idle one within 10 s): ask until
			// it shows (bounded by ctx).
			var after Statements
			for {
				after = readStatements(ctx, t, r)
				if after.Counts[kind]-before.Counts[kind] >= 5 || ctx.Err() != nil {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if d := after.Counts[kind] - before.Counts[kind]; d < 5 {
				t.Errorf("%s grew by %v after 5 writes, want at least 5 (before %v, after %v)", kind, d, before.Counts, after.Counts)
			}
			t.Logf("%s (%s): %v -> %v", name, after.Method, before.Counts, after.Counts)
		})
	}
}

func readStatements(ctx context.Context, t *testing.T, r *StatementReader) Statements {
	t.Helper()
	s, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readsAlone checks, on a server nothing else talks to, that the
// readings' own statements are not counted. The connections that started
// the server and made its user are closed: a second lets the server
// count their ends first.
func readsAlone(ctx context.Context, t *testing.T, r *StatementReader) {
	t.Helper()
	readStatements(ctx, t, r)
	time.Sleep(time.Second)
	first := readStatements(ctx, t, r)
	for range 3 {
		if again := readStatements(ctx, t, r); again.Counts["questions"] != first.Counts["questions"] {
			t.Errorf("questions moved from %v to %v with only the readings in between", first.Counts["questions"], again.Counts["questions"])
		}
	}
}
