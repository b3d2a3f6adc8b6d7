package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Control: requests added, paused, resumed and cancelled by the daemon (the
// admin API, a shard's first start, tables added to its allow-list). Each
// changes the progress document through the Merger, so it is stored with the
// next position and survives restarts; Run reacts to the change.

// Start resolves spec's table patterns against the shard's captured tables
// and queues the request. A request that matches no table is a
// *RequestError; so is a WHERE the server rejects (checked with a
// zero-row query on the first table).
func (r *Runner) Start(ctx context.Context, spec RequestSpec) (*Request, error) {
	if spec.ID == "" {
		return nil, &RequestError{Reason: "no id"}
	}
	if strings.Contains(spec.Where, ";") {
		return nil, &RequestError{Reason: "the WHERE filter may not contain ';'"}
	}
	r.ctlMu.Lock()
	defer r.ctlMu.Unlock()
	if r.ctl == nil {
		r.ctl = r.src.Connect()
	}
	tables, err := r.matchTables(ctx, spec.Tables)
	if err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return nil, &RequestError{Reason: fmt.Sprintf("no captured table of shard %s matches %s", r.shard, strings.Join(spec.Tables, ", "))}
	}
	if spec.Where != "" {
		db, name, _ := strings.Cut(tables[0], ".")
		if _, err := r.ctl.Query(ctx, "SELECT 1 FROM "+quote(db)+"."+quote(name)+" WHERE ("+spec.Where+") LIMIT 0"); err != nil {
			return nil, &RequestError{Reason: fmt.Sprintf("WHERE %s on %s: %v", spec.Where, tables[0], err)}
		}
	}
	req := &Request{
		ID: spec.ID, CreatedAt: time.Now().UTC(), Reason: spec.Reason, Patterns: spec.Tables, Where: spec.Where,
		ChunkSize: spec.ChunkSize, Readers: spec.Readers, State: StateQueued,
	}
	if req.ChunkSize <= 0 {
		req.ChunkSize = r.cfg.ChunkSize
	}
	if req.Readers <= 0 {
		req.Readers = r.cfg.Readers
	}
	for _, t := range tables {
		req.Tables = append(req.Tables, &TableProgress{Table: t, State: StateQueued})
	}
	var dup bool
	r.m.Update(func(p *Progress) {
		if p.request(req.ID) != nil {
			dup = true
			return
		}
		p.Requests = append(p.Requests, req)
	})
	if dup {
		return nil, &RequestError{Reason: "a snapshot with id " + req.ID + " exists"}
	}
	r.log.Info("snapshot requested", "snapshot", req.ID, "reason", req.Reason, "tables", len(tables), "where", req.Where)
	return req, nil
}

// Tables lists the shard's captured base tables that match the patterns.
func (r *Runner) Tables(ctx context.Context, patterns []string) ([]string, error) {
	r.ctlMu.Lock()
	defer r.ctlMu.Unlock()
	if r.ctl == nil {
		r.ctl = r.src.Connect()
	}
	return r.matchTables(ctx, patterns)
}

