package snapshot

import (
	"log/slog"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func testPacer(ceiling float64) *pacer {
	r := &Runner{cfg: Config{MaxLatencyRise: 0.2}, shard: "s1", metrics: NewMetrics(nil), log: slog.New(slog.DiscardHandler)}
	return newPacer(r, rate.NewLimiter(1, 4096), ceiling)
}

// The rate grows while the source answers within the allowed rise, halves
// when it does not, and stays between the floor and the ceiling.
func TestPacerFollowsLatency(t *testing.T) {
	p := testPacer(10_000)
	if p.rate() != initialRate {
		t.Fatalf("starts at %g rows/s, want %g", p.rate(), initialRate)
	}
	p.decide(50 * time.Millisecond) // no baseline yet: no judgement
	if p.rate() != initialRate {
		t.Fatalf("moved to %g rows/s without a baseline", p.rate())
	}
	p.baseline = time.Millisecond
	allowed := time.Duration(float64(p.baseline)*1.2) + latencySlack
	p.decide(allowed)
	if want := initialRate * rateGrowth; p.rate() != want {
		t.Errorf("within the rise: %g rows/s, want %g", p.rate(), want)
	}
	for range 50 {
		p.decide(allowed)
	}
	if p.rate() != 10_000 {
		t.Errorf("quiet source: %g rows/s, want the ceiling 10000", p.rate())
	}
	if float64(p.limiter.Limit()) != p.rate() {
		t.Errorf("limiter at %g, pacer at %g", p.limiter.Limit(), p.rate())
	}
	p.decide(allowed + time.Microsecond)
	if p.rate() != 5_000 {
		t.Errorf("over the rise: %g rows/s, want halved to 5000", p.rate())
	}
	for range 50 {
		p.decide(time.Second)
	}
	if p.rate() != minPacedRate {
		t.Errorf("overloaded source: %g rows/s, want the floor %g", p.rate(), minPacedRate)
	}
}

// Under a max_rows_per_second below the floor, a slow source halves the
// rate down from the cap and the floor never lifts it above the cap.
func TestPacerFloorUnderLowCap(t *testing.T) {
	p := testPacer(120)
	p.baseline = time.Millisecond
	if p.rate() != 120 {
		t.Fatalf("starts at %g rows/s, want the cap 120", p.rate())
	}
	p.decide(time.Second)
	if p.rate() != 120 {
		t.Errorf("throttled under a cap of 120: %g rows/s, want to stay at most the cap", p.rate())
	}
	for range 10 {
		p.decide(time.Second)
		if p.rate() > 120 {
			t.Fatalf("throttled above the cap: %g rows/s", p.rate())
		}
	}
}

// A slow rate reads small chunks (a tenth of a second's worth), never
// fewer than smallestChunk rows, never more than asked.
func TestPacerChunkLimit(t *testing.T) {
	p := testPacer(maxPacedRate)
	for _, tc := range []struct {
		rate        float64
		limit, want int
	}{
		{2000, 4096, 100}, {100_000, 4096, 4096}, {200, 4096, smallestChunk}, {100_000, 16, 16},
	} {
		p.setRate(tc.rate)
		if got := p.chunkLimit(tc.limit); got != tc.want {
			t.Errorf("rate %g, chunk %d: %d rows, want %d", tc.rate, tc.limit, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{5, 1, 9, 3, 7}
	if m := percentile(d, 0.5); m != 5 {
		t.Errorf("median = %v, want 5", m)
	}
	if m := percentile(d, 0.8); m != 7 {
		t.Errorf("80th percentile = %v, want 7", m)
	}
	if m := percentile(nil, 0.8); m != 0 {
		t.Errorf("percentile of nothing = %v", m)
	}
}
