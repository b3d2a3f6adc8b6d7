package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/api/iterator"

	"github.com/tidemark-cdc/tidemark/serde"
)

// The large-record scenario (issue 10): Tidemark with its claim-check
// (docs/claim-check.md) on a GCS bucket of the stack's emulator, three
// variants, each its own table docs_<variant> (id BIGINT PRIMARY KEY, body
// LONGBLOB) and topic, each started fresh at the current binlog position:
//
//	tidemark-small  LargeRows rows of 1 KiB
//	tidemark-large  the same ids and statements, LargeSharePercent% of the
//	                rows of LargeMinBytes..LargeMaxBytes (uniform, seeded)
//	tidemark-40mb   LargeMaxRows rows of LargeMaxBytes: peak RSS under a
//	                stream of the biggest rows only
//
// Writers insert the rows on LargeConns connections while the daemon
// streams; the measurement runs from the first write to the last record in
// Kafka. Then the daemon stops and the topic is read back and checked
// against MariaDB (verifyDocs). Debezium has no claim-check: Tidemark only.
const (
	largeSecretEnv = "TIDEMARK_BENCH_LARGE_SECRET" // set for the daemon process only
	largeSeed      = 0x7a1e_10
)

// largeResults is the scenario's part of results.json.
type largeResults struct {
	Rows         int64      `json:"rows"`          // per mixed variant
	LargeRows    int64      `json:"large_rows"`    // of them, the large ones
	SmallBytes   int        `json:"small_bytes"`   // a small row's body
	MinBytes     int        `json:"min_bytes"`     // a large row's body, uniform in [min, max]
	MaxBytes     int        `json:"max_bytes"`     // also the 40 MB variant's rows
	MaxRows      int64      `json:"max_rows"`      // rows of the 40 MB variant
	Statements   int        `json:"statements"`    // INSERTs of a mixed variant (small rows grouped, large ones alone)
	Connections  int        `json:"connections"`   // writer connections
	PayloadBytes int64      `json:"payload_bytes"` // the large variant's body bytes
	Store        string     `json:"store"`         // what large_records.store pointed at
	Runs         []largeRun `json:"runs"`
	// Cost is the claim-check's cost: tidemark-large against tidemark-small.
	Cost *largeCost `json:"cost,omitempty"`
}

// largeRun is one variant.
type largeRun struct {
	Connector    string `json:"connector"`
	Table        string `json:"table"`
	Rows         int64  `json:"rows"`       // rows written (one record each)
	LargeRows    int64  `json:"large_rows"` // of them, over 1 MiB
	PayloadBytes int64  `json:"payload_bytes"`
	Delivered    int64  `json:"delivered"` // records counted in the topic (end offsets)
	// Seconds: the first INSERT sent to the last record in Kafka;
	// WriteSeconds: to the last INSERT's return; CatchUpSeconds: from there
	// to the last record.
	Seconds         float64 `json:"seconds"`
	WriteSeconds    float64 `json:"write_seconds"`
	CatchUpSeconds  float64 `json:"catch_up_seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	MiBPerSecond    float64 `json:"payload_mib_per_second"` // body bytes delivered / Seconds
	// CPU of the Tidemark process over Seconds.
	CPUSeconds           float64 `json:"cpu_seconds"`
	CPUSecondsPerMillion float64 `json:"cpu_seconds_per_million_events"`
	CPUSecondsPerGiB     float64 `json:"cpu_seconds_per_gib_payload"`
	PeakRSSBytes         int64   `json:"peak_rss_bytes"`  // VmHWM at the end
	StartRSSBytes        int64   `json:"start_rss_bytes"` // VmHWM before the first write (started, streaming)
	// Forms: the daemon's tidemark_largerecord_records_total by form over
	// the measurement, inline being the delivered records it did not count.
	Forms map[string]int64 `json:"forms"`
	// ClaimBytes: tidemark_largerecord_bytes_total, "<form>/<before|after>".
	ClaimBytes  map[string]int64 `json:"claim_bytes,omitempty"`
	Store       *storeLatency    `json:"store_seconds,omitempty"`
	StoreErrors int64            `json:"store_errors,omitempty"`
	Load        Load             `json:"load"` // the stack's CPU includes the GCS emulator's (gcs)
	Verify      *largeVerify     `json:"verify,omitempty"`
	Incomplete  string           `json:"incomplete,omitempty"`
	Notes       []string         `json:"notes,omitempty"`
	Error       string           `json:"error,omitempty"`
	Log         string           `json:"log,omitempty"`
}

// storeLatency summarizes tidemark_largerecord_store_seconds (compress,
// encrypt, write one offloaded record): p50 and p99 estimated from the
// histogram's buckets (powers of two from 5 ms, so within a factor of 2),
// the mean exact.
type storeLatency struct {
	Count  int64   `json:"count"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MeanMS float64 `json:"mean_ms"`
}

