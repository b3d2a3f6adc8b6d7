package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
	"github.com/tidemark-cdc/tidemark/snapshot"
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
	large    *largeRecords
}

func newSharedParts(cfg *Config, version string, promReg prometheus.Registerer, log *slog.Logger) (*sharedParts, error) {
	regCfg, err := cfg.Registry.ClientConfig()
	if err != nil {
		return nil, err
	}
	reg, err := serde.NewRegistryClient(regCfg)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	large, err := newLargeRecords(context.Background(), cfg.LargeRecords, promReg, log)
	if err != nil {
		return nil, err
	}
	return &sharedParts{registry: reg, version: version, large: large}, nil
}

// recordWriter is what the pipeline needs of its Kafka side; *router.Writer
// implements it, and discardWriter replaces it for `kafka.sink: discard`.
type recordWriter interface {
	Run(ctx context.Context) error
	LoadPosition(ctx context.Context) (change.Position, bool, error)
	EnsureTopic(ctx context.Context, topic string) error
	// RecordLimit is the largest record the topic takes (the claim-check's threshold).
	RecordLimit(ctx context.Context, topic string) (int, error)
	Write(ctx context.Context, recs []router.Record, pos change.Position) error
	// WritePartial writes records that end inside a MySQL transaction.
	WritePartial(ctx context.Context, recs []router.Record, pos change.Position) error
	OtherShards(ctx context.Context) ([]string, error)
	Close()
}

// pipeline is one shard's reader → queue → encoder → writer chain. run is
// one lifetime of it; the supervisor calls run again after a retryable
// failure, and every lifetime resumes from the last committed position.
type pipeline struct {
	shard       string
	log         *slog.Logger // with the shard label
	baseLog     *slog.Logger // without it, for stages that add it themselves
	readerCfg   binlog.Config
	routerCfg   router.Config
	serdeOpts   serde.Options
	namer       *router.TopicNamer // safe for concurrent use; its cache outlives lifetimes
	discard     bool
	queueBytes  int64
	shared      *sharedParts
	stages      *stageMetrics
	tracker     *shardTracker
	metrics     *Metrics
	hooks       Hooks
	moves       *moveChecker                    // nil unless topics.rows_move_between_shards
	runner      atomic.Pointer[snapshot.Runner] // the running lifetime's; nil between lifetimes
	snapCfg     snapshot.Config
	settingsMu  sync.Mutex // guards readerCfg.Include and shardTables, which a reload changes
	shardTables []TableFilter
	start       string       // what to do without a stored position: "current"
	acceptNew   bool         // accept_missing_position: no refusal when other shards have positions
	fresh       *freshShards // shared by the daemon's pipelines: who started without a position
	firstStart  firstStart   // where it started streaming without a stored position, until one is stored
	hosts       []shardHost  // the shard's servers, in the order they are tried (failover.go)
	host        atomic.Int32 // index in hosts of the one the next lifetime streams from
}

