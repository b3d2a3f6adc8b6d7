package main

import (
	"context"
	"fmt"
	"time"
)

// connector is one system under test, run as a child process of the
// harness. Each variant (Tidemark to Kafka, Tidemark discarding, Debezium
// with Avro, Debezium with JSON) is its own connector with its own topic and
// its own stored positions.
type connector interface {
	// name identifies the variant in results: tidemark, tidemark-discard,
	// debezium-avro, debezium-json.
	name() string
	// system is "tidemark" or "debezium": the side of the comparison.
	system() string
	// topic is the data topic, or "" when the variant produces nothing.
	topic() string
	// start launches the process. stateKey names its stored position
	// (Tidemark's positions topic; Connect's offsets file and Debezium's
	// schema history topic): a key used before resumes where that run
	// stopped, a new key starts at the shard's current binlog position.
	start(ctx context.Context, stateKey string) (*process, error)
	// check returns an error once the process has died or reports a failed
	// pipeline (Connect task FAILED; Tidemark shard failed).
	check(ctx context.Context) error
	// progress counts what the variant has done so far: records in its data
	// topic (all processes of the run together), or, for a variant without
	// a topic, events the current process has handled.
	progress(ctx context.Context) (int64, error)
	// decoder reads commit_us out of the variant's record values.
	decoder() recordDecoder
}

// progressWait is what waitProgress observed.
type progressWait struct {
	first   time.Time // when progress first moved past from
	reached time.Time // when progress reached target
	changed time.Time // when progress last moved
	ended   time.Time // when a wait that timed out gave up
	last    int64
}

// stallAfter ends a wait whose progress, once started, has not moved for
// this long: the connector has delivered all it will (Debezium's MySQL
// connector on MariaDB loses a row at a restart, see docs/benchmarks.md),
// and the measurement ends at its last record instead of at the timeout.
const stallAfter = 10 * time.Second

// waitProgress polls c until its progress reaches target, checking the
// process p's health on the way. from is the progress before the awaited
// work, so that the first movement (the end of a connector's start-up) is
// seen.
func waitProgress(ctx context.Context, c connector, p *process, from, target int64, timeout time.Duration) (progressWait, error) {
	return waitProgressWhile(ctx, c, p, from, target, timeout, nil)
}

// waitProgressWhile is waitProgress, except that progress standing still
// before busy is closed (the writers still writing: a 40 MB row on its way
// into MariaDB) is not a stall. A nil busy is closed.
func waitProgressWhile(ctx context.Context, c connector, p *process, from, target int64, timeout time.Duration, busy <-chan struct{}) (progressWait, error) {
	var w progressWait
	writing := func() bool {
		if busy == nil {
			return false
		}
		select {
		case <-busy:
			return false
		default:
			return true
		}
	}
	deadline := time.Now().Add(timeout)
	lastCheck := time.Time{}
	for {
		n, err := c.progress(ctx)
		now := time.Now()
		if err == nil {
			if n != w.last || w.changed.IsZero() {
				w.changed = now
			}
			w.last = n
			if n > from && w.first.IsZero() {
				w.first = now
			}
			if n >= target {
				w.reached = now
				return w, nil
			}
		}
		if dead, err := p.exited(); dead {
			return w, err
		}
		if now.Sub(lastCheck) > time.Second {
			lastCheck = now
			if err := c.check(ctx); err != nil {
				return w, err
			}
		}
		if writing() {
			w.changed = now
		} else if !w.first.IsZero() && now.Sub(w.changed) > stallAfter {
			return w, &timeoutError{fmt.Sprintf("%s: %d of %d records, then nothing for %s", c.name(), w.last-from, target-from, stallAfter), true}
		}
		if now.After(deadline) {
			w.ended = now
			return w, &timeoutError{fmt.Sprintf("%s: %d of %d records after %s", c.name(), w.last-from, target-from, timeout), false}
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return w, err
		}
	}
}

// timeoutError is waitProgress running out of time, or progress stalling:
// the measurement is then reported as incomplete (any other error fails it).
type timeoutError struct {
	msg     string
	stalled bool // progress stopped before the target; the last record came at progressWait.changed
}

func (e *timeoutError) Error() string { return e.msg }
