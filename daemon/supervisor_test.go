package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testSupervisor(run func(ctx context.Context) error) (*supervisor, *Metrics) {
	m := NewMetrics(prometheus.NewRegistry())
	return &supervisor{
		shard: "s1", log: slog.New(slog.NewTextHandler(io.Discard, nil)), tracker: newShardTracker("s1"),
		metrics: m, run: run, minBackoff: time.Millisecond, maxBackoff: 5 * time.Millisecond, stableAfter: time.Hour,
		classify: func(err error) errorClass {
			return errorClass{name: "test", retryable: !errors.Is(err, errTerminalForTest)}
		},
	}, m
}

var errTerminalForTest = errors.New("terminal")

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
	s.classify = classifyError
	err := s.Run(context.Background())
	var p *panicError
	if !errors.As(err, &p) {
		t.Fatalf("Run = %v, want a recovered panic error", err)
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
