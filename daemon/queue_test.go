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
