package schema

// The MySQL→Avro mapping (docs/wire-format.md, "The Envelope" and "Types").
//
// Tidemark's schemas must be the ones Debezium's MySQL connector produces
// after Confluent's AvroConverter (AvroData.fromConnectSchema) has turned the
// Kafka Connect schema into Avro, so that consumers and registry
// compatibility checks see no difference. That means:
//
//   - Connect metadata travels as Avro properties, written in AvroData's
//     order: connect.doc, connect.version, connect.parameters,
//     connect.default, connect.name, connect.type.
//   - Debezium's semantic types (io.debezium.time.*, Json, Enum, Bits, …) are
//     plain int/long/string/bytes with a connect.name and no Avro logicalType;
//     only Connect's Decimal gets logicalType "decimal".
//   - Optional fields are ["null",T] with default null; an optional field
//     with a default is [T,"null"] with that default (only source.snapshot).
//   - Record names follow the topic, as ToLogicalTopicRouter renames them:
//     <topic>.Key, <topic>.Value, <topic>.Envelope, each written as Avro
//     name + namespace and with the full dotted name in connect.name.
//   - A named type (Geometry, Point) is defined at its first use in a
//     document and referenced by full name afterwards, as Avro's Java
//     Schema.toString writes it.
//
// Deliberate differences from Debezium's defaults: BIGINT UNSIGNED is exact
// (decimal(20,0), Debezium's bigint.unsigned.handling.mode=precise) unless
// AvroOptions.BigIntUnsignedLong asks for Debezium's default long; and names
// are always sanitised as with schema.name.adjustment.mode=avro and
// field.name.adjustment.mode=avro, so a hyphen in a topic or column name
// still gives a schema a registry accepts.
//
// Column DEFAULTs become Avro defaults as Debezium writes them: the field's
// "default" and, inside its type, connect.default, both the default's Avro
// JSON encoding; a nullable column with a non-null default is [T,"null"]
// (the default must match the union's first branch), one without is
// ["null",T] with default null. docs/wire-format.md has the details and
// the deviations.

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AvroOptions are the choices that change the Avro schemas derived from a
// table. serde.Options carries the same switches; both must agree, since
// serde encodes values with the plan AvroColumns describes.
type AvroOptions struct {
	// BigIntUnsignedLong maps BIGINT UNSIGNED to long (Debezium's default,
	// wrapping above 2^63-1) instead of the exact bytes decimal(20,0).
	BigIntUnsignedLong bool
	// DebeziumStringDefaults renders string and bytes defaults as Debezium
	// does (Column.DebeziumDefault: SQL escapes kept) instead of the value
	// MariaDB stores.
	DebeziumStringDefaults bool
	// KeyShardField, when set, appends a string field of that name to the key
	// record (Debezium's key.enforce.uniqueness, e.g.
	// "__dbz__physicalTableIdentifier"), so that rows with equal primary keys
	// on different shards stay distinct keys in the merged topic.
	KeyShardField string
}

// AvroKind is the Avro representation of one column: it decides both the
// schema and how serde writes the column's canonical value.
type AvroKind uint8

// Avro kinds of columns.
const (
	AvroBoolean    AvroKind = iota + 1 // boolean
	AvroInt                            // int (value int32)
	AvroLong                           // long (value int64, or uint64 for BIGINT UNSIGNED in long mode)
	AvroFloat                          // float (value float32)
	AvroDouble                         // double (value float64, or float32 widened for FLOAT(M,D))
	AvroString                         // string
	AvroBytes                          // bytes
	AvroDecimal                        // bytes, logicalType decimal (Precision, Scale)
	AvroGeometry                       // record io.debezium.data.geometry.Geometry{wkb, srid}
	AvroPoint                          // record io.debezium.data.geometry.Point{x, y, wkb, srid}
	AvroFloatArray                     // array of float (io.debezium.data.FloatVector)
)

