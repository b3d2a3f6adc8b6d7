package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/change"
)

const testPartitions = 3

// fakeSink stands in for the Kafka client: data records wait until the
// test acknowledges (or fails) them, in whatever order it chooses; position
// records are acknowledged at once and recorded.
type fakeSink struct {
	positionsTopic string
	autoAck        bool // acknowledge data records inside Produce (benchmarks)

	mu      sync.Mutex
	data    []*produced
	open    int           // data records not yet acknowledged
	wake    chan struct{} // closed and replaced on every acknowledgement
	commits []change.Position
}

type produced struct {
	rec     *kgo.Record
	promise func(*kgo.Record, error)
	done    bool
	// copies taken at Produce time: the Writer recycles rec after the ack
	topic      string
	key, value []byte
	headers    []kgo.RecordHeader
}

func newFakeSink() *fakeSink {
	return &fakeSink{positionsTopic: DefaultPositionsTopic, wake: make(chan struct{})}
}

func (f *fakeSink) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	r.Partition = int32(partitionRecord(r, testPartitions))
	if r.Topic == f.positionsTopic {
		pos, err := change.UnmarshalPosition(r.Value)
		if err != nil {
			panic(err)
		}
		f.mu.Lock()
		f.commits = append(f.commits, pos)
		f.mu.Unlock()
		promise(r, nil)
		return
	}
	if f.autoAck {
		promise(r, nil)
		return
	}
	p := &produced{rec: r, promise: promise, topic: r.Topic, key: r.Key, value: r.Value,
		headers: append([]kgo.RecordHeader(nil), r.Headers...)}
	f.mu.Lock()
	f.data = append(f.data, p)
	f.open++
	f.mu.Unlock()
}

// ack completes the i-th data record produced (0-based) with err.
func (f *fakeSink) ack(t *testing.T, i int, err error) {
	t.Helper()
	f.mu.Lock()
	if i >= len(f.data) || f.data[i].done {
		f.mu.Unlock()
		t.Fatalf("ack of record %d: not produced or already acknowledged", i)
	}
	p := f.data[i]
	p.done = true
	f.open--
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
	p.promise(p.rec, err)
}

func (f *fakeSink) produced() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.data)
}

func (f *fakeSink) Flush(ctx context.Context) error {
	for {
		f.mu.Lock()
		open, wake := f.open, f.wake
		f.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lastCommit is the newest stored position's GTID set, "" for none.
func (f *fakeSink) lastCommit() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.commits) == 0 {
		return ""
	}
	return f.commits[len(f.commits)-1].GTIDSet
}

func newTestWriter(t testing.TB, f *fakeSink, modify func(*Config)) *Writer {
	t.Helper()
	cfg := validConfig()
	cfg.CommitInterval = time.Millisecond
	cfg.DrainTimeout = 10 * time.Second
	if modify != nil {
		modify(&cfg)
	}
	w, err := NewWriter(cfg, "shard1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.conn = &conn{sink: f}
	w.topics["t"] = topicState{partitions: testPartitions, compacted: true}
	w.topics["plain"] = topicState{partitions: testPartitions, compacted: false}
	w.topics[w.cfg.PositionsTopic] = topicState{partitions: 1, compacted: true}
	return w
}

// recs returns n records for topic "t" whose keys are spread over partitions.
func recs(batch, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{Topic: "t", Key: fmt.Appendf(nil, "k%d-%d", batch, i), Value: []byte("v")}
	}
	return out
}

func mustWrite(t *testing.T, w *Writer, rs []Record, pos int) {
	t.Helper()
	if err := w.Write(context.Background(), rs, gtid(pos)); err != nil {
		t.Fatalf("write position %d: %v", pos, err)
	}
}

func mustCommit(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.commit(context.Background(), w.conn); err != nil {
		t.Fatal(err)
	}
}

func wantCommitted(t *testing.T, f *fakeSink, pos int, why string) {
	t.Helper()
	want := ""
	if pos > 0 {
		want = gtid(pos).GTIDSet
	}
	if got := f.lastCommit(); got != want {
		t.Fatalf("%s: stored position %q, want %q", why, got, want)
	}
}

func TestWriterCommitsOnlyAcknowledgedPrefix(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, nil)
	mustWrite(t, w, recs(1, 2), 1) // records 0, 1
	mustWrite(t, w, recs(2, 1), 2) // record 2
	mustWrite(t, w, recs(3, 2), 3) // records 3, 4
	mustWrite(t, w, nil, 4)        // checkpoint

	steps := []struct {
		ack  int
		want int
		why  string
	}{
		{4, 0, "a record of batch 3 (another partition) first"},
		{2, 0, "batch 2 complete, batch 1 not"},
		{0, 0, "half of batch 1"},
		{1, 2, "batch 1 complete: batches 1 and 2 are committable"},
		{3, 4, "batch 3 complete: the checkpoint after it too"},
	}
	for _, s := range steps {
		f.ack(t, s.ack, nil)
		mustCommit(t, w)
		wantCommitted(t, f, s.want, s.why)
	}
	mustCommit(t, w)
	if n := len(f.commits); n != 2 {
		t.Fatalf("%d commits, want 2 (a position is stored once, not on every tick)", n)
	}
}

