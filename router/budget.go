package router

import (
	"context"
	"sync"
)

// recordOverhead approximates the memory a queued record costs beyond its
// bytes: the kgo.Record and its ack tag, kgo's batch bookkeeping, header
// slices. Counting it keeps the bound honest for tiny records (tombstones).
const recordOverhead = 256

// budget bounds the bytes of records written but not yet acknowledged.
// acquire blocks while the bound is reached; release is called from the
// acknowledgement path. A request larger than the whole budget is admitted
// when nothing else is in flight, so an oversized Write cannot deadlock.
type budget struct {
	limit int64

	mu   sync.Mutex
	used int64
	wake chan struct{} // closed and replaced on release; nil when no one waits
}

// acquire takes n bytes, waiting for releases. It gives up when ctx is done
// or stop is closed, returning ctx.Err() or errStopped.
func (b *budget) acquire(ctx context.Context, n int64, stop <-chan struct{}) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		if b.wake == nil {
			b.wake = make(chan struct{})
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-stop:
			return errStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
	b.mu.Unlock()
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
