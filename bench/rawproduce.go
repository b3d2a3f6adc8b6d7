package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// rawProduce is the broker's ceiling for records of the bench's size:
// Kafka's own ProducerPerformance (kafka-tools, Kafka Connect's version: see versions)
// sending unkeyed records of random capital letters with the producer
// settings Tidemark uses by default (router/config.go): acks=all,
// idempotence, lz4, 5 ms linger, ~1 MB batches.
type rawProduce struct {
	Records      int64   `json:"records"`
	RecordBytes  int     `json:"record_bytes"`
	RecordsPS    float64 `json:"records_per_second"`
	MBPS         float64 `json:"mb_per_second"`
	AvgLatencyMS float64 `json:"avg_latency_ms"`
	P99LatencyMS float64 `json:"p99_latency_ms"`
	Summary      string  `json:"summary"`
	Load         Load    `json:"load"`
}

// ProducerPerformance's last line:
// "1000000 records sent, 151286.0 records/sec (86.57 MB/sec), 180.52 ms avg latency, 504.00 ms max latency, 175 ms 50th, 447 ms 95th, 490 ms 99th, 502 ms 99.9th."
var perfSummary = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 99th`)

func runRawProduce(ctx context.Context, java, libs, brokers, topic string, records int64, size int, logDir string) (*rawProduce, error) {
	logPath := filepath.Join(logDir, "producer-performance.log")
	p, err := startProcess("ProducerPerformance", logPath, nil,
		java, "-cp", filepath.Join(libs, "connect")+"/*", "org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.FormatInt(records, 10), "--record-size", strconv.Itoa(size),
		"--throughput", "-1",
		// kafka-tools 4.x: --bootstrap-server and --command-property replace
		// the deprecated --producer-props.
		"--bootstrap-server", brokers,
		"--command-property", "acks=all", "enable.idempotence=true",
		"compression.type=lz4", "linger.ms=5", "batch.size=1000012")
	if err != nil {
		return nil, err
	}
	if err := p.wait(ctx); err != nil {
		_ = p.stop(5 * time.Second)
		return nil, fmt.Errorf("ProducerPerformance: %w; see %s", err, logPath)
	}
	out, err := os.ReadFile(logPath)
	if err != nil {
		return nil, err
	}
	return parsePerf(string(out), size)
}

func parsePerf(out string, size int) (*rawProduce, error) {
	var last string
	for _, line := range strings.Split(out, "\n") {
		if perfSummary.MatchString(line) {
			last = line
		}
	}
	m := perfSummary.FindStringSubmatch(last)
	if m == nil {
		return nil, fmt.Errorf("ProducerPerformance printed no summary line")
	}
	r := &rawProduce{RecordBytes: size, Summary: strings.TrimSpace(last)}
	r.Records, _ = strconv.ParseInt(m[1], 10, 64)
	r.RecordsPS, _ = strconv.ParseFloat(m[2], 64)
	r.MBPS, _ = strconv.ParseFloat(m[3], 64)
	r.AvgLatencyMS, _ = strconv.ParseFloat(m[4], 64)
	r.P99LatencyMS, _ = strconv.ParseFloat(m[5], 64)
	return r, nil
}
