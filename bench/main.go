// Command bench measures Tidemark against Debezium on the local stack, side
// by side, in one run: the same MariaDB shard, Kafka broker, registry and
// workload (issue 4). bench/run builds and starts it; `make bench` runs
// bench/run, `make bench QUICK=1` adds -quick.
//
// Scenarios, each for every connector in turn (alternating):
//
//	drain     rows written while the connector is stopped, then started:
//	          events/s until the last record is in Kafka
//	live-R    open-loop writes at R rows/s: commit-to-Kafka latency
//	big-txn   one transaction of many rows: time and peak memory
//	ceilings  Tidemark with a discarding sink; Kafka's ProducerPerformance
//	snapshot  an incremental snapshot of a 2M-row table, triggered while the
//	          connector streams: rows/s, CPU, memory, and the p99 latency of
//	          an OLTP workload on the source during it against without
//	large     Tidemark only, with its claim-check on the stack's GCS
//	          emulator: 1 KiB rows with 2% of 2-40 MiB against the same rows
//	          all of 1 KiB, and a stream of 40 MiB rows (bench/large.go)
//
// Output: a table on stdout, bench/out/results.json with every figure,
// bench/out/benchmarks.md, and docs/benchmarks.md after a full run. Targets
// are reported with PASS/MISS, never asserted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type flags struct {
	quick        bool
	out          string
	docs         string
	debeziumLibs string
	java         string
	tidemarkBin  string
	adminAddr    string
	restPort     int
	only         string
	connectors   string
	keep         bool
	// Overrides of the plan, for working on one part.
	drainRows, bigTxnRows int64
	liveSeconds, writers  int
	snapshotRows          int64
	largeRows             int64
	snapshotProfile       int
	rates                 string
	json                  string
	report                string
}

