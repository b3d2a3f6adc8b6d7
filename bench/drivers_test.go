package main

import (
	"strings"
	"testing"
)

func TestPromSum(t *testing.T) {
	text := `# HELP tidemark_records_discarded_total Records encoded and dropped.
# TYPE tidemark_records_discarded_total counter
tidemark_records_discarded_total{shard="shard1"} 12345
tidemark_records_discarded_total{shard="shard2"} 7
tidemark_records_discarded_total_extra{shard="shard1"} 99
`
	if n, ok := promSum(text, "tidemark_records_discarded_total", `shard="shard1"`); !ok || n != 12345 {
		t.Fatalf("shard1: %d %v", n, ok)
	}
	if n, ok := promSum(text, "tidemark_records_discarded_total", ""); !ok || n != 12352 {
		t.Fatalf("all: %d %v", n, ok)
	}
	if _, ok := promSum(text, "tidemark_records_produced_total", ""); ok {
		t.Fatalf("absent metric found")
	}
}

func TestParsePerf(t *testing.T) {
	out := "100000 records sent, 20000.0 records/sec (11.44 MB/sec), 900.1 ms avg latency, 1400.0 ms max latency.\n" +
		"1000000 records sent, 151286.0 records/sec (86.57 MB/sec), 180.52 ms avg latency, 504.00 ms max latency, 175 ms 50th, 447 ms 95th, 490 ms 99th, 502 ms 99.9th.\n"
	r, err := parsePerf(out, 600)
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 1000000 || r.RecordsPS != 151286 || r.MBPS != 86.57 || r.P99LatencyMS != 490 {
		t.Fatalf("parsed %+v", r)
	}
	if _, err := parsePerf("nothing", 600); err == nil {
		t.Fatal("no summary must be an error")
	}
}

func TestTidemarkConfig(t *testing.T) {
	tm := &tidemark{discard: true, brokers: []string{"127.0.0.1:19092"}, registryURL: "http://r/apis/ccompat/v7",
		adminAddr: "127.0.0.1:18800", passwordEnv: "TIDEMARK_MYSQL_PASSWORD", shardHost: "127.0.0.1", shardPort: 13306,
		database: "bench", table: "orders"}
	cfg := tm.config("drain")
	for _, s := range []string{
		`listen: "127.0.0.1:18800"`, `brokers: ["127.0.0.1:19092"]`, "positions_topic: bench.state.tidemark-discard.drain.positions",
		"sink: discard", "prefix: benchtm", "password_env: TIDEMARK_MYSQL_PASSWORD", "server_id: 4101", `include: ["orders"]`,
	} {
		if !strings.Contains(cfg, s) {
			t.Errorf("config lacks %q:\n%s", s, cfg)
		}
	}
	if tm.topic() != "" {
		t.Errorf("discard variant has topic %q", tm.topic())
	}
	tm.discard = false
	if strings.Contains(tm.config("x"), "sink:") || tm.topic() != "benchtm.bench.orders" {
		t.Errorf("kafka variant: topic %q, config:\n%s", tm.topic(), tm.config("x"))
	}
}

