package schema

import (
	"fmt"
	"strings"
)

// Type is a MySQL/MariaDB column type, independent of how the server
// transmitted it (binlog type code or information_schema name).
type Type uint8

// Column types. The zero value is TypeUnknown, which no table may contain
// once it has been validated (see Table.Validate).
const (
	TypeUnknown Type = iota
	TypeTinyInt
	TypeSmallInt
	TypeMediumInt
	TypeInt
	TypeBigInt
	TypeDecimal
	TypeFloat
	TypeDouble
	TypeBit
	TypeChar   // CHAR, VARCHAR
	TypeText   // TINYTEXT .. LONGTEXT
	TypeBinary // BINARY, VARBINARY
	TypeBlob   // TINYBLOB .. LONGBLOB
	TypeEnum
	TypeSet
	TypeJSON
	TypeDate
	TypeTime
	TypeDateTime
	TypeTimestamp
	TypeYear
	TypeGeometry // GEOMETRY, POINT, LINESTRING, POLYGON, MULTI*, GEOMETRYCOLLECTION
	TypeVector
)

var typeNames = [...]string{
	TypeUnknown: "unknown", TypeTinyInt: "tinyint", TypeSmallInt: "smallint",
	TypeMediumInt: "mediumint", TypeInt: "int", TypeBigInt: "bigint",
	TypeDecimal: "decimal", TypeFloat: "float", TypeDouble: "double", TypeBit: "bit",
	TypeChar: "char", TypeText: "text", TypeBinary: "binary", TypeBlob: "blob",
	TypeEnum: "enum", TypeSet: "set", TypeJSON: "json", TypeDate: "date",
	TypeTime: "time", TypeDateTime: "datetime", TypeTimestamp: "timestamp",
	TypeYear: "year", TypeGeometry: "geometry", TypeVector: "vector",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Column is one column of a table as Tidemark needs to know it to decode and
// encode its values.
type Column struct {
	Name      string
	Type      Type
	Unsigned  bool     // integer types
	Nullable  bool     // false for NOT NULL columns
	Length    int      // BIT width in bits; CHAR/BINARY length; 0 when unknown
	Precision int      // DECIMAL precision (1..65)
	Scale     int      // DECIMAL scale (0..30)
	FSP       int      // fractional-seconds precision of TIME/DATETIME/TIMESTAMP (0..6)
	Values    []string // ENUM and SET members, in definition order
	Charset   string   // character set of string columns, e.g. "utf8mb4"; "" for non-strings
	// Collation orders string keys (snapshot chunking); "" when unknown.
	Collation string
	// RawType is the server's type text (e.g. "decimal(65,30) unsigned") when
	// known, kept for error messages and the `source`-side schema history.
	RawType string

	// HasDefault says the column has a DEFAULT that Debezium carries into
	// the Avro schema as the field's default: a literal, or CURRENT_TIMESTAMP
	// (which Debezium renders as the epoch). Other expressions
	// (DEFAULT (1+1)) give no default, as with Debezium. Default is its
	// canonical value (value.go); nil with HasDefault is DEFAULT NULL.
	HasDefault bool
	Default    any
	// DebeziumDefault is set only where Debezium's default differs from
	// Default: a string or bytes literal with SQL escapes ('it''s',
	// 'a\0'), which Debezium keeps as SHOW CREATE TABLE prints them.
	DebeziumDefault any
	// DefaultText is information_schema's COLUMN_DEFAULT, for messages.
	DefaultText string
}

// Table is one physical table on one shard.
type Table struct {
	Database string
	Name     string
	Columns  []Column
	// PrimaryKey holds indexes into Columns, in key order. Empty for tables
	// without a primary key.
	PrimaryKey []int
	// DDL is the last DDL statement naming the table that the reader saw
	// before this shape (what gave the table this shape, for messages such
	// as a refused schema); "" for a shape read at start. Not part of the
	// shape.
	DDL string
}

// QualifiedName is `database.table`.
func (t *Table) QualifiedName() string { return t.Database + "." + t.Name }

// ColumnIndex returns the index of the named column (case-insensitive, as in
// MySQL) or -1.
func (t *Table) ColumnIndex(name string) int {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i
		}
	}
	return -1
}

// Validate reports the first structural problem of the table, naming table
// and column: a column Tidemark cannot map, an out-of-range key index, a
// duplicate column name.
func (t *Table) Validate() error {
	seen := make(map[string]bool, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Type == TypeUnknown {
			return &UnsupportedTypeError{Table: t.QualifiedName(), Column: c.Name, RawType: c.RawType}
		}
		k := strings.ToLower(c.Name)
		if seen[k] {
			return fmt.Errorf("table %s: duplicate column %q", t.QualifiedName(), c.Name)
		}
		seen[k] = true
	}
	for _, i := range t.PrimaryKey {
		if i < 0 || i >= len(t.Columns) {
			return fmt.Errorf("table %s: primary key column index %d out of range", t.QualifiedName(), i)
		}
	}
	return nil
}

// SameValue reports whether two canonical values (value.go) are equal.
func SameValue(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	case Geometry:
		y, ok := b.(Geometry)
		return ok && string(x.WKB) == string(y.WKB) && (x.SRID == nil) == (y.SRID == nil) && (x.SRID == nil || *x.SRID == *y.SRID)
	case []float32:
		y, ok := b.([]float32)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

// SameShape reports whether two versions of a table have identical columns
// and key, i.e. whether the Avro schemas derived from them are the same.
func (t *Table) SameShape(o *Table) bool {
	if t == o {
		return true
	}
	if o == nil || len(t.Columns) != len(o.Columns) || len(t.PrimaryKey) != len(o.PrimaryKey) {
		return false
	}
	for i := range t.PrimaryKey {
		if t.PrimaryKey[i] != o.PrimaryKey[i] {
			return false
		}
	}
	for i := range t.Columns {
		a, b := &t.Columns[i], &o.Columns[i]
		if a.Name != b.Name || a.Type != b.Type || a.Unsigned != b.Unsigned || a.Nullable != b.Nullable ||
			a.Length != b.Length || a.Precision != b.Precision || a.Scale != b.Scale || a.FSP != b.FSP ||
			strings.Join(a.Values, "\x00") != strings.Join(b.Values, "\x00") ||
			a.HasDefault != b.HasDefault || !SameValue(a.Default, b.Default) || !SameValue(a.DebeziumDefault, b.DebeziumDefault) {
			return false
		}
	}
	return true
}
