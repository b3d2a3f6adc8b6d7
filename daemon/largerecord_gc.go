package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/largerecord"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/serde"
)

// GCOptions tune a large-record garbage collection.
type GCOptions struct {
	// Grace keeps unreferenced objects younger than this (counted from the
	// start of the topic's scan): their records may still be on their way
	// to Kafka. Default 24h.
	Grace time.Duration
	// DryRun lists what would be deleted and deletes nothing.
	DryRun bool
	// ExpectedRefs sizes each topic's reference set (default 1M; more only
	// raises the false-positive rate, which keeps orphans, never memory).
	ExpectedRefs int
	// MissingTopics deletes the old objects of topics Kafka does not have
	// (deleted topics). Off by default: a configuration pointing at the
	// wrong cluster would otherwise look like every topic is gone.
	MissingTopics bool
	// OnObject, when set, hears every decision.
	OnObject func(topic string, o largerecord.ObjectInfo, a largerecord.SweepAction)
}

// GCTopic is one topic's collection.
type GCTopic struct {
	Topic      string
	Records    int64 // read from Kafka
	References int   // claim-check pointers among them
	Missing    bool  // not in Kafka: skipped unless MissingTopics
	largerecord.SweepStats
}

// CollectLargeRecords deletes the objects in cfg's large-record store that
// no record still in Kafka references (largerecord/doc.go, "Garbage
// collection"). Per topic with objects: read the topic from its start to
// the end offsets taken before reading, note every pointer, sweep.
func CollectLargeRecords(ctx context.Context, cfg *Config, opts GCOptions, log *slog.Logger) ([]GCTopic, error) {
	if cfg.LargeRecords.Store == "" {
		return nil, errors.New("large_records.store is not set: there is nothing to collect")
	}
	if opts.Grace == 0 {
		opts.Grace = 24 * time.Hour
	}
	if opts.ExpectedRefs == 0 {
		opts.ExpectedRefs = 1 << 20
	}
	store, err := largerecord.Open(ctx, cfg.LargeRecords.Store)
	if err != nil {
		return nil, fmt.Errorf("large_records.store: %w", err)
	}
	defer store.Close()
	topics := map[string]bool{}
	if err := store.List(ctx, "", func(o largerecord.ObjectInfo) error {
		if t, _, err := largerecord.ParseObjectName(o.Name); err == nil {
			topics[t] = true
		} else {
			log.Warn("gc: an object Tidemark did not name is left alone", "object", store.URI(o.Name))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	kafkaCfg, err := cfg.Kafka.ClientConfig()
	if err != nil {
		return nil, err
	}
	kafkaCfg.ClientID += "-gc"
	adm, err := kgo.NewClient(router.ClientOptions(kafkaCfg, log)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer adm.Close()
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	var out []GCTopic
	for _, topic := range names {
		res, err := collectTopic(ctx, store, kafkaCfg, adm, topic, opts, log)
		if err != nil {
			return out, fmt.Errorf("gc of topic %s: %w", topic, err)
		}
		out = append(out, res)
	}
	return out, nil
}

func collectTopic(ctx context.Context, store largerecord.Store, kafkaCfg router.Config, adm *kgo.Client, topic string, opts GCOptions, log *slog.Logger) (GCTopic, error) {
	res := GCTopic{Topic: topic}
	began := time.Now()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	refs := largerecord.NewRefSet(opts.ExpectedRefs, 1e-4)
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		res.Missing = true
		if !opts.MissingTopics {
			log.Warn("gc: the topic is not in Kafka; its objects are kept (deleted topic? use --missing-topics)", "topic", topic)
			return res, nil
		}
	case err != nil:
		return res, fmt.Errorf("end offsets: %w", err)
	default:
		if res.Records, err = readRefs(ctx, kafkaCfg, topic, ends, store.URI(""), refs, log); err != nil {
			return res, err
		}
	}
	res.References = refs.Len()
	st, err := largerecord.Sweep(ctx, store, largerecord.TopicPrefix(topic), refs, began.Add(-opts.Grace), opts.DryRun,
		func(o largerecord.ObjectInfo, a largerecord.SweepAction) {
			if opts.OnObject != nil {
				opts.OnObject(topic, o, a)
			}
		})
	res.SweepStats = st
	return res, err
}

// readRefs reads topic up to ends and adds every pointer's object name.
func readRefs(ctx context.Context, kafkaCfg router.Config, topic string, ends kadm.ListedOffsets, root string, refs *largerecord.RefSet, log *slog.Logger) (int64, error) {
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	if len(left) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(append(router.ClientOptions(kafkaCfg, log),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return 0, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	var n int64
	for len(left) > 0 {
		// A partition is done at its end offset, or when nothing more comes:
		// compaction or transaction markers may leave no record at end-1.
		pollCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fetches := cl.PollFetches(pollCtx)
		quiet := pollCtx.Err() != nil && fetches.NumRecords() == 0
		cancel()
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if quiet {
			return n, nil
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return n, fmt.Errorf("consume partition %d: %w", fe.Partition, fe.Err)
			}
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok {
				return
			}
			if r.Offset >= end-1 {
				delete(left, r.Partition)
			}
			n++ // a record past the end still references what it names
			for _, h := range r.Headers {
				if h.Key == serde.HeaderClaimCheckObject {
					refs.Add(strings.TrimPrefix(string(h.Value), root))
				}
			}
		})
	}
	return n, nil
}

// GCStatus is the periodic GC's state in /status (large_record_gc).
type GCStatus struct {
	Interval       string     `json:"interval"`
	Grace          string     `json:"grace"`
	Runs           uint64     `json:"runs"`
	LastRunAt      *time.Time `json:"last_run_at,omitempty"`
	LastSuccessAt  *time.Time `json:"last_success_at,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	LastDeleted    int        `json:"last_deleted"`
	LastReferenced int        `json:"last_referenced"`
	NextRunAt      *time.Time `json:"next_run_at,omitempty"`
}

// gcLoop runs CollectLargeRecords every large_records.gc.interval, for
// as long as the daemon runs. A failed run is a WARN, a metric and
// /status's large_record_gc.last_error, and is tried again next interval;
// deleting nothing is always safe.
type gcLoop struct {
	cfg     *Config
	grace   time.Duration
	log     *slog.Logger
	metrics *gcMetrics

	mu     sync.Mutex
	status GCStatus
}

func newGCLoop(cfg *Config, reg prometheus.Registerer, log *slog.Logger) *gcLoop {
	gc := cfg.LargeRecords.GC
	if gc.Interval <= 0 {
		return nil
	}
	grace := gc.Grace
	if grace == 0 {
		grace = 24 * time.Hour
	}
	return &gcLoop{cfg: cfg, grace: grace, log: log.With("component", "largerecord-gc"), metrics: newGCMetrics(reg),
		status: GCStatus{Interval: gc.Interval.String(), Grace: grace.String()}}
}

func (g *gcLoop) run(ctx context.Context) {
	if g == nil {
		return
	}
	t := time.NewTicker(g.cfg.LargeRecords.GC.Interval)
	defer t.Stop()
	for {
		g.setNext(time.Now().Add(g.cfg.LargeRecords.GC.Interval))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.once(ctx)
	}
}

// once is one collection; its panic is the run's error, never the daemon's.
func (g *gcLoop) once(ctx context.Context) {
	began := time.Now()
	var res []GCTopic
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic in large-record gc: %v", r)
			}
		}()
		res, err = CollectLargeRecords(ctx, g.cfg, GCOptions{Grace: g.grace}, g.log)
		return err
	}()
	if ctx.Err() != nil {
		return // stopping: not a failure
	}
	var deleted, referenced int
	for _, r := range res {
		deleted += r.Deleted
		referenced += r.SweepStats.Referenced
		g.metrics.objects.WithLabelValues(string(largerecord.SweepDeleted)).Add(float64(r.Deleted))
		g.metrics.objects.WithLabelValues(string(largerecord.SweepKept)).Add(float64(r.SweepStats.Referenced))
		g.metrics.objects.WithLabelValues(string(largerecord.SweepYoung)).Add(float64(r.Young))
		g.metrics.deletedBytes.Add(float64(r.DeletedBytes))
	}
	g.metrics.duration.Set(time.Since(began).Seconds())
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status.Runs++
	now := time.Now().UTC()
	g.status.LastRunAt = &now
	g.status.LastDeleted, g.status.LastReferenced = deleted, referenced
	if err != nil {
		g.metrics.runs.WithLabelValues("error").Inc()
		g.status.LastError = err.Error()
		g.log.Warn("large-record gc failed; orphans stay until the next run", "error", err, "deleted", deleted, "retry_in", g.cfg.LargeRecords.GC.Interval)
		return
	}
	g.metrics.runs.WithLabelValues("ok").Inc()
	g.metrics.lastSuccess.Set(float64(now.Unix()))
	g.status.LastError, g.status.LastSuccessAt = "", &now
	g.log.Info("large-record gc done", "topics", len(res), "deleted", deleted, "referenced", referenced, "took", time.Since(began).Round(time.Millisecond))
}

func (g *gcLoop) setNext(t time.Time) {
	g.mu.Lock()
	t = t.UTC()
	g.status.NextRunAt = &t
	g.mu.Unlock()
}

// snapshot is the status for /status; nil when the loop is off.
func (g *gcLoop) snapshot() *GCStatus {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.status
	return &st
}

type gcMetrics struct {
	runs         *prometheus.CounterVec
	objects      *prometheus.CounterVec
	deletedBytes prometheus.Counter
	duration     prometheus.Gauge
	lastSuccess  prometheus.Gauge
}

func newGCMetrics(reg prometheus.Registerer) *gcMetrics {
	m := &gcMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_largerecord_gc_runs_total",
			Help: "Periodic large-record GC runs by result (ok, error). Errors are retried next interval; alert on no ok run for several intervals.",
		}, []string{"result"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_largerecord_gc_objects_total",
			Help: "Objects the periodic GC looked at, by action: deleted (orphans), kept (a record references them), young (within the grace period).",
		}, []string{"action"}),
		deletedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidemark_largerecord_gc_deleted_bytes_total",
			Help: "Bytes of the objects the periodic GC deleted.",
		}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tidemark_largerecord_gc_duration_seconds",
			Help: "How long the last periodic GC run took (it reads every topic with objects from its start).",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tidemark_largerecord_gc_last_success_timestamp_seconds",
			Help: "Unix time of the last periodic GC run that succeeded.",
		}),
	}
	reg.MustRegister(m.runs, m.objects, m.deletedBytes, m.duration, m.lastSuccess)
	return m
}
