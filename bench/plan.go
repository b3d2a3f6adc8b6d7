package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// plan is the size of a run. The full plan is what issue 4 asks for and
// fits in 15 minutes on the 2-core machine; -quick shrinks every knob to
// give a ~2-minute run that still exercises every scenario's code path.
type plan struct {
	Quick          bool    `json:"quick"`
	DrainRows      int64   `json:"drain_rows"`
	LoadBatch      int     `json:"load_batch_rows"`
	LoadConns      int     `json:"load_connections"`
	LiveRates      []int   `json:"live_rates_rows_per_second"`
	LiveSeconds    int     `json:"live_seconds"`
	WarmupSeconds  seconds `json:"warmup_seconds"` // same writes before each live window, not measured
	LiveWriters    int     `json:"live_writer_connections"`
	BigTxnRows     int64   `json:"big_transaction_rows"`
	RawRecords     int64   `json:"raw_produce_records"`
	RawRecordBytes int     `json:"raw_produce_record_bytes"`
	DebeziumJSON   bool    `json:"debezium_json"` // also drain with Debezium's JSON (best case)
	DrainTimeout   seconds `json:"drain_timeout_seconds"`
	SettleTimeout  seconds `json:"settle_timeout_seconds"` // after a live window, for the rest to arrive
	BigTxnTimeout  seconds `json:"big_transaction_timeout_seconds"`
	StartupTimeout seconds `json:"startup_timeout_seconds"`
	// The incremental snapshot (issue 9): a table of SnapshotRows rows,
	// snapshotted by each connector in turn while an OLTP workload of
	// OLTPRate statements/s on OLTPConns connections runs on another table
	// (and, before each snapshot, for OLTPBaselineSeconds without one).
	SnapshotRows        int64   `json:"snapshot_rows"`
	SnapshotTimeout     seconds `json:"snapshot_timeout_seconds"`
	OLTPRate            int     `json:"oltp_statements_per_second"`
	OLTPConns           int     `json:"oltp_connections"`
	OLTPRows            int64   `json:"oltp_table_rows"`
	OLTPBaselineSeconds seconds `json:"oltp_baseline_seconds"`
	// The large-record scenario (issue 10): LargeRows rows of LargeSmallBytes
	// in their own table, LargeSharePercent% of them of LargeMinBytes to
	// LargeMaxBytes instead (uniform, seeded), small rows LargeTxnRows to a
	// statement, on LargeConns writer connections; and LargeMaxRows rows of
	// LargeMaxBytes only. LargeVerifySample offloaded rows per variant are
	// decoded in full and compared with MariaDB's.
	LargeRows         int64   `json:"large_rows"`
	LargeSharePercent int     `json:"large_share_percent"`
	LargeSmallBytes   int     `json:"large_small_bytes"`
	LargeMinBytes     int     `json:"large_min_bytes"`
	LargeMaxBytes     int     `json:"large_max_bytes"`
	LargeMaxRows      int64   `json:"large_max_rows"`
	LargeTxnRows      int     `json:"large_statement_rows"`
	LargeConns        int     `json:"large_connections"`
	LargeVerifySample int     `json:"large_verify_sample"`
	LargeTimeout      seconds `json:"large_timeout_seconds"`
	// Debezium's chunk sizes: its default, and the tuned variant's.
	DebeziumChunk      int    `json:"debezium_chunk_size"`
	DebeziumTunedChunk int    `json:"debezium_tuned_chunk_size"`
	ScenarioFilter     string `json:"scenario_filter,omitempty"`
	ConnectorFilter    string `json:"connector_filter,omitempty"`
	Overrides          string `json:"overrides,omitempty"` // plan flags given on the command line
}

type seconds int

func (s seconds) d() time.Duration { return time.Duration(s) * time.Second }

func fullPlan() plan {
	return plan{
		DrainRows: 1_000_000, LoadBatch: 1000, LoadConns: 4,
		LiveRates: []int{2000, 10000}, LiveSeconds: 60, WarmupSeconds: 10, LiveWriters: 8,
		BigTxnRows: 1_000_000, RawRecords: 1_000_000, RawRecordBytes: 600,
		DebeziumJSON: true,
		// Bounds for a slow or stuck side: with them the full run stays near
		// 15 minutes even when a measurement cannot finish (it is then
		// reported as incomplete, with the rate it reached).
		// A Connect worker's start (plugin scan, then Debezium's schema
		// snapshot) has taken 60 s on this 2-core machine under load, and
		// a Debezium drain of 1M rows over 3 minutes.
		DrainTimeout: 360, SettleTimeout: 45, BigTxnTimeout: 360, StartupTimeout: 150,
		// A Debezium incremental snapshot reads one chunk at a time on the
		// streaming thread: at ~10k rows/s, 2M rows take over 3 minutes.
		SnapshotRows: 2_000_000, SnapshotTimeout: 900,
		OLTPRate: 200, OLTPConns: 4, OLTPRows: 20_000, OLTPBaselineSeconds: 20,
		DebeziumChunk: 1024, DebeziumTunedChunk: 8192,
		// Large records: 5000 rows with 100 of 2-40 MiB are 2.1 GiB of
		// bodies, plus 30 rows of 40 MiB (1.2 GiB). The -quick run went at
		// 18-21 MiB/s on this machine (MariaDB's InnoDB and binlog writes
		// and the emulator's serial store writes set the pace), so ~3.5
		// minutes for the scenario with its read-backs; under other load
		// (load average 6-10) the full one took 5 min at 13 MiB/s. Fewer
		// rows would leave the store latency's p99 a single sample; more
		// would pass ~8 GiB of disk (table, binlog, objects) per run.
		LargeRows: 5000, LargeSharePercent: 2, LargeSmallBytes: 1 << 10, LargeMinBytes: 2 << 20, LargeMaxBytes: 40 << 20,
		LargeMaxRows: 30, LargeTxnRows: 10, LargeConns: 4, LargeVerifySample: 10, LargeTimeout: 420,
	}
}

