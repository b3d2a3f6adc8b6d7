package main

import "testing"

func TestSummarize(t *testing.T) {
	var ms []float64
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ms = append(ms, float64(i))
	}
	s := summarize(ms)
	want := latencyStats{Samples: 100, P50MS: 50, P99MS: 99, P999MS: 100, MaxMS: 100, MeanMS: 50.5}
	if s != want {
		t.Fatalf("summarize = %+v, want %+v", s, want)
	}
	if ms[0] != 100 {
		t.Fatalf("summarize sorted its input in place")
	}
	if (summarize(nil) != latencyStats{}) {
		t.Fatalf("empty input must give zero stats")
	}
}

func TestPercentileNearestRank(t *testing.T) {
	sorted := []float64{1, 2, 3, 4}
	for _, tt := range []struct{ q, want float64 }{{0.25, 1}, {0.5, 2}, {0.51, 3}, {0.99, 4}, {1, 4}, {0, 1}} {
		if got := percentile(sorted, tt.q); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
}