// largeVerify is what the topic held, read back after the daemon stopped,
// against MariaDB's rows.
type largeVerify struct {
	Audit deliveryAudit `json:"audit"` // every id 1..rows exactly once
	// Forms by the records' tidemark.claimcheck header ("inline": none).
	Forms          map[string]int64 `json:"forms"`
	MaxRecordBytes int              `json:"max_record_bytes"` // key + value + headers
	// Checked bodies: decoded (serde.Decoder.DecodeRecord: inflated,
	// fetched and decrypted as needed) and compared by SHA-256 and length
	// with MariaDB's SHA2(body, 256); every inline and compressed record,
	// and a sample of the offloaded ones.
	Checked          int64    `json:"checked"`
	CheckedOffloaded int64    `json:"checked_offloaded"`
	Objects          int64    `json:"objects"` // in the variant's bucket
	ObjectBytes      int64    `json:"object_bytes"`
	Mismatches       []string `json:"mismatches,omitempty"`
}

// largeCost compares tidemark-large with tidemark-small.
type largeCost struct {
	EventsPerSecondRatio float64 `json:"events_per_second_ratio"` // large / small
	CPUPerMillionLarge   float64 `json:"cpu_seconds_per_million_large"`
	CPUPerMillionSmall   float64 `json:"cpu_seconds_per_million_small"`
	CPUPerMillionRatio   float64 `json:"cpu_seconds_per_million_ratio"`
	ExtraPeakRSSBytes    int64   `json:"extra_peak_rss_bytes"`
	ExtraPayloadBytes    int64   `json:"extra_payload_bytes"`
}

// largeVariant is one Tidemark configured for the scenario.
type largeVariant struct {
	tm    *tidemark
	plan  docPlan
	topic string
}

func (v largeVariant) name() string { return v.tm.name() }

// largeTable is the variant's table: docs_small, docs_large, docs_40mb.
func largeTable(variant string) string {
	return "docs_" + strings.TrimPrefix(variant, "tidemark-")
}

var largeVariantNames = []string{"tidemark-small", "tidemark-large", "tidemark-40mb"}

// largeTopics are the scenario's topics of a run's connector (for cleanup).
func largeTopics(c connector) []string {
	x, ok := c.(*tidemark)
	if !ok || x.discard {
		return nil
	}
	var out []string
	for _, n := range largeVariantNames {
		out = append(out, x.topicPrefix()+"."+x.database+"."+largeTable(n))
	}
	return out
}

// planLarge is the scenario's three plans, in the order they run: small
// first (the large writes leave InnoDB flushing behind them), then large,
// then 40 MB.
func (p plan) planLarge() (small, mixed, biggest docPlan) {
	mixed = planMixed(p.LargeRows, p.LargeSharePercent, p.LargeMinBytes, p.LargeMaxBytes, p.LargeSmallBytes, p.LargeTxnRows, largeSeed)
	return mixed.withSize(p.LargeSmallBytes), mixed, planUniform(p.LargeMaxRows, p.LargeMaxBytes)
}

