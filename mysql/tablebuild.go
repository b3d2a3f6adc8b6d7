package mysql

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// This file builds a table's schema.Table and its value converters from a
// table-map event.
//
// The table-map event always carries each column's binlog type, its type
// metadata (DECIMAL precision/scale, fractional-seconds precision, string
// and BIT lengths) and its nullability. With binlog_row_metadata=FULL
// (MySQL 8.0.1+, MariaDB 10.5+) it also carries names, the primary key,
// signedness, collations, ENUM/SET members and geometry subtypes: the table
// as it was when the event was written, which is exactly what decoding
// needs.
//
// information_schema.COLUMNS is read once per new table shape in both
// cases. With full metadata it only enriches: Column.RawType, and the types
// the binlog cannot tell apart (MariaDB's UUID, INET4 and INET6 look like
// BINARY(16)/BINARY(4)/BINARY(16), MariaDB's JSON like LONGTEXT). Without
// full metadata it is the only source of names, primary key, signedness,
// charsets and ENUM/SET members: the fallback.
//
// With full metadata, a reader behind a DDL (every restart, every catch-up)
// matches information_schema's columns to the event's by name, so the
// columns the table still has keep their enrichment; only the types the
// binlog cannot tell (UUID/INET6/INET4 against BINARY(16)/BINARY(4)) are
// then a guess, which UncertainColumns reports (a "schema_uncertain"
// warning: WARN, metric, /status).
//
// The fallback is racy. information_schema shows the table as it is NOW, not
// as it was when the event was written: a reader behind a DDL (catching up,
// or after a restart) decodes the rows written before the DDL with the
// shape after it. The reader narrows the race but cannot close it:
//   - the cached information_schema view of a table is dropped whenever a
//     DDL statement naming it passes in the binlog, so the reader re-reads
//     it at the first row after the DDL (never earlier);
//   - it checks every column's binlog type against information_schema's
//     DATA_TYPE and the column count, and stops with a terminal error on a
//     mismatch rather than decode a value with the wrong type;
//   - what it cannot detect is a change the binlog types do not show: a
//     renamed column, reordered ENUM/SET members, a changed signedness of an
//     integer, a changed primary key. Rows read across such a DDL get the
//     new names/members/key.
//
// The mitigations are operational: run with binlog_row_metadata=FULL
// (Check warns otherwise), and do not let a connector lag behind DDL.

// TableEnv is what building a table needs besides the table map.
type TableEnv struct {
	Shard        string
	Flavor       change.Flavor
	Collations   map[uint64]Collation // Load reads them (and the version)
	Major, Minor int                  // server version, for the UUID byte-order check
}

// Load reads, once, what building any table needs from the server: its
// collations and version.
func (e *TableEnv) Load(ctx context.Context, q *Conn) error {
	if e.Collations != nil {
		return nil
	}
	rows, err := q.Query(ctx, "SELECT VERSION()")
	if err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	if len(rows) == 1 && len(rows[0]) == 1 {
		e.Major, e.Minor = ServerVersion(rows[0][0].S)
	}
	colls, err := LoadCollations(ctx, q)
	if err != nil {
		return err
	}
	e.Collations = colls
	return nil
}

