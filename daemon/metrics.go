package daemon

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/snapshot"
)

// Metrics are the daemon's own series; the stages register theirs (events
// read, source lag, records produced, commit-to-ack latency) on the same
// registry (see stageMetrics).
type Metrics struct {
	errors     *prometheus.CounterVec
	restarts   *prometheus.CounterVec
	state      *prometheus.GaugeVec
	queueBytes *prometheus.GaugeVec
	// startsWithoutPosition counts pipeline starts that found no stored position.
	startsWithoutPosition *prometheus.CounterVec
	// failovers counts moves of a shard to its next host (failover.go).
	failovers *prometheus.CounterVec
}

// NewMetrics registers the daemon's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_shard_errors_total",
			Help: "Pipeline failures by shard and class (connection, kafka, registry, position_lost, config, schema, internal). " +
				"Alert on any increase of a terminal class; a steady rise of connection errors means a shard keeps reconnecting.",
		}, []string{"shard", "class"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_shard_restarts_total",
			Help: "Times a shard's pipeline was restarted after a retryable failure. rate() > 0 for minutes means a flapping dependency.",
		}, []string{"shard"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_shard_up",
			Help: "1 while the shard is streaming, 0 otherwise (starting, retrying, failed). Alert when 0 for more than a few minutes.",
		}, []string{"shard"}),
		queueBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tidemark_queue_bytes",
			Help: "Bytes of events read from the binlog and waiting to be encoded and produced. Near limits.queue_bytes means Kafka or encoding is the bottleneck.",
		}, []string{"shard"}),
	}
	m.startsWithoutPosition = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tidemark_shard_starts_without_position_total",
		Help: "Times a shard started without a stored position, at the server's current position: changes committed before it were not captured. " +
			"Expected once per new shard; any other increase (a renamed shard, a changed or recreated positions topic) means lost changes: alert on it.",
	}, []string{"shard"})
	m.failovers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tidemark_shard_failovers_total",
		Help: "Times a shard with several hosts (shards[].hosts) moved to its next host because the one it streamed from failed " +
			"(unreachable, or a replica behind the position). /status shows the host in use. An increase means its server failed over: " +
			"check the old one; a steady rise means no host works.",
	}, []string{"shard"})
	reg.MustRegister(m.errors, m.restarts, m.state, m.queueBytes, m.startsWithoutPosition, m.failovers)
	return m
}

// stageMetrics are the stages' own series, registered once per daemon and
// shared by every shard's pipeline (each series is labelled by shard).
type stageMetrics struct {
	binlog    *binlog.Metrics
	router    *router.Metrics
	discarded *prometheus.CounterVec
	snapshot  *snapshot.Metrics
}

func newStageMetrics(reg prometheus.Registerer) *stageMetrics {
	s := &stageMetrics{
		binlog:   binlog.NewMetrics(reg),
		snapshot: snapshot.NewMetrics(reg),
		router:   router.NewMetrics(reg),
		discarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_records_discarded_total",
			Help: "Records encoded and dropped because kafka.sink is discard (benchmarks only). Any increase in production means a misconfiguration.",
		}, []string{"shard"}),
	}
	reg.MustRegister(s.discarded)
	return s
}
