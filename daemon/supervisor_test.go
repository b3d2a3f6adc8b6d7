package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tidemark-cdc/tidemark/change"
)

func testSupervisor(run func(ctx context.Context) error) (*supervisor, *Metrics) {
	m := NewMetrics(prometheus.NewRegistry())
	return &supervisor{
		shard: "s1", log: slog.New(slog.NewTextHandler(io.Discard, nil)), tracker: newShardTracker("s1"),
		metrics: m, run: run, minBackoff: time.Millisecond, maxBackoff: 5 * time.Millisecond, stableAfter: time.Hour,
		classify: func(err error) Class {
			switch {
			case errors.Is(err, errTerminalForTest):
				return Class{"test", Terminal}
			case errors.Is(err, errBoundedForTest):
				return Class{"test_bounded", Bounded}
			}
			return Class{"test", Transient}
		},
	}, m
}

var (
	errTerminalForTest = errors.New("terminal")
	errBoundedForTest  = errors.New("needs a human")
)

func TestSupervisorRetriesThenStopsOnTerminal(t *testing.T) {
	calls := 0
	s, m := testSupervisor(func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return errTerminalForTest
	})
	err := s.Run(context.Background())
	if !errors.Is(err, errTerminalForTest) {
		t.Fatalf("Run = %v, want the terminal error", err)
	}
	if calls != 3 {
		t.Fatalf("pipeline ran %d times, want 3 (two retries)", calls)
	}
	st := s.tracker.snapshot()
	if st.State != StateFailed || st.Restarts != 2 || st.LastError != "terminal" {
		t.Fatalf("status = %+v, want failed after 2 restarts with the last error", st)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("s1", "test")); got != 3 {
		t.Fatalf("errors_total = %v, want 3", got)
	}
}

func TestSupervisorRecoversPanicAsTerminal(t *testing.T) {
	s, _ := testSupervisor(func(ctx context.Context) error { panic("boom") })
	s.classify = Classify
	err := s.Run(context.Background())
	var p *change.PanicError
	if !errors.As(err, &p) {
		t.Fatalf("Run = %v, want a recovered panic error", err)
	}
	if st := s.tracker.snapshot(); st.State != StateFailed || st.LastErrorClass != "internal" || st.Retry != "terminal" {
		t.Fatalf("status = %+v, want failed, internal, terminal", st)
	}
}

// A bounded class is retried maxAttempts times in a row, with the attempt
// and the limit in /status, then the shard is parked.
func TestSupervisorBoundedRetriesGiveUp(t *testing.T) {
	calls := 0
	var seen []ShardStatus
	var s *supervisor
	s, _ = testSupervisor(func(ctx context.Context) error {
		if calls > 0 {
			seen = append(seen, s.tracker.snapshot())
		}
		calls++
		return errBoundedForTest
	})
	s.maxAttempts = 3
	err := s.Run(context.Background())
	if !errors.Is(err, errBoundedForTest) || calls != 4 {
		t.Fatalf("Run = %v after %d runs, want the error after 4 (3 retries)", err, calls)
	}
	for i, st := range seen {
		if st.RetryAttempt != i+1 || st.RetryLimit != 3 || st.Retry != "bounded" {
			t.Errorf("before run %d: status %+v, want attempt %d of 3", i+2, st, i+1)
		}
	}
	st := s.tracker.snapshot()
	if st.State != StateFailed || st.Retry != "bounded: gave up after 3 retries" || st.NextRetryAt != nil || st.Action == "" && st.LastErrorClass != "test_bounded" {
		t.Fatalf("final status = %+v", st)
	}
}

// While it waits to retry, /status says retrying and when.
func TestSupervisorShowsNextRetry(t *testing.T) {
	s, _ := testSupervisor(func(ctx context.Context) error { return errors.New("connection refused") })
	s.minBackoff, s.maxBackoff = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.tracker.snapshot()
		if st.State == StateRetrying {
			if st.NextRetryAt == nil || time.Until(*st.NextRetryAt) < 10*time.Minute || st.Retry != "transient" || st.RetryAttempt != 1 {
				t.Errorf("retrying status %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never retrying: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A lifetime that committed a new position ended the incident: the next
// failure starts over (backoff from minBackoff, attempt 1, which the
// status shows), so a Bounded error that each lifetime gets past never
// parks the shard; without progress the attempts add up.
func TestSupervisorStartsOverAfterProgress(t *testing.T) {
	calls := 0
	var attempts []int // the retry attempt /status shows as each run starts
	var s *supervisor
	s, _ = testSupervisor(func(ctx context.Context) error {
		if calls > 0 {
			attempts = append(attempts, s.tracker.snapshot().RetryAttempt)
		}
		calls++
		if calls > 3 { // from the fourth run on, each commits before failing
			s.tracker.committed(change.Position{GTIDSet: fmt.Sprintf("0-1-%d", calls)})
		}
		if calls == 8 {
			return errTerminalForTest
		}
		return errBoundedForTest
	})
	s.maxAttempts = 3
	if err := s.Run(context.Background()); !errors.Is(err, errTerminalForTest) {
		t.Fatalf("Run = %v after %d runs: a Bounded error past which each lifetime commits must not give up", err, calls)
	}
	if want := []int{1, 2, 3, 1, 1, 1, 1}; fmt.Sprint(attempts) != fmt.Sprint(want) {
		t.Errorf("attempts before runs 2-8: %v, want %v", attempts, want)
	}
}

// Transient failures are retried without a limit.
func TestSupervisorTransientRetriesWithoutLimit(t *testing.T) {
	calls := 0
	s, _ := testSupervisor(func(ctx context.Context) error {
		calls++
		if calls <= 3*maxBoundedAttempts {
			return errors.New("connection refused")
		}
		return errTerminalForTest
	})
	if err := s.Run(context.Background()); !errors.Is(err, errTerminalForTest) || calls != 3*maxBoundedAttempts+1 {
		t.Fatalf("Run = %v after %d runs", err, calls)
	}
}

func TestSupervisorStopsCleanlyOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, _ := testSupervisor(func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if st := s.tracker.snapshot(); st.State != StateStopped {
		t.Fatalf("state = %s, want stopped", st.State)
	}
}
