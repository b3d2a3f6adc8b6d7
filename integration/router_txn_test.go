package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/router"
)

// consumeCommitted reads topic as a read_committed consumer, from the
// start to the last stable offsets.
func (e *routerEnv) consumeCommitted(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lso, err := e.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("last stable offsets of %s: %v", topic, err)
	}
	left := map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	if len(left) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.s.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: partitions %v unfinished", topic, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok {
				return
			}
			if r.Offset >= end-1 { // or after it: see readTopic
				delete(left, r.Partition)
			}
			if r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// committedPosition reads the shard's position without a transactional id
// (a reader with the shard's id would fence the writer under test).
func (e *routerEnv) committedPosition(t *testing.T, shard string) (change.Position, bool) {
	t.Helper()
	saved := e.cfg.TransactionalID
	e.cfg.TransactionalID = ""
	defer func() { e.cfg.TransactionalID = saved }()
	return e.loadPosition(t, shard)
}

// waitCommitted waits until the shard's committed position is pos(n).
func (e *routerEnv) waitCommitted(t *testing.T, shard string, n int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("position %d committed", n), func() error {
		if p, ok := e.committedPosition(t, shard); !ok || posNumber(t, p) != n {
			return fmt.Errorf("position %v %v", p, ok)
		}
		return nil
	})
}

// The transactional Writer on the real broker: committed Writes are seen by
// read_committed consumers with their position; the records of a
// transaction still open when the writer dies (inside a MySQL transaction:
// WritePartial) never are; the next writer with the same transactional id
// aborts that transaction and resumes from the committed position; and a
// writer fenced by a newer one stops with ErrFenced.
func TestRouterTransactions(t *testing.T) {
	e := newRouterEnv(t)
	e.cfg.TransactionalID = uniqueName("tidemark.txn")
	e.cfg.CommitInterval = 50 * time.Millisecond
	topic := e.topic(t, "router.txn")
	ctx := context.Background()
	batch := func(i, n int) []router.Record {
		rs := make([]router.Record, n)
		for j := range rs {
			rs[j] = router.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", j), Value: fmt.Appendf(nil, "%d/%d", i, j)}
		}
		return rs
	}

	w1 := e.writer(t, "txn1", nil)
	_, done1 := run(w1)
	for i := 1; i <= 10; i++ {
		if err := w1.Write(ctx, batch(i, 5), pos(i)); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCommitted(t, "txn1", 10)
	// Records of a MySQL transaction not yet complete, then the crash.
	if err := w1.WritePartial(ctx, batch(11, 5), pos(10)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // several commit intervals: none may commit them
	w1.Close()
	<-done1
	if got := e.consumeCommitted(t, topic); len(got) != 50 {
		t.Fatalf("read_committed sees %d records after the crash, want the 50 of committed writes", len(got))
	}

	// The next writer: it aborts the dead one's transaction and resumes.
	w2 := e.writer(t, "txn1", nil)
	p, ok, err := w2.LoadPosition(ctx)
	if err != nil || !ok || posNumber(t, p) != 10 {
		t.Fatalf("resume position %v %v %v, want 10", p, ok, err)
	}
	stop2, done2 := run(w2)
	for i := 11; i <= 13; i++ {
		if err := w2.Write(ctx, batch(i, 5), pos(i)); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCommitted(t, "txn1", 13)
	seen := map[string]int{}
	for _, r := range e.consumeCommitted(t, topic) {
		seen[string(r.Value)]++
	}
	if len(seen) != 65 {
		t.Errorf("%d distinct records, want 65 (13 writes of 5)", len(seen))
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %s seen %d times", v, n)
		}
	}

	// A newer writer of the shard fences w2.
	w3 := e.writer(t, "txn1", nil)
	if _, _, err := w3.LoadPosition(ctx); err != nil {
		t.Fatal(err)
	}
	_ = w2.Write(ctx, batch(14, 5), pos(14))
	select {
	case err := <-done2:
		if !errors.Is(err, router.ErrFenced) {
			t.Fatalf("the fenced writer's Run: %v, want ErrFenced", err)
		}
		t.Logf("fenced: %v", err)
	case <-time.After(30 * time.Second):
		_ = stop2()
		t.Fatal("the fenced writer is still running")
	}
	if p, _ := e.committedPosition(t, "txn1"); posNumber(t, p) != 13 {
		t.Errorf("position %v after the fenced write, want 13", p)
	}
}
