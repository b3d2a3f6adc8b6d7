package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/change"
)

// Exactly-once delivery (Config.TransactionalID).
//
// The shard's records and its position record are written in Kafka
// transactions: a read_committed consumer, and LoadPosition, see a
// transaction's records and the position that follows them together or
// not at all. A restart therefore resumes exactly after the last committed
// transaction, and the records of an aborted or unfinished one (a crash,
// a shutdown) are never seen: nothing repeats, nothing is lost.
//
// A transaction ends only at a MySQL transaction boundary (a Write, not a
// WritePartial): its position then covers every record in it. It is
// committed once CommitInterval has passed since the last one, or once it
// holds TransactionMaxRecords records, at the first boundary after that.
// One MySQL transaction is never split between Kafka transactions, so it
// must stream within TransactionTimeout (ErrTransactionTimeout otherwise).
//
// Fencing: connecting initialises the producer id of TransactionalID,
// which aborts the open transaction of any earlier writer with that id
// and fences it; its next produce or commit fails with ErrFenced. It is
// done before LoadPosition reads the position, so the position read is
// final: no fenced writer can commit after it.

// ErrTransactionTimeout: Kafka aborted the shard's open transaction for
// lasting longer than TransactionTimeout, typically while one huge MySQL
// transaction was streaming. Nothing of it is visible; a restart writes
// it again, and fails the same way unless the timeout is raised.
var ErrTransactionTimeout = errors.New("router: kafka transaction timed out")

// txnFlushTimeout bounds a commit's wait for the transaction's records.
const txnFlushTimeout = 30 * time.Second

// txnState is the open Kafka transaction. Guarded by writeMu.
type txnState struct {
	open     bool // BeginTransaction called, EndTransaction not yet
	records  int  // records produced in it
	dirty    bool // written to since the last commit (records or a new position)
	boundary bool // the latest Write ended at a MySQL transaction boundary
	pos      change.Position
	began    time.Time
	wanted   bool // a commit is due: the next boundary signals Run
}

func (w *Writer) transactional() bool { return w.cfg.TransactionalID != "" }

// txnOpts are the producer options of exactly-once delivery.
func (w *Writer) txnOpts() []kgo.Opt {
	if !w.transactional() {
		return nil
	}
	return []kgo.Opt{
		kgo.TransactionalID(w.cfg.TransactionalID),
		kgo.TransactionTimeout(w.cfg.TransactionTimeout),
	}
}

// fence initialises the transactional producer id, fencing any earlier
// writer of the shard (see above). Called by connect.
func (w *Writer) fence(ctx context.Context, cl *kgo.Client) error {
	if !w.transactional() {
		return nil
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return w.txnError("initialise the transactional producer", err)
	}
	return nil
}

// beginTxn opens a transaction before a Write produces (writeMu held).
func (w *Writer) beginTxn(c *conn) error {
	if w.txn.open {
		return nil
	}
	if err := c.cl.BeginTransaction(); err != nil {
		return w.txnError("begin a transaction", err)
	}
	w.txn = txnState{open: true, began: time.Now(), boundary: true}
	return nil
}

// noteTxnWrite records a Write in the open transaction (writeMu held) and
// wakes Run when a commit is due at this boundary.
func (w *Writer) noteTxnWrite(n int, pos change.Position, boundary bool) {
	w.txn.records += n
	w.txn.dirty = true
	w.txn.boundary = boundary
	if boundary {
		w.txn.pos = pos
		if w.txn.wanted || w.txn.records >= w.cfg.TransactionMaxRecords {
			select {
			case w.txnReady <- struct{}{}:
			default:
			}
		}
	}
}

