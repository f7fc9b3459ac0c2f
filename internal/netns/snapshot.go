package netns

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Snapshot is the machine's own network configuration (root namespace), as
// the commands that show it print it, keyed by command or /proc file.
// Tests take one before and after a deployment: simulated hosts must leave
// the machine exactly as it was.
type Snapshot map[string]string

// HostSnapshot records addresses, links, routes and rules (IPv4 and IPv6,
// all tables), iptables and ip6tables rules, the nftables ruleset, the
// forwarding and rp_filter sysctls, and the named network namespaces.
func HostSnapshot() (Snapshot, error) {
	snap := Snapshot{}
	for _, cmd := range [][]string{
		{"ip", "-j", "addr"}, {"ip", "-j", "-6", "addr"}, {"ip", "-j", "link"},
		{"ip", "-j", "route", "show", "table", "all"}, {"ip", "-j", "-6", "route", "show", "table", "all"},
		{"ip", "-j", "rule"}, {"iptables-save"}, {"ip6tables-save"}, {"nft", "list", "ruleset"},
	} {
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %s (install iproute2, iptables and nftables: hack/install-deps.sh tools)", strings.Join(cmd, " "), err, out)
		}
		snap[strings.Join(cmd, " ")] = normalize(out)
	}
	files, _ := filepath.Glob("/proc/sys/net/ipv4/conf/*/rp_filter")
	files = append(files, "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding")
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		snap[f] = string(b)
	}
	var names []string
	entries, _ := os.ReadDir(Dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	snap["netns"] = strings.Join(names, " ")
	return snap, nil
}

// Diff lists what differs between s (before) and after, one entry per
// command or file, with both versions.
func (s Snapshot) Diff(after Snapshot) []string {
	var out []string
	for k, v := range s {
		if after[k] != v {
			out = append(out, fmt.Sprintf("%s\nbefore:\n%s\nafter:\n%s", k, v, after[k]))
		}
	}
	for k := range after {
		if _, ok := s[k]; !ok {
			out = append(out, fmt.Sprintf("%s appeared: %s", k, after[k]))
		}
	}
	sort.Strings(out)
	return out
}

var (
	counters  = regexp.MustCompile(`\[\d+:\d+\]`)
	lifetimes = regexp.MustCompile(`"(valid|preferred)_life_time":\d+`)
)

// normalize drops what changes without anyone changing the configuration:
// iptables-save's dated comments and packet counters, address lifetimes.
func normalize(b []byte) string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		line = counters.ReplaceAllString(line, "[0:0]")
		line = lifetimes.ReplaceAllString(line, `"${1}_life_time":0`)
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