func TestWriterFailedRecordStopsAndBlocksLaterPositions(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, nil)
	mustWrite(t, w, recs(1, 1), 1) // record 0
	mustWrite(t, w, recs(2, 2), 2) // records 1, 2: record 1 fails
	mustWrite(t, w, recs(3, 1), 3) // record 3

	f.ack(t, 0, nil)
	f.ack(t, 1, kerr.MessageTooLarge)
	f.ack(t, 2, nil)
	f.ack(t, 3, nil)
	mustCommit(t, w)
	wantCommitted(t, f, 1, "after a failed record in batch 2")

	err := w.Write(context.Background(), recs(4, 1), gtid(4))
	var pe *ProduceError
	if !errors.As(err, &pe) {
		t.Fatalf("Write after a failure: %v, want *ProduceError", err)
	}
	if pe.Topic != "t" || pe.Partition != PartitionFor([]byte("k2-0"), testPartitions) ||
		!errors.Is(err, kerr.MessageTooLarge) || pe.Shard != "shard1" {
		t.Fatalf("ProduceError = %+v", pe)
	}
	for _, part := range []string{"shard1", "topic t", "partition", "MESSAGE_TOO_LARGE"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %q", err, part)
		}
	}
	if f.produced() != 4 {
		t.Errorf("%d records produced, want 4 (nothing after the failure)", f.produced())
	}
	if got := w.budget.inUse(); got != 0 {
		t.Errorf("budget holds %d bytes after every record completed", got)
	}
}

func runWriter(t *testing.T, w *Writer) (cancel func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- w.Run(ctx) }()
	t.Cleanup(cancel)
	return cancel, ch
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWriterRunCommitsPeriodicallyAndDrainsOnCancel(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, nil)
	cancel, done := runWriter(t, w)

	mustWrite(t, w, recs(1, 3), 1)
	for i := range 3 {
		f.ack(t, i, nil)
	}
	await(t, "position 1 stored by the commit loop", func() bool { return f.lastCommit() == gtid(1).GTIDSet })

	mustWrite(t, w, recs(2, 2), 2)
	mustWrite(t, w, nil, 3)
	cancel()
	// Run is draining: it waits for the records handed to the client.
	f.ack(t, 4, nil)
	f.ack(t, 3, nil)
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel and a complete drain: %v", err)
	}
	wantCommitted(t, f, 3, "final commit of the drain")
	if err := w.Write(context.Background(), recs(9, 1), gtid(9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Run returned: %v, want ErrClosed", err)
	}
}

func TestWriterRunReturnsProduceErrorAfterCommittingGoodPrefix(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, nil)
	_, done := runWriter(t, w)

	mustWrite(t, w, recs(1, 2), 1) // 0, 1
	mustWrite(t, w, recs(2, 1), 2) // 2: fails
	mustWrite(t, w, recs(3, 1), 3) // 3
	f.ack(t, 2, kerr.TopicAuthorizationFailed)
	// Run now drains: the records before the failure are still acknowledged.
	f.ack(t, 3, nil)
	f.ack(t, 1, nil)
	f.ack(t, 0, nil)
	err := <-done
	var pe *ProduceError
	if !errors.As(err, &pe) || !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Run: %v, want the ProduceError", err)
	}
	wantCommitted(t, f, 1, "stored position after the failure")
}

func TestWriterDrainTimeout(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, func(c *Config) { c.DrainTimeout = 50 * time.Millisecond })
	cancel, done := runWriter(t, w)
	mustWrite(t, w, recs(1, 1), 1)
	mustWrite(t, w, recs(2, 1), 2)
	f.ack(t, 0, nil)
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "drain") {
		t.Fatalf("Run with an unacknowledged record at shutdown: %v, want a drain error", err)
	}
	wantCommitted(t, f, 1, "position after an incomplete drain")
}

