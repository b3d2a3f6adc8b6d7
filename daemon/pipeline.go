package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/serde"
)

// drainTimeout bounds how long a stopping pipeline keeps encoding and
// flushing what it already read; past it, whatever is acknowledged is
// committed and the rest is re-read after the restart.
const drainTimeout = 30 * time.Second

// encodeBatch is how many queued events the encoder takes at once; their
// records go to the writer in one call, with the last event's position.
const encodeBatch = 1024

// sharedParts are built once per daemon and shared by every shard.
type sharedParts struct {
	registry *serde.RegistryClient
	version  string
}

func newSharedParts(cfg *Config, version string) (*sharedParts, error) {
	tlsCfg, err := cfg.Registry.TLS.build()
	if err != nil {
		return nil, fmt.Errorf("registry.tls: %w", err)
	}
	reg, err := serde.NewRegistryClient(serde.RegistryConfig{
		URL: cfg.Registry.URL, Username: cfg.Registry.Username, Password: os.Getenv(cfg.Registry.PasswordEnv),
		TLS: tlsCfg, Timeout: cfg.Registry.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return &sharedParts{registry: reg, version: version}, nil
}

// recordWriter is what the pipeline needs of its Kafka side; *router.Writer
// implements it, and discardWriter replaces it for `kafka.sink: discard`.
type recordWriter interface {
	Run(ctx context.Context) error
	LoadPosition(ctx context.Context) (change.Position, bool, error)
	EnsureTopic(ctx context.Context, topic string) error
	Write(ctx context.Context, recs []router.Record, pos change.Position) error
	Close()
}

// pipeline is one shard's reader → queue → encoder → writer chain. run is
// one lifetime of it; the supervisor calls run again after a retryable
// failure, and every lifetime resumes from the last committed position.
type pipeline struct {
	shard      string
	log        *slog.Logger // with the shard label
	baseLog    *slog.Logger // without it, for stages that add it themselves
	readerCfg  binlog.Config
	routerCfg  router.Config
	serdeOpts  serde.Options
	namer      *router.TopicNamer // safe for concurrent use; its cache outlives lifetimes
	discard    bool
	queueBytes int64
	shared     *sharedParts
	stages     *stageMetrics
	tracker    *shardTracker
	metrics    *Metrics
}

func newPipeline(cfg *Config, sc ShardConfig, shared *sharedParts, stages *stageMetrics, log *slog.Logger) (*pipeline, error) {
	mysqlTLS, err := sc.TLS.build()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	kafkaTLS, err := cfg.Kafka.TLS.build()
	if err != nil {
		return nil, fmt.Errorf("kafka.tls: %w", err)
	}
	var sasl *router.SASL
	if cfg.Kafka.SASL.Mechanism != "" {
		sasl = &router.SASL{Mechanism: cfg.Kafka.SASL.Mechanism, User: cfg.Kafka.SASL.Username, Password: os.Getenv(cfg.Kafka.SASL.PasswordEnv)}
	}
	rf := cfg.Topics.ReplicationFactor
	if rf == -1 {
		rf = 0 // the router's "broker default"
	}
	filter := newTableFilter(sc.Tables)
	p := &pipeline{
		shard: sc.Name, log: log.With("shard", sc.Name), baseLog: log, shared: shared, stages: stages,
		discard: cfg.Kafka.Sink == "discard", queueBytes: cfg.Limits.QueueBytes.Bytes(),
		readerCfg: binlog.Config{
			Shard: sc.Name, Addr: net.JoinHostPort(sc.Host, strconv.Itoa(sc.Port)),
			User: sc.User, Password: os.Getenv(sc.PasswordEnv), Flavor: change.Flavor(sc.Flavor),
			ServerID: sc.ServerID, TLS: mysqlTLS, Include: filter.Allowed, HeartbeatPeriod: cfg.Defaults.HeartbeatPeriod,
			MinBinlogRetention: cfg.Defaults.MinBinlogRetention,
		},
		routerCfg: router.Config{
			Brokers: cfg.Kafka.Brokers, ClientID: cfg.Kafka.ClientID + "-" + sc.Name, TLS: kafkaTLS, SASL: sasl,
			Partitions: cfg.Topics.Partitions, ReplicationFactor: rf, TopicConfig: cfg.Topics.Config,
			PositionsTopic: cfg.Kafka.PositionsTopic, MaxInFlightBytes: cfg.Limits.InFlightBytes.Bytes(),
			Linger: cfg.Kafka.Linger, Compression: cfg.Kafka.Compression,
		},
		serdeOpts: serde.Options{
			BigIntUnsignedLong: cfg.Encoding.BigintUnsigned == "long", NoTombstones: !*cfg.Encoding.Tombstones,
			KeyShardField: cfg.Encoding.KeyShardField, Version: "tidemark-" + shared.version,
			DebeziumYear0000: cfg.Encoding.Year0000 == "debezium", DebeziumYear0Dates: cfg.Encoding.Year0Dates == "debezium",
			DebeziumLatin1: cfg.Encoding.Latin1 == "debezium", DebeziumStringDefaults: cfg.Encoding.StringDefaults == "debezium",
			ContextHeaders: cfg.Encoding.ContextHeaders,
		},
	}
	var rewrites []router.Rewrite
	for _, r := range cfg.Topics.DatabaseRewrites {
		rewrites = append(rewrites, router.Rewrite{Match: r.Match, Replace: r.Replace})
	}
	if p.namer, err = router.NewTopicNamer(cfg.Topics.Prefix, rewrites, router.WithDelimiter(cfg.Topics.Delimiter)); err != nil {
		return nil, err
	}
	// A bad setting fails at start-up rather than in the first lifetime.
	if err := p.readerCfg.Validate(); err != nil {
		return nil, err
	}
	if err := p.routerCfg.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// run is one lifetime of the pipeline. Shutdown order (ctx cancelled): the
// reader stops, the encoder drains the queue, the writer flushes Kafka and
// commits the last position whose records are all acknowledged.
func (p *pipeline) run(ctx context.Context) error {
	bcfg := p.readerCfg
	bcfg.OnReconnect = p.tracker.reconnecting
	reader, err := binlog.NewReader(bcfg, p.log, p.stages.binlog)
	if err != nil {
		return err
	}
	rcfg := p.routerCfg
	rcfg.OnCommit = p.tracker.committed
	rw, err := router.NewWriter(rcfg, p.shard, p.baseLog, p.stages.router)
	if err != nil {
		return err
	}
	var writer recordWriter = rw
	if p.discard {
		writer = &discardWriter{inner: rw, discarded: p.stages.discarded.WithLabelValues(p.shard)}
	}
	defer writer.Close()
	encoder, err := serde.NewEncoder(p.shared.registry, p.serdeOpts)
	if err != nil {
		return err
	}

	// Contexts: reading stops at once on shutdown; encoding and writing
	// continue to drain (bounded by drainTimeout) and stop at once on failure.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	drainCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	writeCtx, stopWriting := context.WithCancel(drainCtx)
	defer stopWriting()
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-time.After(drainTimeout):
				p.log.Warn("drain timed out; committing what is acknowledged", "timeout", drainTimeout)
				abort()
			case <-drainCtx.Done():
			}
		case <-drainCtx.Done():
		}
	}()

	g := new(errgroup.Group)
	writerDone := make(chan struct{})
	g.Go(func() error {
		defer close(writerDone)
		err := writer.Run(writeCtx)
		if err != nil && writeCtx.Err() == nil {
			stopReading()
			abort()
			return inStage(stageKafka, err)
		}
		return nil
	})

	pos, found, err := writer.LoadPosition(readCtx)
	if err != nil {
		stopWriting()
		<-writerDone
		return inStage(stageKafka, fmt.Errorf("load position: %w", err))
	}
	if found {
		p.log.Info("resuming", "position", pos.String())
	} else {
		p.log.Info("no stored position: starting at the server's current position")
	}
	if err := reader.Check(readCtx, pos); err != nil {
		stopWriting()
		<-writerDone
		return inStage(stageBinlog, err)
	}
	if found {
		p.tracker.committed(pos)
	}
	p.tracker.setState(StateStreaming)
	p.metrics.state.WithLabelValues(p.shard).Set(1)
	defer p.metrics.state.WithLabelValues(p.shard).Set(0)

	queue := newEventQueue(p.queueBytes)
	g.Go(func() error {
		defer queue.Close()
		err := reader.Run(readCtx, pos, queue)
		if err != nil && readCtx.Err() == nil {
			abort() // a failed reader stops the whole lifetime at once
			return inStage(stageBinlog, err)
		}
		return nil
	})
	g.Go(func() error {
		defer stopWriting() // the queue is drained: let the writer flush and commit
		err := p.encode(drainCtx, queue, encoder, writer)
		if err != nil && drainCtx.Err() == nil {
			stopReading()
			return err
		}
		return nil
	})
	err = g.Wait()
	if err == nil && ctx.Err() == nil {
		err = errors.New("pipeline stopped without an error before shutdown")
	}
	return err
}

