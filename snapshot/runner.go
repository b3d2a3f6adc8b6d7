package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
)

// Conn is what a chunk reader needs of a SQL connection to the shard:
// *mysql.Conn, its session set up for snapshots (UTC, utf8mb4, read only).
type Conn interface {
	Query(ctx context.Context, stmt string, args ...any) ([][]mysql.Value, error)
	QueryRows(ctx context.Context, convs []mysql.Converter, stmt string, args []any, fn func(row change.Row, size int) error) error
	Close()
}

// Source is the shard's server as the snapshotter reads it.
type Source struct {
	Flavor   change.Flavor
	ServerID uint32
	// Connect opens a connection (lazily: no I/O until its first query).
	Connect func() Conn
	// Schema reads a table's schema and converters from the catalog, as the
	// binlog reader builds them (mysql.LoadTableSchema); nil, nil, nil when
	// the table does not exist.
	Schema func(ctx context.Context, c Conn, db, table string) (*schema.Table, []mysql.Converter, error)
	// ConnectWritable opens a connection that may write (the signal table's
	// rows); nil without signal-table watermarks.
	ConnectWritable func() Conn
	// Position reads the server's current GTID position on c: a watermark
	// (mysql.CurrentPosition).
	Position func(ctx context.Context, c Conn) (change.Position, error)
	// ReplicaLag reads how far a replica source lags (mysql.ReplicaLag).
	ReplicaLag func(ctx context.Context, c Conn) (lag time.Duration, ok bool, err error)
	// SelectList is the chunk query's select list (mysql.SelectColumns).
	SelectList func(t *schema.Table) string
	// Allowed is the shard's table allow-list: only captured tables are
	// snapshotted (their records have a topic).
	Allowed func(db, table string) bool
}

// RequestSpec asks for a snapshot on this shard.
type RequestSpec struct {
	ID        string
	Reason    string   // "api", "start", "allow-list"
	Tables    []string // "db.table", shell globs, physical names
	Where     string
	ChunkSize int // 0: Config.ChunkSize
	Readers   int // 0: Config.Readers
}

// RequestError is a snapshot request the shard cannot run as given.
type RequestError struct{ Reason string }

func (e *RequestError) Error() string { return "snapshot request: " + e.Reason }
func (e *RequestError) Unwrap() error { return ErrBadRequest }

// Runner runs one shard's snapshot requests while its pipeline lifetime
// runs: a worker per table being snapshotted, and per worker up to Readers
// chunk readers over disjoint key ranges, each with its own watermark window
// (Merger). It paces them (MaxRowsPerSecond; MaxLatencyRise: pacer.go), pauses them while the source
// is under pressure, and bounds the chunk rows held (MemoryBytes). State
// lives in the Merger's progress document, so a new lifetime resumes where
// the last emitted chunk left off.
type Runner struct {
	cfg     Config
	shard   string
	src     Source
	m       *Merger
	metrics *Metrics
	log     *slog.Logger
	limiter *rate.Limiter
	pacer   *pacer // nil without latency pacing
	memory  *semaphore.Weighted
	share   int64 // memory per chunk reader

	pressured atomic.Bool
	readers   atomic.Int32

	// OnWarning, when set before Run, hears what degrades a snapshot without
	// stopping the shard (a failed table, a blind pressure check): the
	// daemon's /status warnings.
	OnWarning func(kind, msg string)

	ctlMu sync.Mutex // one control call at a time (its connection)
	ctl   Conn

	mu      sync.Mutex
	workers map[string]*worker // request id + "\x00" + table
	exited  chan string
	live    map[string]*liveRate // request id + table: this lifetime's rate
}

type worker struct {
	cancel context.CancelFunc
}

type liveRate struct {
	rows0 int64
	t0    time.Time
}

