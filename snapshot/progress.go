package snapshot

import (
	"encoding/json"
	"fmt"
	"time"
)

// Progress is a shard's snapshot progress: the document stored with every
// position of the shard (change.Position.Snapshot), so that a restart (clean
// or kill -9) resumes each snapshot after the last chunk emitted, not from the
// start. It changes only when a chunk is emitted (Merger.Due) or a request is
// added, paused, resumed, cancelled or finished, always in the order of the
// shard's records.
type Progress struct {
	Version  int        `json:"v"`
	Requests []*Request `json:"requests,omitempty"`
	// AllowList is the shard's table allow-list when its tables were last
	// taken stock of (a JSON rendering of the rules): a table the current
	// allow-list captures and this one did not was added, and gets a snapshot.
	AllowList json.RawMessage `json:"allow_list,omitempty"`
}

// progressVersion is the layout of Progress written today.
const progressVersion = 1

// States of requests and tables.
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StatePaused    = "paused"
	StateDone      = "done"
	StateCancelled = "cancelled"
	StateFailed    = "failed"
)

// Request is one snapshot request on this shard.
type Request struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// Reason says where it came from: "api", "start" (a shard without a
	// position, start: snapshot), "allow-list" (tables added to it).
	Reason    string           `json:"reason,omitempty"`
	Patterns  []string         `json:"patterns,omitempty"` // the tables asked for
	Where     string           `json:"where,omitempty"`
	ChunkSize int              `json:"chunk_size"`
	Readers   int              `json:"readers"`
	State     string           `json:"state"`
	Error     string           `json:"error,omitempty"`
	Tables    []*TableProgress `json:"tables"`
}

// TableProgress is one table of a request: its key ranges (one per chunk
// reader) and counters.
type TableProgress struct {
	Table      string      `json:"table"` // physical db.table
	State      string      `json:"state"`
	Error      string      `json:"error,omitempty"`
	Ranges     []*KeyRange `json:"ranges,omitempty"` // nil until planned
	Rows       int64       `json:"rows"`             // rows read in emitted chunks
	Emitted    int64       `json:"emitted"`          // rows emitted as op=r
	Superseded int64       `json:"superseded"`       // rows dropped: the binlog changed the key in the window
	Chunks     int64       `json:"chunks"`
	Estimated  int64       `json:"estimated"` // information_schema TABLE_ROWS when planned
	StartedAt  *time.Time  `json:"started_at,omitempty"`
	DoneAt     *time.Time  `json:"done_at,omitempty"`
}

// KeyRange is the part of a table one chunk reader covers: keys after After
// (exclusive; nil: from the first key) up to and including Through (nil: to
// the last key). After advances with every emitted chunk.
type KeyRange struct {
	After   Key  `json:"after,omitempty"`
	Through Key  `json:"through,omitempty"`
	Done    bool `json:"done,omitempty"`
}

// Key is a primary key as query parameters, in key column order.
type Key []KeyValue

// KeyValue is one key column's value as a query parameter: text (what the
// server prints for it, which it compares back exactly) or raw bytes for
// binary columns.
type KeyValue struct {
	S *string `json:"s,omitempty"`
	B []byte  `json:"b,omitempty"`
}

// Param is the value to bind.
func (v KeyValue) Param() any {
	if v.S != nil {
		return *v.S
	}
	return v.B
}

func (v KeyValue) String() string {
	if v.S != nil {
		return *v.S
	}
	return fmt.Sprintf("0x%x", v.B)
}

// parseProgress reads a stored document; empty is no progress.
func parseProgress(b []byte) (*Progress, error) {
	p := &Progress{Version: progressVersion}
	if len(b) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptProgress, err)
	}
	if p.Version != progressVersion {
		return nil, fmt.Errorf("%w: version %d, this tidemark reads %d", ErrCorruptProgress, p.Version, progressVersion)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptProgress, err)
	}
	return p, nil
}

// check rejects a document the runner cannot act on: the bytes come from
// Kafka's positions topic, and a null request, table or range, a chunk
// size or reader count Start would never have written (a LIMIT 0 chunk, a
// billion readers) or an unknown state would otherwise reach the runner.
func (p *Progress) check() error {
	ids := make(map[string]bool, len(p.Requests))
	for i, r := range p.Requests {
		switch {
		case r == nil:
			return fmt.Errorf("request %d is null", i)
		case r.ID == "" || ids[r.ID]:
			return fmt.Errorf("request %d: id %q is empty or repeated", i, r.ID)
		case r.ChunkSize < 1 || r.ChunkSize > 1_000_000 || r.Readers < 1 || r.Readers > 64:
			return fmt.Errorf("request %s: chunk_size %d, readers %d: want 1..1000000 and 1..64", r.ID, r.ChunkSize, r.Readers)
		case !knownState(r.State):
			return fmt.Errorf("request %s: state %q", r.ID, r.State)
		}
		ids[r.ID] = true
		for j, t := range r.Tables {
			if t == nil {
				return fmt.Errorf("request %s: table %d is null", r.ID, j)
			}
			if !knownState(t.State) {
				return fmt.Errorf("request %s table %s: state %q", r.ID, t.Table, t.State)
			}
			if len(t.Ranges) > 64 {
				return fmt.Errorf("request %s table %s: %d key ranges, more than 64 readers", r.ID, t.Table, len(t.Ranges))
			}
			for k, rg := range t.Ranges {
				if rg == nil {
					return fmt.Errorf("request %s table %s: key range %d is null", r.ID, t.Table, k)
				}
			}
		}
	}
	return nil
}

func knownState(s string) bool {
	switch s {
	case StateQueued, StateRunning, StatePaused, StateDone, StateCancelled, StateFailed:
		return true
	}
	return false
}

// active reports whether the request still has work.
func (r *Request) active() bool {
	return r.State == StateQueued || r.State == StateRunning || r.State == StatePaused
}

// finished reports whether every table of the request is done (or failed).
func (r *Request) finished() bool {
	for _, t := range r.Tables {
		if t.State != StateDone && t.State != StateFailed && t.State != StateCancelled {
			return false
		}
	}
	return true
}

// retainDone is how many finished requests a shard's progress keeps (for
// status); older ones are dropped so the document stays small.
const retainDone = 20

// prune drops the oldest finished requests beyond retainDone.
func (p *Progress) prune() {
	var done int
	for _, r := range p.Requests {
		if !r.active() {
			done++
		}
	}
	if done <= retainDone {
		return
	}
	out := p.Requests[:0]
	for _, r := range p.Requests {
		if !r.active() && done > retainDone {
			done--
			continue
		}
		out = append(out, r)
	}
	p.Requests = out
}