// Debezium and Connect semantic type names (connect.name).
const (
	ConnectDecimal        = "org.apache.kafka.connect.data.Decimal"
	ConnectBits           = "io.debezium.data.Bits"
	ConnectJSON           = "io.debezium.data.Json"
	ConnectEnum           = "io.debezium.data.Enum"
	ConnectEnumSet        = "io.debezium.data.EnumSet"
	ConnectYear           = "io.debezium.time.Year"
	ConnectDate           = "io.debezium.time.Date"
	ConnectMicroTime      = "io.debezium.time.MicroTime"
	ConnectTimestamp      = "io.debezium.time.Timestamp"
	ConnectMicroTimestamp = "io.debezium.time.MicroTimestamp"
	ConnectZonedTimestamp = "io.debezium.time.ZonedTimestamp"
	ConnectGeometry       = "io.debezium.data.geometry.Geometry"
	ConnectPoint          = "io.debezium.data.geometry.Point"
	ConnectFloatVector    = "io.debezium.data.FloatVector"
)

// SourceNamespace is the namespace of the envelope's source record. Tidemark
// always writes the MySQL connector's Source schema, for MariaDB shards too
// (the field `connector` says which server it was).
const SourceNamespace = "io.debezium.connector.mysql"

// SnapshotAllowed is the `allowed` parameter of source.snapshot (Debezium
// SnapshotRecord values, in Debezium's order).
const SnapshotAllowed = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"

// AvroColumn is the Avro mapping of one table column.
type AvroColumn struct {
	Index    int    // index of the column in Table.Columns
	Field    string // Avro field name: the column name, sanitised, unique in the table
	Kind     AvroKind
	Optional bool // the column is nullable: ["null",T] default null

	ConnectName string // connect.name; "" for plain Connect types
	ConnectType string // connect.type: "int8" or "int16"; "" otherwise
	// Params are the connect.parameters, in Debezium's order.
	Params [][2]string
	// Precision and Scale of an AvroDecimal.
	Precision, Scale int
	// HasDefault: the field has a non-null Avro default, Default (the
	// column's canonical default value). A nullable field with a default is
	// the union [T,"null"]: its null is the second branch.
	HasDefault bool
	Default    any
}

// AvroSchemas are the two schemas of one table on one topic, as compact
// JSON text ready to register under <topic>-key and <topic>-value.
type AvroSchemas struct {
	Key   string // "" for a table without primary key (the Kafka key is null)
	Value string // the Envelope
	// KeyFields and ValueFields are the Avro field names of the key and value
	// records, in order (KeyFields ends with the shard field when enabled).
	KeyFields, ValueFields []string
}

// AvroColumns returns the Avro mapping of every column of t, in column
// order. It fails for a table that does not validate, a column type Tidemark
// cannot map, or two columns whose sanitised names collide.
func AvroColumns(t *Table, opts AvroOptions) ([]AvroColumn, error) {
	if t == nil {
		return nil, fmt.Errorf("avro mapping: nil table")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	cols := make([]AvroColumn, len(t.Columns))
	seen := make(map[string]string, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		ac, err := avroColumn(c, opts)
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", t.QualifiedName(), c.Name, err)
		}
		ac.Index = i
		ac.Field = AvroFieldName(c.Name)
		if c.HasDefault && c.Default != nil && ac.Kind != AvroGeometry && ac.Kind != AvroPoint && ac.Kind != AvroFloatArray {
			ac.HasDefault, ac.Default = true, c.Default
			if opts.DebeziumStringDefaults && c.DebeziumDefault != nil {
				ac.Default = c.DebeziumDefault
			}
			if _, err := avroDefaultJSON(&ac, ac.Default); err != nil {
				return nil, fmt.Errorf("table %s column %s: default %s: %w", t.QualifiedName(), c.Name, c.DefaultText, err)
			}
		}
		if prev, dup := seen[ac.Field]; dup {
			return nil, fmt.Errorf("table %s: columns %q and %q both become Avro field %q", t.QualifiedName(), prev, c.Name, ac.Field)
		}
		seen[ac.Field] = c.Name
		cols[i] = ac
	}
	return cols, nil
}