// commitTxn commits the open transaction with its position record if it
// ends at a boundary; otherwise it asks the next boundary Write to wake
// Run. Only Run's goroutine calls it.
func (w *Writer) commitTxn(ctx context.Context, c *conn) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.m.inFlight.Set(float64(w.budget.inUse()))
	if !w.txn.open || !w.txn.dirty {
		return nil
	}
	if !w.txn.boundary {
		w.txn.wanted = true // inside a MySQL transaction: at its end
		return nil
	}
	if err := w.stopErr(); err != nil {
		return err
	}
	began, pos := time.Now(), w.txn.pos
	var posDone chan error
	if !pos.IsZero() || len(pos.Snapshot) > 0 {
		val, err := pos.Marshal()
		if err != nil {
			return fmt.Errorf("shard %s: encode position %s: %w", w.shard, pos, err)
		}
		posDone = make(chan error, 1)
		c.cl.Produce(context.Background(), &kgo.Record{Topic: w.cfg.PositionsTopic, Key: w.key, Value: val, Partition: -1},
			func(r *kgo.Record, err error) { posDone <- err })
	}
	// Bounded: after a broker restart the transactional client can wait
	// on its transaction forever without failing a record. Failing here
	// restarts the shard's pipeline with a new client, whose producer id
	// aborts this transaction; nothing of it is visible, it is written
	// again.
	fctx, cancel := context.WithTimeout(ctx, txnFlushTimeout)
	defer cancel()
	if err := c.cl.Flush(fctx); err != nil {
		if ctx.Err() == nil && fctx.Err() != nil {
			return fmt.Errorf("shard %s: kafka transaction of %d records not acknowledged within %s (broker down or restarted?); the shard restarts its Kafka client: %w",
				w.shard, w.txn.records, txnFlushTimeout, err)
		}
		return fmt.Errorf("shard %s: flush transaction: %w", w.shard, err)
	}
	if posDone != nil {
		if err := <-posDone; err != nil {
			return w.txnError("store position "+pos.String(), &ProduceError{Shard: w.shard, Topic: w.cfg.PositionsTopic, Partition: -1, Err: err})
		}
	}
	if err := w.stopErr(); err != nil { // a record of the transaction failed: never commit it
		return err
	}
	if err := c.cl.EndTransaction(fctx, kgo.TryCommit); err != nil {
		return w.txnError("commit the transaction", err)
	}
	w.m.visible.Add(float64(w.txn.records))
	w.txn = txnState{}
	w.m.committed.Inc()
	w.m.txnSeconds.Observe(time.Since(began).Seconds())
	if posDone == nil {
		return nil
	}
	w.latest = pos
	w.committedSeq++
	w.latestSeq = w.committedSeq
	if w.cfg.OnCommit != nil {
		w.cfg.OnCommit(pos)
	}
	w.m.commits.Inc()
	w.m.lastCommit.Set(float64(time.Now().UnixNano()) / 1e9)
	return nil
}

// abortTxn aborts the open transaction (a failure, or a shutdown inside a
// MySQL transaction): its records are never seen by read_committed
// consumers, and the position stays where the last commit left it.
func (w *Writer) abortTxn(ctx context.Context, c *conn, why string) {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if !w.txn.open {
		return
	}
	n := w.txn.records
	w.txn = txnState{}
	err := c.cl.AbortBufferedRecords(ctx)
	if err == nil {
		err = c.cl.EndTransaction(ctx, kgo.TryAbort)
	}
	w.m.aborted.Inc()
	if err != nil {
		// The broker aborts it anyway once TransactionTimeout passes, or
		// when the next writer of the shard initialises its producer id.
		w.log.Warn("could not abort the kafka transaction; the broker aborts it at its timeout or the next start",
			"records", n, "reason", why, "error", err)
		return
	}
	w.log.Info("kafka transaction aborted; its records are written again after the restart", "records", n, "reason", why)
}

// txnError names what a transactional call was doing, and turns the
// broker's fencing answers into ErrFenced (a newer writer owns the shard)
// or ErrTransactionTimeout (this transaction outlived its timeout).
func (w *Writer) txnError(what string, err error) error {
	fenced := errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.InvalidTxnState)
	switch {
	case fenced && !w.txn.began.IsZero() && time.Since(w.txn.began) >= w.cfg.TransactionTimeout:
		return fmt.Errorf("shard %s: %s: %w after %s open (kafka.transaction_timeout %s): a MySQL transaction took longer than that to stream; raise the timeout (at most the brokers' transaction.max.timeout.ms): %w",
			w.shard, what, ErrTransactionTimeout, time.Since(w.txn.began).Round(time.Second), w.cfg.TransactionTimeout, err)
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch):
		return fmt.Errorf("shard %s: %s: %w: another Tidemark process now writes this shard (transactional id %q) and this one stops. "+
			"Two daemons configured with the same shard is a configuration error: stop one (the other resumes exactly where the last commit left off): %w",
			w.shard, what, ErrFenced, w.cfg.TransactionalID, err)
	}
	return fmt.Errorf("shard %s: %s: %w", w.shard, what, err)
}

// drainTxn ends Run with exactly-once delivery: the open transaction is
// committed if it ends at a boundary and nothing failed, else aborted.
func (w *Writer) drainTxn(ctx context.Context, c *conn, cause error) error {
	if _, err := w.ensurePositionsTopic(ctx); err != nil && cause == nil {
		cause = err
	}
	if cause == nil || errors.Is(cause, ErrClosed) {
		w.writeMu.Lock()
		atBoundary := !w.txn.open || w.txn.boundary
		w.writeMu.Unlock()
		if atBoundary {
			err := w.commitTxn(ctx, c)
			if err == nil {
				return cause
			}
			cause = err
		} else {
			w.abortTxn(ctx, c, "shutdown inside a MySQL transaction")
			return nil
		}
	}
	w.abortTxn(ctx, c, "error: "+cause.Error())
	return cause
}
