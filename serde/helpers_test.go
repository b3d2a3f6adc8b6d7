package serde

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// matrixTable has one column of every canonical type. CREATE TABLE shape:
//
//	CREATE TABLE shop.everything (id BIGINT UNSIGNED NOT NULL, region TINYINT NOT NULL,
//	  t_tiny_u TINYINT UNSIGNED, …, t_vector VECTOR(3), PRIMARY KEY (region, id))
func matrixTable() *schema.Table {
	return &schema.Table{
		Database: "shop", Name: "everything",
		Columns: []schema.Column{
			{Name: "id", Type: schema.TypeBigInt, Unsigned: true},
			{Name: "region", Type: schema.TypeTinyInt},
			{Name: "t_tiny_u", Type: schema.TypeTinyInt, Unsigned: true, Nullable: true},
			{Name: "t_small", Type: schema.TypeSmallInt, Nullable: true},
			{Name: "t_small_u", Type: schema.TypeSmallInt, Unsigned: true, Nullable: true},
			{Name: "t_medium", Type: schema.TypeMediumInt, Nullable: true},
			{Name: "t_medium_u", Type: schema.TypeMediumInt, Unsigned: true, Nullable: true},
			{Name: "t_int", Type: schema.TypeInt, Nullable: true},
			{Name: "t_int_u", Type: schema.TypeInt, Unsigned: true, Nullable: true},
			{Name: "t_big", Type: schema.TypeBigInt, Nullable: true},
			{Name: "t_big_u", Type: schema.TypeBigInt, Unsigned: true, Nullable: true},
			{Name: "t_dec", Type: schema.TypeDecimal, Precision: 10, Scale: 2},
			{Name: "t_dec_max", Type: schema.TypeDecimal, Precision: 65, Scale: 30, Nullable: true},
			{Name: "t_dec_int", Type: schema.TypeDecimal, Precision: 65, Scale: 0, Nullable: true},
			{Name: "t_float", Type: schema.TypeFloat, Nullable: true},
			{Name: "t_float_md", Type: schema.TypeFloat, Precision: 10, Scale: 2, Nullable: true},
			{Name: "t_double", Type: schema.TypeDouble, Nullable: true},
			{Name: "t_bool", Type: schema.TypeBit, Length: 1, Nullable: true},
			{Name: "t_bits", Type: schema.TypeBit, Length: 64, Nullable: true},
			{Name: "t_char", Type: schema.TypeChar, Length: 10, Charset: "latin1"},
			{Name: "t_text", Type: schema.TypeText, Nullable: true, Charset: "utf8mb4"},
			{Name: "t_binary", Type: schema.TypeBinary, Length: 16, Nullable: true},
			{Name: "t_blob", Type: schema.TypeBlob, Nullable: true},
			{Name: "t_enum", Type: schema.TypeEnum, Values: []string{"small", "medium", "large"}, Nullable: true},
			{Name: "t_set", Type: schema.TypeSet, Values: []string{"a", "b", "c"}, Nullable: true},
			{Name: "t_json", Type: schema.TypeJSON, Nullable: true},
			{Name: "t_date", Type: schema.TypeDate, Nullable: true},
			{Name: "t_time", Type: schema.TypeTime, FSP: 6, Nullable: true},
			{Name: "t_datetime", Type: schema.TypeDateTime, Nullable: true},
			{Name: "t_datetime3", Type: schema.TypeDateTime, FSP: 3, Nullable: true},
			{Name: "t_datetime6", Type: schema.TypeDateTime, FSP: 6, Nullable: true},
			{Name: "t_timestamp", Type: schema.TypeTimestamp, FSP: 6, Nullable: true},
			{Name: "t_year", Type: schema.TypeYear, Nullable: true},
			{Name: "t_geom", Type: schema.TypeGeometry, RawType: "geometry"},
			{Name: "t_geom2", Type: schema.TypeGeometry, RawType: "polygon", Nullable: true},
			{Name: "t_point", Type: schema.TypeGeometry, RawType: "point", Nullable: true},
			{Name: "t_vector", Type: schema.TypeVector, Length: 3, Nullable: true},
		},
		PrimaryKey: []int{1, 0},
	}
}

func wkbPointBytes(x, y float64) []byte {
	b := []byte{1, 1, 0, 0, 0}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(y))
}

func int32p(v int32) *int32 { return &v }

// matrixRowMax holds edge values of every type.
func matrixRowMax() change.Row {
	return change.Row{
		uint64(math.MaxUint64),
		int32(-128),
		int32(255),
		int32(math.MinInt16),
		int32(math.MaxUint16),
		int32(-8388608),
		int32(16777215),
		int32(math.MinInt32),
		int64(math.MaxUint32),
		int64(math.MinInt64),
		uint64(1) << 63,
		"-12345678.90",
		"-99999999999999999999999999999999999.999999999999999999999999999999",
		"99999999999999999999999999999999999999999999999999999999999999999",
		float32(math.MaxFloat32),
		float32(1.5),
		-math.MaxFloat64,
		true,
		[]byte{0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01},
		"café",
		"emoji 🙂👍🏽, NUL \x00, quote \" and backslash \\",
		[]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xFF},
		[]byte{},
		"medium",
		"a,c",
		`{"k":[1,2,{"x":null}],"s":"é"}`,
		int32(-719162), // 0001-01-01
		int64(-(838*3600 + 59*60 + 59) * 1_000_000), // -838:59:59
		int64(253402300799000),                      // 9999-12-31 23:59:59
		int64(-62135596800000),                      // 0001-01-01 00:00:00.000
		int64(1700000000123456),
		"2038-01-19T03:14:07.999999Z",
		int32(2155),
		schema.Geometry{WKB: wkbPointBytes(13.4, 52.5), SRID: int32p(4326)},
		schema.Geometry{WKB: []byte{1, 3, 0, 0, 0, 0, 0, 0, 0}},
		schema.Geometry{WKB: wkbPointBytes(1.5, -2.25), SRID: int32p(0)},
		[]float32{1, -2.5, 3e-7},
	}
}