// avroColumn maps one column type (docs/wire-format.md "Types"; Debezium's
// BinlogValueConverters).
func avroColumn(c *Column, opts AvroOptions) (AvroColumn, error) {
	a := AvroColumn{Optional: c.Nullable}
	switch c.Type {
	case TypeTinyInt:
		// Debezium's MySQL connector maps TINYINT, signed or not, to INT16
		// (MySqlValueConverters); Connect's INT8 would be Avro int8.
		a.Kind, a.ConnectType = AvroInt, "int16"
	case TypeSmallInt:
		a.Kind = AvroInt
		if !c.Unsigned {
			a.ConnectType = "int16"
		}
	case TypeMediumInt:
		a.Kind = AvroInt
	case TypeInt:
		a.Kind = AvroInt
		if c.Unsigned {
			a.Kind = AvroLong
		}
	case TypeBigInt:
		a.Kind = AvroLong
		if c.Unsigned && !opts.BigIntUnsignedLong {
			a.Kind, a.ConnectName, a.Precision, a.Scale = AvroDecimal, ConnectDecimal, 20, 0
			a.Params = [][2]string{{"scale", "0"}, {"connect.decimal.precision", "20"}}
		}
	case TypeDecimal:
		if c.Precision < 1 || c.Precision > 65 || c.Scale < 0 || c.Scale > 30 || c.Scale > c.Precision {
			return a, fmt.Errorf("decimal(%d,%d) out of range", c.Precision, c.Scale)
		}
		a.Kind, a.ConnectName, a.Precision, a.Scale = AvroDecimal, ConnectDecimal, c.Precision, c.Scale
		a.Params = [][2]string{{"scale", strconv.Itoa(c.Scale)}, {"connect.decimal.precision", strconv.Itoa(c.Precision)}}
	case TypeFloat:
		// Debezium: FLOAT(M,D) (a scale) is float64, plain FLOAT float32.
		a.Kind = AvroFloat
		if c.Scale > 0 {
			a.Kind = AvroDouble
		}
	case TypeDouble:
		a.Kind = AvroDouble
	case TypeBit:
		if c.Length <= 1 { // BIT, BIT(1); Length 0 means the server did not say, i.e. BIT(1)
			a.Kind = AvroBoolean
		} else {
			a.Kind, a.ConnectName = AvroBytes, ConnectBits
			a.Params = [][2]string{{"length", strconv.Itoa(c.Length)}}
		}
	case TypeChar, TypeText:
		a.Kind = AvroString
	case TypeBinary, TypeBlob:
		a.Kind = AvroBytes
	case TypeEnum:
		a.Kind, a.ConnectName = AvroString, ConnectEnum
		a.Params = [][2]string{{"allowed", strings.Join(c.Values, ",")}}
	case TypeSet:
		a.Kind, a.ConnectName = AvroString, ConnectEnumSet
		a.Params = [][2]string{{"allowed", strings.Join(c.Values, ",")}}
	case TypeJSON:
		a.Kind, a.ConnectName = AvroString, ConnectJSON
	case TypeDate:
		a.Kind, a.ConnectName = AvroInt, ConnectDate
	case TypeTime:
		a.Kind, a.ConnectName = AvroLong, ConnectMicroTime
	case TypeDateTime:
		a.Kind, a.ConnectName = AvroLong, ConnectTimestamp
		if c.FSP > 3 {
			a.ConnectName = ConnectMicroTimestamp
		}
	case TypeTimestamp:
		a.Kind, a.ConnectName = AvroString, ConnectZonedTimestamp
	case TypeYear:
		a.Kind, a.ConnectName = AvroInt, ConnectYear
	case TypeGeometry:
		// Debezium maps POINT to its own Point struct and every other spatial
		// type to Geometry. The model has one type for the family, so the
		// server's type text decides.
		a.Kind, a.ConnectName = AvroGeometry, ConnectGeometry
		if isPointType(c.RawType) {
			a.Kind, a.ConnectName = AvroPoint, ConnectPoint
		}
	case TypeVector:
		a.Kind, a.ConnectName = AvroFloatArray, ConnectFloatVector
	default:
		return a, fmt.Errorf("unsupported column type %s", c.Type)
	}
	return a, nil
}

func isPointType(raw string) bool {
	raw = strings.ToLower(strings.TrimSpace(raw))
	return raw == "point" || strings.HasPrefix(raw, "point ") || strings.HasPrefix(raw, "point(")
}

