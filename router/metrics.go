package router

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the router's Prometheus collectors, labelled by shard. One
// Metrics serves every Writer of a daemon.
type Metrics struct {
	records    *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	inFlight   *prometheus.GaugeVec
	commits    *prometheus.CounterVec
	lastCommit *prometheus.GaugeVec
	txns       *prometheus.CounterVec
	txnSeconds *prometheus.HistogramVec
	visible    *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests). Registering twice with one registry reuses the
// collectors already there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_router_records_produced_total",
			Help: "Records acknowledged by Kafka (acks=all). rate() is the shard's delivery throughput; " +
				"compare with the binlog reader's row rate to see whether Kafka keeps up.",
		}, []string{"shard"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_router_produced_bytes_total",
			Help: "Uncompressed key+value+header bytes of acknowledged records.",
		}, []string{"shard"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tidemark_router_commit_to_ack_seconds",
			Help: "Time from the source transaction's commit to Kafka's acknowledgement of its record. " +
				"Alert when the p99 (histogram_quantile over rate of the buckets) exceeds the 10s objective.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"shard"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_router_produce_errors_total",
			Help: "Records the Kafka client gave up on. Any increase stops the shard's writer; " +
				"alert on increase() > 0 and read the shard's error in /status.",
		}, []string{"shard"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_router_in_flight_bytes",
			Help: "Bytes of records written but not yet acknowledged (with a per-record overhead), " +
				"sampled every commit interval. Near the configured limit, Write blocks: Kafka is the bottleneck.",
		}, []string{"shard"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_router_position_commits_total",
			Help: "Positions stored in the positions topic.",
		}, []string{"shard"}),
		lastCommit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_router_position_committed_timestamp_seconds",
			Help: "Unix time of the last stored position. Alert when time() minus this exceeds a few " +
				"minutes while the shard has traffic: its position is not advancing.",
		}, []string{"shard"}),
		txns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_router_transactions_total",
			Help: "Kafka transactions ended (exactly-once delivery), by result: committed, or aborted " +
				"(a failure or a shutdown inside a MySQL transaction; its rows are written again after the restart, " +
				"invisible to read_committed consumers). Alert on a rising aborted rate.",
		}, []string{"shard", "result"}),
		visible: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_router_records_committed_total",
			Help: "Data records in committed Kafka transactions (exactly-once delivery): what read_committed " +
				"consumers can read. Lags records_produced_total by at most a commit interval.",
		}, []string{"shard"}),
		txnSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tidemark_router_transaction_commit_seconds",
			Help:    "Time to commit one Kafka transaction (flush, position record, EndTxn); writes wait meanwhile.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"shard"}),
	}
	if reg != nil {
		m.records = register(reg, m.records)
		m.bytes = register(reg, m.bytes)
		m.latency = register(reg, m.latency)
		m.errors = register(reg, m.errors)
		m.inFlight = register(reg, m.inFlight)
		m.commits = register(reg, m.commits)
		m.visible = register(reg, m.visible)
		m.lastCommit = register(reg, m.lastCommit)
		m.txns = register(reg, m.txns)
		m.txnSeconds = register(reg, m.txnSeconds)
	}
	return m
}

// register registers c, or returns the equal collector already registered.
// Any other failure is a programming error in the descriptors above.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("router: register metrics: " + err.Error())
	}
	return c
}

// shardMetrics are the collectors of one shard, resolved once so that the
// acknowledgement path does no label lookups.
type shardMetrics struct {
	records    prometheus.Counter
	bytes      prometheus.Counter
	latency    prometheus.Observer
	errors     prometheus.Counter
	inFlight   prometheus.Gauge
	commits    prometheus.Counter
	lastCommit prometheus.Gauge
	committed  prometheus.Counter // transactions
	visible    prometheus.Counter // data records in committed transactions
	aborted    prometheus.Counter
	txnSeconds prometheus.Observer
}

func (m *Metrics) forShard(shard string) shardMetrics {
	return shardMetrics{
		records:    m.records.WithLabelValues(shard),
		bytes:      m.bytes.WithLabelValues(shard),
		latency:    m.latency.WithLabelValues(shard),
		errors:     m.errors.WithLabelValues(shard),
		inFlight:   m.inFlight.WithLabelValues(shard),
		commits:    m.commits.WithLabelValues(shard),
		lastCommit: m.lastCommit.WithLabelValues(shard),
		committed:  m.txns.WithLabelValues(shard, "committed"),
		aborted:    m.txns.WithLabelValues(shard, "aborted"),
		txnSeconds: m.txnSeconds.WithLabelValues(shard),
		visible:    m.visible.WithLabelValues(shard),
	}
}
