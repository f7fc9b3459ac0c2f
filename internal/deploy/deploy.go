// Package deploy runs one server of a distribution profile on a datastore,
// in one run directory, and tears everything down again. It drives the
// distribution only through K3s's CLI (`<binary> server --data-dir ...`),
// so k3lite, k3s and rke2 binaries are deployed the same way.
//
// Run directory layout:
//
//	RUN/server-data/     the server's --data-dir
//	RUN/kubeconfig.yaml  written by the server (0600)
//	RUN/server-token     the server's join token (0600), its --token-file
//	RUN/server.log       server stdout+stderr, appended on every start
//	RUN/datastore/       local datastore server data and logs
//	RUN/state.json       PIDs, ports, paths (no secrets) for Load
//
// With nodes (the server's own agent, unless --disable-agent is among the
// server args, or spec.nodes.agents > 0), every node runs on a simulated
// host (internal/netns): node 0 is the server, node i its i-th agent.
//
//	RUN/server-kubeconfig.yaml  as the server wrote it (loopback URL, valid inside node 0)
//	RUN/kubeconfig.yaml         the same, pointing at node 0's address on the bridge
//	RUN/node<i>/                agent i's --data-dir
//	RUN/node<i>.log             agent i's stdout+stderr
//	RUN/registries.yaml         every node's --private-registry: registry.k8s.io and
//	                            docker.io are served by each node's embedded registry
//	                            mirror of its own images (--embedded-registry), and
//	                            never contacted (--disable-default-registry-endpoint)
package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/netns"
	"github.com/distrobench/distrobench/internal/process"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/redact"
)

// StateFile is the name of the state file in the run directory.
const StateFile = "state.json"

// tailLines is how much of the server log an error carries, and
// ReportTailLines how much of it a report keeps (UpError.LogTail, and a
// failed run's report).
const (
	tailLines       = 30
	ReportTailLines = 40
)

// Options for Up.
type Options struct {
	Profile *profile.Profile // defaulted and validated; nil means all defaults
	// Binary is the distribution binary; default Profile.Spec.Binary.
	Binary string
	// Datastore is a registered datastore name; default the profile's
	// (profile.SetDefaults defaults that).
	Datastore string
	// Endpoint is the user's datastore endpoint (optional); without it
	// mysql, postgres and etcd get a local server for the run. Default: the
	// profile's endpoint when the profile names the same datastore.
	Endpoint string
	// EtcdBinary is the etcd server a local etcd datastore runs (default:
	// etcd in PATH); the harness passes build.Etcd's.
	EtcdBinary string
	RunDir     string // created 0700 if missing
	Port       int    // https-listen-port; 0 picks a free one (with port+1 free too)
	// ExtraServerArgs are appended after the profile's server args.
	ExtraServerArgs []string
	// ImageTarballs are image archives (docker-archive or OCI tar) every
	// node imports at start: they are hard-linked (copied across file
	// systems) into each node's <data-dir>/agent/images/ before it starts.
	ImageTarballs []string
	Log           *slog.Logger
	Progress      func(msg string) // short status lines for a terminal; optional
	// APIReady, if set, is called once, as soon as the server's API first
	// answers (/readyz 200) and before any agent starts: the moment to start
	// watching the nodes turn Ready on the harness's clock (no node can be
	// Ready before the API answers). The cluster's kubeconfig works then.
	APIReady func(c *Cluster)
	// ChatterProxies puts counting proxies on the agents' path to the
	// server and the server's path to a datastore server the run starts
	// (proxies.go). They live in this process: set it only when the
	// caller keeps the cluster until Down.
	ChatterProxies bool
}

