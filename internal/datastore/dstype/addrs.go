package dstype

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Addr is one server address an endpoint names, in net.Dial's terms.
type Addr struct {
	Network string // "tcp" or "unix"
	Address string // host:port, or a socket path
}

// Default ports of the servers an endpoint names without a port.
const (
	DefaultMySQLPort    = "3306" // go-sql-driver's
	DefaultPostgresPort = "5432"
	DefaultEtcdPort     = "2379"
)

var mysqlAddrRE = regexp.MustCompile(`@(tcp|unix)\(([^)]*)\)`)

// Addrs returns the server addresses endpoint names (a URL, a
// comma-separated list of etcd URLs, or K3s's
// mysql://user:pass@tcp(host:port)/db), with each server's default port
// filled in; none for sqlite://, a file. Errors name the endpoint with its
// password redacted.
func Addrs(endpoint string) ([]Addr, error) {
	out, err := addrs(endpoint)
	if err != nil {
		return nil, fmt.Errorf("datastore endpoint %q: %w", Redact(endpoint), err)
	}
	return out, nil
}

// addrs is Addrs with errors that do not hold the endpoint.
func addrs(endpoint string) ([]Addr, error) {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok {
		return nil, fmt.Errorf("no scheme: want %s", SchemeList())
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return nil, nil
	case "mysql":
		return mysqlAddrs(rest), nil
	case "postgres", "postgresql":
		return postgresAddrs(endpoint)
	case "http", "https":
		return etcdAddrs(endpoint)
	default:
		return nil, fmt.Errorf("unknown scheme %q: want %s", scheme, SchemeList())
	}
}

func mysqlAddrs(rest string) []Addr {
	m := mysqlAddrRE.FindStringSubmatch(rest)
	switch {
	case m == nil:
		// go-sql-driver's default address.
		return []Addr{{"tcp", net.JoinHostPort("127.0.0.1", DefaultMySQLPort)}}
	case m[1] == "unix":
		return []Addr{{"unix", m[2]}}
	}
	return []Addr{{"tcp", withDefaultPort(m[2], DefaultMySQLPort)}}
}

func postgresAddrs(endpoint string) ([]Addr, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		// The *url.Error would repeat the endpoint, password included.
		return nil, fmt.Errorf("not a valid URL: %w", errors.Unwrap(err))
	}
	host := u.Host
	if host == "" {
		host = "localhost"
	}
	var out []Addr
	for _, h := range strings.Split(host, ",") {
		out = append(out, Addr{"tcp", withDefaultPort(h, DefaultPostgresPort)})
	}
	return out, nil
}

func etcdAddrs(endpoint string) ([]Addr, error) {
	var out []Addr
	for _, part := range Parts(Etcd, endpoint) {
		u, err := url.Parse(part)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%q is not a valid etcd URL (want http(s)://host:port)", Redact(part))
		}
		out = append(out, Addr{"tcp", withDefaultPort(u.Host, DefaultEtcdPort)})
	}
	return out, nil
}

func withDefaultPort(hostport, port string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), port)
}

// SchemeList names every endpoint scheme and its datastore, for messages
// and help: "http:// or https:// (etcd), mysql:// (mysql), ...".
func SchemeList() string {
	var out []string
	for _, t := range EndpointTypes() {
		s := kinds[t].schemes
		want := make([]string, len(s))
		for i := range s {
			want[i] = s[i] + "://"
		}
		out = append(out, strings.Join(want, " or ")+" ("+t+")")
	}
	return strings.Join(out, ", ")
}
