// Command fakeserver stands in for a K3s-style binary in the deploy unit
// tests: `fakeserver server --data-dir D --write-kubeconfig K
// --https-listen-port P ...` serves /readyz (and an empty node list) over
// HTTPS on 127.0.0.1:P with a self-signed CA that it embeds in the
// kubeconfig it writes, records its arguments in D/args.json, the token
// and datastore endpoint it got (--token or --token-file; --datastore-endpoint
// or K3LITE_DATASTORE_ENDPOINT, as k3lite reads them) in D/received.json,
// and its helper child's PID in D/child.pid, and exits 0 on SIGTERM. The
// tests build it as "k3lite-fake", a name the deployer knows.
//
// Without --disable-agent the server also plays its own node, and
// `fakeserver agent --server URL --token-file F --data-dir D --node-name N
// --node-ip IP --kubelet-arg cgroup-root=R` plays an agent: see node.go.
//
// Behaviour switches (environment):
//
//	FAKESERVER_EXIT=N          print a few lines, then exit N at once
//	FAKESERVER_NOT_READY=1     /readyz answers 500 forever
//	FAKESERVER_IGNORE_TERM=1   ignore SIGTERM (the deployer must SIGKILL)
//	FAKESERVER_SECRET_LOG=1    print the --token and --datastore-endpoint values
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type multi []string