// BuildTable builds the schema and converters of db.name from its table-map
// event tm and, when not nil, information_schema's view of it.
func BuildTable(env *TableEnv, tm *replication.TableMapEvent, is *CatalogTable) (*schema.Table, []Converter, error) {
	db, name := string(tm.Schema), string(tm.Table)
	qualified := db + "." + name
	n := int(tm.ColumnCount)
	full := len(tm.ColumnName) == n
	if !full {
		switch {
		case is == nil:
			return nil, nil, schemaUnknown(fmt.Errorf("table %s: the binlog has no column names (binlog_row_metadata is not FULL) and information_schema has no such table; set binlog_row_metadata=FULL", qualified))
		case len(is.Columns) != n:
			return nil, nil, schemaUnknown(fmt.Errorf("table %s: the binlog event has %d columns but information_schema has %d: the table changed after this event was written, and without binlog_row_metadata=FULL its old shape is unknown; set binlog_row_metadata=FULL", qualified, n, len(is.Columns)))
		}
	}
	// With full metadata the binlog names the columns: information_schema
	// enriches each by name, so a table that changed since (a column added,
	// dropped or renamed after this event was written) keeps the enrichment
	// of the columns it still has (UncertainColumns says when that is a guess).
	var byName map[string]*CatalogColumn
	if full && is != nil {
		byName = make(map[string]*CatalogColumn, len(is.Columns))
		for i := range is.Columns {
			byName[strings.ToLower(is.Columns[i].Name)] = &is.Columns[i]
		}
	}

	unsigned := tm.UnsignedMap()
	collations := tm.CollationMap()
	esCollations := tm.EnumSetCollationMap()
	enums, sets := tm.EnumStrValueMap(), tm.SetStrValueMap()
	geoTypes := tm.GeometryTypeMap()

	t := &schema.Table{Database: db, Name: name, Columns: make([]schema.Column, n)}
	convs := make([]Converter, n)
	for i := range n {
		var colName string
		if full {
			colName = string(tm.ColumnName[i])
		} else {
			colName = is.Columns[i].Name
		}
		var isc *CatalogColumn
		switch {
		case byName != nil:
			isc = byName[strings.ToLower(colName)] // nil: dropped or renamed since
		case is != nil:
			isc = &is.Columns[i] // minimal metadata: same count, checked above
		}
		_, nullable := tm.Nullable(i)
		col := &t.Columns[i]
		col.Name, col.Nullable = colName, nullable
		cv := &convs[i]
		cv.Name, cv.Nullable = colName, nullable

		b := columnBuild{env: env, table: qualified, tm: tm, i: i, col: col, cv: cv, isc: isc, full: full}
		if u, ok := unsigned[i]; ok {
			b.unsigned, b.haveSign = u, true
		}
		if id, ok := collations[i]; ok {
			b.collationID, b.haveCollation = id, true
		}
		if id, ok := esCollations[i]; ok {
			b.collationID, b.haveCollation = id, true
		}
		b.members = enums[i]
		if m, ok := sets[i]; ok {
			b.members = m
		}
		if g, ok := geoTypes[i]; ok {
			b.geoType, b.haveGeo = g, true
		}
		if err := b.build(); err != nil {
			return nil, nil, err
		}
		if err := b.applyDefault(); err != nil {
			return nil, nil, err
		}
	}

	if full && (len(tm.PrimaryKey) > 0 || is == nil || len(is.PrimaryKey) == 0) {
		for _, k := range tm.PrimaryKey {
			if int(k) >= n {
				return nil, nil, schemaUnknown(fmt.Errorf("table %s: primary key column %d out of range", qualified, k))
			}
			t.PrimaryKey = append(t.PrimaryKey, int(k))
		}
	} else {
		// Minimal metadata, or a table without a PRIMARY KEY keyed by its
		// first UNIQUE NOT NULL index (the binlog names only a PRIMARY KEY).
		for _, k := range is.PrimaryKey {
			i := t.ColumnIndex(k)
			if i < 0 {
				return nil, nil, schemaUnknown(fmt.Errorf("table %s: primary key column %s not among the columns", qualified, k))
			}
			t.PrimaryKey = append(t.PrimaryKey, i)
		}
	}
	if err := t.Validate(); err != nil {
		return nil, nil, withShard(err, env.Shard)
	}
	return t, convs, nil
}

// columnBuild derives one column.
type columnBuild struct {
	env   *TableEnv
	table string
	tm    *replication.TableMapEvent
	i     int
	col   *schema.Column
	cv    *Converter
	isc   *CatalogColumn
	full  bool

	unsigned, haveSign bool
	collationID        uint64
	haveCollation      bool
	members            []string
	geoType            uint64
	haveGeo            bool
}

func (b *columnBuild) unsupported(rawType string) error {
	if b.isc != nil && rawType == "" {
		rawType = b.isc.ColumnType
	}
	return &schema.UnsupportedTypeError{Shard: b.env.Shard, Table: b.table, Column: b.col.Name, RawType: rawType}
}

