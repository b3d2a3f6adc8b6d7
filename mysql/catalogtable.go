package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/schema"
)

// A table as the catalog shows it NOW, built exactly the way the reader
// builds it from a table-map event: for the incremental snapshot, whose rows
// must carry the same schema (the same Avro schema, the same registry
// version) and the same canonical values as the binlog's rows of the table.
// TableFromCatalog describes each column the way a table-map event without
// full metadata does (binlog type, type metadata, nullability) and runs the
// reader's own builder on it with information_schema's view: the path a
// reader takes on a server with binlog_row_metadata=MINIMAL, which the
// builder's tests prove equal to the full-metadata path.

// ErrNoSuchTable is a table the catalog does not list (any more).
var ErrNoSuchTable = errors.New("no such table")

// LoadTableSchema reads db.table from information_schema on q and builds
// its schema and converters as the reader would (TableFromCatalog);
// ErrNoSuchTable when it does not exist.
func LoadTableSchema(ctx context.Context, q *Conn, env *TableEnv, db, table string) (*schema.Table, []Converter, error) {
	is, err := LoadTable(ctx, q, env.Flavor, db, table)
	if err != nil {
		return nil, nil, err
	}
	if is == nil {
		return nil, nil, fmt.Errorf("table %s.%s: %w", db, table, ErrNoSuchTable)
	}
	return TableFromCatalog(env, db, table, is)
}

// TableFromCatalog builds db.table from information_schema's view of it.
func TableFromCatalog(env *TableEnv, db, table string, is *CatalogTable) (*schema.Table, []Converter, error) {
	n := len(is.Columns)
	tm := &replication.TableMapEvent{
		Schema: []byte(db), Table: []byte(table), ColumnCount: uint64(n),
		ColumnType: make([]byte, n), ColumnMeta: make([]uint16, n), NullBitmap: make([]byte, (n+7)/8),
	}
	for i := range is.Columns {
		c := &is.Columns[i]
		tp, meta, err := tableMapType(c)
		if err != nil {
			return nil, nil, withShard(&schema.UnsupportedTypeError{Table: db + "." + table, Column: c.Name, RawType: c.ColumnType + " (" + err.Error() + ")"}, env.Shard)
		}
		tm.ColumnType[i], tm.ColumnMeta[i] = tp, meta
		if c.Nullable {
			tm.NullBitmap[i/8] |= 1 << (i % 8)
		}
	}
	return BuildTable(env, tm, is)
}

// tableMapType is the binlog type and type metadata a table-map event
// carries for a column of this catalog type (MySQL's
// Field_*::do_save_field_metadata; the new temporal formats).
func tableMapType(c *CatalogColumn) (byte, uint16, error) {
	switch dt := c.DataType; dt {
	case "tinyint", "bool", "boolean":
		return gomysql.MYSQL_TYPE_TINY, 0, nil
	case "smallint":
		return gomysql.MYSQL_TYPE_SHORT, 0, nil
	case "mediumint":
		return gomysql.MYSQL_TYPE_INT24, 0, nil
	case "int", "integer":
		return gomysql.MYSQL_TYPE_LONG, 0, nil
	case "bigint":
		return gomysql.MYSQL_TYPE_LONGLONG, 0, nil
	case "decimal", "numeric":
		return gomysql.MYSQL_TYPE_NEWDECIMAL, uint16(c.Precision)<<8 | uint16(c.Scale), nil
	case "float":
		return gomysql.MYSQL_TYPE_FLOAT, 4, nil
	case "double", "real", "double precision":
		return gomysql.MYSQL_TYPE_DOUBLE, 8, nil
	case "bit":
		return gomysql.MYSQL_TYPE_BIT, uint16(c.Precision/8)<<8 | uint16(c.Precision%8), nil
	case "year":
		return gomysql.MYSQL_TYPE_YEAR, 0, nil
	case "date":
		return gomysql.MYSQL_TYPE_DATE, 0, nil
	case "time":
		return gomysql.MYSQL_TYPE_TIME2, uint16(c.FSP), nil
	case "datetime":
		return gomysql.MYSQL_TYPE_DATETIME2, uint16(c.FSP), nil
	case "timestamp":
		return gomysql.MYSQL_TYPE_TIMESTAMP2, uint16(c.FSP), nil
	case "enum", "set":
		members, err := parseEnumMembers(c.ColumnType)
		if err != nil {
			return 0, 0, err
		}
		// The pack length (index or bitmap bytes) does not change decoding;
		// the member count sets it as the server would.
		real, pack := byte(gomysql.MYSQL_TYPE_ENUM), 1+len(members)/256
		if dt == "set" {
			real, pack = gomysql.MYSQL_TYPE_SET, setPackLength(len(members))
		}
		return gomysql.MYSQL_TYPE_STRING, uint16(real)<<8 | uint16(pack), nil
	case "char", "binary":
		return gomysql.MYSQL_TYPE_STRING, stringTypeMeta(gomysql.MYSQL_TYPE_STRING, int(c.OctetLength)), nil
	case "uuid", "inet6":
		return gomysql.MYSQL_TYPE_STRING, stringTypeMeta(gomysql.MYSQL_TYPE_STRING, 16), nil
	case "inet4":
		return gomysql.MYSQL_TYPE_STRING, stringTypeMeta(gomysql.MYSQL_TYPE_STRING, 4), nil
	case "varchar", "varbinary":
		return gomysql.MYSQL_TYPE_VARCHAR, uint16(c.OctetLength), nil
	case "tinytext", "tinyblob":
		return gomysql.MYSQL_TYPE_BLOB, 1, nil
	case "text", "blob":
		return gomysql.MYSQL_TYPE_BLOB, 2, nil
	case "mediumtext", "mediumblob":
		return gomysql.MYSQL_TYPE_BLOB, 3, nil
	case "longtext", "longblob":
		return gomysql.MYSQL_TYPE_BLOB, 4, nil
	case "json":
		return gomysql.MYSQL_TYPE_JSON, 4, nil
	}
	if _, ok := geometrySubtypes[c.DataType]; ok {
		return gomysql.MYSQL_TYPE_GEOMETRY, 4, nil
	}
	return 0, 0, errors.New("no binlog type known for " + strings.ToUpper(c.DataType))
}

// stringTypeMeta packs the metadata of a MYSQL_TYPE_STRING column as the
// server does (the inverse of stringMeta): lengths above 255 keep their two
// high bits, inverted, in bits 4-5 of the type byte.
func stringTypeMeta(realType byte, length int) uint16 {
	hi := byte(length>>8) & 0x3
	b0 := realType&^0x30 | (hi << 4) ^ 0x30
	return uint16(b0)<<8 | uint16(byte(length))
}

// setPackLength is the bytes of a SET bitmap of n members: 1, 2, 3, 4 or 8.
func setPackLength(n int) int {
	if b := (n + 7) / 8; b <= 4 {
		return max(b, 1)
	}
	return 8
}
