package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// debezium runs Debezium's MySQL connector on a Kafka Connect standalone
// worker: one JVM, started as
//
//	java -cp "<libs>/connect/*" org.apache.kafka.connect.cli.ConnectStandalone worker.properties connector.properties
//
// with the connector and Apicurio's converter as plugins under plugin.path.
// Settings are Debezium's and Connect's defaults except where the bench
// needs otherwise, each said below; the JVM's heap is its own default. The
// tuned variant adds what Debezium's users set for throughput (tunedSettings).
type debezium struct {
	format      string // "avro" or "json"
	tuned       bool
	libs        string // bench/debezium/resolve's output
	java        string
	shardHost   string
	shardPort   int
	user, pass  string
	serverID    int
	brokers     string
	registryURL string // ccompat base (for the decoder)
	apicurioURL string // Apicurio's own v2 API, which the 2.6 converter speaks
	restPort    int
	database    string
	table       string
	stateDir    string
	logDir      string

	dec recordDecoder
	ka  *kafkaAdmin

	// snap, when set, makes this the snapshot scenario's variant: it also
	// captures the snapshot table and takes incremental-snapshot signals.
	snap *dbzSnap
}

// dbzSnap is how a Debezium variant of the snapshot scenario is signalled.
type dbzSnap struct {
	table     string // the snapshot table (in the bench database), captured beside the bench table
	chunkSize int    // incremental.snapshot.chunk.size (Debezium's default 1024)
	// readOnly: read.only=true with the Kafka signal channel (watermarks
	// from the binlog's GTIDs, nothing written to the source); else the
	// source signal table, where Debezium writes its window watermarks.
	readOnly    bool
	signalTopic string // the Kafka signal channel's topic (readOnly)
	signalTable string // bench database table (not readOnly)
}

// name is debezium-avro, debezium-json or debezium-avro-tuned.
func (d *debezium) name() string {
	if d.tuned {
		return "debezium-" + d.format + "-tuned"
	}
	return "debezium-" + d.format
}
func (d *debezium) system() string { return "debezium" }

// topic follows Debezium's naming: <topic.prefix>.<database>.<table>.
func (d *debezium) topic() string          { return d.topicPrefix() + "." + d.database + "." + d.table }
func (d *debezium) decoder() recordDecoder { return d.dec }

// topicPrefix is benchdbzavro, benchdbzjson or benchdbzavrotuned.
func (d *debezium) topicPrefix() string {
	if d.tuned {
		return "benchdbz" + d.format + "tuned"
	}
	return "benchdbz" + d.format
}
func (d *debezium) connectorName() string { return "bench-" + d.name() }

func (d *debezium) historyTopic(key string) string {
	return stateTopicPrefix + d.name() + "." + key + ".history"
}

