package main

// The fake node: what a K3s-style agent leaves on a machine, in miniature,
// so the deployer's simulated hosts and its cleanup are tested without a
// kubelet. A node (the server's own, or `fakeserver agent`):
//
//   - serves "node NAME" over HTTP on NODE-IP:10250 (the kubelet port);
//   - mounts a tmpfs at D/agent/run/shm and bind-mounts D/agent/src onto
//     D/agent/kubelet/pods/vol (what containerd and the kubelet mount);
//   - creates the cgroups R/kubepods/podfake in every cgroup hierarchy;
//   - starts a "container" (this binary, setsid, empty environment, moved
//     into those cgroups) and a "shim" (a copy of this binary under D/bin,
//     setsid, inheriting the environment): both leave the process group,
//     as containerd shims and containers do, and outlive the node;
//   - adds a firewall table and chain inside its network namespace (nft,
//     iptables) when those commands exist;
//   - records what it did in D/fakenode.json.
//
// An agent reads its --token-file, then registers at the server's
// /register (HTTPS, any certificate: it is a fake); the server dials the
// agent's NODE-IP:10250 back before listing it as a Ready node, so a
// Ready agent proves that server and agent reach each other.
//
// FAKEAGENT_EXIT=N makes an agent exit N at once after printing a line.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type serverNode struct {
	token, name, ip, cgroupRoot string
}

func cgroupRootArg(kubeletArgs []string) string {
	for _, a := range kubeletArgs {
		if v, ok := strings.CutPrefix(a, "cgroup-root="); ok {
			return v
		}
	}
	return ""
}

// FakeNode is D/fakenode.json.
type FakeNode struct {
	Name         string   `json:"name"`
	IP           string   `json:"ip"`
	ContainerPID int      `json:"containerPID"`
	ShimPID      int      `json:"shimPID"`
	Mounts       []string `json:"mounts"`
	Cgroups      []string `json:"cgroups"`
	Firewall     []string `json:"firewall"` // what was added inside the namespace
}

func simulateNode(dataDir, name, ip, cgroupRoot string) (stop func(), err error) {
	if name == "" || ip == "" || cgroupRoot == "" {
		return nil, fmt.Errorf("fake node needs --node-name, --node-ip and --kubelet-arg cgroup-root=... (got %q %q %q)", name, ip, cgroupRoot)
	}
	rec := FakeNode{Name: name, IP: ip}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "10250"))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "node %s", name)
	})}
	go func() { _ = srv.Serve(ln) }()

	agentDir := filepath.Join(dataDir, "agent")
	shm := filepath.Join(agentDir, "run", "shm")
	src := filepath.Join(agentDir, "src")
	vol := filepath.Join(agentDir, "kubelet", "pods", "vol")
	for _, d := range []string{shm, src, vol} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := syscall.Mount("tmpfs", shm, "tmpfs", 0, "size=1m"); err != nil {
		return nil, fmt.Errorf("mount tmpfs: %w", err)
	}
	if err := syscall.Mount(src, vol, "", syscall.MS_BIND, ""); err != nil {
		return nil, fmt.Errorf("bind mount: %w", err)
	}
	rec.Mounts = []string{shm, vol}

	container := exec.Command("/proc/self/exe", "container")
	container.Env = []string{}
	container.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := container.Start(); err != nil {
		return nil, err
	}
	rec.ContainerPID = container.Process.Pid
	go func() { _ = container.Wait() }()
	cgs, err := joinCgroups(cgroupRoot+"/kubepods/podfake", container.Process.Pid)
	if err != nil {
		return nil, err
	}
	rec.Cgroups = cgs

	shimPath := filepath.Join(dataDir, "bin", "fake-shim")
	if err := copyFile("/proc/self/exe", shimPath); err != nil {
		return nil, err
	}
	shim := exec.Command(shimPath, "container")
	shim.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := shim.Start(); err != nil {
		return nil, err
	}
	rec.ShimPID = shim.Process.Pid
	go func() { _ = shim.Wait() }()

	if _, err := exec.LookPath("nft"); err == nil {
		if out, err := exec.Command("nft", "add", "table", "inet", "distrobench_fake").CombinedOutput(); err == nil {
			rec.Firewall = append(rec.Firewall, "nft table inet distrobench_fake")
		} else {
			fmt.Fprintf(os.Stderr, "fakenode: nft: %v: %s\n", err, out)
		}
	}
	if _, err := exec.LookPath("iptables"); err == nil {
		if out, err := exec.Command("iptables", "-t", "filter", "-N", "DISTROBENCH-FAKE").CombinedOutput(); err == nil {
			rec.Firewall = append(rec.Firewall, "iptables chain DISTROBENCH-FAKE")
		} else {
			fmt.Fprintf(os.Stderr, "fakenode: iptables: %v: %s\n", err, out)
		}
	}
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dataDir, "fakenode.json"), b, 0o600); err != nil {
		return nil, err
	}
	fmt.Printf("fakenode: %s up on %s\n", name, ip)
	return func() { _ = srv.Close() }, nil
}

