package job

import (
	"context"
	"log/slog"

	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/profile"
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
	etcd := kind == profile.DatastoreEtcd || kind == profile.DatastoreEmbeddedEtcd
	s, err := c.DatastoreSize(ctx)
	if err != nil {
		log.Warn("datastore size not measured", "datastore", kind, "err", err)
		out := []result.Measurement{notMeasured(datastoreSizeName, datastoreSizeDesc, labels, err.Error())}
		if etcd {
			out = append(out, notMeasured(datastoreSizeInUseName, datastoreSizeInUseDesc, labels, err.Error()))
		}
		return out
	}
	out := []result.Measurement{measured(datastoreSizeName, datastoreSizeDesc, labels, s.Bytes, s.Method)}
	switch {
	case s.InUse >= 0:
		out = append(out, measured(datastoreSizeInUseName, datastoreSizeInUseDesc, labels, s.InUse, s.Method))
	case etcd:
		out = append(out, notMeasured(datastoreSizeInUseName, datastoreSizeInUseDesc, labels,
			"this etcd reported no dbSizeInUse (etcd older than 3.4?)"))
	}
	return out
}

func measured(name, desc string, labels map[string]string, bytes int64, method string) result.Measurement {
	m := result.NewMeasurement(name, "bytes", labels, []float64{float64(bytes)})
	m.Description = desc
	m.Attributes = map[string]string{"method": method}
	return m
}

func notMeasured(name, desc string, labels map[string]string, reason string) result.Measurement {
	m := result.NotMeasured(name, "bytes", labels, reason)
	m.Description = desc
	return m
}