func TestWriterMemoryBound(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, func(c *Config) { c.MaxInFlightBytes = 1 << 20 })
	big := func(b int) []Record {
		return []Record{{Topic: "t", Key: []byte{byte(b)}, Value: make([]byte, 300<<10)}}
	}
	for i := range 3 {
		mustWrite(t, w, big(i), i+1)
	}
	returned := make(chan error, 1)
	go func() { returned <- w.Write(context.Background(), big(4), gtid(4)) }()
	await(t, "the fourth Write blocks on the budget", func() bool {
		w.budget.mu.Lock()
		defer w.budget.mu.Unlock()
		return w.budget.wake != nil
	})
	select {
	case err := <-returned:
		t.Fatalf("fourth Write returned (%v) with the budget full", err)
	default:
	}
	f.ack(t, 0, nil)
	if err := <-returned; err != nil {
		t.Fatal(err)
	}
	if got, limit := w.budget.inUse(), w.cfg.MaxInFlightBytes; got > limit {
		t.Fatalf("in flight %d > limit %d", got, limit)
	}

	// A blocked Write gives up when its context ends, enqueuing nothing.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { returned <- w.Write(ctx, big(5), gtid(5)) }()
	await(t, "the fifth Write blocks", func() bool {
		w.budget.mu.Lock()
		defer w.budget.mu.Unlock()
		return w.budget.wake != nil
	})
	cancel()
	if err := <-returned; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Write after cancel: %v", err)
	}
	if f.produced() != 4 {
		t.Fatalf("%d records produced, want 4", f.produced())
	}

	// And when the Writer stops on a produce error.
	go func() { returned <- w.Write(context.Background(), big(6), gtid(6)) }()
	await(t, "the sixth Write blocks", func() bool {
		w.budget.mu.Lock()
		defer w.budget.mu.Unlock()
		return w.budget.wake != nil
	})
	f.ack(t, 1, kerr.MessageTooLarge)
	var pe *ProduceError
	if err := <-returned; !errors.As(err, &pe) {
		t.Fatalf("blocked Write when the writer stopped: %v", err)
	}
}

func TestWriterAdmitsOversizedWriteAlone(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, func(c *Config) { c.MaxInFlightBytes = 1 << 20 })
	huge := []Record{{Topic: "t", Key: []byte("k"), Value: make([]byte, 2<<20)}}
	mustWrite(t, w, huge, 1) // nothing in flight: admitted
	if f.produced() != 1 {
		t.Fatal("oversized record not produced")
	}
}

func TestWriterKeylessRecords(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, nil)
	rs := append(recs(1, 2), Record{Topic: "t", Value: []byte("no key")})
	err := w.Write(context.Background(), rs, gtid(1))
	if !errors.Is(err, ErrKeylessCompacted) || !strings.Contains(err.Error(), "topic t") {
		t.Fatalf("keyless record for a compacted topic: %v", err)
	}
	if f.produced() != 0 {
		t.Fatalf("%d records produced by a refused Write, want none", f.produced())
	}
	mustWrite(t, w, []Record{{Topic: "plain", Value: []byte("a")}, {Topic: "plain", Value: []byte("b")}}, 1)
	for i := range 2 {
		if p := f.data[i].rec.Partition; p != keylessPartition {
			t.Errorf("keyless record %d in partition %d, want %d", i, p, keylessPartition)
		}
	}
}

func TestWriterPassesRecordsThrough(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, nil)
	in := []Record{
		{Topic: "t", Key: []byte("k1"), Value: []byte("v1"), Headers: []Header{{Key: "h", Value: []byte("x")}}},
		{Topic: "t", Key: []byte("k1"), Value: nil}, // tombstone
	}
	mustWrite(t, w, in, 1)
	for i, p := range f.data {
		if p.topic != in[i].Topic || !bytes.Equal(p.key, in[i].Key) || !bytes.Equal(p.value, in[i].Value) ||
			(p.value == nil) != (in[i].Value == nil) {
			t.Errorf("record %d: got %s %q=%q, want %s %q=%q", i, p.topic, p.key, p.value, in[i].Topic, in[i].Key, in[i].Value)
		}
	}
	if h := f.data[0].headers; len(h) != 1 || h[0].Key != "h" || string(h[0].Value) != "x" {
		t.Errorf("headers = %v", h)
	}
	if len(f.data[1].headers) != 0 {
		t.Errorf("second record inherited headers: %v", f.data[1].headers)
	}
	f.ack(t, 0, nil)
	f.ack(t, 1, nil)
	mustCommit(t, w)
	wantCommitted(t, f, 1, "after both acks")
}

func TestWriterUnreachableBrokers(t *testing.T) {
	cfg := Config{Brokers: []string{"127.0.0.1:1", "127.0.0.1:2"}, ConnectTimeout: 3 * time.Second}
	w, err := NewWriter(cfg, "shard1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	err = w.Run(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "127.0.0.1:1,127.0.0.1:2") {
		t.Fatalf("Run with unreachable brokers: %v, want a retryable *UnreachableError naming them", err)
	}
	t.Logf("unreachable after %s: %v", time.Since(start).Round(time.Millisecond), err)
}

