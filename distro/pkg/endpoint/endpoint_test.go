package endpoint

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	const dataDir = "/var/lib/k3lite"
	for _, tc := range []struct {
		raw  string
		want Endpoint
	}{
		{"", Endpoint{Kind: KindSQLite, Raw: "sqlite:///var/lib/k3lite/server/db/state.db?" + SQLiteDefaultParams, Path: "/var/lib/k3lite/server/db/state.db"}},
		{"  ", Endpoint{Kind: KindSQLite, Raw: "sqlite:///var/lib/k3lite/server/db/state.db?" + SQLiteDefaultParams, Path: "/var/lib/k3lite/server/db/state.db"}},
		{"sqlite://", Endpoint{Kind: KindSQLite, Raw: "sqlite:///var/lib/k3lite/server/db/state.db?" + SQLiteDefaultParams, Path: "/var/lib/k3lite/server/db/state.db"}},
		{"sqlite:///abs/state.db", Endpoint{Kind: KindSQLite, Raw: "sqlite:///abs/state.db", Path: "/abs/state.db"}},
		{"sqlite://db/state.db?_journal=WAL&cache=shared", Endpoint{Kind: KindSQLite, Raw: "sqlite://db/state.db?_journal=WAL&cache=shared", Path: "db/state.db"}},
		{"mysql://root:pw@tcp(127.0.0.1:3307)/kine", Endpoint{Kind: KindMySQL, Raw: "mysql://root:pw@tcp(127.0.0.1:3307)/kine", Host: "127.0.0.1", Port: "3307", Path: "kine"}},
		{"mysql://root:pw@tcp(db.example)/kine", Endpoint{Kind: KindMySQL, Raw: "mysql://root:pw@tcp(db.example)/kine", Host: "db.example", Port: "3306", Path: "kine"}},
		{"mysql://root@tcp/kine", Endpoint{Kind: KindMySQL, Raw: "mysql://root@tcp/kine", Host: "127.0.0.1", Port: "3306", Path: "kine"}},
		{"mysql://tcp([::1]:3306)/", Endpoint{Kind: KindMySQL, Raw: "mysql://tcp([::1]:3306)/", Host: "::1", Port: "3306"}},
		{"mysql://u:pw@unix(/run/mysqld/mysqld.sock)/kine", Endpoint{Kind: KindMySQL, Raw: "mysql://u:pw@unix(/run/mysqld/mysqld.sock)/kine", Host: "/run/mysqld/mysqld.sock", Path: "kine"}},
		{"mysql://u:pw@tcp(h:3306)/kine?tls=true", Endpoint{Kind: KindMySQL, Raw: "mysql://u:pw@tcp(h:3306)/kine?tls=true", Host: "h", Port: "3306", Path: "kine", TLS: true}},
		{"mysql://u:pw@tcp(h:3306)/kine?tls=false&parseTime=true", Endpoint{Kind: KindMySQL, Raw: "mysql://u:pw@tcp(h:3306)/kine?tls=false&parseTime=true", Host: "h", Port: "3306", Path: "kine"}},
		{"postgres://kine:pw@127.0.0.1:5433/kine?sslmode=disable", Endpoint{Kind: KindPostgres, Raw: "postgres://kine:pw@127.0.0.1:5433/kine?sslmode=disable", Host: "127.0.0.1", Port: "5433", Path: "kine"}},
		{"postgresql://kine:pw@db.example/kine?sslmode=verify-full", Endpoint{Kind: KindPostgres, Raw: "postgresql://kine:pw@db.example/kine?sslmode=verify-full", Host: "db.example", Port: "5432", Path: "kine", TLS: true}},
		{"postgres://kine@[::1]/", Endpoint{Kind: KindPostgres, Raw: "postgres://kine@[::1]/", Host: "::1", Port: "5432"}},
		{"https://10.0.0.1:2379", Endpoint{Kind: KindEtcd, Raw: "https://10.0.0.1:2379", Host: "10.0.0.1", Port: "2379", TLS: true}},
		{"http://etcd1,https://etcd2:12379", Endpoint{Kind: KindEtcd, Raw: "http://etcd1,https://etcd2:12379", Host: "etcd1", Port: "2379"}},
	} {
		got, err := Parse(tc.raw, dataDir)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.raw, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) =\n %+v\nwant\n %+v", tc.raw, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ raw, dataDir, want string }{
		{"foo://x", "/d", `unknown datastore endpoint scheme "foo" (want sqlite://, mysql://, postgres://, http(s):// for etcd)`},
		{"nats://127.0.0.1:4222", "/d", `unknown datastore endpoint scheme "nats"`},
		{"127.0.0.1:3306", "/d", "has no scheme"},
		{"/var/lib/state.db", "/d", "has no scheme"},
		{"", "", "no data directory"},
		{"sqlite://?cache=shared", "/d", "no file path"},
		{"mysql://root:pw@tcp(127.0.0.1:3306)", "/d", "/dbname"},
		{"mysql://root:pw@tcp(127.0.0.1:3306/kine", "/d", "invalid DSN"},
		{"mysql://root:pw@udp(127.0.0.1:3306)/kine", "/d", "unsupported network"},
		{"postgres://kine:pw@/kine", "/d", "no host"},
		{"postgres://kine:pw@h:notaport/kine", "/d", "not a valid URL"},
		{"https://", "/d", "item 1"},
		{"https://e1:2379,e2:2379", "/d", "item 2"},
		{"https://e1:2379,ftp://e2", "/d", "item 2"},
	} {
		_, err := Parse(tc.raw, tc.dataDir)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error containing %q", tc.raw, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error %q, want it to contain %q", tc.raw, err, tc.want)
		}
		if strings.Contains(err.Error(), ":pw@") {
			t.Errorf("Parse(%q) error leaks the password: %v", tc.raw, err)
		}
	}
}