func main() {
	var f flags
	shift, err := portShift()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	flag.BoolVar(&f.quick, "quick", false, "the ~2-minute plan: 50k-row drain and transaction, one 10 s live window at 10k rows/s, no JSON variant")
	flag.StringVar(&f.out, "out", "bench/out", "directory for results.json, logs/ and state/")
	flag.StringVar(&f.docs, "docs", "docs/benchmarks.md", "file to write the report to after a full, unfiltered run (\"\" for none)")
	flag.StringVar(&f.debeziumLibs, "debezium-libs", "", "directory bench/debezium/resolve printed (connect/, plugins/); empty skips Debezium")
	flag.StringVar(&f.java, "java", "java", "Java 17+ for Kafka Connect and ProducerPerformance")
	flag.StringVar(&f.tidemarkBin, "tidemark", "bin/tidemark", "the Tidemark binary (make build)")
	flag.StringVar(&f.adminAddr, "tidemark-admin", fmt.Sprintf("127.0.0.1:%d", 18800+shift), "admin listen address given to Tidemark (default 18800, shifted with TIDEMARK_PORT_BASE)")
	flag.IntVar(&f.restPort, "connect-rest-port", 18083+shift, "Kafka Connect's REST port (default 18083, shifted with TIDEMARK_PORT_BASE)")
	flag.StringVar(&f.only, "only", "", "comma-separated scenario prefixes to run (drain, live, big-txn, raw, snapshot, large): for development; the report is then partial")
	flag.StringVar(&f.connectors, "connectors", "", "comma-separated connector prefixes to run (tidemark, debezium-avro, debezium-avro-tuned, ...; debezium-avro also matches debezium-avro-tuned): for development")
	flag.BoolVar(&f.keep, "keep", false, "keep the bench topics and subjects after the run (for inspection)")
	flag.Int64Var(&f.drainRows, "drain-rows", 0, "override the plan's drain rows")
	flag.Int64Var(&f.snapshotRows, "snapshot-rows", 0, "override the plan's snapshot table rows")
	flag.Int64Var(&f.largeRows, "large-rows", 0, "override the plan's rows of the large-record scenario's mixed variants")
	flag.IntVar(&f.snapshotProfile, "snapshot-profile", 0, "seconds of CPU profile to take from Tidemark (admin pprof) during its unpaced snapshot, into logs/ (0: none)")
	flag.Int64Var(&f.bigTxnRows, "big-txn-rows", 0, "override the plan's big transaction rows")
	flag.IntVar(&f.liveSeconds, "live-seconds", 0, "override the plan's live window")
	flag.IntVar(&f.writers, "writers", 0, "override the plan's live writer connections")
	flag.StringVar(&f.rates, "rates", "", "override the plan's live rates (comma-separated rows/s)")
	flag.StringVar(&f.json, "json", "", "override whether Debezium's JSON variant runs (true/false)")
	flag.StringVar(&f.report, "report", "", "measure nothing: print the report of this results.json and render it into -out's benchmarks.md (after a template change)")
	flag.Parse()
	if f.report != "" {
		if err := rerender(f.report, f.out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	// Every child is stopped on every way out: return, error, signal.
	defer stopAll()

	code := 0
	if err := run(ctx, f, log); err != nil {
		log.Error("bench failed", "err", err)
		code = 1
		if errors.Is(err, context.Canceled) {
			code = 130
		}
	}
	stopAll()
	os.Exit(code)
}

func run(ctx context.Context, f flags, log *slog.Logger) error {
	p := fullPlan()
	if f.quick {
		p = quickPlan()
	}
	p.ScenarioFilter, p.ConnectorFilter = f.only, f.connectors
	if err := f.override(&p); err != nil {
		return err
	}
	env, err := readStackEnv()
	if err != nil {
		return err
	}
	outDir, err := filepath.Abs(f.out)
	if err != nil {
		return err
	}
	logDir, stateDir := filepath.Join(outDir, "logs"), filepath.Join(outDir, "state")
	// A run's logs and state are its own: clear the last run's.
	for _, d := range []string{logDir, stateDir} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	stackDir := os.Getenv("TIDEMARK_STACK_DIR")
	if stackDir == "" {
		stackDir = ".stack"
	}

	res := &results{Started: time.Now(), Plan: p, Machine: readMachine(), Versions: map[string]string{}, Settings: map[string]string{}}
	runStart := sampleCPU(stackDir)
	b := &bench{plan: p, env: env, log: log, res: res, stackDir: stackDir, logDir: logDir,
		debeziumLibs: f.debeziumLibs, java: f.java, registered: map[string]ledgerMark{}, unavailable: map[string]string{},
		snapProfile: f.snapshotProfile, keep: f.keep}

	// Admin connections: the bulk load and the open loop use up to this many.
	b.db, err = openShard(ctx, env.ShardAddr, env.AdminUser, env.AdminPassword, 16)
	if err != nil {
		return err
	}
	defer b.db.close()
	b.ka, err = newKafkaAdmin(env.Brokers)
	if err != nil {
		return err
	}
	defer b.ka.close()
	b.w = newWorkload(b.db, benchDatabase+"."+benchTable)

	conns := b.connectors(f, logDir, stateDir)
	collectVersions(ctx, b, f, res)

	finish := func(runErr error) error {
		res.Finished = time.Now()
		res.DurationSeconds = round1(res.Finished.Sub(res.Started).Seconds())
		res.MachineLoad = loadBetween(runStart, sampleCPU(stackDir))
		res.Targets = evaluateTargets(res)
		res.SnapshotTargets = evaluateSnapshotTargets(res)
		if runErr != nil {
			res.Errors = append(res.Errors, runErr.Error())
		}
		if !f.keep {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := b.cleanup(cctx, conns); err != nil {
				log.Warn("cleanup", "err", err)
			}
			cancel()
		}
		path, err := res.write(outDir)
		if err != nil {
			return errors.Join(runErr, err)
		}
		printText(os.Stdout, res)
		fmt.Printf("\nresults: %s\nlogs:    %s\n", path, logDir)
		md, err := renderMarkdown(res)
		if err != nil {
			return errors.Join(runErr, err)
		}
		if err := os.WriteFile(filepath.Join(outDir, "benchmarks.md"), md, 0o644); err != nil {
			return errors.Join(runErr, err)
		}
		if f.docs != "" && runKind(res) == "full" && runErr == nil {
			if err := os.MkdirAll(filepath.Dir(f.docs), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(f.docs, md, 0o644); err != nil {
				return err
			}
			fmt.Printf("report:  %s\n", f.docs)
		}
		return runErr
	}
	return finish(b.runAll(ctx, conns))
}

// connectors builds the variants this run can measure, and notes why the
// others cannot be.
func (b *bench) connectors(f flags, logDir, stateDir string) []connector {
	var cs []connector
	var tmReason string
	if _, err := os.Stat(f.tidemarkBin); err != nil {
		tmReason = fmt.Sprintf("%s not found (make build)", f.tidemarkBin)
	}
	bin, _ := filepath.Abs(f.tidemarkBin)
	for _, v := range []struct{ discard, exactlyOnce bool }{{false, false}, {true, false}, {false, true}} {
		t := &tidemark{discard: v.discard, exactlyOnce: v.exactlyOnce, bin: bin, shardHost: b.env.ShardHost, shardPort: b.env.ShardPort,
			passwordEnv: "TIDEMARK_MYSQL_PASSWORD", brokers: b.env.Brokers, registryURL: b.env.RegistryURL,
			adminAddr: f.adminAddr, database: benchDatabase, table: benchTable, stateDir: stateDir, logDir: logDir,
			dec: newAvroDecoder(b.env.RegistryURL), ka: b.ka}
		if tmReason != "" {
			b.unavailable[t.name()] = tmReason
		}
		cs = append(cs, t)
	}
	type variant struct {
		format string
		tuned  bool
	}
	variants := []variant{{"avro", false}, {"avro", true}}
	if b.plan.DebeziumJSON {
		variants = append(variants, variant{"json", false})
	}
	for i, v := range variants {
		d := &debezium{format: v.format, tuned: v.tuned, libs: f.debeziumLibs, java: f.java, shardHost: b.env.ShardHost, shardPort: b.env.ShardPort,
			user: debeziumUser, pass: debeziumPassword, serverID: 5401 + i, brokers: strings.Join(b.env.Brokers, ","),
			registryURL: b.env.RegistryURL, apicurioURL: apicurioV2URL(b.env.RegistryURL), restPort: f.restPort,
			database: benchDatabase, table: benchTable, stateDir: stateDir, logDir: logDir, ka: b.ka}
		if v.format == "avro" {
			d.dec = newAvroDecoder(b.env.RegistryURL)
		} else {
			d.dec = jsonDecoder{}
		}
		if f.debeziumLibs == "" {
			b.unavailable[d.name()] = "no -debezium-libs (bench/debezium/resolve)"
		}
		cs = append(cs, d)
	}
	var kept []connector
	for _, c := range cs {
		if matches(b.plan.ConnectorFilter, c.name()) {
			kept = append(kept, c)
		}
	}
	return kept
}

// portShift is how far TIDEMARK_PORT_BASE moves the stack's ports from their
// defaults (stack/stack: base 13306); the bench's own listeners (Tidemark's
// admin, Connect's REST API) move by as much, so that two checkouts, each
// with its stack, can run the bench side by side.
func portShift() (int, error) {
	base := os.Getenv("TIDEMARK_PORT_BASE")
	if base == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(base)
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("TIDEMARK_PORT_BASE=%q is not a port", base)
	}
	shift := n - 13306
	if 18800+shift <= 0 || 18800+shift > 65535 || 18083+shift <= 0 {
		return 0, fmt.Errorf("TIDEMARK_PORT_BASE=%d shifts the bench's ports (18083, 18800) out of range", n)
	}
	return shift, nil
}

// The bench's own MariaDB user for Debezium (see ensureDebeziumUser).
const debeziumUser, debeziumPassword = "tidemark_dbz", "tidemark_dbz"

// override applies the development flags; a run with any of them is
// reported as partial, never written to docs/benchmarks.md.
func (f flags) override(p *plan) error {
	var changed []string
	if f.drainRows > 0 {
		p.DrainRows, changed = f.drainRows, append(changed, "drain-rows")
	}
	if f.snapshotRows > 0 {
		p.SnapshotRows, changed = f.snapshotRows, append(changed, "snapshot-rows")
	}
	if f.largeRows > 0 {
		p.LargeRows, changed = f.largeRows, append(changed, "large-rows")
	}
	if f.bigTxnRows > 0 {
		p.BigTxnRows, changed = f.bigTxnRows, append(changed, "big-txn-rows")
	}
	if f.liveSeconds > 0 {
		p.LiveSeconds, changed = f.liveSeconds, append(changed, "live-seconds")
	}
	if f.writers > 0 {
		p.LiveWriters, changed = f.writers, append(changed, "writers")
	}
	if f.rates != "" {
		p.LiveRates = nil
		for _, r := range strings.Split(f.rates, ",") {
			var n int
			if _, err := fmt.Sscan(strings.TrimSpace(r), &n); err != nil || n <= 0 {
				return fmt.Errorf("-rates: %q is not a rate", r)
			}
			p.LiveRates = append(p.LiveRates, n)
		}
		changed = append(changed, "rates")
	}
	if f.json != "" {
		p.DebeziumJSON, changed = f.json == "true", append(changed, "json")
	}
	if len(changed) > 0 {
		p.Overrides = strings.Join(changed, ",")
	}
	return nil
}
