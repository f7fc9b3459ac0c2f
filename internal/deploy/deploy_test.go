package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/process"
	"github.com/distrobench/distrobench/internal/profile"
)

// fakeServer is the path of testdata/fakeserver, built once by TestMain.
var fakeServer string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deploy-fakeserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Named like k3lite, so the deployer knows how it reads its datastore
	// endpoint (K3LITE_DATASTORE_ENDPOINT).
	fakeServer = filepath.Join(dir, "k3lite-fake")
	out, err := exec.Command("go", "build", "-o", fakeServer, "./testdata/fakeserver").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/fakeserver: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testProfile is a server-only profile of the fake server: without
// --disable-agent among args it gets one (nodes run on simulated hosts:
// see nodes_test.go).
func testProfile(env map[string]string, args ...string) *profile.Profile {
	p := &profile.Profile{}
	p.Metadata.Name = "fake"
	p.Spec.Binary = fakeServer
	if !slices.Contains(args, "--disable-agent") {
		args = append([]string{"--disable-agent"}, args...)
	}
	p.Spec.Server.Args = args
	p.Spec.Server.Env = env
	p.Spec.Timeouts.Ready = "20s"
	p.Spec.Timeouts.Stop = "5s"
	p.SetDefaults()
	return p
}

// fakePIDs returns the server's helper child, recorded by the fake server.
func childPID(t *testing.T, c *Cluster) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "child.pid"))
	if err != nil {
		t.Fatalf("child.pid: %v", err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func assertGone(t *testing.T, what string, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		if process.Alive(pid) {
			t.Errorf("%s: pid %d is still running (orphan)", what, pid)
		}
	}
}

func up(t *testing.T, o Options) *Cluster {
	t.Helper()
	if o.RunDir == "" {
		o.RunDir = t.TempDir()
	}
	c, err := Up(context.Background(), o)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { _ = c.Down(context.Background()) })
	return c
}

