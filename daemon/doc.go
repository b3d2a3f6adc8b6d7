// Package daemon is Tidemark's composition root. From one YAML configuration
// it builds a pipeline per shard (binlog reader → byte-bounded queue → serde
// encoder → router), supervises each on its own (a failing shard is retried
// with backoff or parked, never stalling the others), and serves the admin
// HTTP endpoints: /healthz, /readyz, /status and Prometheus /metrics.
//
// Shutdown order: stop reading, drain the queue, flush Kafka, commit the last
// position whose records are all acknowledged.
package daemon
