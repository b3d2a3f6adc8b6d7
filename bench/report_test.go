package main

import (
	"strings"
	"testing"
	"time"
)

func sampleResults() *results {
	return &results{
		Started: time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC), DurationSeconds: 754,
		Plan: fullPlan(), Machine: Machine{Cores: 2, MemBytes: 24 << 30, CPUModel: "test"},
		Versions: map[string]string{"go": "go1.26"}, Settings: map[string]string{"topics": "6 partitions"},
		BulkLoad: &loadResult{Rows: 1_000_000, Seconds: 20, RowsPS: 50000},
		Runs: []measurement{
			{Scenario: "drain", Connector: "debezium-avro", System: "debezium", Events: 1_000_000, Seconds: 100, EventsPerSecond: 10000, CPUSecondsPerMillion: 120, PeakRSSBytes: 1500 * mib},
			{Scenario: "drain", Connector: "tidemark", System: "tidemark", Events: 1_000_000, Seconds: 10, EventsPerSecond: 100000, CPUSecondsPerMillion: 10, PeakRSSBytes: 100 * mib},
			{Scenario: "live-10000", Connector: "tidemark", System: "tidemark", Events: 600000, Latency: &latencyStats{Samples: 500000, P50MS: 20, P99MS: 150, MaxMS: 400}},
			{Scenario: "big-txn", Connector: "tidemark", System: "tidemark", Error: "boom | with a pipe"},
		},
		RawProduce: &rawProduce{Records: 1_000_000, RecordBytes: 600, RecordsPS: 200000, MBPS: 114, P99LatencyMS: 300},
		Skipped:    []string{"debezium-json: why"},
	}
}

func TestTargets(t *testing.T) {
	r := sampleResults()
	got := map[string]string{}
	for _, tg := range evaluateTargets(r) {
		got[tg.Goal] = tg.Result
	}
	want := map[string]string{
		"drain events/s >= 3x Debezium (Avro)":       "PASS", // 10x
		"CPU-s per M events <= 1/4 of Debezium's":    "PASS", // 0.08x
		"peak RSS <= 1/10 of the Connect JVM's":      "PASS", // 0.07x
		"p99 commit-to-Kafka < 100 ms at 10k rows/s": "MISS", // 150 ms
		"big transaction peak RSS < 256 MiB":         "n/a",  // the run failed
	}
	for goal, res := range want {
		if got[goal] != res {
			t.Errorf("%s: %s, want %s", goal, got[goal], res)
		}
	}
}

func TestReports(t *testing.T) {
	r := sampleResults()
	r.Targets = evaluateTargets(r)
	var text strings.Builder
	printText(&text, r)
	for _, s := range []string{"drain 1M rows", "FAILED: boom", "PASS", "skipped: debezium-json: why", "ProducerPerformance"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q", s)
		}
	}
	md, err := renderMarkdown(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| drain 1M rows | tidemark | 1000000 |", "boom / with a pipe", "**MISS**", "- `go`: go1.26", "full run of 2026-11-24 19:00 UTC, 12m34s"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("markdown lacks %q", s)
		}
	}
}

func TestRunKind(t *testing.T) {
	r := sampleResults()
	if k := runKind(r); k != "full" {
		t.Fatalf("kind %q", k)
	}
	r.Plan.Overrides = "drain-rows"
	if k := runKind(r); k != "partial" {
		t.Fatalf("a run with overrides is %q, want partial (never written to docs)", k)
	}
}
