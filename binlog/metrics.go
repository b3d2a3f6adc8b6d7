package binlog

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidemark-cdc/tidemark/change"
)

// Metrics are the reader's Prometheus series, labelled by shard. One Metrics
// serves every shard's reader of a daemon.
type Metrics struct {
	events       *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	transactions *prometheus.CounterVec
	reconnects   *prometheus.CounterVec
	replaySkips  *prometheus.CounterVec
	schemaLoads  *prometheus.CounterVec
	lag          *prometheus.GaugeVec
	connected    *prometheus.GaugeVec
	warnings     *prometheus.CounterVec
}

// NewMetrics creates the series and registers them with reg (nil: not
// registered, for tests). Registering twice with one registry reuses the
// series already there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_binlog_events_total",
			Help: "Change events the binlog reader handed to the pipeline, by op (c, u, d, and . for checkpoints). A rate of 0 on a busy shard means the reader is stuck or every table is filtered out.",
		}, []string{"shard", "op"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_binlog_read_bytes_total",
			Help: "Bytes of binlog events received from the server. Compare with the server's binlog write rate to see whether the reader keeps up.",
		}, []string{"shard"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_binlog_transactions_total",
			Help: "Transactions (GTIDs) read from the binlog, captured or not.",
		}, []string{"shard"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_binlog_reconnects_total",
			Help: "Times the reader lost its binlog connection and reconnected. A steady rate means an unstable network, a server killing the connection, or a read timeout too short for the server's heartbeats.",
		}, []string{"shard"}),
		replaySkips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_binlog_replayed_rows_skipped_total",
			Help: "Rows of a partly emitted transaction that the server re-sent after a reconnect and the reader dropped because they were already emitted. Informational: proves reconnects neither repeat nor lose rows.",
		}, []string{"shard"}),
		schemaLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_binlog_schema_loads_total",
			Help: "Table schemas (re)built, by source: binlog (full row metadata) or information_schema (fallback, racy; see the binlog package docs). A high rate means frequent DDL or a table cache thrashing.",
		}, []string{"shard", "source"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_binlog_source_lag_seconds",
			Help: "Seconds between a transaction's commit on the shard and the reader reading it (0 on a heartbeat when caught up). Rising lag with a full queue means the pipeline after the reader is the bottleneck; with an empty queue, the reader or the network.",
		}, []string{"shard"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_binlog_connected",
			Help: "1 while the reader holds a binlog connection to the shard, 0 otherwise. Alert when 0 for longer than the reconnect budget.",
		}, []string{"shard"}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_binlog_warnings_total",
			Help: "Degraded paths the reader took and went on from, by kind (xa_rollback, rollback_after_emit, ...): each means Kafka may differ from the shard for some rows; the WARN line and /status say which. Alert on any increase.",
		}, []string{"shard", "kind"}),
	}
	m.events = register(reg, m.events)
	m.bytes = register(reg, m.bytes)
	m.transactions = register(reg, m.transactions)
	m.reconnects = register(reg, m.reconnects)
	m.replaySkips = register(reg, m.replaySkips)
	m.schemaLoads = register(reg, m.schemaLoads)
	m.lag = register(reg, m.lag)
	m.connected = register(reg, m.connected)
	m.warnings = register(reg, m.warnings)
	return m
}

func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		// A clash with a different collector of the same name is a bug of
		// the composition root; the series keep working unregistered rather
		// than taking the daemon down.
	}
	return c
}

// shardMetrics are one shard's series, resolved once so that the hot path
// does no label lookups.
type shardMetrics struct {
	created, updated, deleted, checkpoints prometheus.Counter
	bytes, transactions, reconnects        prometheus.Counter
	replaySkips                            prometheus.Counter
	loadsBinlog, loadsInfoSchema           prometheus.Counter
	lag, connected                         prometheus.Gauge
	warningsVec                            *prometheus.CounterVec
	shard                                  string
}

// warnings is the counter of one kind of warning (rare: looked up per call).
func (s *shardMetrics) warnings(kind string) prometheus.Counter {
	return s.warningsVec.WithLabelValues(s.shard, kind)
}

func (m *Metrics) forShard(shard string) *shardMetrics {
	return &shardMetrics{
		created:         m.events.WithLabelValues(shard, string(change.OpCreate)),
		updated:         m.events.WithLabelValues(shard, string(change.OpUpdate)),
		deleted:         m.events.WithLabelValues(shard, string(change.OpDelete)),
		checkpoints:     m.events.WithLabelValues(shard, string(change.OpCheckpoint)),
		bytes:           m.bytes.WithLabelValues(shard),
		transactions:    m.transactions.WithLabelValues(shard),
		reconnects:      m.reconnects.WithLabelValues(shard),
		replaySkips:     m.replaySkips.WithLabelValues(shard),
		loadsBinlog:     m.schemaLoads.WithLabelValues(shard, "binlog"),
		loadsInfoSchema: m.schemaLoads.WithLabelValues(shard, "information_schema"),
		lag:             m.lag.WithLabelValues(shard),
		connected:       m.connected.WithLabelValues(shard),
		warningsVec:     m.warnings,
		shard:           shard,
	}
}

func (s *shardMetrics) event(op change.Op) {
	switch op {
	case change.OpCreate:
		s.created.Inc()
	case change.OpUpdate:
		s.updated.Inc()
	case change.OpDelete:
		s.deleted.Inc()
	case change.OpCheckpoint:
		s.checkpoints.Inc()
	}
}