func TestDebeziumProperties(t *testing.T) {
	d := &debezium{format: "avro", libs: "/libs", brokers: "b:1", apicurioURL: "http://r/apis/registry/v2", restPort: 18083,
		shardHost: "127.0.0.1", shardPort: 13306, user: "u", pass: "p", serverID: 5401, database: "bench", table: "orders"}
	w := d.workerProperties("/state/offsets")
	for _, s := range []string{"value.converter=io.apicurio.registry.utils.converter.AvroConverter", "value.converter.apicurio.registry.headers.enabled=false",
		"key.converter.apicurio.registry.id-handler=io.apicurio.registry.serde.Legacy4ByteIdHandler", "plugin.path=/libs/plugins", "offset.storage.file.filename=/state/offsets"} {
		if !strings.Contains(w, s+"\n") {
			t.Errorf("worker lacks %q", s)
		}
	}
	c := d.connectorProperties("drain")
	for _, s := range []string{"snapshot.mode=no_data", "table.include.list=bench.orders", "topic.prefix=benchdbzavro", "schema.history.internal.kafka.topic=bench.state.debezium-avro.drain.history"} {
		if !strings.Contains(c, s+"\n") {
			t.Errorf("connector lacks %q", s)
		}
	}
	if d.topic() != "benchdbzavro.bench.orders" {
		t.Errorf("topic %q", d.topic())
	}
	for _, s := range []string{"max.batch.size", "poll.interval.ms", "producer.linger.ms", "producer.compression.type"} {
		if strings.Contains(w+c, s) {
			t.Errorf("untuned variant sets %s", s)
		}
	}
	if !strings.Contains(c, "database.jdbc.driver=io.github.tidemark.bench.mariadb.MariaDbCompatDriver\n") {
		t.Errorf("connector lacks the MariaDB-compatible driver:\n%s", c)
	}

	d.tuned = true
	w, c = d.workerProperties("/state/offsets"), d.connectorProperties("drain")
	for _, s := range []string{"producer.linger.ms=20", "producer.batch.size=1048576", "producer.compression.type=lz4"} {
		if !strings.Contains(w, s+"\n") {
			t.Errorf("tuned worker lacks %q", s)
		}
	}
	for _, s := range []string{"max.batch.size=8192", "max.queue.size=32768", "poll.interval.ms=100", "topic.prefix=benchdbzavrotuned",
		"schema.history.internal.kafka.topic=bench.state.debezium-avro-tuned.drain.history"} {
		if !strings.Contains(c, s+"\n") {
			t.Errorf("tuned connector lacks %q", s)
		}
	}
	if d.name() != "debezium-avro-tuned" || d.topic() != "benchdbzavrotuned.bench.orders" {
		t.Errorf("tuned: name %q topic %q", d.name(), d.topic())
	}
	d.format, d.tuned = "json", false
	if w := d.workerProperties("x"); !strings.Contains(w, "value.converter.schemas.enable=false\n") || strings.Contains(w, "apicurio") {
		t.Errorf("json worker:\n%s", w)
	}
}

func TestAlternate(t *testing.T) {
	cs := []connector{&tidemark{}, &tidemark{discard: true}, &debezium{format: "avro"}, &debezium{format: "avro", tuned: true}, &debezium{format: "json"}}
	var names []string
	for _, c := range alternate(cs) {
		names = append(names, c.name())
	}
	if got := strings.Join(names, ","); got != "debezium-avro,tidemark,debezium-avro-tuned,tidemark-discard,debezium-json" {
		t.Fatalf("order %s", got)
	}
}

func TestPlanFilters(t *testing.T) {
	p := fullPlan()
	p.ScenarioFilter, p.ConnectorFilter = "drain,live", "tidemark"
	if !p.wants("live-2000", "tidemark-discard") || p.wants("big-txn", "tidemark") || p.wants("drain", "debezium-avro") {
		t.Fatal("filters misapplied")
	}
	if got := apicurioV2URL("http://127.0.0.1:18081/apis/ccompat/v7"); got != "http://127.0.0.1:18081/apis/registry/v2" {
		t.Fatalf("v2 url %q", got)
	}
}

func TestPortShift(t *testing.T) {
	for _, tt := range []struct {
		base  string
		shift int
		ok    bool
	}{{"", 0, true}, {"13306", 0, true}, {"23306", 10000, true}, {"nope", 0, false}, {"63000", 0, false}} {
		t.Setenv("TIDEMARK_PORT_BASE", tt.base)
		shift, err := portShift()
		if (err == nil) != tt.ok || shift != tt.shift {
			t.Errorf("TIDEMARK_PORT_BASE=%q: shift %d err %v", tt.base, shift, err)
		}
	}
}
