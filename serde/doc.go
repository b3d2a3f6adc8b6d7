// Package serde is Tidemark's wire format, and the library consumers import:
// change.Events become Confluent-framed Avro keys and Debezium-style envelope
// values (magic byte 0, 4-byte schema id, Avro body), with schemas derived
// from the table (schema.AvroSchemasFor) and registered in a
// Confluent-compatible Schema Registry under <topic>-key and <topic>-value.
// It decides which Kafka messages an event becomes (a delete and its
// tombstone, a key change as delete + tombstone + create), and the Decoder
// turns those messages back into records. It owns Avro and the registry
// client.
//
// The Encoder is the hot path. Per table shape it compiles a plan (one op
// per column) and writes Avro binary straight into a pooled buffer; the
// messages of one event share a single allocation. Correctness is checked
// by decoding its output with independent decoders (hamba/avro in unit
// tests, fastavro in integration tests).
//
// Files: encoder.go (Encoder, messages per op, source block), plan.go
// (per-column ops), quirks.go (Debezium's values, on request),
// connectstring.go (the key-change headers in Kafka Connect's string form),
// decimal.go (exact decimals), avrobin.go (primitives), framing.go,
// registry.go (REST client), decoder.go + readplan.go (Decoder), json.go
// (Record.JSON), errors.go (sentinels, IncompatibleSchemaError, the retry
// classifier).
//
// Non-goals: transaction metadata (envelope `transaction` is always null,
// as with Debezium's default provide.transaction.metadata=false), schema
// change and heartbeat topics, unwrap (ExtractNewRecordState) output,
// registry compatibility settings (the registry's own rules apply).
//
// The wire format, and where it deliberately differs from Debezium
// (Options' Debezium* switches), is docs/wire-format.md;
// integration/debezium_diff_test.go proves it against a real Debezium.
package serde
