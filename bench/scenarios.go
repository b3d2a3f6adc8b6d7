package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

const (
	benchDatabase    = "bench"
	benchTable       = "orders"
	benchPartitions  = 6
	stateTopicPrefix = "bench.state." // positions / schema history, one per connector and state key
	rawTopic         = "bench.raw"
)

// bench carries what every scenario needs.
type bench struct {
	plan     plan
	env      stackEnv
	db       *shardDB
	w        *workload
	ka       *kafkaAdmin
	log      *slog.Logger
	res      *results
	stackDir string
	logDir   string
	// Kafka Connect's classpath and Java also run kafka-tools' ProducerPerformance.
	debeziumLibs string
	java         string
	// registered[c] is where the workload stood when c's drain position
	// was stored: the drain must then deliver every record owed since.
	registered map[string]ledgerMark
	// unavailable[c] says why a connector is not measured.
	unavailable map[string]string
	// snapProfile: seconds of CPU profile taken from Tidemark's pprof
	// during its unpaced snapshot (0: none, the default: it costs CPU).
	snapProfile int
	// keep: leave the bench's topics, subjects, buckets and large tables.
	keep bool
}

// baseline is where progress stands before new work: the topic's end
// offsets, or 0 for a variant that counts per process.
func (b *bench) baseline(ctx context.Context, c connector) (int64, error) {
	if t, ok := c.(*tidemark); c.topic() == "" || ok && t.exactlyOnce {
		return 0, nil
	}
	return c.progress(ctx)
}

// startReady starts c with state key key, writes a marker row and waits
// for it: from then on c streams, and has a position to store.
func (b *bench) startReady(ctx context.Context, c connector, key string) (*process, error) {
	base, err := b.baseline(ctx, c)
	if err != nil {
		return nil, err
	}
	p, err := c.start(ctx, key)
	if err != nil {
		return nil, err
	}
	// The marker is written once the process is up; a connector whose fresh
	// start takes the current binlog position could otherwise take it after
	// the marker and never see it, so the marker is repeated until one
	// arrives (each one is owed to every later reader, the ledger counts it).
	deadline := time.Now().Add(b.plan.StartupTimeout.d())
	for {
		if err := b.w.marker(ctx); err != nil {
			_ = p.stop(30 * time.Second)
			return nil, err
		}
		_, err := waitProgress(ctx, c, p, base, base+1, 2*time.Second)
		if err == nil {
			// An earlier marker may still be on its way: let the count settle
			// so that a scenario's baseline holds no leftover.
			if err := settle(ctx, c, time.Second); err != nil {
				_ = p.stop(30 * time.Second)
				return nil, err
			}
			return p, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) || !isTimeout(err) {
			_ = p.stop(30 * time.Second)
			if isTimeout(err) {
				err = fmt.Errorf("%s did not deliver a marker row within %s of starting; see %s", c.name(), b.plan.StartupTimeout.d(), p.logPath)
			}
			return nil, err
		}
	}
}

// settle waits until c's progress has not moved for quiet (at most 10 s).
func settle(ctx context.Context, c connector, quiet time.Duration) error {
	last, _ := c.progress(ctx)
	since := time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
		n, _ := c.progress(ctx)
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return nil
		}
	}
	return nil
}

func isTimeout(err error) bool {
	var t *timeoutError
	return errors.As(err, &t)
}

// register records c's drain position: start, marker, stop.
func (b *bench) register(ctx context.Context, c connector) error {
	p, err := b.startReady(ctx, c, "drain")
	if err != nil {
		return err
	}
	if err := p.stop(60 * time.Second); err != nil {
		return err
	}
	b.registered[c.name()] = b.w.mark()
	return nil
}