// large runs the scenario for the variants kept by the filters.
func (b *bench) large(ctx context.Context, conns []connector) error {
	// The variants run at least once, as the tidemark connector does: their
	// progress is the topic's end offsets (transaction markers would count
	// in them under exactly once), and the claim-check's cost is measured
	// apart from the cost of transactions (the tidemark-eo rows of the
	// exactly-once table).
	var base *tidemark
	for _, c := range conns {
		if x, ok := c.(*tidemark); ok && !x.discard && !x.exactlyOnce {
			base = x
			break
		}
	}
	if base == nil {
		return nil
	}
	var names []string
	for _, n := range largeVariantNames {
		if !b.plan.wants("large", n) {
			continue
		}
		if why, ok := b.unavailable["tidemark"]; ok {
			b.skip(fmt.Sprintf("%s large: %s", n, why))
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil
	}
	if os.Getenv("STORAGE_EMULATOR_HOST") == "" {
		// Never a real bucket: the scenario writes gigabytes.
		for _, n := range names {
			b.skip(fmt.Sprintf("%s large: STORAGE_EMULATOR_HOST is not set (the stack's GCS emulator; bench/run sets it from stack/stack env)", n))
		}
		return nil
	}
	small, mixed, biggest := b.plan.planLarge()
	plans := map[string]docPlan{"tidemark-small": small, "tidemark-large": mixed, "tidemark-40mb": biggest}
	lr := &largeResults{Rows: mixed.rows(), LargeRows: int64(len(mixed.over(1 << 20))),
		SmallBytes: b.plan.LargeSmallBytes, MinBytes: b.plan.LargeMinBytes, MaxBytes: b.plan.LargeMaxBytes,
		MaxRows: biggest.rows(), Statements: len(mixed.Stmts), Connections: b.plan.LargeConns, PayloadBytes: mixed.payload(),
		Store: "gs://tidemark-bench-<variant>-<run> on the stack's GCS emulator (fake-gcs-server, STORAGE_EMULATOR_HOST=" + os.Getenv("STORAGE_EMULATOR_HOST") + ")"}
	b.res.Large = lr

	gcs, err := storage.NewClient(ctx)
	if err != nil {
		return fmt.Errorf("large: GCS client for the emulator: %w", err)
	}
	defer gcs.Close()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	run := time.Now().Unix()
	var buckets []string
	defer func() {
		if b.keep {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, bk := range buckets {
			if _, _, err := emptyBucket(cctx, gcs, bk, true); err != nil {
				b.log.Warn("large: delete bucket", "bucket", bk, "err", err)
			}
		}
		// The tables hold gigabytes; the binlog keeps its copy until it expires.
		for _, n := range names {
			_ = b.db.exec(cctx, "DROP TABLE IF EXISTS "+benchDatabase+"."+largeTable(n))
		}
	}()

	var vs []largeVariant
	for _, n := range names {
		t := *base
		table := largeTable(n)
		bucket := fmt.Sprintf("tidemark-bench-%s-%d", strings.TrimPrefix(n, "tidemark-"), run)
		if err := gcs.Bucket(bucket).Create(ctx, "tidemark-bench", nil); err != nil {
			return fmt.Errorf("large: create bucket %s on the emulator: %w", bucket, err)
		}
		buckets = append(buckets, bucket)
		t.large = &tmLarge{variant: n, table: table, store: "gs://" + bucket, secretEnv: largeSecretEnv, secret: hex.EncodeToString(secret)}
		full := benchDatabase + "." + table
		if err := b.db.exec(ctx, "DROP TABLE IF EXISTS "+full, "CREATE TABLE "+full+" (id BIGINT PRIMARY KEY, body LONGBLOB) ENGINE=InnoDB"); err != nil {
			return err
		}
		v := largeVariant{tm: &t, plan: plans[n], topic: t.topicPrefix() + "." + benchDatabase + "." + table}
		if err := b.ka.createTopic(ctx, v.topic, benchPartitions, benchTopicConfig); err != nil {
			return err
		}
		vs = append(vs, v)
	}

	for _, v := range vs {
		b.log.Info("large records", "connector", v.name(), "rows", v.plan.rows(), "payload_mib", v.plan.payload()>>20)
		r := b.largeRun(ctx, v, gcs)
		lr.Runs = append(lr.Runs, r)
		attrs := []any{"connector", r.Connector, "rows", r.Rows, "seconds", r.Seconds, "events_per_second", r.EventsPerSecond,
			"mib_per_second", r.MiBPerSecond, "cpu_seconds", r.CPUSeconds, "peak_rss_mib", r.PeakRSSBytes >> 20, "forms", r.Forms}
		if r.Error != "" {
			b.log.Error("large records: measurement failed", append(attrs, "err", r.Error)...)
		} else {
			b.log.Info("large records measured", attrs...)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	lr.Cost = largeCostOf(lr)
	return nil
}

// largeCostOf is tidemark-large against tidemark-small, when both were
// measured and verified.
func largeCostOf(lr *largeResults) *largeCost {
	var s, l *largeRun
	for i := range lr.Runs {
		r := &lr.Runs[i]
		if r.Error != "" || r.Incomplete != "" {
			continue
		}
		switch r.Connector {
		case "tidemark-small":
			s = r
		case "tidemark-large":
			l = r
		}
	}
	if s == nil || l == nil || s.EventsPerSecond <= 0 || s.CPUSecondsPerMillion <= 0 {
		return nil
	}
	return &largeCost{
		EventsPerSecondRatio: round3(l.EventsPerSecond / s.EventsPerSecond),
		CPUPerMillionLarge:   l.CPUSecondsPerMillion, CPUPerMillionSmall: s.CPUSecondsPerMillion,
		CPUPerMillionRatio: round3(l.CPUSecondsPerMillion / s.CPUSecondsPerMillion),
		ExtraPeakRSSBytes:  l.PeakRSSBytes - s.PeakRSSBytes,
		ExtraPayloadBytes:  l.PayloadBytes - s.PayloadBytes,
	}
}

// round3 keeps three significant digits: the ratios span 1/100 to 100.
func round3(f float64) float64 {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	scale := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(f))))
	return math.Round(f*scale) / scale
}

// largeRun measures one variant: start fresh, write the plan's rows while
// it streams, wait for every record, stop it, verify.
func (b *bench) largeRun(ctx context.Context, v largeVariant, gcs *storage.Client) largeRun {
	r := largeRun{Connector: v.name(), Table: benchDatabase + "." + v.tm.large.table, Rows: v.plan.rows(),
		LargeRows: int64(len(v.plan.over(1 << 20))), PayloadBytes: v.plan.payload()}
	fail := func(err error) largeRun { r.Error = err.Error(); return r }
	r.Log = filepath.Join(b.logDir, v.name()+"-large.log")
	p, err := b.startReady(ctx, v.tm, "large")
	if err != nil {
		return fail(err)
	}
	r.Log = p.logPath
	defer p.stop(60 * time.Second)

	counter := topicCounter{connector: v.tm, topicName: v.topic, ka: b.ka}
	from, err := counter.progress(ctx)
	if err != nil {
		return fail(err)
	}
	fromParts, err := b.ka.partitionOffsets(ctx, v.topic)
	if err != nil {
		return fail(err)
	}
	m0, err := v.tm.claimMetrics(ctx)
	if err != nil {
		return fail(err)
	}
	st0, err := readProcStats(p.pid())
	if err != nil {
		return fail(err)
	}
	r.StartRSSBytes = st0.HWMBytes
	s0 := sampleCPU(b.stackDir)

	wctx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	var ws docWrites
	var werr error
	written := make(chan struct{})
	go func() {
		defer close(written)
		ws, werr = writeDocs(wctx, b.db, r.Table, v.plan, b.plan.LargeConns, largeSeed)
		if werr != nil {
			stopWait()
		}
	}()
	w, waitErr := waitProgressWhile(wctx, counter, p, from, from+r.Rows, b.plan.LargeTimeout.d(), written)
	st1, perr := readProcStats(p.pid())
	m1, merr := v.tm.claimMetrics(ctx)
	r.Load = loadBetween(s0, sampleCPU(b.stackDir))
	stopWait() // a timed-out wait stops the writers too
	<-written
	if werr != nil && !errors.Is(werr, context.Canceled) {
		return fail(fmt.Errorf("write the rows: %w", werr))
	}
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	if waitErr != nil && !isTimeout(waitErr) {
		return fail(waitErr)
	}
	if perr != nil {
		return fail(perr)
	}
	if merr != nil {
		return fail(merr)
	}
	end := w.reached
	if waitErr != nil {
		end, r.Incomplete = incompleteEnd(w, waitErr), waitErr.Error()
	}
	r.Delivered = w.last - from
	r.Seconds = round2(end.Sub(ws.Started).Seconds())
	r.WriteSeconds = round2(ws.Finished.Sub(ws.Started).Seconds())
	r.CatchUpSeconds = round2(end.Sub(ws.Finished).Seconds())
	if secs := end.Sub(ws.Started).Seconds(); secs > 0 {
		r.EventsPerSecond = round1(float64(r.Delivered) / secs) // 30 rows of 40 MiB make less than 1/s
		// Payload delivered: every body when every record came, else the
		// written share (the records do not say which rows are missing).
		delivered := float64(r.PayloadBytes) * math.Min(1, float64(r.Delivered)/float64(r.Rows))
		r.MiBPerSecond = round1(delivered / mib / secs)
	}
	cpu := st1.CPUSeconds - st0.CPUSeconds
	r.CPUSeconds = round2(cpu)
	r.CPUSecondsPerMillion = perMillion(cpu, r.Delivered)
	if r.PayloadBytes > 0 {
		r.CPUSecondsPerGiB = round2(cpu / (float64(r.PayloadBytes) / (1 << 30)))
	}
	r.PeakRSSBytes = st1.HWMBytes
	d := m1.sub(m0)
	r.Forms = map[string]int64{"inline": r.Delivered}
	for f, n := range d.Forms {
		r.Forms[f] = int64(n)
		r.Forms["inline"] -= int64(n)
	}
	r.ClaimBytes = map[string]int64{}
	for k, n := range d.Bytes {
		r.ClaimBytes[k] = int64(n)
	}
	if d.StoreCount > 0 {
		r.Store = &storeLatency{Count: int64(d.StoreCount), P50MS: round1(1000 * histQuantile(0.5, d.Buckets)),
			P99MS: round1(1000 * histQuantile(0.99, d.Buckets)), MeanMS: round1(1000 * d.StoreSum / d.StoreCount)}
	}
	r.StoreErrors = int64(d.StoreErrors)

	// Stopped first (the daemon flushes on SIGTERM), so that the read-back
	// sees every record it was ever going to deliver.
	if err := p.stop(60 * time.Second); err != nil {
		return fail(err)
	}
	vr, err := b.verifyDocs(ctx, v, fromParts, gcs)
	if err != nil {
		return fail(fmt.Errorf("verification: %w", err))
	}
	r.Verify = vr
	if !vr.Audit.ok() {
		a := vr.Audit
		return fail(fmt.Errorf("verification: %d of %d ids missing (%s), %d duplicated (%s), %d unexpected (%s)",
			a.Missing, a.Owed, idList(a.MissingIDs, a.Missing), a.Duplicates, idList(a.DuplicateIDs, a.Duplicates), a.Unexpected, idList(a.UnexpectedIDs, a.Unexpected)))
	}
	if len(vr.Mismatches) > 0 {
		return fail(fmt.Errorf("verification: %d bodies differ from MariaDB's: %s", len(vr.Mismatches), abbreviate(strings.Join(vr.Mismatches, "; "), 400)))
	}
	for _, f := range []string{"inline", serde.ClaimCompressed, serde.ClaimOffloaded} {
		if vr.Forms[f] != r.Forms[f] {
			r.Notes = append(r.Notes, fmt.Sprintf("forms: the daemon's metrics say %d %s, the topic's headers %d", r.Forms[f], f, vr.Forms[f]))
		}
	}
	if vr.Objects != r.Forms[serde.ClaimOffloaded] {
		r.Notes = append(r.Notes, fmt.Sprintf("%d objects in the bucket for %d offloaded records", vr.Objects, r.Forms[serde.ClaimOffloaded]))
	}
	if r.StoreErrors > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d store errors (retried)", r.StoreErrors))
	}
	return r
}

