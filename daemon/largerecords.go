package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/largerecord"
	"github.com/tidemark-cdc/tidemark/serde"
)

// largeRecords is the daemon's claim-check (docs/claim-check.md), shared by
// the pipelines: the store, the secret, and its metrics.
type largeRecords struct {
	store     largerecord.Store // nil: compression only
	uri       string
	secret    []byte
	threshold int // 0: each topic's record limit less serde.ClaimHeadroom
	metrics   *largeRecordMetrics
}

// newLargeRecords opens the configured store (no I/O: the first write
// reaches it).
func newLargeRecords(ctx context.Context, c LargeRecordsConfig, reg prometheus.Registerer, log *slog.Logger) (*largeRecords, error) {
	lr := &largeRecords{uri: c.Store, threshold: int(c.Threshold.Bytes()), metrics: newLargeRecordMetrics(reg)}
	if c.SecretEnv != "" {
		lr.secret = []byte(os.Getenv(c.SecretEnv))
	}
	if c.Store != "" {
		s, err := largerecord.Open(ctx, c.Store)
		if err != nil {
			return nil, fmt.Errorf("large_records.store: %w", err)
		}
		lr.store = s
	}
	return lr, nil
}

func (lr *largeRecords) Close() error {
	if lr == nil || lr.store == nil {
		return nil
	}
	return lr.store.Close()
}

// claimCheck is one pipeline lifetime's claim-check, limits from its writer.
func (p *pipeline) claimCheck(w recordWriter) (*serde.ClaimCheck, error) {
	lr := p.shared.large
	return serde.NewClaimCheck(p.shared.registry, serde.ClaimCheckOptions{
		Store: lr.store, Secret: lr.secret,
		Threshold: func(ctx context.Context, topic string) (int, error) {
			if lr.threshold > 0 {
				return lr.threshold, nil
			}
			limit, err := w.RecordLimit(ctx, topic)
			return limit - serde.ClaimHeadroom, err
		},
	})
}

// claim claim-checks one message of ev. A store or registry that fails is
// retried with backoff until it answers: the shard waits (the encoder
// blocks, the queue fills, the reader stops), nothing is skipped. A record
// too big for a topic without a store stops the shard, naming the table.
func (p *pipeline) claim(ctx context.Context, cc *serde.ClaimCheck, topic string, ev *change.Event, part int, m *serde.Message) error {
	if fits, err := cc.Fits(ctx, topic, m); err == nil && fits {
		return nil
	} // (an error is Apply's to retry below)
	ref := claimRef(topic, ev, part, m)
	lr := p.shared.large
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = 200*time.Millisecond, 30*time.Second, 0
	for attempt := 1; ; attempt++ {
		began := time.Now()
		res, err := cc.Apply(ctx, ref, m)
		if err == nil {
			lr.metrics.observe(p.shard, res, time.Since(began))
			if attempt > 1 {
				p.log.Info("large-record store reachable again", "attempts", attempt, "table", ev.Source.Database+"."+ev.Source.Table)
				p.tracker.setState(StateStreaming)
			}
			return nil
		}
		if errors.Is(err, serde.ErrRecordTooLarge) {
			return inStage(stageEncode, fmt.Errorf("%s event of %s.%s at %s: %w", ev.Op, ev.Source.Database, ev.Source.Table, ev.Position, err))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := bo.NextBackOff()
		lr.metrics.storeErrors.WithLabelValues(p.shard).Inc()
		p.log.Warn("large record not stored yet; the shard waits for the store and retries (nothing is skipped)",
			"table", ev.Source.Database+"."+ev.Source.Table, "attempt", attempt, "retry_in", wait, "error", err)
		p.tracker.warning("large_record_store_unavailable", err.Error())
		p.tracker.setError(err, "large_record_store", time.Now().Add(wait))
		p.tracker.setState(StateWaitingForStore)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// claimRef names the object of m, the part-th message of ev: by the
// transaction's GTID (or binlog file:pos) and the event's place in it, so a
// replay finds the first attempt's object; a snapshot row, which has
// neither and may have changed when re-read, by a hash of its key and its
// bytes (ContentAddressed).
func claimRef(topic string, ev *change.Event, part int, m *serde.Message) serde.ClaimRef {
	ref := serde.ClaimRef{Topic: topic, Shard: ev.Source.Shard, Row: int(ev.Source.TxSeq), Part: part}
	switch {
	case ev.Source.Snapshot != "":
		sum := sha256.Sum256(m.Key)
		ref.Event, ref.Row, ref.ContentAddressed = "snapshot-"+hex.EncodeToString(sum[:8]), 0, true
	case ev.Source.GTID != "":
		ref.Event = ev.Source.GTID
	default:
		ref.Event = ev.Source.File + ":" + strconv.FormatUint(ev.Source.Pos, 10)
	}
	return ref
}

type largeRecordMetrics struct {
	records     *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	storeSec    prometheus.Histogram
	storeErrors *prometheus.CounterVec
}

func newLargeRecordMetrics(reg prometheus.Registerer) *largeRecordMetrics {
	m := &largeRecordMetrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_largerecord_records_total",
			Help: "Records above their topic's limit, by what the claim-check made of them: compressed (inline) or offloaded (to the store).",
		}, []string{"shard", "form"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_largerecord_bytes_total",
			Help: "Bytes of claim-checked records before and after (side=before|after), by form.",
		}, []string{"shard", "form", "side"}),
		storeSec: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tidemark_largerecord_store_seconds",
			Help:    "Time to claim-check one offloaded record (compress, encrypt, write to the store).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_largerecord_store_errors_total",
			Help: "Failed claim-check writes (store or registry unreachable); the shard waits and retries. Alert on a rising rate: the shard is not moving.",
		}, []string{"shard"}),
	}
	if reg != nil { // the daemon's own registry: registered once
		reg.MustRegister(m.records, m.bytes, m.storeSec, m.storeErrors)
	}
	return m
}

func (m *largeRecordMetrics) observe(shard string, res serde.ClaimResult, took time.Duration) {
	if res.Form == "" {
		return
	}
	m.records.WithLabelValues(shard, res.Form).Inc()
	m.bytes.WithLabelValues(shard, res.Form, "before").Add(float64(res.Before))
	m.bytes.WithLabelValues(shard, res.Form, "after").Add(float64(res.After))
	if res.Form == serde.ClaimOffloaded {
		m.storeSec.Observe(took.Seconds())
	}
}