func (b *columnBuild) build() error {
	tp, meta := b.tm.ColumnType[b.i], b.tm.ColumnMeta[b.i]
	realType, strLen := tp, 0
	if tp == gomysql.MYSQL_TYPE_STRING {
		realType, strLen = stringMeta(meta)
	}
	if b.isc != nil && !compatible(realType, b.isc.DataType) {
		if !b.full {
			return schemaUnknown(fmt.Errorf("table %s column %s: the binlog event has type %d but information_schema says %s: the table changed after this event was written, and without binlog_row_metadata=FULL its old shape is unknown; set binlog_row_metadata=FULL",
				b.table, b.col.Name, realType, b.isc.ColumnType))
		}
		b.isc = nil
	}
	if b.isc != nil {
		if !knownDataTypes[b.isc.DataType] {
			return b.unsupported("")
		}
		if !b.haveSign {
			b.unsigned = strings.Contains(b.isc.ColumnType, "unsigned")
		}
		if b.members == nil && (realType == gomysql.MYSQL_TYPE_ENUM || realType == gomysql.MYSQL_TYPE_SET) {
			m, err := parseEnumMembers(b.isc.ColumnType)
			if err != nil {
				return schemaUnknown(fmt.Errorf("table %s column %s: %w", b.table, b.col.Name, err))
			}
			b.members = m
		}
		if !b.haveGeo && realType == gomysql.MYSQL_TYPE_GEOMETRY {
			b.geoType, b.haveGeo = geometrySubtypes[b.isc.DataType], true
		}
	}
	col, cv := b.col, b.cv
	col.Unsigned = b.unsigned
	cv.Unsigned = b.unsigned

	integer := func(t schema.Type, width uint8, name string) {
		col.Type, cv.Width = t, width
		switch {
		case width == 8 && b.unsigned:
			cv.Kind = KindUint64
		case width == 8 || (width == 4 && b.unsigned):
			cv.Kind = KindInt64
		default:
			cv.Kind = KindInt32
		}
		b.rawType(name + unsignedSuffix(b.unsigned))
	}
	switch realType {
	case gomysql.MYSQL_TYPE_TINY:
		integer(schema.TypeTinyInt, 1, "tinyint")
	case gomysql.MYSQL_TYPE_SHORT:
		integer(schema.TypeSmallInt, 2, "smallint")
	case gomysql.MYSQL_TYPE_INT24:
		integer(schema.TypeMediumInt, 3, "mediumint")
	case gomysql.MYSQL_TYPE_LONG:
		integer(schema.TypeInt, 4, "int")
	case gomysql.MYSQL_TYPE_LONGLONG:
		integer(schema.TypeBigInt, 8, "bigint")
	case gomysql.MYSQL_TYPE_NEWDECIMAL:
		col.Type, cv.Kind = schema.TypeDecimal, KindDecimal
		col.Precision, col.Scale = int(meta>>8), int(meta&0xff)
		b.rawType("decimal(" + strconv.Itoa(col.Precision) + "," + strconv.Itoa(col.Scale) + ")" + unsignedSuffix(b.unsigned))
	case gomysql.MYSQL_TYPE_FLOAT:
		col.Type, cv.Kind = schema.TypeFloat, KindFloat
		if b.isc != nil {
			col.Scale = b.isc.Scale // FLOAT(M,D): Debezium's double; the binlog does not carry D
		}
		b.rawType("float" + unsignedSuffix(b.unsigned))
	case gomysql.MYSQL_TYPE_DOUBLE:
		col.Type, cv.Kind = schema.TypeDouble, KindDouble
		b.rawType("double" + unsignedSuffix(b.unsigned))
	case gomysql.MYSQL_TYPE_BIT:
		nbits := int(meta>>8)*8 + int(meta&0xff)
		col.Type, col.Length = schema.TypeBit, nbits
		if nbits == 1 {
			cv.Kind = KindBool
		} else {
			cv.Kind, cv.Length = KindBits, (nbits+7)/8
		}
		b.rawType("bit(" + strconv.Itoa(nbits) + ")")
	case gomysql.MYSQL_TYPE_YEAR:
		col.Type, cv.Kind = schema.TypeYear, KindYear
		b.rawType("year(4)")
	case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
		col.Type, cv.Kind, cv.Zero = schema.TypeDate, KindDate, int32(0)
		b.rawType("date")
	case gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2:
		col.Type, cv.Kind = schema.TypeTime, KindTime
		b.fsp(tp == gomysql.MYSQL_TYPE_TIME2, meta, "time")
	case gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2:
		col.Type = schema.TypeDateTime
		b.fsp(tp == gomysql.MYSQL_TYPE_DATETIME2, meta, "datetime")
		cv.Kind, cv.Zero = KindDateTimeMicros, int64(0)
		if col.FSP <= 3 {
			cv.Kind = KindDateTimeMillis
		}
	case gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2:
		col.Type, cv.Kind = schema.TypeTimestamp, KindTimestamp
		b.fsp(tp == gomysql.MYSQL_TYPE_TIMESTAMP2, meta, "timestamp")
		cv.Zero = string(AppendISOTimestamp(nil, 0, 0, col.FSP))
	case gomysql.MYSQL_TYPE_ENUM, gomysql.MYSQL_TYPE_SET:
		return b.enumOrSet(realType)
	case gomysql.MYSQL_TYPE_STRING:
		return b.fixedString(strLen)
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
		return b.varString(int(meta))
	case gomysql.MYSQL_TYPE_BLOB:
		return b.blob(int(meta))
	case gomysql.MYSQL_TYPE_JSON:
		col.Type, cv.Kind, cv.BinaryJSON = schema.TypeJSON, KindJSON, true
		col.Charset = "utf8mb4"
		cv.Text, _ = NewTextDecoder("utf8mb4")
		b.rawType("json")
	case gomysql.MYSQL_TYPE_GEOMETRY:
		col.Type, cv.Kind = schema.TypeGeometry, KindGeometry
		sub := "geometry"
		if b.haveGeo && int(b.geoType) < len(geometryNames) {
			sub = geometryNames[b.geoType]
		}
		b.rawType(sub)
	default:
		// VECTOR (no canonical value yet), the pre-5.0 DECIMAL, and types a
		// newer server may add.
		name := "binlog type " + strconv.Itoa(int(realType))
		if realType == gomysql.MYSQL_TYPE_VECTOR {
			name = "vector"
		}
		return b.unsupported(name)
	}
	return nil
}

