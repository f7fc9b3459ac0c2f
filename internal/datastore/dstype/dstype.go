// Package dstype is the datastore vocabulary: the datastore types a
// profile, a matrix or the CLI may name, which of them run inside the
// distribution server and which take an endpoint, and the endpoint grammar
// of each (schemes, examples, etcd's comma-separated lists, the addresses
// an endpoint names and where its password is).
//
// It imports nothing from the rest of the tree, so that profile,
// datastore, deploy, redact and cli all define datastores the same way.
package dstype

import (
	"fmt"
	"slices"
	"strings"
)

// Datastore types. They are the keys of the internal/datastore registry.
const (
	SQLite       = "sqlite"        // kine + SQLite inside the server (K3s default)
	EmbeddedEtcd = "embedded-etcd" // --cluster-init: etcd inside the server (RKE2 default)
	Etcd         = "etcd"          // external etcd server
	MySQL        = "mysql"         // external MariaDB/MySQL through kine
	Postgres     = "postgres"      // external PostgreSQL through kine
)

// Default is the datastore of a profile that names none (K3s's default).
const Default = SQLite

// kind is what the harness knows of one datastore type.
type kind struct {
	// inServer: the server runs the datastore itself (nothing to start).
	inServer bool
	// schemes are the endpoint schemes the type accepts, as K3s's
	// --datastore-endpoint understands them; none: it takes no endpoint.
	schemes []string
	// example is an endpoint shown in error messages.
	example string
}

var kinds = map[string]kind{
	// K3s and k3lite accept sqlite://PATH to put the SQLite file elsewhere.
	SQLite:       {inServer: true, schemes: []string{"sqlite"}, example: "sqlite:///var/lib/k3s/state.db"},
	EmbeddedEtcd: {inServer: true},
	Etcd:         {schemes: []string{"http", "https"}, example: "https://127.0.0.1:2379"},
	MySQL:        {schemes: []string{"mysql"}, example: "mysql://user:pass@tcp(127.0.0.1:3306)/kine"},
	Postgres:     {schemes: []string{"postgres", "postgresql"}, example: "postgres://user:pass@127.0.0.1:5432/kine?sslmode=disable"},
}

// Names returns every datastore type, sorted (error messages list them so).
func Names() []string {
	out := make([]string, 0, len(kinds))
	for n := range kinds {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Known reports whether t is a datastore type.
func Known(t string) bool {
	_, ok := kinds[t]
	return ok
}

// InServer reports whether the server runs datastore t itself (sqlite,
// embedded-etcd), so that the harness starts nothing for it.
func InServer(t string) bool { return kinds[t].inServer }

// TakesEndpoint reports whether datastore t may be given an endpoint.
func TakesEndpoint(t string) bool { return len(kinds[t].schemes) > 0 }

// EndpointTypes returns the datastore types that take an endpoint, sorted.
func EndpointTypes() []string {
	var out []string
	for _, n := range Names() {
		if TakesEndpoint(n) {
			out = append(out, n)
		}
	}
	return out
}

// Schemes returns the endpoint schemes datastore t accepts (nil when it
// takes no endpoint).
func Schemes(t string) []string { return slices.Clone(kinds[t].schemes) }

// Example returns an endpoint of datastore t for messages ("" when t takes
// no endpoint).
func Example(t string) string { return kinds[t].example }

// Parts splits an endpoint of datastore t into the URLs it lists: etcd
// takes a comma-separated list, every other type one endpoint.
func Parts(t, endpoint string) []string {
	if t != Etcd {
		return []string{endpoint}
	}
	parts := strings.Split(endpoint, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// CheckEndpoint reports what is wrong with endpoint for datastore t, and
// what to write instead. The error never holds the endpoint (nor its
// password): callers show Redact(endpoint) beside it.
func CheckEndpoint(t, endpoint string) error {
	k, ok := kinds[t]
	switch {
	case !ok:
		return fmt.Errorf("unknown datastore %q (valid: %s)", t, strings.Join(Names(), ", "))
	case len(k.schemes) == 0:
		return fmt.Errorf("datastore type %q runs inside the server and takes no endpoint; only %s do",
			t, strings.Join(EndpointTypes(), ", "))
	}
	for _, part := range Parts(t, endpoint) {
		scheme, rest, found := strings.Cut(part, "://")
		if !found || rest == "" || !slices.Contains(k.schemes, strings.ToLower(scheme)) {
			want := make([]string, len(k.schemes))
			for i, s := range k.schemes {
				want[i] = s + "://"
			}
			return fmt.Errorf("%s %s endpoint must start with %s (e.g. %s)",
				article(t), t, strings.Join(want, " or "), k.example)
		}
	}
	if _, err := addrs(endpoint); err != nil {
		return fmt.Errorf("%w (e.g. %s)", err, k.example)
	}
	return nil
}

func article(word string) string {
	if strings.HasPrefix(word, "e") {
		return "an"
	}
	return "a"
}
