// Package datastore knows the datastores a distribution server can run on
// and how to prepare each for one run: nothing for SQLite and embedded etcd
// (they live inside the server), a local MariaDB, PostgreSQL or etcd server
// started as a supervised child, or an endpoint the user gives.
//
// Drivers register by name in one registry (as kine's pkg/drivers do); the
// names, and the endpoint grammar, are internal/datastore/dstype's.
package datastore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/process"
)

// Driver prepares one kind of datastore.
type Driver interface {
	Name() string
	Description() string
	// Start prepares the datastore for one run (starting a local server
	// process in o.Group when it needs one and no endpoint is given) and
	// returns what the distribution server must be told. On error nothing
	// it started is left running.
	Start(ctx context.Context, o StartOptions) (*Instance, error)
}

// StartOptions are what Driver.Start needs for one run.
type StartOptions struct {
	// Dir holds the local server's data and logs (the caller creates it).
	Dir string
	// Group is where local server processes are started.
	Group *process.Group
	// Log may be nil.
	Log *slog.Logger
	// ExtraListen are addresses a local server listens on besides
	// 127.0.0.1, each in interface form: 10.213.7.1/24 means listen on
	// 10.213.7.1 and admit the datastore's user ("kine", with its password)
	// from 10.213.7.0/24. A server on a simulated host reaches the machine
	// only at its bridge's gateway address, so that is what the deployer
	// passes. IPv4 only; loopback, unspecified (0.0.0.0) and multicast
	// addresses are refused. The Instance's Endpoint still names
	// 127.0.0.1: the caller substitutes the address it dials. Datastores
	// that start no server (sqlite, embedded-etcd, a user's endpoint)
	// ignore it.
	ExtraListen []netip.Prefix
	// EtcdBinary is the etcd server the etcd driver runs; empty means the
	// etcd in PATH (Debian's etcd-server). The harness passes the one built
	// from the distro module (build.Etcd): Debian 12's 3.4 is older than
	// what Kubernetes 1.37 supports.
	EtcdBinary string
}

// ListenOn is the StartOptions.ExtraListen entry for the address addr on
// the network subnet (e.g. a bridge's gateway 10.213.7.1 on 10.213.7.0/24
// gives 10.213.7.1/24). addr must lie in subnet.
func ListenOn(addr, subnet string) (netip.Prefix, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("listen address: %w", err)
	}
	n, err := netip.ParsePrefix(subnet)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("listen network: %w", err)
	}
	if !n.Contains(a) {
		return netip.Prefix{}, fmt.Errorf("listen address %s is not on the network %s", a, n)
	}
	return netip.PrefixFrom(a, n.Bits()), nil
}