func unsignedSuffix(u bool) string {
	if u {
		return " unsigned"
	}
	return ""
}

// rawType sets Column.RawType: information_schema's COLUMN_TYPE when known,
// else a reconstruction from the binlog.
func (b *columnBuild) rawType(fromBinlog string) {
	if b.isc != nil {
		b.col.RawType = b.isc.ColumnType
	} else {
		b.col.RawType = fromBinlog
	}
}

func (b *columnBuild) fsp(v2 bool, meta uint16, name string) {
	if v2 {
		b.col.FSP = int(meta)
	}
	b.cv.FSP = b.col.FSP
	if b.col.FSP > 0 {
		name += "(" + strconv.Itoa(b.col.FSP) + ")"
	}
	b.rawType(name)
}

// collation resolves the column's collation id (or information_schema's
// names) to a collation and its character set.
func (b *columnBuild) collation() (Collation, error) {
	if b.haveCollation {
		if c, ok := b.env.Collations[b.collationID]; ok {
			return c, nil
		}
	}
	if b.isc != nil && b.isc.Charset != "" {
		return Collation{Name: b.isc.Collation, Charset: b.isc.Charset, MaxLen: charsetMaxLen(b.isc.Charset)}, nil
	}
	if b.isc != nil && (strings.Contains(b.isc.DataType, "binary") || strings.Contains(b.isc.DataType, "blob") || isPluginType(b.isc.DataType)) {
		return Collation{Name: "binary", Charset: "binary", MaxLen: 1}, nil
	}
	if b.haveCollation {
		return Collation{}, b.unsupported("collation id " + strconv.FormatUint(b.collationID, 10))
	}
	return Collation{}, schemaUnknown(fmt.Errorf("table %s column %s: unknown character set (no collation in the binlog or information_schema)", b.table, b.col.Name))
}