// matchTables lists the shard's captured base tables that match the
// patterns ("db.table" globs), sorted.
func (r *Runner) matchTables(ctx context.Context, patterns []string) ([]string, error) {
	for _, p := range patterns {
		if !strings.Contains(p, ".") {
			return nil, &RequestError{Reason: fmt.Sprintf("table %q: want database.table (shell globs allowed)", p)}
		}
	}
	rows, err := r.ctl.Query(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'")
	if err != nil {
		return nil, fmt.Errorf("list the shard's tables: %w", err)
	}
	var out []string
	for _, row := range rows {
		db, t := row[0].S, row[1].S
		if !r.src.Allowed(db, t) {
			continue
		}
		for _, p := range patterns {
			if globMatch(p, db, t) {
				out = append(out, db+"."+t)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Pause stops a running request's readers; its progress stays.
func (r *Runner) Pause(id string) (*Request, error) {
	return r.transition(id, "pause", func(req *Request) bool {
		if req.State != StateQueued && req.State != StateRunning {
			return false
		}
		req.State = StatePaused
		return true
	})
}

// Resume restarts a paused request where it stopped.
func (r *Runner) Resume(id string) (*Request, error) {
	return r.transition(id, "resume", func(req *Request) bool {
		if req.State != StatePaused {
			return false
		}
		req.State = StateRunning
		return true
	})
}

// Cancel ends a request; what it emitted stays in Kafka.
func (r *Runner) Cancel(id string) (*Request, error) {
	return r.transition(id, "cancel", func(req *Request) bool {
		if !req.active() {
			return false
		}
		req.State = StateCancelled
		for _, t := range req.Tables {
			if t.State != StateDone && t.State != StateFailed {
				t.State = StateCancelled
				r.metrics.tables.WithLabelValues(r.shard, StateCancelled).Inc()
			}
		}
		return true
	})
}

func (r *Runner) transition(id, op string, fn func(*Request) bool) (*Request, error) {
	var out *Request
	var err error
	r.m.Update(func(p *Progress) {
		req := p.request(id)
		switch {
		case req == nil:
			err = fmt.Errorf("shard %s: %w: %s", r.shard, ErrNotFound, id)
		case !fn(req):
			err = fmt.Errorf("shard %s: %w: cannot %s a snapshot that is %s", r.shard, ErrState, op, req.State)
		default:
			out = cloneRequest(req)
		}
	})
	if err == nil {
		r.log.Info("snapshot "+op+"d", "snapshot", id)
	}
	return out, err
}

// Status is a copy of the shard's requests with this lifetime's rates.
func (r *Runner) Status() []RequestStatus {
	var out []RequestStatus
	now := time.Now()
	r.mu.Lock()
	live := make(map[string]liveRate, len(r.live))
	for k, v := range r.live {
		live[k] = *v
	}
	r.mu.Unlock()
	r.m.View(func(p *Progress) {
		for _, req := range p.Requests {
			rs := RequestStatus{Request: cloneRequest(req)}
			for _, t := range req.Tables {
				ts := TableStatus{}
				if lr, ok := live[req.ID+"\x00"+t.Table]; ok && t.State == StateRunning {
					if el := now.Sub(lr.t0).Seconds(); el > 0 {
						ts.RowsPerSecond = float64(t.Rows-lr.rows0) / el
					}
				} else if t.State == StateDone && t.StartedAt != nil && t.DoneAt != nil {
					// Done: the table's average, restarts and pauses included.
					if el := t.DoneAt.Sub(*t.StartedAt).Seconds(); el > 0 {
						ts.RowsPerSecond = float64(t.Rows) / el
					}
				}
				ts.Percent = percent(t)
				if ts.RowsPerSecond > 0 && t.Estimated > t.Rows {
					ts.ETASeconds = float64(t.Estimated-t.Rows) / ts.RowsPerSecond
				}
				rs.Tables = append(rs.Tables, ts)
			}
			out = append(out, rs)
		}
	})
	return out
}

// RequestStatus is a request with its tables' live figures (Tables[i]
// belongs to Request.Tables[i]).
type RequestStatus struct {
	Request *Request
	Tables  []TableStatus
}

// TableStatus are a table's live figures.
type TableStatus struct {
	Percent       float64
	RowsPerSecond float64
	ETASeconds    float64
}

func percent(t *TableProgress) float64 {
	switch {
	case t.State == StateDone:
		return 100
	case t.Estimated <= 0:
		return 0
	}
	return min(99.9, 100*float64(t.Rows)/float64(t.Estimated))
}

func cloneRequest(r *Request) *Request {
	b, _ := json.Marshal(r)
	var c Request
	_ = json.Unmarshal(b, &c)
	return &c
}

// Active reports whether the shard has a snapshot with work left.
func (r *Runner) Active() bool {
	active := false
	r.m.View(func(p *Progress) {
		for _, req := range p.Requests {
			if req.active() {
				active = true
			}
		}
	})
	return active
}

// watchPressure checks the source's load every PressureInterval and holds
// the chunk readers while it is over the configured thresholds.
func (r *Runner) watchPressure(ctx context.Context) {
	if r.cfg.PauseThreadsRunning <= 0 && r.cfg.MaxReplicaLag <= 0 {
		return
	}
	c := r.src.Connect()
	defer c.Close()
	t := time.NewTicker(r.cfg.PressureInterval)
	defer t.Stop()
	failing := false
	for {
		reason, err := r.pressure(ctx, c)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			// Not pressure (the chunk queries will see a dead server), but
			// the guard is blind meanwhile: say so.
			r.log.Warn("snapshot: cannot read the source's load; readers are not paced by it until it can be read", "error", err)
			r.warn("snapshot_pressure_unknown", "cannot read the source's load: "+err.Error())
		case err == nil && failing:
			r.log.Info("snapshot: the source's load can be read again")
		}
		failing = err != nil
		was := r.pressured.Swap(reason != "")
		switch {
		case reason != "" && !was:
			r.metrics.pauses.WithLabelValues(r.shard, strings.SplitN(reason, " ", 2)[0]).Inc()
			r.metrics.paused.WithLabelValues(r.shard).Set(1)
			r.log.Info("snapshot paused: the source is under pressure", "reason", reason)
		case reason == "" && was:
			r.metrics.paused.WithLabelValues(r.shard).Set(0)
			r.log.Info("snapshot resumed: the source's pressure dropped")
		}
		select {
		case <-ctx.Done():
			r.pressured.Store(false)
			r.metrics.paused.WithLabelValues(r.shard).Set(0)
			return
		case <-t.C:
		}
	}
}

// pressure names why the source is under pressure ("" when it is not).
// Failing to ask is not pressure (the error says why it could not ask).
func (r *Runner) pressure(ctx context.Context, c Conn) (string, error) {
	if r.cfg.PauseThreadsRunning > 0 {
		rows, err := c.Query(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_RUNNING'")
		if err != nil {
			return "", err
		}
		if len(rows) == 1 {
			if n, _ := strconv.Atoi(rows[0][0].S); n > r.cfg.PauseThreadsRunning {
				return fmt.Sprintf("threads_running %d > %d", n, r.cfg.PauseThreadsRunning), nil
			}
		}
	}
	if r.cfg.MaxReplicaLag > 0 {
		lag, ok, err := r.src.ReplicaLag(ctx, c)
		if err != nil {
			return "", err
		}
		if ok && lag > r.cfg.MaxReplicaLag {
			return fmt.Sprintf("replica_lag %s > %s", lag, r.cfg.MaxReplicaLag), nil
		}
	}
	return "", nil
}

// waitPressure blocks while the source is under pressure, or while the
// latency pacer measures its baseline.
func (r *Runner) waitPressure(ctx context.Context) error {
	for r.pressured.Load() || (r.pacer != nil && r.pacer.quiet.Load()) {
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return ctx.Err()
}