// BenchmarkWrite measures the in-process write path (checks, budget,
// tracker, record conversion, acknowledgement) with a sink that acknowledges
// at once: the router's own CPU cost per record, without the network.
func BenchmarkWrite(b *testing.B) {
	for _, perWrite := range []int{1, 100} {
		b.Run(fmt.Sprintf("%d-records-per-write", perWrite), func(b *testing.B) {
			f := newFakeSink()
			f.autoAck = true
			w := newTestWriter(b, f, nil)
			rs := make([]Record, perWrite)
			for i := range rs {
				rs[i] = Record{Topic: "t", Key: fmt.Appendf(nil, "key-%06d", i), Value: make([]byte, 600),
					Headers: []Header{{Key: "tidemark.shard", Value: []byte("shard1")}}, CommitUnixMicros: 1}
			}
			pos := gtid(1)
			ctx := context.Background()
			b.SetBytes(int64(600 * perWrite))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Write(ctx, rs, pos); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*perWrite)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func TestWriterPositionChecks(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, nil)
	for _, p := range []change.Position{
		{GTIDSet: "0-1-5"}, // no flavor: could not be loaded back
		{Flavor: change.FlavorMySQL, GTIDSet: "u:1-5", Snapshot: []byte("{not json")},
	} {
		err := w.Write(context.Background(), recs(1, 1), p)
		if !errors.Is(err, ErrInvalidPosition) {
			t.Errorf("Write at %+v: %v, want terminal ErrInvalidPosition", p, err)
		}
	}
	if f.produced() != 0 {
		t.Fatal("records of a refused Write were produced")
	}
	// The zero position ("start from the server's current position") is
	// accepted but never stored: it could not be loaded back.
	if err := w.Write(context.Background(), nil, change.Position{}); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, w)
	wantCommitted(t, f, 0, "zero position")
	mustWrite(t, w, nil, 7)
	mustCommit(t, w)
	wantCommitted(t, f, 7, "checkpoint after the zero position")
}

func TestWriterLifecycle(t *testing.T) {
	f := newFakeSink()
	w := newTestWriter(t, f, nil)
	stop, done := runWriter(t, w)
	await(t, "Run started", w.running.Load)
	if err := w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second Run: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.Close()
	w.Close()
	if err := w.Write(context.Background(), recs(1, 1), gtid(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if _, err := NewWriter(validConfig(), "", nil, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("empty shard name: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	if again := NewMetrics(reg); again.records != m.records {
		t.Fatal("a second NewMetrics on one registry did not reuse the collectors")
	}
	f := newFakeSink()
	cfg := validConfig()
	w, err := NewWriter(cfg, "shard7", nil, m)
	if err != nil {
		t.Fatal(err)
	}
	w.conn = &conn{sink: f}
	w.topics["t"] = topicState{partitions: testPartitions, compacted: true}
	rs := recs(1, 3)
	rs[0].CommitUnixMicros = time.Now().Add(-2 * time.Second).UnixMicro()
	mustWrite(t, w, rs, 1)
	for i := range 3 {
		f.ack(t, i, nil)
	}
	mustCommit(t, w)
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			if mt.GetLabel()[0].GetValue() != "shard7" {
				continue
			}
			switch {
			case mt.GetCounter() != nil:
				got[mf.GetName()] = mt.GetCounter().GetValue()
			case mt.GetHistogram() != nil:
				got[mf.GetName()] = float64(mt.GetHistogram().GetSampleCount())
				got[mf.GetName()+"_sum"] = mt.GetHistogram().GetSampleSum()
			case mt.GetGauge() != nil:
				got[mf.GetName()] = mt.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"tidemark_router_records_produced_total": 3,
		"tidemark_router_produced_bytes_total":   float64(rs[0].size() + rs[1].size() + rs[2].size()),
		"tidemark_router_commit_to_ack_seconds":  1, // records without a commit time are not observed
		"tidemark_router_position_commits_total": 1,
		"tidemark_router_in_flight_bytes":        0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if s := got["tidemark_router_commit_to_ack_seconds_sum"]; s < 2 || s > 60 {
		t.Errorf("commit-to-ack latency %vs, want about 2s", s)
	}
}

// A panic in an acknowledgement (called on the client's goroutine) stops the
// Writer with a *change.PanicError instead of ending the process.
func TestOnAckPanicStopsWriter(t *testing.T) {
	w := newTestWriter(t, newFakeSink(), nil)
	w.onAck(&kgo.Record{Topic: "t"}, nil) // no ackTag: a bug in the write path
	var p *change.PanicError
	if err := w.stopErr(); !errors.As(err, &p) || p.Stage != "kafka ack" {
		t.Fatalf("writer stopped with %v, want a PanicError of the ack", err)
	}
}
