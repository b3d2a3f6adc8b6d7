package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/tidemark-cdc/tidemark/change"
)

// maxBoundedAttempts is how many consecutive failures of a Bounded class
// (an ACL to grant, an error never seen before) the supervisor retries
// before it parks the shard: with backoff from 1s doubling to 1min, about
// five minutes for a human who is already on it.
const maxBoundedAttempts = 10

// supervisor runs one shard's pipeline until the daemon stops. What it does
// with a failure is decided by the classifier (errors.go): a Transient one
// restarts the pipeline after an exponential backoff for as long as it
// takes; a Bounded one does the same at most maxBoundedAttempts times in a
// row; a Terminal one (or a Bounded one past its limit) parks the shard in
// StateFailed with the error, its class and what to do in /status. The
// backoff and the attempt count reset once a pipeline has run for
// stableAfter, or has committed a new position to Kafka: a lifetime that
// made progress ended a past incident, so the next failure is a new one
// and is retried from minBackoff (three registry outages a minute apart
// must not leave the third waiting a minute and more after it healed). The supervisor is the only place that logs a pipeline error
// and counts it in metrics. One shard's failure never touches the others:
// each has its own supervisor goroutine, and a panic anywhere in a
// pipeline's goroutines ends only that pipeline (see pipeline.go).
type supervisor struct {
	shard       string
	log         *slog.Logger
	tracker     *shardTracker
	metrics     *Metrics
	run         func(ctx context.Context) error // one pipeline lifetime
	classify    func(error) Class
	minBackoff  time.Duration
	maxBackoff  time.Duration
	stableAfter time.Duration
	maxAttempts int           // for Bounded classes; maxBoundedAttempts when 0
	restart     chan struct{} // Restart: end the lifetime, start the next at once
}

// Restart ends the running lifetime (it drains and commits, as on shutdown)
// and starts the next one without backoff, or cuts a backoff wait short.
func (s *supervisor) Restart() {
	select {
	case s.restart <- struct{}{}:
	default:
	}
}

// Run returns nil when ctx is cancelled, or the error that parked the shard
// (after recording it; the daemon keeps running the other shards).
func (s *supervisor) Run(ctx context.Context) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = s.minBackoff, s.maxBackoff, 0
	bo.Reset()
	limit := s.maxAttempts
	if limit == 0 {
		limit = maxBoundedAttempts
	}
	attempts := 0 // consecutive failures since the last stable run
	for {
		started := time.Now()
		s.tracker.setState(StateStarting)
		lifetime, end := context.WithCancel(ctx)
		var restarted atomic.Bool
		go func() {
			select {
			case <-s.restart:
				restarted.Store(true)
				end()
			case <-lifetime.Done():
			}
		}()
		before := s.tracker.committedPosition()
		err := s.runOnce(lifetime)
		end()
		if ctx.Err() == nil && restarted.Load() {
			s.log.Info("shard pipeline restarted on request", "shard", s.shard)
			bo.Reset()
			attempts = 0
			continue
		}
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
		s.metrics.errors.WithLabelValues(s.shard, class.Name).Inc()
		if time.Since(started) > s.stableAfter || s.tracker.committedPosition() != before {
			bo.Reset()
			attempts = 0
		}
		attempts++
		var p *change.PanicError
		if errors.As(err, &p) {
			// The stack goes to the log once, not into /status.
			s.log.Error("shard pipeline panicked", "shard", s.shard, "stage", p.Stage, "panic", fmt.Sprint(p.Value), "stack", string(p.Stack))
		}
		gaveUp := class.Policy == Bounded && attempts > limit
		if class.Policy == Terminal || gaveUp {
			s.tracker.failed(err, class, attempts-1, gaveUp)
			msg := "shard stopped on a terminal error; fix the cause and restart tidemark"
			if gaveUp {
				msg = fmt.Sprintf("shard stopped after %d failed attempts in a row; fix the cause and restart tidemark", attempts)
			}
			s.log.Error(msg, "shard", s.shard, "error_class", class.Name, "action", actionFor(class.Name), "error", err)
			return fmt.Errorf("shard %s: %w", s.shard, err)
		}
		wait := bo.NextBackOff()
		retryLimit := 0
		if class.Policy == Bounded {
			retryLimit = limit
		}
		s.tracker.retrying(err, class, time.Now().Add(wait), attempts, retryLimit)
		s.metrics.restarts.WithLabelValues(s.shard).Inc()
		s.log.Warn("shard pipeline failed; restarting", "shard", s.shard, "error_class", class.Name,
			"retry", class.Policy.String(), "attempt", attempts, "error", err, "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.restart: // an operator: retry now
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			s.tracker.setState(StateStopped)
			return nil
		}
	}
}

