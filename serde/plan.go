package serde

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// An encoding plan is compiled once per (topic, table shape): the registered
// schema ids and one small op per column. Encoding a row is then a loop over
// the ops writing Avro binary straight into a byte slice, with no
// map[string]any, reflection or per-value allocation.

type colOp uint8

const (
	opBool        colOp = iota + 1
	opInt               // int32
	opLong              // int64
	opLongU64           // uint64 written as long, wrapping (BIGINT UNSIGNED, long mode)
	opFloat             // float32
	opDouble            // float64 (float32 widened exactly for FLOAT(M,D))
	opString            // string
	opBytes             // []byte
	opDecimalText       // DECIMAL: canonical text → two's complement
	opDecimalU64        // BIGINT UNSIGNED → decimal(20,0)
	opGeometry          // schema.Geometry → {wkb, srid}
	opPoint             // schema.Geometry of a POINT → {x, y, wkb, srid}
	opFloatArray        // []float32 → array<float>
)

type colPlan struct {
	op       colOp
	optional bool
	// nullSecond: the optional column has a default, so its union is
	// [T,"null"] and null is the second branch.
	nullSecond bool
	scale      int
	name       string // column name, for errors
	// quirk, when set, rewrites values as Debezium writes them (Options'
	// Debezium* switches; quirks.go).
	quirk *quirk
}

// plan is how one table shape is written to one topic.
type plan struct {
	topic      string
	table      string // database.table of the first table seen with this shape
	keyID      int    // 0 when the table has no primary key
	valueID    int
	cols       []colPlan
	key        []int    // column indexes of the primary key, in key order
	keyNames   []string // their Avro field names
	shardField bool     // the key ends with Options.KeyShardField
}

func compileColumns(t *schema.Table, cols []schema.AvroColumn, opts Options) []colPlan {
	out := make([]colPlan, len(cols))
	for i := range cols {
		ac := &cols[i]
		c := &t.Columns[ac.Index]
		cp := colPlan{optional: ac.Optional, nullSecond: ac.Optional && ac.HasDefault, scale: ac.Scale, name: c.Name}
		switch ac.Kind {
		case schema.AvroBoolean:
			cp.op = opBool
		case schema.AvroInt:
			cp.op = opInt
		case schema.AvroLong:
			cp.op = opLong
			if c.Type == schema.TypeBigInt && c.Unsigned {
				cp.op = opLongU64
			}
		case schema.AvroFloat:
			cp.op = opFloat
		case schema.AvroDouble:
			cp.op = opDouble
		case schema.AvroString:
			cp.op = opString
		case schema.AvroBytes:
			cp.op = opBytes
		case schema.AvroDecimal:
			cp.op = opDecimalText
			if c.Type == schema.TypeBigInt {
				cp.op = opDecimalU64
			}
		case schema.AvroGeometry:
			cp.op = opGeometry
		case schema.AvroPoint:
			cp.op = opPoint
		case schema.AvroFloatArray:
			cp.op = opFloatArray
		}
		cp.quirk = compileQuirk(c, opts)
		out[i] = cp
	}
	return out
}

// opsSignature distinguishes plans whose Avro schemas are equal but whose
// canonical values differ (a DECIMAL(20,0) and a BIGINT UNSIGNED column).
func opsSignature(cols []colPlan) string {
	b := make([]byte, len(cols))
	for i := range cols {
		b[i] = byte(cols[i].op)
		if cols[i].nullSecond {
			b[i] |= 0x80
		}
		if cols[i].quirk != nil {
			b[i] |= 0x40
		}
	}
	return string(b)
}

// appendRow writes the Value record of a row: every column, in order.
func (p *plan) appendRow(b []byte, row change.Row) ([]byte, error) {
	if len(row) != len(p.cols) {
		return b, &ValueError{Topic: p.topic, Table: p.table, Value: row, Reason: fmt.Sprintf("row has %d values, table has %d columns", len(row), len(p.cols))}
	}
	for i := range p.cols {
		var reason string
		if b, reason = appendColumn(b, &p.cols[i], row[i]); reason != "" {
			return b, &ValueError{Topic: p.topic, Table: p.table, Column: p.cols[i].name, Value: row[i], Reason: reason}
		}
	}
	return b, nil
}

// appendKeyFields writes the key record's primary key fields.
func (p *plan) appendKeyFields(b []byte, row change.Row) ([]byte, error) {
	if len(row) != len(p.cols) {
		return b, &ValueError{Topic: p.topic, Table: p.table, Value: row, Reason: fmt.Sprintf("row has %d values, table has %d columns", len(row), len(p.cols))}
	}
	for _, i := range p.key {
		var reason string
		if b, reason = appendColumn(b, &p.cols[i], row[i]); reason != "" {
			return b, &ValueError{Topic: p.topic, Table: p.table, Column: p.cols[i].name, Value: row[i], Reason: reason}
		}
	}
	return b, nil
}