// NewRunner validates cfg. It does no I/O.
func NewRunner(cfg Config, shard string, src Source, m *Merger, metrics *Metrics, log *slog.Logger) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, shard: shard, src: src, m: m, metrics: metrics, log: log.With("shard", shard),
		memory: semaphore.NewWeighted(cfg.MemoryBytes), workers: map[string]*worker{}, exited: make(chan string, 16),
		live: map[string]*liveRate{}}
	// Two tables' readers can hold chunks at once within the bound; more
	// readers wait for memory (and hold no connection meanwhile).
	r.share = max(cfg.MemoryBytes/int64(2*cfg.Readers), 1<<20)
	switch {
	case cfg.MaxLatencyRise > 0:
		ceiling := maxPacedRate
		if cfg.MaxRowsPerSecond > 0 {
			ceiling = float64(cfg.MaxRowsPerSecond)
		}
		r.limiter = rate.NewLimiter(rate.Limit(initialRate), cfg.ChunkSize)
		r.pacer = newPacer(r, r.limiter, ceiling)
	case cfg.MaxRowsPerSecond > 0:
		r.limiter = rate.NewLimiter(rate.Limit(cfg.MaxRowsPerSecond), max(cfg.MaxRowsPerSecond, cfg.ChunkSize))
	}
	return r, nil
}

// Run runs the requests of the progress document until ctx is done. It
// returns ctx's error, or a *change.PanicError when a goroutine of its own
// panicked (a bug: the shard's pipeline fails with it).
func (r *Runner) Run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	fatal := make(chan error, 1)
	r.spawn(&wg, "snapshot pressure", fatal, func() { r.watchPressure(ctx) })
	if r.pacer != nil {
		r.spawn(&wg, "snapshot latency pacing", fatal, func() { r.pacer.run(ctx) })
	}
	defer func() {
		cancel()
		wg.Wait()
		r.ctlMu.Lock()
		if r.ctl != nil {
			r.ctl.Close()
			r.ctl = nil
		}
		r.ctlMu.Unlock()
	}()
	for {
		changed := r.m.Changed()
		r.schedule(ctx, &wg, fatal)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-fatal:
			return err
		case <-changed:
		case k := <-r.exited:
			r.mu.Lock()
			delete(r.workers, k)
			r.mu.Unlock()
		}
	}
}

// spawn runs fn in a goroutine of the runner that recovers its panics into
// fatal.
func (r *Runner) spawn(wg *sync.WaitGroup, stage string, fatal chan<- error, fn func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if p := recover(); p != nil {
				select {
				case fatal <- &change.PanicError{Stage: stage, Value: p, Stack: debug.Stack()}:
				default:
				}
			}
		}()
		fn()
	}()
}

// schedule starts a worker for every table of a running (or queued) request
// that has none, and stops the workers of paused and cancelled ones.
func (r *Runner) schedule(ctx context.Context, wg *sync.WaitGroup, fatal chan<- error) {
	type job struct {
		req   *Request
		table *TableProgress
	}
	var start []job
	wanted := map[string]bool{}
	r.m.View(func(p *Progress) {
		for _, req := range p.Requests {
			if req.State != StateQueued && req.State != StateRunning {
				continue
			}
			for _, tp := range req.Tables {
				if tp.State == StateDone || tp.State == StateFailed || tp.State == StateCancelled {
					continue
				}
				k := req.ID + "\x00" + tp.Table
				wanted[k] = true
				start = append(start, job{req, tp})
			}
		}
	})
	r.mu.Lock()
	for k, w := range r.workers {
		if !wanted[k] {
			w.cancel() // paused or cancelled: it exits, its progress stays
		}
	}
	var run []job
	for _, j := range start {
		k := j.req.ID + "\x00" + j.table.Table
		if _, ok := r.workers[k]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		r.workers[k] = &worker{cancel: cancel}
		run = append(run, j)
		id, table := j.req.ID, j.table.Table
		r.spawn(wg, "snapshot "+table, fatal, func() {
			defer func() { r.exited <- k }()
			defer cancel()
			r.runTable(wctx, id, table)
		})
	}
	r.mu.Unlock()
	if len(run) > 0 {
		r.m.Update(func(p *Progress) {
			for _, j := range run {
				if req := p.request(j.req.ID); req != nil && req.State == StateQueued {
					req.State = StateRunning
				}
			}
		})
	}
}