// Cluster is a deployed server. Exported fields are what state.json holds
// (no secrets); the rest lives only in the process that called Up.
type Cluster struct {
	Profile    string `json:"profile,omitempty"`
	RunDir     string `json:"runDir"`
	DataDir    string `json:"dataDir"`
	Kubeconfig string `json:"kubeconfig"`
	ServerURL  string `json:"serverURL"`
	Binary     string `json:"binary"`
	LogPath    string `json:"logPath"`
	Port       int    `json:"port"`
	// SupervisorPort is where agents join in the RKE2 style (0: on Port).
	SupervisorPort int    `json:"supervisorPort,omitempty"`
	Datastore      string `json:"datastore"`
	// DatastoreEndpoint is the endpoint with its password redacted ("" when
	// the datastore lives inside the server).
	DatastoreEndpoint string `json:"datastoreEndpoint,omitempty"`
	// DatastoreVersion is the local datastore server's version ("etcd
	// 3.7.3"); empty when the datastore is inside the server or the user's.
	DatastoreVersion string `json:"datastoreVersion,omitempty"`
	// DatastoreExternal is true when the user gave the endpoint.
	DatastoreExternal bool     `json:"datastoreExternal,omitempty"`
	ServerArgs        []string `json:"serverArgs"` // redacted
	ServerPID         int      `json:"serverPID"`  // 0 while stopped
	ServerPGID        int      `json:"serverPGID"`
	// ServerStartTime (clock ticks since boot, /proc/PID/stat) guards `down`
	// in another invocation against a reused PID.
	ServerStartTime     uint64        `json:"serverStartTime"`
	DatastorePIDs       []int         `json:"datastorePIDs,omitempty"`
	DatastorePGIDs      []int         `json:"datastorePGIDs,omitempty"`
	DatastoreStartTimes []uint64      `json:"datastoreStartTimes,omitempty"`
	DatastoreLogPaths   []string      `json:"datastoreLogPaths,omitempty"`
	DatastoreDataDirs   []string      `json:"datastoreDataDirs,omitempty"`
	StartedAt           time.Time     `json:"startedAt"`
	ReadyAfter          time.Duration `json:"readyAfterNanos"`
	ReadyTimeout        time.Duration `json:"readyTimeoutNanos"`
	StopTimeout         time.Duration `json:"stopTimeoutNanos"`

	// Network is the simulated network the nodes run on (nil: the server
	// runs in the machine's own network namespace and has no node).
	Network *netns.Network `json:"network,omitempty"`
	// ServerAgent is true when the server runs an agent for its own node
	// (node0); the server then runs on Network.Hosts[0].
	ServerAgent bool `json:"serverAgent,omitempty"`
	// ServerKubeconfig is where the server writes its kubeconfig when it
	// runs on a simulated host (its URL only works inside that host);
	// Kubeconfig is then a copy that points at the server's bridge address.
	ServerKubeconfig string `json:"serverKubeconfig,omitempty"`
	// ServerCgroupRoot is the kubelet cgroup root of the server's node.
	ServerCgroupRoot string `json:"serverCgroupRoot,omitempty"`
	// ServerCgroup is the server's own cgroup on a simulated host (see
	// ownCgroup), which every start of the server is placed in.
	ServerCgroup string `json:"serverCgroup,omitempty"`
	// RegistriesFile is the nodes' registries.yaml (RUN/registries.yaml,
	// see registriesYAML) on a cluster with nodes.
	RegistriesFile string `json:"registriesFile,omitempty"`
	// NodesDir holds the nodes' data dirs on a cluster with simulated hosts
	// (NodesBase/<network ID>/node<i>); see NodesBase.
	NodesDir string `json:"nodesDir,omitempty"`
	// Agents are the agent nodes, node1..nodeN.
	Agents []*Agent `json:"agents,omitempty"`
	// NodesReadyAfter is how long after the server's start every node
	// was Ready (0 without nodes).
	NodesReadyAfter time.Duration `json:"nodesReadyAfterNanos,omitempty"`

	mu       sync.Mutex
	loaded   bool // from state.json: only PIDs, no process handles or secrets
	group    *process.Group
	server   *process.Proc
	ds       *datastore.Instance
	rawArgs  []string // no secret: the token is in a file, the endpoint in env
	env      []string // carries the datastore endpoint (its password)
	secrets  []string
	log      *slog.Logger
	progress func(string)
	clock    func(time.Duration) <-chan time.Time // nil: time.After (ready.go)

	// Counting proxies (proxies.go): chatterProxies is Options'; the
	// agents' proxy is planned (proxyAgents, or agentsWhyNot) before the
	// server's flags are built and started before the agents are.
	// statements reads the datastore's own counters.
	chatterProxies bool
	proxyAgents    bool
	agentsWhyNot   string
	agentProxy     *chatter.Proxy
	// supervisorProxy counts the agents' joins in the RKE2 style;
	// agentProxy is then their API traffic.
	supervisorProxy *chatter.Proxy
	datastoreProxy  *chatter.Proxy
	statements      *datastore.StatementReader
}

// Status is what Cluster.Status found.
type Status struct {
	ServerRunning bool
	Ready         bool // GET /readyz answered 200
	Nodes         int  // -1 when not asked (server not ready)
	ReadyNodes    int  // nodes whose Ready condition is True (-1 when not asked)
	// WantNodes is how many nodes the run started (server's own + agents).
	WantNodes     int
	AgentsRunning int    // agent processes alive
	Message       string // why not running or not ready
}

// Up starts the datastore (if it needs a server) and one distribution
// server, and waits until the server's /readyz answers 200 through the
// kubeconfig it wrote. ctx bounds Up only: cancelling it while Up runs (e.g.
// Ctrl-C) tears down what Up started; once Up returns, the processes run
// until Down, StopServer or the caller's Group().StopAll. On any failure
// Up stops everything it started and returns a nil Cluster and an error
// with the tail of the server log. Up is planUp (resolve and check the
// options, choose where the nodes run: hosts) and then upRun.steps.
func Up(ctx context.Context, o Options) (*Cluster, error) {
	u, err := planUp(o)
	if err != nil {
		return nil, err
	}
	return u.run(ctx)
}

// run takes Up's steps in order; the first error ends it, and then it
// stops and removes what the steps started.
func (u *upRun) run(ctx context.Context) (*Cluster, error) {
	c := u.c
	ok := false
	defer func() {
		if !ok {
			c.teardown()
		}
	}()
	for _, step := range u.steps() {
		if err := step(ctx); err != nil {
			return nil, &UpError{Err: err, LogTail: c.LogTail(ReportTailLines)}
		}
	}
	ok = true
	c.log.Info("cluster up", "runDir", c.RunDir, "server", c.ServerURL, "datastore", u.inst.Redacted(), "readyAfter", c.ReadyAfter, "nodes", c.WantNodes(), "nodesReadyAfter", c.NodesReadyAfter)
	return c, nil
}

// UpError is Up's error: why it failed and the server log's last lines
// (masked) at that moment, taken before Up stopped what it started, so a
// report of a failed or interrupted Up still shows what the server did.
type UpError struct {
	Err     error
	LogTail []string
}

func (e *UpError) Error() string { return e.Err.Error() }
func (e *UpError) Unwrap() error { return e.Err }

// upRun is one Up in progress: its options and profile, where its
// processes run, the cluster it builds and the datastore it started.
type upRun struct {
	o     Options
	p     *profile.Profile
	drv   datastore.Driver
	hosts hosts
	c     *Cluster
	inst  *datastore.Instance
	// styleArgs select the profile's style on the server (styleOf).
	styleArgs []string
}

// steps are Up's steps after planUp, in order.
func (u *upRun) steps() []func(context.Context) error {
	return []func(context.Context) error{
		u.createHosts,
		u.startDatastore,
		u.assembleServer,
		u.prepareNodes,
		u.startServer,
		u.startNodes,
	}
}

// planUp resolves o against its profile and checks everything that can
// be checked before anything starts; it creates only the run directory.
func planUp(o Options) (*upRun, error) {
	o, p := withDefaults(o)
	if err := checkBinary(o.Binary); err != nil {
		return nil, err
	}
	dsName, endpoint, drv, err := pickDatastore(o, p)
	if err != nil {
		return nil, err
	}
	readyTimeout, stopTimeout, err := upTimeouts(p)
	if err != nil {
		return nil, err
	}
	styleArgs, supervisorPort, err := styleOf(o.Binary, p.Spec.Style)
	if err != nil {
		return nil, err
	}
	runDir, err := prepareRunDir(o.RunDir)
	if err != nil {
		return nil, err
	}
	h, err := chooseHosts(p, o.ExtraServerArgs)
	if err != nil {
		return nil, err
	}
	if err := h.checkPrereqs(); err != nil {
		return nil, err
	}
	c := &Cluster{
		Profile:           p.Metadata.Name,
		RunDir:            runDir,
		DataDir:           filepath.Join(runDir, "server-data"),
		Binary:            o.Binary,
		LogPath:           filepath.Join(runDir, "server.log"),
		Datastore:         dsName,
		DatastoreExternal: endpoint != "",
		Kubeconfig:        filepath.Join(runDir, "kubeconfig.yaml"),
		SupervisorPort:    supervisorPort,
		ReadyTimeout:      readyTimeout,
		StopTimeout:       stopTimeout,
		group:             process.NewGroup(o.Log),
		log:               o.Log,
		progress:          o.Progress,
		chatterProxies:    o.ChatterProxies,
	}
	h.setKubeconfigs(c, specKubeconfig(p, c.DataDir))
	return &upRun{o: o, p: p, drv: drv, hosts: h, c: c, styleArgs: styleArgs}, nil
}

