package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/change"
)

// Record is one Kafka record to write.
type Record struct {
	Topic string
	// Key is the encoded primary key; nil for a table without one (see
	// ErrKeylessCompacted and keylessPartition).
	Key []byte
	// Value is the encoded change; nil is a tombstone (null value).
	Value   []byte
	Headers []Header
	// CommitUnixMicros is the source commit time (0 = unknown), for the
	// commit-to-ack latency metric.
	CommitUnixMicros int64
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// size is the record's payload: key, value and header bytes.
func (r *Record) size() int64 {
	n := len(r.Key) + len(r.Value)
	for i := range r.Headers {
		n += len(r.Headers[i].Key) + len(r.Headers[i].Value)
	}
	return int64(n)
}

// Writer delivers one shard's records to Kafka and stores the shard's
// position. Its contract:
//
//   - Order: records of one partition are stored in Write order. The
//     producer is idempotent with acks=all and retries (up to
//     DeliveryTimeout) without reordering or duplicating; a record is never
//     moved to another partition.
//   - Positions: the position given to Write is stored in the positions
//     topic only after that Write's records and every record written
//     before them are acknowledged; never before. Positions are stored
//     every CommitInterval and once more when Run returns.
//   - Failure: the first record the client gives up on stops the Writer
//     (Run and later Writes return a *ProduceError). No position after it
//     is ever stored, so a restart replays from the last stored position:
//     at-least-once, nothing lost.
//   - Memory: unacknowledged records are bounded by MaxInFlightBytes.
//
// Methods are safe for concurrent use; Writes are serialised, so call
// Write from one goroutine to control the order.
type Writer struct {
	cfg   Config
	shard string
	key   []byte // the shard's key in the positions topic
	log   *slog.Logger
	m     shardMetrics

	connMu sync.Mutex
	conn   *conn // created on first use; see connect

	topicsMu sync.RWMutex
	topics   map[string]topicState
	ensureMu sync.Mutex // serialises topic creation

	writeMu sync.Mutex // serialises Write: tracker order = produce order
	budget  budget
	tracker tracker
	tags    sync.Pool // of *ackTag
	ackFn   func(*kgo.Record, error)

	stopMu  sync.Mutex
	stopped chan struct{} // closed once stopErr is set
	err     error         // why the writer stopped; guarded by stopMu

	running atomic.Bool
	// Exactly-once (txn.go): the open transaction, guarded by writeMu, and
	// how a boundary Write wakes Run when a commit is due.
	txn      txnState
	txnReady chan struct{}
	// Owned by Run's goroutine.
	latestSeq, committedSeq uint64
	latest                  change.Position
}

var errStopped = errors.New("stopped")

// NewWriter validates cfg and returns a Writer for shard. It does no I/O and
// starts no goroutine: the connection is made on first use (Run,
// LoadPosition, EnsureTopic or Write). log and m may be nil.
func NewWriter(cfg Config, shard string, log *slog.Logger, m *Metrics) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if shard == "" {
		return nil, fmt.Errorf("%w: shard name is empty", ErrInvalidConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	cfg = cfg.withDefaults()
	w := &Writer{
		cfg:      cfg,
		shard:    shard,
		key:      []byte(shard),
		log:      log.With("shard", shard),
		m:        m.forShard(shard),
		topics:   make(map[string]topicState),
		budget:   budget{limit: cfg.MaxInFlightBytes},
		stopped:  make(chan struct{}),
		txnReady: make(chan struct{}, 1),
	}
	w.tags.New = func() any { return new(ackTag) }
	w.ackFn = w.onAck
	return w, nil
}

// Write enqueues recs, in order, and associates pos with them. It returns
// once the records are handed to the client (not acknowledged); it blocks
// while MaxInFlightBytes are unacknowledged. Either all records are
// enqueued or, on error, none.
//
// pos is stored once these records and every record written before them
// are acknowledged. A Write without records is a checkpoint: its position
// is stored once everything written before it is acknowledged.
//
// Topics not seen before are ensured (created compacted) first. A record
// without a key for a compacted topic is refused (ErrKeylessCompacted).
//
// The Writer keeps references to the Key, Value and header Value slices
// until the records are acknowledged: the caller must not modify them. The
// recs slice itself may be reused as soon as Write returns.
func (w *Writer) Write(ctx context.Context, recs []Record, pos change.Position) error {
	return w.write(ctx, recs, pos, true)
}

// WritePartial is Write for records that end inside a MySQL transaction
// (pos is then the position before it). With exactly-once delivery the
// Kafka transaction is not committed after them: a commit waits for the
// transaction's last records, written with Write. At least once, it is
// Write.
func (w *Writer) WritePartial(ctx context.Context, recs []Record, pos change.Position) error {
	return w.write(ctx, recs, pos, false)
}

func (w *Writer) write(ctx context.Context, recs []Record, pos change.Position, boundary bool) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if err := w.stopErr(); err != nil {
		return err
	}
	if err := checkPosition(pos); err != nil {
		return fmt.Errorf("shard %s: write %d records at %s: %w", w.shard, len(recs), pos, err)
	}
	if len(recs) == 0 {
		if w.transactional() {
			if w.txn.open || boundary { // a checkpoint: its position commits with the next transaction
				if !w.txn.open {
					c, err := w.connect(ctx)
					if err != nil {
						return err
					}
					if err := w.beginTxn(c); err != nil {
						return err
					}
				}
				w.noteTxnWrite(0, pos, boundary)
			}
			return nil
		}
		w.tracker.add(0, pos)
		return nil
	}

	var (
		size  int64
		topic string
		st    topicState
	)
	for i := range recs {
		r := &recs[i]
		if i == 0 || r.Topic != topic {
			topic = r.Topic
			var ok bool
			if st, ok = w.lookupTopic(topic); !ok {
				if err := w.EnsureTopic(ctx, topic); err != nil {
					return err
				}
				st, _ = w.lookupTopic(topic)
			}
		}
		if r.Key == nil && st.compacted {
			return fmt.Errorf("shard %s: record %d of %d for topic %s at %s: %w", w.shard, i+1, len(recs), topic, pos, ErrKeylessCompacted)
		}
		size += r.size() + recordOverhead
	}
	c, err := w.connect(ctx)
	if err != nil {
		return err
	}
	if err := w.budget.acquire(ctx, size, w.stopped); err != nil {
		if errors.Is(err, errStopped) {
			return w.stopErr()
		}
		return fmt.Errorf("shard %s: write %d records at %s: %w", w.shard, len(recs), pos, err)
	}

	var b *batch // at least once: the tracker's; exactly once: the transaction's
	if w.transactional() {
		if err := w.beginTxn(c); err != nil {
			w.budget.release(size)
			return err
		}
		w.noteTxnWrite(len(recs), pos, boundary)
	} else {
		b = w.tracker.add(len(recs), pos)
	}
	for i := range recs {
		r := &recs[i]
		t := w.tags.Get().(*ackTag)
		t.batch = b
		t.size = r.size()
		t.commitMicros = r.CommitUnixMicros
		t.rec.Topic = r.Topic
		t.rec.Key = r.Key
		t.rec.Value = r.Value
		t.rec.Partition = -1
		for _, h := range r.Headers {
			t.rec.Headers = append(t.rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		t.rec.Context = t
		// Never a cancellable context here: kgo fails buffered records
		// whose produce context is done, and shutdown must flush them.
		// Produce does not block (kgo's buffer limits exceed the budget).
		c.sink.Produce(context.Background(), &t.rec, w.ackFn)
	}
	return nil
}

// ackTag rides with each record in kgo.Record.Context, franz-go's slot for
// per-record data: it is how the acknowledgement finds the record's batch
// without a map or a closure per record. It is a context that is never
// done, so kgo never cancels the record. Tags are pooled with their record.
type ackTag struct {
	rec          kgo.Record
	batch        *batch
	size         int64 // payload bytes; the budget also holds recordOverhead
	commitMicros int64
}

func (*ackTag) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*ackTag) Done() <-chan struct{}       { return nil }
func (*ackTag) Err() error                  { return nil }
func (*ackTag) Value(any) any               { return nil }

// onAck is every data record's promise. kgo calls promises one at a time,
// in order within a partition.
func (w *Writer) onAck(r *kgo.Record, err error) {
	// Promises run on the client's goroutines: a panic here would end the
	// process. It stops this Writer instead, and no later position is
	// committed.
	defer func() {
		if p := recover(); p != nil {
			w.stop(&change.PanicError{Stage: "kafka ack", Value: p, Stack: debug.Stack()})
		}
	}()
	t := r.Context.(*ackTag)
	if err != nil {
		// Close fails what is buffered, an abort what is in the
		// transaction: neither is a delivery error.
		if !errors.Is(err, kgo.ErrClientClosed) && !errors.Is(err, kgo.ErrAborting) {
			w.m.errors.Inc()
		}
		var perr error = &ProduceError{Shard: w.shard, Topic: r.Topic, Partition: r.Partition, Err: err}
		if w.transactional() && (errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)) {
			perr = w.txnError("produce", perr)
		}
		w.stop(perr)
		// t.batch stays pending forever: no later position is committable.
	} else {
		w.m.records.Inc()
		w.m.bytes.Add(float64(t.size))
		if t.commitMicros > 0 {
			w.m.latency.Observe(float64(time.Now().UnixMicro()-t.commitMicros) / 1e6)
		}
		if t.batch != nil {
			t.batch.pending.Add(-1)
		}
	}
	w.budget.release(t.size + recordOverhead)

	clear(t.rec.Headers) // drop references to the caller's bytes
	t.rec = kgo.Record{Headers: t.rec.Headers[:0]}
	t.batch = nil
	w.tags.Put(t)
}

// Run connects, ensures the positions topic, and commits positions every
// CommitInterval until ctx is done or the Writer stops on a produce error.
// Either way it then drains: it waits (up to DrainTimeout) for every
// record handed to the client, commits the last position whose records are
// all acknowledged, and returns. It returns nil after a complete drain
// following ctx's cancellation, the *ProduceError that stopped the Writer,
// or an error saying what could not be flushed or committed. Unreachable
// brokers make it return an *UnreachableError within ConnectTimeout.
//
// After Run returns the Writer accepts no more Writes (ErrClosed).
func (w *Writer) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return fmt.Errorf("shard %s: router: Run called twice", w.shard)
	}
	defer w.stop(ErrClosed)
	c, err := w.connect(ctx)
	if err != nil {
		return err
	}
	if _, err := w.ensurePositionsTopic(ctx); err != nil {
		if ctx.Err() != nil {
			return w.drain(ctx, c, nil)
		}
		return err
	}
	tick := time.NewTicker(w.cfg.CommitInterval)
	defer tick.Stop()
	commit := w.commit
	if w.transactional() {
		commit = w.commitTxn
	}
	for {
		select {
		case <-ctx.Done():
			return w.drain(ctx, c, nil)
		case <-w.stopped:
			return w.drain(ctx, c, w.stopErr())
		case <-tick.C:
		case <-w.txnReady:
		}
		if err := commit(ctx, c); err != nil && ctx.Err() == nil {
			w.stop(err)
			return w.drain(ctx, c, err)
		}
	}
}

