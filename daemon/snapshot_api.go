package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tidemark-cdc/tidemark/snapshot"
)

// The snapshot control API: what the admin endpoint (POST /snapshots, ...)
// and `tidemark snapshot` speak. A request fans out to the shards it names;
// each shard's snapshot.Runner keeps its part in the shard's progress, so a
// request survives restarts; its status is gathered from the shards.

// SnapshotRequest is POST /snapshots.
type SnapshotRequest struct {
	// Shards names the shards; empty or ["*"]: every shard.
	Shards []string `json:"shards,omitempty"`
	// Tables are "db.table" with shell globs, physical names of each shard
	// (shop_shard_7.orders, shop_shard_*.orders); only captured tables match.
	Tables []string `json:"tables"`
	// Where is an optional SQL condition: backfill a subset.
	Where     string `json:"where,omitempty"`
	ChunkSize int    `json:"chunk_size,omitempty"` // 0: the shard's snapshot.chunk_size
	Readers   int    `json:"readers,omitempty"`    // 0: the shard's snapshot.readers
}

// SnapshotStatus is GET /snapshots/{id}, and each element of GET /snapshots.
type SnapshotStatus struct {
	ID        string          `json:"id"`
	Request   SnapshotRequest `json:"request"`
	State     string          `json:"state"`
	Reason    string          `json:"reason,omitempty"` // api, start, allow-list
	CreatedAt time.Time       `json:"created_at"`
	Shards    []ShardSnapshot `json:"shards"`
}

// ShardSnapshot is one shard's part of a snapshot.
type ShardSnapshot struct {
	Shard  string          `json:"shard"`
	State  string          `json:"state"`
	Error  string          `json:"error,omitempty"`
	Tables []TableSnapshot `json:"tables"`
}

// TableSnapshot is one table of one shard.
type TableSnapshot struct {
	Table         string  `json:"table"` // physical db.table
	State         string  `json:"state"`
	Rows          int64   `json:"rows"`       // rows read
	Emitted       int64   `json:"emitted"`    // emitted as op=r
	Superseded    int64   `json:"superseded"` // dropped: the binlog changed the key in the window
	Chunks        int64   `json:"chunks"`
	EstimatedRows int64   `json:"estimated_rows"` // information_schema's TABLE_ROWS when planned
	Percent       float64 `json:"percent"`
	RowsPerSecond float64 `json:"rows_per_second"`
	ETASeconds    float64 `json:"eta_seconds"`
	Error         string  `json:"error,omitempty"`
}

// SnapshotRequestError is a request the daemon refuses as given (HTTP 400).
type SnapshotRequestError struct{ Reason string }

func (e *SnapshotRequestError) Error() string { return "snapshot request: " + e.Reason }

// Errors of the control calls.
var (
	ErrSnapshotNotFound = snapshot.ErrNotFound // HTTP 404
	ErrSnapshotState    = snapshot.ErrState    // HTTP 409
)

// StartSnapshot fans a request out to its shards and returns its status.
// A shard that is not streaming, or matches none of the tables, reports
// why in its part; the request is refused when no shard takes it.
func (d *Daemon) StartSnapshot(ctx context.Context, req SnapshotRequest) (SnapshotStatus, error) {
	if len(req.Tables) == 0 {
		return SnapshotStatus{}, &SnapshotRequestError{"tables: name at least one database.table (shell globs allowed)"}
	}
	if req.ChunkSize < 0 || req.ChunkSize > 1_000_000 || req.Readers < 0 || req.Readers > 64 {
		return SnapshotStatus{}, &SnapshotRequestError{"chunk_size must be 1..1000000 and readers 1..64 (0: the shard's default)"}
	}
	shards, err := d.targetShards(req.Shards)
	if err != nil {
		return SnapshotStatus{}, err
	}
	id := newSnapshotID()
	st := SnapshotStatus{ID: id, Request: req, State: snapshot.StateQueued, Reason: "api", CreatedAt: time.Now().UTC()}
	taken := 0
	var reasons []string
	for _, s := range shards {
		part := ShardSnapshot{Shard: s.cfg.Name, State: snapshot.StateQueued}
		r := s.pipeline.runner.Load()
		if r == nil {
			part.State, part.Error = snapshot.StateFailed, fmt.Sprintf("shard is %s, not streaming: retry once it streams", s.tracker.snapshot().State)
		} else if _, err := r.Start(ctx, snapshot.RequestSpec{ID: id, Reason: "api", Tables: req.Tables, Where: req.Where,
			ChunkSize: req.ChunkSize, Readers: req.Readers}); err != nil {
			part.State, part.Error = snapshot.StateFailed, err.Error()
		} else {
			taken++
		}
		if part.Error != "" {
			reasons = append(reasons, s.cfg.Name+": "+part.Error)
		}
		st.Shards = append(st.Shards, part)
	}
	if taken == 0 {
		return SnapshotStatus{}, &SnapshotRequestError{"no shard took it: " + strings.Join(reasons, "; ")}
	}
	d.snapMu.Lock()
	d.snapRequests[id] = req
	d.snapMu.Unlock()
	if got, ok := d.Snapshot(id); ok {
		return got, nil
	}
	return st, nil
}

