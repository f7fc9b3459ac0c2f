package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validateNodeName checks that name is a DNS subdomain, as a Node name
// must be.
func validateNodeName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid node name: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// nodeName returns the node's name: name (or the lower-cased hostname),
// followed by -<8 hex> when withID is set. The id is created once and kept
// in idFile, so the node keeps its name across restarts.
func nodeName(name string, withID bool, idFile string) (string, error) {
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("read hostname for the node name: %w (set --node-name)", err)
		}
		name = strings.ToLower(h)
	}
	if withID {
		id, err := nodeID(idFile)
		if err != nil {
			return "", err
		}
		name += "-" + id
	}
	if err := validateNodeName(name); err != nil {
		return "", fmt.Errorf("%w (set --node-name)", err)
	}
	return name, nil
}

// nodeID reads the id stored in file or creates one.
func nodeID(file string) (string, error) {
	b, err := os.ReadFile(file)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if _, derr := hex.DecodeString(id); derr != nil || len(id) != 8 {
			return "", fmt.Errorf("node id file %s holds %q, want 8 hex digits (fix or delete it)", file, id)
		}
		return id, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read node id: %w", err)
	}
	raw := make([]byte, 4)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate node id: %w", err)
	}
	id := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", fmt.Errorf("store node id: %w", err)
	}
	if err := os.WriteFile(file, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store node id: %w", err)
	}
	return id, nil
}

// nodeIPs returns the given IPs, or the IP of the interface holding the
// default route in this network namespace (any global unicast address when
// there is no default route), as the kubelet chooses it.
func nodeIPs(given []string) ([]net.IP, error) {
	if len(given) > 0 {
		out := make([]net.IP, 0, len(given))
		for _, s := range given {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, fmt.Errorf("--node-ip %q: not an IP address", s)
			}
			out = append(out, ip)
		}
		return out, nil
	}
	ip, err := utilnet.ChooseHostInterface()
	if err != nil {
		return nil, fmt.Errorf("find the node IP: %w (set --node-ip)", err)
	}
	return []net.IP{ip}, nil
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