// docWrites is what the writers did.
type docWrites struct {
	Started, Finished time.Time
	Statements        int64
	Bytes             int64
}

// writeDocs runs the plan's INSERTs, in id order, on conns connections,
// each statement autocommitted (a multi-row INSERT is one small
// transaction).
func writeDocs(ctx context.Context, db *shardDB, table string, p docPlan, conns int, seed uint64) (docWrites, error) {
	var ws docWrites
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	ws.Started = time.Now()
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				i := next.Add(1) - 1
				if i >= int64(len(p.Stmts)) || ctx.Err() != nil {
					return
				}
				rg := p.Stmts[i]
				buf = appendDocsInsert(buf[:0], table, rg, p.Sizes, seed)
				if _, err := db.db.ExecContext(ctx, string(buf)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("insert ids %d..%d: %w", rg.First, rg.Last, err)
					}
					mu.Unlock()
					return
				}
				mu.Lock()
				ws.Statements++
				for id := rg.First; id <= rg.Last; id++ {
					ws.Bytes += int64(p.Sizes[id-1])
				}
				mu.Unlock()
				if cap(buf) > 8<<20 && len(buf) < 1<<20 {
					buf = nil // let a 40 MB buffer go when the rows are small again
				}
			}
		}()
	}
	wg.Wait()
	ws.Finished = time.Now()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return ws, firstErr
}

