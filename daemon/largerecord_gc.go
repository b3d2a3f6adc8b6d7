package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

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
