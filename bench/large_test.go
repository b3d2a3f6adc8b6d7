package main

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tidemark-cdc/tidemark/largerecord"
	"github.com/tidemark-cdc/tidemark/serde"
)

func TestPlanMixed(t *testing.T) {
	p := fullPlan()
	small, mixed, biggest := p.planLarge()
	if mixed.rows() != p.LargeRows || small.rows() != p.LargeRows {
		t.Fatalf("rows %d / %d, want %d", mixed.rows(), small.rows(), p.LargeRows)
	}
	big := mixed.over(1 << 20)
	if want := int(p.LargeRows) * p.LargeSharePercent / 100; len(big) != want {
		t.Fatalf("%d large rows, want exactly %d", len(big), want)
	}
	for i, s := range mixed.Sizes {
		if s != p.LargeSmallBytes && (s < p.LargeMinBytes || s > p.LargeMaxBytes) {
			t.Fatalf("id %d: %d bytes, outside [%d, %d]", i+1, s, p.LargeMinBytes, p.LargeMaxBytes)
		}
	}
	// Spread over the range, not stuck at one end.
	var lo, hi int
	for _, id := range big {
		if mixed.Sizes[id-1] < 21<<20 {
			lo++
		} else {
			hi++
		}
	}
	if lo < len(big)/4 || hi < len(big)/4 {
		t.Errorf("sizes not uniform over 2-40 MiB: %d under 21 MiB, %d over", lo, hi)
	}
	if again := planMixed(p.LargeRows, p.LargeSharePercent, p.LargeMinBytes, p.LargeMaxBytes, p.LargeSmallBytes, p.LargeTxnRows, largeSeed); !reflect.DeepEqual(again, mixed) {
		t.Error("the plan is not deterministic")
	}
	// Statements cover every id once, in order; a large row alone, small
	// rows at most LargeTxnRows to a statement.
	next := int64(1)
	for _, st := range mixed.Stmts {
		if st.First != next || st.Last < st.First {
			t.Fatalf("statement %v after id %d", st, next-1)
		}
		n := st.Last - st.First + 1
		for id := st.First; id <= st.Last; id++ {
			if mixed.Sizes[id-1] > p.LargeSmallBytes && n != 1 {
				t.Fatalf("large id %d shares statement %v", id, st)
			}
		}
		if n > int64(p.LargeTxnRows) {
			t.Fatalf("statement %v of %d rows", st, n)
		}
		next = st.Last + 1
	}
	if next != p.LargeRows+1 {
		t.Fatalf("statements end at id %d", next-1)
	}
	if !reflect.DeepEqual(small.Stmts, mixed.Stmts) || len(small.over(p.LargeSmallBytes+1)) != 0 {
		t.Error("the small variant is not the same statements with every row small")
	}
	if biggest.rows() != p.LargeMaxRows || len(biggest.over(p.LargeMaxBytes)) != int(p.LargeMaxRows) || len(biggest.Stmts) != int(p.LargeMaxRows) {
		t.Errorf("40 MB plan: %d rows, %d statements", biggest.rows(), len(biggest.Stmts))
	}
	if q := quickPlan(); q.LargeRows >= p.LargeRows || q.LargeMaxRows >= p.LargeMaxRows {
		t.Error("the quick plan is not smaller")
	}
}