// withDefaults fills in what o leaves out: a logger that discards, the
// default profile and the profile's binary.
func withDefaults(o Options) (Options, *profile.Profile) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := o.Profile
	if p == nil {
		p = &profile.Profile{}
		p.SetDefaults()
	}
	if o.Binary == "" {
		o.Binary = p.Spec.Binary
	}
	return o, p
}

// specKubeconfig is where spec.kubeconfig has the server write its
// kubeconfig (relative to the server's data dir), "" when it names none.
func specKubeconfig(p *profile.Profile, dataDir string) string {
	kc := p.Spec.Kubeconfig
	if kc == "" || filepath.IsAbs(kc) {
		return kc
	}
	return filepath.Join(dataDir, kc)
}

// createHosts makes the hosts the nodes run on (nothing on the machine).
func (u *upRun) createHosts(context.Context) error { return u.hosts.create(u.c) }

// startDatastore starts the datastore (a local server, or a client of
// the user's) and records its processes in the state file before the
// server starts, so that `down` finds them even if this process dies.
func (u *upRun) startDatastore(ctx context.Context) error {
	c := u.c
	c.say(fmt.Sprintf("preparing datastore %s", c.Datastore))
	dsDir := filepath.Join(c.RunDir, "datastore")
	if err := os.MkdirAll(dsDir, 0o700); err != nil {
		return fmt.Errorf("create datastore directory: %w", err)
	}
	dsOpts := datastore.StartOptions{Dir: dsDir, Group: c.group, Log: c.log, EtcdBinary: u.o.EtcdBinary}
	extra, err := u.hosts.datastoreListen(c)
	if err != nil {
		return err
	}
	dsOpts.ExtraListen = append(dsOpts.ExtraListen, extra...)
	inst, err := u.drv.Start(ctx, dsOpts)
	if err != nil {
		return fmt.Errorf("datastore %s: %w", c.Datastore, err)
	}
	u.inst = inst
	c.recordDatastore(inst)
	return c.writeState()
}

// recordDatastore keeps what the state file and the errors need of the
// datastore: its processes, version, redacted endpoint and secrets.
func (c *Cluster) recordDatastore(inst *datastore.Instance) {
	c.ds = inst
	c.DatastoreVersion = inst.Version
	c.secrets = append(c.secrets, inst.Secrets()...)
	if inst.Endpoint != "" {
		c.DatastoreEndpoint = redact.Endpoint(inst.Endpoint)
	}
	for _, pr := range inst.Procs {
		c.DatastorePIDs = append(c.DatastorePIDs, pr.PID)
		c.DatastorePGIDs = append(c.DatastorePGIDs, pr.PGID)
		st, _ := process.StartTime(pr.PID)
		c.DatastoreStartTimes = append(c.DatastoreStartTimes, st)
		c.DatastoreLogPaths = append(c.DatastoreLogPaths, pr.LogPath)
	}
	c.DatastoreDataDirs = append([]string(nil), inst.DataDirs...)
}

// assembleServer picks the server's address and token and builds its
// command line and environment. The token and the datastore password
// never go on the command line, which every local user can read in
// /proc/PID/cmdline: the token is in a 0600 file, the endpoint in the
// server's environment.
func (u *upRun) assembleServer(ctx context.Context) error {
	c := u.c
	ip, port, err := u.hosts.serverAddress(c, u.o.Port)
	if err != nil {
		return err
	}
	c.Port = port
	c.ServerURL = "https://" + net.JoinHostPort(ip, strconv.Itoa(c.Port))
	tokenFile, err := c.newToken()
	if err != nil {
		return err
	}
	dsEnv, err := c.datastoreEnv(ctx, c.Binary, u.inst)
	if err != nil {
		return err
	}
	hostArgs, hostEnv, err := u.hosts.serverArgs(c, tokenFile)
	if err != nil {
		return err
	}
	p := u.p
	c.rawArgs = slices.Concat(c.baseServerArgs(), u.styleArgs, hostArgs, u.inst.ServerArgs,
		p.ExpandArgs(p.Spec.Server.Args, c.DataDir, c.RunDir), u.o.ExtraServerArgs)
	c.ServerArgs = c.redactArgs(c.rawArgs)
	c.env = slices.Concat(envList(p.Spec.Server.Env), dsEnv, hostEnv)
	return nil
}

