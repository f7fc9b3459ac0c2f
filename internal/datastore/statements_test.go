package datastore

import (
	"os"
	"strings"
	"testing"
)

func TestMySQLStatementsLeaveOutTheReadings(t *testing.T) {
	counts := map[string]float64{"questions": 100, "select": 40, "insert": 5, "update": 3, "delete": 1, "commit": 2}
	s, err := mysqlStatements(counts, 7)
	if err != nil {
		t.Fatal(err)
	}
	if s.Counts["questions"] != 93 || s.Counts["select"] != 40 || s.Method != "SHOW GLOBAL STATUS" {
		t.Errorf("statements = %+v, want questions less the 7 readings', the rest as read", s)
	}
	delete(counts, "commit")
	if _, err := mysqlStatements(counts, 1); err == nil || !strings.Contains(err.Error(), "Com_commit") {
		t.Errorf("a reading without Com_commit: err = %v, want one naming it", err)
	}
}

func TestPostgresStatsURLReadsFromTheMaintenanceDatabase(t *testing.T) {
	for endpoint, wantDB := range map[string]string{
		"postgres://kine:s3cret@10.1.2.1:5432/kine?sslmode=disable": "kine",
		"postgres://kine:s3cret@10.1.2.1:5432?sslmode=disable":      kineDefaultDatabase,
	} {
		u, db, err := postgresStatsURL(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if db != wantDB || u != "postgres://kine:s3cret@10.1.2.1:5432/postgres?sslmode=disable" {
			t.Errorf("postgresStatsURL(%s) = %s, %s; want the postgres database, reading %s", endpoint, u, db, wantDB)
		}
	}
	if _, _, err := postgresStatsURL("postgres://kine:s3cret@[::1"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL: err = %v, want one without the password", err)
	}
}

func TestEtcdStatementsFromCapturedMetrics(t *testing.T) {
	body, err := os.ReadFile("testdata/etcd-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	s, err := etcdStatements(body)
	if err != nil {
		t.Fatal(err)
	}
	// One put and one range through the gateway: gRPC calls, by method;
	// methods never called (listed at zero) are not kinds.
	if len(s.Counts) != 2 || s.Counts["Put"] != 1 || s.Counts["Range"] != 1 || !strings.Contains(s.Method, "grpc_server_handled_total") {
		t.Errorf("statements = %+v, want Put 1 and Range 1 from grpc_server_handled_total", s)
	}
	// Without gRPC's counters, the MVCC store's.
	var mvccOnly []string
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.Contains(l, "grpc_server_handled_total") {
			mvccOnly = append(mvccOnly, l)
		}
	}
	s, err = etcdStatements([]byte(strings.Join(mvccOnly, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if s.Counts["put"] != 1 || s.Counts["range"] != 1 || s.Counts["txn"] != 0 || len(s.Counts) != 4 {
		t.Errorf("MVCC statements = %+v, want put 1, range 1, txn and delete 0", s)
	}
	if _, err := etcdStatements([]byte("up 1\n")); err == nil {
		t.Error("metrics without etcd's counters: want an error")
	}
}

func TestStatementReaderOnlyForServersOfTheirOwn(t *testing.T) {
	for _, kind := range []string{"sqlite", "embedded-etcd"} {
		if _, err := NewStatementReader(SizeTarget{Kind: kind, ServerDataDir: "/x"}); err == nil || !strings.Contains(err.Error(), "inside the server") {
			t.Errorf("%s: err = %v, want one saying it runs inside the server", kind, err)
		}
	}
	if _, err := NewStatementReader(SizeTarget{Kind: "postgres"}); err == nil {
		t.Error("postgres without an endpoint: want an error")
	}
	r, err := NewStatementReader(SizeTarget{Kind: "mysql", Endpoint: "mysql://kine:s3cret@tcp(127.0.0.1:1)/kine"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Read(t.Context()); err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "mysql") {
		t.Errorf("unreachable mysql: err = %v, want one naming the datastore without its password", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("read after Close: err = %v, want one saying the reader was closed", err)
	}
}
