package deploy

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
)

// secretsOnCmdlines scans /proc/*/cmdline of every process on the machine
// and names each one whose command line holds one of secrets.
func secretsOnCmdlines(t *testing.T, secrets ...string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var leaks []string
	scanned := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // not a process, gone, or a kernel thread
		}
		scanned++
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		for i, s := range secrets {
			if s != "" && strings.Contains(string(b), s) {
				leaks = append(leaks, fmt.Sprintf("pid %s (%s) holds secret #%d on its command line", e.Name(), filepath.Base(argv[0]), i))
			}
		}
	}
	if scanned == 0 {
		t.Fatal("no command line could be read from /proc")
	}
	return leaks
}

// TestNoSecretOnAnyCommandLine: the server gets its token and the
// datastore password, yet neither is on any process's command line, also
// after a restart; nor in the recorded args, state.json, the server log's
// marker line or the harness's own log.
func TestNoSecretOnAnyCommandLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // a reachable "postgres"
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const password = "hunter2cmdline"
	endpoint := "postgres://kine:" + password + "@" + l.Addr().String() + "/kine?sslmode=disable"
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := up(t, Options{Profile: testProfile(nil), Datastore: "postgres", Endpoint: endpoint, Log: log})
	check := func(when string) {
		t.Helper()
		got := received(t, c)
		if got.Endpoint != endpoint || len(got.Token) < 32 {
			t.Fatalf("%s: the server got endpoint %q and a %d-character token; want the endpoint and the token", when, c.mask(got.Endpoint), len(got.Token))
		}
		for _, leak := range secretsOnCmdlines(t, got.Token, password) {
			t.Errorf("%s: %s", when, leak)
		}
		state, err := os.ReadFile(filepath.Join(c.RunDir, StateFile))
		if err != nil {
			t.Fatal(err)
		}
		serverLog, err := os.ReadFile(c.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		for what, text := range map[string]string{
			"the recorded server args": strings.Join(c.ServerArgs, " "),
			StateFile:                  string(state),
			"the server log":           string(serverLog),
			"the harness's log":        logged.String(),
		} {
			if strings.Contains(text, password) || strings.Contains(text, got.Token) {
				t.Errorf("%s: %s holds a secret", when, what)
			}
		}
		if !strings.Contains(string(state), "kine:REDACTED@") {
			t.Errorf("%s: %s lacks the redacted endpoint", when, StateFile)
		}
	}
	check("after Up")
	if _, _, err := c.StopServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(c.DataDir, "received.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("after a restart")
}

// The endpoint reaches the server in the one variable its binary reads,
// whole; a datastore without an endpoint needs no variable, so any binary
// will do.
func TestDatastoreEnvFollowsTheBinary(t *testing.T) {
	const ep = "mysql://u:pw@tcp(h:3306)/db"
	c := &Cluster{Datastore: dstype.MySQL} // a local server: not dialled again
	for bin, want := range map[string]string{
		"/x/k3lite-linux-arm64": "K3LITE_DATASTORE_ENDPOINT=" + ep,
		"/usr/local/bin/k3s":    "K3S_DATASTORE_ENDPOINT=" + ep,
		"/usr/local/bin/rke2":   "RKE2_DATASTORE_ENDPOINT=" + ep,
	} {
		env, err := c.datastoreEnv(context.Background(), bin, &datastore.Instance{Endpoint: ep})
		if err != nil || !reflect.DeepEqual(env, []string{want}) {
			t.Errorf("%s: env %q err %v; want %q", bin, env, err, want)
		}
	}
	_, err := c.datastoreEnv(context.Background(), "/opt/mydistro", &datastore.Instance{Endpoint: ep})
	if err == nil || !strings.Contains(err.Error(), "k3lite, k3s, rke2") || strings.Contains(err.Error(), "pw") {
		t.Errorf("unknown binary: err = %v, want one naming the known prefixes and not the endpoint", err)
	}
	c = &Cluster{Datastore: dstype.EmbeddedEtcd}
	if env, err := c.datastoreEnv(context.Background(), "/opt/mydistro", &datastore.Instance{ServerArgs: []string{"--cluster-init"}}); err != nil || env != nil {
		t.Errorf("no endpoint: %q %v; want no variable and no error", env, err)
	}
}

// A user's sqlite://PATH is a file: handed over as is, nothing dialled.
func TestDatastoreEnvSQLiteFile(t *testing.T) {
	c := &Cluster{Datastore: dstype.SQLite, DatastoreExternal: true}
	env, err := c.datastoreEnv(context.Background(), "/x/k3s", &datastore.Instance{Endpoint: "sqlite:///srv/localhost/state.db"})
	if err != nil || !reflect.DeepEqual(env, []string{"K3S_DATASTORE_ENDPOINT=sqlite:///srv/localhost/state.db"}) {
		t.Errorf("env %q err %v", env, err)
	}
}
