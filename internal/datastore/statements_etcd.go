package datastore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/redact"
)

// etcd's /metrics counters read as statements: gRPC calls it finished, by
// method (go-grpc-prometheus, on in every etcd: Range, Txn, Put,
// DeleteRange, Compact, LeaseGrant, ...; a stream such as Watch or
// LeaseKeepAlive counts when it ends); or, where that is missing, its
// MVCC store's operations.
const (
	etcdMetricGRPCHandled = "grpc_server_handled_total"
)

// etcdMVCCKinds are the MVCC counters read when gRPC's are missing.
var etcdMVCCKinds = map[string]string{
	"etcd_mvcc_range_total":  "range",
	"etcd_mvcc_put_total":    "put",
	"etcd_mvcc_delete_total": "delete",
	"etcd_mvcc_txn_total":    "txn",
}

// statements of an external etcd: /metrics of the endpoint's first member
// that answers (a GET of /metrics is no gRPC call: it counts nothing).
func (etcdDriver) statements(ctx context.Context, r *StatementReader) (Statements, error) {
	c := etcdHTTPClient(nil, r.t.Dial)
	var errs []error
	for _, ep := range dstype.Parts(dstype.Etcd, r.t.Endpoint) {
		base := strings.TrimRight(strings.TrimSpace(ep), "/")
		body, err := etcdDo(ctx, c, http.MethodGet, base+"/metrics", "")
		if err == nil {
			var s Statements
			if s, err = etcdStatements(body); err == nil {
				return s, nil
			}
			err = fmt.Errorf("etcd metrics from %s: %w", redact.Endpoint(base), err)
		}
		errs = append(errs, err)
	}
	return Statements{}, errors.Join(errs...)
}

// etcdStatements reads the counters from etcd's Prometheus text.
func etcdStatements(body []byte) (Statements, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return Statements{}, fmt.Errorf("parse: %w", err)
	}
	if mf := fams[etcdMetricGRPCHandled]; mf != nil && len(mf.GetMetric()) > 0 {
		counts := map[string]float64{}
		for _, m := range mf.GetMetric() {
			// Every method is listed with every code from the start, at
			// zero: only those ever called become kinds (a kind missing
			// from an earlier reading counts from zero there).
			if v := counterValue(m); v > 0 {
				counts[label(m, "grpc_method")] += v
			}
		}
		return Statements{Counts: counts, Method: "etcd metrics " + etcdMetricGRPCHandled}, nil
	}
	counts := map[string]float64{}
	for name, kind := range etcdMVCCKinds {
		if mf := fams[name]; mf != nil {
			for _, m := range mf.GetMetric() {
				counts[kind] += counterValue(m)
			}
		}
	}
	if len(counts) == 0 {
		return Statements{}, fmt.Errorf("neither %s nor etcd_mvcc_*_total found (is this etcd's /metrics?)", etcdMetricGRPCHandled)
	}
	return Statements{Counts: counts, Method: "etcd metrics etcd_mvcc_*_total"}, nil
}

// label is the value of m's label name ("" when it has none).
func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// counterValue is a counter's value, or an untyped sample's (text
// without TYPE lines).
func counterValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetUntyped().GetValue()
}
