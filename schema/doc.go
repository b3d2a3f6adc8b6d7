// Package schema is the table model every other Tidemark package speaks: a
// table's columns with their MySQL/MariaDB types, its primary key, and the
// mapping of each column type to Avro (Debezium's defaults, docs/wire-format.md),
// including the canonical Go value each column decodes to.
//
// It is pure: it imports nothing of Tidemark's and does no I/O. Reading
// schemas from a server (table-map metadata, information_schema) belongs to
// binlog/ and snapshot/; registering them in a Schema Registry belongs to serde/.
package schema
