package datastore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/redact"
)

// Sizes is how big a datastore is, as the datastore itself reports it.
type Sizes struct {
	// Bytes is the size of the datastore: SQLite's database files (the
	// database, its -wal and -shm), PostgreSQL's pg_database_size, MySQL's
	// data_length + index_length of the schema, etcd's dbSize.
	Bytes int64
	// InUse is the part of Bytes that holds live data (etcd's
	// dbSizeInUse: the rest is free pages kept after compaction); -1 when
	// the datastore has no such figure.
	InUse int64
	// Method names the interface the figures come from, e.g.
	// "pg_database_size" or "etcd maintenance status".
	Method string
}

// SizeTarget names the datastore whose size to take.
type SizeTarget struct {
	// Kind is a registered datastore name (dstype.Names()).
	Kind string
	// Endpoint is the endpoint the server was given, password included;
	// "" for a datastore inside the server (sqlite, embedded-etcd). Errors
	// never carry the password.
	Endpoint string
	// ServerDataDir is the server's --data-dir: SQLite's state.db and the
	// embedded etcd's client certificates live under it.
	ServerDataDir string
	// Dial, when set, opens the TCP connections to a datastore inside the
	// server (the embedded etcd listens on the server's loopback, which is
	// a simulated host's own when the server runs on one). Nil dials from
	// this process's network namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// sizer is implemented by the drivers that can report their datastore's
// size; Size dispatches on the registered driver of t.Kind.
type sizer interface {
	size(ctx context.Context, t SizeTarget) (Sizes, error)
}

// Size asks the datastore t names how big it is, through the datastore's
// own interface: the SQLite files on disk, pg_database_size,
// information_schema, etcd's maintenance status. A datastore that cannot
// be asked (no access, unknown layout) returns an error saying why: the
// caller records the figure as not measured, never as zero.
func Size(ctx context.Context, t SizeTarget) (Sizes, error) {
	d, err := Get(t.Kind)
	if err != nil {
		return Sizes{}, err
	}
	s, ok := d.(sizer)
	if !ok {
		return Sizes{}, fmt.Errorf("datastore %q cannot report its size", t.Kind)
	}
	sz, err := s.size(ctx, t)
	if err == nil && sz.Bytes <= 0 {
		// A datastore kine or the apiserver has written to is never empty:
		// an empty one is not the one the server uses.
		err = fmt.Errorf("%s reports %d bytes: is this the database the server uses?", sz.Method, sz.Bytes)
	}
	if err != nil {
		what := t.Kind
		if t.Endpoint != "" {
			what += " at " + redact.Endpoint(t.Endpoint)
		}
		return Sizes{}, scrub(fmt.Errorf("size of datastore %s: %w", what, err), dstype.Password(t.Endpoint))
	}
	return sz, nil
}

// scrub replaces secret in err's message. Client libraries do not put
// passwords in their errors; this makes sure, at the cost of the error
// chain when (and only when) one does.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, redact.Mask))
}