// runOnce runs the pipeline, turning a panic of its own goroutine into an
// error at this boundary (the pipeline's stage goroutines recover their own:
// see recoverStage).
func (s *supervisor) runOnce(ctx context.Context) (err error) {
	defer recoverInto("", &err)
	return s.run(ctx)
}

// recoverInto turns a panic of the calling goroutine into *errp, a
// *change.PanicError of stage. Use as `defer recoverInto(stage, &err)` at
// the top of every goroutine a pipeline starts.
func recoverInto(stage string, errp *error) {
	if r := recover(); r != nil {
		*errp = &change.PanicError{Stage: stage, Value: r, Stack: debug.Stack()}
	}
}

// actionFor is what an operator can do about a class of failure, for the
// log and /status.
func actionFor(class string) string {
	switch class {
	case "access_denied":
		return "check the shard's user, password (its password_env) and grants, then restart"
	case "prerequisites":
		return "fix the server settings the error lists, then restart"
	case "position_lost":
		return "the binlogs after the stored position are gone: re-snapshot the shard (and keep binlogs longer)"
	case "position_not_portable":
		return "the stored position has no GTIDs, so it is a file and offset of the server it names: point the shard back at that server until it logs a transaction, or delete the shard's position and re-snapshot"
	case "host_behind":
		return "the server is a replica that has not yet applied the stored position: Tidemark waits for it; if that lasts, check its replication (SHOW SLAVE STATUS) or point the shard at a server that has the position"
	case "missing_position":
		return "restore the shard's old name or kafka.positions_topic, or confirm a new shard with accept_missing_position: true"
	case "schema", "decode":
		return "see the error for the table and column; exclude the table or fix its definition, then restart"
	case "incompatible_schema":
		return "relax the subject's compatibility rule in the registry or revert the DDL the error names, then restart"
	case "tls":
		return "the TLS handshake fails on the settings: check ca_file, server_name (default: the host) and the server's certificate, then restart"
	case "mysql_rejected":
		return "the server refused the request for good (privilege, host or binlog setting): see the error, fix it, then restart"
	case "registry_rejected":
		return "the registry refused the request: see the error, fix the registry or the subject, then restart"
	case "encode":
		return "a row value does not fit its column's schema: a bug; report it with the log, exclude the table to continue"
	case "registry_auth", "kafka_auth":
		return "check the credentials, then restart"
	case "kafka_rejected":
		return "grant the ACL or fix the topic policy the error names"
	case "record_too_large":
		return "raise the topic's max.message.bytes or exclude the table (the claim-check lifts the limit)"
	case "config":
		return "fix the Kafka topic or configuration the error names, then restart"
	case "server_id_conflict":
		return "give the shard a server_id no server or replica of the shard uses"
	case "corrupt_position":
		return "inspect the shard's record in the positions topic"
	case "xa_rollback":
		return "Kafka holds rows of an XA transaction that was rolled back: re-snapshot the tables it changed, then set on_xa_rollback: continue and restart"
	case "incident":
		return "the server says its binlog may miss changes: re-snapshot the shard"
	case "internal":
		return "a bug: report it with the log (it has the stack), then restart"
	case "fenced":
		return "another tidemark process writes this shard now (same transactional id); stop one of them. This one wrote nothing after the other took over"
	case "kafka_transaction_timeout":
		return "a MySQL transaction took longer to stream than kafka.transactions.timeout: raise it (at most the brokers' transaction.max.timeout.ms), then restart"
	case "unknown":
		return "see the error; restart once the cause is fixed"
	}
	return ""
}
