package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// supervisor runs one shard's pipeline until the daemon stops: a retryable
// failure restarts the pipeline after an exponential backoff (reset once it
// has streamed for stableAfter); a terminal one parks the shard in
// StateFailed with the error in /status. It is the only place that logs a
// pipeline error and counts it in metrics. One shard's failure never touches
// the others: each has its own supervisor goroutine.
type supervisor struct {
	shard       string
	log         *slog.Logger
	tracker     *shardTracker
	metrics     *Metrics
	run         func(ctx context.Context) error // one pipeline lifetime
	classify    func(error) errorClass
	minBackoff  time.Duration
	maxBackoff  time.Duration
	stableAfter time.Duration
}

// Run returns nil when ctx is cancelled, or the terminal error that stopped
// the shard (after recording it; the daemon keeps running the other shards).
func (s *supervisor) Run(ctx context.Context) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = s.minBackoff, s.maxBackoff, 0
	bo.Reset()
	for {
		started := time.Now()
		s.tracker.setState(StateStarting)
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			s.tracker.setState(StateStopped)
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("shard pipeline stopped with an error during shutdown", "shard", s.shard, "error", err)
			}
			return nil
		}
		if err == nil {
			err = errors.New("pipeline returned without an error before shutdown")
		}
		class := s.classify(err)
		s.metrics.errors.WithLabelValues(s.shard, class.name).Inc()
		if !class.retryable {
			s.tracker.setError(err, class.name, time.Time{})
			s.tracker.setState(StateFailed)
			s.log.Error("shard stopped on a terminal error; fix the cause and restart tidemark",
				"shard", s.shard, "error_class", class.name, "error", err)
			return fmt.Errorf("shard %s: %w", s.shard, err)
		}
		if time.Since(started) > s.stableAfter {
			bo.Reset()
		}
		wait := bo.NextBackOff()
		s.tracker.setError(err, class.name, time.Now().Add(wait))
		s.tracker.setState(StateRetrying)
		s.tracker.restarted()
		s.metrics.restarts.WithLabelValues(s.shard).Inc()
		s.log.Warn("shard pipeline failed; restarting", "shard", s.shard, "error_class", class.name,
			"error", err, "retry_in", wait.String())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			s.tracker.setState(StateStopped)
			return nil
		}
	}
}

// runOnce runs the pipeline, turning a panic into an error at this boundary.
func (s *supervisor) runOnce(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return s.run(ctx)
}

// panicError is a recovered panic of a pipeline: a bug, so terminal.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string {
	return fmt.Sprintf("internal error (panic): %v\n%s", p.value, p.stack)
}