func TestUpStatusDown(t *testing.T) {
	var msgs []string
	c := up(t, Options{Profile: testProfile(nil), Progress: func(m string) { msgs = append(msgs, m) }})
	if len(msgs) == 0 {
		t.Error("no progress messages")
	}
	if !process.Alive(c.ServerPID) || c.ServerPGID != c.ServerPID {
		t.Fatalf("server pid %d pgid %d", c.ServerPID, c.ServerPGID)
	}
	child := childPID(t, c)

	st := c.Status(context.Background())
	if !st.ServerRunning || !st.Ready || st.Nodes != 0 {
		t.Errorf("Status = %+v, want running, ready, 0 nodes", st)
	}
	if c.ReadyAfter <= 0 || c.ServerURL != fmt.Sprintf("https://127.0.0.1:%d", c.Port) {
		t.Errorf("ReadyAfter %v ServerURL %s Port %d", c.ReadyAfter, c.ServerURL, c.Port)
	}
	fi, err := os.Stat(c.Kubeconfig)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig %s: %v mode %v", c.Kubeconfig, err, fi.Mode().Perm())
	}
	if _, err := c.RESTConfig(); err != nil {
		t.Error(err)
	}

	// state.json: everything Load needs, no token.
	token := received(t, c).Token
	state, err := os.ReadFile(filepath.Join(c.RunDir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if token == "" || strings.Contains(string(state), token) {
		t.Errorf("state.json holds the token (or the token is empty: %q)", token)
	}
	loaded, err := Load(c.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.ServerPID != c.ServerPID || loaded.Kubeconfig != c.Kubeconfig || loaded.Port != c.Port {
		t.Errorf("Load: %+v", loaded)
	}
	if st := loaded.Status(context.Background()); !st.Ready || !st.ServerRunning {
		t.Errorf("loaded Status = %+v", st)
	}
	if _, err := loaded.StartServer(context.Background()); err == nil {
		t.Error("a loaded cluster restarted its server without its token")
	}

	// Down from "another process" (the loaded state), then from this one.
	if err := loaded.Down(context.Background()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	assertGone(t, "after Down", c.ServerPID, child)
	if _, err := os.Stat(filepath.Join(c.RunDir, StateFile)); !os.IsNotExist(err) {
		t.Errorf("state file still there: %v", err)
	}
	if _, err := os.Stat(c.LogPath); err != nil {
		t.Errorf("server log removed: %v", err)
	}
	if err := c.Down(context.Background()); err != nil {
		t.Errorf("second Down: %v", err)
	}
	if err := loaded.Down(context.Background()); err != nil {
		t.Errorf("third Down: %v", err)
	}
	if _, err := Load(c.RunDir); err == nil || !strings.Contains(err.Error(), "distrobench up") {
		t.Errorf("Load after Down: %v", err)
	}
	if st := c.Status(context.Background()); st.ServerRunning || st.Ready {
		t.Errorf("Status after Down = %+v", st)
	}
}

// fakeReceived is what the fake server got as its token and datastore
// endpoint, wherever they came from (flag, file or environment).
type fakeReceived struct {
	Token    string `json:"token"`
	Endpoint string `json:"endpoint"`
}

func received(t *testing.T, c *Cluster) fakeReceived {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "received.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r fakeReceived
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// serverArg returns the value the fake server received for flag.
func serverArg(t *testing.T, c *Cluster, flag string) string {
	t.Helper()
	args := serverArgs(t, c)
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func serverArgs(t *testing.T, c *Cluster) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "args.json"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	if err := json.Unmarshal(b, &args); err != nil {
		t.Fatal(err)
	}
	return args
}

// TestAPIReadyHookSeesAnAnsweringServer: the hook runs once, inside Up,
// when the server's API answers.
func TestAPIReadyHookSeesAnAnsweringServer(t *testing.T) {
	calls, readyInHook := 0, false
	c := up(t, Options{Profile: testProfile(nil), APIReady: func(c *Cluster) {
		calls++
		readyInHook = c.Status(context.Background()).Ready
	}})
	if calls != 1 || !readyInHook || c.ReadyAfter <= 0 {
		t.Errorf("APIReady called %d times, API answering then: %v; want once, answering", calls, readyInHook)
	}
}

func TestArgsAssembly(t *testing.T) {
	p := testProfile(nil, "--kube-apiserver-arg", "audit-log-path=${DATA_DIR}/audit.log", "--disable-agent")
	c := up(t, Options{Profile: p, Datastore: "embedded-etcd", ExtraServerArgs: []string{"--kube-apiserver-arg", "v=2"}})
	token := received(t, c).Token
	want := []string{"server",
		"--data-dir", c.DataDir,
		"--write-kubeconfig", c.Kubeconfig,
		"--write-kubeconfig-mode", "0600",
		"--https-listen-port", strconv.Itoa(c.Port),
		"--bind-address", "127.0.0.1",
		"--token-file", filepath.Join(c.RunDir, ServerTokenFile),
		"--cluster-init",
		"--kube-apiserver-arg", "audit-log-path=" + c.DataDir + "/audit.log", "--disable-agent",
		"--kube-apiserver-arg", "v=2",
	}
	got := serverArgs(t, c)
	// The controller-manager and scheduler get free secure ports (random):
	// check their shape, then compare the rest exactly.
	if len(got) < 18 || got[13] != "--kube-controller-manager-arg" || got[15] != "--kube-scheduler-arg" ||
		!strings.HasPrefix(got[14], "secure-port=") || !strings.HasPrefix(got[16], "secure-port=") {
		t.Fatalf("server args lack free component ports: %q", got)
	}
	got = append(got[:13:13], got[17:]...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("server args\n got %q\nwant %q", got, want)
	}
	// Nothing to redact: the recorded copy is the same.
	if !reflect.DeepEqual(append(c.ServerArgs[:13:13], c.ServerArgs[17:]...), want) {
		t.Errorf("ServerArgs\n got %q\nwant %q", c.ServerArgs, want)
	}
	fi, err := os.Stat(filepath.Join(c.RunDir, ServerTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if len(token) < 32 {
		t.Errorf("token %q is too short", token)
	}
	if c.RunDir != filepath.Dir(c.DataDir) || filepath.Base(c.DataDir) != "server-data" || c.Kubeconfig != filepath.Join(c.RunDir, "kubeconfig.yaml") {
		t.Errorf("layout: run %s data %s kubeconfig %s", c.RunDir, c.DataDir, c.Kubeconfig)
	}
}

func TestStopServerStartServer(t *testing.T) {
	c := up(t, Options{Profile: testProfile(nil)})
	first, child := c.ServerPID, childPID(t, c)
	code, took, err := c.StopServer(context.Background())
	if err != nil || code != 0 || took <= 0 {
		t.Fatalf("StopServer = %d, %v, %v; want exit 0", code, took, err)
	}
	assertGone(t, "after StopServer", first, child)
	if st := c.Status(context.Background()); st.ServerRunning {
		t.Errorf("Status after StopServer = %+v", st)
	}
	if _, _, err := c.StopServer(context.Background()); err == nil {
		t.Error("StopServer of a stopped server succeeded")
	}
	readyAfter, err := c.StartServer(context.Background())
	if err != nil || readyAfter <= 0 {
		t.Fatalf("StartServer = %v, %v", readyAfter, err)
	}
	if c.ServerPID == first || !process.Alive(c.ServerPID) {
		t.Errorf("restarted server pid %d (first %d)", c.ServerPID, first)
	}
	if st := c.Status(context.Background()); !st.Ready {
		t.Errorf("Status after StartServer = %+v", st)
	}
	if _, err := c.StartServer(context.Background()); err == nil {
		t.Error("StartServer of a running server succeeded")
	}
	second := c.ServerPID
	child2 := childPID(t, c)
	if err := c.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertGone(t, "after Down", second, child2)
}

func TestUpFailureCarriesLogTailAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	_, err := Up(context.Background(), Options{Profile: testProfile(map[string]string{"FAKESERVER_EXIT": "3"}), RunDir: dir})
	if err == nil {
		t.Fatal("Up succeeded with a server that exits 3")
	}
	msg := err.Error()
	for _, want := range []string{"exited with code 3", "fatal: exiting with 3", "log line 40", "full log: " + filepath.Join(dir, "server.log")} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "log line 5\n") {
		t.Errorf("error carries more than the last %d lines:\n%s", tailLines, msg)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); !os.IsNotExist(err) {
		t.Errorf("state file left after a failed Up: %v", err)
	}
}

func TestUpNotReadyTimesOutAndCleansUp(t *testing.T) {
	p := testProfile(map[string]string{"FAKESERVER_NOT_READY": "1"})
	p.Spec.Timeouts.Ready = "2s"
	dir := t.TempDir()
	_, err := Up(context.Background(), Options{Profile: p, RunDir: dir})
	if err == nil || !strings.Contains(err.Error(), "not ready within 2s") || !strings.Contains(err.Error(), "etcd failed") {
		t.Fatalf("Up error = %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "server-data", "child.pid"))
	pid, _ := strconv.Atoi(string(b))
	if pid == 0 {
		t.Fatal("the fake server never started its child")
	}
	assertGone(t, "after a timed-out Up", pid)
}

func TestUpContextCancelTearsDown(t *testing.T) {
	p := testProfile(map[string]string{"FAKESERVER_NOT_READY": "1"})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	childFile := filepath.Join(dir, "server-data", "child.pid")
	go func() {
		// Ctrl-C once the server and its child run.
		for i := 0; i < 400; i++ {
			if b, err := os.ReadFile(childFile); err == nil && len(b) > 0 {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
		cancel()
	}()
	_, err := Up(ctx, Options{Profile: p, RunDir: dir})
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("Up error = %v, want a cancellation", err)
	}
	// The report of an interrupted run shows what the server did.
	var ue *UpError
	if !errors.As(err, &ue) || len(ue.LogTail) == 0 {
		t.Errorf("Up error %v carries no server log tail", err)
	}
	b, _ := os.ReadFile(childFile)
	pid, _ := strconv.Atoi(string(b))
	if pid == 0 {
		t.Fatal("the fake server never started its child")
	}
	assertGone(t, "after cancel", pid)
	if n := serverProcesses(t, dir); n != 0 {
		t.Errorf("%d server processes survived the cancel", n)
	}
}

// serverProcesses counts live processes whose command line names runDir.
func serverProcesses(t *testing.T, runDir string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !process.Alive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), runDir) {
			n++
		}
	}
	return n
}

func TestServerIgnoringSIGTERMIsKilled(t *testing.T) {
	p := testProfile(map[string]string{"FAKESERVER_IGNORE_TERM": "1"})
	p.Spec.Timeouts.Stop = "500ms"
	c := up(t, Options{Profile: p})
	pid, child := c.ServerPID, childPID(t, c)
	code, _, err := c.StopServer(context.Background())
	killed := regexp.MustCompile(fmt.Sprintf(`processes \[[0-9 ]*\b%d\b[0-9 ]*\] of the server were still running`, pid))
	if err == nil || !killed.MatchString(err.Error()) || code != -1 {
		t.Errorf("StopServer = %d, %v; want -1 (SIGKILL) and an error naming pid %d as killed", code, err, pid)
	}
	assertGone(t, "after SIGKILL", pid, child)
}

func TestSecretsNeverInErrorsOrState(t *testing.T) {
	// A reachable "postgres" endpoint (a bare listener) so the password
	// reaches the server's command line.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	endpoint := "postgres://kine:hunter2pw@" + l.Addr().String() + "/kine?sslmode=disable"
	dir := t.TempDir()
	p := testProfile(map[string]string{"FAKESERVER_SECRET_LOG": "1", "FAKESERVER_EXIT": "1"})
	_, err = Up(context.Background(), Options{Profile: p, RunDir: dir, Datastore: "postgres", Endpoint: endpoint})
	if err == nil {
		t.Fatal("Up succeeded")
	}
	log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	// The fake printed the raw token; find it to make sure it is masked.
	var token string
	for _, line := range strings.Split(string(log), "\n") {
		if rest, ok := strings.CutPrefix(line, "fakeserver: token is "); ok {
			token, _, _ = strings.Cut(rest, ",")
		}
	}
	if token == "" {
		t.Fatalf("the fake did not log its token:\n%s", log)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "hunter2pw") {
		t.Errorf("error leaks a secret:\n%s", err)
	}
	if !strings.Contains(err.Error(), "token is REDACTED") {
		t.Errorf("error lacks the masked log line:\n%s", err)
	}
	// The harness's own marker line in the log is redacted too.
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "distrobench: starting") && (strings.Contains(line, token) || strings.Contains(line, "hunter2pw")) {
			t.Errorf("start line leaks a secret: %s", line)
		}
	}
}

func TestUnknownDatastore(t *testing.T) {
	_, err := Up(context.Background(), Options{Profile: testProfile(nil), Datastore: "mongo", RunDir: t.TempDir()})
	want := `unknown datastore "mongo" (valid: embedded-etcd, etcd, mysql, postgres, sqlite)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestMissingBinary(t *testing.T) {
	p := testProfile(nil)
	_, err := Up(context.Background(), Options{Profile: p, Binary: "/x", RunDir: t.TempDir()})
	want := `k3lite binary "/x" not found: build it with 'distrobench build' (or 'make -C distro build'), or set spec.binary in the profile to an installed k3s/rke2`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
}

func TestUpRefusesBusyRunDir(t *testing.T) {
	c := up(t, Options{Profile: testProfile(nil)})
	_, err := Up(context.Background(), Options{Profile: testProfile(nil), RunDir: c.RunDir})
	if err == nil || !strings.Contains(err.Error(), "already holds a cluster") {
		t.Errorf("second Up in the same run dir: %v", err)
	}
	if st := c.Status(context.Background()); !st.Ready {
		t.Errorf("the first cluster was disturbed: %+v", st)
	}
}

func TestBadTimeout(t *testing.T) {
	p := testProfile(nil)
	p.Spec.Timeouts.Ready = "soon"
	_, err := Up(context.Background(), Options{Profile: p, RunDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "spec.timeouts.ready") {
		t.Errorf("error = %v", err)
	}
}
