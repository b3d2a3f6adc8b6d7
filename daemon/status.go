package daemon

import (
	"fmt"
	"sync"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
)

// ShardState is where a shard's pipeline is in its life.
type ShardState string

const (
	StateStarting     ShardState = "starting"     // connecting, checking prerequisites, loading the position
	StateStreaming    ShardState = "streaming"    // reading the binlog and producing
	StateReconnecting ShardState = "reconnecting" // the binlog connection was lost; the reader reconnects in place
	StateRetrying     ShardState = "retrying"     // failed with a retryable error; waiting to restart
	// StateWaitingForStore: a large record waits for the claim-check's
	// store (large_records.store) to answer; the shard holds, nothing skipped.
	StateWaitingForStore ShardState = "waiting_for_store"
	StateFailed          ShardState = "failed"  // stopped on a terminal error; needs an operator
	StateStopped         ShardState = "stopped" // shut down cleanly
)

// ShardStatus is one shard's entry in /status. It never holds a secret.
type ShardStatus struct {
	Shard string     `json:"shard"`
	State ShardState `json:"state"`
	Since time.Time  `json:"since"`
	// Host is the server (host:port) the shard streams from, or tries
	// next; Failovers counts its moves to the next of shards[].hosts.
	Host      string `json:"host"`
	Failovers uint64 `json:"failovers,omitempty"`
	// StartedWithoutPosition: the shard found no stored position and started
	// at the server's current position (changes before it are not captured);
	// StartPosition is where its binlog stream (re)started last.
	StartedWithoutPosition bool       `json:"started_without_position,omitempty"`
	StartPosition          string     `json:"start_position,omitempty"`
	ReadPosition           string     `json:"read_position"`      // last position the reader emitted
	CommittedPosition      string     `json:"committed_position"` // last position stored in Kafka
	LagSeconds             float64    `json:"lag_seconds"`        // now minus the commit time of the last event read
	EventsRead             uint64     `json:"events_read"`
	Restarts               uint64     `json:"restarts"`   // pipeline restarts after a failure
	Reconnects             uint64     `json:"reconnects"` // binlog connections lost and re-established in place
	LastError              string     `json:"last_error,omitempty"`
	LastErrorClass         string     `json:"last_error_class,omitempty"`
	LastErrorAt            *time.Time `json:"last_error_at,omitempty"`
	// Retry says what the supervisor does about the last error: "transient"
	// (retried until it succeeds), "bounded" (retried RetryLimit times in a
	// row, then parked) or "terminal" (parked: a human must act).
	Retry        string     `json:"retry,omitempty"`
	RetryAttempt int        `json:"retry_attempt,omitempty"` // consecutive failures so far
	RetryLimit   int        `json:"retry_limit,omitempty"`   // for bounded retries
	NextRetryAt  *time.Time `json:"next_retry_at,omitempty"`
	// Action is what an operator can do about the last error.
	Action string `json:"action,omitempty"`
	// Warnings are the degraded paths the shard took and went on from, by
	// kind (tidemark_binlog_warnings_total counts them too).
	Warnings map[string]*Warning `json:"warnings,omitempty"`
}

// Warning is one kind of degraded path: how often, and the latest one.
type Warning struct {
	Count  uint64    `json:"count"`
	Last   string    `json:"last"`
	LastAt time.Time `json:"last_at"`
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
	if s == StateStreaming { // recovered: the last error stays for the record
		t.s.Retry, t.s.RetryAttempt, t.s.RetryLimit = "", 0, 0
	}
}

func (t *shardTracker) setError(err error, class string, retryAt time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.s.LastError, t.s.LastErrorClass, t.s.LastErrorAt = err.Error(), class, &now
	t.s.Action = actionFor(class)
	if !retryAt.IsZero() {
		t.s.NextRetryAt = &retryAt
	}
}

// retrying records a failure the supervisor retries at retryAt.
func (t *shardTracker) retrying(err error, c Class, retryAt time.Time, attempt, limit int) {
	t.setError(err, c.Name, retryAt)
	t.mu.Lock()
	t.s.Retry, t.s.RetryAttempt, t.s.RetryLimit = c.Policy.String(), attempt, limit
	t.s.Restarts++
	t.mu.Unlock()
	t.setState(StateRetrying)
}

// failed records the failure that parked the shard; gaveUp says a bounded
// class ran out of attempts.
func (t *shardTracker) failed(err error, c Class, attempts int, gaveUp bool) {
	t.setError(err, c.Name, time.Time{})
	t.mu.Lock()
	t.s.Retry, t.s.RetryAttempt, t.s.RetryLimit = c.Policy.String(), attempts, 0
	if gaveUp {
		t.s.Retry = fmt.Sprintf("bounded: gave up after %d retries", attempts)
	}
	t.mu.Unlock()
	t.setState(StateFailed)
}

// warning records a degraded path the reader went on from.
func (t *shardTracker) warning(kind, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s.Warnings == nil {
		t.s.Warnings = map[string]*Warning{}
	}
	w := t.s.Warnings[kind]
	if w == nil {
		w = &Warning{}
		t.s.Warnings[kind] = w
	}
	w.Count++
	w.Last, w.LastAt = msg, time.Now()
}

// startedWithoutPosition records a start at the server's current position.
func (t *shardTracker) startedWithoutPosition() {
	t.mu.Lock()
	t.s.StartedWithoutPosition = true
	t.mu.Unlock()
}

// streaming records an open binlog connection streaming from a fixed
// position: the shard is ready.
func (t *shardTracker) streaming(from change.Position) {
	t.mu.Lock()
	t.s.StartPosition = from.String()
	t.mu.Unlock()
	t.setState(StateStreaming)
}

// onHost records the server a lifetime uses.
func (t *shardTracker) onHost(addr string) {
	t.mu.Lock()
	t.s.Host = addr
	t.mu.Unlock()
}

// failedOver records a move to the shard's next host.
func (t *shardTracker) failedOver() {
	t.mu.Lock()
	t.s.Failovers++
	t.mu.Unlock()
}

// reconnecting records a binlog connection the reader is re-establishing
// itself: the shard keeps its state, the error shows in /status.
func (t *shardTracker) reconnecting(err error, retryIn time.Duration) {
	t.mu.Lock()
	t.s.Reconnects++
	t.mu.Unlock()
	t.setError(err, Classify(err).Name, time.Now().Add(retryIn))
	t.setState(StateReconnecting)
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

// committedPosition is the last position committed to Kafka, as /status
// shows it ("" before the first).
func (t *shardTracker) committedPosition() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.commitPos.String()
}

func (t *shardTracker) snapshot() ShardStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.s
	s.ReadPosition, s.CommittedPosition = t.readPos.String(), t.commitPos.String()
	if len(t.s.Warnings) > 0 { // a copy: the tracker keeps updating its own
		s.Warnings = make(map[string]*Warning, len(t.s.Warnings))
		for k, w := range t.s.Warnings {
			c := *w
			s.Warnings[k] = &c
		}
	}
	return s
}