func (b *columnBuild) textColumn(t schema.Type, co Collation) error {
	dec, ok := NewTextDecoder(co.Charset)
	if !ok {
		return b.unsupported("character set " + co.Charset)
	}
	b.col.Type, b.col.Charset, b.col.Collation = t, co.Charset, co.Name
	b.cv.Kind, b.cv.Text = KindText, dec
	return nil
}

func (b *columnBuild) fixedString(bytesLen int) error {
	co, err := b.collation()
	if err != nil {
		return err
	}
	col, cv := b.col, b.cv
	if co.Charset != "binary" {
		col.Length = bytesLen / max(co.MaxLen, 1)
		b.rawType("char(" + strconv.Itoa(col.Length) + ")")
		return b.textColumn(schema.TypeChar, co)
	}
	if b.isc != nil {
		switch b.isc.DataType {
		case "uuid", "inet6", "inet4":
			want := 16
			if b.isc.DataType == "inet4" {
				want = 4
			}
			if bytesLen != want {
				return b.unsupported("")
			}
			if b.isc.DataType == "uuid" && !UUIDVerified(b.env.Major, b.env.Minor) {
				return b.unsupported("uuid (binlog byte order not verified before MariaDB 10.11)")
			}
			// Canonically a string: the text SELECT prints.
			col.Type, col.Length, col.RawType = schema.TypeChar, bytesLen, b.isc.ColumnType
			cv.Kind = map[string]ValueKind{"uuid": KindUUID, "inet4": KindInet4, "inet6": KindInet6}[b.isc.DataType]
			return nil
		}
	}
	col.Type, col.Length, col.Collation = schema.TypeBinary, bytesLen, co.Name
	cv.Kind, cv.Length = KindBinaryFixed, bytesLen
	b.rawType("binary(" + strconv.Itoa(bytesLen) + ")")
	return nil
}

func (b *columnBuild) varString(maxBytes int) error {
	co, err := b.collation()
	if err != nil {
		return err
	}
	if co.Charset == "binary" {
		b.col.Type, b.col.Length, b.col.Collation = schema.TypeBinary, maxBytes, co.Name
		b.cv.Kind = KindBytes
		b.rawType("varbinary(" + strconv.Itoa(maxBytes) + ")")
		return nil
	}
	b.col.Length = maxBytes / max(co.MaxLen, 1)
	b.rawType("varchar(" + strconv.Itoa(b.col.Length) + ")")
	return b.textColumn(schema.TypeChar, co)
}

var blobNames = [...]string{1: "tiny", 2: "", 3: "medium", 4: "long"}

func (b *columnBuild) blob(packLen int) error {
	co, err := b.collation()
	if err != nil {
		return err
	}
	prefix := ""
	if packLen >= 1 && packLen <= 4 {
		prefix = blobNames[packLen]
	}
	if co.Charset == "binary" {
		b.col.Type, b.col.Collation = schema.TypeBlob, co.Name
		b.cv.Kind = KindBytes
		b.rawType(prefix + "blob")
		return nil
	}
	// MariaDB's JSON is LONGTEXT with CHECK (json_valid(col)) (CatalogColumn.JSON):
	// a text column, as Debezium sees it too (a plain string, not
	// io.debezium.data.Json; docs/wire-format.md).
	b.rawType(prefix + "text")
	return b.textColumn(schema.TypeText, co)
}

