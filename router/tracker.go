package router

import (
	"sync"
	"sync/atomic"

	"github.com/tidemark-cdc/tidemark/change"
)

// tracker decides which position may be committed: the position of the
// latest Write whose records, and the records of every Write before it, are
// all acknowledged. Acknowledgements arrive in any order across partitions;
// the tracker keeps Writes in a FIFO and only ever moves its watermark over
// a prefix of completed batches, so an early ack of a later batch never
// commits its position early.
//
// A failed record is simply never counted as acknowledged: its batch stays
// pending forever and blocks every later position. (The Writer stops at the
// first failure; nothing after it is committed, a restart replays it.)
type tracker struct {
	mu    sync.Mutex
	queue []*batch // oldest first
	seq   uint64   // sequence number of the newest position handed to add
}

// batch is one Write: its records still unacknowledged and the position
// that becomes committable when they and all earlier batches are done.
type batch struct {
	pending atomic.Int64 // decremented by acks, without the tracker lock

	// Guarded by tracker.mu: a records-free Write coalesces into the
	// newest batch by replacing its position (see add).
	pos change.Position
	seq uint64
}

// add appends a Write of n records with position pos and returns its batch
// for the acknowledgement path. A Write without records (a checkpoint) does
// not get a batch of its own when one is queued: its position becomes that
// batch's position, which is exactly when it is committable (once everything
// before it is acknowledged). Heartbeats therefore cost no memory while
// Kafka is slow.
func (t *tracker) add(n int, pos change.Position) *batch {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	if n == 0 && len(t.queue) > 0 {
		tail := t.queue[len(t.queue)-1]
		tail.pos, tail.seq = pos, t.seq
		return tail
	}
	b := &batch{pos: pos, seq: t.seq}
	b.pending.Store(int64(n))
	t.queue = append(t.queue, b)
	return b
}

// advance drops the completed prefix of the queue and returns the position
// of its newest batch and that batch's sequence number; ok is false when no
// batch completed since the last call.
func (t *tracker) advance() (pos change.Position, seq uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for ; i < len(t.queue) && t.queue[i].pending.Load() == 0; i++ {
		pos, seq, ok = t.queue[i].pos, t.queue[i].seq, true
		t.queue[i] = nil
	}
	t.queue = t.queue[i:]
	return pos, seq, ok
}

// queued is the number of batches not yet committable.
func (t *tracker) queued() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}
