package mysql

import (
	"fmt"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// What the reader knows about MySQL/MariaDB column types beyond go-mysql:
// the packing of string metadata, the information_schema DATA_TYPEs it can
// decode, which of them a binlog type may stand for, and how
// information_schema quotes ENUM/SET members.

// stringMeta decodes the metadata of a MYSQL_TYPE_STRING column: the real
// type (CHAR/BINARY, ENUM or SET) and the length in bytes, packed the way
// MySQL's Field_string::do_save_field_metadata does (lengths above 255 keep
// two extra bits in the type byte).
func stringMeta(meta uint16) (realType byte, length int) {
	if meta < 256 {
		return gomysql.MYSQL_TYPE_STRING, int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta)
	if b0&0x30 != 0x30 {
		return b0 | 0x30, int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return b0, int(b1)
}

var geometryNames = [...]string{"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection"}

var geometrySubtypes = map[string]uint64{
	"geometry": 0, "point": 1, "linestring": 2, "polygon": 3, "multipoint": 4,
	"multilinestring": 5, "multipolygon": 6, "geometrycollection": 7, "geomcollection": 7,
}

// knownDataTypes are the information_schema DATA_TYPEs Tidemark can decode
// exactly. A type outside it (a new data-type plugin that looks like BINARY
// in the binlog) is an UnsupportedTypeError rather than a wrong value.
var knownDataTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(`tinyint smallint mediumint int integer bigint decimal numeric
		float double real bit year date time datetime timestamp char varchar binary varbinary
		tinytext text mediumtext longtext tinyblob blob mediumblob longblob enum set json
		uuid inet4 inet6 bool boolean`) {
		m[t] = true
	}
	for t := range geometrySubtypes {
		m[t] = true
	}
	return m
}()

// compatible reports whether information_schema's DATA_TYPE can describe a
// column of the given binlog (real) type; a mismatch means the table changed
// after the event was written.
func compatible(realType byte, dataType string) bool {
	switch realType {
	case gomysql.MYSQL_TYPE_TINY:
		return dataType == "tinyint" || dataType == "bool" || dataType == "boolean"
	case gomysql.MYSQL_TYPE_SHORT:
		return dataType == "smallint"
	case gomysql.MYSQL_TYPE_INT24:
		return dataType == "mediumint"
	case gomysql.MYSQL_TYPE_LONG:
		return dataType == "int" || dataType == "integer"
	case gomysql.MYSQL_TYPE_LONGLONG:
		return dataType == "bigint"
	case gomysql.MYSQL_TYPE_NEWDECIMAL, gomysql.MYSQL_TYPE_DECIMAL:
		return dataType == "decimal" || dataType == "numeric"
	case gomysql.MYSQL_TYPE_FLOAT:
		return dataType == "float"
	case gomysql.MYSQL_TYPE_DOUBLE:
		return dataType == "double" || dataType == "real" || dataType == "double precision"
	case gomysql.MYSQL_TYPE_BIT:
		return dataType == "bit"
	case gomysql.MYSQL_TYPE_YEAR:
		return dataType == "year"
	case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
		return dataType == "date"
	case gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2:
		return dataType == "time"
	case gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2:
		return dataType == "datetime"
	case gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2:
		return dataType == "timestamp"
	case gomysql.MYSQL_TYPE_ENUM:
		return dataType == "enum"
	case gomysql.MYSQL_TYPE_SET:
		return dataType == "set"
	case gomysql.MYSQL_TYPE_STRING:
		return dataType == "char" || dataType == "binary" || !knownDataTypes[dataType] ||
			dataType == "uuid" || dataType == "inet4" || dataType == "inet6"
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
		return dataType == "varchar" || dataType == "varbinary" || !knownDataTypes[dataType]
	case gomysql.MYSQL_TYPE_BLOB:
		return strings.HasSuffix(dataType, "text") || strings.HasSuffix(dataType, "blob") ||
			dataType == "json" || !knownDataTypes[dataType]
	case gomysql.MYSQL_TYPE_JSON:
		return dataType == "json"
	case gomysql.MYSQL_TYPE_GEOMETRY:
		_, ok := geometrySubtypes[dataType]
		return ok
	}
	return !knownDataTypes[dataType]
}

// charsetMaxLen is the bytes per character of the common charsets, for the
// rare column whose collation id the server did not list.
func charsetMaxLen(cs string) int {
	switch cs {
	case "utf8mb4", "utf16", "utf16le", "utf32":
		return 4
	case "utf8mb3", "utf8", "ujis", "eucjpms":
		return 3
	case "ucs2", "big5", "gbk", "gb2312", "sjis", "cp932", "euckr":
		return 2
	case "gb18030":
		return 4
	}
	return 1
}

// parseEnumMembers parses the members of information_schema's COLUMN_TYPE
// "enum('a','it”s','b\\c')" / "set(...)", undoing MySQL's quoting.
func parseEnumMembers(columnType string) ([]string, error) {
	open := strings.IndexByte(columnType, '(')
	if open < 0 || !strings.HasSuffix(columnType, ")") {
		return nil, fmt.Errorf("cannot parse members of %q", columnType)
	}
	s := columnType[open+1 : len(columnType)-1]
	var out []string
	for len(s) > 0 {
		if s[0] != '\'' {
			return nil, fmt.Errorf("cannot parse members of %q", columnType)
		}
		var b strings.Builder
		i := 1
		for {
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated member in %q", columnType)
			}
			c := s[i]
			if c == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				i++
				break
			}
			if c == '\\' && i+1 < len(s) {
				i++
				WriteUnescaped(&b, s[i])
				i++
				continue
			}
			b.WriteByte(c)
			i++
		}
		out = append(out, b.String())
		s = s[i:]
		if len(s) > 0 {
			if s[0] != ',' {
				return nil, fmt.Errorf("cannot parse members of %q", columnType)
			}
			s = s[1:]
		}
	}
	return out, nil
}