// Passwords with the characters that split URLs and DSNs never show up in
// Redacted or any Parse error.
func TestPasswordNeverLeaks(t *testing.T) {
	const pw = "Pw@x:y/z"
	enc := "Pw%40x%3Ay%2Fz" // the URL-encoded form postgres needs
	for _, tc := range []struct {
		raw      string
		secrets  []string
		redacted string // "" = only check for leaks
	}{
		{"mysql://root:" + pw + "@tcp(127.0.0.1:3306)/kine", []string{pw, "x:y"}, "mysql://root:REDACTED@tcp(127.0.0.1:3306)/kine"},
		{"mysql://root:" + pw + "@unix(/run/m.sock)/kine", []string{pw, "x:y"}, "mysql://root:REDACTED@unix(/run/m.sock)/kine"},
		{"mysql://root:" + pw + "@tcp(127.0.0.1:3306)", []string{pw, "x:y", "y/z"}, ""},        // no db: error
		{"mysql://root:" + pw + "@bogus(127.0.0.1:3306)/kine", []string{pw, "x:y", "y/z"}, ""}, // bad net: error
		{"mysql://root:p/w@tcp(127.0.0.1:3306)", []string{"p/w"}, ""},                          // slash moves the split
		{"mysql://root:p/w@tcp(127.0.0.1:3306)/kine", []string{"p/w"}, "mysql://root:REDACTED@tcp(127.0.0.1:3306)/kine"},
		{"postgres://kine:" + enc + "@127.0.0.1:5432/kine", []string{enc, pw}, "postgres://kine:REDACTED@127.0.0.1:5432/kine"},
		{"postgres://kine:p@ss:w@127.0.0.1:5432/kine?sslmode=disable", []string{"p@ss", "ss:w"}, "postgres://kine:REDACTED@127.0.0.1:5432/kine?sslmode=disable"},
		{"postgres://kine:" + pw + "@127.0.0.1:5432/kine", []string{pw, "y/z", "x:y"}, ""}, // unencoded '/': error
		{"postgres://kine:123/45@127.0.0.1:5432/kine", []string{"123/45", "/45@"}, ""},     // parses as host "kine", port "123" without the check
		{"postgres://kine:ab#cd@127.0.0.1/kine", []string{"ab#cd", "#cd@"}, ""},
		{"https://user:" + enc + "@10.0.0.1:2379,https://u2:s3cr3t@10.0.0.2:2379", []string{enc, "s3cr3t"}, "https://user:REDACTED@10.0.0.1:2379,https://u2:REDACTED@10.0.0.2:2379"},
		{"https://user:" + pw + "@10.0.0.1:2379", []string{pw, "y/z"}, ""},
		{"xyz://user:" + pw + "@h", []string{pw, "y/z", "x:y"}, ""},
		{"user:" + pw + "@tcp(h)/db", []string{pw, "x:y", "y/z"}, ""},
	} {
		e, err := Parse(tc.raw, "/d")
		var texts []string
		if err != nil {
			if tc.redacted != "" {
				t.Errorf("Parse(%q): %v", tc.raw, err)
			}
			texts = append(texts, err.Error())
		} else {
			texts = append(texts, e.Redacted())
			if tc.redacted != "" && e.Redacted() != tc.redacted {
				t.Errorf("Redacted(%q) = %q, want %q", tc.raw, e.Redacted(), tc.redacted)
			}
			if e.Kind == KindEtcd {
				continue // its addresses come from Raw; covered by the Redacted check
			}
			// the reachability error too (port 1 on loopback is closed)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			bad := e
			if e.Kind != KindMySQL || e.Port != "" {
				bad.Host, bad.Port = "127.0.0.1", "1"
			}
			if rerr := bad.CheckReachable(ctx); rerr != nil {
				texts = append(texts, rerr.Error())
			}
			cancel()
		}
		for _, s := range texts {
			for _, secret := range tc.secrets {
				if strings.Contains(s, secret) {
					t.Errorf("%q: output leaks %q: %s", tc.raw, secret, s)
				}
			}
		}
	}
}