// appendColumn writes one column value. It reports a problem as a reason
// string rather than an error so that the hot path allocates nothing; the
// caller wraps it with topic, table and column.
//
// Each op takes its canonical Go type (schema/value.go) first. Other Go
// integer and float types are accepted where the conversion is exact and in
// range, so that a snapshot reader using database/sql types does not need
// a second conversion; anything else is refused, never coerced.
func appendColumn(b []byte, c *colPlan, v any) ([]byte, string) {
	if c.quirk != nil {
		v = c.quirk.apply(v)
	}
	if v == nil {
		if !c.optional {
			return b, "NULL in a NOT NULL column"
		}
		if c.nullSecond {
			return append(b, unionSecond), ""
		}
		return append(b, unionFirst), ""
	}
	if c.optional {
		if c.nullSecond {
			b = append(b, unionFirst)
		} else {
			b = append(b, unionSecond)
		}
	}
	switch c.op {
	case opInt:
		if x, ok := v.(int32); ok {
			return appendLong(b, int64(x)), ""
		}
		if x, ok := anyInt(v); ok && x >= math.MinInt32 && x <= math.MaxInt32 {
			return appendLong(b, x), ""
		}
		return b, "want int32"
	case opLong:
		if x, ok := v.(int64); ok {
			return appendLong(b, x), ""
		}
		if x, ok := anyInt(v); ok {
			return appendLong(b, x), ""
		}
		return b, "want int64"
	case opLongU64:
		switch x := v.(type) {
		case uint64:
			return appendLong(b, int64(x)), "" // wraps above 2^63-1, as Debezium's long mode
		case int64:
			return appendLong(b, x), ""
		}
		if x, ok := anyInt(v); ok {
			return appendLong(b, x), ""
		}
		return b, "want uint64"
	case opString:
		switch x := v.(type) {
		case string:
			return appendString(b, x), ""
		case []byte:
			return appendBytes(b, x), ""
		}
		return b, "want string"
	case opBytes:
		switch x := v.(type) {
		case []byte:
			return appendBytes(b, x), ""
		case string:
			return appendString(b, x), ""
		}
		return b, "want []byte"
	case opDouble:
		switch x := v.(type) {
		case float64:
			return appendDouble(b, x), ""
		case float32:
			return appendDouble(b, float64(x)), ""
		}
		return b, "want float64"
	case opFloat:
		switch x := v.(type) {
		case float32:
			return appendFloat(b, x), ""
		case float64:
			// A FLOAT column holds a float32; a reader handing its value
			// over as float64 loses nothing when it is narrowed back.
			if f := float32(x); float64(f) == x || math.IsNaN(x) || math.IsInf(x, 0) {
				return appendFloat(b, f), ""
			}
			return b, "float64 value not representable as FLOAT (float32)"
		}
		return b, "want float32"
	case opBool:
		switch x := v.(type) {
		case bool:
			return appendBool(b, x), ""
		case []byte: // BIT(1) as raw bits
			if len(x) == 1 && x[0] <= 1 {
				return appendBool(b, x[0] == 1), ""
			}
		}
		if x, ok := anyInt(v); ok && (x == 0 || x == 1) {
			return appendBool(b, x == 1), ""
		}
		return b, "want bool"
	case opDecimalText:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		case uint64:
			s = strconv.FormatUint(x, 10)
		default:
			i, ok := anyInt(v)
			if !ok {
				return b, "want decimal text (string)"
			}
			s = strconv.FormatInt(i, 10)
		}
		out, err := appendDecimalText(b, s, c.scale)
		if err != nil {
			return b, "decimal " + strconv.Quote(s) + ": " + err.Error()
		}
		return out, ""
	case opDecimalU64:
		switch x := v.(type) {
		case uint64:
			return appendDecimalUint64(b, x), ""
		case string:
			out, err := appendDecimalText(b, x, 0)
			if err != nil {
				return b, "decimal " + strconv.Quote(x) + ": " + err.Error()
			}
			return out, ""
		}
		if x, ok := anyInt(v); ok && x >= 0 {
			return appendDecimalUint64(b, uint64(x)), ""
		}
		return b, "want uint64"
	case opGeometry, opPoint:
		var g schema.Geometry
		switch x := v.(type) {
		case schema.Geometry:
			g = x
		case *schema.Geometry:
			if x == nil {
				return b, "nil *schema.Geometry"
			}
			g = *x
		default:
			return b, "want schema.Geometry"
		}
		if c.op == opPoint {
			px, py, ok := wkbPoint(g.WKB)
			if !ok {
				return b, "POINT value is not a 21-byte 2D WKB point"
			}
			b = appendDouble(b, px)
			b = appendDouble(b, py)
			b = append(b, unionSecond)
		}
		b = appendBytes(b, g.WKB)
		if g.SRID == nil {
			return append(b, unionFirst), ""
		}
		b = append(b, unionSecond)
		return appendLong(b, int64(*g.SRID)), ""
	case opFloatArray:
		x, ok := v.([]float32)
		if !ok {
			return b, "want []float32"
		}
		if len(x) > 0 { // one block, as Java's encoder writes arrays
			b = appendLong(b, int64(len(x)))
			for _, f := range x {
				b = appendFloat(b, f)
			}
		}
		return append(b, 0), ""
	}
	return b, "no encoding for this column"
}

// anyInt converts any Go integer to int64 if it fits.
func anyInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// wkbPoint reads x and y of a 2D WKB point (Debezium's Point.parseWKBPoint).
func wkbPoint(wkb []byte) (x, y float64, ok bool) {
	if len(wkb) != 21 {
		return 0, 0, false
	}
	var order binary.ByteOrder = binary.BigEndian
	if wkb[0] != 0 {
		order = binary.LittleEndian
	}
	if order.Uint32(wkb[1:5]) != 1 {
		return 0, 0, false
	}
	return math.Float64frombits(order.Uint64(wkb[5:13])), math.Float64frombits(order.Uint64(wkb[13:21])), true
}
