package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// collectVersions records what was measured and with which settings, for
// the report's conditions. Nothing here fails the run: an unknown version
// is reported as missing.
func collectVersions(ctx context.Context, b *bench, f flags, res *results) {
	v, s := res.Versions, res.Settings
	v["mariadb"] = b.db.version(ctx)
	v["go"] = runtime.Version()
	cache := os.Getenv("TIDEMARK_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "tidemark")
	}
	v["kafka_broker"] = jarVersion(filepath.Join(cache, "libs", "kafka"), "kafka_2.13-")
	if f.debeziumLibs != "" {
		v["kafka_connect"] = jarVersion(filepath.Join(f.debeziumLibs, "connect"), "connect-runtime-")
		v["debezium_connector_mysql"] = jarVersion(filepath.Join(f.debeziumLibs, "plugins", "debezium-connector-mysql"), "debezium-connector-mysql-")
		v["apicurio_converter"] = jarVersion(filepath.Join(f.debeziumLibs, "plugins", "apicurio-converter"), "apicurio-registry-utils-converter-")
		v["java"], s["jvm_default_max_heap"] = javaInfo(ctx, f.java)
	}
	v["apicurio_registry"] = registryVersion(ctx, b.env.RegistryURL)
	if out, err := exec.CommandContext(ctx, f.tidemarkBin, "version").CombinedOutput(); err == nil {
		v["tidemark"] = strings.TrimSpace(string(out))
	}
	for k, val := range b.db.variables(ctx, "binlog_format", "binlog_row_image", "binlog_row_metadata",
		"binlog_annotate_row_events", "sync_binlog", "innodb_flush_log_at_trx_commit", "innodb_buffer_pool_size") {
		s["mariadb."+k] = val
	}
	s["topics"] = "6 partitions, replication 1, cleanup.policy=compact, message.timestamp.type=LogAppendTime (pre-created by the bench)"
	s["debezium"] = "MySqlConnector on Connect standalone; defaults except snapshot.mode=no_data, include.schema.changes=false, " +
		"schema history of the bench table only (skip.unparseable.ddl=true), offset.flush.interval.ms=1000, " +
		"database.jdbc.driver=bench/debezium/mariadb-compat (SHOW BINARY LOG STATUS answered by SHOW MASTER STATUS); " +
		"user with SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT"
	s["debezium_avro"] = "Apicurio AvroConverter (key and value) to the registry's v2 API: headers.enabled=false, Legacy4ByteIdHandler, use-id=contentId (Confluent framing)"
	s["debezium_json"] = "JsonConverter, schemas.enable=false (key and value)"
	s["debezium_avro_tuned"] = "as debezium_avro, plus what Debezium's users set for throughput: " + tunedSettings()
	s["tidemark"] = "bin/tidemark run -c (bench/out/state/tidemark/*.yaml): defaults; user tidemark (REPLICATION SLAVE, REPLICATION CLIENT, SELECT)"
	s["raw_produce"] = "kafka-tools ProducerPerformance, unkeyed, --throughput -1, Tidemark's producer defaults: acks=all enable.idempotence=true compression.type=lz4 linger.ms=5 batch.size=1000012"
	s["producers"] = "each side's defaults: Tidemark lz4, 5 ms linger, idempotent acks=all; Connect 4.3's source producer: acks=all, linger.ms=5, batch.size=16384, no compression (debezium-avro-tuned: see debezium_avro_tuned)"
	s["workload"] = "20-column table (~500 bytes/row); live: half the transactions single-row (autocommit), half of 5-20 rows; 60% inserts, 30% updates, 10% deletes"
}

var versionRe = regexp.MustCompile(`^(.+?)\.jar$`)

// jarVersion finds <dir>/<prefix><version>.jar.
func jarVersion(dir, prefix string) string {
	m, _ := filepath.Glob(filepath.Join(dir, prefix+"*.jar"))
	for _, p := range m {
		name := strings.TrimPrefix(filepath.Base(p), prefix)
		if sm := versionRe.FindStringSubmatch(name); sm != nil && name[0] >= '0' && name[0] <= '9' {
			return sm[1]
		}
	}
	return "unknown"
}

// javaInfo returns the JVM's version line and its default maximum heap:
// the Connect worker runs with the JVM's own default (a quarter of RAM).
func javaInfo(ctx context.Context, java string) (version, maxHeap string) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, java, "-XX:+PrintFlagsFinal", "-version").CombinedOutput()
	if err != nil {
		return "unknown", "unknown"
	}
	version, maxHeap = "unknown", "unknown"
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == "MaxHeapSize" {
			if n, err := strconv.ParseInt(f[3], 10, 64); err == nil {
				maxHeap = strconv.FormatInt(n/mib, 10) + " MiB"
			}
		}
		if strings.Contains(line, "version \"") {
			version = strings.TrimSpace(line)
		}
	}
	return version, maxHeap
}

func registryVersion(ctx context.Context, ccompat string) string {
	base := ccompat
	if i := strings.Index(base, "/apis/"); i >= 0 {
		base = base[:i]
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, base+"/apis/registry/v3/system/info", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "unknown"
	}
	defer resp.Body.Close()
	var info struct {
		Version string `json:"version"`
	}
	if json.NewDecoder(resp.Body).Decode(&info) != nil || info.Version == "" {
		return "unknown"
	}
	return info.Version
}