// request finds a request by id.
func (p *Progress) request(id string) *Request {
	for _, r := range p.Requests {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// table finds a table of a request.
func (p *Progress) table(id, table string) (*Request, *TableProgress) {
	req := p.request(id)
	if req == nil {
		return nil, nil
	}
	for _, t := range req.Tables {
		if t.Table == table {
			return req, t
		}
	}
	return req, nil
}

// runTable snapshots one table of a request until it is done, failed, or ctx
// ends (paused, cancelled, the lifetime ends: its progress stays).
func (r *Runner) runTable(ctx context.Context, id, table string) {
	db, name, _ := strings.Cut(table, ".")
	var (
		where          string
		chunk, readers int
		ranges         []*KeyRange
	)
	r.m.View(func(p *Progress) {
		req, tp := p.table(id, table)
		where, chunk, readers = req.Where, req.ChunkSize, req.Readers
		for _, rg := range tp.Ranges {
			c := *rg
			ranges = append(ranges, &c)
		}
	})
	c := r.src.Connect()
	defer c.Close()
	var t *schema.Table
	var convs []mysql.Converter
	err := r.retry(ctx, table, func() error {
		var err error
		t, convs, err = r.src.Schema(ctx, c, db, name)
		return err
	})
	if err != nil {
		r.failTable(ctx, id, table, err)
		return
	}
	if t == nil {
		r.failTable(ctx, id, table, fmt.Errorf("table %s does not exist (any more)", table))
		return
	}
	if err := chunkable(t); err != nil {
		r.failTable(ctx, id, table, err)
		return
	}
	if ranges == nil {
		planned, estimate, err := r.plan(ctx, c, t, where, chunk, readers)
		if err != nil {
			r.failTable(ctx, id, table, err)
			return
		}
		ranges = planned
		now := time.Now()
		r.m.Update(func(p *Progress) {
			if _, tp := p.table(id, table); tp != nil {
				tp.Ranges, tp.Estimated, tp.StartedAt, tp.State = cloneRanges(planned), estimate, &now, StateRunning
			}
		})
		r.log.Info("snapshot of a table starts", "snapshot", id, "table", table, "estimated_rows", estimate, "readers", len(planned), "chunk_size", chunk)
	}
	r.noteRate(id, table)
	sel := r.src.SelectList(t)
	var wg sync.WaitGroup
	errs := make([]error, len(ranges))
	for i, rg := range ranges {
		if rg.Done {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = &change.PanicError{Stage: "snapshot " + table, Value: p, Stack: debug.Stack()}
				}
			}()
			errs[i] = r.readRange(ctx, id, table, i, t, convs, sel, where, chunk, rg)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	for _, err := range errs {
		var pe *change.PanicError
		if errors.As(err, &pe) {
			panic(pe) // a bug: the pipeline's error (its stack is in pe)
		}
		if err != nil {
			r.failTable(ctx, id, table, err)
			return
		}
	}
	var rows, emitted int64
	now := time.Now()
	r.m.Update(func(p *Progress) {
		req, tp := p.table(id, table)
		if tp == nil {
			return
		}
		tp.State, tp.DoneAt = StateDone, &now
		rows, emitted = tp.Rows, tp.Emitted
		if req.finished() && req.State == StateRunning {
			req.State = StateDone
		}
	})
	r.metrics.tables.WithLabelValues(r.shard, StateDone).Inc()
	r.log.Info("snapshot of a table done", "snapshot", id, "table", table, "rows", rows, "emitted", emitted)
}

func (r *Runner) warn(kind, msg string) {
	if r.OnWarning != nil {
		r.OnWarning(kind, msg)
	}
}

func cloneRanges(rs []*KeyRange) []*KeyRange {
	out := make([]*KeyRange, len(rs))
	for i, r := range rs {
		c := *r
		out[i] = &c
	}
	return out
}

// failTable marks a table failed (not for ctx's end: a pause or a stop).
func (r *Runner) failTable(ctx context.Context, id, table string, err error) {
	if ctx.Err() != nil {
		return
	}
	r.log.Error("snapshot of a table failed", "snapshot", id, "table", table, "error", err)
	r.metrics.tables.WithLabelValues(r.shard, StateFailed).Inc()
	r.warn("snapshot_failed", "snapshot "+id+" table "+table+": "+err.Error())
	r.m.Update(func(p *Progress) {
		req, tp := p.table(id, table)
		if tp == nil {
			return
		}
		tp.State, tp.Error = StateFailed, err.Error()
		if req.finished() {
			req.State = StateFailed
			req.Error = "table " + table + ": " + err.Error()
		}
	})
}

// chunkable checks that t has a key to paginate by, of types that paginate
// exactly.
func chunkable(t *schema.Table) error {
	if len(t.PrimaryKey) == 0 {
		return fmt.Errorf("table %s: %w: add a primary key (or a unique key on NOT NULL columns), or exclude the table", t.QualifiedName(), ErrNoKey)
	}
	for _, i := range t.PrimaryKey {
		if ok, why := mysql.KeyTypeOK(&t.Columns[i]); !ok {
			return fmt.Errorf("table %s key column %s: %w: %s", t.QualifiedName(), t.Columns[i].Name, ErrKeyType, why)
		}
	}
	return nil
}

// plan splits the table into key ranges for its chunk readers, at keys read
// at evenly spaced offsets of the estimated row count.
func (r *Runner) plan(ctx context.Context, c Conn, t *schema.Table, where string, chunk, readers int) ([]*KeyRange, int64, error) {
	var estimate int64
	if err := r.retry(ctx, t.QualifiedName(), func() error {
		rows, err := c.Query(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", t.Database, t.Name)
		if err != nil {
			return err
		}
		if len(rows) == 1 && !rows[0][0].Null {
			estimate, _ = strconv.ParseInt(rows[0][0].S, 10, 64)
		}
		return nil
	}); err != nil {
		return nil, 0, err
	}
	if readers < 2 || estimate < int64(2*chunk*readers) {
		return []*KeyRange{{}}, estimate, nil
	}
	if splits, ok, err := r.splitByRange(ctx, c, t, where, readers); err != nil {
		return nil, 0, err
	} else if ok {
		return rangesOf(splits), estimate, nil
	}
	var splits []Key
	for k := 1; k < readers; k++ {
		var key Key
		err := r.retry(ctx, t.QualifiedName(), func() error {
			rows, err := c.Query(ctx, splitQuery(t, where, estimate*int64(k)/int64(readers)))
			if err != nil || len(rows) == 0 {
				return err
			}
			key = make(Key, len(rows[0]))
			for j, v := range rows[0] {
				key[j] = textKeyValue(&t.Columns[t.PrimaryKey[j]], v.S)
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if key == nil || (len(splits) > 0 && keyEqual(splits[len(splits)-1], key)) {
			continue // past the end (the estimate was high), or a repeated point
		}
		splits = append(splits, key)
	}
	return rangesOf(splits), estimate, nil
}

// rangesOf turns split points into the readers' consecutive ranges.
func rangesOf(splits []Key) []*KeyRange {
	ranges := make([]*KeyRange, 0, len(splits)+1)
	var prev Key
	for _, s := range splits {
		ranges = append(ranges, &KeyRange{After: prev, Through: s})
		prev = s
	}
	return append(ranges, &KeyRange{After: prev})
}

// splitByRange splits a single-column integer key's [MIN, MAX] evenly: two
// index lookups instead of OFFSET scans, which read the whole clustered
// index (seconds on a table larger than the buffer pool). Skewed keys give
// uneven ranges, never wrong ones. ok is false where it does not apply (a
// WHERE filter, another key type).
func (r *Runner) splitByRange(ctx context.Context, c Conn, t *schema.Table, where string, readers int) ([]Key, bool, error) {
	if where != "" || len(t.PrimaryKey) != 1 {
		return nil, false, nil
	}
	col := &t.Columns[t.PrimaryKey[0]]
	switch col.Type {
	case schema.TypeTinyInt, schema.TypeSmallInt, schema.TypeMediumInt, schema.TypeInt, schema.TypeBigInt:
	default:
		return nil, false, nil
	}
	q := quote(col.Name)
	var lo, hi *big.Int
	err := r.retry(ctx, t.QualifiedName(), func() error {
		rows, err := c.Query(ctx, "SELECT MIN("+q+"), MAX("+q+") FROM "+quote(t.Database)+"."+quote(t.Name))
		if err != nil || len(rows) != 1 || rows[0][0].Null || rows[0][1].Null {
			return err
		}
		lo, _ = new(big.Int).SetString(rows[0][0].S, 10)
		hi, _ = new(big.Int).SetString(rows[0][1].S, 10)
		return nil
	})
	if err != nil || lo == nil || hi == nil {
		return nil, false, err
	}
	span := new(big.Int).Sub(hi, lo)
	var splits []Key
	for k := 1; k < readers; k++ {
		p := new(big.Int).Mul(span, big.NewInt(int64(k)))
		p.Div(p, big.NewInt(int64(readers))).Add(p, lo)
		key := Key{textKeyValue(col, p.String())}
		if len(splits) > 0 && keyEqual(splits[len(splits)-1], key) || p.Cmp(hi) >= 0 {
			continue
		}
		splits = append(splits, key)
	}
	return splits, true, nil
}

// textKeyValue is a key column's value as the server printed it.
func textKeyValue(c *schema.Column, s string) KeyValue {
	if c.Type == schema.TypeBinary || c.Type == schema.TypeBlob {
		return KeyValue{B: []byte(s)}
	}
	return KeyValue{S: &s}
}

func keyEqual(a, b Key) bool {
	return slices.EqualFunc(a, b, func(x, y KeyValue) bool { return x.String() == y.String() && (x.S == nil) == (y.S == nil) })
}

// keyOf is the pagination key of a row read.
func keyOf(t *schema.Table, row change.Row) (Key, error) {
	k := make(Key, len(t.PrimaryKey))
	for j, i := range t.PrimaryKey {
		p, err := mysql.KeyParam(&t.Columns[i], row[i])
		if err != nil {
			return nil, err
		}
		switch v := p.(type) {
		case string:
			k[j] = KeyValue{S: &v}
		case []byte:
			k[j] = KeyValue{B: v}
		}
	}
	return k, nil
}

// errChunkFull stops a chunk query at the reader's memory share.
var errChunkFull = errors.New("chunk reached its memory share")

// eventOverhead is what a read event holds besides its values.
const eventOverhead = 320

// readRange reads range i of a table chunk by chunk until it is done or ctx
// ends. Each chunk: open a window, read the low watermark, SELECT, read the
// high watermark, hand the rows over, wait until they are emitted.
func (r *Runner) readRange(ctx context.Context, id, table string, i int, t *schema.Table, convs []mysql.Converter,
	sel, where string, limit int, rg *KeyRange) error {
	if err := r.memory.Acquire(ctx, r.share); err != nil {
		return nil // ctx ended
	}
	defer r.memory.Release(r.share)
	r.readers.Add(1)
	r.metrics.readers.WithLabelValues(r.shard).Set(float64(r.readers.Load()))
	defer func() {
		r.readers.Add(-1)
		r.metrics.readers.WithLabelValues(r.shard).Set(float64(r.readers.Load()))
	}()
	c := r.src.Connect()
	defer c.Close()
	var signals Conn
	if r.cfg.SignalTable != "" {
		signals = r.src.ConnectWritable()
		defer signals.Close()
	}
	after, through := rg.After, rg.Through
	rowsRead := r.metrics.rows.WithLabelValues(r.shard, table)
	for {
		if err := r.waitPressure(ctx); err != nil {
			return nil
		}
		var (
			evs   []change.Event
			bytes int64
			cut   bool
			high  change.Position
		)
		lim := limit
		if r.pacer != nil {
			lim = r.pacer.chunkLimit(limit)
		}
		// The rows/s budget is taken before the read, for as many rows as
		// the chunk may return: readers reading at once never overshoot it.
		if err := r.pace(ctx, lim); err != nil {
			return nil
		}
		w := r.m.Open(t.Database, t.Name)
		signal := ""
		err := r.retry(ctx, table, func() error {
			evs, bytes, cut = evs[:0], 0, false
			if signals != nil { // the low watermark, as a row
				signal = fmt.Sprintf("%s:%s:%d:%d", r.shard, id, i, time.Now().UnixNano())
				if _, err := signals.Query(ctx, "INSERT INTO "+quoteTable(r.cfg.SignalTable)+" (id, kind) VALUES (?, 'low')", signal+":low"); err != nil {
					return err
				}
			} else if _, err := r.src.Position(ctx, c); err != nil { // the low watermark
				return err
			}
			stmt, args := chunkQuery(t, sel, &KeyRange{After: after, Through: through}, where, lim)
			now := time.Now()
			err := c.QueryRows(ctx, convs, stmt, args, func(row change.Row, size int) error {
				if bytes+int64(size) > r.share && len(evs) > 0 {
					cut = true
					return errChunkFull
				}
				evs = append(evs, r.readEvent(t, row, len(evs), size, now))
				bytes += int64(size)
				return nil
			})
			if err != nil && !errors.Is(err, errChunkFull) {
				return err
			}
			if signals != nil {
				_, err := signals.Query(ctx, "INSERT INTO "+quoteTable(r.cfg.SignalTable)+" (id, kind) VALUES (?, 'high')", signal+highSuffix)
				return err
			}
			high, err = r.src.Position(ctx, c)
			return err
		})
		if err != nil {
			w.Close()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		n := len(evs)
		done := n < lim && !cut
		var last Key
		if n > 0 {
			if last, err = keyOf(t, evs[n-1].After); err != nil {
				w.Close()
				return fmt.Errorf("table %s: %w", table, err)
			}
		}
		apply := func(p *Progress, emitted, superseded int) {
			_, tp := p.table(id, table)
			if tp == nil || i >= len(tp.Ranges) {
				return
			}
			if last != nil {
				tp.Ranges[i].After = last
			}
			tp.Ranges[i].Done = done
			tp.Rows += int64(n)
			tp.Emitted += int64(emitted)
			tp.Superseded += int64(superseded)
			tp.Chunks++
		}
		if signals != nil {
			w.ReadySignal(signal+highSuffix, evs, apply)
		} else {
			w.Ready(high, evs, apply)
		}
		var res WindowResult
		select {
		case res = <-w.Done():
		case <-ctx.Done():
			w.Close()
			return nil
		}
		if signals != nil { // the watermark rows did their job
			_, _ = signals.Query(ctx, "DELETE FROM "+quoteTable(r.cfg.SignalTable)+" WHERE id IN (?, ?)", signal+":low", signal+highSuffix)
		}
		if res.Retry {
			r.metrics.retries.WithLabelValues(r.shard, table).Inc()
			continue
		}
		rowsRead.Add(float64(n))
		r.metrics.emitted.WithLabelValues(r.shard, table).Add(float64(res.Emitted))
		r.metrics.superseded.WithLabelValues(r.shard, table).Add(float64(res.Superseded))
		r.metrics.chunks.WithLabelValues(r.shard, table).Inc()
		r.metrics.window.WithLabelValues(r.shard).Observe(res.Window.Seconds())
		if last != nil {
			after = last
		}
		if done {
			return nil
		}
	}
}

// readEvent is a chunk row as an op=r event (Debezium's incremental
// snapshot: source.snapshot "incremental", the read time as ts_ms).
func (r *Runner) readEvent(t *schema.Table, row change.Row, index, size int, now time.Time) change.Event {
	return change.Event{
		Op: change.OpRead, Table: t, After: row,
		Source: change.Source{
			Shard: r.shard, Connector: string(r.src.Flavor), Database: t.Database, Table: t.Name,
			ServerID: r.src.ServerID, Row: index, Thread: -1, TsMs: now.UnixMilli(), Snapshot: "incremental",
		},
		Size: size + eventOverhead,
	}
}

// pace waits until the shard's rows/s cap allows n more rows.
func (r *Runner) pace(ctx context.Context, n int) error {
	if r.limiter == nil {
		return nil
	}
	for n > 0 {
		k := min(n, r.limiter.Burst())
		if err := r.limiter.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// retry runs fn until it succeeds, ctx ends, or it fails with an error
// retrying cannot cure (a server error: a bad WHERE, a missing table, a
// privilege): connection problems are retried with backoff.
func (r *Runner) retry(ctx context.Context, table string, fn func() error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = 100*time.Millisecond, 30*time.Second, 0
	err := backoff.RetryNotify(func() error {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return backoff.Permanent(err)
		}
		var ute *schema.UnsupportedTypeError
		if _, server := mysql.ServerErrorCode(err); server || errors.Is(err, mysql.ErrUndecodable) ||
			errors.Is(err, mysql.ErrAccessDenied) || errors.As(err, &ute) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
		r.log.Warn("snapshot query failed; retrying", "table", table, "error", err, "retry_in", wait.String())
		r.metrics.retries.WithLabelValues(r.shard, table).Inc()
	})
	return err
}

// noteRate starts this lifetime's rate measurement of a table.
func (r *Runner) noteRate(id, table string) {
	var rows int64
	r.m.View(func(p *Progress) {
		if _, tp := p.table(id, table); tp != nil {
			rows = tp.Rows
		}
	})
	r.mu.Lock()
	r.live[id+"\x00"+table] = &liveRate{rows0: rows, t0: time.Now()}
	r.mu.Unlock()
}

// globMatch matches a "db.table" pattern (shell globs on each part).
func globMatch(pattern, db, table string) bool {
	pd, pt, ok := strings.Cut(pattern, ".")
	if !ok {
		return false
	}
	m1, _ := path.Match(pd, db)
	m2, _ := path.Match(pt, table)
	return m1 && m2
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
