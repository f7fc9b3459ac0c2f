package deploy

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
// after a restart.
func TestNoSecretOnAnyCommandLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // a reachable "postgres"
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const password = "hunter2cmdline"
	endpoint := "postgres://kine:" + password + "@" + l.Addr().String() + "/kine?sslmode=disable"
	c := up(t, Options{Profile: testProfile(nil), Datastore: "postgres", Endpoint: endpoint})
	check := func(when string) {
		t.Helper()
		got := received(t, c)
		if got.Endpoint != endpoint || len(got.Token) < 32 {
			t.Fatalf("%s: the server got endpoint %q and a %d-character token; want the endpoint and the token", when, c.mask(got.Endpoint), len(got.Token))
		}
		for _, leak := range secretsOnCmdlines(t, got.Token, password) {
			t.Errorf("%s: %s", when, leak)
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

func TestEndpointEnvFollowsTheBinary(t *testing.T) {
	args := []string{"--datastore-endpoint", "mysql://u:pw@tcp(h:3306)/db", "--cluster-init"}
	for bin, want := range map[string]string{
		"/x/k3lite-linux-arm64": "K3LITE_DATASTORE_ENDPOINT=mysql://u:pw@tcp(h:3306)/db",
		"/usr/local/bin/k3s":    "K3S_DATASTORE_ENDPOINT=mysql://u:pw@tcp(h:3306)/db",
		"/usr/local/bin/rke2":   "RKE2_DATASTORE_ENDPOINT=mysql://u:pw@tcp(h:3306)/db",
	} {
		rest, env, err := endpointToEnv(bin, args)
		if err != nil || len(env) != 1 || env[0] != want || len(rest) != 1 || rest[0] != "--cluster-init" {
			t.Errorf("%s: args %q env %q err %v; want %q and only --cluster-init left", bin, rest, env, err, want)
		}
	}
	if _, _, err := endpointToEnv("/opt/mydistro", args); err == nil || !strings.Contains(err.Error(), "k3lite, k3s, rke2") {
		t.Errorf("unknown binary: err = %v, want one naming the known prefixes", err)
	}
	if rest, env, err := endpointToEnv("/opt/mydistro", []string{"--cluster-init"}); err != nil || env != nil || len(rest) != 1 {
		t.Errorf("no endpoint: %q %q %v; want the args unchanged and no error", rest, env, err)
	}
}