// AvroSchemasFor derives the key and value (Envelope) schemas of table t
// written to topic.
func AvroSchemasFor(topic string, t *Table, opts AvroOptions) (AvroSchemas, error) {
	if topic == "" {
		return AvroSchemas{}, fmt.Errorf("avro schemas: empty topic name")
	}
	cols, err := AvroColumns(t, opts)
	if err != nil {
		return AvroSchemas{}, err
	}
	ns := AvroFullName(topic)
	var out AvroSchemas

	if len(t.PrimaryKey) > 0 {
		w := newAvroDoc(ns)
		fields := make([]any, 0, len(t.PrimaryKey)+1)
		for _, i := range t.PrimaryKey {
			fields = append(fields, w.columnField(&cols[i]))
			out.KeyFields = append(out.KeyFields, cols[i].Field)
		}
		if opts.KeyShardField != "" {
			name := AvroFieldName(opts.KeyShardField)
			for _, f := range out.KeyFields {
				if f == name {
					return AvroSchemas{}, fmt.Errorf("table %s: key shard field %q collides with a primary key column", t.QualifiedName(), name)
				}
			}
			fields = append(fields, jsonObject{{"name", name}, {"type", "string"}})
			out.KeyFields = append(out.KeyFields, name)
		}
		key := jsonObject{{"type", "record"}, {"name", "Key"}}
		if ns != "" {
			key = append(key, jsonKV{"namespace", ns})
		}
		key = append(key, jsonKV{"fields", fields}, jsonKV{"connect.name", joinName(ns, "Key")})
		out.Key = string(appendJSON(nil, key))
	}

	w := newAvroDoc(ns)
	valueFields := make([]any, len(cols))
	for i := range cols {
		valueFields[i] = w.columnField(&cols[i])
		out.ValueFields = append(out.ValueFields, cols[i].Field)
	}
	value := jsonObject{{"type", "record"}, {"name", "Value"}, {"fields", valueFields}, {"connect.name", joinName(ns, "Value")}}
	optionalLong := []any{"null", "long"}
	envelope := jsonObject{{"type", "record"}, {"name", "Envelope"}}
	if ns != "" {
		envelope = append(envelope, jsonKV{"namespace", ns})
	}
	envelope = append(envelope,
		jsonKV{"fields", []any{
			jsonObject{{"name", "before"}, {"type", []any{"null", value}}, {"default", nil}},
			jsonObject{{"name", "after"}, {"type", []any{"null", "Value"}}, {"default", nil}},
			jsonObject{{"name", "source"}, {"type", sourceSchema()}},
			jsonObject{{"name", "transaction"}, {"type", []any{"null", transactionSchema()}}, {"default", nil}},
			jsonObject{{"name", "op"}, {"type", "string"}},
			jsonObject{{"name", "ts_ms"}, {"type", optionalLong}, {"default", nil}},
			jsonObject{{"name", "ts_us"}, {"type", optionalLong}, {"default", nil}},
			jsonObject{{"name", "ts_ns"}, {"type", optionalLong}, {"default", nil}},
		}},
		jsonKV{"connect.version", 2},
		jsonKV{"connect.name", joinName(ns, "Envelope")},
	)
	out.Value = string(appendJSON(nil, envelope))
	return out, nil
}

// sourceSchema is Debezium's MySQL Source record (SchemaFactory
// sourceInfoSchemaBuilder + BinlogSourceInfoStructMaker field order).
func sourceSchema() jsonObject {
	optional := func(name, typ string) jsonObject {
		return jsonObject{{"name", name}, {"type", []any{"null", typ}}, {"default", nil}}
	}
	required := func(name, typ string) jsonObject {
		return jsonObject{{"name", name}, {"type", typ}}
	}
	snapshot := jsonObject{
		{"type", "string"},
		{"connect.version", 1},
		{"connect.parameters", jsonObject{{"allowed", SnapshotAllowed}}},
		{"connect.default", "false"},
		{"connect.name", ConnectEnum},
	}
	return jsonObject{
		{"type", "record"}, {"name", "Source"}, {"namespace", SourceNamespace},
		{"fields", []any{
			required("version", "string"),
			required("connector", "string"),
			required("name", "string"),
			required("ts_ms", "long"),
			jsonObject{{"name", "snapshot"}, {"type", []any{snapshot, "null"}}, {"default", "false"}},
			required("db", "string"),
			optional("sequence", "string"),
			optional("ts_us", "long"),
			optional("ts_ns", "long"),
			optional("table", "string"),
			required("server_id", "long"),
			optional("gtid", "string"),
			required("file", "string"),
			required("pos", "long"),
			required("row", "int"),
			optional("thread", "long"),
			optional("query", "string"),
		}},
		{"connect.version", 1},
		{"connect.name", SourceNamespace + ".Source"},
	}
}

