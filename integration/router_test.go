package integration

// The router against the real Kafka broker of the stack: topic creation,
// key→partition affinity and per-key order, positions that never run ahead
// of acknowledgements, unreachable brokers, and a writer abandoned mid-run.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/router"
)

// routerEnv is one test's view of Kafka: a config with a positions topic of
// its own, an admin client, and every topic it names deleted at cleanup.
type routerEnv struct {
	s   *Stack
	cfg router.Config
	adm *kadm.Client
	cl  *kgo.Client
}

func newRouterEnv(t *testing.T) *routerEnv {
	t.Helper()
	s := stackEnv(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	e := &routerEnv{s: s, cl: cl, adm: kadm.NewClient(cl)}
	e.cfg = router.Config{
		Brokers:        s.Brokers,
		Partitions:     6,
		PositionsTopic: e.topic(t, "router.positions"),
		CommitInterval: 50 * time.Millisecond,
	}
	t.Cleanup(cl.Close)
	return e
}

// topic returns a unique topic name, deleted when the test ends.
func (e *routerEnv) topic(t *testing.T, prefix string) string {
	name := uniqueName(prefix)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.adm.DeleteTopics(ctx, name)
	})
	return name
}

func (e *routerEnv) writer(t *testing.T, shard string, log *slog.Logger) *router.Writer {
	t.Helper()
	w, err := router.NewWriter(e.cfg, shard, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// run starts w.Run; stop cancels it and returns Run's error.
func run(w *router.Writer) (stop func() error, done <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- w.Run(ctx) }()
	return func() error { cancel(); return <-ch }, ch
}

// loadPosition reads the shard's stored position through a new Writer.
func (e *routerEnv) loadPosition(t *testing.T, shard string) (change.Position, bool) {
	t.Helper()
	w := e.writer(t, shard, nil)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pos, ok, err := w.LoadPosition(ctx)
	if err != nil {
		t.Fatalf("load position of %s: %v", shard, err)
	}
	return pos, ok
}

func pos(n int) change.Position {
	return change.Position{Flavor: change.FlavorMariaDB, GTIDSet: "0-1-" + strconv.Itoa(n), File: "bin.000001", Pos: uint64(n)}
}

func posNumber(t *testing.T, p change.Position) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(p.GTIDSet, "0-1-"))
	if err != nil {
		t.Fatalf("stored position %s is not one of ours", p)
	}
	return n
}

// consumeAll reads every partition of topic from its start to its current
// end.
func (e *routerEnv) consumeAll(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := e.adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of %s: %v %v", topic, err, ends.Error())
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	if len(remaining) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.s.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("consume %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset >= remaining[r.Partition]-1 {
				delete(remaining, r.Partition)
			}
		})
	}
	return out
}