func (b *columnBuild) enumOrSet(realType byte) error {
	col, cv := b.col, b.cv
	if b.members == nil {
		return schemaUnknown(fmt.Errorf("table %s column %s: ENUM/SET members unknown (no full row metadata, no information_schema)", b.table, b.col.Name))
	}
	members := b.members
	if b.full {
		// Full metadata gives the member names in the column's charset.
		co, err := b.collation()
		if err != nil {
			return err
		}
		dec, ok := NewTextDecoder(co.Charset)
		if !ok {
			return b.unsupported("character set " + co.Charset)
		}
		members = make([]string, len(b.members))
		for i, m := range b.members {
			members[i] = strings.Clone(dec.Decode(m))
		}
		col.Charset, col.Collation = co.Charset, co.Name
	} else if b.isc != nil {
		col.Charset, col.Collation = b.isc.Charset, b.isc.Collation
	}
	col.Values = members
	quoted := make([]string, len(members))
	for i, m := range members {
		quoted[i] = "'" + strings.ReplaceAll(m, "'", "''") + "'"
	}
	if realType == gomysql.MYSQL_TYPE_ENUM {
		col.Type, cv.Kind = schema.TypeEnum, KindEnum
		cv.Enum = make([]any, len(members))
		for i, m := range members {
			cv.Enum[i] = m
		}
		b.rawType("enum(" + strings.Join(quoted, ",") + ")")
	} else {
		if len(members) > 64 {
			return b.unsupported("")
		}
		col.Type, cv.Kind, cv.Set = schema.TypeSet, KindSet, members
		b.rawType("set(" + strings.Join(quoted, ",") + ")")
	}
	return nil
}

// UncertainColumns names the columns of a table built from an event whose
// decoding relied on a guess: information_schema shows another shape than
// the event (a DDL came after it), and the column is one whose type the
// binlog cannot tell (BINARY(16) or BINARY(4) in the binlog may be MariaDB's
// UUID, INET6 or INET4). It was decoded with today's type of the column of
// that name, or as plain bytes when there is none; if the column's type
// changed in between, its values are wrong. Nil when nothing was guessed.
func UncertainColumns(tm *replication.TableMapEvent, is *CatalogTable, t *schema.Table) []string {
	if is == nil || len(tm.ColumnName) != int(tm.ColumnCount) || sameNames(tm, is) {
		return nil
	}
	var out []string
	for _, c := range t.Columns {
		switch {
		case c.Type == schema.TypeBinary && (c.Length == 16 || c.Length == 4):
		case c.Type == schema.TypeChar && isPluginType(c.RawType):
		default:
			continue
		}
		out = append(out, c.Name)
	}
	return out
}

// sameNames reports whether information_schema lists exactly the event's
// columns, in order.
func sameNames(tm *replication.TableMapEvent, is *CatalogTable) bool {
	if len(is.Columns) != len(tm.ColumnName) {
		return false
	}
	for i, n := range tm.ColumnName {
		if !strings.EqualFold(string(n), is.Columns[i].Name) {
			return false
		}
	}
	return true
}

func isPluginType(raw string) bool {
	raw = strings.ToLower(raw)
	return raw == "uuid" || raw == "inet4" || raw == "inet6"
}

// schemaUnknown marks err as ErrSchemaUnknown.
func schemaUnknown(err error) error { return Mark(ErrSchemaUnknown, err) }

// applyDefault reads the column's DEFAULT from information_schema (there is
// none in the binlog) into the schema (Avro defaults), and makes it the
// value of a zero date in a NOT NULL column, as Debezium does.
func (b *columnBuild) applyDefault() error {
	if b.isc == nil {
		return nil
	}
	if err := ColumnDefault(b.col, b.isc.Default); err != nil {
		return schemaUnknown(fmt.Errorf("table %s: %w", b.table, err))
	}
	if b.cv.Zero != nil && b.col.HasDefault && b.col.Default != nil {
		b.cv.Zero = b.col.Default
	}
	return nil
}

// withShard fills the shard of an UnsupportedTypeError from schema.
func withShard(err error, shard string) error {
	if ute, ok := err.(*schema.UnsupportedTypeError); ok && ute.Shard == "" {
		c := *ute
		c.Shard = shard
		return &c
	}
	return schemaUnknown(err)
}

// SameTable reports whether a new build of a table can keep the previous
// *schema.Table: the same shape (schema.Table.SameShape, what serde's Avro
// schemas depend on) and the same charsets, collations and raw types (what
// snapshot chunking and the schema history depend on).
func SameTable(a, b *schema.Table) bool {
	if !a.SameShape(b) || a.Database != b.Database || a.Name != b.Name {
		return false
	}
	for i := range a.Columns {
		x, y := &a.Columns[i], &b.Columns[i]
		if x.Charset != y.Charset || x.Collation != y.Collation || x.RawType != y.RawType {
			return false
		}
	}
	return true
}