// baseServerArgs are the server flags every host gets: its data dir,
// where it writes its kubeconfig, and its port.
func (c *Cluster) baseServerArgs() []string {
	written := c.Kubeconfig
	if c.ServerKubeconfig != "" {
		written = c.ServerKubeconfig
	}
	return []string{"server",
		"--data-dir", c.DataDir,
		"--write-kubeconfig", written,
		"--write-kubeconfig-mode", "0600",
		"--https-listen-port", strconv.Itoa(c.Port),
	}
}

// newToken makes the server's join token, keeps it among the secrets to
// redact and writes it to the token file, whose path it returns.
func (c *Cluster) newToken() (string, error) {
	token, err := randomHex(24)
	if err != nil {
		return "", err
	}
	c.secrets = append(c.secrets, token)
	return writeTokenFile(c.RunDir, token)
}

// prepareNodes readies the agents and places the images on every node.
func (u *upRun) prepareNodes(context.Context) error {
	return u.hosts.prepareNodes(u.c, u.p, u.o.ImageTarballs)
}

// startServer starts the server, waits for its /readyz and tells the
// caller (Options.APIReady) before any agent starts.
func (u *upRun) startServer(ctx context.Context) error {
	c := u.c
	c.StartedAt = time.Now()
	var err error
	if c.ReadyAfter, err = c.startAndWait(ctx); err != nil {
		return err
	}
	if u.o.APIReady != nil {
		u.o.APIReady(c)
	}
	if err := c.writeState(); err != nil {
		return err
	}
	c.say(fmt.Sprintf("server ready after %.1fs", c.ReadyAfter.Seconds()))
	return nil
}

// startNodes starts the agents and waits for every node to be Ready.
func (u *upRun) startNodes(ctx context.Context) error { return u.hosts.startNodes(ctx, u.c) }

// pickDatastore is the datastore the cluster runs on: its registered
// name, the user's endpoint ("" for a local one) and its driver.
func pickDatastore(o Options, p *profile.Profile) (string, string, datastore.Driver, error) {
	dsName, endpoint := o.datastoreChoice(p)
	drv, err := datastore.For(dsName, endpoint)
	if err != nil {
		return "", "", nil, err
	}
	return dsName, endpoint, drv, nil
}

// upTimeouts are the profile's ready and stop timeouts, scaled by
// EmulationSlowdown when the binary runs emulated.
func upTimeouts(p *profile.Profile) (readyTimeout, stopTimeout time.Duration, err error) {
	readyTimeout, err = duration(p.Spec.Timeouts.Ready, profile.DefaultReadyTimeout, "spec.timeouts.ready")
	if err != nil {
		return 0, 0, err
	}
	stopTimeout, err = duration(p.Spec.Timeouts.Stop, profile.DefaultStopTimeout, "spec.timeouts.stop")
	if err != nil {
		return 0, 0, err
	}
	if Emulated(p.Spec.Arch) {
		if err := checkEmulation(p.Spec.Arch); err != nil {
			return 0, 0, err
		}
		// qemu-user runs arm64 code 9-15x slower than native (measured):
		// scale the deadlines, not the expectations.
		readyTimeout *= EmulationSlowdown
		stopTimeout *= EmulationSlowdown
	}
	return readyTimeout, stopTimeout, nil
}

// prepareRunDir makes the run directory (absolute, 0700) and refuses one
// that already holds a cluster.
func prepareRunDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("deploy: no run directory given")
	}
	runDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return "", fmt.Errorf("create run directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(runDir, StateFile)); err == nil {
		return "", fmt.Errorf("run directory %s already holds a cluster (%s): stop it with 'distrobench down --run-dir %s' or use another directory", runDir, StateFile, runDir)
	}
	return runDir, nil
}

