package snapshot

import (
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Latency pacing: the snapshot's rows/s follow the source's own response
// time, so that it takes what the server can spare and no more. A probe
// connection times "SELECT 1" every probeInterval; the 80th percentile of
// each decision window is compared with the baseline, the same percentile
// measured while
// the readers are held (a quiet spell at the start and every
// baselineEvery). Above baseline·(1+MaxLatencyRise)+latencySlack the rate is
// halved, otherwise it grows by a quarter (multiplicative both ways: it
// finds a 100× change of headroom in seconds). A statement of the primary
// workload waits for the same CPU, locks and I/O the probe waits for, so
// holding the probe near its baseline holds the workload's latency there.
const (
	probeInterval  = 50 * time.Millisecond
	decisionWindow = 500 * time.Millisecond
	baselineEvery  = time.Minute
	quietDrain     = 500 * time.Millisecond // in-flight chunk queries finish before the baseline is measured
	quietMeasure   = time.Second
	// latencySlack keeps a sub-millisecond baseline from reading noise as
	// load (a 0.2 ms SELECT 1 varies by more than 20%).
	latencySlack  = 300 * time.Microsecond
	minPacedRate  = 200.0 // rows/s: the snapshot always moves
	initialRate   = 2000.0
	rateGrowth    = 1.25
	rateCut       = 0.5
	maxPacedRate  = 10_000_000.0 // "no cap" for the limiter
	smallestChunk = 64
	// probeQuantile: the workload's tail suffers from the snapshot's
	// bursts, which a window's median hides.
	probeQuantile = 0.8
)

// pacer runs the probe and moves the limiter's rate. quiet is set while
// the baseline is measured: the readers hold (waitPressure).
type pacer struct {
	r        *Runner
	limiter  *rate.Limiter
	ceiling  float64 // MaxRowsPerSecond, or maxPacedRate
	rise     float64
	quiet    atomic.Bool
	current  atomic.Uint64 // math.Float64bits of the rate, for chunkLimit
	baseline time.Duration
}

func newPacer(r *Runner, limiter *rate.Limiter, ceiling float64) *pacer {
	p := &pacer{r: r, limiter: limiter, ceiling: ceiling, rise: r.cfg.MaxLatencyRise}
	p.setRate(min(initialRate, ceiling))
	return p
}

func (p *pacer) rate() float64 { return math.Float64frombits(p.current.Load()) }

func (p *pacer) setRate(v float64) {
	p.current.Store(math.Float64bits(v))
	p.limiter.SetLimit(rate.Limit(v))
	p.r.metrics.rate.WithLabelValues(p.r.shard).Set(v)
}

// chunkLimit shrinks a chunk to 50 ms of the paced rate, so
// that a slow rate is many small reads rather than rare bursts the
// workload would feel.
func (p *pacer) chunkLimit(limit int) int {
	return min(limit, max(smallestChunk, int(p.rate()/20)))
}

// run probes while chunk readers run (20 trivial queries a second), until
// ctx ends. The rate learnt carries over from one table to the next.
func (p *pacer) run(ctx context.Context) {
	c := p.r.src.Connect()
	defer c.Close()
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	var (
		window      []time.Duration
		windowStart time.Time
		quietStart  time.Time
		nextQuiet   time.Time // zero: no baseline yet
		reading     bool
		failing     bool
	)
	for {
		select {
		case <-ctx.Done():
			p.quiet.Store(false)
			return
		case <-tick.C:
		}
		if p.r.readers.Load() == 0 { // nothing to pace: no probes
			reading, window = false, window[:0]
			continue
		}
		if !reading { // readers started: measure a baseline first unless a recent one stands
			reading, windowStart = true, time.Now()
			if time.Now().After(nextQuiet) {
				p.quiet.Store(true)
				quietStart = time.Now()
			}
		}
		began := time.Now()
		_, err := c.Query(ctx, "SELECT 1")
		took := time.Since(began)
		switch {
		case err != nil && ctx.Err() != nil:
			continue
		case err != nil:
			if !failing {
				p.r.log.Warn("snapshot: cannot time the source's response; the readers keep their current rate until it can be timed", "error", err)
				p.r.warn("snapshot_pressure_unknown", "cannot time the source's response (latency pacing): "+err.Error())
			}
			failing = true
			p.quiet.Store(false) // never hold the readers on a blind probe
			continue
		case failing:
			p.r.log.Info("snapshot: the source's response can be timed again")
			failing = false
		}
		window = append(window, took)
		now := time.Now()
		if p.quiet.Load() {
			if now.Sub(quietStart) < quietDrain {
				window = window[:0]
				continue
			}
			if now.Sub(quietStart) < quietDrain+quietMeasure {
				continue
			}
			p.baseline = percentile(window, probeQuantile)
			p.r.metrics.latency.WithLabelValues(p.r.shard, "baseline").Set(p.baseline.Seconds())
			p.quiet.Store(false)
			nextQuiet = now.Add(baselineEvery)
			window, windowStart = window[:0], now
			continue
		}
		if now.Sub(windowStart) < decisionWindow {
			continue
		}
		cur := percentile(window, probeQuantile)
		window, windowStart = window[:0], now
		p.r.metrics.latency.WithLabelValues(p.r.shard, "current").Set(cur.Seconds())
		p.decide(cur)
		if now.After(nextQuiet) {
			p.quiet.Store(true)
			quietStart = now
		}
	}
}

// decide moves the rate by one window's latency.
func (p *pacer) decide(cur time.Duration) {
	if p.baseline == 0 { // never measured (the probe failed): keep the rate
		return
	}
	limit := time.Duration(float64(p.baseline)*(1+p.rise)) + latencySlack
	v := p.rate()
	// The floor keeps the snapshot moving, but never above the user's
	// max_rows_per_second: a cap of 100 stays a cap under load.
	floor := min(minPacedRate, p.ceiling)
	if cur > limit {
		if v > floor {
			p.r.metrics.throttles.WithLabelValues(p.r.shard).Inc()
		}
		p.setRate(max(floor, v*rateCut))
		return
	}
	p.setRate(min(p.ceiling, v*rateGrowth))
}

// percentile is the q-quantile of d (nearest rank), 0 for none.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}