// matrixRowNulls has NULL in every nullable column and small values in the
// others (zero, negative zero decimal, empty string).
func matrixRowNulls() change.Row {
	row := make(change.Row, len(matrixTable().Columns))
	row[0] = uint64(0)
	row[1] = int32(0)
	row[11] = "-0.00"
	row[19] = ""
	row[33] = schema.Geometry{WKB: []byte{}}
	return row
}

func matrixEvent(op change.Op, before, after change.Row) *change.Event {
	return &change.Event{
		Op: op, Table: matrixTable(), Before: before, After: after,
		Source: change.Source{
			Shard: "shard1", Connector: "mariadb", Database: "shop", Table: "everything",
			ServerID: 11, GTID: "1-11-42", File: "mariadb-bin.000003", Pos: 4711, Row: 2,
			Thread: 77, TsMs: 1_700_000_000_000,
		},
	}
}

var testNow = time.Unix(1_700_000_123, 456_789_000)

// normalize maps decoded and canonical values to one comparable form:
// integers int64, decimals "rat:<p/q>", Geometry a map, unions unwrapped.
func normalize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case *big.Rat:
		return "rat:" + x.RatString()
	case Decimal:
		return "rat:" + x.Rat().RatString()
	case []byte:
		if x == nil {
			return []byte{}
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// expected returns the normalized decoded form of a canonical value of
// column c.
func expected(c *schema.Column, v any, opts Options) any {
	if v == nil {
		return nil
	}
	switch c.Type {
	case schema.TypeDecimal:
		return "rat:" + mustRat(v.(string)).RatString()
	case schema.TypeBigInt:
		if u, ok := v.(uint64); ok {
			if opts.BigIntUnsignedLong {
				return int64(u)
			}
			return "rat:" + mustRat(strconv.FormatUint(u, 10)).RatString()
		}
	case schema.TypeFloat:
		if c.Scale > 0 {
			return float64(v.(float32))
		}
	case schema.TypeGeometry:
		g := v.(schema.Geometry)
		var srid any
		if g.SRID != nil {
			srid = int64(*g.SRID)
		}
		m := map[string]any{"wkb": normalize(g.WKB), "srid": srid}
		if c.RawType == "point" {
			x, y, _ := wkbPoint(g.WKB)
			m["x"], m["y"] = x, y
		}
		return m
	case schema.TypeVector:
		var out []any
		for _, f := range v.([]float32) {
			out = append(out, f)
		}
		return out
	}
	return normalize(v)
}

func mustRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(fmt.Sprintf("bad rat %q", s))
	}
	return r
}

// hambaPlain walks a value hamba's generic decoder produced with its schema
// and unwraps unions ({"type.name": v} → v).
func hambaPlain(s avro.Schema, v any) any {
	switch s := s.(type) {
	case *avro.RefSchema:
		return hambaPlain(s.Schema(), v)
	case *avro.UnionSchema:
		m, ok := v.(map[string]any)
		if v == nil || !ok || len(m) != 1 {
			return v
		}
		for name, inner := range m {
			for _, t := range s.Types() {
				if typeName(t) == name {
					return hambaPlain(t, inner)
				}
			}
		}
		return v
	case *avro.RecordSchema:
		m := v.(map[string]any)
		out := make(map[string]any, len(m))
		for _, f := range s.Fields() {
			out[f.Name()] = hambaPlain(f.Type(), m[f.Name()])
		}
		return out
	case *avro.ArraySchema:
		a := v.([]any)
		out := make([]any, len(a))
		for i := range a {
			out[i] = hambaPlain(s.Items(), a[i])
		}
		return out
	}
	return v
}

func typeName(s avro.Schema) string {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		name += "." + string(l.Logical().Type())
	}
	return name
}

// hambaAPI decodes with a byte-slice limit high enough for tens of MB.
var hambaAPI = avro.Config{MaxByteSliceSize: 256 << 20}.Freeze()

// hambaDecode decodes a framed message with hamba's generic decoder against
// the schema registered for its id.
func hambaDecode(reg Registry, framed []byte) (map[string]any, error) {
	id, body, err := ParseFrame(framed)
	if err != nil {
		return nil, err
	}
	text, err := reg.Schema(context.Background(), id)
	if err != nil {
		return nil, err
	}
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, err
	}
	var v any
	if err := hambaAPI.Unmarshal(s, body, &v); err != nil {
		return nil, err
	}
	return hambaPlain(s, v).(map[string]any), nil
}