// verifyDocs reads the variant's topic back from fromParts to its end and
// checks it against the table: every id exactly once; every inline and
// compressed record and a sample of the offloaded ones decoded in full, its
// body's SHA-256 and length equal to MariaDB's; the objects in the bucket.
func (b *bench) verifyDocs(ctx context.Context, v largeVariant, fromParts map[int32]int64, gcs *storage.Client) (*largeVerify, error) {
	table := benchDatabase + "." + v.tm.large.table
	big := v.plan.over(1 << 20)
	sample := sampleIDs(big, v.plan.Sizes, b.plan.LargeVerifySample)
	sampled := map[int64]bool{}
	for _, id := range sample {
		sampled[id] = true
	}
	// MariaDB's hashes of every row the read-back decodes in full: all but
	// the unsampled large ones, which are not even read (the WHERE is
	// ranges of the primary key, so InnoDB never fetches their bodies).
	var skip []int64
	for _, id := range big {
		if !sampled[id] {
			skip = append(skip, id)
		}
	}
	q := "SELECT id, LENGTH(body), SHA2(body, 256) FROM " + table + " WHERE " + rangesSQL(complementRanges(v.plan.rows(), skip))
	want := map[int64]struct {
		n   int
		sum string
	}{}
	rows, err := b.db.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", abbreviate(q, 80), err)
	}
	for rows.Next() {
		var id int64
		var n int
		var sum string
		if err := rows.Scan(&id, &n, &sum); err != nil {
			rows.Close()
			return nil, err
		}
		want[id] = struct {
			n   int
			sum string
		}{n, sum}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var count int64
	if err := b.db.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&count); err != nil {
		return nil, err
	}

	vr := &largeVerify{Forms: map[string]int64{}}
	if count != v.plan.rows() {
		vr.Mismatches = append(vr.Mismatches, fmt.Sprintf("%s holds %d rows, %d were written", table, count, v.plan.rows()))
	}
	reg, err := serde.NewRegistryClient(serde.RegistryConfig{URL: b.env.RegistryURL, Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	dec := serde.NewDecoder(reg, serde.DecoderOptions{})
	defer dec.Close()
	to, err := b.ka.partitionOffsets(ctx, v.topic)
	if err != nil {
		return nil, err
	}
	start := map[int32]kgo.Offset{}
	left := map[int32]int64{}
	for p, end := range to {
		if fromParts[p] < end {
			start[p] = kgo.NewOffset().At(fromParts[p])
			left[p] = fromParts[p]
		}
	}
	t := newTally(1, v.plan.rows())
	checkedIDs := map[int64]bool{}
	if len(left) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.env.Brokers...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{v.topic: start}), kgo.FetchMaxWait(200*time.Millisecond),
			// As a consumer reads; markers kept, so a partition whose last
			// offset is one (a transactional writer) reaches its end.
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		var fatal error
		for len(left) > 0 && fatal == nil {
			fs := cl.PollFetches(cctx)
			if cctx.Err() != nil {
				return nil, fmt.Errorf("read-back of %s: %d partitions not read to their end (%d records read)", v.topic, len(left), t.a.Read)
			}
			if err := fs.Err0(); err != nil {
				return nil, fmt.Errorf("read-back of %s: %w", v.topic, err)
			}
			fs.EachRecord(func(kr *kgo.Record) {
				next, open := left[kr.Partition]
				if fatal != nil || !open || kr.Offset < next || kr.Offset >= to[kr.Partition] {
					return
				}
				if kr.Offset+1 >= to[kr.Partition] {
					delete(left, kr.Partition)
				} else {
					left[kr.Partition] = kr.Offset + 1
				}
				if kr.Attrs.IsControl() {
					return
				}
				rec := &serde.KafkaRecord{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key, Value: kr.Value}
				size := len(kr.Key) + len(kr.Value)
				form := "inline"
				for _, h := range kr.Headers {
					rec.Headers = append(rec.Headers, serde.Header{Key: h.Key, Value: h.Value})
					size += len(h.Key) + len(h.Value)
					if h.Key == serde.HeaderClaimCheck {
						form = string(h.Value)
					}
				}
				vr.Forms[form]++
				vr.MaxRecordBytes = max(vr.MaxRecordBytes, size)
				k, err := dec.Decode(cctx, kr.Key, nil)
				if err != nil {
					fatal = fmt.Errorf("record %d@%d: key: %w", kr.Partition, kr.Offset, err)
					return
				}
				id, err := idField(k.Key["id"])
				if err != nil {
					fatal = fmt.Errorf("record %d@%d: %w", kr.Partition, kr.Offset, err)
					return
				}
				t.add(id)
				if form == serde.ClaimOffloaded && !sampled[id] {
					return
				}
				full, err := dec.DecodeRecord(cctx, rec)
				if err != nil {
					vr.Mismatches = append(vr.Mismatches, fmt.Sprintf("id %d: %v", id, err))
					return
				}
				body, _ := full.After["body"].([]byte)
				sum := sha256.Sum256(body)
				w, ok := want[id]
				switch {
				case !ok:
					vr.Mismatches = append(vr.Mismatches, fmt.Sprintf("id %d: not in %s", id, table))
				case hex.EncodeToString(sum[:]) != w.sum || len(body) != w.n:
					vr.Mismatches = append(vr.Mismatches, fmt.Sprintf("id %d: %d bytes, SHA-256 %x; MariaDB %d bytes, %s", id, len(body), sum[:8], w.n, w.sum[:16]))
				case id <= int64(len(v.plan.Sizes)) && len(body) != v.plan.Sizes[id-1]:
					vr.Mismatches = append(vr.Mismatches, fmt.Sprintf("id %d: %d bytes, %d written", id, len(body), v.plan.Sizes[id-1]))
				}
				if !checkedIDs[id] {
					checkedIDs[id] = true
					vr.Checked++
					if form == serde.ClaimOffloaded {
						vr.CheckedOffloaded++
					}
				}
			})
		}
		if fatal != nil {
			return nil, fatal
		}
	}
	vr.Audit = t.result()
	// Every row MariaDB hashed must have been checked: a sampled large row
	// whose record never came is missing above; one that came must have
	// been decoded.
	var unchecked []int64
	for id := range want {
		if !checkedIDs[id] {
			unchecked = append(unchecked, id)
		}
	}
	sort.Slice(unchecked, func(i, j int) bool { return unchecked[i] < unchecked[j] })
	if len(unchecked) > 0 && vr.Audit.Missing == 0 {
		vr.Mismatches = append(vr.Mismatches, fmt.Sprintf("%d rows not decoded (id %s)", len(unchecked), idList(unchecked[:min(len(unchecked), maxListedIDs)], int64(len(unchecked)))))
	}
	bucket := strings.TrimPrefix(v.tm.large.store, "gs://")
	vr.Objects, vr.ObjectBytes, err = emptyBucket(ctx, gcs, bucket, false)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", v.tm.large.store, err)
	}
	return vr, nil
}

// emptyBucket counts a bucket's objects and their bytes and, with del,
// deletes them and the bucket.
func emptyBucket(ctx context.Context, gcs *storage.Client, bucket string, del bool) (n, bytes int64, err error) {
	it := gcs.Bucket(bucket).Objects(ctx, nil)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return n, bytes, err
		}
		n++
		bytes += a.Size
		if del {
			if err := gcs.Bucket(bucket).Object(a.Name).Delete(ctx); err != nil {
				return n, bytes, err
			}
		}
	}
	if del {
		return n, bytes, gcs.Bucket(bucket).Delete(ctx)
	}
	return n, bytes, nil
}

// claimMetrics scrapes the daemon's claim-check metrics.
func (t *tidemark) claimMetrics(ctx context.Context) (claimMetrics, error) {
	body, err := t.get(ctx, "/metrics")
	if err != nil {
		return claimMetrics{}, err
	}
	return parseClaimMetrics(string(body)), nil
}
