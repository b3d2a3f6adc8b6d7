// Package mysql is the source server as the two stages that read it (binlog/
// and snapshot/) share it: the plain SQL connection, the information_schema
// catalog, collations and character sets, the conversion of decoded values
// to schema's canonical values, GTID sets and positions, and what the
// server's error codes mean. A row read by SELECT and the same row read from
// the binlog must become identical values here.
//
// It wraps go-mysql's client and protocol packages (imported as gomysql);
// the replication stream itself belongs to binlog/. It knows nothing of
// Kafka, Avro or topics.
//
// Files: conn.go (Conn: lazy, reconnecting, bounded queries), catalog.go
// (information_schema tables and collations), charset.go (MySQL character
// sets to UTF-8), values.go + temporal.go + plugintypes.go (Converter: one
// compiled converter per column), gtid.go (MariaDB and MySQL GTID sets,
// GTIDState), errors.go (sentinels and server error codes).
package mysql
