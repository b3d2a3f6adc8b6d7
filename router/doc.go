// Package router delivers one shard's encoded records to Kafka: one topic per
// logical table (created compacted when missing), Kafka-compatible murmur2
// partitioning by key bytes, an idempotent acks=all producer that keeps
// per-partition order, and the shard's position, stored in a compacted
// positions topic only once every record before it has been acknowledged. It
// owns the Kafka client (franz-go); it does not know about Avro or MySQL.
//
// # Use
//
// The daemon builds, per shard, a TopicNamer (table → topic) and a Writer:
//
//	w, err := router.NewWriter(cfg, shard, log, metrics) // validates; no I/O
//	defer w.Close()
//	go w.Run(ctx)                    // connects, commits positions, drains at the end
//	pos, found, err := w.LoadPosition(ctx) // where to resume
//	...
//	err = w.Write(ctx, recs, pos)    // per batch of events, in order
//
// # Delivery contract
//
//   - Per-partition order equals Write order: idempotent producer, acks=all,
//     retries within DeliveryTimeout that never reorder, a record never moves
//     to another partition.
//   - A position is stored only after every record written before it is
//     acknowledged (tracker.go); periodically (CommitInterval) and once more
//     on shutdown, not per record.
//   - The first record the client gives up on stops the Writer with a
//     *ProduceError naming topic, partition and cause; no later position is
//     stored, so a restart replays from the last stored position. Without a
//     TransactionalID delivery is at least once: a restart may write again
//     records that were acknowledged after the last stored position.
//   - With Config.TransactionalID delivery is exactly once (txn.go): records
//     and positions go in Kafka transactions that end only at MySQL
//     transaction boundaries (Write, not WritePartial); read_committed
//     consumers never see an aborted one's records; a newer writer of the
//     shard fences this one (ErrFenced).
//   - Memory is bounded in bytes (MaxInFlightBytes), not in records.
//
// # Shutdown
//
// The daemon stops reading, writes what it has, then cancels Run's context.
// Run then drains: flushes the client (bounded by DrainTimeout), commits the
// last position whose records are all acknowledged, and returns. Close comes
// last and releases the client.
//
// # Files
//
// namer.go (topic names), partition.go (murmur2, partitioner), config.go,
// errors.go (sentinels and typed errors), txn.go (exactly once), writer.go (Write, Run,
// acknowledgements), tracker.go (which position is committable), budget.go
// (the byte bound), positions.go (commit, LoadPosition), topics.go
// (EnsureTopic), client.go (franz-go options), metrics.go.
//
// Non-goals: encoding (serde), choosing what to write (daemon), consuming
// data topics.
package router