// Load reads the state an Up (maybe in another process) left in runDir.
// The returned cluster can report Status, give its kubeconfig and be taken
// Down; it cannot restart its server (the datastore password is not
// stored).
func Load(runDir string) (*Cluster, error) {
	path := filepath.Join(runDir, StateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no cluster in %s (%s is missing): start one with 'distrobench up', or it was already stopped", runDir, StateFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster state: %w", err)
	}
	c := &Cluster{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("cluster state %s is corrupt: %w (stop leftover processes with 'distrobench down' after fixing it, or by hand)", path, err)
	}
	c.loaded = true
	c.log = slog.New(slog.DiscardHandler)
	c.group = process.NewGroup(c.log)
	if c.StopTimeout <= 0 {
		c.StopTimeout = process.DefaultStopTimeout
	}
	return c, nil
}

// Group is the process group of the processes this Cluster started (empty
// for a loaded cluster).
func (c *Cluster) Group() *process.Group { return c.group }

// RESTConfig is a client config from the kubeconfig the server wrote.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	return cfg, nil
}

// LogTail returns the last n lines of the server log, redacted.
func (c *Cluster) LogTail(n int) []string {
	lines := process.Tail(c.LogPath, n)
	for i := range lines {
		lines[i] = c.mask(lines[i])
	}
	return lines
}

// Status checks the server process and GET /readyz (bounded by ctx and 5 s).
func (c *Cluster) Status(ctx context.Context) Status {
	st := Status{Nodes: -1, ReadyNodes: -1, WantNodes: c.WantNodes(), AgentsRunning: c.agentsRunning()}
	st.ServerRunning = c.serverRunning()
	if !st.ServerRunning {
		st.Message = fmt.Sprintf("server process is not running (log: %s)", c.LogPath)
		return st
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		st.Message = err.Error()
		return st
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := readyz(ctx, cfg); err != nil {
		st.Message = c.mask(err.Error())
		return st
	}
	st.Ready = true
	if cs, err := kubernetes.NewForConfig(cfg); err == nil {
		if nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
			st.Nodes = len(nodes.Items)
			st.ReadyNodes = len(readyNodes(nodes.Items))
		}
	}
	if st.ReadyNodes < st.WantNodes && st.Message == "" {
		st.Message = fmt.Sprintf("%d of %d nodes are Ready", max(st.ReadyNodes, 0), st.WantNodes)
	}
	return st
}

// StopServer stops the server only (SIGTERM to its process group, the
// profile's stop timeout, then SIGKILL) and reports its exit code and how
// long it took until every process of its tree had exited (containerd
// included), for restart and SIGTERM-time measurements. Processes that had
// to be killed at the timeout make it an error that names them.
func (c *Cluster) StopServer(ctx context.Context) (exitCode int, took time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if c.server == nil {
		if c.loaded {
			return 0, 0, errors.New("stop server: this cluster was loaded from its state file; use Down")
		}
		return 0, 0, errors.New("stop server: the server is not running")
	}
	s, err := c.server.Terminate(c.StopTimeout)
	c.server = nil
	c.ServerPID, c.ServerStartTime = 0, 0
	if err == nil {
		err = killedError("server", s, c.StopTimeout, c.LogPath)
	}
	if werr := c.writeState(); werr != nil && err == nil {
		err = werr
	}
	c.log.Info("server stopped", "exitCode", s.ExitCode, "took", s.Took, "killed", s.Killed)
	return s.ExitCode, s.Took, err
}

// killedError reports the processes a stop had to SIGKILL (nil if none).
func killedError(what string, s process.Stopped, timeout time.Duration, logPath string) error {
	if len(s.Killed) == 0 {
		return nil
	}
	return fmt.Errorf("processes %v of the %s were still running %s after SIGTERM (spec.timeouts.stop) and were killed; see %s", s.Killed, what, timeout, logPath)
}

// StartServer starts the server again with the same arguments and data dir
// and waits for /readyz, bounded by the profile's ready timeout and ctx. On
// failure the server is stopped again (the datastore keeps running).
func (c *Cluster) StartServer(ctx context.Context) (readyAfter time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded || c.rawArgs == nil {
		return 0, errors.New("start server: this cluster was loaded from its state file, which holds no secrets; start a new one with Up")
	}
	if c.server != nil {
		if exited, _ := c.server.Exited(); !exited {
			return 0, errors.New("start server: the server is already running")
		}
	}
	readyAfter, err = c.startAndWait(ctx)
	if err != nil {
		return 0, err
	}
	return readyAfter, c.writeState()
}