// drain flushes the client and commits the last committable position, with
// a fresh deadline (ctx is usually cancelled by now). cause is the error
// that stopped the Writer, if any; it wins over drain's own errors.
func (w *Writer) drain(ctx context.Context, c *conn, cause error) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.DrainTimeout)
	defer cancel()
	if w.transactional() {
		return w.drainTxn(dctx, c, cause)
	}
	flushErr := c.sink.Flush(dctx)
	// Run may have been cancelled before it ensured the positions topic.
	_, commitErr := w.ensurePositionsTopic(dctx)
	if commitErr == nil {
		commitErr = w.commit(dctx, c)
	}
	if cause != nil && !errors.Is(cause, ErrClosed) {
		return cause
	}
	if flushErr != nil {
		queued := w.tracker.queued()
		w.log.Warn("drain incomplete: some records were not acknowledged; they will be replayed after a restart",
			"timeout", w.cfg.DrainTimeout, "pending_writes", queued, "position", w.latestCommitted())
		return fmt.Errorf("shard %s: drain: %d writes not acknowledged after %s: %w", w.shard, queued, w.cfg.DrainTimeout, flushErr)
	}
	if commitErr != nil {
		return commitErr
	}
	return cause
}

func (w *Writer) latestCommitted() string {
	if w.committedSeq == 0 {
		return "(none)"
	}
	return w.latest.String()
}

// Close releases the client. Buffered records are failed, not flushed:
// call it after Run returned (which drains). Writes fail with ErrClosed
// afterwards. Close is idempotent.
func (w *Writer) Close() {
	w.stop(ErrClosed)
	w.connMu.Lock()
	c := w.conn
	w.connMu.Unlock()
	if c != nil && c.cl != nil {
		c.cl.Close()
	}
}

// stop records why the Writer stops; the first reason wins.
func (w *Writer) stop(err error) {
	w.stopMu.Lock()
	defer w.stopMu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.stopped)
	}
}

func (w *Writer) stopErr() error {
	w.stopMu.Lock()
	defer w.stopMu.Unlock()
	return w.err
}