func (m *multi) String() string     { return fmt.Sprint(*m) }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		case "agent":
			os.Exit(agentMain(os.Args[2:]))
		case "container":
			containerMain()
		}
	}
	if len(os.Args) < 2 || os.Args[1] != "server" {
		fmt.Fprintln(os.Stderr, "usage: fakeserver server|agent [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "/var/lib/fake", "")
	kubeconfig := fs.String("write-kubeconfig", "", "")
	mode := fs.String("write-kubeconfig-mode", "0600", "")
	port := fs.Int("https-listen-port", 6443, "")
	bind := fs.String("bind-address", "0.0.0.0", "")
	token := fs.String("token", "", "")
	tokenFile := fs.String("token-file", "", "")
	endpoint := fs.String("datastore-endpoint", "", "")
	fs.Bool("cluster-init", false, "")
	disableAgent := fs.Bool("disable-agent", false, "")
	nodeName := fs.String("node-name", "", "")
	nodeIP := fs.String("node-ip", "", "")
	advertise := fs.String("advertise-address", "", "")
	var sans, kubeletArgs multi
	fs.Var(&sans, "tls-san", "")
	fs.Var(&kubeletArgs, "kubelet-arg", "")
	var apiArgs multi
	fs.Var(&apiArgs, "kube-apiserver-arg", "")
	var cmArgs, schedArgs multi
	fs.Var(&cmArgs, "kube-controller-manager-arg", "")
	fs.Var(&schedArgs, "kube-scheduler-arg", "")
	fs.Bool("embedded-registry", false, "")
	fs.Bool("disable-default-registry-endpoint", false, "")
	privateRegistry := fs.String("private-registry", "", "")
	if err := fs.Parse(os.Args[2:]); err != nil {
		os.Exit(2)
	}
	if err := checkPrivateRegistry(*privateRegistry); err != nil {
		fmt.Fprintln(os.Stderr, "fakeserver:", err)
		os.Exit(1)
	}
	if err := resolveSecrets(tokenFile, token, endpoint); err != nil {
		fmt.Fprintln(os.Stderr, "fakeserver:", err)
		os.Exit(1)
	}
	fmt.Println("fakeserver: starting")
	if code := os.Getenv("FAKESERVER_EXIT"); code != "" {
		n, _ := strconv.Atoi(code)
		for i := 1; i <= 40; i++ {
			fmt.Printf("fakeserver: log line %d\n", i)
		}
		if os.Getenv("FAKESERVER_SECRET_LOG") == "1" {
			fmt.Printf("fakeserver: token is %s, datastore is %s\n", *token, *endpoint)
		}
		fmt.Fprintf(os.Stderr, "fakeserver: fatal: exiting with %d as told\n", n)
		os.Exit(n)
	}
	srvNode := serverNode{token: *token}
	if !*disableAgent {
		srvNode.name, srvNode.ip, srvNode.cgroupRoot = *nodeName, *nodeIP, cgroupRootArg(kubeletArgs)
	}
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	for _, s := range append([]string{*nodeIP, *advertise}, sans...) {
		if ip := net.ParseIP(s); ip != nil {
			ips = append(ips, ip)
		}
	}
	if err := run(*dataDir, *kubeconfig, *mode, *bind, *endpoint, *port, ips, srvNode); err != nil {
		fmt.Fprintln(os.Stderr, "fakeserver:", err)
		os.Exit(1)
	}
}

func run(dataDir, kubeconfig, mode, bind, endpoint string, port int, ips []net.IP, sn serverNode) error {
	if err := os.MkdirAll(filepath.Join(dataDir, "server", "db"), 0o700); err != nil {
		return err
	}
	args, _ := json.Marshal(os.Args[1:])
	if err := os.WriteFile(filepath.Join(dataDir, "args.json"), args, 0o600); err != nil {
		return err
	}
	got, _ := json.Marshal(map[string]string{"token": sn.token, "endpoint": endpoint})
	if err := os.WriteFile(filepath.Join(dataDir, "received.json"), got, 0o600); err != nil {
		return err
	}
	// A helper child in our process group, as real servers have.
	child := exec.Command("sleep", "300")
	if err := child.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dataDir, "child.pid"), []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
		return err
	}

	caPEM, cert, err := selfSigned(ips)
	if err != nil {
		return err
	}
	nodes := newNodeList()
	if sn.token != "" {
		if err := os.WriteFile(filepath.Join(dataDir, "server", "node-token"), []byte("K10fake::server:"+sn.token+"\n"), 0o600); err != nil {
			return err
		}
	}
	if sn.name != "" {
		stop, err := simulateNode(filepath.Join(dataDir), sn.name, sn.ip, sn.cgroupRoot)
		if err != nil {
			return err
		}
		defer stop()
		nodes.add(sn.name)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/register", nodes.register)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if os.Getenv("FAKESERVER_NOT_READY") == "1" {
			http.Error(w, "[-]etcd failed: not ready", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/api/v1/nodes", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, nodes.json())
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()

	if kubeconfig != "" {
		perm, _ := strconv.ParseUint(mode, 8, 32)
		kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: fake-admin-token
contexts:
- name: fake
  context: {cluster: fake, user: admin}
current-context: fake
`, port, base64.StdEncoding.EncodeToString(caPEM))
		tmp := kubeconfig + ".tmp"
		if err := os.WriteFile(tmp, []byte(kc), os.FileMode(perm)); err != nil {
			return err
		}
		if err := os.Rename(tmp, kubeconfig); err != nil {
			return err
		}
	}
	fmt.Println("fakeserver: ready")

	sigs := make(chan os.Signal, 1)
	if os.Getenv("FAKESERVER_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
		select {}
	}
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	fmt.Println("fakeserver: SIGTERM, shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = child.Process.Kill()
	_ = child.Wait()
	return nil
}

// selfSigned makes a CA-signed serving certificate for 127.0.0.1 (the CA
// and the leaf are the same self-signed certificate, which is enough for a
// client that trusts it as its CA).
func selfSigned(ips []net.IP) ([]byte, tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fakeserver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           ips,
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	return certPEM, cert, err
}

// resolveSecrets reads the token from its file and the endpoint from the
// environment when the flags do not carry them, as k3lite does.
func resolveSecrets(tokenFile, token, endpoint *string) error {
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		*token = strings.TrimSpace(string(b))
	}
	if *endpoint == "" {
		*endpoint = os.Getenv("K3LITE_DATASTORE_ENDPOINT")
	}
	return nil
}
