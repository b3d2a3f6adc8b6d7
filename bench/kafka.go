package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaAdmin creates, resets and counts the bench's topics.
type kafkaAdmin struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newKafkaAdmin(brokers []string) (*kafkaAdmin, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	return &kafkaAdmin{cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (k *kafkaAdmin) close() { k.cl.Close() }

// benchTopicConfig: compacted like Tidemark's topics, and stamped with the
// broker's clock on append, so a record's timestamp is the moment it reached
// Kafka -- the end point of the commit-to-Kafka latency.
var benchTopicConfig = map[string]*string{
	"cleanup.policy":         kadm.StringPtr("compact"),
	"message.timestamp.type": kadm.StringPtr("LogAppendTime"),
}

// createTopic creates topic, retrying while a deletion of the same name is
// still in progress.
func (k *kafkaAdmin) createTopic(ctx context.Context, topic string, partitions int32, configs map[string]*string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := k.adm.CreateTopic(ctx, partitions, 1, configs, topic)
		switch {
		case err == nil:
			return k.waitListable(ctx, topic)
		case !errors.Is(err, kerr.TopicAlreadyExists):
			return fmt.Errorf("create topic %s: %w", topic, err)
		case time.Now().After(deadline):
			return fmt.Errorf("create topic %s: it still exists 30s after its deletion", topic)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitListable waits until the broker answers for every partition of a new
// topic: right after creation, listing its offsets can still fail with
// UNKNOWN_TOPIC_OR_PARTITION.
func (k *kafkaAdmin) waitListable(ctx context.Context, topic string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := k.endOffsets(ctx, topic)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s created but not served after 30s: %w", topic, err)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// deleteTopicsWithPrefix deletes every topic whose name starts with one of
// prefixes (the bench's own names only) and waits until they are gone.
func (k *kafkaAdmin) deleteTopicsWithPrefix(ctx context.Context, prefixes ...string) ([]string, error) {
	topics, err := k.adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var doomed []string
	for _, t := range topics.Names() {
		for _, p := range prefixes {
			if strings.HasPrefix(t, p) {
				doomed = append(doomed, t)
				break
			}
		}
	}
	if len(doomed) == 0 {
		return nil, nil
	}
	sort.Strings(doomed)
	resp, err := k.adm.DeleteTopics(ctx, doomed...)
	if err != nil {
		return nil, fmt.Errorf("delete topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("delete topic %s: %w", r.Topic, r.Err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		left, err := k.adm.ListTopics(ctx, doomed...)
		if err == nil && !anyExists(left, doomed) {
			return doomed, nil
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
	return doomed, fmt.Errorf("topics %v still listed 30s after deletion", doomed)
}

func anyExists(ds kadm.TopicDetails, topics []string) bool {
	for _, t := range topics {
		if ds.Has(t) {
			return true
		}
	}
	return false
}

// endOffsets returns the sum over partitions of topic's end offsets: the
// number of records ever appended (compaction never lowers it).
func (k *kafkaAdmin) endOffsets(ctx context.Context, topic string) (int64, error) {
	offs, err := k.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	if err := offs.Error(); err != nil {
		return 0, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

// partitionEnds returns topic's end offset per partition, where a consumer
// starts to read only what comes next.
func (k *kafkaAdmin) partitionEnds(ctx context.Context, topic string) (map[int32]kgo.Offset, error) {
	offs, err := k.partitionOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]kgo.Offset{}
	for p, o := range offs {
		out[p] = kgo.NewOffset().At(o)
	}
	return out, nil
}

// partitionOffsets returns topic's end offset per partition.
func (k *kafkaAdmin) partitionOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	offs, err := k.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := offs.Error(); err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