func TestGroupStatements(t *testing.T) {
	got := groupStatements([]int{1, 1, 1, 9, 1, 1, 1, 1, 1}, 1, 3)
	want := []idRange{{1, 3}, {4, 4}, {5, 7}, {8, 9}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

func TestAppendBody(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1024, 4095, 4096, 4097, 100_001} {
		b := appendBody([]byte("x"), 1, 42, n)
		if len(b) != n+1 || b[0] != 'x' {
			t.Fatalf("size %d: %d bytes", n, len(b)-1)
		}
		if strings.Trim(string(b[1:]), "0123456789abcdef") != "" {
			t.Fatalf("size %d: not hex digits", n)
		}
	}
	a, b := appendBody(nil, 1, 42, 5000), appendBody(nil, 1, 42, 5000)
	if string(a) != string(b) || string(appendBody(nil, 1, 43, 5000)) == string(a) {
		t.Error("bodies are not deterministic per id, or ids share one")
	}
	// The premise of the scenario: a 2 MiB body compressed (by the
	// claim-check's own zstd) is still over Kafka's default limit less the
	// daemon's 16 KiB headroom, so it is offloaded, not compressed inline;
	// and it does compress (to 66% at 2 MiB: half-compressible).
	threshold := 1048588 - serde.ClaimHeadroom
	body := appendBody(nil, largeSeed, 7, 2<<20)
	c := largerecord.Compress(nil, body)
	if len(c) <= threshold || len(c) > len(body)*3/4 {
		t.Errorf("a 2 MiB body compresses to %d bytes; want above the %d threshold and under 3/4 of the body", len(c), threshold)
	}
}

func TestAppendDocsInsert(t *testing.T) {
	sizes := []int{3, 4}
	got := string(appendDocsInsert(nil, "bench.docs_x", idRange{1, 2}, sizes, 9))
	if !strings.HasPrefix(got, "INSERT INTO bench.docs_x (id, body) VALUES (1,'") || !strings.Contains(got, "'),(2,'") || !strings.HasSuffix(got, "')") {
		t.Fatalf("%q", got)
	}
	if want := len("INSERT INTO bench.docs_x (id, body) VALUES ") + len("(1,'')") + 1 + len("(2,'')") + 7; len(got) != want {
		t.Fatalf("%d bytes, want %d: %q", len(got), want, got)
	}
}

func TestComplementRanges(t *testing.T) {
	got := complementRanges(10, []int64{1, 4, 5, 10})
	if want := []idRange{{2, 3}, {6, 9}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	if s := rangesSQL(got); s != "id BETWEEN 2 AND 3 OR id BETWEEN 6 AND 9" {
		t.Errorf("%q", s)
	}
	if got := complementRanges(3, nil); !reflect.DeepEqual(got, []idRange{{1, 3}}) {
		t.Errorf("%v", got)
	}
	if rangesSQL(complementRanges(2, []int64{1, 2})) != "FALSE" {
		t.Error("no ids is not FALSE")
	}
}

func TestSampleIDs(t *testing.T) {
	sizes := make([]int, 100)
	for i := range sizes {
		sizes[i] = 10 + i%7
	}
	sizes[49], sizes[60] = 1000, 1 // id 50 the largest, id 61 the smallest
	var ids []int64
	for i := int64(1); i <= 100; i += 3 {
		ids = append(ids, i)
	}
	ids = append(ids, 50) // 61 is in already
	got := sampleIDs(ids, sizes, 5)
	if len(got) != 5 {
		t.Fatalf("%v", got)
	}
	has := map[int64]bool{}
	for _, id := range got {
		has[id] = true
	}
	if !has[50] || !has[61] {
		t.Errorf("%v lacks the largest (50) or the smallest (61)", got)
	}
	if all := sampleIDs(ids[:3], sizes, 10); len(all) != 3 {
		t.Errorf("k over the ids: %v", all)
	}
	if sampleIDs(ids, sizes, 0) != nil {
		t.Error("k 0 picks ids")
	}
}

const claimMetricsText = `# HELP tidemark_largerecord_records_total Records above their topic's limit
# TYPE tidemark_largerecord_records_total counter
tidemark_largerecord_records_total{form="compressed",shard="shard1"} 3
tidemark_largerecord_records_total{form="offloaded",shard="shard1"} 96
tidemark_largerecord_records_total{form="offloaded",shard="shard2"} 4
tidemark_largerecord_records_totally_other 7
tidemark_largerecord_bytes_total{form="offloaded",shard="shard1",side="before"} 2.2e+09
tidemark_largerecord_bytes_total{form="offloaded",shard="shard1",side="after"} 1.1e+09
# TYPE tidemark_largerecord_store_seconds histogram
tidemark_largerecord_store_seconds_bucket{le="0.005"} 0
tidemark_largerecord_store_seconds_bucket{le="0.01"} 0
tidemark_largerecord_store_seconds_bucket{le="0.02"} 10
tidemark_largerecord_store_seconds_bucket{le="0.04"} 90
tidemark_largerecord_store_seconds_bucket{le="0.08"} 100
tidemark_largerecord_store_seconds_bucket{le="+Inf"} 100
tidemark_largerecord_store_seconds_sum 3.1
tidemark_largerecord_store_seconds_count 100
tidemark_largerecord_store_errors_total{shard="shard1"} 2
tidemark_records_total{shard="a \"quoted\" one",table="x"} 5
`

func TestParseClaimMetrics(t *testing.T) {
	m := parseClaimMetrics(claimMetricsText)
	if m.Forms["compressed"] != 3 || m.Forms["offloaded"] != 100 || len(m.Forms) != 2 {
		t.Errorf("forms %v", m.Forms)
	}
	if m.Bytes["offloaded/before"] != 2.2e9 || m.Bytes["offloaded/after"] != 1.1e9 {
		t.Errorf("bytes %v", m.Bytes)
	}
	if m.StoreCount != 100 || m.StoreSum != 3.1 || m.StoreErrors != 2 || len(m.Buckets) != 6 || !math.IsInf(m.Buckets[5].LE, 1) {
		t.Errorf("store %+v", m)
	}
	if p := histQuantile(0.5, m.Buckets); math.Abs(p-0.03) > 1e-9 {
		t.Errorf("p50 %v, want 0.03 (half-way through the 20-40 ms bucket)", p)
	}
	if p := histQuantile(0.99, m.Buckets); math.Abs(p-0.076) > 1e-9 {
		t.Errorf("p99 %v, want 0.076 (9/10 of the way through the 40-80 ms bucket)", p)
	}
	before := parseClaimMetrics("tidemark_largerecord_records_total{form=\"offloaded\",shard=\"shard1\"} 40\ntidemark_largerecord_store_seconds_bucket{le=\"0.04\"} 50\ntidemark_largerecord_store_seconds_count 60\n")
	d := m.sub(before)
	if d.Forms["offloaded"] != 60 || d.Forms["compressed"] != 3 || d.StoreCount != 40 {
		t.Errorf("difference %+v", d)
	}
	for _, b := range d.Buckets {
		if b.LE == 0.04 && b.Count != 40 {
			t.Errorf("bucket 0.04: %v", b.Count)
		}
	}
	if _, labels, v, ok := parsePromLine(`tidemark_records_total{shard="a \"quoted\" one",table="x"} 5`); !ok || labels["shard"] != `a "quoted" one` || v != 5 {
		t.Errorf("escaped label: %v %v %v", labels, v, ok)
	}
}

func TestHistQuantile(t *testing.T) {
	inf := math.Inf(1)
	if !math.IsNaN(histQuantile(0.5, nil)) || !math.IsNaN(histQuantile(0.5, []histBucket{{1, 0}, {inf, 0}})) {
		t.Error("no observations is not NaN")
	}
	// Everything in the first bucket: interpolated from 0.
	if p := histQuantile(0.5, []histBucket{{0.01, 10}, {inf, 10}}); math.Abs(p-0.005) > 1e-12 {
		t.Errorf("%v", p)
	}
	// A rank in +Inf: the highest finite bound.
	if p := histQuantile(0.99, []histBucket{{0.01, 1}, {0.02, 2}, {inf, 10}}); p != 0.02 {
		t.Errorf("%v", p)
	}
}

func TestTidemarkLargeConfig(t *testing.T) {
	tm := &tidemark{brokers: []string{"127.0.0.1:19092"}, registryURL: "http://r", adminAddr: "127.0.0.1:18800",
		passwordEnv: "TIDEMARK_MYSQL_PASSWORD", shardHost: "127.0.0.1", shardPort: 13306, database: "bench", table: "orders"}
	tm.large = &tmLarge{variant: "tidemark-large", table: largeTable("tidemark-large"), store: "gs://b-1", secretEnv: largeSecretEnv, secret: "s3cr3t-value-never-written"}
	cfg := tm.config("large")
	for _, s := range []string{"large_records:\n  store: \"gs://b-1\"\n  secret_env: TIDEMARK_BENCH_LARGE_SECRET\n", `include: ["orders", "docs_large"]`,
		"positions_topic: bench.state.tidemark-large.large.positions"} {
		if !strings.Contains(cfg, s) {
			t.Errorf("config lacks %q:\n%s", s, cfg)
		}
	}
	if strings.Contains(cfg, "s3cr3t") {
		t.Error("the secret is in the config file")
	}
	if tm.name() != "tidemark-large" || tm.topic() != "benchtm.bench.orders" {
		t.Errorf("name %q topic %q", tm.name(), tm.topic())
	}
	if got := largeTopics(&tidemark{database: "bench"}); len(got) != 3 || got[2] != "benchtm.bench.docs_40mb" {
		t.Errorf("topics %v", got)
	}
}

func sampleLarge() *largeResults {
	ld := Load{StackCPU: map[string]float64{"shard1": 20, "kafka": 1, "registry": 0.5, "gcs": 12}}
	return &largeResults{Rows: 5000, LargeRows: 100, SmallBytes: 1024, MinBytes: 2 << 20, MaxBytes: 40 << 20, MaxRows: 30, Statements: 590, Connections: 4,
		PayloadBytes: 2200 * mib,
		Runs: []largeRun{
			{Connector: "tidemark-small", Rows: 5000, PayloadBytes: 5 * mib, Delivered: 5000, Seconds: 2, WriteSeconds: 1.9, EventsPerSecond: 2500, MiBPerSecond: 2.4,
				CPUSeconds: 0.5, CPUSecondsPerMillion: 100, PeakRSSBytes: 60 * mib, StartRSSBytes: 50 * mib, Forms: map[string]int64{"inline": 5000}, Load: ld,
				Verify: &largeVerify{Audit: deliveryAudit{Owed: 5000, Read: 5000}, Forms: map[string]int64{"inline": 5000}, Checked: 5000}},
			{Connector: "tidemark-large", Rows: 5000, LargeRows: 100, PayloadBytes: 2200 * mib, Delivered: 5000, Seconds: 50, WriteSeconds: 45, CatchUpSeconds: 5, EventsPerSecond: 100, MiBPerSecond: 44,
				CPUSeconds: 40, CPUSecondsPerMillion: 8000, PeakRSSBytes: 300 * mib, StartRSSBytes: 50 * mib, Forms: map[string]int64{"inline": 4900, "offloaded": 100},
				Store: &storeLatency{Count: 100, P50MS: 120, P99MS: 700, MeanMS: 150}, Load: ld,
				Verify: &largeVerify{Audit: deliveryAudit{Owed: 5000, Read: 5000}, Forms: map[string]int64{"inline": 4900, "offloaded": 100}, Checked: 4910, CheckedOffloaded: 10, Objects: 100, ObjectBytes: 1100 * mib}},
			{Connector: "tidemark-40mb", Rows: 30, Error: "verification: 1 bodies differ | from MariaDB's"},
		}}
}

func TestRound3(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0.014648, 0.0146}, {230.6, 231}, {1, 1}, {0, 0}, {12345, 12300}} {
		if got := round3(c.in); math.Abs(got-c.want) > 1e-12*math.Max(1, c.want) {
			t.Errorf("round3(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestLargeCost(t *testing.T) {
	l := sampleLarge()
	c := largeCostOf(l)
	if c == nil || c.EventsPerSecondRatio != 0.04 || c.CPUPerMillionRatio != 80 || c.ExtraPeakRSSBytes != 240*mib {
		t.Fatalf("%+v", c)
	}
	l.Runs[0].Error = "verification failed"
	if largeCostOf(l) != nil {
		t.Error("a cost against a failed measurement")
	}
}

func TestLargeReport(t *testing.T) {
	r := sampleResults()
	r.Large = sampleLarge()
	r.Large.Cost = largeCostOf(r.Large)
	var text strings.Builder
	printText(&text, r)
	md, err := renderMarkdown(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), string(md)} {
		for _, s := range []string{"tidemark-large", "4900 / 0 / 100", "120 / 700 / 150", "300 MiB (50 MiB)", "events/s 0.04x (100 against 2500)",
			"CPU-s per M events 8000.0 against 100.0 (80x)", "peak RSS +240 MiB", "FAILED: verification", "10 of them offloaded", "20.0 / 1.0 / 0.5 / 12.0"} {
			if !strings.Contains(out, s) {
				t.Errorf("report lacks %q:\n%s", s, out)
			}
		}
	}
	for _, s := range []string{"## Large records (issue 10)", "Debezium has no claim-check", "2200 MiB of bodies", "| large | tidemark-large |", "differ / from"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("markdown lacks %q", s)
		}
	}
	r.Large = nil
	if md, _ := renderMarkdown(r); strings.Contains(string(md), "Large records") {
		t.Error("markdown has a large-record section without a large run")
	}
}
