package job

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/process"
	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/suites/framework"
)

// deployNodes adapts a *deploy.Cluster started by this process (Up) to
// framework.StoppableNodes and framework.AgentJoiner.
type deployNodes struct{ c *deploy.Cluster }

var (
	_ framework.StoppableNodes = deployNodes{}
	_ framework.AgentJoiner    = deployNodes{}
)

// StoppableNodes are the agent nodes: the server's own agent cannot be
// stopped without the server.
func (d deployNodes) StoppableNodes() []string {
	out := make([]string, 0, len(d.c.Agents))
	for _, a := range d.c.Agents {
		out = append(out, a.Name)
	}
	return out
}

// StopAgent stops a node's agent; an agent that does not exit 0 on SIGTERM
// is an error (after it was stopped).
func (d deployNodes) StopAgent(ctx context.Context, node string) error {
	code, took, err := d.c.StopAgent(ctx, node)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("agent %s exited with code %d %s after SIGTERM (want 0); see %s",
			node, code, took.Round(time.Millisecond), filepath.Join(d.c.RunDir, node+".log"))
	}
	return nil
}

// StartAgent starts a stopped agent again.
func (d deployNodes) StartAgent(ctx context.Context, node string) error {
	return d.c.StartAgent(ctx, node)
}

// CAHash is the SHA-256 of the CA bundle on the join endpoints' /cacerts.
// It is read without verifying the server, as an agent reads it before
// checking it against its token's hash.
func (d deployNodes) CAHash(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.c.JoinURL()+deploy.CACertsPath, nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // read to be pinned, as an agent does
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("CA bundle from %s: %w", d.c.JoinURL(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("CA bundle from %s: %s", d.c.JoinURL(), resp.Status)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("CA bundle from %s: %w", d.c.JoinURL(), err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// joinProbeTimeout bounds how long a probe agent may neither join nor exit.
const joinProbeTimeout = 90 * time.Second

// TryJoin starts a throwaway agent with token on the last simulated host
// (so that an agent wrongly let in stays inside a simulated host: it would
// clash with that host's own agent, never touch the machine's network), and
// waits until it exits or its Node appears. It returns nil when it joined
// (the probe is then stopped and its Node deleted) and otherwise an error
// with the agent's exit code and log tail.
func (d deployNodes) TryJoin(ctx context.Context, token string) error {
	c := d.c
	if c.Network == nil || len(c.Network.Hosts) == 0 {
		return errors.New("join probe: the cluster runs on no simulated host (deploy it with nodes)")
	}
	host := c.Network.Hosts[len(c.Network.Hosts)-1]
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "join-probe-" + hex.EncodeToString(suffix)
	dir := filepath.Join(c.RunDir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("join probe: %w", err)
	}
	defer os.RemoveAll(dir)
	// The token goes through a file: process arguments are visible to
	// every user and end up in logs.
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return fmt.Errorf("join probe: %w", err)
	}
	logPath := filepath.Join(c.RunDir, name+".log")
	path, argv := host.Command(c.Binary, "agent",
		"--server", c.JoinURL(), "--token-file", tokenFile,
		"--data-dir", filepath.Join(dir, "data"), "--node-name", name, "--node-ip", host.IP,
		"--kubelet-arg", "cgroup-root=/k3lite/"+c.Network.ID+"-"+name)
	p, err := c.Group().Start(ctx, process.Spec{Name: name, Path: path, Args: argv, LogPath: logPath})
	if err != nil {
		return fmt.Errorf("join probe: %w", err)
	}
	defer func() { _, _, _ = p.Stop(c.StopTimeout) }()

	cs, err := clientFor(c)
	if err != nil {
		return err
	}
	tail := func() string {
		return redact.String(strings.Join(process.Tail(logPath, 15), "\n"))
	}
	deadline := time.After(joinProbeTimeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.Wait():
			_, code := p.Exited()
			return fmt.Errorf("agent exited with code %d:\n%s", code, tail())
		case <-ctx.Done():
			return fmt.Errorf("join probe interrupted: %w", context.Cause(ctx))
		case <-deadline:
			return fmt.Errorf("the agent neither joined nor gave up within %s (it should exit with an error); its log:\n%s", joinProbeTimeout, tail())
		case <-tick.C:
			_, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				_, _, _ = p.Stop(c.StopTimeout)
				if derr := cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
					return fmt.Errorf("the probe agent joined as node %s, which could not be deleted: %w", name, derr)
				}
				return nil
			}
		}
	}
}
