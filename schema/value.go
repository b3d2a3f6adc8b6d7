package schema

// Canonical values.
//
// A row value travels through Tidemark as one canonical Go value per column
// type, so that binlog/ and snapshot/ convert once and serde/ encodes without
// re-interpreting. nil is SQL NULL. Values are exact: no type goes through a
// float or a wider type it does not fit (BIGINT UNSIGNED stays uint64, DECIMAL
// stays decimal text), and the Avro encoding choice (e.g. BIGINT UNSIGNED as
// decimal or long) is serde's, not the reader's.
//
//	MySQL type                         Go value     Avro (docs/wire-format.md, "Types")
//	BIT(1)                             bool         boolean
//	BIT(n>1)                           []byte       bytes io.debezium.data.Bits, little-endian
//	TINYINT, TINYINT U, SMALLINT       int32        int (+connect.type int16)
//	SMALLINT U, MEDIUMINT(U), INT      int32        int
//	INT UNSIGNED, BIGINT               int64        long
//	BIGINT UNSIGNED                    uint64       bytes decimal(20,0) (default, exact), or
//	                                                long (mode "long": wraps above 2^63-1, as Debezium)
//	DECIMAL(p,s)                       string       bytes decimal(p,s); the value as MySQL prints it
//	                                                ("-12.340", exactly s fraction digits), exact
//	FLOAT / DOUBLE                     float32 / float64  float / double; FLOAT(M,D) double
//	CHAR/VARCHAR/TEXT (any charset)    string       string (always valid UTF-8)
//	BINARY/VARBINARY/BLOB              []byte       bytes
//	JSON (MySQL)                       string       string io.debezium.data.Json
//	JSON (MariaDB, a LONGTEXT)         string       string (TypeText)
//	ENUM / SET                         string       string io.debezium.data.Enum / EnumSet
//	YEAR                               int32        int io.debezium.time.Year
//	DATE                               int32        int io.debezium.time.Date (days since epoch)
//	TIME(fsp)                          int64        long io.debezium.time.MicroTime (µs, may be negative)
//	DATETIME(0..3)                     int64        long io.debezium.time.Timestamp (ms since epoch)
//	DATETIME(4..6)                     int64        long io.debezium.time.MicroTimestamp (µs)
//	TIMESTAMP(fsp)                     string       string io.debezium.time.ZonedTimestamp (ISO-8601 UTC)
//	GEOMETRY family                    Geometry     record io.debezium.data.geometry.Geometry
//
// Zero dates ('0000-00-00', '0000-00-00 00:00:00') follow Debezium: NULL for a
// nullable column, the column's DEFAULT for a NOT NULL column (the epoch
// when it has none). Dates in year 0 and YEAR 0000 keep their exact values;
// serde writes them as Debezium does on request (docs/wire-format.md,
// "Deviations").

// Geometry is the canonical value of a spatial column: OGC well-known binary
// and the SRID MySQL stores in front of it.
type Geometry struct {
	WKB  []byte
	SRID *int32
}