func (d *debezium) start(ctx context.Context, key string) (*process, error) {
	dir := filepath.Join(d.stateDir, d.name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	worker := filepath.Join(dir, "worker-"+key+".properties")
	conn := filepath.Join(dir, "connector-"+key+".properties")
	log4j := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(worker, []byte(d.workerProperties(filepath.Join(dir, "offsets-"+key))), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(conn, []byte(d.connectorProperties(key)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(log4j, []byte(connectLog4j), 0o644); err != nil {
		return nil, err
	}
	return startProcess(d.name(), filepath.Join(d.logDir, d.name()+"-"+key+".log"), nil,
		d.java, "-Dlog4j2.configurationFile="+log4j,
		"-cp", filepath.Join(d.libs, "connect")+"/*",
		"org.apache.kafka.connect.cli.ConnectStandalone", worker, conn)
}

func (d *debezium) workerProperties(offsets string) string {
	var b strings.Builder
	p := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, v) }
	p("bootstrap.servers", d.brokers)
	p("listeners", fmt.Sprintf("http://127.0.0.1:%d", d.restPort))
	p("plugin.path", filepath.Join(d.libs, "plugins"))
	// The converter's 2.6 jar has no ServiceLoader manifest: scan for it.
	// (The scan logs an ERROR for the connector's CloudEventsConverter, which
	// wants a JsonConverter method Connect 4.3 lacks; it is not used here.)
	p("plugin.discovery", "hybrid_warn")
	p("offset.storage.file.filename", offsets)
	// Connect's default is 60 s; a shorter flush only means the stored
	// offset is fresher when the bench stops the worker (which flushes too).
	p("offset.flush.interval.ms", "1000")
	if d.tuned {
		for _, kv := range tunedProducer {
			p("producer."+kv[0], kv[1])
		}
	}
	switch d.format {
	case "avro":
		for _, side := range []string{"key", "value"} {
			c := side + ".converter"
			p(c, "io.apicurio.registry.utils.converter.AvroConverter")
			p(c+".apicurio.registry.url", d.apicurioURL)
			p(c+".apicurio.registry.auto-register", "true")
			p(c+".apicurio.registry.find-latest", "true")
			// Confluent framing, as Tidemark writes it: no id headers, magic
			// byte 0 + 4-byte id in the payload, and the id is the content id,
			// which is what the registry's ccompat API calls a schema id.
			p(c+".apicurio.registry.headers.enabled", "false")
			p(c+".apicurio.registry.id-handler", "io.apicurio.registry.serde.Legacy4ByteIdHandler")
			p(c+".apicurio.registry.use-id", "contentId")
		}
	case "json":
		// Debezium's best case: no schema in the record, no registry.
		for _, side := range []string{"key", "value"} {
			p(side+".converter", "org.apache.kafka.connect.json.JsonConverter")
			p(side+".converter.schemas.enable", "false")
		}
	}
	return b.String()
}

func (d *debezium) connectorProperties(key string) string {
	var b strings.Builder
	p := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, v) }
	p("name", d.connectorName())
	p("connector.class", "io.debezium.connector.mysql.MySqlConnector")
	p("tasks.max", "1")
	p("database.hostname", d.shardHost)
	p("database.port", fmt.Sprint(d.shardPort))
	p("database.user", d.user)
	p("database.password", d.pass)
	p("database.server.id", fmt.Sprint(d.serverID))
	p("topic.prefix", d.topicPrefix())
	p("database.include.list", d.database)
	if d.snap == nil {
		p("table.include.list", d.database+"."+d.table)
	}
	// Streaming only: the first start records the current binlog position
	// and the table's schema, then streams; no rows are read by SELECT.
	p("snapshot.mode", "no_data")
	// No schema-change topic: the bench topics are the table's only.
	p("include.schema.changes", "false")
	p("schema.history.internal.kafka.bootstrap.servers", d.brokers)
	p("schema.history.internal.kafka.topic", d.historyTopic(key))
	// The shard is shared with other databases, some with MariaDB-only types
	// (UUID, INET6) that the MySQL DDL parser rejects: keep only the bench
	// table's DDL, and skip statements it cannot parse.
	p("schema.history.internal.store.only.captured.tables.ddl", "true")
	p("schema.history.internal.store.only.captured.databases.ddl", "true")
	p("schema.history.internal.skip.unparseable.ddl", "true")
	// Debezium 3.6's MySQL connector refuses MariaDB unless SHOW BINARY LOG
	// STATUS works: this driver (Connector/J with one query interceptor,
	// bench/debezium/mariadb-compat) answers that statement with MariaDB's
	// SHOW MASTER STATUS, the fallback Debezium 3.5 took on MariaDB.
	p("database.jdbc.driver", "io.github.tidemark.bench.mariadb.MariaDbCompatDriver")
	if d.tuned {
		for _, kv := range tunedConnector {
			p(kv[0], kv[1])
		}
	}
	if s := d.snap; s != nil {
		p("table.include.list", d.database+"."+d.table+","+d.database+"."+s.table)
		p("incremental.snapshot.chunk.size", fmt.Sprint(s.chunkSize))
		if s.readOnly {
			// Debezium's read-only incremental snapshot: signals come from a
			// Kafka topic (key: topic.prefix), window watermarks from the
			// server's executed GTID set; nothing is written to the source.
			p("read.only", "true")
			p("signal.enabled.channels", "kafka")
			p("signal.kafka.topic", s.signalTopic)
			p("signal.kafka.bootstrap.servers", d.brokers)
			p("signal.kafka.groupId", d.connectorName()+"-signals")
		} else {
			// The source channel: a signal table Debezium reads from the binlog
			// and writes its open/close window rows to (the table is captured
			// implicitly).
			p("signal.data.collection", d.database+"."+s.signalTable)
		}
	}
	return b.String()
}

// What Debezium's users set for throughput (issue 8, point 19): larger
// batches and queue and a shorter poll interval in the connector (defaults
// 2048, 8192, 500 ms), and a producer that batches and compresses
// (Connect's producer defaults: linger.ms 5, batch.size 16384, no
// compression). Applied exactly so, nothing else changed.
var (
	tunedConnector = [][2]string{{"max.batch.size", "8192"}, {"max.queue.size", "32768"}, {"poll.interval.ms", "100"}}
	tunedProducer  = [][2]string{{"linger.ms", "20"}, {"batch.size", "1048576"}, {"compression.type", "lz4"}}
)

// tunedSettings lists them for the report.
func tunedSettings() string {
	var parts []string
	for _, kv := range tunedConnector {
		parts = append(parts, kv[0]+"="+kv[1])
	}
	for _, kv := range tunedProducer {
		parts = append(parts, "producer."+kv[0]+"="+kv[1])
	}
	return strings.Join(parts, " ")
}

// check asks Connect's REST API whether the task failed; until the API is
// up, only the process's liveness is checked.
func (d *debezium) check(ctx context.Context) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/connectors/%s/status", d.restPort, d.connectorName())
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil // not up yet, or between processes
	}
	defer resp.Body.Close()
	var st struct {
		Connector struct {
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"connector"`
		Tasks []struct {
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"tasks"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return nil
	}
	if st.Connector.State == "FAILED" {
		return fmt.Errorf("%s: connector failed: %s", d.name(), firstLine(st.Connector.Trace))
	}
	for _, t := range st.Tasks {
		if t.State == "FAILED" {
			return fmt.Errorf("%s: task failed: %s", d.name(), firstLines(t.Trace, 3))
		}
	}
	return nil
}

func (d *debezium) progress(ctx context.Context) (int64, error) {
	return d.ka.endOffsets(ctx, d.topic())
}

// connectLog4j keeps Connect's log readable: INFO, but not every request.
// Kafka 4.x logs through Log4j 2 (-Dlog4j2.configurationFile).
const connectLog4j = `status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser
logger.appinfo.level = WARN
logger.rest.name = org.apache.kafka.connect.runtime.rest
logger.rest.level = WARN
`

func firstLine(s string) string { return firstLines(s, 1) }

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
