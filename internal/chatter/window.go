package chatter

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

// Names of the chatter figures a window returns.
const (
	RequestsMetric   = "chatter.api.requests"
	OperationsMetric = "chatter.datastore.operations"
	WrittenMetric    = "chatter.datastore.written"
)

// WindowOptions configure Watch.
type WindowOptions struct {
	// Scrape reads the apiserver's metrics; nil: no request figures.
	Scrape func(ctx context.Context) (APIMetrics, error)
	// Writes reads the bytes the datastore wrote so far; nil: no disk
	// figure. WritesOf says whose writes they are, for the description.
	Writes   func() (DiskWrites, error)
	WritesOf string
	// Interval between readings (default 5 s): one sample per interval.
	Interval time.Duration
	Labels   map[string]string
	// Paths are the counting proxies and the datastore's own counters
	// (paths.go); the zero Paths adds no figure.
	Paths Paths
}

// reading is one reading of both sources at one time.
type reading struct {
	at     time.Time
	api    APIMetrics
	apiErr error
	disk   DiskWrites
	dskErr error
	paths  pathReading
}

// Watch reads the sources every o.Interval until the returned stop is
// called, then returns one sample per interval: requests per second by
// client (label client), storage operations per second by operation (label
// operation), and bytes written to disk per hour. A source that failed is
// not measured, with its first error.
func Watch(ctx context.Context, o WindowOptions) (stop func() []result.Measurement) {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	// Readings use ctx, not wctx: stop may come while one is in flight,
	// and that reading must finish rather than fail as cancelled.
	wctx, cancel := context.WithCancel(ctx)
	var (
		mu       sync.Mutex
		readings = []reading{read(ctx, o)}
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		t := time.NewTicker(o.Interval)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				r := read(ctx, o)
				mu.Lock()
				readings = append(readings, r)
				mu.Unlock()
			}
		}
	}()
	return func() []result.Measurement {
		cancel()
		<-done
		return o.measurements(readings)
	}
}

func read(ctx context.Context, o WindowOptions) reading {
	r := reading{at: time.Now(), paths: o.Paths.read(ctx)}
	if o.Scrape != nil {
		r.api, r.apiErr = o.Scrape(ctx)
	}
	if o.Writes != nil {
		r.disk, r.dskErr = o.Writes()
	}
	return r
}

func (o WindowOptions) measurements(rs []reading) []result.Measurement {
	var out []result.Measurement
	if o.Scrape != nil {
		out = append(out, o.apiMeasurements(rs)...)
	}
	if o.Writes != nil {
		out = append(out, o.diskMeasurement(rs))
	}
	return append(out, o.pathMeasurements(rs)...)
}

// apiMeasurements are the per-interval request and storage rates.
func (o WindowOptions) apiMeasurements(rs []reading) []result.Measurement {
	var rates []APIRates
	for i := 1; i < len(rs); i++ {
		err := firstErr(rs[i-1].apiErr, rs[i].apiErr)
		if err == nil {
			var r APIRates
			r, err = APIRatesBetween(rs[i-1].api, rs[i].api)
			rates = append(rates, r)
		}
		if err != nil {
			reason := "apiserver metrics: " + err.Error()
			return []result.Measurement{
				result.NotMeasured(RequestsMetric, "ops/s", o.labels(), reason),
				result.NotMeasured(OperationsMetric, "ops/s", o.labels(), reason),
			}
		}
	}
	var out []result.Measurement
	for _, client := range keysOf(rates, func(r APIRates) map[string]float64 { return r.RequestsPerSec }) {
		out = append(out, describedAs(result.NewMeasurement(RequestsMetric, "ops/s", o.labels("client", client),
			series(rates, func(r APIRates) float64 { return r.RequestsPerSec[client] })),
			"requests per second the apiserver dispatched for this client (API Priority and Fairness counters by flow schema), per interval"))
	}
	for _, op := range keysOf(rates, func(r APIRates) map[string]float64 { return r.StoragePerSec }) {
		out = append(out, describedAs(result.NewMeasurement(OperationsMetric, "ops/s", o.labels("operation", op),
			series(rates, func(r APIRates) float64 { return r.StoragePerSec[op] })),
			"storage requests per second the apiserver sent its datastore, by operation (its storage request counters), per interval"))
	}
	return out
}

// diskMeasurement is bytes written per hour, per interval.
func (o WindowOptions) diskMeasurement(rs []reading) result.Measurement {
	var perHour []float64
	for i := 1; i < len(rs); i++ {
		err := firstErr(rs[i-1].dskErr, rs[i].dskErr)
		var v float64
		if err == nil {
			v, err = WritesPerHour(rs[i-1].disk, rs[i].disk)
		}
		if err != nil {
			return result.NotMeasured(WrittenMetric, "bytes/h", o.labels(), err.Error())
		}
		perHour = append(perHour, v)
	}
	m := result.NewMeasurement(WrittenMetric, "bytes/h", o.labels(), perHour)
	if len(rs) > 0 {
		m = m.WithAttribute("disk.method", string(rs[0].disk.Method))
	}
	return describedAs(m, fmt.Sprintf("bytes written to disk per hour by %s, per interval (the SD-card wear figure)", o.WritesOf))
}

func (o WindowOptions) labels(kv ...string) map[string]string {
	l := maps.Clone(o.Labels)
	if l == nil {
		l = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return l
}

// keysOf is every key any interval has, sorted.
func keysOf(rates []APIRates, m func(APIRates) map[string]float64) []string {
	seen := map[string]bool{}
	for _, r := range rates {
		for k := range m(r) {
			seen[k] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// series is one value per interval (0 where an interval lacks the key).
func series(rates []APIRates, v func(APIRates) float64) []float64 {
	out := make([]float64, len(rates))
	for i, r := range rates {
		out[i] = v(r)
	}
	return out
}

func describedAs(m result.Measurement, d string) result.Measurement {
	m.Description = d
	return m
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
