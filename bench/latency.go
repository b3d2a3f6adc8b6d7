package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// latencyConsumer reads a data topic from given offsets and records, for
// every record with an after image, record timestamp (LogAppendTime: when
// the broker appended it) minus the row's commit_us. Both clocks are this
// machine's, so no skew enters; the broker stamps milliseconds, so each
// latency is exact to 1 ms.
type latencyConsumer struct {
	cl  *kgo.Client
	dec recordDecoder
	// atReceipt measures to when the consumer received the record rather
	// than to its LogAppendTime (exactly-once: visible only at the commit).
	atReceipt bool

	mu        sync.Mutex
	latencies []float64 // milliseconds
	records   int64     // every record read, tombstones included
	decodeErr error
}

func newLatencyConsumer(brokers []string, topic string, from map[int32]kgo.Offset, dec recordDecoder) (*latencyConsumer, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), // what a consumer of exactly-once delivery reads
	)
	if err != nil {
		return nil, err
	}
	return &latencyConsumer{cl: cl, dec: dec}, nil
}

// run consumes until ctx ends.
func (c *latencyConsumer) run(ctx context.Context) {
	defer c.cl.Close()
	for {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		received := time.Now()
		fs.EachError(func(_ string, _ int32, err error) {
			c.mu.Lock()
			if c.decodeErr == nil && !errors.Is(err, context.Canceled) {
				c.decodeErr = fmt.Errorf("fetch: %w", err)
			}
			c.mu.Unlock()
		})
		fs.EachRecord(func(r *kgo.Record) {
			us, ok, err := c.dec.commitUS(ctx, r.Value)
			c.mu.Lock()
			defer c.mu.Unlock()
			c.records++
			if err != nil {
				if c.decodeErr == nil {
					c.decodeErr = fmt.Errorf("record %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
				}
				return
			}
			if ok {
				at := r.Timestamp.UnixMicro()
				if c.atReceipt {
					at = received.UnixMicro()
				}
				c.latencies = append(c.latencies, float64(at-us)/1000)
			}
		})
	}
}

func (c *latencyConsumer) result() (latencyStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return summarize(c.latencies), c.decodeErr
}

// latencyStats summarizes commit-to-Kafka latencies in milliseconds.
type latencyStats struct {
	Samples int64   `json:"samples"`
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
	P999MS  float64 `json:"p999_ms"`
	MaxMS   float64 `json:"max_ms"`
	MeanMS  float64 `json:"mean_ms"`
}

func summarize(ms []float64) latencyStats {
	if len(ms) == 0 {
		return latencyStats{}
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return latencyStats{
		Samples: int64(len(s)),
		P50MS:   round1(percentile(s, 0.50)),
		P99MS:   round1(percentile(s, 0.99)),
		P999MS:  round1(percentile(s, 0.999)),
		MaxMS:   round1(s[len(s)-1]),
		MeanMS:  round1(sum / float64(len(s))),
	}
}

// percentile of sorted values, nearest rank: the smallest value with at
// least q of the samples at or below it.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
