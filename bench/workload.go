package main

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// workload writes to the bench table and keeps the ledger every scenario
// counts against: how many Kafka records the writes so far must become.
// Both Tidemark and Debezium (tombstones.on.delete defaults to true) turn an
// insert or an update into one record and a delete into two (the delete
// event and its tombstone).
type workload struct {
	db      *shardDB
	table   string // database.table
	nextID  atomic.Int64
	records atomic.Int64 // Kafka records owed for everything written so far
	seed    atomic.Uint64
}

func newWorkload(db *shardDB, table string) *workload {
	w := &workload{db: db, table: table}
	w.nextID.Store(1)
	return w
}

// ledgerMark is where the workload stands: the records owed for everything
// written so far, and the next id to be written.
type ledgerMark struct{ records, nextID int64 }

func (w *workload) mark() ledgerMark {
	return ledgerMark{records: w.records.Load(), nextID: w.nextID.Load()}
}

// ids reserves n consecutive primary keys.
func (w *workload) ids(n int) int64 { return w.nextID.Add(int64(n)) - int64(n) }

func (w *workload) gen() *rowGen { return newRowGen(w.seed.Add(1)) }

// marker writes one row. Starting a connector and waiting for its marker in
// Kafka proves that it streams from a position before the next write, and
// that it has a position to store.
func (w *workload) marker(ctx context.Context) error {
	g := w.gen()
	q := g.appendInsert(nil, w.table, w.ids(1), 1, time.Now().UnixMicro())
	if _, err := w.db.db.ExecContext(ctx, string(q)); err != nil {
		return fmt.Errorf("write marker row: %w", err)
	}
	w.records.Add(1)
	return nil
}

// loadResult is how fast the shard took a bulk load.
type loadResult struct {
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
	RowsPS  float64 `json:"rows_per_second"`
}

// bulkLoad inserts rows as fast as the shard takes them: multi-row INSERTs
// of batch rows, each its own transaction, over conns connections.
func (w *workload) bulkLoad(ctx context.Context, rows int64, batch, conns int) (loadResult, error) {
	start := time.Now()
	var left atomic.Int64
	left.Store(rows)
	g, ctx := errgroup.WithContext(ctx)
	for c := 0; c < conns; c++ {
		g.Go(func() error {
			gen := w.gen()
			buf := make([]byte, 0, batch*600)
			for {
				n := int64(batch)
				if rem := left.Add(-n); rem < 0 {
					n += rem
					if n <= 0 {
						return nil
					}
				}
				buf = gen.appendInsert(buf[:0], w.table, w.ids(int(n)), int(n), time.Now().UnixMicro())
				if _, err := w.db.db.ExecContext(ctx, string(buf)); err != nil {
					return fmt.Errorf("bulk insert: %w", err)
				}
				w.records.Add(n)
			}
		})
	}
	err := g.Wait()
	d := time.Since(start).Seconds()
	return loadResult{Rows: rows, Seconds: round1(d), RowsPS: float64(int64(float64(rows) / d))}, err
}

// bigTransaction inserts rows in ONE transaction (multi-row INSERTs of batch
// rows between BEGIN and COMMIT) and returns when COMMIT was sent: the whole
// transaction reaches the binlog during the COMMIT (MariaDB copies it from
// its binlog cache then; for a million rows that takes seconds, and a
// replica reads it while COMMIT has not returned yet).
func (w *workload) bigTransaction(ctx context.Context, rows int64, batch int) (commitSent time.Time, writeSeconds, commitSeconds float64, err error) {
	conn, err := w.db.db.Conn(ctx)
	if err != nil {
		return time.Time{}, 0, 0, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return time.Time{}, 0, 0, err
	}
	gen := w.gen()
	buf := make([]byte, 0, batch*600)
	for done := int64(0); done < rows; {
		n := min(int64(batch), rows-done)
		buf = gen.appendInsert(buf[:0], w.table, w.ids(int(n)), int(n), time.Now().UnixMicro())
		if _, err := conn.ExecContext(ctx, string(buf)); err != nil {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			return time.Time{}, 0, 0, fmt.Errorf("big transaction insert at row %d: %w", done, err)
		}
		done += n
	}
	commitSent = time.Now()
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return time.Time{}, 0, 0, fmt.Errorf("commit big transaction: %w", err)
	}
	w.records.Add(rows)
	return commitSent, commitSent.Sub(start).Seconds(), time.Since(commitSent).Seconds(), nil
}

// writerStats is what an open-loop run achieved.
type writerStats struct {
	TargetRowsPS   int     `json:"target_rows_per_second"`
	Rows           int64   `json:"rows"` // row changes written (inserts+updates+deletes)
	Inserts        int64   `json:"inserts"`
	Updates        int64   `json:"updates"`
	Deletes        int64   `json:"deletes"`
	Transactions   int64   `json:"transactions"`
	Seconds        float64 `json:"seconds"`
	AchievedRowsPS float64 `json:"achieved_rows_per_second"`
	// MaxScheduleLagMS is the longest a transaction waited for a free writer
	// after its scheduled time: near 0 means the shard kept up with the rate.
	MaxScheduleLagMS float64 `json:"max_schedule_lag_ms"`
	// UnwrittenRows were due in the window but still queued at its end (the
	// shard, or the machine, could not take the rate): they are dropped, so
	// that a window lasts what it says.
	UnwrittenRows int64 `json:"unwritten_rows,omitempty"`
}

// txnJob is one scheduled transaction of rows row changes.
type txnJob struct {
	rows int
	due  time.Time
}