// Down stops the agents, the server, then the datastore servers (TERM,
// the profile's stop timeout, KILL); with simulated hosts it then removes
// everything the nodes left: processes that left their process groups
// (containerd shims, containers), mounts under the run directory, the
// nodes' cgroups, the network namespaces, veth pairs and bridge. Last it
// deletes the state file. Logs, data and the kubeconfig stay. Calling it
// again is a no-op; when something could not be removed the state file
// stays, so Down (or 'distrobench down') can be run again.
func (c *Cluster) Down(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := c.stopProcesses()
	errs = append(errs, c.cleanupNodes()...)
	c.ServerPID = 0
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("down %s: %w (run 'distrobench down --run-dir %s' again once fixed)", c.RunDir, err, c.RunDir)
	}
	if err := os.Remove(filepath.Join(c.RunDir, StateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("down %s: %w", c.RunDir, err)
	}
	c.log.Info("cluster down", "runDir", c.RunDir)
	_ = ctx // stopping is bounded by the stop timeout, not by ctx: a cancelled ctx must still tear down
	return nil
}

// stopProcesses stops the agents (newest first), the server and the
// datastore servers, by handle or, for a loaded cluster, by the process
// groups recorded in the state file.
func (c *Cluster) stopProcesses() []error {
	var errs []error
	if c.loaded {
		for i := len(c.Agents) - 1; i >= 0; i-- {
			a := c.Agents[i]
			errs = append(errs, c.killRecorded(a.PGID, a.PID, a.StartTime))
			a.PID, a.StartTime = 0, 0
		}
		errs = append(errs, c.killRecorded(c.ServerPGID, c.ServerPID, c.ServerStartTime))
		for i := len(c.DatastorePGIDs) - 1; i >= 0; i-- {
			var st uint64
			if i < len(c.DatastoreStartTimes) {
				st = c.DatastoreStartTimes[i]
			}
			errs = append(errs, c.killRecorded(c.DatastorePGIDs[i], c.DatastorePIDs[i], st))
		}
		return errs
	}
	for i := len(c.Agents) - 1; i >= 0; i-- {
		a := c.Agents[i]
		if a.proc != nil {
			if _, _, err := a.proc.Stop(c.StopTimeout); err != nil {
				errs = append(errs, err)
			}
			a.proc = nil
			a.PID, a.StartTime = 0, 0
		}
	}
	if c.server != nil {
		if _, _, err := c.server.Stop(c.StopTimeout); err != nil {
			errs = append(errs, err)
		}
		c.server = nil
	}
	if c.ds != nil {
		errs = append(errs, c.ds.Stop(c.StopTimeout))
		c.ds = nil
	}
	// Anything else started in the group.
	errs = append(errs, c.group.StopAll(c.StopTimeout))
	return append(errs, c.closeChatter())
}

// killRecorded stops a process group recorded in the state file. Linux
// does not reuse a PID while it names a live process group, so a group
// whose leader is gone still holds only our processes; but a leader PID
// that is alive with another start time was reused: that one is left alone.
func (c *Cluster) killRecorded(pgid, pid int, startTime uint64) error {
	if pgid <= 1 || pid <= 0 {
		return nil
	}
	if st, err := process.StartTime(pid); err == nil && startTime != 0 && st != startTime {
		c.log.Warn("recorded process was replaced by another (PID reused): not signalling it", "pid", pid)
		return nil
	}
	return process.KillGroup(pgid, c.StopTimeout)
}

func (c *Cluster) serverRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server != nil {
		exited, _ := c.server.Exited()
		return !exited
	}
	if !c.loaded || c.ServerPID <= 0 || !process.Alive(c.ServerPID) {
		return false
	}
	st, err := process.StartTime(c.ServerPID)
	return err == nil && (c.ServerStartTime == 0 || st == c.ServerStartTime)
}