// transactionSchema is Debezium's transaction block (named event.block since 2.0).
func transactionSchema() jsonObject {
	return jsonObject{
		{"type", "record"}, {"name", "block"}, {"namespace", "event"},
		{"fields", []any{
			jsonObject{{"name", "id"}, {"type", "string"}},
			jsonObject{{"name", "total_order"}, {"type", "long"}},
			jsonObject{{"name", "data_collection_order"}, {"type", "long"}},
		}},
		{"connect.version", 1},
		{"connect.name", "event.block"},
	}
}

// avroDoc renders column types within one schema document, remembering
// which named types it has already defined.
type avroDoc struct {
	namespace string // namespace of the enclosing record
	defined   map[string]bool
}

func newAvroDoc(ns string) *avroDoc { return &avroDoc{namespace: ns, defined: map[string]bool{}} }

// columnField renders the record field of a column.
func (d *avroDoc) columnField(c *AvroColumn) jsonObject {
	t := d.columnType(c)
	if c.HasDefault {
		def, _ := avroDefaultJSON(c, c.Default) // checked by AvroColumns
		if c.Optional {
			return jsonObject{{"name", c.Field}, {"type", []any{t, "null"}}, {"default", def}}
		}
		return jsonObject{{"name", c.Field}, {"type", t}, {"default", def}}
	}
	if c.Optional {
		return jsonObject{{"name", c.Field}, {"type", []any{"null", t}}, {"default", nil}}
	}
	return jsonObject{{"name", c.Field}, {"type", t}}
}

// columnType renders the (non-optional) type of a column with its Connect
// properties in AvroData's order.
func (d *avroDoc) columnType(c *AvroColumn) any {
	switch c.Kind {
	case AvroGeometry, AvroPoint:
		return d.geometryType(c.Kind)
	}
	var t jsonObject
	switch c.Kind {
	case AvroBoolean:
		t = jsonObject{{"type", "boolean"}}
	case AvroInt:
		t = jsonObject{{"type", "int"}}
	case AvroLong:
		t = jsonObject{{"type", "long"}}
	case AvroFloat:
		t = jsonObject{{"type", "float"}}
	case AvroDouble:
		t = jsonObject{{"type", "double"}}
	case AvroString:
		t = jsonObject{{"type", "string"}}
	case AvroBytes:
		t = jsonObject{{"type", "bytes"}}
	case AvroDecimal:
		// AvroData adds scale and precision when it creates the bytes schema,
		// the connect.* properties next, and logicalType last.
		t = jsonObject{{"type", "bytes"}, {"scale", c.Scale}, {"precision", c.Precision}}
	case AvroFloatArray:
		t = jsonObject{{"type", "array"}, {"items", "float"}}
	}
	if c.ConnectName != "" {
		t = append(t, jsonKV{"connect.version", 1})
	}
	if len(c.Params) > 0 {
		params := make(jsonObject, len(c.Params))
		for i, p := range c.Params {
			params[i] = jsonKV{p[0], p[1]}
		}
		t = append(t, jsonKV{"connect.parameters", params})
	}
	if c.HasDefault {
		def, _ := avroDefaultJSON(c, c.Default)
		t = append(t, jsonKV{"connect.default", def})
	}
	if c.ConnectName != "" {
		t = append(t, jsonKV{"connect.name", c.ConnectName})
	}
	if c.ConnectType != "" {
		t = append(t, jsonKV{"connect.type", c.ConnectType})
	}
	if c.Kind == AvroDecimal {
		t = append(t, jsonKV{"logicalType", "decimal"})
	}
	if len(t) == 1 {
		return t[0].v // a bare primitive: "int", not {"type":"int"}
	}
	return t
}