func (d *Daemon) targetShards(names []string) ([]*shard, error) {
	if len(names) == 0 || (len(names) == 1 && names[0] == "*") {
		return d.shards, nil
	}
	var out []*shard
	for _, n := range names {
		found := false
		for _, s := range d.shards {
			if s.cfg.Name == n {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, &SnapshotRequestError{fmt.Sprintf("shards: no shard named %q", n)}
		}
	}
	return out, nil
}

// newSnapshotID is a short, unique, sortable id: s-20261203-120501-ab12cd.
func newSnapshotID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "s-" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Snapshots lists every snapshot the streaming shards know, newest first.
func (d *Daemon) Snapshots() []SnapshotStatus {
	byID := map[string]*SnapshotStatus{}
	for _, s := range d.shards {
		r := s.pipeline.runner.Load()
		if r == nil {
			continue
		}
		for _, rs := range r.Status() {
			req := rs.Request
			st := byID[req.ID]
			if st == nil {
				st = &SnapshotStatus{ID: req.ID, Reason: req.Reason, CreatedAt: req.CreatedAt,
					Request: SnapshotRequest{Tables: req.Patterns, Where: req.Where, ChunkSize: req.ChunkSize, Readers: req.Readers}}
				d.snapMu.Lock()
				if orig, ok := d.snapRequests[req.ID]; ok {
					st.Request = orig
				}
				d.snapMu.Unlock()
				byID[req.ID] = st
			}
			part := ShardSnapshot{Shard: s.cfg.Name, State: req.State, Error: req.Error}
			for i, t := range req.Tables {
				live := rs.Tables[i]
				part.Tables = append(part.Tables, TableSnapshot{
					Table: t.Table, State: t.State, Rows: t.Rows, Emitted: t.Emitted, Superseded: t.Superseded, Chunks: t.Chunks,
					EstimatedRows: t.Estimated, Percent: live.Percent, RowsPerSecond: live.RowsPerSecond, ETASeconds: live.ETASeconds, Error: t.Error,
				})
			}
			st.Shards = append(st.Shards, part)
		}
	}
	out := make([]SnapshotStatus, 0, len(byID))
	for _, st := range byID {
		sort.Slice(st.Shards, func(i, j int) bool { return st.Shards[i].Shard < st.Shards[j].Shard })
		st.State = aggregateState(st.Shards)
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// aggregateState: running while any shard runs, paused while any is paused
// (and none runs), then failed, cancelled, or done when every shard is done.
func aggregateState(parts []ShardSnapshot) string {
	seen := map[string]bool{}
	for _, p := range parts {
		seen[p.State] = true
	}
	for _, s := range []string{snapshot.StateRunning, snapshot.StateQueued, snapshot.StatePaused, snapshot.StateFailed, snapshot.StateCancelled} {
		if seen[s] {
			return s
		}
	}
	return snapshot.StateDone
}

// Snapshot is one snapshot's status; false when no streaming shard knows it.
func (d *Daemon) Snapshot(id string) (SnapshotStatus, bool) {
	for _, st := range d.Snapshots() {
		if st.ID == id {
			return st, true
		}
	}
	return SnapshotStatus{}, false
}

// PauseSnapshot, ResumeSnapshot and CancelSnapshot apply to every streaming
// shard that has the snapshot.
func (d *Daemon) PauseSnapshot(id string) (SnapshotStatus, error) {
	return d.snapshotOp(id, (*snapshot.Runner).Pause)
}

func (d *Daemon) ResumeSnapshot(id string) (SnapshotStatus, error) {
	return d.snapshotOp(id, (*snapshot.Runner).Resume)
}

func (d *Daemon) CancelSnapshot(id string) (SnapshotStatus, error) {
	return d.snapshotOp(id, (*snapshot.Runner).Cancel)
}

func (d *Daemon) snapshotOp(id string, op func(*snapshot.Runner, string) (*snapshot.Request, error)) (SnapshotStatus, error) {
	applied := 0
	var stateErr error
	for _, s := range d.shards {
		r := s.pipeline.runner.Load()
		if r == nil {
			continue
		}
		_, err := op(r, id)
		switch {
		case err == nil:
			applied++
		case errors.Is(err, snapshot.ErrState):
			stateErr = err
		case !errors.Is(err, snapshot.ErrNotFound):
			return SnapshotStatus{}, err
		}
	}
	if applied == 0 {
		if stateErr != nil {
			return SnapshotStatus{}, stateErr
		}
		return SnapshotStatus{}, fmt.Errorf("%w: %s", ErrSnapshotNotFound, id)
	}
	st, _ := d.Snapshot(id)
	return st, nil
}
