package router

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/change"
)

// Positions live in one compacted topic shared by every shard (key = shard
// name, value = change.Position JSON), partitioned like data records
// (PartitionFor(shard)). It has 1 partition by default: a fleet of a few
// hundred shards committing every 250ms writes well under 1 MB/s to it, the
// cleaner keeps it to about one 16 MiB segment plus one record per shard,
// and one partition means nothing can move a shard's key. Large fleets may
// create it with more partitions (PositionsPartitions) so that LoadPosition
// reads less; if partitions are added later, LoadPosition still finds a
// shard's older position in its former partition (see LoadPosition).

// commit stores the newest committable position if it changed since the
// last commit, and waits for Kafka's acknowledgement (or ctx). Only Run's
// goroutine calls it.
func (w *Writer) commit(ctx context.Context, c *conn) error {
	if pos, seq, ok := w.tracker.advance(); ok {
		w.latest, w.latestSeq = pos, seq
	}
	w.m.inFlight.Set(float64(w.budget.inUse())) // sampled here rather than per record
	if w.latestSeq == w.committedSeq {
		return nil
	}
	if w.latest.IsZero() && len(w.latest.Snapshot) == 0 { // "start from the server's current position": nothing to store
		w.committedSeq = w.latestSeq
		return nil
	}
	val, err := w.latest.Marshal()
	if err != nil {
		return fmt.Errorf("shard %s: encode position %s: %w", w.shard, w.latest, err)
	}
	done := make(chan error, 1)
	rec := &kgo.Record{Topic: w.cfg.PositionsTopic, Key: w.key, Value: val, Partition: -1}
	c.sink.Produce(context.Background(), rec, func(r *kgo.Record, err error) {
		defer func() {
			if p := recover(); p != nil { // on the client's goroutine: never end the process
				done <- &change.PanicError{Stage: "kafka position ack", Value: p, Stack: debug.Stack()}
			}
		}()
		if err != nil {
			err = &ProduceError{Shard: w.shard, Topic: r.Topic, Partition: r.Partition, Err: err}
		}
		done <- err
	})
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("commit position %s: %w", w.latest, err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	w.committedSeq = w.latestSeq
	if w.cfg.OnCommit != nil {
		w.cfg.OnCommit(w.latest)
	}
	w.m.commits.Inc()
	w.m.lastCommit.Set(float64(time.Now().UnixNano()) / 1e9)
	return nil
}

// checkPosition refuses positions that LoadPosition could not read back.
// The zero position is allowed (and never stored).
func checkPosition(p change.Position) error {
	if p.IsZero() && len(p.Snapshot) == 0 {
		return nil
	}
	if p.Flavor != change.FlavorMySQL && p.Flavor != change.FlavorMariaDB {
		return fmt.Errorf("%w: flavor %q", ErrInvalidPosition, p.Flavor)
	}
	if len(p.Snapshot) > 0 && !json.Valid(p.Snapshot) {
		return fmt.Errorf("%w: snapshot progress is not JSON", ErrInvalidPosition)
	}
	return nil
}

// LoadPosition returns the shard's last stored position; found is false
// when none is stored (or the last one was deleted with a tombstone). It
// reads the partition holding the shard's key from its start to its end
// (the last stable offset, so uncommitted transactional records are never
// seen), creating the positions topic when missing. It may run
// concurrently with Run.
func (w *Writer) LoadPosition(ctx context.Context) (pos change.Position, found bool, err error) {
	if _, err := w.connect(ctx); err != nil {
		return change.Position{}, false, err
	}
	st, err := w.ensurePositionsTopic(ctx)
	if err != nil {
		return change.Position{}, false, err
	}
	rec, err := w.loadPosition(ctx, []int32{PartitionFor(w.key, st.partitions)})
	if err == nil && rec == nil && st.partitions > 1 {
		// Partitions were added after this shard's position was
		// stored: its key hashed elsewhere then. Every partition is
		// read; the newest record wins.
		all := make([]int32, st.partitions)
		for i := range all {
			all[i] = int32(i)
		}
		rec, err = w.loadPosition(ctx, all)
	}
	if err != nil || rec == nil || rec.Value == nil {
		return change.Position{}, false, err
	}
	pos, err = change.UnmarshalPosition(rec.Value)
	if err != nil {
		return change.Position{}, false, fmt.Errorf("shard %s: position at %s partition %d offset %d: %w: %w",
			w.shard, rec.Topic, rec.Partition, rec.Offset, ErrCorruptPosition, err)
	}
	return pos, true, nil
}

// OtherShards returns the names of the other shards that have a position
// stored in the positions topic (their latest record is not a tombstone),
// sorted. The daemon asks when this shard has none: other shards' positions
// then mean a renamed shard or a changed positions topic rather than a first
// start. It reads every partition of the topic to its end.
func (w *Writer) OtherShards(ctx context.Context) ([]string, error) {
	if _, err := w.connect(ctx); err != nil {
		return nil, err
	}
	st, err := w.ensurePositionsTopic(ctx)
	if err != nil {
		return nil, err
	}
	all := make([]int32, st.partitions)
	for i := range all {
		all[i] = int32(i)
	}
	live := map[string]bool{}
	err = w.scanPositions(ctx, all, func(r *kgo.Record) {
		if k := string(r.Key); k != w.shard {
			live[k] = r.Value != nil
		}
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for k, ok := range live {
		if ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

// loadPosition reads the given partitions of the positions topic to their
// ends and returns the newest record with the shard's key: the last one in
// a partition, the latest timestamp across partitions. nil when none.
func (w *Writer) loadPosition(ctx context.Context, partitions []int32) (*kgo.Record, error) {
	var latest *kgo.Record
	err := w.scanPositions(ctx, partitions, func(r *kgo.Record) {
		if string(r.Key) != w.shard {
			return
		}
		if latest == nil || latest.Partition == r.Partition || r.Timestamp.After(latest.Timestamp) {
			latest = r
		}
	})
	return latest, err
}

// scanPositions reads the given partitions of the positions topic from
// their start to their end (the last stable offset, so uncommitted
// transactional records are never seen) and calls fn with every data record.
func (w *Writer) scanPositions(ctx context.Context, partitions []int32, fn func(*kgo.Record)) error {
	c, err := w.connect(ctx)
	if err != nil {
		return err
	}
	topic := w.cfg.PositionsTopic
	starts, err := c.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("shard %s: start offsets of %s: %w", w.shard, topic, err)
	}
	ends, err := w.stableEnds(ctx, c, topic)
	if err != nil {
		return err
	}

	from := make(map[int32]kgo.Offset)
	until := make(map[int32]int64) // partition → end offset
	for _, p := range partitions {
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		if e.Offset > s.Offset {
			from[p] = kgo.NewOffset().At(s.Offset)
			until[p] = e.Offset
		}
	}
	if len(from) == 0 {
		return nil
	}

	cl, err := kgo.NewClient(append(w.commonOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) are kept so that every
		// offset up to the end is seen, even when the log ends with one.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("shard %s: create kafka consumer: %w", w.shard, err)
	}
	defer cl.Close()

	for len(until) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("shard %s: read positions from %s: %w", w.shard, topic, err)
		}
		if err := fs.Err(); err != nil {
			return fmt.Errorf("shard %s: read positions from %s: %w", w.shard, topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := until[r.Partition]; ok && r.Offset >= end-1 {
				delete(until, r.Partition)
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
		})
	}
	return nil
}

// stableEnds returns the positions topic's end offsets once every
// transaction open when it was called has ended. The topic is shared: with
// exactly-once delivery other shards' transactions are open at any
// moment, and a read_committed read stops at the first open one's offset
// (the last stable offset), before positions this shard committed after it
// began; resuming from such an older position would write committed
// records again. Transactions that begin later start beyond the end taken
// here, so the wait ends as the open ones commit: a commit interval
// usually, at most the transaction timeout.
func (w *Writer) stableEnds(ctx context.Context, c *conn, topic string) (kadm.ListedOffsets, error) {
	hwm, err := c.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = hwm.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("shard %s: end offsets of %s: %w", w.shard, topic, err)
	}
	began, warned := time.Now(), false
	for {
		lso, err := c.adm.ListCommittedOffsets(ctx, topic)
		if err == nil {
			err = lso.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("shard %s: last stable offsets of %s: %w", w.shard, topic, err)
		}
		stable := true
		hwm.Each(func(o kadm.ListedOffset) {
			if l, ok := lso.Lookup(topic, o.Partition); !ok || l.Offset < o.Offset {
				stable = false
			}
		})
		if stable {
			return hwm, nil
		}
		if !warned && time.Since(began) > 2*time.Second {
			w.log.Warn("waiting for other shards' open transactions on the positions topic before reading this shard's position",
				"topic", topic, "waited", time.Since(began).Round(time.Millisecond))
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("shard %s: wait for the open transactions on %s to end: %w", w.shard, topic, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