// A missing topic is created compacted, with the configured partitions and
// extra configs; ensuring it again (same or new Writer) is harmless; an
// existing topic that is not compacted is used, with one warning.
func TestRouterEnsureTopic(t *testing.T) {
	e := newRouterEnv(t)
	e.cfg.TopicConfig = map[string]string{"segment.bytes": "104857600"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	topic := e.topic(t, "router.ensure")
	var logs bytes.Buffer
	w := e.writer(t, "ensure1", slog.New(slog.NewTextHandler(&logs, nil)))
	for range 2 {
		if err := w.EnsureTopic(ctx, topic); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.writer(t, "ensure2", nil).EnsureTopic(ctx, topic); err != nil {
		t.Fatalf("ensure an existing topic with a new Writer: %v", err)
	}
	details, err := e.adm.ListTopics(ctx, topic)
	if err != nil || details[topic].Err != nil {
		t.Fatalf("list %s: %v %v", topic, err, details[topic].Err)
	}
	if n := len(details[topic].Partitions); n != 6 {
		t.Errorf("%s has %d partitions, want 6", topic, n)
	}
	configs := topicConfigs(t, e.adm, topic)
	if configs["cleanup.policy"] != "compact" || configs["segment.bytes"] != "104857600" {
		t.Errorf("%s configs: cleanup.policy=%q segment.bytes=%q, want compact and 104857600",
			topic, configs["cleanup.policy"], configs["segment.bytes"])
	}

	plain := e.topic(t, "router.plain")
	if _, err := e.adm.CreateTopic(ctx, 2, 1, map[string]*string{"cleanup.policy": new("delete")}, plain); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := w.EnsureTopic(ctx, plain); err != nil {
			t.Fatalf("ensure an existing non-compacted topic: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "not compacted"); n != 1 {
		t.Errorf("%d warnings about the non-compacted topic, want 1; logs:\n%s", n, logs.String())
	}
	if got := topicConfigs(t, e.adm, plain)["cleanup.policy"]; got != "delete" {
		t.Errorf("existing topic's cleanup.policy changed to %q", got)
	}

	// The record limit: the producer's batch limit under the broker's
	// default max.message.bytes, the topic's own when it is lower.
	brokerDefault, _ := strconv.Atoi(configs["max.message.bytes"])
	if limit, err := w.RecordLimit(ctx, topic); err != nil || limit != min(brokerDefault, router.DefaultBatchMaxBytes) {
		t.Errorf("record limit of %s: %d, %v; want min(max.message.bytes %d, the batch limit %d)", topic, limit, err, brokerDefault, router.DefaultBatchMaxBytes)
	}
	small := e.topic(t, "router.small")
	if _, err := e.adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": new("compact"), "max.message.bytes": new("300000")}, small); err != nil {
		t.Fatal(err)
	}
	if limit, err := w.RecordLimit(ctx, small); err != nil || limit != 300000 {
		t.Errorf("record limit of a topic with max.message.bytes 300000: %d, %v", limit, err)
	}
}

func topicConfigs(t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe configs of %s: %v %v", topic, err, rcs)
	}
	out := map[string]string{}
	for _, c := range rcs[0].Configs {
		if c.Value != nil {
			out[c.Key] = *c.Value
		}
	}
	return out
}

// 10,000 records over 500 keys: every key lands in PartitionFor(key), each
// key's versions arrive in write order, tombstones are null values, and the
// last position is stored.
func TestRouterPartitioningAndOrder(t *testing.T) {
	e := newRouterEnv(t)
	topic := e.topic(t, "router.order")
	w := e.writer(t, "order1", nil)
	stop, _ := run(w)
	ctx := context.Background()

	const keys, versions, perWrite = 500, 20, 100
	var batch []router.Record
	writes := 0
	for v := range versions {
		for k := range keys {
			r := router.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", k), Value: fmt.Appendf(nil, "%d", v),
				Headers: []router.Header{{Key: "version", Value: fmt.Appendf(nil, "%d", v)}}}
			if v == versions-1 && k%10 == 0 {
				r.Value = nil // the row was deleted: tombstone
			}
			batch = append(batch, r)
			if len(batch) == perWrite {
				writes++
				if err := w.Write(ctx, batch, pos(writes)); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0] // Write allows reusing the slice
			}
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	recs := e.consumeAll(t, topic)
	if len(recs) != keys*versions {
		t.Fatalf("%d records in %s, want %d", len(recs), topic, keys*versions)
	}
	last := map[string]int{}
	perPartition := map[int32]int{}
	for _, r := range recs {
		perPartition[r.Partition]++
		if want := router.PartitionFor(r.Key, 6); r.Partition != want {
			t.Fatalf("key %s in partition %d, want %d", r.Key, r.Partition, want)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "version" {
			t.Fatalf("key %s: headers %v", r.Key, r.Headers)
		}
		v, _ := strconv.Atoi(string(r.Headers[0].Value))
		if prev, seen := last[string(r.Key)]; seen && v != prev+1 || !seen && v != 0 {
			t.Fatalf("key %s: version %d after %d (offset %d): per-key order broken", r.Key, v, prev, r.Offset)
		}
		last[string(r.Key)] = v
		k, _ := strconv.Atoi(strings.TrimPrefix(string(r.Key), "key-"))
		tombstone := v == versions-1 && k%10 == 0
		if tombstone != (r.Value == nil) || !tombstone && string(r.Value) != strconv.Itoa(v) {
			t.Fatalf("key %s version %d: value %q (nil %t), tombstone expected %t", r.Key, v, r.Value, r.Value == nil, tombstone)
		}
	}
	if len(perPartition) != 6 {
		t.Errorf("records in %d partitions, want all 6: %v", len(perPartition), perPartition)
	}
	if p, ok := e.loadPosition(t, "order1"); !ok || posNumber(t, p) != writes {
		t.Fatalf("stored position %s (found %t), want %s", p, ok, pos(writes))
	}
}

// Positions: the last position survives into a new Writer; a record the
// client gives up on (too large) fails Run with a ProduceError naming the
// topic, and the stored position stays at the last good batch before it,
// although a later batch was acknowledged.
func TestRouterPositions(t *testing.T) {
	e := newRouterEnv(t)
	topic := e.topic(t, "router.positions_data")
	ctx := context.Background()

	t.Run("survive restart", func(t *testing.T) {
		if _, ok := e.loadPosition(t, "pos1"); ok {
			t.Fatal("position found before any was stored")
		}
		w := e.writer(t, "pos1", nil)
		stop, _ := run(w)
		for i := 1; i <= 5; i++ {
			if err := w.Write(ctx, []router.Record{{Topic: topic, Key: []byte("k"), Value: []byte(strconv.Itoa(i))}}, pos(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Write(ctx, nil, pos(6)); err != nil { // a checkpoint
			t.Fatal(err)
		}
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		p, ok := e.loadPosition(t, "pos1")
		if !ok || posNumber(t, p) != 6 || p.File != "bin.000001" || p.Pos != 6 {
			t.Fatalf("stored position %+v (found %t), want %+v", p, ok, pos(6))
		}
	})

	t.Run("never ahead of acknowledgements", func(t *testing.T) {
		w := e.writer(t, "pos2", nil)
		_, done := run(w)
		for i := 1; i <= 3; i++ {
			if err := w.Write(ctx, []router.Record{{Topic: topic, Key: fmt.Appendf(nil, "good-%d", i), Value: []byte("ok")}}, pos(i)); err != nil {
				t.Fatal(err)
			}
		}
		tooLarge := router.Record{Topic: topic, Key: []byte("huge"), Value: bytes.Repeat([]byte("x"), 1100<<10)}
		if err := w.Write(ctx, []router.Record{tooLarge}, pos(4)); err != nil {
			t.Fatalf("Write enqueues, it does not wait for the broker: %v", err)
		}
		// Accepted (or refused if the writer already stopped), but its
		// position must never be stored.
		_ = w.Write(ctx, []router.Record{{Topic: topic, Key: []byte("after"), Value: []byte("ok")}}, pos(5))

		var err error
		select {
		case err = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("Run did not stop after a record too large")
		}
		var pe *router.ProduceError
		if !errors.As(err, &pe) || pe.Topic != topic || !errors.Is(err, kerr.MessageTooLarge) || daemon.Retryable(err) {
			t.Fatalf("Run: %v, want a terminal ProduceError for %s with MESSAGE_TOO_LARGE", err, topic)
		}
		t.Logf("Run stopped with: %v", err)
		if !strings.Contains(err.Error(), topic) || !strings.Contains(err.Error(), "partition") {
			t.Errorf("error does not name topic and partition: %v", err)
		}
		if err := w.Write(ctx, nil, pos(6)); !errors.As(err, &pe) {
			t.Errorf("Write after the failure: %v, want the ProduceError", err)
		}
		p, ok := e.loadPosition(t, "pos2")
		if !ok || posNumber(t, p) != 3 {
			t.Fatalf("stored position %s (found %t), want %s: the last good batch before the failure", p, ok, pos(3))
		}
	})
}

// Unreachable brokers make Run (and LoadPosition) fail with an error naming
// them, bounded by ConnectTimeout, whether the port refuses connections or
// accepts them and never answers (a hung broker, a wrong port).
func TestRouterUnreachableBrokers(t *testing.T) {
	stackEnv(t) // only to follow TIDEMARK_REQUIRE_STACK like the other tests
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn // accepted, never answered
		for {
			c, err := silent.Accept()
			if err != nil { // the listener closed at the end of the test
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	for _, brokers := range [][]string{{"127.0.0.1:1"}, {silent.Addr().String()}} {
		t.Run(brokers[0], func(t *testing.T) {
			cfg := router.Config{Brokers: brokers, ConnectTimeout: 3 * time.Second}
			w, err := router.NewWriter(cfg, "unreachable", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			err = w.Run(ctx)
			var ue *router.UnreachableError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), brokers[0]) || ctx.Err() != nil || !daemon.Retryable(err) {
				t.Fatalf("Run: %v, want a retryable UnreachableError naming %s before the test's deadline", err, brokers[0])
			}
			t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
			w2, _ := router.NewWriter(cfg, "unreachable", nil, nil)
			defer w2.Close()
			if _, _, err := w2.LoadPosition(ctx); !errors.As(err, &ue) {
				t.Fatalf("LoadPosition: %v, want an UnreachableError", err)
			}
		})
	}
}

// A writer abandoned mid-stream (its client closed under it, as if the
// process were killed) leaves a stored position whose records are all in
// Kafka: the position is never ahead of what was acknowledged.
func TestRouterAbandonedWriter(t *testing.T) {
	e := newRouterEnv(t)
	topic := e.topic(t, "router.abandon")
	w := e.writer(t, "abandon1", nil)
	_, done := run(w)

	const perWrite = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written int
	)
	ctx, stopWriting := context.WithCancel(context.Background())
	wg.Go(func() {
		for i := 1; ctx.Err() == nil; i++ {
			rs := make([]router.Record, perWrite)
			for j := range rs {
				rs[j] = router.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", j*7+i%7), Value: fmt.Appendf(nil, "%d/%d", i, j)}
			}
			if err := w.Write(ctx, rs, pos(i)); err != nil {
				return
			}
			mu.Lock()
			written = i
			mu.Unlock()
		}
	})
	eventually(t, 60*time.Second, "a position stored while writing", func() error {
		if _, ok := e.loadPosition(t, "abandon1"); !ok {
			return errors.New("none yet")
		}
		return nil
	})
	w.Close() // the kill: buffered records are dropped, no drain
	stopWriting()
	wg.Wait()
	<-done

	p, ok := e.loadPosition(t, "abandon1")
	if !ok {
		t.Fatal("no stored position")
	}
	stored := posNumber(t, p)
	have := map[string]bool{}
	for _, r := range e.consumeAll(t, topic) {
		have[string(r.Value)] = true
	}
	for i := 1; i <= stored; i++ {
		for j := range perWrite {
			if v := fmt.Sprintf("%d/%d", i, j); !have[v] {
				t.Fatalf("stored position %d, but record %s of write %d is not in Kafka", stored, v, i)
			}
		}
	}
	t.Logf("%d writes, position %d stored, %d records in Kafka", written, stored, len(have))
}

// Throughput of one Writer to the single local broker: 200,000 records of
// ~600 bytes over 12 partitions, measured from the first Write to the end of
// the drain, per codec and Write size. Logged, never asserted.
func TestRouterThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput measurement skipped in -short mode")
	}
	for _, c := range []struct {
		compression string
		perWrite    int
		exactlyOnce bool
	}{{"lz4", 100, false}, {"zstd", 100, false}, {"lz4", 1, false}, {"lz4", 100, true}} {
		name := fmt.Sprintf("%s/%d-per-write", c.compression, c.perWrite)
		if c.exactlyOnce {
			name += "/exactly-once"
		}
		t.Run(name, func(t *testing.T) {
			e := newRouterEnv(t)
			e.cfg.Partitions = 12
			e.cfg.Compression = c.compression
			if c.exactlyOnce { // as the daemon runs it: transactions every 100ms
				e.cfg.TransactionalID, e.cfg.CommitInterval = uniqueName("tidemark.throughput"), 100*time.Millisecond
			}
			measureThroughput(t, e, c.perWrite)
		})
	}
}

func measureThroughput(t *testing.T, e *routerEnv, perWrite int) {
	const total, size = 200_000, 600
	topic := e.topic(t, "router.throughput")
	w := e.writer(t, "throughput1", nil)
	ctx := context.Background()
	if err := w.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	stop, _ := run(w)

	filler := bytes.Repeat([]byte("tidemark-avro-payload-"), size/22+1)[:size-30]
	batch := make([]router.Record, perWrite)
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < total; i += perWrite {
		for j := range batch {
			n := i + j
			// Distinct values so compression does not flatter the figure.
			v := append(strconv.AppendInt(make([]byte, 0, size), int64(n)*2654435761, 36), filler...)
			batch[j] = router.Record{Topic: topic, Key: fmt.Appendf(nil, "customer-%08d", n), Value: v,
				CommitUnixMicros: time.Now().UnixMicro()}
		}
		if err := w.Write(ctx, batch, pos(i/perWrite+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	t.Logf("%d records of %d bytes in %s: %.0f records/s, %.1f MB/s; process CPU %s (%.2f cores, %.1f µs/record, test's record building included)",
		total, size, elapsed.Round(time.Millisecond), total/elapsed.Seconds(), total*size/elapsed.Seconds()/1e6,
		cpu.Round(time.Millisecond), cpu.Seconds()/elapsed.Seconds(), float64(cpu.Microseconds())/total)
	e.cfg.TransactionalID = "" // reading the position must not fence anyone
	if p, ok := e.loadPosition(t, "throughput1"); !ok || posNumber(t, p) != total/perWrite {
		t.Fatalf("stored position %s, want %s", p, pos(total/perWrite))
	}
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
