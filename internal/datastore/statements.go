package datastore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/redact"
)

// Statements are a datastore server's own cumulative counters of the work
// it did, by kind, as one reading returns them.
type Statements struct {
	// Counts maps a kind to its cumulative count: PostgreSQL's
	// transactions and tup_* rows of the database, MySQL's questions and
	// select, insert, update, delete, commit statements, etcd's handled
	// gRPC calls by method (Range, Txn, ...).
	Counts map[string]float64
	// Method names the interface the counts come from.
	Method string
}

// statementCounter is implemented by the drivers whose servers count
// their statements; r.readings is how many readings this one is (1 for
// the first), for a counter that counts the readings themselves.
type statementCounter interface {
	statements(ctx context.Context, r *StatementReader) (Statements, error)
}

// StatementReader reads one datastore server's statement counters, again
// and again, through the datastore's own interface and the same
// connection settings as Size (the endpoint the server was given, dialled
// from this process). What its own readings add to the counters is left
// out, so that differences between readings are the server's clients'.
type StatementReader struct {
	t  SizeTarget
	sc statementCounter

	mu       sync.Mutex
	readings int
	// db is a connection kept from one reading to the next, for a server
	// that counts a connection's end as a statement, late (MySQL): Close
	// ends it.
	db     *sql.DB
	closed bool
}

// NewStatementReader reads the counters of the datastore t names. Only
// datastore servers of their own count statements: PostgreSQL, MySQL and
// etcd (not SQLite or the embedded etcd, inside the server).
func NewStatementReader(t SizeTarget) (*StatementReader, error) {
	d, err := Get(t.Kind)
	if err != nil {
		return nil, err
	}
	sc, ok := d.(statementCounter)
	if !ok || t.Endpoint == "" {
		return nil, fmt.Errorf("datastore %q has no server of its own whose statements could be counted (it runs inside the server: see chatter.datastore.operations)", t.Kind)
	}
	return &StatementReader{t: t, sc: sc}, nil
}

// Read takes one reading. Errors never carry the datastore's password.
func (r *StatementReader) Read(ctx context.Context) (Statements, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Statements{}, fmt.Errorf("statement counters of datastore %s: the reader was closed (the cluster is down)", r.t.Kind)
	}
	r.readings++
	s, err := r.sc.statements(ctx, r)
	if err != nil {
		return Statements{}, scrub(fmt.Errorf("statement counters of datastore %s at %s: %w", r.t.Kind, redact.Endpoint(r.t.Endpoint), err), dstype.Password(r.t.Endpoint))
	}
	return s, nil
}

// Close ends the connection a reader kept, if any; later readings fail.
func (r *StatementReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.db == nil {
		return nil
	}
	err := r.db.Close()
	r.db = nil
	return err
}
