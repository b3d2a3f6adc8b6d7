// Package daemon is Tidemark's composition root. From one YAML configuration
// it builds a pipeline per shard (binlog reader → byte-bounded queue → serde
// encoder → router), supervises each on its own (a failing shard is retried
// with backoff or parked, never stalling the others), and serves the admin
// HTTP endpoints: /healthz, /readyz, /status and Prometheus /metrics. A
// shard with several hosts (a primary and its replicas) streams from one at
// a time and moves to the next when it fails (failover.go).
//
// Shutdown order: stop reading, drain the queue, flush Kafka, commit the last
// position whose records are all acknowledged.
package daemon
