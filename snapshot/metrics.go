package snapshot

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the snapshotter's series, by shard and table (a shard
// snapshots few tables at a time, so the table label stays cheap).
type Metrics struct {
	rows       *prometheus.CounterVec
	emitted    *prometheus.CounterVec
	superseded *prometheus.CounterVec
	chunks     *prometheus.CounterVec
	retries    *prometheus.CounterVec
	window     *prometheus.HistogramVec
	pauses     *prometheus.CounterVec
	paused     *prometheus.GaugeVec
	readers    *prometheus.GaugeVec
	tables     *prometheus.CounterVec
	rate       *prometheus.GaugeVec
	latency    *prometheus.GaugeVec
	throttles  *prometheus.CounterVec
}

// NewMetrics registers the series with reg (nil: unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_snapshot_rows_read_total",
			Help: "Rows read by snapshot chunk queries. rate() is the snapshot's rows/s; compare with snapshot.max_rows_per_second.",
		}, []string{"shard", "table"}),
		emitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_snapshot_rows_emitted_total",
			Help: "Snapshot rows emitted as op=r records.",
		}, []string{"shard", "table"}),
		superseded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_snapshot_rows_superseded_total",
			Help: "Snapshot rows not emitted because the binlog changed their key inside the chunk's watermark window (the binlog's event carries the row). High values mean a hot table: smaller chunks shorten windows.",
		}, []string{"shard", "table"}),
		chunks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_snapshot_chunks_total",
			Help: "Snapshot chunks emitted.",
		}, []string{"shard", "table"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_snapshot_chunk_retries_total",
			Help: "Chunks read again: their window recorded more keys than snapshot windows may hold, or the read failed and was retried.",
		}, []string{"shard", "table"}),
		window: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tidemark_snapshot_window_seconds",
			Help:    "Watermark window length: from opening a chunk's window to emitting its rows (the chunk read plus the stream reaching the high watermark). Long windows mean a lagging stream.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"shard"}),
		pauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_snapshot_pauses_total",
			Help: "Times the shard's snapshot readers paused because the source was under pressure (snapshot.pause_when_threads_running, snapshot.max_replica_lag).",
		}, []string{"shard", "reason"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_snapshot_paused",
			Help: "1 while the shard's snapshot readers wait for the source's pressure to drop.",
		}, []string{"shard"}),
		readers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_snapshot_readers",
			Help: "Chunk readers running on the shard.",
		}, []string{"shard"}),
		tables: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_snapshot_tables_total",
			Help: "Tables whose snapshot ended, by how: done, failed (the reason is in GET /snapshots/{id}, the log and /status warnings), cancelled.",
		}, []string{"shard", "state"}),
		rate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_snapshot_paced_rows_per_second",
			Help: "The rows/s the latency pacer (snapshot.max_latency_rise) currently allows the shard's readers.",
		}, []string{"shard"}),
		latency: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_snapshot_source_latency_seconds",
			Help: "The source's response time as the latency pacer probes it (SELECT 1): kind=baseline with the readers held, kind=current the last half-second's; both the 80th percentile of the probes.",
		}, []string{"shard", "kind"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_snapshot_throttles_total",
			Help: "Times the latency pacer halved the shard's snapshot rate because the source's response time rose above snapshot.max_latency_rise.",
		}, []string{"shard"}),
	}
	for _, c := range []prometheus.Collector{m.rows, m.emitted, m.superseded, m.chunks, m.retries, m.window, m.pauses, m.paused, m.readers, m.tables, m.rate, m.latency, m.throttles} {
		if reg == nil {
			continue
		}
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err) // a name clash inside tidemark: a bug
			}
		}
	}
	return m
}