func newPipeline(cfg *Config, sc ShardConfig, shared *sharedParts, stages *stageMetrics, log *slog.Logger) (*pipeline, error) {
	hosts, err := shardHosts(&sc)
	if err != nil {
		return nil, err
	}
	kafka, err := cfg.Kafka.ClientConfig()
	if err != nil {
		return nil, err
	}
	rf := cfg.Topics.ReplicationFactor
	if rf == -1 {
		rf = 0 // the router's "broker default"
	}
	filter := newTableFilter(sc.Tables)
	p := &pipeline{
		shard: sc.Name, log: log.With("shard", sc.Name), baseLog: log, shared: shared, stages: stages,
		discard: cfg.Kafka.Sink == "discard", queueBytes: cfg.Limits.QueueBytes.Bytes(),
		start: sc.Start, acceptNew: *sc.AcceptMissingPosition, shardTables: sc.Tables,
		snapCfg: sc.snapshotConfig(cfg.Defaults.Snapshot), hosts: hosts,
		readerCfg: binlog.Config{
			Shard: sc.Name, Addr: hosts[0].addr,
			User: sc.User, Password: os.Getenv(sc.PasswordEnv), Flavor: change.Flavor(sc.Flavor),
			ServerID: sc.ServerID, TLS: hosts[0].tls, Include: filter.Allowed, HeartbeatPeriod: cfg.Defaults.HeartbeatPeriod,
			MinBinlogRetention: cfg.Defaults.MinBinlogRetention, AllowMinimalRowMetadata: *sc.AllowMinimalRowMetadata,
			ContinueAfterXARollback: sc.OnXARollback == "continue",
		},
		routerCfg: router.Config{
			Brokers: kafka.Brokers, ClientID: kafka.ClientID + "-" + sc.Name, TLS: kafka.TLS, SASL: kafka.SASL,
			Partitions: cfg.Topics.Partitions, ReplicationFactor: rf, TopicConfig: cfg.Topics.Config,
			PositionsTopic: cfg.Kafka.PositionsTopic, MaxInFlightBytes: cfg.Limits.InFlightBytes.Bytes(),
			Linger: cfg.Kafka.Linger, Compression: cfg.Kafka.Compression,
			TransactionalID: cfg.Kafka.TransactionalID(sc.Name), TransactionTimeout: cfg.Kafka.Transactions.Timeout,
			TransactionMaxRecords: cfg.Kafka.Transactions.MaxRecords,
		},
		serdeOpts: serde.Options{
			BigIntUnsignedLong: cfg.Encoding.BigintUnsigned == "long", NoTombstones: !*cfg.Encoding.Tombstones,
			KeyShardField: cfg.Encoding.KeyShardField, Version: "tidemark-" + shared.version,
			DebeziumYear0000: cfg.Encoding.Year0000 == "debezium", DebeziumYear0Dates: cfg.Encoding.Year0Dates == "debezium",
			DebeziumLatin1: cfg.Encoding.Latin1 == "debezium", DebeziumStringDefaults: cfg.Encoding.StringDefaults == "debezium",
			ContextHeaders: cfg.Encoding.ContextHeaders,
		},
	}
	if p.routerCfg.TransactionalID != "" {
		p.routerCfg.CommitInterval = cfg.Kafka.Transactions.Interval
	}
	if p.discard {
		// Positions of a discarding run describe records that were never
		// written: kept apart, so that switching back to kafka resumes from
		// the last position whose records are really in Kafka.
		p.routerCfg.PositionsTopic += discardPositionsSuffix
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

// run is one lifetime of the pipeline, on one of the shard's hosts (the
// binlog reader, the prerequisite check and every snapshot connection read
// the same server); when the host fails, the next lifetime uses the next
// one (failover.go). Shutdown order (ctx cancelled): the reader stops, the
// encoder drains the queue, the writer flushes Kafka and commits the last
// position whose records are all acknowledged.
//
// Every goroutine it starts recovers its own panics (goStage): a panic in
// any stage becomes this lifetime's error, a *change.PanicError, and stops
// the other stages like any failure, so only this shard is affected.
func (p *pipeline) run(ctx context.Context) error {
	err := p.lifetime(ctx)
	if err != nil && ctx.Err() == nil {
		p.failover(err)
	}
	return err
}

func (p *pipeline) lifetime(ctx context.Context) error {
	bcfg, tables := p.settings()
	p.tracker.onHost(bcfg.Addr)
	if st := p.snapCfg.SignalTable; st != "" {
		// The stream must show the signal table's rows (the watermarks).
		include := bcfg.Include
		sdb, stable, _ := strings.Cut(st, ".")
		bcfg.Include = func(db, table string) bool {
			return (db == sdb && table == stable) || include == nil || include(db, table)
		}
	}
	bcfg.Retryable = Retryable
	bcfg.OnReconnect = p.tracker.reconnecting
	bcfg.OnStreaming = p.streaming
	bcfg.OnWarning = p.tracker.warning
	reader, err := binlog.NewReader(bcfg, p.baseLog, p.stages.binlog) // it labels its lines with the shard itself
	if err != nil {
		return err
	}
	rcfg := p.routerCfg
	rcfg.OnCommit = func(pos change.Position) {
		p.hook(stageKafka)
		p.firstStart.storedPosition()
		p.tracker.committed(pos)
	}
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
	claims, err := p.claimCheck(writer)
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
	failAll := func() { stopReading(); abort() }

	g := new(errgroup.Group)
	writerDone := make(chan struct{})
	goStage(g, stageKafka, failAll, func() error {
		defer close(writerDone)
		err := writer.Run(writeCtx)
		if err != nil && writeCtx.Err() == nil {
			failAll()
			return inStage(stageKafka, err)
		}
		return nil
	})
	// stopEarly ends the lifetime before the reader started. The writer's
	// own failure (which cancelled readCtx under LoadPosition or Check) wins
	// over what it caused.
	stopEarly := func(err error) error {
		stopWriting()
		<-writerDone
		if werr := g.Wait(); werr != nil {
			return werr
		}
		return err
	}

	pos, found, err := p.startPosition(readCtx, writer)
	if err != nil {
		return stopEarly(err)
	}
	if err := reader.Check(readCtx, pos); err != nil {
		return stopEarly(inStage(stageBinlog, err))
	}
	if found {
		p.tracker.committed(pos)
	}
	defer p.metrics.state.WithLabelValues(p.shard).Set(0)

	queue := newEventQueue(p.queueBytes)
	merger, err := snapshot.NewMerger(p.readerCfg.Flavor, p.shard, pos.Snapshot, 0, queue.Wake)
	if err != nil {
		return stopEarly(inStage(stageKafka, fmt.Errorf("stored position %s: %w", pos, err)))
	}
	if st := p.snapCfg.SignalTable; st != "" {
		db, table, _ := strings.Cut(st, ".")
		merger.UseSignalTable(db, table)
	}
	runner, err := snapshot.NewRunner(p.snapCfg, p.shard, p.snapshotSource(bcfg), merger, p.stages.snapshot, p.baseLog)
	if err != nil {
		return stopEarly(err)
	}
	runner.OnWarning = p.tracker.warning
	p.runner.Store(runner)
	defer p.runner.Store(nil)
	var sink binlog.Sink = queue
	if p.hooks.Stage != nil {
		sink = hookedSink{queue, func() { p.hook(stageBinlog) }}
	}
	goStage(g, stageBinlog, failAll, func() error {
		defer queue.Close()
		err := reader.Run(readCtx, pos, sink)
		if err != nil && readCtx.Err() == nil {
			failAll() // a failed reader stops the whole lifetime at once (the snapshot stages too)
			return inStage(stageBinlog, err)
		}
		return nil
	})
	goStage(g, "snapshot", failAll, func() error {
		err := runner.Run(readCtx)
		if err != nil && readCtx.Err() == nil {
			failAll()
			return inStage(stageBinlog, err)
		}
		return nil
	})
	goStage(g, "snapshot start", failAll, func() error {
		p.autoSnapshots(readCtx, runner, merger, found, tables)
		return nil
	})
	goStage(g, stageEncode, failAll, func() error {
		defer stopWriting() // the queue is drained: let the writer flush and commit
		err := p.encode(drainCtx, queue, encoder, claims, writer, merger, pos)
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

// startPosition loads the shard's stored position. Without one, the shard
// starts as its `start` setting says (the reader resolves the server's
// current position), loudly: a WARN, a metric and /status say so. When the
// positions topic holds other shards' positions, a missing one usually means
// a renamed shard or a changed positions topic, which would silently skip
// every change since the shard's real position: refused (ErrMissingPosition)
// unless accept_missing_position confirms a new shard.
//
// Positions of the shards of this process that themselves started without
// one (p.fresh) do not count: on a first start of several shards, the
// quickest stores its first position before the others ask, and they are
// all new. A shard starting without a position is marked fresh here, before
// it can write anything.
func (p *pipeline) startPosition(ctx context.Context, w recordWriter) (change.Position, bool, error) {
	p.hook(stageStart)
	pos, found, err := w.LoadPosition(ctx)
	if err != nil {
		return change.Position{}, false, inStage(stageKafka, fmt.Errorf("load position: %w", err))
	}
	if found {
		p.firstStart.storedPosition()
		p.log.Info("resuming", "position", pos.String())
		return pos, true, nil
	}
	topic := p.routerCfg.PositionsTopic
	if first, ok := p.firstStart.resume(); ok {
		// An earlier lifetime of this process started without a position
		// and failed before its first commit: start where it did, so that
		// nothing committed since is skipped (and snapshot again: its
		// start snapshot was not committed either).
		p.log.Warn("no stored position yet: resuming where this shard first started, its first commit did not reach Kafka",
			"position", first.String(), "positions_topic", topic)
		return first, false, nil
	}
	if !p.acceptNew {
		listed, err := w.OtherShards(ctx)
		if err != nil {
			return change.Position{}, false, inStage(stageKafka, fmt.Errorf("list the shards with positions in %s: %w", topic, err))
		}
		// Filtered after listing: a fresh shard is marked before it writes.
		if others := p.fresh.others(listed); len(others) > 0 {
			shown := others
			if len(shown) > 10 {
				shown = append(shown[:10:10], fmt.Sprintf("and %d more", len(others)-10))
			}
			return change.Position{}, false, fmt.Errorf("shard %s: %w in positions topic %s, which holds positions of %d other shard(s) (%s): "+
				"if the shard was renamed, give it its old name back; if kafka.positions_topic changed, restore it; "+
				"if it is a new shard, set accept_missing_position: true on it (it then starts at the server's %s position, without the changes before it)",
				p.shard, ErrMissingPosition, topic, len(others), strings.Join(shown, ", "), p.start)
		}
	}
	p.fresh.mark(p.shard)
	if p.start == StartSnapshot {
		p.log.Warn("no stored position: starting at the server's current position and snapshotting every allow-listed table",
			"positions_topic", topic, "start", p.start)
	} else {
		p.log.Warn("no stored position: starting at the server's current position; changes committed before it are not captured",
			"positions_topic", topic, "start", p.start)
	}
	p.metrics.startsWithoutPosition.WithLabelValues(p.shard).Inc()
	p.tracker.startedWithoutPosition()
	return change.Position{}, false, nil
}

// discardPositionsSuffix names the positions topic of `kafka.sink: discard`.
const discardPositionsSuffix = ".discard"

// settings are what a lifetime reads of the configuration a reload may
// change: the reader's configuration (its allow-list) and the allow-list's
// rules; the reader's server is the host in use.
func (p *pipeline) settings() (binlog.Config, []TableFilter) {
	p.settingsMu.Lock()
	defer p.settingsMu.Unlock()
	c := p.readerCfg
	c.Addr, c.TLS = p.currentHost()
	if len(p.hosts) > 1 {
		// A lost connection is retried once on the same server (a blip),
		// then handed back: the next lifetime tries the next host.
		c.ReconnectMaxAttempts = 1
	}
	return c, p.shardTables
}

// setTables replaces the allow-list for the next lifetime.
func (p *pipeline) setTables(tables []TableFilter) {
	p.settingsMu.Lock()
	defer p.settingsMu.Unlock()
	p.shardTables = tables
	p.readerCfg.Include = newTableFilter(tables).Allowed
}

// goStage runs fn as one of the pipeline's goroutines. A panic in it becomes
// its error, a *change.PanicError naming the stage, after fail has stopped
// the other stages; fn's own defers (closing the queue, releasing the
// writer) still run.
func goStage(g *errgroup.Group, stage string, fail func(), fn func() error) {
	g.Go(func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = &change.PanicError{Stage: stage, Value: r, Stack: debug.Stack()}
				fail()
			}
		}()
		return fn()
	})
}

// streaming is called by the reader once its start position is fixed and
// its binlog connection is open (again, after an in-place reconnect): only
// now is the shard ready, since a row committed from here on is captured.
func (p *pipeline) streaming(from change.Position) {
	p.firstStart.streaming(from)
	p.tracker.streaming(from)
	p.metrics.state.WithLabelValues(p.shard).Set(1)
}

// hook calls the test's fault-injection hook for stage, if any.
func (p *pipeline) hook(stage string) {
	if p.hooks.Stage != nil {
		p.hooks.Stage(p.shard, stage)
	}
}

// hookedSink calls a hook from the reader's goroutine before every Put.
type hookedSink struct {
	binlog.Sink
	before func()
}

func (h hookedSink) Put(ctx context.Context, ev change.Event) error {
	h.before()
	return h.Sink.Put(ctx, ev)
}

// encode takes events from the queue, turns each into its Kafka records and
// hands every batch to the writer with the position of its last event.
func (p *pipeline) encode(ctx context.Context, q *eventQueue, enc *serde.Encoder, claims *serde.ClaimCheck, w recordWriter, m *snapshot.Merger, start change.Position) error {
	var (
		batch   []change.Event
		msgs    []serde.Message
		recs    []router.Record
		topics  = map[string]bool{}
		queued  = p.metrics.queueBytes.WithLabelValues(p.shard)
		at      = start        // the stream position of the last event taken
		atEnd   = true         // ... and whether it ends a transaction (a Kafka transaction may end there)
		written = m.Progress() // the snapshot progress of the last position written
	)
	// add encodes one event's records onto recs.
	add := func(ev *change.Event, now time.Time) error {
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
		var err error
		msgs, err = enc.Messages(ctx, msgs[:0], topic, ev, now)
		if err != nil {
			return inStage(stageEncode, fmt.Errorf("encode %s event of %s.%s at %s: %w", ev.Op, ev.Source.Database, ev.Source.Table, ev.Position, err))
		}
		for i := range msgs {
			hs := msgs[i].Headers
			msgs[i].Headers = append(hs[:len(hs):len(hs)], serde.Header{Key: serde.HeaderEventID, Value: eventID(ev, i, &msgs[i])})
			if err := p.claim(ctx, claims, topic, ev, i, &msgs[i]); err != nil {
				return err
			}
		}
		for _, msg := range msgs {
			recs = append(recs, router.Record{
				Topic: topic, Key: msg.Key, Value: msg.Value, Headers: toRouterHeaders(msg.Headers),
				CommitUnixMicros: ev.CommitUnixMicros,
			})
		}
		return nil
	}
	for {
		var ok bool
		var err error
		batch, ok, err = q.Take(ctx, batch, encodeBatch)
		if err != nil || !ok {
			return err
		}
		queued.Set(float64(q.Bytes()))
		p.hook(stageEncode)
		now := time.Now()
		recs = recs[:0]
		moved, err := p.findMoves(ctx, batch)
		if err != nil {
			return err
		}
		var rows int
		for i := range batch {
			ev := &batch[i]
			at, atEnd = ev.Position, ev.TxEnd || ev.Op == change.OpCheckpoint
			if ev.Op == change.OpCheckpoint {
				continue
			}
			rows++
			m.Observe(ev) // before it is written: a snapshot window must not miss it
			if m.IsSignal(ev) {
				continue // a snapshot watermark row: not data
			}
			if moved[i] {
				continue // another shard holds the key: a move, not a delete (moves.go)
			}
			if err := add(ev, now); err != nil {
				return err
			}
		}
		// Snapshot rows whose high watermark the stream has now passed are
		// written right here, after the events that passed it (snapshot.Merger).
		due, err := m.Due(at)
		if err != nil {
			return inStage(stageEncode, err)
		}
		for i := range due {
			if err := add(&due[i], now); err != nil {
				return err
			}
		}
		progress := m.Progress()
		if (len(batch) == 0 && len(due) == 0 && string(progress) == string(written)) || at.IsZero() {
			continue // woken for nothing new, or no position yet (the reader's first checkpoint carries it)
		}
		if len(batch) > 0 {
			last := &batch[len(batch)-1]
			p.tracker.read(rows+len(due), last.Position, lagSeconds(last, now))
		}
		pos := at
		pos.Snapshot, written = progress, progress
		write := w.Write
		if !atEnd {
			write = w.WritePartial
		}
		if err := write(ctx, recs, pos); err != nil {
			return inStage(stageKafka, err)
		}
		clear(batch) // drop row references while waiting for the next batch
	}
}

// findMoves returns the indexes of the batch's deletes whose key another
// shard holds (nil without topics.rows_move_between_shards).
func (p *pipeline) findMoves(ctx context.Context, batch []change.Event) (map[int]bool, error) {
	if p.moves == nil {
		return nil, nil
	}
	type group struct {
		table *schema.Table
		evs   []*change.Event
		idx   []int
	}
	type groupKey struct {
		topic string
		table *schema.Table // one shape: its key columns
	}
	groups := map[groupKey]*group{}
	for i := range batch {
		ev := &batch[i]
		if ev.Op != change.OpDelete || len(ev.Table.PrimaryKey) == 0 {
			continue
		}
		topic := p.namer.Topic(ev.Source.Database, ev.Source.Table)
		k := groupKey{topic, ev.Table}
		g := groups[k]
		if g == nil {
			g = &group{table: ev.Table}
			groups[k] = g
		}
		g.evs, g.idx = append(g.evs, ev), append(g.idx, i)
	}
	var out map[int]bool
	for k, g := range groups {
		held, err := p.moves.movedAway(ctx, p.shard, k.topic, g.table, g.evs)
		if err != nil {
			return nil, err
		}
		for j := range held {
			if out == nil {
				out = map[int]bool{}
			}
			out[g.idx[j]] = true
		}
	}
	return out, nil
}

// eventID is the tidemark.id header of the part-th record of ev
// (docs/wire-format.md): shard/event/row/part, the same when a restart
// writes the record again, so a consumer that cannot read transactionally
// can drop duplicates by it. event is the transaction's GTID (or the
// event's binlog file:pos) and row the event's place in the transaction;
// a snapshot row, which a restart may read again changed, is named by its
// bytes instead: "snapshot-" and a hash of its key and value, row 0.
func eventID(ev *change.Event, part int, m *serde.Message) []byte {
	b := make([]byte, 0, 96)
	b = append(b, ev.Source.Shard...)
	b = append(b, '/')
	row := ev.Source.TxSeq
	switch {
	case ev.Source.Snapshot != "":
		h := sha256.New()
		h.Write(m.Key)
		h.Write([]byte{0})
		h.Write(m.Value)
		b = append(b, "snapshot-"...)
		b = hex.AppendEncode(b, h.Sum(nil)[:12])
		row = 0
	case ev.Source.GTID != "":
		b = append(b, ev.Source.GTID...)
	default:
		b = append(b, ev.Source.File...)
		b = append(b, ':')
		b = strconv.AppendUint(b, ev.Source.Pos, 10)
	}
	b = append(b, '/')
	b = strconv.AppendInt(b, row, 10)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(part), 10)
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