func quickPlan() plan {
	return plan{
		Quick:     true,
		DrainRows: 50_000, LoadBatch: 1000, LoadConns: 4,
		LiveRates: []int{10000}, LiveSeconds: 10, WarmupSeconds: 3, LiveWriters: 8,
		BigTxnRows: 50_000, RawRecords: 100_000, RawRecordBytes: 600,
		DebeziumJSON: false,
		DrainTimeout: 60, SettleTimeout: 20, BigTxnTimeout: 60, StartupTimeout: 150,
		SnapshotRows: 100_000, SnapshotTimeout: 120,
		OLTPRate: 200, OLTPConns: 4, OLTPRows: 5_000, OLTPBaselineSeconds: 5,
		DebeziumChunk: 1024, DebeziumTunedChunk: 8192,
		LargeRows: 1000, LargeSharePercent: 2, LargeSmallBytes: 1 << 10, LargeMinBytes: 2 << 20, LargeMaxBytes: 40 << 20,
		LargeMaxRows: 10, LargeTxnRows: 10, LargeConns: 4, LargeVerifySample: 4, LargeTimeout: 180,
	}
}

// wants reports whether the -only filters keep scenario s of connector c
// (for working on one part; a run with filters is not a benchmark result).
func (p plan) wants(scenario, connector string) bool {
	return matches(p.ScenarioFilter, scenario) && matches(p.ConnectorFilter, connector)
}

func matches(filter, s string) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		if f = strings.TrimSpace(f); f != "" && strings.HasPrefix(s, f) {
			return true
		}
	}
	return false
}

// stackEnv is the local stack's endpoints, as `stack/stack env` exports them.
type stackEnv struct {
	ShardAddr     string // the first shard: the bench uses one
	ShardHost     string
	ShardPort     int
	AdminUser     string
	AdminPassword string
	CDCPassword   string // Tidemark's user's; Tidemark reads it from TIDEMARK_MYSQL_PASSWORD itself
	Brokers       []string
	RegistryURL   string // ccompat API base
}

func readStackEnv() (stackEnv, error) {
	var e stackEnv
	var missing []string
	get := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			missing = append(missing, k)
		}
		return v
	}
	shards := get("TIDEMARK_MYSQL_SHARDS")
	e.AdminUser = get("TIDEMARK_MYSQL_ADMIN_USER")
	e.AdminPassword = get("TIDEMARK_MYSQL_ADMIN_PASSWORD")
	e.CDCPassword = get("TIDEMARK_MYSQL_PASSWORD")
	brokers := get("TIDEMARK_KAFKA_BROKERS")
	e.RegistryURL = strings.TrimRight(get("TIDEMARK_REGISTRY_URL"), "/")
	if len(missing) > 0 {
		return e, fmt.Errorf("environment lacks %s: run `eval \"$(stack/stack env)\"` (bench/run does)", strings.Join(missing, ", "))
	}
	e.ShardAddr = strings.Split(shards, ",")[0]
	host, port, ok := strings.Cut(e.ShardAddr, ":")
	if !ok {
		return e, fmt.Errorf("TIDEMARK_MYSQL_SHARDS: %q is not host:port", e.ShardAddr)
	}
	e.ShardHost = host
	if _, err := fmt.Sscan(port, &e.ShardPort); err != nil {
		return e, fmt.Errorf("TIDEMARK_MYSQL_SHARDS: port %q: %w", port, err)
	}
	e.Brokers = strings.Split(brokers, ",")
	return e, nil
}

// apicurioV2URL turns the ccompat base (…/apis/ccompat/v7) into Apicurio's
// own v2 API (…/apis/registry/v2), which the 2.6 converter speaks.
func apicurioV2URL(ccompat string) string {
	if i := strings.Index(ccompat, "/apis/"); i >= 0 {
		return ccompat[:i] + "/apis/registry/v2"
	}
	return ccompat + "/apis/registry/v2"
}
