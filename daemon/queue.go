package daemon

import (
	"context"
	"sync"

	"github.com/tidemark-cdc/tidemark/change"
)

// eventQueue is a FIFO of events bounded in bytes (change.Event.Size), the
// buffer between a shard's binlog reader and its encoder. Put blocks while the
// queue holds more than its limit; a single event larger than the limit is
// still admitted when the queue is empty, so a huge row cannot deadlock the
// pipeline but never shares the queue with others.
type eventQueue struct {
	mu       sync.Mutex
	notFull  chan struct{} // closed and replaced whenever bytes drop
	notEmpty chan struct{} // closed and replaced whenever an event is added
	items    []change.Event
	head     int
	bytes    int64
	limit    int64
	closed   bool
}

func newEventQueue(limit int64) *eventQueue {
	return &eventQueue{limit: limit, notFull: make(chan struct{}), notEmpty: make(chan struct{})}
}

// Put appends ev, blocking while the queue is over its byte limit.
func (q *eventQueue) Put(ctx context.Context, ev change.Event) error {
	size := int64(ev.Size)
	for {
		q.mu.Lock()
		if q.bytes == 0 || q.bytes+size <= q.limit {
			q.items = append(q.items, ev)
			q.bytes += size
			close(q.notEmpty)
			q.notEmpty = make(chan struct{})
			q.mu.Unlock()
			return nil
		}
		wait := q.notFull
		q.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close marks the end of input: Take drains what is left, then reports done.
func (q *eventQueue) Close() {
	q.mu.Lock()
	q.closed = true
	close(q.notEmpty)
	q.notEmpty = make(chan struct{})
	q.mu.Unlock()
}

// Take moves up to max queued events into buf (reusing its storage), blocking
// until at least one is available. ok is false once the queue is closed and
// empty.
func (q *eventQueue) Take(ctx context.Context, buf []change.Event, max int) (_ []change.Event, ok bool, err error) {
	buf = buf[:0]
	for {
		q.mu.Lock()
		if n := len(q.items) - q.head; n > 0 {
			if n > max {
				n = max
			}
			var freed int64
			for _, ev := range q.items[q.head : q.head+n] {
				buf = append(buf, ev)
				freed += int64(ev.Size)
			}
			clear(q.items[q.head : q.head+n]) // drop references for the GC
			q.head += n
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			q.bytes -= freed
			close(q.notFull)
			q.notFull = make(chan struct{})
			q.mu.Unlock()
			return buf, true, nil
		}
		if q.closed {
			q.mu.Unlock()
			return buf, false, nil
		}
		wait := q.notEmpty
		q.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return buf, false, ctx.Err()
		}
	}
}

// Bytes reports the queued bytes (for metrics).
func (q *eventQueue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}
