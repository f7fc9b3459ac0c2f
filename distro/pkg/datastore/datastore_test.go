package datastore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k3s-io/kine/pkg/drivers/sqlite"

	"github.com/distrobench/distrobench/distro/pkg/endpoint"
)

func TestSecret(t *testing.T) {
	for raw, want := range map[string]string{
		"mysql://root:s3cret@tcp(127.0.0.1:3306)/kine":               "s3cret",
		"postgres://user:p%40ss@127.0.0.1:5432/kine?sslmode=disable": "p%40ss",
		"postgres://user@127.0.0.1:5432/kine":                        "",
		"sqlite:///var/lib/k3lite/state.db":                          "",
		"https://127.0.0.1:2379":                                     "",
		"mysql://u:pa:ss@word@tcp(h:1)/d":                            "pa:ss@word",
	} {
		if got := Secret(raw); got != want {
			t.Errorf("Secret(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestKineDSN(t *testing.T) {
	def := kineDSN(epView{kind: "sqlite", raw: "sqlite:///d/server/db/state.db?" + sqlite.DefaultParams, path: "/d/server/db/state.db"})
	if def != "sqlite:///d/server/db/state.db?"+sqlite.DefaultParams {
		t.Errorf("default sqlite DSN = %q", def)
	}
	noQuery := kineDSN(epView{kind: "sqlite", raw: "sqlite:///x.db", path: "/x.db"})
	if noQuery != "sqlite:///x.db?"+sqlite.DefaultParams {
		t.Errorf("sqlite DSN without query = %q; want kine's default pragmas", noQuery)
	}
	own := kineDSN(epView{kind: "sqlite", raw: "sqlite:///x.db?_journal_mode=WAL", path: "/x.db"})
	if own != "sqlite:///x.db?_journal_mode=WAL" {
		t.Errorf("user query not kept: %q", own)
	}
	my := "mysql://u:p@tcp(127.0.0.1:3306)/kine"
	if got := kineDSN(epView{kind: "mysql", raw: my}); got != my {
		t.Errorf("mysql DSN = %q", got)
	}
}

func TestKineListenAddress(t *testing.T) {
	network, addr := kineListenAddress("/var/lib/k3lite")
	if network != "unix" || addr != "/var/lib/k3lite/server/kine.sock" {
		t.Errorf("got %s %s", network, addr)
	}
	long := "/" + strings.Repeat("x", 120)
	if network, addr := kineListenAddress(long); network != "tcp" || addr != "127.0.0.1:0" {
		t.Errorf("long data dir: got %s %s, want a loopback TCP port", network, addr)
	}
}

func TestScrub(t *testing.T) {
	err := scrub(errors.New("dial mysql://root:hunter22@tcp(x)/y failed"), "mysql://root:hunter22@tcp(x)/y")
	if strings.Contains(err.Error(), "hunter22") || !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("scrub left the password: %v", err)
	}
}

func TestEmbeddedEtcdConfig(t *testing.T) {
	cfg, err := embeddedEtcdConfig(Options{DataDir: "/d", Etcd: EtcdCerts{CAFile: "ca", ServerCertFile: "s.crt", ServerKeyFile: "s.key"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dir != filepath.Join("/d", "server", "db", "etcd") {
		t.Errorf("dir = %s", cfg.Dir)
	}
	if got := cfg.ListenClientUrls[0].String(); got != "https://127.0.0.1:2379" {
		t.Errorf("client url = %s", got)
	}
	if !cfg.ClientTLSInfo.ClientCertAuth || cfg.ClientTLSInfo.TrustedCAFile != "ca" {
		t.Error("client certificate authentication not required")
	}
}

// TestSQLiteRoundTrip starts kine on SQLite, writes through its etcd API
// surface (the kine backend) and closes it; it needs no external server.
func TestSQLiteStartAndClose(t *testing.T) {
	dir := t.TempDir()
	ep, err := endpoint.Parse("", dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ds, err := Start(ctx, Options{Endpoint: ep, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Endpoints) != 1 || !strings.HasPrefix(ds.Endpoints[0], "unix://") {
		t.Errorf("endpoints = %q", ds.Endpoints)
	}
	if err := ds.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestUnreachableMySQLFailsFastWithoutPassword(t *testing.T) {
	ep, err := endpoint.Parse("mysql://root:topsecret@tcp(127.0.0.1:1)/kine", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), Options{Endpoint: ep, DataDir: t.TempDir()})
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "topsecret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error must name host:port and hide the password: %v", err)
	}
}