// openLoop writes rate row changes per second for d, on a schedule that
// does not wait for the database (open loop): transactions are due at fixed
// times whether or not earlier ones finished, and those still queued when
// the window ends are dropped (counted in UnwrittenRows). Half the
// transactions change one row (autocommit), the other half 5..20 rows (so 1
// row in 7 is written alone: on 2 cores shared with MariaDB, per-transaction
// cost is what limits the rate the shard takes). Changes are 60% inserts,
// 30% updates, 10% deletes, each writer updating and deleting only rows it
// inserted itself (so concurrent writers never race on a key).
func (w *workload) openLoop(ctx context.Context, rate int, d time.Duration, writers int) (writerStats, error) {
	st := writerStats{TargetRowsPS: rate}
	jobs := make(chan txnJob, 1<<16)
	var maxLag atomic.Int64
	var ins, upd, del, txns, unwritten atomic.Int64
	start := time.Now()
	end := start.Add(d)
	g, gctx := errgroup.WithContext(ctx)
	for i := 0; i < writers; i++ {
		g.Go(func() error {
			conn, err := w.db.db.Conn(gctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			lw := &liveWriter{w: w, conn: conn, gen: w.gen()}
			for job := range jobs {
				if time.Now().After(end) {
					unwritten.Add(int64(job.rows))
					continue
				}
				if lag := time.Since(job.due); lag > time.Duration(maxLag.Load()) {
					maxLag.Store(int64(lag))
				}
				n, err := lw.txn(gctx, job.rows)
				if err != nil {
					return err
				}
				ins.Add(n.ins)
				upd.Add(n.upd)
				del.Add(n.del)
				txns.Add(1)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		sched := newRowGen(w.seed.Add(1))
		var scheduled int64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case now := <-tick.C:
				el := now.Sub(start)
				if el >= d {
					return nil
				}
				due := int64(el.Seconds() * float64(rate))
				for scheduled < due {
					k := 1
					if sched.r.IntN(2) == 0 {
						k = 5 + sched.r.IntN(16)
					}
					at := start.Add(time.Duration(float64(scheduled) / float64(rate) * float64(time.Second)))
					select {
					case jobs <- txnJob{rows: k, due: at}:
					case <-gctx.Done():
						return nil
					}
					scheduled += int64(k)
				}
			}
		}
	})
	err := g.Wait()
	st.Seconds = time.Since(start).Seconds()
	st.Inserts, st.Updates, st.Deletes, st.Transactions = ins.Load(), upd.Load(), del.Load(), txns.Load()
	st.Rows = st.Inserts + st.Updates + st.Deletes
	st.UnwrittenRows = unwritten.Load()
	st.AchievedRowsPS = float64(int64(float64(st.Rows) / st.Seconds))
	st.MaxScheduleLagMS = round1(float64(maxLag.Load()) / 1e6)
	st.Seconds = round1(st.Seconds)
	return st, err
}

// liveWriter is one connection of the open loop with the keys it owns.
type liveWriter struct {
	w    *workload
	conn *sql.Conn
	gen  *rowGen
	live []int64 // keys this writer inserted and has not deleted, oldest first
	head int
	buf  []byte
}

type opCounts struct{ ins, upd, del int64 }

func (lw *liveWriter) txn(ctx context.Context, rows int) (opCounts, error) {
	var n opCounts
	var nIns int
	var upds, dels []int64
	for i := 0; i < rows; i++ {
		avail := len(lw.live) - lw.head - len(dels)
		switch p := lw.gen.r.IntN(10); {
		case p < 6 || avail < 2:
			nIns++
		case p < 9:
			// Any live key not already picked for deletion.
			k := lw.head + len(dels) + lw.gen.r.IntN(avail)
			upds = append(upds, lw.live[k])
		default:
			dels = append(dels, lw.live[lw.head+len(dels)])
		}
	}
	upds = dedupe(upds)
	commitUS := time.Now().UnixMicro()
	type stmt struct {
		sql   string
		count *int64
	}
	var stmts []stmt
	var first int64
	if nIns > 0 {
		first = lw.w.ids(nIns)
		lw.buf = lw.gen.appendInsert(lw.buf[:0], lw.w.table, first, nIns, commitUS)
		stmts = append(stmts, stmt{string(lw.buf), &n.ins})
	}
	if len(upds) > 0 {
		stmts = append(stmts, stmt{lw.gen.updateSQL(lw.w.table, upds, commitUS), &n.upd})
	}
	if len(dels) > 0 {
		stmts = append(stmts, stmt{deleteSQL(lw.w.table, dels), &n.del})
	}
	multi := len(stmts) > 1
	if multi {
		if _, err := lw.conn.ExecContext(ctx, "BEGIN"); err != nil {
			return n, err
		}
	}
	for _, s := range stmts {
		res, err := lw.conn.ExecContext(ctx, s.sql)
		if err != nil {
			if multi {
				_, _ = lw.conn.ExecContext(context.Background(), "ROLLBACK")
			}
			return n, fmt.Errorf("live write: %w", err)
		}
		// Rows the server changed: each is one binlog row event.
		*s.count, _ = res.RowsAffected()
	}
	if multi {
		if _, err := lw.conn.ExecContext(ctx, "COMMIT"); err != nil {
			return n, err
		}
	}
	for i := 0; i < nIns; i++ {
		lw.live = append(lw.live, first+int64(i))
	}
	lw.head += len(dels)
	if lw.head > 4096 && lw.head > len(lw.live)/2 { // keep the slice from growing without bound
		lw.live = append(lw.live[:0], lw.live[lw.head:]...)
		lw.head = 0
	}
	lw.w.records.Add(n.ins + n.upd + 2*n.del)
	return n, nil
}

func dedupe(ids []int64) []int64 {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[int64]struct{}, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
