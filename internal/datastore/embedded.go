package datastore

import (
	"context"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
)

func init() {
	Register(inServer{name: dstype.SQLite,
		desc: "SQLite through kine inside the server, at <data-dir>/server/db/state.db (K3s's default)"})
	Register(inServer{name: dstype.EmbeddedEtcd, args: []string{"--cluster-init"},
		desc: "etcd inside the server (--cluster-init), at <data-dir>/server/db/etcd (RKE2's default)"})
}

// inServer is a datastore the server runs itself: nothing to start.
type inServer struct {
	name, desc string
	args       []string
}

func (d inServer) Name() string        { return d.name }
func (d inServer) Description() string { return d.desc }

// Start starts nothing: o.ExtraListen does not apply (the server holds
// the datastore).
func (d inServer) Start(ctx context.Context, _ StartOptions) (*Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Instance{Driver: d.name, ServerArgs: append([]string(nil), d.args...)}, nil
}