// joinCgroups creates the cgroup in every mounted hierarchy and moves pid
// into each that accepts it (cpuset needs cpus/mems set first: skipped).
func joinCgroups(path string, pid int) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var made []string
	joined := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		pf, fields := strings.Fields(post), strings.Fields(pre)
		if len(pf) == 0 || len(fields) < 5 || (pf[0] != "cgroup" && pf[0] != "cgroup2") {
			continue
		}
		dir := filepath.Join(fields[4], path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			continue // e.g. a read-only or controller-less hierarchy
		}
		made = append(made, dir)
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err == nil {
			joined++
		}
	}
	if joined == 0 {
		return made, fmt.Errorf("could not move pid %d into any cgroup %s", pid, path)
	}
	return made, nil
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// containerMain sleeps forever and ignores SIGTERM, as a stubborn container.
func containerMain() {
	signal.Ignore(syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
	select {}
}

func agentMain(args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	server := fs.String("server", "", "")
	tokenFile := fs.String("token-file", "", "")
	dataDir := fs.String("data-dir", "", "")
	nodeName := fs.String("node-name", "", "")
	nodeIP := fs.String("node-ip", "", "")
	var kubeletArgs, labels multi
	fs.Var(&kubeletArgs, "kubelet-arg", "")
	fs.Var(&labels, "node-label", "")
	fs.Bool("disable-default-registry-endpoint", false, "")
	privateRegistry := fs.String("private-registry", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := checkPrivateRegistry(*privateRegistry); err != nil {
		fmt.Fprintln(os.Stderr, "fakeagent:", err)
		return 1
	}
	fmt.Println("fakeagent: starting", *nodeName)
	if code := os.Getenv("FAKEAGENT_EXIT"); code != "" {
		n, _ := strconv.Atoi(code)
		fmt.Fprintf(os.Stderr, "fakeagent: fatal: exiting with %d as told\n", n)
		return n
	}
	tok, err := os.ReadFile(*tokenFile)
	if err != nil || len(bytes.TrimSpace(tok)) == 0 {
		fmt.Fprintf(os.Stderr, "fakeagent: token file %s: %v\n", *tokenFile, err)
		return 1
	}
	stop, err := simulateNode(*dataDir, *nodeName, *nodeIP, cgroupRootArg(kubeletArgs))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeagent:", err)
		return 1
	}
	defer stop()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a fake talking to a fake
	}}
	body, _ := json.Marshal(map[string]string{"name": *nodeName, "ip": *nodeIP})
	for {
		resp, err := client.Post(*server+"/register", "application/json", bytes.NewReader(body))
		if err == nil {
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
		}
		fmt.Fprintln(os.Stderr, "fakeagent: register:", err)
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Println("fakeagent: registered", *nodeName)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	fmt.Println("fakeagent: SIGTERM, shutting down (pods keep running)")
	return 0
}

// nodeList is the server's view of its nodes.
type nodeList struct {
	mu    sync.Mutex
	names []string
}

func newNodeList() *nodeList { return &nodeList{} }

func (l *nodeList) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.names {
		if n == name {
			return
		}
	}
	l.names = append(l.names, name)
}

// register lists an agent once the server reached it back on its node IP.
func (l *nodeList) register(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name, IP string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	hreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(req.IP, "10250")+"/", nil)
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		http.Error(w, "cannot reach the node back: "+err.Error(), http.StatusBadGateway)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "node "+req.Name {
		http.Error(w, "node answered "+string(b), http.StatusBadGateway)
		return
	}
	l.add(req.Name)
	fmt.Fprint(w, "ok")
}

func (l *nodeList) json() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	type cond struct {
		Type   string `json:"type"`
		Status string `json:"status"`
	}
	type node struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Status struct {
			Conditions []cond `json:"conditions"`
		} `json:"status"`
	}
	list := struct {
		Kind       string            `json:"kind"`
		APIVersion string            `json:"apiVersion"`
		Metadata   map[string]string `json:"metadata"`
		Items      []node            `json:"items"`
	}{Kind: "NodeList", APIVersion: "v1", Metadata: map[string]string{"resourceVersion": "1"}, Items: []node{}}
	for _, n := range l.names {
		var item node
		item.Metadata.Name = n
		item.Status.Conditions = []cond{{Type: "Ready", Status: "True"}}
		list.Items = append(list.Items, item)
	}
	b, _ := json.Marshal(list)
	return string(b)
}

// checkPrivateRegistry reads a --private-registry file as a real node
// would: a given file must exist and mirror something.
func checkPrivateRegistry(file string) error {
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--private-registry: %w", err)
	}
	if !bytes.Contains(b, []byte("mirrors:")) {
		return fmt.Errorf("--private-registry %s: no mirrors", file)
	}
	return nil
}
