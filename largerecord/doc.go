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
// (the transaction's GTID), the message's place in it and a keyed hash of
// those fields. A retried write, or a replay after kill -9 between the
// object write and the Kafka ack, computes the same name: Put finds the
// object (GCS: a DoesNotExist precondition, then a size and CRC32C
// comparison), and serde points the replayed record at it (the replay's
// bytes differ only in the envelope's processing time). Snapshot rows,
// which a re-read may find changed, also hash their bytes into the name.
//
// # Keys and the threat model
//
// Every object is AES-256-GCM encrypted here, on top of the store's own
// encryption at rest. The key is HMAC-SHA256(secret, context, name): one
// per object, deterministic, so a replay can open what the first attempt
// stored. The nonce is derived from the key and the plaintext and stored
// in the object: equal plaintexts seal to equal bytes, different ones never
// share a nonce. The key travels only in the Kafka record's headers; the
// secret (large_records.secret_env, required with a store) is needed to
// write, never to read.
//
//   - Someone with the bucket alone (a leaked credential, a misconfigured
//     ACL, a backup) holds ciphertext and names, but no keys: without the
//     secret a name does not give its key. Nothing to read.
//   - Someone who may read the Kafka topic (Kafka ACLs) gets the key with the
//     record, and so the row: access to the data is decided by Kafka, as for
//     every record that was small enough.
//   - Deleting the Kafka record (compaction, retention, topic deletion)
//     deletes the copy of the key consumers have: the object is unreadable
//     to them from then on, even before GC removes it, provided no copy of
//     the record survives elsewhere (a consumer's store, a mirror, a backup
//     of the topic).
//   - The secret's holder (the writers) can derive every key: keep it as
//     secret as the data, out of the consumers' reach; it is never logged.
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
// A replay whose object exists (Put found it) refreshes the object's
// written time, and Delete removes only the state List described: a GC that
// listed an old object just before its replay reused it keeps the object
// (the delete fails ErrChanged), and the next GC counts its grace from the
// replay.
package largerecord