// encode takes events from the queue, turns each into its Kafka records and
// hands every batch to the writer with the position of its last event.
func (p *pipeline) encode(ctx context.Context, q *eventQueue, enc *serde.Encoder, w recordWriter) error {
	var (
		batch  []change.Event
		msgs   []serde.Message
		recs   []router.Record
		topics = map[string]bool{}
		queued = p.metrics.queueBytes.WithLabelValues(p.shard)
	)
	for {
		var ok bool
		var err error
		batch, ok, err = q.Take(ctx, batch, encodeBatch)
		if err != nil || !ok {
			return err
		}
		queued.Set(float64(q.Bytes()))
		now := time.Now()
		recs = recs[:0]
		var rows int
		for i := range batch {
			ev := &batch[i]
			if ev.Op == change.OpCheckpoint {
				continue
			}
			rows++
			topic := p.namer.Topic(ev.Source.Database, ev.Source.Table)
			if !topics[topic] {
				if len(ev.Table.PrimaryKey) == 0 {
					return noPrimaryKeyError(p.shard, ev.Source.Database, ev.Source.Table)
				}
				if err := w.EnsureTopic(ctx, topic); err != nil {
					return inStage(stageKafka, err)
				}
				topics[topic] = true
			}
			msgs, err = enc.Messages(ctx, msgs[:0], topic, ev, now)
			if err != nil {
				return inStage(stageEncode, fmt.Errorf("encode %s event of %s.%s at %s: %w", ev.Op, ev.Source.Database, ev.Source.Table, ev.Position, err))
			}
			for _, m := range msgs {
				recs = append(recs, router.Record{
					Topic: topic, Key: m.Key, Value: m.Value, Headers: toRouterHeaders(m.Headers),
					CommitUnixMicros: ev.CommitUnixMicros,
				})
			}
		}
		last := &batch[len(batch)-1]
		p.tracker.read(rows, last.Position, lagSeconds(last, now))
		if err := w.Write(ctx, recs, last.Position); err != nil {
			return inStage(stageKafka, err)
		}
		clear(batch) // drop row references while waiting for the next batch
	}
}

func toRouterHeaders(hs []serde.Header) []router.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]router.Header, len(hs))
	for i, h := range hs {
		out[i] = router.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// lagSeconds is how far behind its source an event was when encoded; a
// checkpoint without a commit time (a heartbeat) means caught up.
func lagSeconds(ev *change.Event, now time.Time) float64 {
	if ev.CommitUnixMicros == 0 {
		return 0
	}
	lag := now.Sub(time.UnixMicro(ev.CommitUnixMicros)).Seconds()
	if lag < 0 {
		return 0
	}
	return lag
}