func TestAddress(t *testing.T) {
	for raw, want := range map[string][]string{
		"":                                  nil,
		"mysql://u:p@tcp(10.0.0.1)/k":       {"10.0.0.1:3306"},
		"mysql://u:p@unix(/run/m.sock)/k":   {"/run/m.sock"},
		"postgres://u:p@[fd00::1]:6000/k":   {"[fd00::1]:6000"},
		"http://e1:2379,http://[::1],e3":    nil, // invalid third item
		"http://e1:2379, https://[::1] ,":   nil, // empty item
		"http://e1:2379,https://[::1]:2380": {"e1:2379", "[::1]:2380"},
	} {
		e, err := Parse(raw, "/d")
		if want == nil && raw != "" {
			if err == nil {
				t.Errorf("Parse(%q) succeeded", raw)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", raw, err)
			continue
		}
		if got := e.Addresses(); !slices.Equal(got, want) {
			t.Errorf("Addresses(%q) = %q, want %q", raw, got, want)
		}
		first := ""
		if len(want) > 0 {
			first = want[0]
		}
		if got := e.Address(); got != first {
			t.Errorf("Address(%q) = %q, want %q", raw, got, first)
		}
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestCheckReachableRefused(t *testing.T) {
	addr := closedPort(t)
	e, err := Parse("postgres://kine:hunter2@"+addr+"/kine", "")
	if err != nil {
		t.Fatal(err)
	}
	err = e.CheckReachable(context.Background())
	if err == nil {
		t.Fatal("CheckReachable of a closed port succeeded")
	}
	msg := err.Error()
	wantPrefix := "datastore postgres://kine:REDACTED@" + addr + "/kine unreachable: dial tcp " + addr + ": "
	if !strings.HasPrefix(msg, wantPrefix) || !strings.HasSuffix(msg, "(is the server running and listening on "+addr+"?)") {
		t.Errorf("error = %q, want %q...(is the server running and listening on %s?)", msg, wantPrefix, addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error does not wrap ECONNREFUSED: %v", err)
	}
	if strings.Contains(msg, "hunter2") {
		t.Error("error leaks the password")
	}
}

func TestCheckReachableOpen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	for _, raw := range []string{
		"mysql://root:pw@tcp(" + l.Addr().String() + ")/kine",
		"postgres://u:p@" + l.Addr().String() + "/k",
		"http://" + l.Addr().String(),
	} {
		e, err := Parse(raw, "")
		if err != nil {
			t.Fatal(err)
		}
		if e.Host != host || e.Port != port {
			t.Errorf("%s: host/port = %s/%s", raw, e.Host, e.Port)
		}
		if err := e.CheckReachable(context.Background()); err != nil {
			t.Errorf("CheckReachable(%s) with a listener: %v", e.Redacted(), err)
		}
	}
}

func TestCheckReachableEtcdChecksEveryMember(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	closed := closedPort(t)
	e, err := Parse("http://"+l.Addr().String()+",http://"+closed, "")
	if err != nil {
		t.Fatal(err)
	}
	err = e.CheckReachable(context.Background())
	if err == nil {
		t.Fatal("CheckReachable succeeded although the second member is down")
	}
	if !strings.Contains(err.Error(), "listening on "+closed+"?") || strings.Contains(err.Error(), "listening on "+l.Addr().String()) {
		t.Errorf("error should name only the down member %s: %v", closed, err)
	}
}

func TestCheckReachableUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "m.sock")
	e, err := Parse("mysql://u:pw@unix("+sock+")/kine", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CheckReachable(context.Background()); err == nil || !strings.Contains(err.Error(), "listening on "+sock+"?") {
		t.Errorf("missing socket: err = %v", err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := e.CheckReachable(context.Background()); err != nil {
		t.Errorf("socket with a listener: %v", err)
	}
}

func TestCheckReachableHonoursContext(t *testing.T) {
	// 192.0.2.0/24 (TEST-NET-1) is never routed: an already cancelled
	// context must fail without dialing out.
	e, err := Parse("https://192.0.2.1:2379", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.CheckReachable(ctx); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestCheckReachableSQLite(t *testing.T) {
	dir := t.TempDir()
	e, err := Parse("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CheckReachable(context.Background()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "server", "db"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("db directory not created: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "server", "db")); len(entries) != 0 {
		t.Errorf("write check left files behind: %v", entries)
	}

	// parent is a file: cannot create the directory
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e2, _ := Parse("sqlite://"+filepath.Join(blocker, "db", "state.db"), "")
	if err := e2.CheckReachable(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot create directory") {
		t.Errorf("blocked dir: err = %v", err)
	}
	// database path is a directory
	e3, _ := Parse("sqlite://"+dir, "")
	if err := e3.CheckReachable(context.Background()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("dir as db: err = %v", err)
	}
	// read-only directory (root ignores permissions, so only check as non-root)
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		e4, _ := Parse("sqlite://"+filepath.Join(ro, "state.db"), "")
		if err := e4.CheckReachable(context.Background()); err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("read-only dir: err = %v", err)
		}
	}
}
