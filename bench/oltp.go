package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// oltpLoad is the source's own workload in the snapshot scenario: point
// statements on a table no connector captures (its changes still pass
// through every connector's binlog reader), at a fixed rate, open loop, with
// each statement's latency measured by the client. It is what a snapshot's
// SELECTs compete with on the source: its p99 during a snapshot against
// without one is the snapshot's cost to the application.
type oltpLoad struct {
	db     *shardDB
	table  string // database.table
	rows   int64  // ids 1..rows exist (the fill)
	nextID atomic.Int64
	seed   atomic.Uint64
}

func newOLTPLoad(db *shardDB, table string, rows int64) *oltpLoad {
	o := &oltpLoad{db: db, table: table, rows: rows}
	o.nextID.Store(rows + 1)
	return o
}

// oltpStats is what one window of the OLTP workload measured. Latency is
// from the statement's scheduled time to its return (autocommit: the
// statement is its transaction, so this includes the commit), so that a
// statement that waited for a free connection counts its wait too.
type oltpStats struct {
	latencyStats
	Statements  int64   `json:"statements"`
	Updates     int64   `json:"updates"`
	Inserts     int64   `json:"inserts"`
	Errors      int64   `json:"errors,omitempty"`
	Unsent      int64   `json:"unsent,omitempty"` // due but still queued when the window ended
	Seconds     float64 `json:"seconds"`
	AchievedRPS float64 `json:"achieved_statements_per_second"`
}

// oltpRun is one window of the workload, from start to stop.
type oltpRun struct {
	cancel  context.CancelFunc
	stopped atomic.Bool
	wg      sync.WaitGroup
	started time.Time

	mu        sync.Mutex
	latencies []float64
	upd, ins  int64
	errs      int64
	firstErr  error
	unsent    atomic.Int64
}

// start opens conns connections and sends rate statements/s until stop:
// 70% UPDATEs of one row by primary key (a random existing id), 30%
// single-row INSERTs of a fresh id, each autocommitted.
func (o *oltpLoad) start(ctx context.Context, rate, conns int) (*oltpRun, error) {
	r := &oltpRun{}
	cctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	type job struct{ due time.Time }
	jobs := make(chan job, 1<<16)
	ready := make(chan error, conns)
	for i := 0; i < conns; i++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			conn, err := o.db.db.Conn(cctx)
			ready <- err
			if err != nil {
				return
			}
			defer conn.Close()
			gen := newRowGen(o.seed.Add(1) + 0x5eed)
			var buf []byte
			var lat []float64
			var upd, ins, errs int64
			var firstErr error
			for j := range jobs {
				if r.stopped.Load() {
					r.unsent.Add(1)
					continue
				}
				// Its own deadline, not cctx: a statement in flight at stop
				// finishes and is counted.
				sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
				var q string
				isUpd := gen.r.IntN(10) < 7
				if isUpd {
					q = fmt.Sprintf("UPDATE %s SET quantity=quantity+1, version=version+1, updated_at=NOW(6), commit_us=%d WHERE id=%d",
						o.table, time.Now().UnixMicro(), 1+gen.r.Int64N(o.rows))
				} else {
					buf = gen.appendInsert(buf[:0], o.table, o.nextID.Add(1)-1, 1, time.Now().UnixMicro())
					q = string(buf)
				}
				_, err := conn.ExecContext(sctx, q)
				scancel()
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, float64(time.Since(j.due).Microseconds())/1000)
				if isUpd {
					upd++
				} else {
					ins++
				}
			}
			r.mu.Lock()
			r.latencies = append(r.latencies, lat...)
			r.upd, r.ins, r.errs = r.upd+upd, r.ins+ins, r.errs+errs
			if r.firstErr == nil {
				r.firstErr = firstErr
			}
			r.mu.Unlock()
		}()
	}
	for i := 0; i < conns; i++ {
		if err := <-ready; err != nil {
			cancel()
			close(jobs)
			r.wg.Wait()
			return nil, fmt.Errorf("OLTP connection: %w", err)
		}
	}
	r.started = time.Now()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(jobs)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var scheduled int64
		for {
			select {
			case <-cctx.Done():
				return
			case now := <-tick.C:
				due := int64(now.Sub(r.started).Seconds() * float64(rate))
				for ; scheduled < due; scheduled++ {
					at := r.started.Add(time.Duration(float64(scheduled) / float64(rate) * float64(time.Second)))
					select {
					case jobs <- job{due: at}:
					case <-cctx.Done():
						return
					}
				}
			}
		}
	}()
	return r, nil
}

// stop ends the window and summarizes it.
func (r *oltpRun) stop() (oltpStats, error) {
	r.stopped.Store(true)
	r.cancel()
	r.wg.Wait()
	d := time.Since(r.started).Seconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := oltpStats{latencyStats: summarize(r.latencies), Updates: r.upd, Inserts: r.ins, Errors: r.errs,
		Unsent: r.unsent.Load(), Seconds: round1(d)}
	st.Statements = st.Updates + st.Inserts
	if d > 0 {
		st.AchievedRPS = round1(float64(st.Statements) / d)
	}
	if r.errs > 0 && st.Statements == 0 {
		return st, fmt.Errorf("OLTP: every statement failed: %w", r.firstErr)
	}
	return st, nil
}
