package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// results is everything a run measured; bench/out/results.json holds it.
type results struct {
	Started         time.Time         `json:"started"`
	Finished        time.Time         `json:"finished"`
	DurationSeconds float64           `json:"duration_seconds"`
	Plan            plan              `json:"plan"`
	Machine         Machine           `json:"machine"`
	MachineLoad     Load              `json:"machine_load"` // over the whole run
	Versions        map[string]string `json:"versions"`
	Settings        map[string]string `json:"settings"`
	BulkLoad        *loadResult       `json:"bulk_load,omitempty"`
	Runs            []measurement     `json:"runs"`
	RawProduce      *rawProduce       `json:"raw_produce,omitempty"`
	Targets         []target          `json:"targets"`
	// Snapshot is the incremental-snapshot scenario (issue 9), with its
	// own targets.
	Snapshot        *snapshotResults `json:"snapshot,omitempty"`
	SnapshotTargets []target         `json:"snapshot_targets,omitempty"`
	// Large is the large-record scenario (issue 10): Tidemark only.
	Large *largeResults `json:"large,omitempty"`
	// Skipped says, per connector or scenario, why it was not measured.
	Skipped []string `json:"skipped,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

// measurement is one connector in one scenario.
type measurement struct {
	Scenario  string `json:"scenario"` // drain, live-<rate>, big-txn
	Connector string `json:"connector"`
	System    string `json:"system"`
	// Events is what the measurement waited for: Kafka records (or, for
	// the discard variant, records encoded).
	Events int64 `json:"events"`
	// Seconds: drain, process start to the last record in Kafka; big-txn,
	// COMMIT sent to the last record; live, the write window.
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second,omitempty"`
	// SteadyEventsPerSecond: events after the first one over the time from
	// the first record to the last (drain, big-txn): the rate without the
	// start-up (a JVM's start and plugin scan; Tidemark's connect).
	SteadyEventsPerSecond float64 `json:"steady_events_per_second,omitempty"`
	// StartupSeconds: process start to the first new record (drain), or
	// COMMIT sent to the first record of the transaction (big-txn).
	StartupSeconds float64 `json:"startup_seconds,omitempty"`
	// CatchUpSeconds (live): from the end of the writes to the last record.
	CatchUpSeconds float64 `json:"catch_up_seconds,omitempty"`
	// CPU of the connector process alone, over the measured interval.
	CPUSeconds           float64       `json:"cpu_seconds"`
	CPUSecondsPerMillion float64       `json:"cpu_seconds_per_million_events"`
	PeakRSSBytes         int64         `json:"peak_rss_bytes"` // VmHWM of the process at the end
	Latency              *latencyStats `json:"latency,omitempty"`
	Writer               *writerStats  `json:"writer,omitempty"`
	BigTxnWriteSeconds   float64       `json:"big_txn_write_seconds,omitempty"`  // BEGIN to COMMIT sent
	BigTxnCommitSeconds  float64       `json:"big_txn_commit_seconds,omitempty"` // COMMIT sent to its return
	Load                 Load          `json:"load"`
	// Incomplete is set when the measurement stopped at its timeout before
	// every record arrived; the figures then cover what did.
	Incomplete string `json:"incomplete,omitempty"`
	// TimedOut: the wait ran out of time while records were still coming
	// (not a stall), so what was missing then was not reached, not lost.
	TimedOut bool `json:"timed_out,omitempty"`
	// Owed (drain) is the records the connector had to deliver; Audit is
	// what it delivered, key by key, read back after it stopped.
	Owed  int64          `json:"owed,omitempty"`
	Audit *deliveryAudit `json:"audit,omitempty"`
	Error string         `json:"error,omitempty"`
	Log   string         `json:"log,omitempty"`
}

func (r *results) find(scenario, connector string) *measurement {
	for i := range r.Runs {
		if r.Runs[i].Scenario == scenario && r.Runs[i].Connector == connector && r.Runs[i].Error == "" {
			return &r.Runs[i]
		}
	}
	return nil
}

func (r *results) write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "results.json")
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// rerender prints the report of a results.json written earlier and renders
// it into dir/benchmarks.md: a partial run's report after a template change,
// without measuring again. It never writes docs/benchmarks.md.
func rerender(path, dir string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	printText(os.Stdout, &r)
	md, err := renderMarkdown(&r)
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "benchmarks.md")
	if err := os.WriteFile(out, md, 0o644); err != nil {
		return err
	}
	fmt.Printf("report:  %s\n", out)
	return nil
}
