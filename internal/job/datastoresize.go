package job

import (
	"context"
	"log/slog"

	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/result"
)

// Names of the datastore size figures.
const (
	datastoreSizeName      = "footprint.datastore.size"
	datastoreSizeInUseName = "footprint.datastore.size_in_use"
)

const (
	datastoreSizeDesc = "size of the datastore as the datastore reports it, taken once at the start of the bench phase " +
		"(in a run: after the conformance suites wrote to it, before the API latency load): " +
		"SQLite's database, -wal and -shm file lengths; PostgreSQL's pg_database_size; MySQL's information_schema " +
		"data_length+index_length of the schema (InnoDB statistics); etcd's maintenance status dbSize"
	datastoreSizeInUseDesc = "part of footprint.datastore.size that holds live data: etcd's dbSizeInUse (the rest is free pages " +
		"bbolt keeps after compaction), taken with footprint.datastore.size; etcd and embedded etcd only"
)

// datastoreSizer is the part of deploy.Cluster that datastoreSize needs.
type datastoreSizer interface {
	DatastoreSize(ctx context.Context) (datastore.Sizes, error)
}

// datastoreSize measures the datastore through its own interface. A figure
// that cannot be taken is recorded as not measured with the reason (and
// logged), never as a zero. The in-use figure exists for etcd only.
func datastoreSize(ctx context.Context, c datastoreSizer, kind string, labels map[string]string, log *slog.Logger) []result.Measurement {
	etcd := kind == dstype.Etcd || kind == dstype.EmbeddedEtcd
	s, err := c.DatastoreSize(ctx)
	if err != nil {
		log.Warn("datastore size not measured", "datastore", kind, "err", err)
		out := []result.Measurement{described(result.NotMeasured(datastoreSizeName, "bytes", labels, err.Error()), datastoreSizeDesc, "")}
		if etcd {
			out = append(out, described(result.NotMeasured(datastoreSizeInUseName, "bytes", labels, err.Error()), datastoreSizeInUseDesc, ""))
		}
		return out
	}
	out := []result.Measurement{described(result.NewMeasurement(datastoreSizeName, "bytes", labels, []float64{float64(s.Bytes)}), datastoreSizeDesc, s.Method)}
	switch {
	case s.InUse >= 0:
		out = append(out, described(result.NewMeasurement(datastoreSizeInUseName, "bytes", labels, []float64{float64(s.InUse)}), datastoreSizeInUseDesc, s.Method))
	case etcd:
		out = append(out, described(result.NotMeasured(datastoreSizeInUseName, "bytes", labels,
			"this etcd reported no dbSizeInUse (etcd older than 3.4?)"), datastoreSizeInUseDesc, ""))
	}
	return out
}

// described sets a size figure's description and, when known, the method
// (the datastore interface) it was read with.
func described(m result.Measurement, desc, method string) result.Measurement {
	m.Description = desc
	if method != "" {
		m.Attributes = map[string]string{"method": method}
	}
	return m
}