// startAndWait starts the server process and waits for readiness; on
// failure it stops the server and returns an error with the log tail.
func (c *Cluster) startAndWait(ctx context.Context) (time.Duration, error) {
	c.say("starting server")
	start := time.Now()
	path, args := c.Binary, c.rawArgs
	if c.Network != nil {
		path, args = c.Network.Hosts[0].Command(c.Binary, c.rawArgs...)
	}
	if err := createCgroup(c.ServerCgroup); err != nil {
		return 0, fmt.Errorf("server: %w", err)
	}
	p, err := c.group.Start(ctx, process.Spec{
		Name: "server", Path: path, Args: args, Env: c.env, LogPath: c.LogPath, Cgroup: c.ServerCgroup,
	})
	if err != nil {
		return 0, err
	}
	c.server = p
	c.ServerPID, c.ServerPGID = p.PID, p.PGID
	c.ServerStartTime, _ = process.StartTime(p.PID)
	if err := c.writeState(); err != nil {
		c.log.Warn("could not record the server in the state file", "err", err)
	}

	if err := c.waitReady(ctx, p); err != nil {
		_, _, _ = p.Stop(c.StopTimeout)
		c.server = nil
		c.ServerPID, c.ServerStartTime = 0, 0
		return 0, fmt.Errorf("%s server (%s) did not become ready: %w%s", filepath.Base(c.Binary), c.Datastore, err, c.tailNote())
	}
	return time.Since(start), nil
}

// teardown stops and removes everything Up started (on Up's failure).
func (c *Cluster) teardown() {
	errs := c.stopProcesses()
	errs = append(errs, c.cleanupNodes()...)
	if err := errors.Join(errs...); err != nil {
		c.log.Error("teardown", "err", err)
		// The state file stays: 'distrobench down' can finish the job.
		return
	}
	_ = os.Remove(filepath.Join(c.RunDir, StateFile))
}

func (c *Cluster) tailNote() string {
	lines := c.LogTail(tailLines)
	if len(lines) == 0 {
		return fmt.Sprintf("\nthe server log %s is empty", c.LogPath)
	}
	return fmt.Sprintf("\nlast %d lines of the server log (full log: %s):\n  %s", len(lines), c.LogPath, strings.Join(lines, "\n  "))
}

// mask redacts secret patterns and the literal secrets of this cluster.
func (c *Cluster) mask(s string) string {
	for _, sec := range c.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redact.Mask)
		}
	}
	return redact.String(s)
}

func (c *Cluster) redactArgs(args []string) []string {
	out := redact.Args(args)
	for i := range out {
		out[i] = c.mask(out[i])
	}
	return out
}

func (c *Cluster) say(msg string) {
	if c.progress != nil {
		c.progress(msg)
	}
	c.log.Debug(msg)
}

// writeState saves the exported fields atomically, 0600.
func (c *Cluster) writeState() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(c.RunDir, StateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write cluster state: %w", err)
	}
	return nil
}

func checkBinary(path string) error {
	hint := func(why string) error {
		return fmt.Errorf("k3lite binary %q %s: build it with 'distrobench build' (or 'make -C distro build'), or set spec.binary in the profile to an installed k3s/rke2", path, why)
	}
	if path == "" {
		return hint("not given")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return hint("not found")
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return hint("is not an executable file")
	}
	return nil
}

func duration(s, def, field string) (time.Duration, error) {
	if s == "" {
		s = def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive Go duration (e.g. \"90s\")", field, s)
	}
	return d, nil
}

func envList(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+m[k])
	}
	return out
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// freePortPair finds a port P with P+1 also free: K3s serves its supervisor
// on the https-listen-port and the apiserver on the next port.
func freePortPair() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("find a free port pair: none found in 50 tries")
}

// EmulationSlowdown scales deadlines for a binary run under qemu-user.
const EmulationSlowdown = 10

// Emulated reports whether a binary for arch runs emulated on this host.
func Emulated(arch string) bool { return arch != "" && arch != runtime.GOARCH }

// checkEmulation makes sure the kernel can run arch binaries (binfmt_misc +
// qemu-user), and says how to set that up when it cannot.
func checkEmulation(arch string) error {
	handler := map[string]string{"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}[arch]
	b, err := os.ReadFile(filepath.Join("/proc/sys/fs/binfmt_misc", handler))
	if err != nil || !strings.HasPrefix(string(b), "enabled") {
		return fmt.Errorf("cannot run %s binaries on this %s host: binfmt handler %s is not enabled (run 'hack/install-deps.sh arm64': installs qemu-user-static and enables binfmt_misc)", arch, runtime.GOARCH, handler)
	}
	return nil
}
