package daemon

import (
	"sync"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
)

// ShardState is where a shard's pipeline is in its life.
type ShardState string

const (
	StateStarting  ShardState = "starting"  // connecting, checking prerequisites, loading the position
	StateStreaming ShardState = "streaming" // reading the binlog and producing
	StateRetrying  ShardState = "retrying"  // failed with a retryable error; waiting to restart
	StateFailed    ShardState = "failed"    // stopped on a terminal error; needs an operator
	StateStopped   ShardState = "stopped"   // shut down cleanly
)

// ShardStatus is one shard's entry in /status. It never holds a secret.
type ShardStatus struct {
	Shard             string     `json:"shard"`
	State             ShardState `json:"state"`
	Since             time.Time  `json:"since"`
	ReadPosition      string     `json:"read_position"`      // last position the reader emitted
	CommittedPosition string     `json:"committed_position"` // last position stored in Kafka
	LagSeconds        float64    `json:"lag_seconds"`        // now minus the commit time of the last event read
	EventsRead        uint64     `json:"events_read"`
	Restarts          uint64     `json:"restarts"`   // pipeline restarts after a failure
	Reconnects        uint64     `json:"reconnects"` // binlog connections lost and re-established in place
	LastError         string     `json:"last_error,omitempty"`
	LastErrorClass    string     `json:"last_error_class,omitempty"`
	LastErrorAt       *time.Time `json:"last_error_at,omitempty"`
	NextRetryAt       *time.Time `json:"next_retry_at,omitempty"`
}

// shardTracker holds a shard's live status; the pipeline writes it, the admin
// server reads snapshots of it.
type shardTracker struct {
	mu                 sync.Mutex
	s                  ShardStatus
	readPos, commitPos change.Position
}

func newShardTracker(shard string) *shardTracker {
	return &shardTracker{s: ShardStatus{Shard: shard, State: StateStarting, Since: time.Now()}}
}

func (t *shardTracker) setState(s ShardState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s.State != s {
		t.s.State, t.s.Since = s, time.Now()
	}
	if s != StateRetrying {
		t.s.NextRetryAt = nil
	}
}

func (t *shardTracker) setError(err error, class string, retryAt time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.s.LastError, t.s.LastErrorClass, t.s.LastErrorAt = err.Error(), class, &now
	if !retryAt.IsZero() {
		t.s.NextRetryAt = &retryAt
	}
}

// reconnecting records a binlog connection the reader is re-establishing
// itself: the shard keeps its state, the error shows in /status.
func (t *shardTracker) reconnecting(err error, retryIn time.Duration) {
	t.mu.Lock()
	t.s.Reconnects++
	t.mu.Unlock()
	t.setError(err, "connection", time.Now().Add(retryIn))
}

func (t *shardTracker) restarted() {
	t.mu.Lock()
	t.s.Restarts++
	t.mu.Unlock()
}

// read records a batch taken from the reader. lagSeconds is how far behind the
// source the newest event of the batch was when read (0 for a caught-up
// checkpoint such as a heartbeat).
func (t *shardTracker) read(n int, pos change.Position, lagSeconds float64) {
	t.mu.Lock()
	t.s.EventsRead += uint64(n)
	t.readPos = pos
	t.s.LagSeconds = lagSeconds
	t.mu.Unlock()
}

func (t *shardTracker) committed(pos change.Position) {
	t.mu.Lock()
	t.commitPos = pos
	t.mu.Unlock()
}

func (t *shardTracker) snapshot() ShardStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.s
	s.ReadPosition, s.CommittedPosition = t.readPos.String(), t.commitPos.String()
	return s
}
