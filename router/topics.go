package router

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicState is what the Writer knows of a topic it ensured.
type topicState struct {
	partitions int32
	compacted  bool
	// maxMessageBytes is the topic's max.message.bytes as the broker
	// reports it (its own default included); 0 when it reports none.
	maxMessageBytes int
}

// positionsTopicConfig keeps the positions topic small to read: compacted,
// with segments short enough that the cleaner runs often (it never cleans
// the active segment), so LoadPosition reads at most about one segment
// (16 MiB) plus one record per shard.
var positionsTopicConfig = map[string]string{
	"cleanup.policy":            "compact",
	"segment.bytes":             "16777216",
	"segment.ms":                "3600000",
	"min.cleanable.dirty.ratio": "0.1",
}

// EnsureTopic makes sure a data topic exists, creating it when missing with
// cleanup.policy=compact, the configured partitions, replication factor and
// TopicConfig, and returns once every partition has a leader. The answer is
// cached for the Writer's life: a repeated call costs a map lookup. An
// existing topic is used as it is; if it is not compacted, a warning is
// logged once. Write calls EnsureTopic itself for topics it has not seen.
func (w *Writer) EnsureTopic(ctx context.Context, topic string) error {
	if _, ok := w.lookupTopic(topic); ok {
		return nil
	}
	_, err := w.ensureTopic(ctx, topic, w.cfg.Partitions, w.cfg.ReplicationFactor, w.dataTopicConfig())
	return err
}

// ensurePositionsTopic ensures the positions topic, which must be
// compacted: with retention, a shard idle for longer than retention.ms would
// lose its position and silently start over (ErrPositionsNotCompacted).
func (w *Writer) ensurePositionsTopic(ctx context.Context) (topicState, error) {
	st, ok := w.lookupTopic(w.cfg.PositionsTopic)
	if !ok {
		var err error
		if st, err = w.ensureTopic(ctx, w.cfg.PositionsTopic, w.cfg.PositionsPartitions, w.cfg.ReplicationFactor, positionsTopicConfig); err != nil {
			return topicState{}, err
		}
	}
	if !st.compacted {
		return topicState{}, fmt.Errorf("shard %s: topic %s: %w: retention would delete positions and a restart would silently start over; "+
			"make it compacted (kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact) or choose another kafka.positions_topic",
			w.shard, w.cfg.PositionsTopic, ErrPositionsNotCompacted, w.cfg.PositionsTopic)
	}
	return st, nil
}

func (w *Writer) lookupTopic(topic string) (topicState, bool) {
	w.topicsMu.RLock()
	st, ok := w.topics[topic]
	w.topicsMu.RUnlock()
	return st, ok
}

func (w *Writer) dataTopicConfig() map[string]string {
	c := maps.Clone(w.cfg.TopicConfig)
	if c == nil {
		c = make(map[string]string, 1)
	}
	if !strings.Contains(c["cleanup.policy"], "compact") {
		c["cleanup.policy"] = "compact"
	}
	return c
}

// ensureTopic looks the topic up first (so that a principal without CREATE
// permission can use topics an operator created), creates it when missing,
// tolerating a concurrent creator, then waits for its partitions' leaders.
func (w *Writer) ensureTopic(ctx context.Context, topic string, partitions int32, rf int16, config map[string]string) (topicState, error) {
	w.ensureMu.Lock()
	defer w.ensureMu.Unlock()
	if st, ok := w.lookupTopic(topic); ok {
		return st, nil
	}
	if !validTopicName(topic) {
		return topicState{}, fmt.Errorf("shard %s: topic %q: %w", w.shard, topic, kerr.InvalidTopicException)
	}
	c, err := w.connect(ctx)
	if err != nil {
		return topicState{}, err
	}
	st, ready, err := w.describeTopic(ctx, c, topic)
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		st, err = w.createTopic(ctx, c, topic, partitions, rf, config)
	case err == nil:
		if !ready && st.partitions == 0 { // created a moment ago by someone else
			st, err = w.awaitLeaders(ctx, c, topic)
		}
		if err == nil {
			st.compacted, st.maxMessageBytes, err = w.topicConfig(ctx, c, topic)
		}
	}
	if err != nil {
		return topicState{}, err
	}
	if !st.compacted && topic != w.cfg.PositionsTopic { // an operator's topic; once per Writer, as the state is cached below
		w.log.Warn("topic exists but is not compacted: deleted rows will not be compacted away and keyed history grows without bound",
			"topic", topic)
	}
	w.topicsMu.Lock()
	w.topics[topic] = st
	w.topicsMu.Unlock()
	return st, nil
}

