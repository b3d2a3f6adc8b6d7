package daemon

import (
	"context"
	"sync"

	"github.com/tidemark-cdc/tidemark/change"
)

// queueChunk is how many events one block of the queue holds. The queue's
// memory is the events it holds plus at most two partly used blocks, so the
// byte bound is not undermined by a growing array.
const queueChunk = 256

// maxSpareChunks bounds the emptied blocks kept for reuse.
const maxSpareChunks = 4

type eventChunk struct {
	events [queueChunk]change.Event
	next   *eventChunk
}

// eventQueue is a FIFO of events bounded in bytes (change.Event.Size), the
// buffer between a shard's binlog reader and its encoder. Put blocks while the
// queue holds more than its limit; a single event larger than the limit is
// still admitted when the queue is empty, so a huge row cannot deadlock the
// pipeline but never shares the queue with others. One goroutine Puts and
// one Takes.
type eventQueue struct {
	mu sync.Mutex
	// Waiters: a blocked Put waits on notFull, a blocked Take on notEmpty;
	// the other side closes and replaces the channel only when someone
	// waits, so the fast path allocates nothing.
	notFull, notEmpty       chan struct{}
	putWaiting, takeWaiting bool
	head, tail              *eventChunk // Take reads head[headIdx:], Put writes tail[tailIdx]
	headIdx, tailIdx        int
	spare                   []*eventChunk // emptied blocks, reused by Put (at most maxSpareChunks)
	count                   int
	bytes, limit            int64
	closed                  bool
	woken                   bool // Wake called: Take returns even when empty
}

func newEventQueue(limit int64) *eventQueue {
	c := &eventChunk{}
	return &eventQueue{limit: limit, head: c, tail: c, notFull: make(chan struct{}), notEmpty: make(chan struct{})}
}

// Put appends ev, blocking while the queue is over its byte limit.
func (q *eventQueue) Put(ctx context.Context, ev change.Event) error {
	size := int64(ev.Size)
	for {
		q.mu.Lock()
		if q.bytes == 0 || q.bytes+size <= q.limit {
			q.push(ev)
			q.bytes += size
			wake(&q.notEmpty, &q.takeWaiting)
			q.mu.Unlock()
			return nil
		}
		q.putWaiting = true
		wait := q.notFull
		q.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (q *eventQueue) push(ev change.Event) {
	if q.tailIdx == queueChunk {
		var c *eventChunk
		if n := len(q.spare); n > 0 {
			c, q.spare = q.spare[n-1], q.spare[:n-1]
		} else {
			c = &eventChunk{}
		}
		q.tail.next, q.tail, q.tailIdx = c, c, 0
	}
	q.tail.events[q.tailIdx] = ev
	q.tailIdx++
	q.count++
}

// Close marks the end of input: Take drains what is left, then reports done.
func (q *eventQueue) Close() {
	q.mu.Lock()
	q.closed = true
	wake(&q.notEmpty, &q.takeWaiting)
	q.mu.Unlock()
}

// Wake makes the next (or the waiting) Take return, with no events if there
// are none: the snapshot merger has rows due that no new event would reveal.
func (q *eventQueue) Wake() {
	q.mu.Lock()
	q.woken = true
	wake(&q.notEmpty, &q.takeWaiting)
	q.mu.Unlock()
}

// Take moves up to max queued events into buf (reusing its storage), blocking
// until at least one is available or Wake is called. ok is false once the
// queue is closed and empty.
func (q *eventQueue) Take(ctx context.Context, buf []change.Event, max int) (_ []change.Event, ok bool, err error) {
	buf = buf[:0]
	for {
		q.mu.Lock()
		q.woken = q.woken && q.count == 0 // events to return answer a Wake too
		if q.count > 0 {
			var freed int64
			for len(buf) < max && q.count > 0 {
				if q.headIdx == queueChunk { // head block consumed: recycle it
					done := q.head
					q.head, q.headIdx = done.next, 0
					done.next = nil
					if len(q.spare) < maxSpareChunks {
						q.spare = append(q.spare, done)
					}
				}
				ev := &q.head.events[q.headIdx]
				buf = append(buf, *ev)
				freed += int64(ev.Size)
				*ev = change.Event{} // drop references for the GC
				q.headIdx++
				q.count--
			}
			if q.count == 0 && q.head == q.tail { // empty: restart the block
				q.headIdx, q.tailIdx = 0, 0
			}
			q.bytes -= freed
			wake(&q.notFull, &q.putWaiting)
			q.mu.Unlock()
			return buf, true, nil
		}
		if q.closed {
			q.mu.Unlock()
			return buf, false, nil
		}
		if q.woken {
			q.woken = false
			q.mu.Unlock()
			return buf, true, nil
		}
		q.takeWaiting = true
		wait := q.notEmpty
		q.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return buf, false, ctx.Err()
		}
	}
}

// wake releases the side waiting on ch, if one waits; called with q.mu held.
func wake(ch *chan struct{}, waiting *bool) {
	if *waiting {
		*waiting = false
		close(*ch)
		*ch = make(chan struct{})
	}
}

// Bytes reports the queued bytes (for metrics).
func (q *eventQueue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}