// drain starts c from its drain position, after the bulk load, and times it
// until every record owed since is in Kafka.
func (b *bench) drain(ctx context.Context, c connector) measurement {
	r := measurement{Scenario: "drain", Connector: c.name(), System: c.system()}
	since := b.registered[c.name()]
	now := b.w.mark()
	// Everything written since is an INSERT of a fresh id (the later
	// connectors' markers, the bulk load): one record per id.
	owed, firstID := now.records-since.records, since.nextID
	if now.nextID-firstID != owed {
		return failed(r, fmt.Errorf("ledger: %d records owed but ids %d..%d written since %s stored its position", owed, firstID, now.nextID-1, c.name()))
	}
	r.Owed = owed
	base, err := b.baseline(ctx, c)
	if err != nil {
		return failed(r, err)
	}
	var from map[int32]int64
	if c.topic() != "" {
		if from, err = b.ka.partitionOffsets(ctx, c.topic()); err != nil {
			return failed(r, err)
		}
	}
	s0 := sampleCPU(b.stackDir)
	p, err := c.start(ctx, "drain")
	if err != nil {
		return failed(r, err)
	}
	r.Log = p.logPath
	defer p.stop(60 * time.Second)
	w, werr := waitProgress(ctx, c, p, base, base+owed, b.plan.DrainTimeout.d())
	st, serr := readProcStats(p.pid())
	r.Load = loadBetween(s0, sampleCPU(b.stackDir))
	if werr != nil && !isTimeout(werr) {
		return failed(r, werr)
	}
	if serr != nil {
		return failed(r, fmt.Errorf("read /proc of %s: %w", c.name(), serr))
	}
	if c.topic() != "" {
		// Stopped first (Connect and Tidemark flush on SIGTERM), so that the
		// audit sees every record the connector was ever going to deliver.
		if err := p.stop(60 * time.Second); err != nil {
			return failed(r, err)
		}
		a, err := auditDrain(ctx, b.env.Brokers, b.ka, c.topic(), c.decoder(), from, firstID, owed, 3*time.Minute)
		if err != nil {
			return failed(r, err)
		}
		r.Audit = a
	}
	end := w.reached
	if werr != nil {
		end, r.Incomplete, r.TimedOut = incompleteEnd(w, werr), werr.Error(), timedOut(werr)
	}
	r.Events = w.last - base
	r.Seconds = round2(end.Sub(p.started).Seconds())
	if !w.first.IsZero() {
		r.StartupSeconds = round2(w.first.Sub(p.started).Seconds())
	}
	r.EventsPerSecond = float64(int64(float64(r.Events) / end.Sub(p.started).Seconds()))
	r.SteadyEventsPerSecond = steadyRate(w, end, r.Events)
	r.CPUSeconds, r.PeakRSSBytes = round2(st.CPUSeconds), st.HWMBytes
	r.CPUSecondsPerMillion = perMillion(st.CPUSeconds, r.Events)
	return r
}

// live starts c fresh (at the current binlog position), warms it up with
// the same writes for the plan's warm-up (a JVM compiles its hot paths in
// its first seconds under load; a long-running connector has done that),
// writes rate rows/s for the plan's window and measures commit-to-Kafka
// latency with a consumer, then waits for the rest to arrive.
func (b *bench) live(ctx context.Context, c connector, rate int) measurement {
	r := measurement{Scenario: fmt.Sprintf("live-%d", rate), Connector: c.name(), System: c.system()}
	p, err := b.startReady(ctx, c, fmt.Sprintf("live%d", rate))
	if err != nil {
		return failed(r, err)
	}
	r.Log = p.logPath
	defer p.stop(60 * time.Second)
	if b.plan.WarmupSeconds > 0 {
		before, err := c.progress(ctx)
		if err != nil {
			return failed(r, err)
		}
		ledger := b.w.records.Load()
		if _, err := b.w.openLoop(ctx, rate, b.plan.WarmupSeconds.d(), b.plan.LiveWriters); err != nil {
			return failed(r, fmt.Errorf("warm-up: %w", err))
		}
		owed := b.w.records.Load() - ledger
		if _, err := waitProgress(ctx, c, p, before, before+owed, b.plan.SettleTimeout.d()); err != nil {
			if !isTimeout(err) {
				return failed(r, fmt.Errorf("warm-up: %w", err))
			}
			r.Incomplete = "warm-up backlog not delivered before the window: " + err.Error()
		}
	}
	base, err := c.progress(ctx)
	if err != nil {
		return failed(r, err)
	}
	from, err := b.ka.partitionEnds(ctx, c.topic())
	if err != nil {
		return failed(r, err)
	}
	cons, err := newLatencyConsumer(b.env.Brokers, c.topic(), from, c.decoder())
	if t, ok := c.(*tidemark); ok && t.exactlyOnce {
		// A transaction's records are appended before it commits, and read
		// only after: latency is to when the consumer gets them.
		cons.atReceipt = true
	}
	if err != nil {
		return failed(r, err)
	}
	cctx, stopConsumer := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() { cons.run(cctx); close(consumed) }()
	defer func() { stopConsumer(); <-consumed }()

	st0, err := readProcStats(p.pid())
	if err != nil {
		return failed(r, err)
	}
	s0 := sampleCPU(b.stackDir)
	ledger0 := b.w.records.Load()
	// The writes stop early if the connector dies: there is nothing to measure.
	wctx, stopWrites := context.WithCancel(ctx)
	go func() {
		select {
		case <-p.done:
			stopWrites()
		case <-wctx.Done():
		}
	}()
	ws, err := b.w.openLoop(wctx, rate, time.Duration(b.plan.LiveSeconds)*time.Second, b.plan.LiveWriters)
	stopWrites()
	if dead, derr := p.exited(); dead {
		return failed(r, fmt.Errorf("during the write window: %w", derr))
	}
	if err != nil {
		return failed(r, err)
	}
	r.Writer = &ws
	writesDone := time.Now()
	owed := b.w.records.Load() - ledger0
	w, werr := waitProgress(ctx, c, p, base, base+owed, b.plan.SettleTimeout.d())
	if werr != nil && !isTimeout(werr) {
		return failed(r, werr)
	}
	if werr != nil {
		r.Incomplete = strings.TrimPrefix(r.Incomplete+"; ", "; ") + werr.Error() + " after the window: the latencies cover the records that arrived"
		r.CatchUpSeconds = round2(incompleteEnd(w, werr).Sub(writesDone).Seconds())
	} else {
		r.CatchUpSeconds = round2(w.reached.Sub(writesDone).Seconds())
	}
	st1, err := readProcStats(p.pid())
	if err != nil {
		return failed(r, err)
	}
	r.Load = loadBetween(s0, sampleCPU(b.stackDir))
	// The consumer reads what is in the topic; give it a moment to finish.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		cons.mu.Lock()
		n := cons.records
		cons.mu.Unlock()
		if n >= w.last-base {
			break
		}
		_ = sleepCtx(ctx, 50*time.Millisecond)
	}
	stopConsumer()
	<-consumed
	lat, derr := cons.result()
	if derr != nil {
		return failed(r, fmt.Errorf("latency consumer: %w", derr))
	}
	r.Latency = &lat
	r.Events = w.last - base
	r.Seconds = ws.Seconds
	r.EventsPerSecond = float64(int64(float64(r.Events) / ws.Seconds))
	r.CPUSeconds = round2(st1.CPUSeconds - st0.CPUSeconds)
	r.CPUSecondsPerMillion = perMillion(st1.CPUSeconds-st0.CPUSeconds, r.Events)
	r.PeakRSSBytes = st1.HWMBytes
	return r
}