func (w *Writer) createTopic(ctx context.Context, c *conn, topic string, partitions int32, rf int16, config map[string]string) (topicState, error) {
	if partitions == 0 {
		partitions = -1 // broker default
	}
	if rf == 0 {
		rf = -1
	}
	cfg := make(map[string]*string, len(config))
	for k, v := range config {
		cfg[k] = &v
	}
	resp, err := c.adm.CreateTopic(ctx, partitions, rf, cfg, topic)
	created := err == nil
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		if resp.ErrMessage != "" {
			err = fmt.Errorf("%w: %s", err, resp.ErrMessage)
		}
		return topicState{}, fmt.Errorf("shard %s: create topic %s (partitions %d, replication factor %d): %w",
			w.shard, topic, partitions, rf, err)
	}
	st, err := w.awaitLeaders(ctx, c, topic)
	if err != nil {
		return topicState{}, err
	}
	if st.compacted, st.maxMessageBytes, err = w.topicConfig(ctx, c, topic); err != nil {
		return topicState{}, err
	}
	if created {
		st.compacted = true // as asked; the broker's answer may lag the creation
		w.log.Info("created topic", "topic", topic, "partitions", st.partitions)
	}
	return st, nil
}

// describeTopic reads the topic's metadata straight from a broker (not
// kgo's cache, which may hold a stale "unknown topic"). It returns
// kerr.UnknownTopicOrPartition when the topic does not exist; ready is false
// while a partition has no leader.
func (w *Writer) describeTopic(ctx context.Context, c *conn, topic string) (st topicState, ready bool, err error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return topicState{}, false, fmt.Errorf("shard %s: metadata of topic %s: %w", w.shard, topic, err)
	}
	if len(resp.Topics) != 1 {
		return topicState{}, false, fmt.Errorf("shard %s: metadata of topic %s: %d topics in the response", w.shard, topic, len(resp.Topics))
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return topicState{}, false, err
		}
		if errors.Is(err, kerr.LeaderNotAvailable) { // just created
			return topicState{}, false, nil
		}
		return topicState{}, false, fmt.Errorf("shard %s: metadata of topic %s: %w", w.shard, topic, err)
	}
	ready = len(t.Partitions) > 0
	for _, p := range t.Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 {
			ready = false
		}
	}
	return topicState{partitions: int32(len(t.Partitions))}, ready, nil
}

// awaitLeaders polls the metadata of a topic just created until every
// partition has a leader, so that its first records do not race the
// controller. Bounded by ctx and by topicReadyTimeout.
func (w *Writer) awaitLeaders(ctx context.Context, c *conn, topic string) (topicState, error) {
	const topicReadyTimeout = 30 * time.Second
	ctx, cancel := context.WithTimeout(ctx, topicReadyTimeout)
	defer cancel()
	wait := 10 * time.Millisecond
	for {
		st, ready, err := w.describeTopic(ctx, c, topic)
		if ready {
			return st, nil
		}
		if err == nil {
			err = kerr.LeaderNotAvailable
		}
		select {
		case <-ctx.Done():
			return topicState{}, fmt.Errorf("shard %s: topic %s created but not ready after %s: %w", w.shard, topic, topicReadyTimeout, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// topicConfig reads whether the topic is compacted and its
// max.message.bytes. The broker that answers may learn of a topic created
// a moment ago after its leaders are known: an unknown topic is asked again.
func (w *Writer) topicConfig(ctx context.Context, c *conn, topic string) (compacted bool, maxMessageBytes int, err error) {
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		rcs, err := c.adm.DescribeTopicConfigs(ctx, topic)
		if err == nil && len(rcs) == 1 && rcs[0].Err != nil {
			err = rcs[0].Err
		}
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			select {
			case <-ctx.Done():
				return false, 0, fmt.Errorf("shard %s: describe configs of topic %s: %w", w.shard, topic, err)
			case <-time.After(wait):
				continue
			}
		}
		if err != nil {
			return false, 0, fmt.Errorf("shard %s: describe configs of topic %s: %w", w.shard, topic, err)
		}
		for _, rc := range rcs {
			for _, cfg := range rc.Configs {
				switch {
				case cfg.Value == nil:
				case cfg.Key == "cleanup.policy":
					compacted = strings.Contains(*cfg.Value, "compact")
				case cfg.Key == "max.message.bytes":
					maxMessageBytes, _ = strconv.Atoi(*cfg.Value)
				}
			}
		}
		return compacted, maxMessageBytes, nil
	}
}

// RecordLimit is the largest record (key, value and headers) the topic
// takes from this Writer: the smaller of the topic's max.message.bytes and
// the producer's batch limit. It ensures the topic (EnsureTopic).
func (w *Writer) RecordLimit(ctx context.Context, topic string) (int, error) {
	if err := w.EnsureTopic(ctx, topic); err != nil {
		return 0, err
	}
	st, _ := w.lookupTopic(topic)
	limit := int(w.cfg.BatchMaxBytes)
	if st.maxMessageBytes > 0 {
		limit = min(limit, st.maxMessageBytes)
	}
	return limit, nil
}
