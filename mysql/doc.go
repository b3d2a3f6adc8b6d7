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
// (information_schema tables, keys and collations), tablebuild.go +
// columntypes.go (a table's schema.Table and Converters from a table-map
// event and the catalog: BuildTable), catalogtable.go (the same from the
// catalog alone, for snapshots: TableFromCatalog), rows.go (row queries:
// SelectColumns, QueryRows, ConvertSQL), charset.go (MySQL character sets to
// UTF-8), values.go + temporal.go + plugintypes.go (Converter: one compiled
// converter per column), defaults.go (column DEFAULTs), keyparam.go (key
// values as query parameters), watermark.go + status.go (GTID positions and
// replica lag for snapshot watermarks and pacing), gtid.go (MariaDB and
// MySQL GTID sets, GTIDState), errors.go (sentinels and server error codes).
package mysql
