package router

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Callers branch on them with errors.Is; what each means
// for the shard (retry or stop) is decided by the daemon's classifier.
var (
	// ErrClosed is returned by Write (and Run) once the Writer was closed
	// or its Run returned: nothing more is accepted, positions are no
	// longer committed.
	ErrClosed = errors.New("router: writer closed")

	// ErrFenced means another writer owns this shard now: a Writer with the
	// same TransactionalID initialised its producer id after this one, and
	// the broker refuses this one's transactions (txn.go).
	ErrFenced = errors.New("router: fenced by a newer writer of the same shard")

	// ErrKeylessCompacted is returned by Write for a record without a key
	// bound for a compacted topic: the broker would reject it
	// (INVALID_RECORD), so the Writer refuses it before anything of the
	// batch is enqueued. Tables without a primary key need a non-compacted
	// topic created by the operator, or a key.
	ErrKeylessCompacted = errors.New("router: record without a key for a compacted topic")

	// ErrInvalidConfig wraps every configuration problem NewWriter and
	// NewTopicNamer report.
	ErrInvalidConfig = errors.New("router: invalid configuration")

	// ErrInvalidPosition is returned by Write for a position that could
	// not be loaded back once stored (unknown flavor, snapshot progress
	// that is not JSON): a bug in the caller, refused before it is stored.
	ErrInvalidPosition = errors.New("router: invalid position")

	// ErrPositionsNotCompacted: the positions topic exists without
	// cleanup.policy=compact, so retention would delete positions and a
	// restart would silently start over.
	ErrPositionsNotCompacted = errors.New("router: positions topic is not compacted")

	// ErrCorruptPosition means the stored position of the shard cannot be
	// decoded. A restart would read the same bytes: it is terminal.
	ErrCorruptPosition = errors.New("router: stored position is corrupt")
)

// ProduceError is a record the Kafka client gave up on (or a position it
// could not store). Once one occurs the Writer stops: Run returns it, Write
// returns it, and no position after the failed record is ever committed,
// so a restart replays from the last committed position and loses nothing.
type ProduceError struct {
	Shard     string
	Topic     string
	Partition int32 // -1 when the record failed before it was assigned one
	Err       error // the cause: a kerr.Error (MESSAGE_TOO_LARGE, ...), kgo.ErrRecordTimeout, ...
}

func (e *ProduceError) Error() string {
	part := fmt.Sprint(e.Partition)
	if e.Partition < 0 {
		part = "(unassigned)"
	}
	return fmt.Sprintf("shard %s: produce to topic %s partition %s: %v", e.Shard, e.Topic, part, e.Err)
}

func (e *ProduceError) Unwrap() error { return e.Err }

// UnreachableError means no seed broker answered within the connect
// timeout. The brokers are named so that a typo is obvious.
type UnreachableError struct {
	Brokers []string
	Timeout time.Duration
	Err     error // the last connection error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("kafka brokers %s unreachable (connect timeout %s): %v",
		strings.Join(e.Brokers, ","), e.Timeout, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }
