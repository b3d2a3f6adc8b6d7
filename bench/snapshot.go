package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/daemon"
)

// The snapshot scenario (issue 9): one table of SnapshotRows rows of the
// bench's row shape, filled once while no connector runs; then each variant
// in turn starts fresh at the current binlog position (it does not see the
// fill), streams, and is asked for an incremental snapshot of the table;
// the harness counts the table topic's records until every row's op=r
// record is there. Meanwhile an OLTP workload runs on another table, first
// for a baseline window with the connector streaming and no snapshot, then
// during the snapshot.
const (
	snapTable      = "snap"       // the snapshotted table, in the bench database
	oltpTable      = "oltp"       // the OLTP workload's table, captured by no one
	dbzSignalTable = "dbz_signal" // Debezium's source signal table
)

// Debezium's signal table, as its documentation gives it.
const dbzSignalDDL = `CREATE TABLE %s (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL) ENGINE=InnoDB`

// snapshotResults is the scenario's part of results.json.
type snapshotResults struct {
	Table string      `json:"table"`
	Rows  int64       `json:"rows"`
	Fill  *loadResult `json:"fill,omitempty"`
	// DebeziumReadOnly says what Debezium's read-only incremental snapshot
	// (Kafka signal channel, read.only=true) did on this server.
	DebeziumReadOnly string        `json:"debezium_read_only,omitempty"`
	Runs             []snapshotRun `json:"runs"`
}

// snapshotRun is one variant's snapshot.
type snapshotRun struct {
	Connector string `json:"connector"`
	System    string `json:"system"`
	Settings  string `json:"settings"` // chunk size, pacing
	Signal    string `json:"signal"`   // how the snapshot was triggered
	Rows      int64  `json:"rows"`     // op=r records counted in the topic
	// Seconds: the trigger (POST /snapshots, the signal) to the last op=r
	// record in Kafka; StartupSeconds: to the first.
	Seconds        float64 `json:"seconds"`
	StartupSeconds float64 `json:"startup_seconds,omitempty"`
	RowsPerSecond  float64 `json:"rows_per_second"`
	// SteadyRowsPerSecond: from the first record to the last, without the
	// time the connector took to start copying (Tidemark plans its readers'
	// ranges first; Debezium opens its first window).
	SteadyRowsPerSecond float64 `json:"steady_rows_per_second,omitempty"`
	// CPU of the connector process over the same interval.
	CPUSeconds           float64 `json:"cpu_seconds"`
	CPUSecondsPerMillion float64 `json:"cpu_seconds_per_million_rows"`
	PeakRSSBytes         int64   `json:"peak_rss_bytes"`
	// The OLTP workload with the connector streaming and no snapshot, and
	// during the snapshot; P99RisePercent compares their p99.
	OLTPBaseline   *oltpStats `json:"oltp_baseline,omitempty"`
	OLTPDuring     *oltpStats `json:"oltp_during,omitempty"`
	P99RisePercent *float64   `json:"p99_rise_percent,omitempty"`
	// DaemonStatus is Tidemark's own account (GET /snapshots/{id}).
	DaemonStatus string   `json:"daemon_status,omitempty"`
	Load         Load     `json:"load"`
	Incomplete   string   `json:"incomplete,omitempty"`
	Notes        []string `json:"notes,omitempty"`
	Error        string   `json:"error,omitempty"`
	Log          string   `json:"log,omitempty"`
}

// snapVariant is one connector configured for the scenario.
type snapVariant struct {
	c        connector // captures the bench table (markers) and the snapshot table
	topic    string    // the snapshot table's topic
	settings string
	tm       *tidemark // one of these two
	dbz      *debezium
}

// snapshotVariants derives the scenario's variants from the run's
// connectors: Tidemark unpaced (the throughput targets) and with the
// daemon's snapshot defaults, latency pacing (the p99 target); Debezium (Avro) with its default chunk size, and the tuned variant
// with a larger one. Order: Debezium, Tidemark, Debezium, Tidemark.
func (b *bench) snapshotVariants(conns []connector) []snapVariant {
	var dbz, tm []snapVariant
	for _, c := range conns {
		switch x := c.(type) {
		case *tidemark:
			if x.discard {
				continue
			}
			for _, unpaced := range []bool{true, false} {
				t := *x
				t.snap = &tmSnap{variant: "tidemark", table: snapTable, pprof: b.snapProfile > 0 && unpaced}
				settings := fmt.Sprintf("daemon defaults: chunk_size 4096, readers 4, max_latency_rise_percent %d (latency pacing), pause_when_threads_running %d",
					daemon.DefaultMaxLatencyRisePercent, daemon.DefaultPauseWhenThreadsRunning)
				if unpaced {
					t.snap.variant = "tidemark-unpaced"
					t.snap.keys = []string{"max_latency_rise_percent: 0", "pause_when_threads_running: 0"}
					settings = "unpaced: max_latency_rise_percent 0, pause_when_threads_running 0, max_rows_per_second 0; else the defaults"
				}
				tm = append(tm, snapVariant{c: &t, tm: &t, topic: t.topicPrefix() + "." + t.database + "." + snapTable, settings: settings})
			}
		case *debezium:
			if x.format != "avro" {
				continue
			}
			d := *x
			d.snap = &dbzSnap{table: snapTable, chunkSize: b.plan.DebeziumChunk, signalTable: dbzSignalTable,
				signalTopic: stateTopicPrefix + d.name() + ".signals"}
			settings := fmt.Sprintf("incremental.snapshot.chunk.size %d (the default)", d.snap.chunkSize)
			if d.tuned {
				d.snap.chunkSize = b.plan.DebeziumTunedChunk
				settings = fmt.Sprintf("incremental.snapshot.chunk.size %d, plus the tuned variant's settings", d.snap.chunkSize)
			}
			dbz = append(dbz, snapVariant{c: &d, dbz: &d, topic: d.topicPrefix() + "." + d.database + "." + snapTable, settings: settings})
		}
	}
	return interleave(dbz, tm)
}

// snapshotTopics are the scenario's topics of a run's connector (for
// cleanup): the snapshot table's and, for Debezium, its signal table's.
func snapshotTopics(c connector) []string {
	switch x := c.(type) {
	case *tidemark:
		if !x.discard {
			return []string{x.topicPrefix() + "." + x.database + "." + snapTable}
		}
	case *debezium:
		return []string{x.topicPrefix() + "." + x.database + "." + snapTable, x.topicPrefix() + "." + x.database + "." + dbzSignalTable}
	}
	return nil
}

// snapshots runs the scenario for every variant kept by the filters.
func (b *bench) snapshots(ctx context.Context, conns []connector) error {
	var vs []snapVariant
	for _, v := range b.snapshotVariants(conns) {
		if why, ok := b.unavailable[v.c.name()]; ok {
			b.skip(fmt.Sprintf("%s snapshot: %s", v.c.name(), why))
			continue
		}
		if base := baseName(v); b.unavailable[base] != "" {
			b.skip(fmt.Sprintf("%s snapshot: %s", v.c.name(), b.unavailable[base]))
			continue
		}
		if b.plan.wants("snapshot", v.c.name()) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return nil
	}
	sr := &snapshotResults{Table: benchDatabase + "." + snapTable, Rows: b.plan.SnapshotRows}
	b.res.Snapshot = sr
	b.log.Info("snapshot: creating and filling the tables", "rows", b.plan.SnapshotRows)
	full := func(t string) string { return benchDatabase + "." + t }
	if err := b.db.exec(ctx,
		"DROP TABLE IF EXISTS "+full(snapTable), "DROP TABLE IF EXISTS "+full(oltpTable), "DROP TABLE IF EXISTS "+full(dbzSignalTable),
		fmt.Sprintf(benchTableDDL, full(snapTable)), fmt.Sprintf(benchTableDDL, full(oltpTable)), fmt.Sprintf(dbzSignalDDL, full(dbzSignalTable)),
	); err != nil {
		return err
	}
	// Debezium writes its window watermarks to the signal table.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := b.db.exec(ctx, fmt.Sprintf("GRANT INSERT, UPDATE, DELETE ON %s TO '%s'@'%s'", full(dbzSignalTable), debeziumUser, host)); err != nil {
			return err
		}
	}
	created := map[string]bool{} // Tidemark's variants share their topic
	for _, v := range vs {
		if created[v.topic] {
			continue
		}
		created[v.topic] = true
		topics := []string{v.topic}
		if v.dbz != nil {
			topics = append(topics, v.dbz.topicPrefix()+"."+benchDatabase+"."+dbzSignalTable)
		}
		for _, t := range topics {
			if err := b.ka.createTopic(ctx, t, benchPartitions, benchTopicConfig); err != nil {
				return err
			}
		}
		if v.dbz != nil {
			// The Kafka signal channel reads one partition.
			if err := b.ka.createTopic(ctx, v.dbz.snap.signalTopic, 1, nil); err != nil {
				return err
			}
		}
	}
	fill, err := newWorkload(b.db, full(snapTable)).bulkLoad(ctx, b.plan.SnapshotRows, b.plan.LoadBatch, b.plan.LoadConns)
	if err != nil {
		return fmt.Errorf("fill %s: %w", full(snapTable), err)
	}
	sr.Fill = &fill
	if _, err := newWorkload(b.db, full(oltpTable)).bulkLoad(ctx, b.plan.OLTPRows, b.plan.LoadBatch, b.plan.LoadConns); err != nil {
		return fmt.Errorf("fill %s: %w", full(oltpTable), err)
	}
	// Fresh statistics: Tidemark plans its readers' ranges and ETA from them.
	if err := b.db.exec(ctx, "ANALYZE TABLE "+full(snapTable)); err != nil {
		return err
	}
	oltp := newOLTPLoad(b.db, full(oltpTable), b.plan.OLTPRows)

	readOnly := "" // "", or why Debezium's read-only mode did not work
	for _, v := range vs {
		b.log.Info("snapshot", "connector", v.c.name(), "settings", v.settings)
		var r snapshotRun
		if v.dbz != nil && readOnly == "" {
			v.dbz.snap.readOnly = true
			r = b.snapshotRun(ctx, v, oltp, "snapshot-ro")
			if r.Error != "" && r.Rows == 0 && ctx.Err() == nil {
				// Whether it failed at the start (the connector refuses the
				// mode) or produced nothing after the signal.
				readOnly = strings.TrimPrefix(r.Error, readOnlyFailed)
				if c := lastCause(r.Log); c != "" {
					// The root cause says more than the task's first trace lines.
					readOnly = c + " (" + abbreviate(readOnly, 120) + "; see " + r.Log + ")"
				}
				sr.DebeziumReadOnly = fmt.Sprintf("tried with %s: %s; measured with the signal table instead", v.c.name(), readOnly)
				b.log.Warn("Debezium's read-only incremental snapshot did not work; using the signal table", "why", readOnly)
			} else if r.Error == "" {
				sr.DebeziumReadOnly = "works (Kafka signal channel, read.only=true)"
			}
		}
		if v.dbz != nil && readOnly != "" {
			v.dbz.snap.readOnly = false
			r = b.snapshotRun(ctx, v, oltp, "snapshot-table")
			r.Notes = append(r.Notes, "read-only mode (Kafka signal, read.only=true) failed: "+abbreviate(readOnly, 90))
		} else if v.dbz == nil {
			r = b.snapshotRun(ctx, v, oltp, "snapshot")
		}
		sr.Runs = append(sr.Runs, r)
		attrs := []any{"connector", r.Connector, "rows", r.Rows, "seconds", r.Seconds, "rows_per_second", r.RowsPerSecond}
		if r.OLTPBaseline != nil && r.OLTPDuring != nil {
			attrs = append(attrs, "oltp_p99_ms_without", r.OLTPBaseline.P99MS, "oltp_p99_ms_during", r.OLTPDuring.P99MS)
		}
		if r.Error != "" {
			b.log.Error("snapshot failed", append(attrs, "err", r.Error)...)
		} else {
			b.log.Info("snapshot measured", attrs...)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// baseName is the run's connector a variant comes from.
func baseName(v snapVariant) string {
	if v.tm != nil {
		return "tidemark"
	}
	return v.dbz.name()
}

// readOnlyFailed prefixes the error of a read-only Debezium attempt that
// produced no snapshot record: the caller then uses the signal table.
const readOnlyFailed = "read-only snapshot failed: "

// readOnlyWait is how long a read-only Debezium snapshot may take to
// produce its first record before the mode is taken as not working.
const readOnlyWait = 90 * time.Second

// snapshotRun measures one variant: start, baseline OLTP window, trigger,
// wait for every op=r record with the OLTP workload running.
func (b *bench) snapshotRun(ctx context.Context, v snapVariant, oltp *oltpLoad, key string) snapshotRun {
	r := snapshotRun{Connector: v.c.name(), System: v.c.system(), Settings: v.settings}
	switch {
	case v.tm != nil:
		r.Signal = "POST /snapshots (admin API)"
	case v.dbz.snap.readOnly:
		r.Signal = "execute-snapshot on the Kafka signal channel, read.only=true"
	default:
		r.Signal = "execute-snapshot row in the source signal table (" + benchDatabase + "." + dbzSignalTable + ")"
	}
	fail := func(err error) snapshotRun { r.Error = err.Error(); return r }
	// Both drivers log to <logs>/<name>-<key>.log (known before the start,
	// so that a start that fails still names its log).
	r.Log = filepath.Join(b.logDir, v.c.name()+"-"+key+".log")
	p, err := b.startReady(ctx, v.c, key)
	if err != nil {
		return fail(err)
	}
	r.Log = p.logPath
	defer p.stop(60 * time.Second)

	// Baseline: the connector streams (the OLTP table's changes pass
	// through its reader), no snapshot.
	run, err := oltp.start(ctx, b.plan.OLTPRate, b.plan.OLTPConns)
	if err != nil {
		return fail(err)
	}
	serr := sleepCtx(ctx, b.plan.OLTPBaselineSeconds.d())
	base, err := run.stop()
	if serr != nil {
		return fail(serr)
	}
	if err != nil {
		return fail(err)
	}
	r.OLTPBaseline = &base

	counter := topicCounter{connector: v.c, topicName: v.topic, ka: b.ka}
	from, err := counter.progress(ctx)
	if err != nil {
		return fail(err)
	}
	target := from + b.plan.SnapshotRows
	st0, err := readProcStats(p.pid())
	if err != nil {
		return fail(err)
	}
	s0 := sampleCPU(b.stackDir)
	run, err = oltp.start(ctx, b.plan.OLTPRate, b.plan.OLTPConns)
	if err != nil {
		return fail(err)
	}
	stopOLTP := func() {
		if run == nil {
			return
		}
		during, err := run.stop()
		run = nil
		if err != nil {
			r.Notes = append(r.Notes, err.Error())
		}
		r.OLTPDuring = &during
	}
	defer stopOLTP()

	trigger := time.Now()
	var snapID string
	switch {
	case v.tm != nil:
		snapID, err = v.tm.startSnapshot(ctx, benchDatabase+"."+snapTable)
	case v.dbz.snap.readOnly:
		err = b.kafkaSignal(ctx, v.dbz)
	default:
		err = b.db.exec(ctx, fmt.Sprintf(`INSERT INTO %s.%s (id, type, data) VALUES ('bench-%d', 'execute-snapshot', '{"data-collections": ["%s.%s"], "type": "incremental"}')`,
			benchDatabase, dbzSignalTable, time.Now().UnixNano(), benchDatabase, snapTable))
	}
	if err != nil {
		return fail(fmt.Errorf("trigger the snapshot: %w", err))
	}
	var prof chan string
	if v.tm != nil && v.tm.snap.pprof {
		prof = make(chan string, 1)
		go func() {
			prof <- v.tm.cpuProfile(ctx, b.snapProfile, filepath.Join(b.logDir, "tidemark-snapshot.cpu.pprof"))
		}()
	}

	timeout := b.plan.SnapshotTimeout.d()
	if v.dbz != nil && v.dbz.snap.readOnly {
		// The read-only mode must show that it works before the full wait.
		_, werr := waitProgress(ctx, counter, p, from, from+1, readOnlyWait)
		if werr != nil {
			why := werr.Error()
			if isTimeout(werr) {
				why = fmt.Sprintf("no op=r record within %s of the signal", readOnlyWait)
				if cerr := v.c.check(ctx); cerr != nil {
					why += "; " + cerr.Error()
				}
				if l := logErrors(p.logPath, 3); l != "" {
					why += "; Connect logged: " + l
				}
			}
			return fail(errors.New(readOnlyFailed + why))
		}
		timeout -= time.Since(trigger)
	}
	w, werr := waitProgress(ctx, counter, p, from, target, timeout)
	end := time.Now()
	st1, perr := readProcStats(p.pid())
	stopOLTP()
	r.Load = loadBetween(s0, sampleCPU(b.stackDir))
	if werr != nil && !isTimeout(werr) {
		return fail(werr)
	}
	if perr != nil {
		return fail(perr)
	}
	if werr != nil {
		end, r.Incomplete = incompleteEnd(w, werr), werr.Error()
	} else {
		end = w.reached
	}
	r.Rows = w.last - from
	r.Seconds = round2(end.Sub(trigger).Seconds())
	if !w.first.IsZero() {
		r.StartupSeconds = round2(w.first.Sub(trigger).Seconds())
	}
	if r.Seconds > 0 {
		r.RowsPerSecond = float64(int64(float64(r.Rows) / end.Sub(trigger).Seconds()))
	}
	r.SteadyRowsPerSecond = steadyRate(w, end, r.Rows)
	r.CPUSeconds = round2(st1.CPUSeconds - st0.CPUSeconds)
	r.CPUSecondsPerMillion = perMillion(st1.CPUSeconds-st0.CPUSeconds, r.Rows)
	r.PeakRSSBytes = st1.HWMBytes
	if r.OLTPBaseline != nil && r.OLTPDuring != nil && r.OLTPBaseline.P99MS > 0 && r.OLTPDuring.Samples > 0 {
		rise := round1((r.OLTPDuring.P99MS - r.OLTPBaseline.P99MS) / r.OLTPBaseline.P99MS * 100)
		r.P99RisePercent = &rise
	}
	if snapID != "" {
		r.DaemonStatus = v.tm.snapshotSummary(ctx, snapID)
	}
	if prof != nil {
		if s := <-prof; s != "" {
			r.Notes = append(r.Notes, s)
		}
	}
	return r
}

// topicCounter counts a connector's records in another topic than its
// own: the snapshot table's.
type topicCounter struct {
	connector
	topicName string
	ka        *kafkaAdmin
}

func (t topicCounter) topic() string { return t.topicName }
func (t topicCounter) progress(ctx context.Context) (int64, error) {
	return t.ka.endOffsets(ctx, t.topicName)
}

// kafkaSignal sends Debezium's execute-snapshot signal on its Kafka signal
// channel: key topic.prefix, value the signal.
func (b *bench) kafkaSignal(ctx context.Context, d *debezium) error {
	v := fmt.Sprintf(`{"type":"execute-snapshot","data":{"data-collections":["%s.%s"],"type":"INCREMENTAL"}}`, benchDatabase, d.snap.table)
	return b.ka.cl.ProduceSync(ctx, &kgo.Record{Topic: d.snap.signalTopic, Key: []byte(d.topicPrefix()), Value: []byte(v)}).FirstErr()
}

// logErrors returns up to n distinct ERROR lines of a log, shortened.
func logErrors(path string, n int) string {
	body, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.Contains(line, " ERROR ") && !strings.Contains(line, "Exception:") {
			continue
		}
		// The plugin scan's CloudEventsConverter error is expected (see workerProperties).
		if strings.Contains(line, "CloudEvents") {
			continue
		}
		l := abbreviate(strings.TrimSpace(line), 240)
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
		if len(out) >= n {
			break
		}
	}
	return strings.Join(out, " | ")
}

// lastCause is the innermost "Caused by:" of a log's last stack trace.
func lastCause(path string) string {
	body, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	cause := ""
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "Caused by: ") && !strings.Contains(line, "JsonConverter") && !strings.Contains(line, "ExceptionInInitializerError") {
			cause = abbreviate(strings.TrimPrefix(line, "Caused by: "), 240)
		}
	}
	return cause
}

// startSnapshot asks the daemon for an incremental snapshot of table and
// returns its id.
func (t *tidemark) startSnapshot(ctx context.Context, table string) (string, error) {
	body, _ := json.Marshal(map[string]any{"tables": []string{table}})
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, "http://"+t.adminAddr+"/snapshots", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /snapshots: HTTP %d: %s", resp.StatusCode, abbreviate(string(out), 300))
	}
	var st struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.ID == "" {
		return "", fmt.Errorf("POST /snapshots: no id in %s", abbreviate(string(out), 300))
	}
	return st.ID, nil
}

// snapshotSummary is the daemon's own account of a snapshot, one line.
func (t *tidemark) snapshotSummary(ctx context.Context, id string) string {
	body, err := t.get(ctx, "/snapshots/"+id)
	if err != nil {
		return "GET /snapshots/" + id + ": " + err.Error()
	}
	var st struct {
		State  string `json:"state"`
		Shards []struct {
			Tables []struct {
				Table         string  `json:"table"`
				State         string  `json:"state"`
				Rows          int64   `json:"rows"`
				Emitted       int64   `json:"emitted"`
				Superseded    int64   `json:"superseded"`
				Chunks        int64   `json:"chunks"`
				RowsPerSecond float64 `json:"rows_per_second"`
			} `json:"tables"`
		} `json:"shards"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return "GET /snapshots/" + id + ": " + err.Error()
	}
	var parts []string
	for _, s := range st.Shards {
		for _, tb := range s.Tables {
			parts = append(parts, fmt.Sprintf("%s %s: %d rows read, %d emitted, %d superseded, %d chunks, %.0f rows/s",
				tb.Table, tb.State, tb.Rows, tb.Emitted, tb.Superseded, tb.Chunks, tb.RowsPerSecond))
		}
	}
	return fmt.Sprintf("%s (%s): %s", id, st.State, strings.Join(parts, "; "))
}

// cpuProfile takes a CPU profile of secs seconds from the daemon's pprof
// endpoint and writes it to path; it returns a note for the report.
func (t *tidemark) cpuProfile(ctx context.Context, secs int, path string) string {
	cctx, cancel := context.WithTimeout(ctx, time.Duration(secs+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.adminAddr, secs), nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "CPU profile: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("CPU profile: HTTP %d %v", resp.StatusCode, err)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return "CPU profile: " + err.Error()
	}
	return fmt.Sprintf("CPU profile of the first %d s: %s (profiling costs a few %% of CPU)", secs, path)
}