// bigTxn starts c fresh, commits one transaction of the plan's size and
// times it from sending COMMIT to its last record, with the process's peak
// RSS.
func (b *bench) bigTxn(ctx context.Context, c connector) measurement {
	r := measurement{Scenario: "big-txn", Connector: c.name(), System: c.system()}
	p, err := b.startReady(ctx, c, "bigtxn")
	if err != nil {
		return failed(r, err)
	}
	r.Log = p.logPath
	defer p.stop(60 * time.Second)
	base, err := c.progress(ctx)
	if err != nil {
		return failed(r, err)
	}
	st0, err := readProcStats(p.pid())
	if err != nil {
		return failed(r, err)
	}
	s0 := sampleCPU(b.stackDir)
	ledger0 := b.w.records.Load()
	committed, writeSecs, commitSecs, err := b.w.bigTransaction(ctx, b.plan.BigTxnRows, b.plan.LoadBatch)
	if err != nil {
		return failed(r, err)
	}
	r.BigTxnWriteSeconds, r.BigTxnCommitSeconds = round2(writeSecs), round2(commitSecs)
	owed := b.w.records.Load() - ledger0
	w, werr := waitProgress(ctx, c, p, base, base+owed, b.plan.BigTxnTimeout.d())
	if werr != nil && !isTimeout(werr) {
		return failed(r, werr)
	}
	st1, err := readProcStats(p.pid())
	if err != nil {
		return failed(r, err)
	}
	r.Load = loadBetween(s0, sampleCPU(b.stackDir))
	end := w.reached
	if werr != nil {
		end, r.Incomplete = incompleteEnd(w, werr), werr.Error()
	}
	r.Events = w.last - base
	r.Seconds = round2(end.Sub(committed).Seconds())
	if !w.first.IsZero() {
		r.StartupSeconds = round2(w.first.Sub(committed).Seconds())
	}
	if r.Seconds > 0 {
		r.EventsPerSecond = float64(int64(float64(r.Events) / r.Seconds))
	}
	r.SteadyEventsPerSecond = steadyRate(w, end, r.Events)
	r.CPUSeconds = round2(st1.CPUSeconds - st0.CPUSeconds)
	r.CPUSecondsPerMillion = perMillion(st1.CPUSeconds-st0.CPUSeconds, r.Events)
	r.PeakRSSBytes = st1.HWMBytes
	return r
}

// steadyRate is events/s from the first record to end (0 when too short to
// tell: the first poll may already have seen them all).
func steadyRate(w progressWait, end time.Time, events int64) float64 {
	d := end.Sub(w.first).Seconds()
	if w.first.IsZero() || d < 0.2 || events < 2 {
		return 0
	}
	return float64(int64(float64(events-1) / d))
}

// incompleteEnd is when an incomplete wait's measurement ends: at the last
// record when progress stalled, else when the wait timed out (not later:
// the drain stops the connector and audits its topic after the wait).
func incompleteEnd(w progressWait, err error) time.Time {
	var t *timeoutError
	if errors.As(err, &t) && t.stalled {
		return w.changed
	}
	if !w.ended.IsZero() {
		return w.ended
	}
	return time.Now()
}

// timedOut reports whether err is a wait that ran out of time while the
// connector was still delivering (not one whose progress stalled).
func timedOut(err error) bool {
	var t *timeoutError
	return errors.As(err, &t) && !t.stalled
}

func failed(r measurement, err error) measurement {
	r.Error = err.Error()
	return r
}

func perMillion(cpu float64, events int64) float64 {
	if events <= 0 {
		return 0
	}
	return round2(cpu / float64(events) * 1e6)
}
