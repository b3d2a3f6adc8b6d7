package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
)

func TestEventQueueBoundsBytesAndKeepsOrder(t *testing.T) {
	q := newEventQueue(100)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := q.Put(ctx, change.Event{Size: 50, Source: change.Source{TxSeq: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Full: a third Put must block until something is taken.
	put := make(chan error, 1)
	go func() { put <- q.Put(ctx, change.Event{Size: 50, Source: change.Source{TxSeq: 2}}) }()
	select {
	case err := <-put:
		t.Fatalf("Put over the byte limit returned early (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	got, ok, err := q.Take(ctx, nil, 1)
	if err != nil || !ok || len(got) != 1 || got[0].Source.TxSeq != 0 {
		t.Fatalf("Take = %v %v %v, want the first event", got, ok, err)
	}
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	q.Close()
	var seqs []int64
	for {
		got, ok, err = q.Take(ctx, got, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		for _, ev := range got {
			seqs = append(seqs, ev.Source.TxSeq)
		}
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("drained %v after close, want [1 2]", seqs)
	}
	if q.Bytes() != 0 {
		t.Fatalf("bytes after drain = %d", q.Bytes())
	}
}

func TestEventQueueAdmitsOversizedEventWhenEmpty(t *testing.T) {
	q := newEventQueue(10)
	if err := q.Put(context.Background(), change.Event{Size: 1 << 20}); err != nil {
		t.Fatalf("oversized event into an empty queue: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Put(ctx, change.Event{Size: 1}); err == nil {
		t.Fatal("Put into a full queue with a cancelled context succeeded")
	}
}

// A queue that never empties holds no more blocks than its events need:
// consumed blocks are recycled, whatever the traffic through it.
func TestEventQueueSteadyBacklogKeepsItsMemorySmall(t *testing.T) {
	q := newEventQueue(1 << 30)
	ctx := context.Background()
	var buf []change.Event
	for i := 0; i < 1000; i++ { // a standing backlog of 1000 events
		_ = q.Put(ctx, change.Event{Size: 1})
	}
	for i := 0; i < 100_000; i++ { // then one in, one out, for a long time
		_ = q.Put(ctx, change.Event{Size: 1, Source: change.Source{TxSeq: int64(i)}})
		buf, _, _ = q.Take(ctx, buf, 1)
	}
	q.mu.Lock()
	blocks, count := 0, q.count
	for c := q.head; c != nil; c = c.next {
		blocks++
	}
	q.mu.Unlock()
	if want := count/queueChunk + 2; blocks > want || count != 1000 {
		t.Fatalf("%d blocks for %d events, want at most %d", blocks, count, want)
	}
	// Order survives the block boundaries.
	buf, _, _ = q.Take(ctx, buf, 2000)
	for i := 1; i < len(buf); i++ {
		if buf[i].Source.TxSeq != buf[i-1].Source.TxSeq+1 {
			t.Fatalf("order broken at %d: %d after %d", i, buf[i].Source.TxSeq, buf[i-1].Source.TxSeq)
		}
	}
}

func BenchmarkEventQueue(b *testing.B) {
	q := newEventQueue(64 << 20)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		var buf []change.Event
		for {
			var ok bool
			buf, ok, _ = q.Take(ctx, buf, 256)
			if !ok {
				close(done)
				return
			}
		}
	}()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = q.Put(ctx, change.Event{Size: 500})
	}
	q.Close()
	<-done
}
