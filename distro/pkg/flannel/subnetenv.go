package flannel

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/flannel-io/flannel/pkg/ip"
)

// previousLease is what an earlier run left in subnet.env: the cluster
// network and this node's subnet. The traffic manager uses it to delete
// masquerade rules that no longer match (e.g. after a podCIDR change).
// Zero values mean "nothing known", as in flannel's main.
type previousLease struct {
	Network ip.IP4Net
	Subnet  ip.IP4Net
}

// readPreviousLease parses subnet.env at path. A missing file is no error.
// The format is flannel's WriteSubnetFile output: KEY=VALUE lines, values
// unquoted; hand-parsed here because reading two keys does not justify a
// dotenv dependency.
func readPreviousLease(path string) (previousLease, error) {
	var prev previousLease
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return prev, nil
	}
	if err != nil {
		return prev, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		var dst *ip.IP4Net
		switch key {
		case "FLANNEL_NETWORK":
			dst = &prev.Network
		case "FLANNEL_SUBNET":
			dst = &prev.Subnet
		default:
			continue
		}
		// FLANNEL_SUBNET holds the first usable address with the subnet's
		// prefix (10.42.1.1/24); ParseCIDR yields the network, as flannel wants.
		_, n, err := net.ParseCIDR(strings.Trim(val, `"'`))
		if err != nil || n.IP.To4() == nil {
			return previousLease{}, fmt.Errorf("%s: %s=%q is not an IPv4 CIDR", path, key, val)
		}
		*dst = ip.FromIPNet(n)
	}
	if err := sc.Err(); err != nil {
		return previousLease{}, fmt.Errorf("%s: %w", path, err)
	}
	return prev, nil
}