// geometryType renders Debezium's Geometry or Point struct, defining it at
// its first use in the document and naming it afterwards.
func (d *avroDoc) geometryType(k AvroKind) any {
	full := ConnectGeometry
	if k == AvroPoint {
		full = ConnectPoint
	}
	if d.defined[full] {
		return full
	}
	d.defined[full] = true
	srid := jsonObject{{"name", "srid"}, {"type", []any{"null", "int"}}, {"default", nil}}
	if k == AvroPoint {
		return jsonObject{
			{"type", "record"}, {"name", "Point"}, {"namespace", "io.debezium.data.geometry"},
			{"fields", []any{
				jsonObject{{"name", "x"}, {"type", "double"}},
				jsonObject{{"name", "y"}, {"type", "double"}},
				jsonObject{{"name", "wkb"}, {"type", []any{"null", "bytes"}}, {"default", nil}},
				srid,
			}},
			{"connect.doc", "Geometry (POINT)"},
			{"connect.version", 1},
			{"connect.name", ConnectPoint},
		}
	}
	return jsonObject{
		{"type", "record"}, {"name", "Geometry"}, {"namespace", "io.debezium.data.geometry"},
		{"fields", []any{
			jsonObject{{"name", "wkb"}, {"type", "bytes"}},
			srid,
		}},
		{"connect.doc", "Geometry"},
		{"connect.version", 1},
		{"connect.name", ConnectGeometry},
	}
}

func joinName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "." + name
}

// AvroFullName sanitises a dotted name (a topic used as namespace) the way
// Debezium's schema.name.adjustment.mode=avro does: every character that is
// not a letter, digit or underscore becomes '_' (one per UTF-16 unit, as in
// Java), dots separate components, and a component that would start with a
// digit (or be empty) gets '_' in that place, so that each component matches
// [A-Za-z_][A-Za-z0-9_]*.
func AvroFullName(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = avroIdent(p)
	}
	return strings.Join(parts, ".")
}

// AvroFieldName sanitises a column name into an Avro field name (Debezium's
// field.name.adjustment.mode=avro): invalid characters become '_'; a leading
// digit is replaced by '_'.
func AvroFieldName(s string) string { return avroIdent(s) }

func avroIdent(s string) string {
	if s == "" {
		return "_"
	}
	valid := true
	for i := 0; i < len(s); i++ {
		if !isAvroNameByte(s[i], i == 0) {
			valid = false
			break
		}
	}
	if valid {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	first := true
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r < utf8.RuneSelf && isAvroNameByte(byte(r), first):
			b.WriteByte(byte(r))
		case r > 0xFFFF:
			b.WriteString("__") // a surrogate pair in Java: two replaced units
		default:
			b.WriteByte('_')
		}
		first = false
	}
	return b.String()
}

func isAvroNameByte(c byte, first bool) bool {
	switch {
	case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

// jsonObject is a JSON object that keeps its keys in insertion order, so the
// schema text is stable (registries hash it) and reads like Java Avro's.
type jsonObject []jsonKV

type jsonKV struct {
	k string
	v any
}

// appendJSON writes v as compact JSON. It knows the few value types schema
// rendering uses.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case bool:
		return strconv.AppendBool(b, v)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case jsonNumber:
		return append(b, v...)
	case jsonObject:
		b = append(b, '{')
		for i, kv := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, kv.k)
			b = append(b, ':')
			b = appendJSON(b, kv.v)
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, x)
		}
		return append(b, ']')
	}
	panic(fmt.Sprintf("schema: appendJSON: unexpected %T", v)) // programming error in this file only
}

// appendJSONString quotes s as JSON without Go's HTML escaping, as Jackson
// writes it, except for braces (below).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		case c == '{' || c == '}':
			// Same JSON, but Apicurio 3.3's ccompat API cannot tell the
			// type of a schema holding "default":"{}" (HTTP 422, "Failed to
			// discover artifact type"): a JSON column's DEFAULT '{}'.
			b = append(b, '\\', 'u', '0', '0', '7', hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
