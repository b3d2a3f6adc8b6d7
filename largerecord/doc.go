// Package largerecord is the claim-check's storage side for records above
// Kafka's size limit (docs/claim-check.md has the wire format): zstd
// compression (Compress, Decompress with a size bound), client-side
// encryption (Seal, Unseal), deterministic object names (ObjectName), a
// blob Store (Google Cloud Storage, or a local directory for development)
// and garbage collection (RefSet, Sweep). It knows nothing of Kafka or Avro:
// serde decides when a record is claim-checked and writes the pointer.
//
// # Names: retries never make a second object
//
// An object is named <topic>/<shard>/<event>/<row>-<hash> from the event
// (the transaction's GTID, or a snapshot row's id), the value's place in it
// and a (keyed) hash of the stored bytes. A retried write, or a replay after
// kill -9 between the object write and the Kafka ack, computes the same name
// and the same bytes: Put finds the object and succeeds without writing
// (GCS: a DoesNotExist precondition, then a size and CRC32C comparison).
//
// # Keys and the threat model
//
// Every object is AES-256-GCM encrypted here, on top of the store's own
// encryption at rest. The key is HMAC-SHA256(secret, context, name,
// SHA-256(plaintext)): deterministic (retries stay idempotent) and unique
// per name and plaintext, so the fixed nonce never encrypts two messages
// under one key. The key travels only in the Kafka record's headers; the
// secret (large_records.secret_env) is needed to write, never to read.
//
//   - Someone with the bucket alone (a leaked credential, a misconfigured
//     ACL, a backup) holds ciphertext without keys: nothing to read. Without
//     the secret they cannot even confirm a guessed row by deriving its key
//     (keyed convergent encryption; with an empty secret they can, which the
//     daemon warns about).
//   - Someone who may read the Kafka topic (Kafka ACLs) gets the key with the
//     record, and so the row: access to the data is decided by Kafka, as for
//     every record that was small enough.
//   - Deleting the Kafka record (compaction, retention, topic deletion)
//     deletes the only copy of the key: the object is unreadable from then
//     on, even before GC removes it, provided no copy of the record survives
//     elsewhere (a consumer's store, a mirror, a backup of the topic).
//   - The secret's holder can recompute keys of plaintexts they know; the
//     secret is for writers only and is never logged.
//   - Equal values of the same row (same name) produce equal objects: that
//     equality is visible to the bucket's reader. Values of different rows
//     get unrelated names and keys.
//   - Not protected: the object's size and creation time, and the topic,
//     shard and event in its name (metadata the bucket's reader sees).
//
// # Garbage collection
//
// GC reads a topic once, adding every object a record still references to
// a RefSet, then Sweeps the topic's objects: an unreferenced object older
// than the grace period is deleted. The RefSet is a Bloom filter: memory is
// fixed by the expected count whatever the topic's size, and its only error
// is a false positive, which keeps an orphan for another round, never
// deletes a referenced object. The grace period covers objects whose
// record is not yet in Kafka (written to the store, not yet acknowledged).
package largerecord