// checkExtraListen validates o.ExtraListen and returns it without
// duplicates, each prefix keeping its address (not masked).
func checkExtraListen(extra []netip.Prefix) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range extra {
		a := p.Addr()
		switch {
		case !p.IsValid():
			return nil, fmt.Errorf("extra listen address %q is not an address with a prefix length (e.g. 10.213.7.1/24)", p)
		case !a.Is4():
			return nil, fmt.Errorf("extra listen address %s: only IPv4 is supported", p)
		case a.IsLoopback():
			return nil, fmt.Errorf("extra listen address %s is a loopback address: local servers always listen on 127.0.0.1, pass only other addresses", p)
		case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			return nil, fmt.Errorf("extra listen address %s: want the address of one of this machine's interfaces (e.g. a bridge's gateway 10.213.7.1/24)", p)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// listenAddrs are the addresses a local server listens on: 127.0.0.1,
// then every extra address.
func listenAddrs(extra []netip.Prefix) []string {
	out := []string{"127.0.0.1"}
	for _, p := range extra {
		out = append(out, p.Addr().String())
	}
	return out
}

// Instance is a datastore ready for one server.
type Instance struct {
	Driver string
	// Endpoint is what the server is given; it carries the password. Empty
	// for embedded-etcd and a sqlite in the server's data dir. Never log
	// it: use Redacted. It travels only here: the deployer hands it to the
	// server in its environment, never on a command line.
	Endpoint string
	// ServerArgs are the server flags that select a datastore inside the
	// server (["--cluster-init"] for embedded-etcd), never the endpoint.
	ServerArgs []string
	// Procs are the local server processes started for the run (in the group).
	Procs []*process.Proc
	// DataDirs hold the datastore's data, for size on disk. For sqlite and
	// embedded-etcd the caller adds <server data-dir>/server/db.
	DataDirs []string
	// Version is the local server's version as it reports it, e.g.
	// "etcd 3.7.3" or "PostgreSQL 15.18"; empty for datastores inside the
	// server and for a user's endpoint.
	Version string

	secrets []string
}

// Redacted describes the instance without secrets, for logs and reports.
func (i *Instance) Redacted() string {
	if i.Endpoint == "" {
		return i.Driver + " (inside the server)"
	}
	return dstype.Redact(i.Endpoint)
}

// Secrets are literal strings (passwords) that must be masked wherever the
// server's own output is shown, beyond what redact's patterns recognise.
func (i *Instance) Secrets() []string { return append([]string(nil), i.secrets...) }

// Stop stops the instance's local server processes, newest first.
func (i *Instance) Stop(timeout time.Duration) error {
	var errs []error
	for j := len(i.Procs) - 1; j >= 0; j-- {
		if _, _, err := i.Procs[j].Stop(timeout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Driver{}
)

// Register adds a driver; a second driver with the same name panics.
func Register(d Driver) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[d.Name()]; dup {
		panic("datastore: driver registered twice: " + d.Name())
	}
	registry[d.Name()] = d
}

// Names lists the registered datastores, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Get returns the driver registered under name: for mysql, postgres and etcd
// one that starts a local server for the run.
func Get(name string) (Driver, error) {
	registryMu.RLock()
	d, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown datastore %q (valid: %s)", name, strings.Join(Names(), ", "))
	}
	return d, nil
}

// For returns the driver that prepares datastore name for one run: the
// user's server at endpoint when one is given (External), else the
// registered driver (Get).
func For(name, endpoint string) (Driver, error) {
	if endpoint != "" {
		return External(name, endpoint)
	}
	return Get(name)
}

// External returns a driver for a datastore the user runs at endpoint (or,
// for sqlite, the file the server keeps it in): it starts nothing and
// hands the endpoint to the server. profile.Validate has checked that the
// endpoint fits the datastore (dstype.CheckEndpoint); name must be
// registered.
func External(name, endpoint string) (Driver, error) {
	if _, err := Get(name); err != nil {
		return nil, err
	}
	return &external{name: name, endpoint: endpoint}, nil
}

type external struct{ name, endpoint string }

func (e *external) Name() string { return e.name }
func (e *external) Description() string {
	return fmt.Sprintf("%s at the user's endpoint %s", e.name, dstype.Redact(e.endpoint))
}

// Start starts nothing and dials nothing: the endpoint was dialled before
// anything was built (CheckReachable, from the CLI), and the deployer
// dials it again only from a simulated host, for the route. o.ExtraListen
// does not apply (the user runs the server).
func (e *external) Start(ctx context.Context, o StartOptions) (*Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if log := o.Log; log != nil {
		log.Info("using the user's datastore", "datastore", e.name, "endpoint", dstype.Redact(e.endpoint))
	}
	inst := &Instance{Driver: e.name, Endpoint: e.endpoint}
	if pw := dstype.Password(e.endpoint); pw != "" {
		inst.secrets = []string{pw}
	}
	return inst, nil
}

// DialTimeout bounds each TCP dial of CheckReachable.
const DialTimeout = 10 * time.Second

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// CheckReachable dials every server address endpoint names (dstype.Addrs)
// with dial (nil: from this machine) and fails within DialTimeout per
// address, naming the endpoint with its password redacted. sqlite://
// endpoints are files and are not checked.
func CheckReachable(ctx context.Context, endpoint string, dial DialFunc) error {
	addrs, err := dstype.Addrs(endpoint)
	if err != nil {
		return err
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	for _, a := range addrs {
		dctx, cancel := context.WithTimeout(ctx, DialTimeout)
		conn, err := dial(dctx, a.Network, a.Address)
		cancel()
		if err != nil {
			return fmt.Errorf("datastore %q unreachable: %w (is the server running?)", dstype.Redact(endpoint), err)
		}
		_ = conn.Close()
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago (the
// kernel picks it when listening on port 0). Another process may still take
// it before it is used; callers that fail to bind should retry.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomPassword returns 32 hex characters: URL- and DSN-safe.
func randomPassword() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// installHint is the error for a missing server binary.
func installHint(binary string) error {
	return fmt.Errorf("%s not found: run 'hack/install-deps.sh datastores' (installs mariadb-server postgresql etcd-server)", binary)
}

// serverVersion runs `bin --version` and returns what re's first group
// matches in its output, prefixed by name ("etcd 3.7.3"); "" when it does
// not match (the version is informational: the run goes on without it).
func serverVersion(ctx context.Context, name, bin string, re *regexp.Regexp) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "--version").Output()
	m := re.FindSubmatch(out)
	if m == nil {
		return ""
	}
	return name + " " + string(m[1])
}

// findBinary looks in PATH, then in the sbin directories a non-login root
// shell may lack.
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", installHint(name)
}

// ReadyTimeout bounds how long a local server may take to answer.
var ReadyTimeout = 60 * time.Second

// waitReady polls check until it succeeds, the process exits, ctx ends or
// ReadyTimeout passes; the errors carry the server log's tail.
func waitReady(ctx context.Context, p *process.Proc, what string, check func(context.Context) error) error {
	deadline := time.Now().Add(ReadyTimeout)
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.Wait():
			_, code := p.Exited()
			return fmt.Errorf("%s exited with code %d before it was ready%s", what, code, tailNote(p))
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w%s", what, ReadyTimeout, last, tailNote(p))
		}
	}
}

// runToCompletion runs a one-shot setup command (initdb, mariadb-install-db)
// in the group and fails with its log tail when it fails.
func runToCompletion(ctx context.Context, g *process.Group, s process.Spec) error {
	p, err := g.Start(ctx, s)
	if err != nil {
		return err
	}
	select {
	case <-p.Wait():
	case <-ctx.Done():
		_, _, _ = p.Stop(5 * time.Second)
		return fmt.Errorf("%s: %w", s.Name, ctx.Err())
	}
	if _, code := p.Exited(); code != 0 {
		return fmt.Errorf("%s failed with exit code %d%s", s.Name, code, tailNote(p))
	}
	return nil
}

func tailNote(p *process.Proc) string {
	lines := p.LogTail(20)
	if len(lines) == 0 {
		return fmt.Sprintf(" (log %s is empty)", p.LogPath)
	}
	return fmt.Sprintf("; last lines of %s:\n  %s", p.LogPath, strings.Join(lines, "\n  "))
}

// unixSocketPath returns dir/name, or a short path under the system temp
// directory when dir is too deep for a Unix socket (108 bytes on Linux).
func unixSocketPath(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if len(p) < 100 {
		return p, nil
	}
	d, err := os.MkdirTemp("", "dbsock-")
	if err != nil {
		return "", err
	}
	return filepath.Join(d, name), nil
}
